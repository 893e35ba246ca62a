"""What the integration tests share, defined once: the board each
architecture's Linux programs run on, running one, reading what the program
printed (its stdout, apart from the kernel's log), and the socket and
process helpers the network tests and benchmarks/net.py both use (this
module imports the standard library only, so the benchmarks can too).
(Fixtures stay in conftest.py files; helpers for building programs in
linux_programs.py.)"""

from __future__ import annotations

import socket
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import Result

#: the board each architecture's programs run on (fast-booting ones)
BOARD = {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}
#: the guest's own time limit for a Linux program's run, seconds
TIMEOUT = "120"

def run_linux(arch: str, program, *args: str, files=None, env=(), extra=(), mount=None,
              timeout: float = 180) -> Result:
    """`hermitcore run` of a Linux program on the architecture's board:
    `files` embeds a tree, `env` is KEY=VALUE strings, `mount` a host
    directory at /m, `extra` more run options."""
    from tests.conftest import hermit

    cmd = ["run", "--board", BOARD[arch], str(program), "--timeout", TIMEOUT, *extra]
    if files:
        cmd += ["--files", str(files)]
    if mount:
        cmd += ["--mount", f"{mount}:/m"]
    for kv in env:
        cmd += ["--env", kv]
    return hermit(*cmd, "--", *args, timeout=timeout)


def program_lines(r: Result) -> list[str]:
    """What the program printed on stdout: exactly its lines."""
    return r.out.splitlines()


def no_panic(r: Result) -> None:
    text = r.err + r.log
    assert "PANIC" not in text and "EXCEPTION" not in text and "Traceback" not in r.err, r


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, grace: float = 10) -> None:
    """End a `hermitcore run` process: SIGTERM first, which takes its QEMU
    down with it (SIGKILL would leave QEMU running, orphaned), then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def read_line(s: socket.socket) -> str:
    """One line from a socket, without its newline."""
    buf = b""
    while not buf.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        buf += b
    return buf.decode().strip()
