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
import time

from hermitcore.streams import QEMU_FDS, STREAM_CHARDEVS, HostTerminal, Streams, terminal_args  # noqa: F401

HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
PROGRAM_PC_RE = re.compile(r" at pc (0x[0-9a-f]+)")
PANIC_RE = re.compile(r"^\[hermit\] (PANIC|EXCEPTION|PROGRAM FAULT): (.*)$")
#: kernel log lines shown without -v (panics, exceptions and faults: by _scan)
SHOWN_RE = re.compile(r"^\[hermit\] (warning: .*)$")
BACKTRACE_RE = re.compile(r"^\[hermit\] backtrace:((?: 0x[0-9a-f]+)*)\s*$")
#: SIGTERM first (QEMU exits cleanly), SIGKILL if it has not after this long
KILL_GRACE_S = 2.0


#: signals `hermitcore run` passes to the program (pid 1 in the guest), as
#: `docker kill` does; the guest is stopped if the program has not ended
#: ``stop_timeout`` seconds after the first (or at a second SIGINT)
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGCONT)
#: forwarded, and no request to end: they start no --stop-timeout (SIGCONT resumes a stopped pid 1)
NOT_ENDING = (signal.SIGCONT,)
STOP_TIMEOUT_S = 10.0


class LaunchResult:
    __slots__ = ("returncode", "fatal", "seconds", "timed_out", "started", "stderr", "stopped_by")

    def __init__(self, returncode, fatal, seconds, timed_out, started, stderr, stopped_by=0):
        self.returncode = returncode  # QEMU's exit status
        self.fatal = fatal  # "panic: ..." / "exception: ..." / "program fault: ..." or None
        self.seconds = seconds
        self.timed_out = timed_out
        self.started = started  # the guest produced console output
        self.stderr = stderr
        self.stopped_by = stopped_by  # the forwarded signal after which the guest was stopped, or 0


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


#: what the kernel takes of its command line (kernel/main.c): bytes, words
#: (options, "--" and the program's arguments); and environment entries (linux/loader.c)
CMDLINE_MAX = 4095
CMDLINE_WORDS = 256
ENV_MAX = 256


def kernel_cmdline(app_args: list[str], kernel_args: list[str] = ()) -> str:
    """``<kernel options> -- <application arguments>``, refused (one line)
    when the kernel could not take it whole."""
    words = list(kernel_args)
    if app_args:
        words += ["--", *map(quote_arg, app_args)]
    text = " ".join(words)
    envs = sum(1 for w in kernel_args if w.lstrip('"').startswith("hermit.env="))
    if len(text.encode()) > CMDLINE_MAX or len(words) > CMDLINE_WORDS or envs > ENV_MAX:
        from hermitcore.errors import HermitError

        raise HermitError(
            f"the program's arguments and environment do not fit the kernel's command line: {len(text.encode())} "
            f"bytes in {len(words)} words with {envs} environment variables (at most {CMDLINE_MAX} bytes, "
            f"{CMDLINE_WORDS} words, {ENV_MAX} variables)")
    return text


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

    def __init__(self, image: str, err, verbose: bool = False, log=None, blobs=None):
        self.image, self.err = image, err
        self.verbose, self.log = verbose, log
        self.blobs = blobs  # blobs.Blobs: files the kernel sends (a core dump)
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
        if self.blobs is not None and text.startswith("[blob] "):
            from hermitcore.blobs import BlobError

            try:
                self.blobs.line(text)
            except BlobError as exc:
                self._say(f"hermitcore: warning: cannot write {exc}")
            return
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
            self._say(f"hermitcore: {'' if kind == 'program fault' else 'guest kernel '}{kind}: {m.group(2)}")
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
    high = [_dup_above(fd, 10 + len(child_fds)) for fd in child_fds]
    if os.environ.get("HERMIT_QEMU_PDEATHSIG") == "1" and argv[0] != "setpriv":
        # a container's QEMU (hermitcore-runtime): killed with the process that runs it, however that ends
        import shutil

        setpriv = shutil.which("setpriv")
        if setpriv:
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
    try:
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        actions += [(os.POSIX_SPAWN_DUP2, fd, 3 + i) for i, fd in enumerate(high)]
        # Its own process group: a terminal's ^C reaches us, to pass on to the program, not QEMU.
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setpgroup=0,
                             setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))  # Python ignores these; QEMU starts as from a shell
    except OSError:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        for fd in (null, out_w, err_w, *high):
            os.close(fd)
    return pid, out_r, err_r


