"""Start QEMU on a finished command line, stream the guest's console, decode
the guest's exit status. Standard library only: this is every `hermitcore
run`'s path, and on a cached run plan (see runplan.py) it is the only part of
hermitcore that runs, so what it imports is what a run costs.

Console lines are scanned for the kernel's panic and fault reports; their
addresses are named from the image's symbols (pyelftools, imported only then).
"""

from __future__ import annotations

import os
import re
import select
import signal
import stat
import time

HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
PROGRAM_PC_RE = re.compile(r" at pc (0x[0-9a-f]+)")
PANIC_RE = re.compile(r"^\[hermit\] (PANIC|EXCEPTION|PROGRAM FAULT): (.*)$")
#: kernel log lines shown without -v: warnings, panics, exceptions, faults
SHOWN_RE = re.compile(r"^\[hermit\] ((?:warning|PANIC|EXCEPTION|PROGRAM FAULT): .*)$")
BACKTRACE_RE = re.compile(r"^\[hermit\] backtrace:((?: 0x[0-9a-f]+)*)\s*$")
#: SIGTERM first (QEMU exits cleanly), SIGKILL if it has not after this long
KILL_GRACE_S = 2.0


class LaunchResult:
    __slots__ = ("returncode", "fatal", "seconds", "timed_out", "started", "stderr")

    def __init__(self, returncode, fatal, seconds, timed_out, started, stderr):
        self.returncode = returncode  # QEMU's exit status
        self.fatal = fatal  # "panic: ..." / "exception: ..." / "program fault: ..." or None
        self.seconds = seconds
        self.timed_out = timed_out
        self.started = started  # the guest produced console output
        self.stderr = stderr


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def kvm_is_pvm() -> bool:
    """The host's KVM is PVM (pagetable-based, no VMX/SVM): it runs our
    kernel, but a guest's own ring-3 code needs the PVM paravirtual event
    protocol (MSR_PVM_EVENT_ENTRY...), which this kernel does not speak."""
    return os.path.isdir("/sys/module/kvm_pvm")


def resolve_accel(requested: str, arch: str) -> str:
    """``auto``: KVM when /dev/kvm is usable, the guest arch is the host's,
    HERMIT_KVM is not 0 and the KVM is not PVM; otherwise TCG.

    PVM (pagetable-based, for hosts without VMX/SVM) runs a guest kernel
    that does not speak its paravirtual protocol at emulation speed: every
    loop iteration of ours costs ~1.8 us there (a 512-store
    loop: 0.9 ms, TCG 54 us) and hello's exec->exit is ~110 ms against
    ~30 ms under TCG; a program's ring 3 does not run at all. ``--accel
    kvm`` still uses it."""
    from hermitcore.errors import HermitError

    same_arch = HOST_ARCH.get(os.uname().machine) == arch  # (platform costs 2-4 ms to import)
    if requested == "tcg":
        return "tcg"
    if requested == "kvm":
        if not same_arch:
            raise HermitError(f"--accel kvm: cannot run an {arch} guest with KVM on a {os.uname().machine} host")
        if not kvm_usable():
            raise HermitError("--accel kvm: /dev/kvm is missing or not accessible (use --accel tcg)")
        return "kvm"
    if requested != "auto":
        raise HermitError(f"unknown accelerator '{requested}' (use kvm, tcg or auto)")
    if os.environ.get("HERMIT_KVM", "1") in ("0", "false", "no", "off"):
        return "tcg"
    if arch == "x86_64" and kvm_is_pvm():
        return "tcg"
    return "kvm" if same_arch and kvm_usable() else "tcg"


