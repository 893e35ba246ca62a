"""The host's end of a run's standard streams: the chardev sockets QEMU
gets (fds 3-6) and the relay between them and our own stdin, stdout and
stderr, byte for byte; the kernel log's channel goes to a sink (launch.py's
ConsoleScanner). Standard library only, as launch.py: every run goes
through here. docs/architecture.md, "Standard streams", draws it."""

from __future__ import annotations

import os
import select
import stat

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
        # A terminal we are not in the foreground of (`hermitcore run ... &`):
        # reading it would stop us (SIGTTIN), as making it raw would (SIGTTOU).
        self.stdin_terminal = _isatty(stdin) and _foreground(stdin)
        if _isatty(stdin) and not self.stdin_terminal:
            stdin = -1
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

    def send_signal(self, signum: int) -> None:
        """Signal ``signum`` for the program: 0xff 0x07 N on the console
        (every board's; kernel/console.c)."""
        self.to_con += bytes((ESC, 7, signum))

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

    def __init__(self, fd: int = 0, enabled: bool = True):
        self.fd = fd
        self.enabled = enabled
        self.saved = None

    def __enter__(self):
        if self.enabled and _isatty(self.fd) and _foreground(self.fd):
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
    if mask & 1 and _foreground(stdin):
        mask |= 8  # the host's terminal goes raw: the guest runs the line discipline
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




def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _foreground(fd: int) -> bool:
    """We may read the terminal and change its modes: we are in its
    foreground process group, or it is not our controlling terminal (then
    job control's SIGTTIN/SIGTTOU do not apply)."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return True
