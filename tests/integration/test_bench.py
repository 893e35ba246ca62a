"""The benchmark harness in --quick mode: the report's structure, not its
values (tests assert behaviour, benchmarks print numbers)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import BOARDS, ROOT, selected_arches

QUICK_METRICS = {"exec_to_exit", "run_overhead", "boot_breakdown", "image_size", "min_mem", "compose_time",
                 "syscall_round_trip", "threads", "os_noise_fwq", "stream", "net"}


@pytest.fixture(scope="module", params=[a for a in ("x86_64", "aarch64") if a in selected_arches()])
def report(request, tmp_path_factory):
    board = {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}[request.param]
    out = tmp_path_factory.mktemp(f"bench-{request.param}")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--boards", board, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[bench] exec_to_exit" in proc.stderr  # progress is shown
    return board, out, json.loads((out / "bench-report.json").read_text())


def test_every_metric_is_present_for_the_board(report):
    board, out, data = report
    assert set(data["metrics"]) == QUICK_METRICS
    for metric, rows in data["metrics"].items():
        assert rows and all(r["board"] == board for r in rows), metric
    for key in ("cpu", "cores", "kvm", "qemu"):
        assert key in data["machine"]
    assert data["config"]["quick"] is True and isinstance(data["not_yet"], dict)


def test_ratios_and_verdicts_follow_from_the_numbers(report):
    _, _, data = report
    t = data["targets"]
    for r in data["metrics"]["exec_to_exit"]:
        assert r["ratio"] == pytest.approx(r["hermit_ms"]["median"] / r["floor_ms"]["median"])
        assert r["meets"] == (r["ratio"] <= t["exec_to_exit_ratio"])
    for r in data["metrics"]["run_overhead"]:
        assert r["overhead_ms"] == pytest.approx(r["run_ms"]["median"] - r["qemu_ms"]["median"])
        assert r["own_ms"] == pytest.approx(r["overhead_ms"] - r["python_startup_ms"]["median"])
        assert r["meets"] == (r["overhead_ms"] <= t["run_overhead_ms"])
    for r in data["metrics"]["boot_breakdown"]:
        assert 0 < r["kernel_main_us"]["median"] <= r["main_us"]["median"] <= r["exit_us"]["median"]
    for r in data["metrics"]["image_size"]:
        assert r["meets"] == (r["load_bytes"] <= t["kernel_bytes"]) and r["largest_symbols"]
    for r in data["metrics"]["min_mem"]:
        assert r["min_mib"] >= 1 and r["meets"] == (r["min_mib"] <= t["min_mem_mib"])
    for r in data["metrics"]["compose_time"]:
        assert r["cold_s"]["median"] > 0 and r["warm_s"]["median"] > 0
    for r in data["metrics"]["syscall_round_trip"]:
        assert r["noop_ns"] > 0 and r["write64_ns"] > 0
        if "host_noop_ns" in r:
            assert r["ratio_noop_vs_host"] == pytest.approx(r["noop_ns"] / r["host_noop_ns"])
    smp_fields = {"threads": ("create_join_us", "pingpong_ns", "yield_ns"),
                  "os_noise_fwq": ("quantum_ns", "median_ns", "p99_ns", "max_ns"),
                  "stream": ("copy_1", "triad_1", "copy_n", "triad_n")}
    for metric, fields in smp_fields.items():
        for r in data["metrics"][metric]:
            assert r["cpus"] >= 1
            for k in fields:
                assert r[k] >= 0
                if f"host_{k}" in r and r[f"host_{k}"]:
                    assert r[f"ratio_{k}"] == pytest.approx(r[k] / r[f"host_{k}"])
    # the Linux-guest baseline: where it ran, every ratio follows from its numbers
    for metric in ("syscall_round_trip", *smp_fields):
        for r in data["metrics"][metric]:
            for k in [k[len("linux_"):] for k in r if k.startswith("linux_")]:
                if r[f"linux_{k}"]:
                    assert r[f"ratio_linux_{k}"] == pytest.approx(r[k] / r[f"linux_{k}"])
    assert "package" in data["linux_guest"] and "unavailable" in data["linux_guest"]
    for r in data["metrics"]["net"]:
        assert r["tx_mb_s"] > 0 and r["rx_mb_s"] > 0 and 0 < r["rr_median_us"] <= r["rr_p99_us"]
        for k in ("tx_mb_s", "rx_mb_s", "rr_median_us", "http_req_s"):
            if r.get(f"host_{k}"):
                assert r[f"ratio_{k}"] == pytest.approx(r[k] / r[f"host_{k}"])
            if r.get(f"linux_{k}"):
                assert r[f"ratio_linux_{k}"] == pytest.approx(r[k] / r[f"linux_{k}"])
        if "meets" in r:
            assert r["meets"] == (r["http_req_s"] >= r["linux_http_req_s"])


def test_markdown_and_chart_are_written(report):
    _, out, data = report
    md = (out / "bench-report.md").read_text()
    for heading in ("exec to exit vs the QEMU floor", "what `hermitcore run` adds", "image size",
                    "smallest --mem", "hermitcore compose", "system-call round trip", "threads: create+join",
                    "OS noise", "STREAM MB/s", "8. network", "8b. the same server in the Linux guest",
                    "Linux-guest baseline"):
        assert heading in md
    assert ("Not measured yet" in md) == bool(data["not_yet"])
    for r in data["metrics"]["exec_to_exit"]:
        assert f"{r['ratio']:.2f}x" in md
    assert (out / "bench-boot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