def quote_arg(arg: str) -> str:
    """Quote one application argument for the kernel's command-line parser."""
    if arg and not re.search(r'[\s"\\]', arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kernel_cmdline(app_args: list[str], kernel_args: list[str] = ()) -> str:
    """``<kernel options> -- <application arguments>``."""
    words = list(kernel_args)
    if app_args:
        words += ["--", *map(quote_arg, app_args)]
    return " ".join(words)


def decode_exit(spec: dict | None, returncode: int, workdir: str) -> int | None:
    """The guest's exit status from QEMU's, as the exit device declared it
    (``model.ExitCode``): ``odd`` -- only odd statuses are the guest's
    (isa-debug-exit writes ``(value << 1) | 1``); ``shift`` -- QEMU's status
    shifted right by this much; ``status_file`` -- a file in the run
    directory whose last byte is the exact status (no byte: not the guest's).
    None: QEMU's status is not a guest exit."""
    if spec is None or returncode < 0:
        return None
    if spec.get("odd") and returncode % 2 == 0:
        return None
    if spec.get("status_file"):
        try:
            with open(os.path.join(workdir, spec["status_file"]), "rb") as f:
                data = f.read()
        except OSError:
            return None
        return data[-1] if data else None
    return returncode >> spec.get("shift", 0)


class ConsoleScanner:
    """The kernel log, line by line: every line to ``log`` (--kernel-log),
    to ``err`` with ``verbose``; otherwise only what the user must see --
    warnings, panics, exceptions, program faults (with their addresses named
    from the image's symbols) and --strace lines -- as hermitcore's."""

    def __init__(self, image: str, out, err, verbose: bool = False, log=None):
        self.image, self.out, self.err = image, out, err
        self.verbose, self.log = verbose, log
        self.pending = b""
        self.fatal: list[str] = []
        self.seen = False

    def feed(self, chunk: bytes) -> None:
        self.seen = True
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for raw in lines:
            self._line(raw.rstrip(b"\r"))

    def finish(self) -> None:
        if self.pending:
            self._line(self.pending.rstrip(b"\r"))
            self.pending = b""
        if self.log is not None:
            self.log.flush()

    def _line(self, raw: bytes) -> None:
        text = raw.decode(errors="replace")
        if self.log is not None:
            self.log.write(raw + b"\n")
            self.log.flush()  # readable while the run goes on
        if self.verbose:
            self._say(text)
        elif text.startswith("[strace] "):
            self._say(text)
        else:
            m = SHOWN_RE.match(text)
            if m:
                self._say("hermitcore: " + m.group(1))
        if text.startswith("[hermit] "):
            self._scan(text)

    def _say(self, text: str) -> None:
        try:
            self.err.write(text + "\n")
            self.err.flush()
        except (BrokenPipeError, ValueError):
            pass

    def _scan(self, text: str) -> None:
        m = PANIC_RE.match(text)
        if m:
            kind = {"PANIC": "panic", "EXCEPTION": "exception"}.get(m.group(1), "program fault")
            self.fatal.append(f"{kind}: {m.group(2)}")
            pc = PROGRAM_PC_RE.search(text) if kind == "program fault" else None
            if pc:
                from hermitcore.image import symbolize_program

                self._say(f"hermitcore:   at {symbolize_program(self.image, int(pc.group(1), 16))}")
        m = BACKTRACE_RE.match(text)
        if m and m.group(1).strip():
            from hermitcore.image import symbolize

            addrs = [int(a, 16) for a in m.group(1).split()]
            for i, name in enumerate(symbolize(self.image, addrs)):
                self._say(f"hermitcore:   #{i} {name}")


ESC = 0xFF


class Demux:
    """The console of an image without a stream device (meta "stdio":
    "console"): the kernel log and the program's stdout and stderr framed on
    one byte stream (kernel/console.c): 0xff N switches to stream N, 0xff
    0xff is a 0xff of data."""

    def __init__(self, sinks, on_ready):
        self.sinks = sinks  # stream number -> callable(bytes)
        self.on_ready = on_ready  # 0xff 0x03: the guest takes input now
        self.stream = 0
        self.esc = False

    def feed(self, chunk: bytes) -> None:
        i, n = 0, len(chunk)
        while i < n:
            if self.esc:
                self.esc = False
                b = chunk[i]
                i += 1
                if b == ESC:
                    self._emit(b"\xff")
                elif b in self.sinks:
                    self.stream = b
                elif b == 3:
                    self.on_ready()
                continue
            j = chunk.find(b"\xff", i)
            if j < 0:
                self._emit(chunk[i:])
                break
            if j > i:
                self._emit(chunk[i:j])
            self.esc = True
            i = j + 1

    def _emit(self, data: bytes) -> None:
        self.sinks[self.stream](data)


def _is_fifo(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


class HostOut:
    """One of the host's output streams (our stdout or stderr) fed from a
    socket QEMU writes the guest's port into. A pipe is fed with splice(2),
    never blocking (SPLICE_F_NONBLOCK): while it is full the bytes wait in the
    socket and QEMU holds the guest's writer. A host stream that goes away
    (``| head -1``) is reported once through ``on_close``."""

    def __init__(self, fd: int, on_close):
        self.fd = fd
        self.on_close = on_close
        self.closed = fd < 0
        self.blocked = False  # splice found the pipe full
        self.splice = _is_fifo(fd) and hasattr(os, "splice")

    def unblock(self, ev) -> None:
        self.blocked = False
        self.check(ev)

    def check(self, ev) -> None:
        if ev & (select.POLLERR | select.POLLHUP) and not self.closed:
            self._close()

    def write(self, data: bytes) -> None:
        """Bytes from a demultiplexed console (no socket to leave them in)."""
        if self.closed:
            return
        try:
            os.write(self.fd, data) if len(data) < 4096 else _write_all(self.fd, data)
        except OSError:
            self._close()

    def pump(self, sock: int) -> bool:
        """Move what is in ``sock`` to the host; False at the socket's end."""
        if self.closed:
            chunk = _read(sock)
            return chunk is None or bool(chunk)
        if self.splice:
            try:
                n = os.splice(sock, self.fd, 1 << 20, flags=SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
            except BlockingIOError:
                self.blocked = True  # poll said the socket has bytes: the pipe is full
                return True
            except OSError:
                self._close()
                return True
            return n > 0
        chunk = _read(sock)
        if chunk is None:
            return True
        if not chunk:
            return False
        self.write(chunk)
        return True

    def _close(self) -> None:
        self.closed = True
        self.on_close()


def _read(fd: int):
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


SPLICE_F_MOVE = getattr(os, "SPLICE_F_MOVE", 1)
SPLICE_F_NONBLOCK = getattr(os, "SPLICE_F_NONBLOCK", 2)


class Streams:
    """The host's end of a run's chardevs (socketpairs; QEMU gets the other
    ends as fds 3-6, see ``QEMU_FDS``) and the relay between them and our
    own stdin, stdout and stderr. ``mode`` is the image's meta "stdio":
    "virtio" (a socket per stream), "console" (framed on the console)."""

    def __init__(self, mode: str, log_sink, stdin: int = 0, stdout: int = 1, stderr: int = 2):
        import socket

        self.mode = mode
        names = ["con"] + (["in", "out", "err"] if mode == "virtio" else [])
        self.ours, self.theirs = {}, {}
        for name in names:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            a.setblocking(False)
            self.ours[name], self.theirs[name] = a, b
        self.stdin = stdin if _fd_open(stdin) else -1
        self.stdout = HostOut(stdout if _fd_open(stdout) else -1, lambda: self._host_closed("out"))
        self.stderr = HostOut(stderr if _fd_open(stderr) else -1, lambda: self._host_closed("err"))
        self.log_sink = log_sink
        self.demux = Demux({0: log_sink, 1: self.stdout.write, 2: self.stderr.write},
                           self._input_ready) if mode == "console" else None
        self.input_ready = mode != "console"  # console: once the guest's UART takes input
        self.in_pending = b""
        self.in_eof = self.stdin < 0
        self.in_done = False  # the guest was told about the end of stdin
        self.in_splice = not self.in_eof and _is_fifo(self.stdin) and mode == "virtio" and hasattr(os, "splice")
        self.to_con = b""  # console mode: framed bytes for the guest (stdin, "closed" notes)
        self.in_blocked = False  # stdin's socket is full: wait for room, not for more input
        self.ended: set = set()  # the chardevs QEMU closed

    def child_fds(self) -> list[int]:
        """QEMU's fds 3, 4, ...: the ends of our chardevs."""
        return [self.theirs[n].fileno() for n in ("con", "in", "out", "err") if n in self.theirs]

    def close_child_ends(self) -> None:
        for s in self.theirs.values():
            s.close()

    def close(self) -> None:
        for s in self.ours.values():
            s.close()

    def _host_closed(self, which: str) -> None:
        """Our stdout/stderr went away: the guest's writes to it fail (EPIPE)."""
        if self.mode == "virtio":
            s = self.ours[which]
            try:
                s.shutdown(2)  # QEMU sees the chardev hang up: the port closes for the guest
            except OSError:
                pass
        else:
            self.to_con += b"\xff\x05" if which == "out" else b"\xff\x06"

    # -- the event loop's view --

    def wanted(self):
        """(fd, events, handler) to poll now."""
        out = []
        con = self.ours["con"].fileno()
        out.append((con, select.POLLIN | (select.POLLOUT if self.to_con else 0), self._on_con))
        if self.mode == "virtio":
            for name, host in (("out", self.stdout), ("err", self.stderr)):
                if name in self.ended:
                    continue
                if host.blocked:  # the host's pipe is full: wait for room there
                    out.append((host.fd, select.POLLOUT, host.unblock))
                else:
                    out.append((self.ours[name].fileno(), select.POLLIN, lambda ev, n=name, h=host: self._on_out(n, h)))
                if host.splice and not host.closed and not host.blocked:
                    out.append((host.fd, 0, host.check))  # POLLERR: the reader went (| head -1)
            s = self.ours["in"]
            if self.in_pending or self.in_blocked or (self.in_eof and not self.in_done):
                out.append((s.fileno(), select.POLLOUT, self._on_in_sock))
                return out
        if self.input_ready and not self.in_eof and not self.in_pending and not self.to_con and self.stdin >= 0:
            out.append((self.stdin, select.POLLIN, self._on_stdin))
        return out

    def _input_ready(self) -> None:
        self.input_ready = True
        if self.in_eof and not self.in_done:  # no stdin at all: say so now
            self.to_con += b"\xff\x04"
            self.in_done = True

    def done(self) -> bool:
        """QEMU closed every chardev."""
        need = {"con", "out", "err"} if self.mode == "virtio" else {"con"}
        return need <= self.ended

    def _end(self, name: str) -> None:
        self.ended.add(name)

    def _on_con(self, ev) -> None:
        if ev & select.POLLOUT and self.to_con:
            try:
                n = os.write(self.ours["con"].fileno(), self.to_con)
                self.to_con = self.to_con[n:]
            except BlockingIOError:
                pass
            except OSError:
                self.to_con = b""
        if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
            chunk = _read(self.ours["con"].fileno())
            if chunk is None:
                return
            if not chunk:
                self._end("con")
                self.to_con = b""
                return
            (self.demux.feed if self.demux else self.log_sink)(chunk)

    def _on_out(self, name, host) -> None:
        if not host.pump(self.ours[name].fileno()):
            self._end(name)

    def _on_stdin(self, ev) -> None:
        if self.in_splice:
            try:
                n = os.splice(self.stdin, self.ours["in"].fileno(), 1 << 20, flags=SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
            except BlockingIOError:
                self.in_blocked = True  # poll said stdin has bytes: the socket is full
                return
            except OSError:
                n = 0
            if n == 0:
                self.in_eof = True
            return
        try:
            chunk = os.read(self.stdin, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.in_eof = True
            if self.mode == "console":
                self.to_con += b"\xff\x04"
                self.in_done = True
            return
        if self.mode == "console":
            self.to_con += chunk.replace(b"\xff", b"\xff\xff")
        else:
            self.in_pending = chunk
            self._on_in_sock(0)

    def _on_in_sock(self, ev) -> None:
        s = self.ours["in"]
        self.in_blocked = False
        if self.in_pending:
            try:
                n = os.write(s.fileno(), self.in_pending)
                self.in_pending = self.in_pending[n:]
            except BlockingIOError:
                return
            except OSError:
                self.in_pending = b""  # the guest's side is gone
                self.in_eof = True
        if self.in_eof and not self.in_pending and not self.in_done:
            self.in_done = True
            try:
                s.shutdown(1)  # SHUT_WR: QEMU reads the end, the guest's stdin ends
            except OSError:
                pass


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


#: the fd QEMU gets each chardev's socket on (run.plan_command names them)
QEMU_FDS = {"hcon": 3, "hin": 4, "hout": 5, "herr": 6}
#: the stream ports: (chardev, port name the guest looks for)
STREAM_CHARDEVS = (("hin", "org.hermitcore.stdin"), ("hout", "org.hermitcore.stdout"),
                   ("herr", "org.hermitcore.stderr"))


class HostTerminal:
    """When our stdin is a terminal, it is raw for the run (the guest runs
    the line discipline: tty.c) and restored after, whatever ends the run."""

    def __init__(self, fd: int = 0):
        self.fd = fd
        self.saved = None

    def __enter__(self):
        if os.isatty(self.fd):
            import termios

            try:
                self.saved = termios.tcgetattr(self.fd)
                mode = termios.tcgetattr(self.fd)
                # cfmakeraw
                mode[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
                             | termios.IGNCR | termios.ICRNL | termios.IXON)
                mode[1] &= ~termios.OPOST
                mode[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
                mode[2] &= ~(termios.CSIZE | termios.PARENB)
                mode[2] |= termios.CS8
                mode[6][termios.VMIN] = 1
                mode[6][termios.VTIME] = 0
                termios.tcsetattr(self.fd, termios.TCSAFLUSH, mode)
            except termios.error:
                self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSAFLUSH, self.saved)
            except termios.error:
                pass


def terminal_args(stdin: int = 0, stdout: int = 1, stderr: int = 2) -> list[str]:
    """Kernel options telling the guest which of its streams are terminals
    on the host (and that the host's is raw: stdin is one), and the size."""
    kinds = "".join(_kind(fd) for fd in (stdin, stdout, stderr))
    mask = sum(1 << i for i, k in enumerate(kinds) if k == "t")
    args = [] if kinds == "ppp" else [f"hermit.stdio={kinds}"]
    if not mask:
        return args
    if mask & 1:
        mask |= 8
    args.append(f"hermit.tty={mask}")
    for fd in (stdin, stdout, stderr):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        if size.lines and size.columns:
            args.append(f"hermit.winsize={size.lines}x{size.columns}")
        break
    return args


def _kind(fd: int) -> str:
    """What fd is, for the guest's fstat: a terminal, a character device, a
    regular file, a socket, or a pipe (also what a closed fd looks like)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return "p"
    if stat.S_ISCHR(mode):
        return "t" if os.isatty(fd) else "c"
    return "f" if stat.S_ISREG(mode) else "s" if stat.S_ISSOCK(mode) else "p"


def _spawn(argv: list[str], child_fds: list[int]) -> tuple[int, int, int]:
    """Start argv with stdin on /dev/null, stdout/stderr on pipes and
    ``child_fds`` as its fds 3, 4, ...: (pid, stdout fd, stderr fd).
    os.posix_spawn rather than subprocess, whose import (locale, threading)
    costs every run ~6 ms. The pipes' other ends and every fd of ours are
    close-on-exec (PEP 446)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    # above every target first, so one dup2 cannot overwrite the next's source
    high = [fcntl_dupfd(fd, 10 + len(child_fds)) for fd in child_fds]
    try:
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        actions += [(os.POSIX_SPAWN_DUP2, fd, 3 + i) for i, fd in enumerate(high)]
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions,
                             setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))  # Python ignores these; QEMU starts as from a shell
    except OSError:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        for fd in (null, out_w, err_w, *high):
            os.close(fd)
    return pid, out_r, err_r


def fcntl_dupfd(fd: int, lowest: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)


def _wait(pid: int, grace: float | None) -> int:
    """The child's exit status as Popen.returncode gives it (-N: killed by
    signal N); after ``grace`` seconds (None: no limit) it is killed."""
    if grace is not None:
        deadline = time.perf_counter() + grace
        while time.perf_counter() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


class end_on_signals:
    """Within it, SIGTERM and SIGHUP (kill, timeout(1), a closed terminal)
    end this process through Python (SystemExit 128+N), so the code that
    started QEMU kills it on the way out instead of leaving it orphaned. The
    old handlers come back after; off the main thread it does nothing."""

    def __enter__(self):
        self.old = []
        try:
            for signum in (signal.SIGTERM, signal.SIGHUP):
                self.old.append((signum, signal.signal(signum, _raise_exit)))
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(self, *exc):
        for signum, handler in self.old:
            signal.signal(signum, handler)


def launch(argv: list[str], image: str, timeout: float | None, out, err, *, stdio: str = "",
           verbose: bool = False, log=None) -> LaunchResult:
    """Run QEMU to its end (or until ``timeout``: SIGTERM, then SIGKILL),
    relaying the program's streams (``stdio``: the image's meta "stdio"; ""
    for a foreign kernel, whose console is QEMU's stdout) and reading the
    kernel log (``verbose``: all of it to ``err``; ``log``: a binary file
    that gets all of it)."""
    from hermitcore.errors import RunError

    start = time.perf_counter()
    scanner = ConsoleScanner(image, out, err, verbose=verbose, log=log)
    streams = Streams(stdio, scanner.feed) if stdio else None
    try:
        pid, out_fd, err_fd = _spawn(argv, streams.child_fds() if streams else [])
    except OSError as exc:
        if streams:
            streams.close_child_ends()
            streams.close()
        raise RunError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    if streams:
        streams.close_child_ends()
    stderr_chunks: list[bytes] = []
    qemu_out = {out_fd: scanner.feed, err_fd: stderr_chunks.append}
    deadline = None if timeout is None else start + timeout
    timed_out = killed = False
    with end_on_signals(), HostTerminal(0) if streams else _nothing():
        try:
            while qemu_out or (streams and not streams.done()):
                wait = None if deadline is None else deadline - time.perf_counter()
                if wait is not None and wait <= 0:
                    if not timed_out:
                        timed_out = True
                        os.kill(pid, signal.SIGTERM)
                        deadline = time.perf_counter() + KILL_GRACE_S
                        continue
                    os.kill(pid, signal.SIGKILL)
                    killed = True
                    break
                events: dict[int, int] = {}
                handlers: dict[int, list] = {}
                wanted = [(fd, select.POLLIN, lambda ev, fd=fd, sink=sink: _qemu_output(fd, sink, qemu_out))
                          for fd, sink in qemu_out.items()]
                for fd, ev, handler in wanted + (streams.wanted() if streams else []):
                    events[fd] = events.get(fd, 0) | ev
                    handlers.setdefault(fd, []).append(handler)
                poller = select.poll()
                for fd, ev in events.items():
                    poller.register(fd, ev)
                for fd, ev in poller.poll(None if wait is None else max(0, int(wait * 1000) + 1)):
                    for handler in handlers.get(fd, ()):
                        handler(ev)
            scanner.finish()
            returncode = _wait(pid, KILL_GRACE_S if timed_out and not killed else None)
        except BaseException:  # Ctrl-C, a broken pipe: QEMU does not outlive us
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:  # already reaped
                pass
            raise
        finally:
            os.close(out_fd)
            os.close(err_fd)
            if streams:
                streams.close()
    return LaunchResult(
        returncode=returncode,
        fatal=scanner.fatal[0] if scanner.fatal else None,
        seconds=time.perf_counter() - start,
        timed_out=timed_out,
        started=scanner.seen,
        stderr=b"".join(stderr_chunks).decode(errors="replace").strip(),
    )


def _qemu_output(fd: int, sink, open_fds: dict) -> None:
    chunk = os.read(fd, 65536)
    if chunk:
        sink(chunk)
    else:
        del open_fds[fd]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass
