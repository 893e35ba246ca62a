"""Network benchmarks (metric `net`): the static server of the network tests
(tests/apps/linux/netserver.c) in hermitcore, reached through `hermitcore run
--port` forwards (QEMU user networking), next to the same binary on the host
and in the Linux guest (same QEMU machine and network back end; its /init is
benchmarks/apps/netinit.c, which loads the virtio-net modules and sets the
address, then execs the server).

Measured from the host: TCP bulk throughput each way, request/response
latency over one keep-alive HTTP connection, and HTTP requests/s with `wrk`
(Debian package; skipped with a note when it is missing)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers import free_port, read_line, stop  # noqa: F401 (shared with the network tests; soak.py takes them from here)

SERVER = Path(__file__).resolve().parent.parent / "tests" / "apps" / "linux" / "netserver.c"
NETINIT = Path(__file__).resolve().parent / "apps" / "netinit.c"
PAGE = 5000


def measure(web: int, bulk: int, nbytes: int, requests: int, wrk_seconds: int) -> dict:
    """Throughput, latency and req/s against a server listening on these ports."""
    out: dict = {}
    with socket.create_connection(("127.0.0.1", bulk), timeout=120) as s:  # guest -> host
        s.sendall(f"SEND {nbytes}\n".encode())
        got, h, t = 0, hashlib.sha256(), time.perf_counter()
        while got < nbytes:
            chunk = s.recv(min(1 << 20, nbytes - got))  # the sha256 line follows the data
            if not chunk:
                raise RuntimeError("bulk SEND ended early")
            h.update(chunk)
            got += len(chunk)
        out["tx_mb_s"] = nbytes / (time.perf_counter() - t) / 1e6
        if read_line(s) != h.hexdigest():
            raise RuntimeError("bulk SEND: sha256 mismatch")
    data = os.urandom(nbytes)
    with socket.create_connection(("127.0.0.1", bulk), timeout=120) as s:  # host -> guest
        s.sendall(f"RECV {nbytes}\n".encode())
        t = time.perf_counter()
        s.sendall(data)
        if read_line(s) != hashlib.sha256(data).hexdigest():
            raise RuntimeError("bulk RECV: sha256 mismatch")
        out["rx_mb_s"] = nbytes / (time.perf_counter() - t) / 1e6
    req = b"GET /page.bin HTTP/1.1\r\nHost: x\r\n\r\n"
    lat = []
    with socket.create_connection(("127.0.0.1", web), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(requests):
            t = time.perf_counter()
            s.sendall(req)
            buf = b""
            while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < PAGE:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("HTTP connection closed")
                buf += chunk
            lat.append((time.perf_counter() - t) * 1e6)
    lat.sort()
    out["rr_median_us"] = statistics.median(lat)
    out["rr_p99_us"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    wrk = shutil.which("wrk")
    if wrk:
        proc = subprocess.run([wrk, "-t1", "-c8", f"-d{wrk_seconds}s", f"http://127.0.0.1:{web}/page.bin"],
                              capture_output=True, text=True, timeout=wrk_seconds + 60)
        m = re.search(r"Requests/sec:\s+([\d.]+)", proc.stdout)
        out["http_req_s"] = float(m.group(1)) if m else None
    return out


def _quit(web: int) -> None:
    with socket.create_connection(("127.0.0.1", web), timeout=30) as s:
        s.sendall(b"GET /quit HTTP/1.1\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass


def _wait_ready(proc, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if isinstance(line, bytes):
            line = line.decode(errors="replace")
        lines.append(line)
        if "netserver: ready" in line:
            return
    stop(proc)
    raise RuntimeError(f"{what}: the server never became ready:\n{''.join(lines[-60:])}")


def run_guest(board: str, prog: str, www: str, accel: str, nbytes: int, requests: int, wrk_seconds: int) -> dict:
    web, udp, bulk = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermitcore", "run", "--board", board, prog, "--files", www, "--accel", accel,
         "--timeout", "900", "--port", f"{web}:8080", "--port", f"{udp}:9007/udp", "--port", f"{bulk}:9000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        _wait_ready(proc, f"hermitcore on {board}")
        result = measure(web, bulk, nbytes, requests, wrk_seconds)
        _quit(web)
        proc.wait(timeout=60)
        return result
    finally:
        stop(proc)


def run_linux(runner, prog: str, www: str, netinit: str, accel: str, nbytes: int, requests: int,
              wrk_seconds: int) -> dict:
    """The same server as PID 1 of Debian's kernel on runner's board
    (benchmarks/linux_guest.py), through the same kind of port forwards."""
    from benchmarks import linux_guest

    guest = linux_guest.fetch(runner.arch)
    web, udp, bulk = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    files = {"netserver": prog, "page.bin": str(Path(www) / "page.bin")}
    files.update({f"lib/{name}.ko": str(path) for name, path in guest.modules.items()})
    args = [f"/lib/{name}.ko" for name in guest.modules] + ["/netserver"]
    ports = (f"{web}:8080", f"{udp}:9007/udp", f"{bulk}:9000")
    with linux_guest.boot(runner, netinit, args, 1, files=files, ports=ports, accel=accel) as proc:
        _wait_ready(proc, f"the Linux guest on {runner.board.name}")
        result = measure(web, bulk, nbytes, requests, wrk_seconds)
        _quit(web)
    return result


def run_host(prog: str, www: str, nbytes: int, requests: int, wrk_seconds: int) -> dict:
    base = 20000 + os.getpid() % 20000
    proc = subprocess.Popen([prog, str(base)], cwd=www, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        _wait_ready(proc, "the host", 30)
        result = measure(8080 + base, 9000 + base, nbytes, requests, wrk_seconds)
        _quit(8080 + base)
        proc.wait(timeout=30)
        return result
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def build(cc: str) -> tuple[str, str, str]:
    """(static server binary, document root with page.bin, static netinit)."""
    tmp = tempfile.mkdtemp(prefix="hermit-net-")
    prog, netinit = f"{tmp}/netserver", f"{tmp}/netinit"
    subprocess.run([cc, "-static", "-O2", "-o", prog, str(SERVER)], check=True, capture_output=True)
    subprocess.run([cc, "-static", "-O2", "-o", netinit, str(NETINIT)], check=True, capture_output=True)
    www = Path(tmp) / "www"
    www.mkdir()
    (www / "page.bin").write_bytes(os.urandom(PAGE))
    return prog, str(www), netinit
