"""gdb and QEMU's monitor (docs/debugging.md): gdb-multiarch in batch mode
against `hermitcore run --gdb=PORT` and `hermitcore gdb`, stepping through a
program built with -g -O0 and stopping in the kernel under it, on both
architectures; `run --monitor` answering `info status`.

Every guest runs with --timeout (and --stop-timeout, so that `stop` takes a
held guest down); a test that fails ends its processes."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import hermit
from tests.helpers import BOARD, TIMEOUT, free_port, stop
from tests.linux_programs import SOURCES

SOURCE = SOURCES / "debugged.c"
#: the kernel's function every system call goes through, on both architectures (hermitcore/kernel/trap.c)
SYSCALL = "syscall_dispatch"
#: the architecture's caller of it in a backtrace
SYSCALL_CALLER = {"x86_64": "x86_syscall", "aarch64": "aarch64_exception"}


def gdb_multiarch() -> str:
    path = shutil.which("gdb-multiarch")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("gdb-multiarch is not installed (scripts/setup.sh installs it)")
        pytest.skip("gdb-multiarch is not installed (apt-get install gdb-multiarch)")
    return path


class Background:
    """A `hermitcore` command in the background, its stdout and stderr
    collected by threads (the test reads stderr while it runs)."""

    def __init__(self, *args: str, env: dict | None = None, stdin=subprocess.DEVNULL):
        self.proc = subprocess.Popen([sys.executable, "-m", "hermitcore", *args], stdin=stdin,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, **(env or {})})
        self.out: list[bytes] = []
        self.err: list[bytes] = []
        self.threads = [threading.Thread(target=self._read, args=(f, sink), daemon=True)
                        for f, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(f, sink) -> None:
        for line in iter(f.readline, b""):
            sink.append(line)

    def stderr_line(self, marker: str, timeout: float = 300) -> str:
        """The first line of stderr that has ``marker`` (compose may come first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                text = line.decode(errors="replace")
                if marker in text:
                    return text.rstrip("\n")
            if self.proc.poll() is not None and not any(t.is_alive() for t in self.threads):
                break
            time.sleep(0.05)
        raise AssertionError(f"no {marker!r} on stderr; stderr:\n{self.text(self.err)}")

    def wait(self, timeout: float = 200) -> int:
        rc = self.proc.wait(timeout=timeout)
        for t in self.threads:
            t.join(5)
        return rc

    @staticmethod
    def text(lines) -> str:
        return b"".join(lines).decode(errors="replace")

    def __repr__(self):
        return f"<rc={self.proc.returncode}\n--- stdout\n{self.text(self.out)}\n--- stderr\n{self.text(self.err)}>"


def gdb_batch(argv: list[str], commands: list[str], timeout: float = 180) -> str:
    """gdb as the printed line starts it, in batch mode with ``commands``:
    its output (stdout and stderr together)."""
    full = [argv[0], "-batch", "-nx", *argv[1:]]
    for c in commands:
        full += ["-ex", c]
    proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.stdout + proc.stderr


def test_gdb_steps_through_the_program_and_stops_in_the_kernel(arch, builder):
    gdb_multiarch()
    prog = builder.build("debug", arch, "debugged.c")
    port = free_port()
    run = Background("run", "--board", BOARD[arch], str(prog), f"--gdb={port}", "--timeout", TIMEOUT,
                     "--stop-timeout", "3", "--cpus", "2")
    try:
        line = run.stderr_line("attach with: ")
        assert f"waits for gdb on 127.0.0.1:{port}" in line, line
        argv = shlex.split(line.split("attach with: ", 1)[1])
        assert argv[0] == "gdb-multiarch" and f"add-symbol-file {prog}" in argv, argv
        out = gdb_batch(argv, [
            f"break {SOURCE}:main",
            "continue",  # the guest boots, the loader starts the program: main
            "info threads",  # one per vCPU
            "next", "next", "step",  # int total = 0; the loop; into square(1)
            "bt",
            "finish",
            "next",
            "info locals",
            "print total",
            f"break {SYSCALL}",  # the kernel, from the program's next system call (printf)
            "continue",
            "bt",
            "delete",
            "continue",  # to the end: the run's exit status is the program's
        ])
        assert "Breakpoint 1, main (argc=1" in out, out
        assert "Thread 1.1 (CPU#0" in out and "Thread 1.2 (CPU#1" in out and "Thread 1.3" not in out, out
        assert "square (x=1) at" in out and "debugged.c" in out, out
        assert "#0  square (x=1)" in out and "in main (argc=1" in out, out
        assert "Value returned is $1 = 1" in out, out
        assert "total = 1" in out and "$2 = 1" in out, out
        assert f"Breakpoint 2, {SYSCALL} (nr=" in out, out
        kernel = out.split(f"Breakpoint 2, {SYSCALL}", 1)[1]
        # the backtrace goes from the kernel through the entry code's trap frame on into the program
        assert f"in {SYSCALL_CALLER[arch]} (" in kernel, out
        assert "printf ()" in kernel and "in main (argc=1" in kernel, out
        assert "No such file" not in out, out  # the kernel's sources are found (kept by the build)
        assert run.wait() == 7, run
        assert Background.text(run.out) == "total 14\n", run
    finally:
        stop(run.proc)


@pytest.mark.parametrize("kind", ["debug-static-pie", "debug-dynamic"])
def test_hermitcore_gdb_breaks_in_main(arch, builder, kind):
    """`hermitcore gdb PROG`: composed, held, gdb connected with a
    breakpoint on main; a static-pie at USER_PIE_BASE; a dynamic program's
    libraries added at main (hermit-libs), a breakpoint in libc hit; the
    vDSO's symbols at their address."""
    gdb_multiarch()
    prog = builder.build(kind, arch, "debugged.c")
    vdso_clock = {"x86_64": "__vdso_clock_gettime", "aarch64": "__kernel_clock_gettime"}[arch]
    commands = ["continue", "info symbol $pc", "print argc", f"info address {vdso_clock}"]
    if kind == "debug-dynamic":
        commands += ["info symbol printf", "break printf", "continue", "bt", "delete"]
    commands += ["continue"]
    args = ["gdb", "--board", BOARD[arch], str(prog), "--timeout", TIMEOUT, "--batch"]
    for c in commands:
        args += ["--ex", c]
    r = hermit(*args, timeout=300)
    assert "Breakpoint 1, main (argc=1" in r.out, r
    assert "main + " in r.out and f"of {prog}" in r.out, r
    assert f"Symbol \"{vdso_clock}\" is at 0x3f8001" in r.out, r  # the vDSO's symbols, at USER_VDSO
    if kind == "debug-static-pie":
        assert "Breakpoint 1 at 0x8000" in r.out, r  # USER_PIE_BASE
    else:
        assert "hermit-libs" in r.out and "libc.so.6" in r.out, r
        assert "printf in section .text of" in r.out, r
        assert "#0" in r.out and "printf" in r.out.split("#0", 1)[1] and "in main (argc=1" in r.out, r
    assert r.rc == 7, r
    assert "total 14" in r.out, r


def _monitor(sock: socket.socket, command: str) -> str:
    """One human-monitor command: the text up to the next prompt."""
    sock.settimeout(30)
    data = b""
    while b"(qemu) " not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    sock.sendall(command.encode() + b"\n")
    data = b""
    while b"VM status" not in data or not data.rstrip().endswith(b"(qemu)"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_monitor_answers_info_status(arch, builder, where):
    """`run --monitor`: the human monitor on a Unix socket in the run
    directory; HERMIT_MONITOR=1 with HERMIT_PORT: on TCP HERMIT_PORT + 1.
    The program waits for its stdin to end, so the guest is up while the
    test asks."""
    prog = builder.build("debug", arch, "debugged.c")
    args = ["run", "--board", BOARD[arch], str(prog), "--timeout", TIMEOUT, "--stop-timeout", "3"]
    env = None
    if where == "unix":
        args.append("--monitor")
    else:
        port = free_port()
        env = {"HERMIT_MONITOR": "1", "HERMIT_PORT": str(port - 1)}
    run = Background(*args, "--", "wait", env=env, stdin=subprocess.PIPE)
    try:
        line = run.stderr_line("QEMU monitor: ")
        if where == "unix":
            path = line.split("UNIX-CONNECT:", 1)[1]
            assert path.endswith("/monitor.sock"), line
            sock, address = socket.socket(socket.AF_UNIX), path
        else:
            assert line.endswith(f"TCP:127.0.0.1:{port}"), line
            sock, address = socket.socket(), ("127.0.0.1", port)
        with sock:
            for _ in range(100):  # QEMU makes the socket as it starts
                try:
                    sock.connect(address)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    time.sleep(0.1)
            answer = _monitor(sock, "info status")
        assert "VM status: running" in answer, answer
        run.proc.stdin.close()  # the program ends
        assert run.wait() == 7, run
        assert Background.text(run.out) == "total 14\n", run
    finally:
        stop(run.proc)


def test_hermit_debug_1_holds_the_guest_for_gdb_on_port_1234(arch, builder):
    """HermitCore's HERMIT_DEBUG=1: `run` as with --gdb, on port 1234."""
    gdb_multiarch()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", 1234))
        except OSError:
            pytest.skip("port 1234 is taken on this machine")
    prog = builder.build("debug", arch, "debugged.c")
    run = Background("run", "--board", BOARD[arch], str(prog), "--timeout", TIMEOUT, "--stop-timeout", "3",
                     env={"HERMIT_DEBUG": "1"})
    try:
        line = run.stderr_line("attach with: ")
        assert "waits for gdb on 127.0.0.1:1234" in line, line
        out = gdb_batch(shlex.split(line.split("attach with: ", 1)[1]),
                        [f"break {SOURCE}:square", "continue", "print x", "delete", "continue"])
        assert "Breakpoint 1, square (x=1)" in out and "$1 = 1" in out, out
        assert run.wait() == 7 and Background.text(run.out) == "total 14\n", run
    finally:
        stop(run.proc)
