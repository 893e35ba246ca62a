"""Soak benchmark (metric `soak`): does the guest hold up over minutes of load,
and does it give its memory back? Numbers, not verdicts.

Network: the network tests' static server (tests/apps/linux/netserver.c) in
hermitcore behind a `hermitcore run --port` forward, under `wrk` for
consecutive windows (keep-alive connections, fresh ones every window). Its
`GET /meminfo` route answers the guest's free memory (sysinfo()'s freeram)
at boot, after a warm-up run (the server's buffers, lwIP's and glibc's first
allocations are then in place) and after every window. Per window: requests/s,
latency percentiles (`wrk --latency`), errors (wrk's socket errors and
non-2xx/3xx answers).

Threads: benchmarks/apps/soak_threads.c creates and joins threads in a loop
(and starts detached ones that exit on their own), reading free memory after
a warm-up, at ten checkpoints and at the end.

A leak shows as free memory lower at the end than at the start (the change in
KiB, and per request or per thread)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time

from benchmarks.net import _quit, _wait_ready, free_port, stop

#: wrk's time units -> microseconds
_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def _us(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise RuntimeError(f"wrk: unknown time {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    """requests/s, latency p50/p90/p99 (us), requests, errors from the output
    of `wrk --latency`."""
    req_s = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+\w+),", out)
    if not req_s or not total:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    row = {"req_s": float(req_s.group(1)), "requests": int(total.group(1))}
    for pct in (50, 90, 99):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        row[f"p{pct}_us"] = _us(m.group(1)) if m else None
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    row["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()))) if sock else {}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    row["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    row["errors"] = sum(row["socket_errors"].values()) + row["non_2xx"]
    return row


def meminfo(web: int) -> dict:
    """The server's GET /meminfo: {'freeram': bytes, 'totalram': bytes}."""
    with socket.create_connection(("127.0.0.1", web), timeout=60) as s:
        s.sendall(b"GET /meminfo HTTP/1.1\r\nConnection: close\r\n\r\n")
        buf = b""
        while chunk := s.recv(4096):
            buf += chunk
    m = re.search(rb"freeram=(\d+) totalram=(\d+)", buf)
    if not m:
        raise RuntimeError(f"GET /meminfo: unexpected answer {buf[:200]!r}")
    return {"freeram": int(m.group(1)), "totalram": int(m.group(2))}


def wrk(web: int, seconds: float, connections: int = 8) -> dict:
    exe = shutil.which("wrk")
    proc = subprocess.run([exe, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                           f"http://127.0.0.1:{web}/page.bin"], capture_output=True, text=True, timeout=seconds + 120)
    return parse_wrk(proc.stdout + proc.stderr)


def _drift(first, last):
    return last / first if first and last is not None else None


def run_net(board: str, prog: str, www: str, accel: str, windows: int, window_s: float, warmup_s: float,
            progress=print) -> dict:
    """The network soak against hermitcore on `board`; one report row."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (scripts/setup.sh installs it)")
    web = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermitcore", "run", "--board", board, prog, "--files", www, "--accel", accel,
         "--timeout", str(int(windows * window_s + warmup_s + 900)), "--port", f"{web}:8080"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        _wait_ready(proc, f"hermitcore on {board}")
        boot = meminfo(web)
        wrk(web, warmup_s)
        start = meminfo(web)
        rows = []
        t0 = time.monotonic()
        for i in range(windows):
            progress(f"soak net {board} {accel}: window {i + 1}/{windows} ({window_s:g} s)")
            row = wrk(web, window_s)
            row["freeram"] = meminfo(web)["freeram"]
            rows.append(row)
        elapsed = time.monotonic() - t0
        _quit(web)
        proc.wait(timeout=60)
    finally:
        stop(proc)
    first, last = rows[0], rows[-1]
    requests = sum(r["requests"] for r in rows)
    delta = last["freeram"] - start["freeram"]
    return {
        "windows": rows, "window_s": window_s, "warmup_s": warmup_s, "seconds": elapsed, "requests": requests,
        "totalram_kib": start["totalram"] // 1024, "free_boot_kib": boot["freeram"] // 1024,
        "free_start_kib": start["freeram"] // 1024, "free_end_kib": last["freeram"] // 1024,
        "free_min_kib": min(r["freeram"] for r in rows) // 1024,
        "free_delta_kib": delta / 1024, "lost_bytes_per_request": -delta / requests if requests else None,
        "errors": sum(r["errors"] for r in rows),
        "p99_first_us": first["p99_us"], "p99_last_us": last["p99_us"],
        "p99_drift": _drift(first["p99_us"], last["p99_us"]),
        "req_s_first": first["req_s"], "req_s_last": last["req_s"], "req_s_drift": _drift(first["req_s"], last["req_s"]),
    }


THREADS_LINE = (r"soak_threads free_start=(?P<free_start>\d+) free_end=(?P<free_end>\d+) totalram=(?P<totalram>\d+) "
                r"joined=(?P<joined>\d+) detached=(?P<detached>\d+) seconds=(?P<seconds>[\d.]+) "
                r"creates_per_s=(?P<creates_per_s>[\d.]+) failed=(?P<failed>\d+)")


def parse_threads(out: str) -> dict:
    m = re.search(THREADS_LINE, out)
    if not m:
        raise RuntimeError(f"soak_threads printed no result:\n{out[-3000:]}")
    v = {k: float(x) for k, x in m.groupdict().items()}
    threads = int(v["joined"] + v["detached"])
    delta = v["free_end"] - v["free_start"]
    return {
        "joined": int(v["joined"]), "detached": int(v["detached"]), "seconds": v["seconds"],
        "creates_per_s": v["creates_per_s"], "failed": int(v["failed"]), "totalram_kib": int(v["totalram"]) // 1024,
        "free_start_kib": int(v["free_start"]) // 1024, "free_end_kib": int(v["free_end"]) // 1024,
        "free_delta_kib": delta / 1024, "lost_bytes_per_thread": -delta / threads if threads else None,
        "checkpoints_free_kib": [int(x) // 1024 for x in re.findall(r"soak_threads: checkpoint \d+ free=(\d+)", out)],
    }
