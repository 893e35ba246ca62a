"""The benchmark harness in --quick mode: the report's structure, not its
values (tests assert behaviour, benchmarks print numbers)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import BOARDS, ROOT, selected_arches

QUICK_METRICS = {"exec_to_exit", "run_overhead", "boot_breakdown", "image_size", "min_mem", "compose_time",
                 "syscall_round_trip", "threads", "os_noise_fwq", "stream", "net", "soak", "processes", "dynamic", "oci"}


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
    for r in data["metrics"]["oci"]:
        assert "error" not in r, r
        assert r["overhead_ms"] == pytest.approx(r["oci_ms"] - r["hermit_ms"])
        assert {"create", "start", "delete"} <= set(r["calls_ms"])
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
    for r in data["metrics"]["processes"]:
        assert r["cpus"] >= 1 and r["fork_us"] > 0 and r["spawn_us"] > 0 and r["pingpong_us"] > 0 and r["signal_ns"] > 0
        assert 0 <= r["fork_256m_kib"] < 256 << 10  # copy on write: far less than the 256 MiB it shares
        for k in ("fork_us", "spawn_us", "pingpong_us", "signal_ns"):
            for base in ("host", "linux"):
                if r.get(f"{base}_{k}"):
                    key = f"ratio_linux_{k}" if base == "linux" else f"ratio_{k}"
                    assert r[key] == pytest.approx(r[k] / r[f"{base}_{k}"])
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
    for r in data["metrics"]["soak"]:  # leaks are numbers in the report, not asserts
        t = r["threads"]
        assert t["joined"] == 2000 and t["detached"] > 0 and t["creates_per_s"] > 0 and len(t["checkpoints_free_kib"]) == 10
        assert t["free_delta_kib"] == pytest.approx(t["free_end_kib"] - t["free_start_kib"], abs=1)
        if "net" not in r:
            assert "wrk is not installed" in r["net_error"]
            continue
        n = r["net"]
        assert len(n["windows"]) == 2 and n["requests"] == sum(w["requests"] for w in n["windows"]) > 0
        assert n["errors"] == sum(w["errors"] for w in n["windows"]) >= 0
        assert 0 < n["free_end_kib"] <= n["totalram_kib"] and 0 < n["free_start_kib"] <= n["totalram_kib"]
        assert n["free_delta_kib"] == pytest.approx(n["windows"][-1]["freeram"] / 1024 - n["free_start_kib"], abs=1)
        assert n["p99_drift"] == pytest.approx(n["p99_last_us"] / n["p99_first_us"])
        assert n["req_s_drift"] == pytest.approx(n["req_s_last"] / n["req_s_first"])


def test_markdown_and_chart_are_written(report):
    _, out, data = report
    md = (out / "bench-report.md").read_text()
    for heading in ("exec to exit vs the QEMU floor", "what `hermitcore run` adds", "image size",
                    "smallest --mem", "hermitcore compose", "system-call round trip", "threads: create+join",
                    "OS noise", "STREAM MB/s", "8. network", "8b. the same server in the Linux guest",
                    "9. soak, network", "9b. soak, threads", "Linux-guest baseline"):
        assert heading in md
    assert ("Not measured yet" in md) == bool(data["not_yet"])
    for r in data["metrics"]["exec_to_exit"]:
        assert f"{r['ratio']:.2f}x" in md
    assert (out / "bench-boot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if any("net" in r for r in data["metrics"]["soak"]):  # free memory and p99 per wrk window
        assert (out / "bench-soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", params=[a for a in ("x86_64", "aarch64") if a in selected_arches()])
def fs_report(request, tmp_path_factory):
    """`--quick --only fs` (not in the smoke run's set: it boots the Linux guest twice per sample), one sample."""
    board = {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}[request.param]
    out = tmp_path_factory.mktemp(f"bench-fs-{request.param}")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "fs", "--runs", "1", "--boards", board,
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[bench] fs " in proc.stderr  # progress is shown
    return board, request.param, out, json.loads((out / "bench-report.json").read_text())


def test_fs_rows_follow_from_the_programs_lines(fs_report):
    from benchmarks.fs import OPS

    board, arch, out, data = fs_report
    assert set(data["metrics"]) == {"fs"}
    rows = data["metrics"]["fs"]
    assert sorted(r["fs"] for r in rows) == ["9p", "tmpfs"] and all(r["board"] == board for r in rows)
    linux_unavailable = arch in data["linux_guest"]["unavailable"]
    for r in rows:
        assert (r["files"], r["bytes"], r["cpus"], r["mem_mib"], r["samples"]) == (1000, 32 << 20, 1, 1024, 1)
        for subject in ("hermit",) + (() if linux_unavailable else ("linux",)):
            assert f"{subject}_error" not in r, r[f"{subject}_error"]
            (sample,) = r[f"{subject}_samples"]  # the program's own numbers, and the rates from them
            assert sample["files"] == 1000 and sample["bytes"] == 32 << 20
            for phase in ("create", "stat", "unlink"):
                assert sample[f"{phase}_ops_s"] == pytest.approx(1000 / sample[f"{phase}_ns"] * 1e9, rel=1e-3, abs=1)
            assert sample["write_mb_s"] == pytest.approx((32 << 20) / (sample["write_ns"] + sample["fsync_ns"]) * 1e3,
                                                         rel=1e-3, abs=0.1)
            assert sample["read_mb_s"] == pytest.approx((32 << 20) / sample["read_ns"] * 1e3, rel=1e-3, abs=0.1)
            for k, _ in OPS:
                assert r[f"{subject}_{k}"] == sample[k] > 0
        if linux_unavailable:
            assert "meets" not in r
            continue
        for k, _ in OPS:
            assert r[f"ratio_linux_{k}"] == pytest.approx(r[f"hermit_{k}"] / r[f"linux_{k}"])
        assert r["meets"] == all(r[f"ratio_linux_{k}"] >= 1.0 for k, _ in OPS)
        assert r["linux_kernel"].startswith("linux-image-")
    md = (out / "bench-report.md").read_text()
    assert "11. file systems" in md and "| tmpfs |" in md and "| 9p |" in md


WRK_OUT = """Running 30s test @ http://127.0.0.1:40000/page.bin
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.49ms   18.66ms 206.15ms   97.75%
    Req/Sec     5.17k   400.00     5.60k    80.00%
  Latency Distribution
     50%  880.00us
     75%    1.20ms
     90%    1.96ms
     99%  125.14ms
  10284 requests in 2.00s, 50.26MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   5142.06
Transfer/sec:     25.13MB
"""


def test_soak_reads_wrk_latency_percentiles_and_errors():
    from benchmarks.soak import parse_wrk

    r = parse_wrk(WRK_OUT)
    assert r["req_s"] == 5142.06 and r["requests"] == 10284
    assert (r["p50_us"], r["p90_us"], r["p99_us"]) == (880.0, 1960.0, pytest.approx(125140.0))
    assert r["socket_errors"] == {"connect": 0, "read": 3, "write": 1, "timeout": 2}
    assert r["non_2xx"] == 4 and r["errors"] == 10
    clean = parse_wrk(WRK_OUT.replace("  Socket errors: connect 0, read 3, write 1, timeout 2\n", "")
                      .replace("  Non-2xx or 3xx responses: 4\n", "").replace("125.14ms", "1.02s"))
    assert clean["errors"] == 0 and clean["p99_us"] == pytest.approx(1.02e6)
    with pytest.raises(RuntimeError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
