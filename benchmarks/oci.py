"""The `oci` metric: what the container engine path costs. Wall time to exit,
medians, of one static hello (its own exit status checked) started as

- `hermitcore run IMAGE` (the image composed for the board);
- `ctr run --rm` of the same image packaged by `hermitcore pkg`, with
  hermitcore-runtime as the runc shim's binary (a private containerd:
  tests/containerd.py) -- create, start, the run, delete;
- `ctr run --rm` of an ordinary image of the same static binary with runc
  (host architecture only): what containerd, the shim and ctr cost anyway.

The runtime's own cost is `ctr run` (hermitcore) - `hermitcore run`, less
what `ctr run` costs around runc (runc's run minus the binary's own ~1 ms);
the target is <= 50 ms. Also timed: each runtime command the shim calls.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 3; }\n'
OCI_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}


def _time(argv, runs: int, expect: int = 3) -> float:
    """Median wall seconds of argv (after one warm-up run)."""
    out = []
    for i in range(runs + 1):
        start = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        took = time.perf_counter() - start
        if r.returncode != expect or r.stdout != "hello\n":
            raise RuntimeError(f"{' '.join(argv[:6])}...: status {r.returncode}, output {r.stdout!r}: {r.stderr[-300:]}")
        if i:
            out.append(took)
    return statistics.median(out)


def _plain_image(hello: Path, work: Path, arch: str) -> Path:
    """FROM scratch + /hello, made with umoci, archived."""
    layout, ref = work / "plain", f"{work / 'plain'}:plain"
    for argv in (["umoci", "init", "--layout", str(layout)], ["umoci", "new", "--image", ref],
                 ["umoci", "unpack", "--rootless", "--image", ref, str(work / "b")]):
        subprocess.run(argv, check=True, capture_output=True)
    shutil.copy(hello, work / "b/rootfs/hello")
    subprocess.run(["umoci", "repack", "--image", ref, str(work / "b")], check=True, capture_output=True)
    subprocess.run(["umoci", "config", "--image", ref, "--config.entrypoint", "/hello", "--architecture",
                    OCI_ARCH[arch]], check=True, capture_output=True)
    archive = work / "plain.tar"
    import tarfile

    with tarfile.open(archive, "w") as t:
        for name in os.listdir(layout):
            t.add(layout / name, arcname=name)
    return archive


def measure(board: str, arch: str, runs: int) -> dict:
    from tests.containerd import Containerd, missing_tools

    missing = missing_tools()
    if missing:
        raise RuntimeError("missing: " + ", ".join(missing) + " (scripts/setup.sh installs them)")
    work = Path(tempfile.mkdtemp(prefix="hermit-oci-"))
    ctd = None
    try:
        (work / "hello.c").write_text(HELLO)
        hello = work / "hello"
        subprocess.run([CC[arch], "-static", "-O2", "-o", str(hello), str(work / "hello.c")], check=True,
                       capture_output=True)
        py = [sys.executable, "-m", "hermitcore"]
        subprocess.run([*py, "compose", "--board", board, str(hello), "-o", str(work / "hello.elf")], check=True,
                       capture_output=True)
        subprocess.run([*py, "pkg", str(work / "hello.elf"), "--name", "hermit/bench-hello", "-o",
                        str(work / "hello.tar")], check=True, capture_output=True)
        ctd = Containerd(namespace="hermit-bench")
        ctd.import_image(str(work / "hello.tar"))
        row = {"board": board, "accel": "tcg", "runs": runs}
        row["hermit_ms"] = 1000 * _time([*py, "run", str(work / "hello.elf")], runs)
        # the runtime's commands, timed one by one through a wrapper that logs them
        log = work / "calls.log"
        wrapper = work / "rt"
        wrapper.write_text(f"#!/bin/sh\ns=$(date +%s%N)\n{ctd.runtime} \"$@\"\nrc=$?\n"
                           f"echo \"$1 $s $(date +%s%N) $*\" >> {log}\nexit $rc\n")
        wrapper.chmod(0o755)
        n = iter(range(10**6))
        row["oci_ms"] = 1000 * _time_ctr(ctd, "docker.io/hermit/bench-hello:latest", ctd.runtime, arch, runs, n)
        _time_ctr(ctd, "docker.io/hermit/bench-hello:latest", str(wrapper), arch, runs, n)
        calls: dict[str, list[float]] = {}
        for line in log.read_text().splitlines():
            _, s, e, *argv = line.split()
            cmd = next(a for a in argv if a in ("create", "start", "state", "kill", "delete"))
            calls.setdefault(cmd, []).append((int(e) - int(s)) / 1e6)
        row["calls_ms"] = {k: statistics.median(v) for k, v in calls.items()}
        row["calls_per_run"] = {k: round(len(v) / (runs + 1), 1) for k, v in calls.items()}
        if platform.machine() == arch:
            ctd.ctr("images", "import", "--index-name", "docker.io/hermit/bench-plain:latest",
                    str(_plain_image(hello, work, arch)))
            row["runc_ms"] = 1000 * _time_ctr(ctd, "docker.io/hermit/bench-plain:latest", None, arch, runs, n)
            row["direct_ms"] = 1000 * _time([str(hello)], runs)
        row["overhead_ms"] = row["oci_ms"] - row["hermit_ms"]
        if "runc_ms" in row:
            row["runtime_ms"] = row["overhead_ms"] - (row["runc_ms"] - row["direct_ms"])
        return row
    finally:
        if ctd is not None:
            ctd.close()
        shutil.rmtree(work, ignore_errors=True)


def _time_ctr(ctd, image: str, runtime: str | None, arch: str, runs: int, n) -> float:
    def argv():
        base = ["ctr", "-a", ctd.sock, "-n", ctd.ns, "run", "--rm", "--platform", f"linux/{OCI_ARCH[arch]}"]
        if runtime:
            base += ["--runc-binary", runtime, "--runc-root", ctd.runtime_root]
        return base + [image, f"b{next(n)}"]

    out = []
    for i in range(runs + 1):
        a = argv()
        start = time.perf_counter()
        r = subprocess.run(a, capture_output=True, text=True, timeout=300)
        took = time.perf_counter() - start
        if r.returncode != 3 or r.stdout != "hello\n":
            raise RuntimeError(f"ctr run ({'hermitcore-runtime' if runtime else 'runc'}): status {r.returncode}, "
                               f"output {r.stdout!r}: {r.stderr[-300:]}")
        if i:
            out.append(took)
    return statistics.median(out)
