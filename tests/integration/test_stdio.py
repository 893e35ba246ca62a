"""Standard streams: a program's stdin, stdout and stderr are the host
command's, byte for byte, on both architectures. The probe
(tests/apps/linux/stdio.c) runs on the host too, and the guest's streams
must carry the same bytes and the same status."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import shutil
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import selected_arches
from tests.helpers import BOARD, TIMEOUT

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")

HERMIT = [sys.executable, "-m", "hermitcore", "run"]


@pytest.fixture(scope="session")
def probe(builder):
    return lambda arch: builder.build("glibc", arch, "stdio.c")


@pytest.fixture(scope="session")
def host_probe(builder):
    if os.uname().machine != "x86_64":
        pytest.skip("the reference runs need an x86_64 host")
    return builder.build("glibc", "x86_64", "stdio.c")


def run_cmd(arch, prog, *args, board=None):
    return [*HERMIT, "--board", board or BOARD[arch], str(prog), "--timeout", TIMEOUT, "--", *args]


def guest(arch, prog, *args, stdin=subprocess.DEVNULL, data=None, board=None, timeout=300):
    return subprocess.run(run_cmd(arch, prog, *args, board=board), input=data,
                          stdin=None if data is not None else stdin, capture_output=True, timeout=timeout)


def host(prog, *args, stdin=subprocess.DEVNULL, data=None):
    return subprocess.run([str(prog), *args], input=data, stdin=None if data is not None else stdin,
                          capture_output=True, timeout=60)


def awkward_bytes(size: int) -> bytes:
    """Random bytes, with runs of the ones a console would mangle: NUL, \\r,
    \\n, \\r\\n pairs split anywhere, 0xff."""
    data = bytearray(os.urandom(size))
    for i in range(0, size - 4, 997):
        data[i:i + 4] = b"\r\n\x00\xff"
    return bytes(data)


def test_binary_round_trip_64_mib(arch, probe):
    """64 MiB in through stdin and back out through stdout: the same bytes."""
    data = awkward_bytes(64 << 20)
    r = guest(arch, probe(arch), "cat", data=data, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(r.stdout) == len(data) and hashlib.sha256(r.stdout).digest() == hashlib.sha256(data).digest()
    assert r.stderr == b"", r.stderr[-2000:]


def test_stdout_and_stderr_apart_and_in_order(arch, probe, host_probe):
    """Lines alternating between the streams, each with \\r, NUL and a
    control byte, the last without a newline: each host stream gets exactly
    what the program wrote to it, in order, and nothing else (no banner, no
    kernel lines)."""
    want = host(host_probe, "streams", "300")
    r = guest(arch, probe(arch), "streams", "300")
    assert (r.returncode, r.stdout, r.stderr) == (want.returncode, want.stdout, want.stderr)
    assert want.stdout.count(b"\n") == 200 and want.stderr.count(b"\n") == 99 and not want.stderr.endswith(b"\n")


@pytest.mark.parametrize("source", ["devnull", "file", "pipe"])
def test_stdin_from_null_file_and_pipe(arch, probe, tmp_path, source):
    data = awkward_bytes(300_000)
    if source == "devnull":
        with open(os.devnull, "rb") as f:
            r = guest(arch, probe(arch), "poll", stdin=f)
        assert (r.returncode, r.stdout) == (0, b"before input: poll=1\nend of file: 0 bytes, 0 lines\n"), r
        return
    if source == "file":
        path = tmp_path / "in.bin"
        path.write_bytes(data)
        with open(path, "rb") as f:
            r = guest(arch, probe(arch), "cat", stdin=f)
    else:
        r = guest(arch, probe(arch), "cat", data=data)
    assert r.returncode == 0 and r.stdout == data, r.stderr


@pytest.mark.parametrize("how", ["poll", "select"])
def test_poll_waits_for_input_then_sees_end_of_file(arch, probe, how):
    """stdin is a pipe the host keeps open and empty: poll/select says not
    ready; once lines arrive it wakes, and end of file is seen when the host
    closes the pipe."""
    proc = subprocess.Popen(run_cmd(arch, probe(arch), how), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        first = _read_line(proc.stdout, 240)
        assert first == b"before input: poll=0\n", first
        proc.stdin.write(b"one\ntwo\nthree\n")
        proc.stdin.flush()
        time.sleep(0.5)
        proc.stdin.write(b"four\n")
        proc.stdin.close()
        proc.wait(timeout=120)
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0 and out == b"end of file: 19 bytes, 4 lines\n", (out, err)


def _read_line(stream, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            break
        line += chunk
    return line


@pytest.mark.parametrize("mode", ["yes", "yes-ignore"])
def test_closed_stdout_gives_sigpipe_or_epipe(arch, probe, host_probe, mode):
    """`prog | head -1`: when head exits the program gets SIGPIPE (status
    141) -- or, ignoring it, EPIPE -- as on Linux, and the run ends."""
    def pipeline(cmd):
        script = " ".join(f"'{c}'" for c in cmd) + " | head -1; echo \"status ${PIPESTATUS[0]}\""
        return subprocess.run(["bash", "-c", script], stdin=subprocess.DEVNULL, capture_output=True, timeout=300)

    want = pipeline([str(host_probe), mode])
    got = pipeline(run_cmd(arch, probe(arch), mode))
    assert want.stdout == b"y\nstatus " + (b"141" if mode == "yes" else b"7") + b"\n"
    assert got.stdout == want.stdout and got.stderr == want.stderr, (got, want)


def test_kernel_log_only_on_request(arch, probe, tmp_path):
    """The banner and [hermit] lines: not on stdout or stderr by default,
    on stderr with -v (or HERMIT_VERBOSE=1), whole in --kernel-log FILE."""
    prog = probe(arch)
    quiet = guest(arch, prog, "streams", "3")
    assert b"hermitcore " not in quiet.stdout + quiet.stderr and b"[hermit]" not in quiet.stdout + quiet.stderr
    log = tmp_path / "kernel.log"
    saved = subprocess.run([*HERMIT, "--board", BOARD[arch], str(prog), "--kernel-log", str(log), "--", "streams", "3"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    assert saved.stdout == quiet.stdout and saved.stderr == quiet.stderr
    text = log.read_text()
    assert text.startswith("hermitcore ") and "[hermit] virtio-console: standard streams on 3 ports" in text, text
    loud = subprocess.run(run_cmd(arch, prog, "streams", "3"), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=300, env={**os.environ, "HERMIT_VERBOSE": "1"})
    assert loud.stdout == quiet.stdout and b"[hermit] virtio-console" in loud.stderr


def test_c_application_prints_on_stdout(arch):
    """A built-in C application's printf is its stdout, alone."""
    r = subprocess.run([*HERMIT, "--board", BOARD[arch], "--timeout", TIMEOUT, "--", "a", "b c"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"Hello from hermitcore!\nargv[1] = a\nargv[2] = b c\n", b""), r


# --- terminals ---


class Pty:
    """The run on a pseudo-terminal, as a user at a terminal starts it."""

    def __init__(self, argv, rows=33, cols=101):
        import fcntl
        import struct

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.before = termios.tcgetattr(slave)
        self.slave_name = os.ttyname(slave)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def expect(self, text: bytes, timeout: float = 240) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"{text!r} not seen in {timeout} s; got {self.seen!r}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"{text!r} not seen before the end; got {self.seen!r}")
            self.seen += chunk
        return self.seen

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def stop(self) -> None:
        """SIGTERM first: `hermitcore run` takes its QEMU down with it (a
        SIGKILL would leave QEMU running)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def finish(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    pass
        rc = self.proc.wait(timeout=5)
        slave = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY)
        try:
            self.after = termios.tcgetattr(slave)
        finally:
            os.close(slave)
        os.close(self.master)
        return rc


def session(argv, *script) -> Pty:
    """Run ``argv`` at a pseudo-terminal through ``script``: bytes to send
    (``b"..."``) and ``("expect", b"...")`` steps, then wait for the end;
    the Pty has the status (``rc``), what was seen and the terminal's modes
    before and after."""
    t = Pty(argv)
    try:
        for step in script:
            if isinstance(step, tuple):
                t.expect(step[1])
            else:
                t.send(step)
        t.rc = t.finish()
    finally:
        t.stop()
    assert t.after == t.before, "the terminal was not restored"
    return t


def test_terminal_facts(arch, probe):
    """On a terminal: isatty, the window size, canonical mode with echo."""
    t = session(run_cmd(arch, probe(arch), "tty"), ("expect", b"isig"))
    assert t.rc == 0, t.seen
    assert b"isatty 1 1 1\r\nwinsize 33 101\r\nicanon 1 echo 1 isig 1\r\n" in t.seen, t.seen


def test_interactive_session(arch, probe):
    """A prompt, a typed line (with a typo erased) echoed and answered,
    ^D ends it; the host terminal is as it was."""
    t = session(run_cmd(arch, probe(arch), "repl"), ("expect", b"> "), b"hellp\x7fo world\r",
                ("expect", b"got: hello world\r\n> "), b"\x04", ("expect", b"bye\r\n"))
    assert t.rc == 0, t.seen
    assert b"hellp\b \bo world\r\n" in t.seen, t.seen  # the guest echoes, the erase is drawn


def test_ctrl_c_ends_the_run(arch, probe):
    """^C at the terminal: SIGINT ends the program (status 130), as it
    would at a Linux terminal."""
    t = session(run_cmd(arch, probe(arch), "repl"), ("expect", b"> "), b"\x03")
    assert t.rc == 130, t.seen


def test_busybox_shell_session():
    """Debian's static busybox sh, interactively (its own line editing, in
    raw mode through tcsetattr): a prompt, a command and its output, `exit`."""
    if "x86_64" not in selected_arches():
        pytest.skip("x86_64 not selected")
    busybox = shutil.which("busybox")
    if not busybox:
        pytest.skip("busybox-static not installed")
    t = session([*HERMIT, "--board", BOARD["x86_64"], busybox, "--timeout", TIMEOUT, "--", "sh"],
                ("expect", b"# "), b"echo hello $((6 * 7))\r", ("expect", b"hello 42\r\n"), ("expect", b"# "),
                b"exit 5\r")
    assert t.rc == 5, t.seen


# --- a board without a stream device: the streams framed on the UART ---


def test_streams_over_the_uart(arch, probe, host_probe, bare_board):
    """The same guarantees where the board has no virtio device: bytes both
    ways, stdout and stderr apart, end of file, the kernel log kept out."""
    data = awkward_bytes(100_000)  # a UART write per byte, an interrupt per byte in: ~10 KB/s on aarch64 TCG
    r = guest(arch, probe(arch), "cat", data=data, board=str(bare_board[arch]))
    assert r.returncode == 0 and r.stdout == data and r.stderr == b"", r.stderr[-2000:]
    want = host(host_probe, "streams", "60")
    r = guest(arch, probe(arch), "streams", "60", board=str(bare_board[arch]))
    assert (r.returncode, r.stdout, r.stderr) == (want.returncode, want.stdout, want.stderr)