def _dup_above(fd: int, lowest: int) -> int:
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
    started QEMU kills it on the way out instead of leaving it orphaned.
    With ``forward``, the signals of FORWARDED are queued instead (``taken``
    reads them; ``fd`` turns readable), for the program in the guest. The
    old handlers come back after; off the main thread it does nothing."""

    def __init__(self, forward: bool = False):
        self.forward = forward
        self.pending: list[int] = []
        self.fd = -1

    def _queue(self, signum, frame):
        self.pending.append(signum)
        try:
            os.write(self._wfd, b"s")
        except OSError:  # full: a wake-up is already there
            pass

    def taken(self) -> list[int]:
        try:
            os.read(self.fd, 64)
        except OSError:
            pass
        out, self.pending = self.pending, []
        return out

    def __enter__(self):
        self.old = []
        try:
            if self.forward:
                self.fd, self._wfd = os.pipe()
                os.set_blocking(self.fd, False)
                os.set_blocking(self._wfd, False)
                for signum in FORWARDED:
                    self.old.append((signum, signal.signal(signum, self._queue)))
            else:
                for signum in (signal.SIGTERM, signal.SIGHUP):
                    self.old.append((signum, signal.signal(signum, _raise_exit)))
        except ValueError:  # not the main thread
            self.forward = False
        return self

    def __exit__(self, *exc):
        for signum, handler in self.old:
            signal.signal(signum, handler)
        if self.fd >= 0:
            os.close(self.fd)
            os.close(self._wfd)


def launch(argv: list[str], image: str, timeout: float | None, err, *, stdio: str = "",
           verbose: bool = False, log=None, stop_timeout: float = STOP_TIMEOUT_S, blobs=None) -> LaunchResult:
    """Run QEMU to its end (or until ``timeout``: SIGTERM, then SIGKILL),
    relaying the program's streams between QEMU and our own fds 0-2
    (``stdio``: the image's meta "stdio"; "" for a foreign kernel, whose
    console is QEMU's stdout) and reading the kernel log (``verbose``: all of
    it to ``err``; ``log``: a binary file that gets all of it). Signals we
    get (FORWARDED) go to the program; ``stop_timeout`` seconds after the
    first, or at a second SIGINT, the guest is stopped."""
    from hermitcore.errors import RunError

    start = time.perf_counter()
    scanner = ConsoleScanner(image, err, verbose=verbose, log=log, blobs=blobs)
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
    stopped_by = 0
    first_signal, stop_at = 0, None
    with end_on_signals(forward=bool(streams)) as signals, \
            HostTerminal(0, enabled=bool(streams and streams.stdin_terminal)):
        try:
            while qemu_out or (streams and not streams.done()):
                if signals.pending:
                    for signum in signals.taken():
                        if stopped_by:
                            continue
                        if first_signal and signum == signal.SIGINT:  # a second ^C: stop it now
                            stop_at = time.perf_counter()
                            break
                        streams.send_signal(signum)
                        if not first_signal and signum not in NOT_ENDING:
                            # an infinite stop_timeout (run --gdb: the guest may sit at a breakpoint) never stops it
                            first_signal = signum
                            stop_at = None if stop_timeout == float("inf") else time.perf_counter() + stop_timeout
                if stop_at is not None and time.perf_counter() >= stop_at and not stopped_by:
                    stopped_by = first_signal  # the program did not end: as `docker stop`, stop the guest
                    os.kill(pid, signal.SIGTERM)
                    deadline = time.perf_counter() + KILL_GRACE_S
                    timed_out = True
                    continue
                wait = None if deadline is None else deadline - time.perf_counter()
                if stop_at is not None and not stopped_by:
                    wait = stop_at - time.perf_counter() if wait is None else min(wait, stop_at - time.perf_counter())
                if wait is not None and wait <= 0 and deadline is not None and time.perf_counter() >= deadline:
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
                if signals.fd >= 0:
                    wanted.append((signals.fd, select.POLLIN, lambda ev: None))  # wakes us: handled above
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
        timed_out=timed_out and not stopped_by,
        started=scanner.seen,
        stderr=b"".join(stderr_chunks).decode(errors="replace").strip(),
        stopped_by=stopped_by,
    )


def _qemu_output(fd: int, sink, open_fds: dict) -> None:
    chunk = os.read(fd, 65536)
    if chunk:
        sink(chunk)
    else:
        del open_fds[fd]
