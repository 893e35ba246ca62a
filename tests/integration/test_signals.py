"""Signals judged as Linux compatibility is judged here: the same static
binary runs on the host and in the guest, and what it prints is compared
byte for byte (tests/apps/linux/sigprobe.c).

- sigprobe's sections: sigaction's round trip and argument checks; kill,
  raise, sigqueue, tgkill and pthread_kill with their siginfo; masks,
  pending sets (the thread's and the process's), coalescing of standard
  signals, queueing of real-time ones, the order of several pending ones;
  SA_RESETHAND, SA_NODEFER, sa_mask, uc_sigmask written by a handler,
  SIG_IGN; alternate stacks (nesting, EPERM, SS_AUTODISARM, a thread's
  stack overflow); SIGSEGV/SIGBUS with si_code, si_addr and the ucontext's
  fault record; the trap instruction and division by zero; a handler that
  moves the pc and sets a register; registers (general, vector, rounding
  mode) kept across a handler; EINTR against SA_RESTART for each kind of
  blocking call; sigsuspend, pause, sigtimedwait, sigwaitinfo; setitimer,
  alarm and the CPU-time itimers; POSIX timers (SIGEV_SIGNAL, SIGEV_NONE,
  SIGEV_THREAD_ID, glibc's SIGEV_THREAD, overruns); signalfd; pthread
  cancellation; kill/tgkill/sigqueue argument checks; last, children:
  wait statuses and SIGCHLD's siginfo for a child that exits, is killed or
  faults, what fork passes on (dispositions, mask, altstack; not pending
  signals), SIGCHLD ignored and SA_NOCLDWAIT. One boot per architecture
  and CPU count, compared with one host run.
- Default actions: `sigprobe die-MODE` ends by a signal (or survives one it
  ignores); stdout and the exit status match the host's (128 + the signal
  for `hermitcore run`, as a shell reports it).

The reference runs are the x86_64 build on an x86_64 host, as in
test_vfs.py; the aarch64 guest is compared with it except for the lines
Linux itself prints differently on aarch64 (AARCH64 below).
"""

from __future__ import annotations

import difflib
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import selected_arches
from tests.helpers import no_panic, run_linux

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")

#: the guest's own time limit (TCG on aarch64 is slow) and the host's
GUEST_TIMEOUT = ("--timeout", "300")
HOST_TIMEOUT = 420

#: What Linux prints on aarch64 where the x86_64 host prints the key:
#: __builtin_trap is ud2 there (SIGILL, ILL_ILLOPN) and brk here (SIGTRAP,
#: TRAP_BRKPT, arch/arm64/kernel/debug-monitors.c); integer division by
#: zero raises #DE there (SIGFPE, FPE_INTDIV) and gives 0 here (sdiv does
#: not trap). None: the line is not printed on aarch64.
AARCH64 = {
    "trap: caught SIGILL si_code ILL_ILLOPN": "trap: caught SIGTRAP si_code TRAP_BRKPT",
    "divide by zero: SIGFPE FPE_INTDIV": "divide by zero: no signal, result 0",
    "divide by zero: si_addr is the pc: yes": None,
}

#: Where the guest knowingly differs (docs/linux-programs.md, "Signals"):
#: key -> the guest's lines naming it, which must be either the host's or
#: exactly these. None now: the CPU-time itimers (ITIMER_VIRTUAL,
#: ITIMER_PROF) that were here fire as on the host.
KNOWN: dict[str, list[str]] = {}

#: sigprobe's default-action modes -> the exit status Linux gives (checked
#: against the host's run as well)
DIE = {
    "die-term": 128 + 15,  # raise(SIGTERM)
    "die-kill": 128 + 9,  # raise(SIGKILL)
    "die-usr1": 128 + 10,  # kill(getpid(), SIGUSR1)
    "die-rt": 128 + 35,  # raise(SIGRTMIN + 1): glibc's SIGRTMIN is 34
    "die-abort": 128 + 6,  # abort()
    "die-abort-handled": 128 + 6,  # abort() with a SIGABRT handler that returns
    "die-segv": 128 + 11,  # a write to NULL
    "die-segv-blocked": 128 + 11,  # ... with a handler, but SIGSEGV blocked
    "die-segv-ignored": 128 + 11,  # ... with SIGSEGV ignored
    "die-reraise": 128 + 11,  # a SIGSEGV handler that resets SIG_DFL and returns
    "die-unblock": 128 + 15,  # SIGTERM pending while blocked, then unblocked
    "die-thread": 128 + 15,  # a second thread raises SIGTERM: the process ends
    "die-alarm": 128 + 14,  # setitimer(ITIMER_REAL) and pause()
    "die-ignore": 0,  # SIGTERM ignored: raise and kill do nothing
}


# --- helpers ---------------------------------------------------------------


def host_build(builder) -> Path:
    """The x86_64 build, for the reference runs on the host."""
    if os.uname().machine != "x86_64":
        pytest.skip("the reference runs need an x86_64 host")
    return builder.build("glibc", "x86_64", "sigprobe.c")


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def host_run(prog: Path, *args: str) -> tuple[int, str]:
    """sigprobe on the host: its exit status as `hermitcore run` reports
    one (128 + the signal that ended it), and its stdout."""
    proc = subprocess.run([str(prog), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                          preexec_fn=no_core_dumps)
    rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    return rc, proc.stdout


def as_on(arch: str, host: str) -> str:
    """The host's (x86_64) output as Linux prints it on arch."""
    if arch == "x86_64":
        return host
    lines = host.splitlines(keepends=True)
    missing = [line for line in AARCH64 if line + "\n" not in lines]
    assert not missing, f"lines of AARCH64 the host no longer prints: {missing}"
    out = []
    for line in lines:
        key = line.rstrip("\n")
        if key in AARCH64:
            if AARCH64[key] is not None:
                out.append(AARCH64[key] + "\n")
        else:
            out.append(line)
    return "".join(out)


def known(host: str, guest: str) -> str:
    """The guest's output with each KNOWN group that gives the documented
    answer replaced by the host's lines for it (in the same place), so that
    only those exact answers are let through."""
    h, g = host.splitlines(keepends=True), guest.splitlines(keepends=True)
    for key, documented in KNOWN.items():
        hp = [line for line in h if key in line]
        assert hp, f"the host no longer prints {key}'s lines"
        at = [i for i, line in enumerate(g) if key in line]
        if [g[i].rstrip("\n") for i in at] == documented:
            g = g[: at[0]] + hp + [line for line in g[at[0]:] if key not in line]
    return "".join(g)


def diff(host: str, guest: str) -> str:
    return "\n".join(difflib.unified_diff(host.splitlines(), guest.splitlines(), "host", "guest", lineterm="", n=2))


def section_of(text: str, line_no: int) -> str:
    """The "== NAME" section a line of sigprobe's output is in."""
    name = "?"
    for line in text.splitlines()[:line_no]:
        if line.startswith("== "):
            name = line[3:]
    return name


def differing_sections(host: str, guest: str) -> list[str]:
    """The sections whose lines differ, in order (for the failure's first
    line: where to look)."""
    out = []
    sm = difflib.SequenceMatcher(a=host.splitlines(), b=guest.splitlines(), autojunk=False)
    for tag, i1, _i2, j1, _j2 in sm.get_opcodes():
        if tag != "equal":
            name = section_of(guest, j1 + 1) if j1 < len(guest.splitlines()) else section_of(host, i1 + 1)
            if name not in out:
                out.append(name)
    return out


# --- the probe ---------------------------------------------------------------


@pytest.fixture(scope="module")
def host_output(builder):
    """One reference run on the host (and a check that it is one: the same
    output twice, the whole probe, nothing unnamed)."""
    prog = host_build(builder)
    rc, first = host_run(prog)
    assert rc == 0 and first.startswith("== sigprobe\n") and first.endswith("== done\n"), first[-3000:]
    rc, again = host_run(prog)
    assert rc == 0 and again == first, diff(first, again)
    unnamed = [line for line in first.splitlines() if re.search(r"\bE\d+\b", line)]
    assert not unnamed, f"errnos missing from sigprobe's table: {unnamed}"
    return first


@pytest.mark.parametrize("cpus", [1, 2])
def test_signals_match_the_host(arch, cpus, builder, host_output):
    """sigprobe in the guest prints what it prints on the host, byte for
    byte (aarch64: but for AARCH64's lines), and exits 0 -- with one CPU
    (a signal to a sleeping thread wakes it) and with two (a signal to a
    thread running on the other CPU interrupts it)."""
    prog = builder.build("glibc", arch, "sigprobe.c")
    r = run_linux(arch, prog, extra=("--cpus", str(cpus), *GUEST_TIMEOUT), timeout=HOST_TIMEOUT)
    no_panic(r)
    want = as_on(arch, host_output)
    got = known(want, r.out)
    if not r.out.startswith("== sigprobe\n"):
        pytest.fail(f"sigprobe did not run in the guest: {r}")
    if got != want:
        where = ", ".join(differing_sections(want, got))
        pytest.fail(f"the guest's output differs from the host's in: {where}\n{diff(want, got)}\n"
                    f"--- guest rc {r.rc}, stderr\n{r.err[-3000:]}")
    assert r.rc == 0, r
    assert "is not implemented" not in r.err, r  # no unimplemented system call on the way


@pytest.mark.parametrize("mode", list(DIE))
def test_default_actions_match_the_host(arch, mode, builder):
    """A signal's default action ends the program with the host's exit
    status (128 + the signal) after the same output; an ignored one does
    not."""
    rc, out = host_run(host_build(builder), mode)
    assert rc == DIE[mode], (mode, rc, out)
    prog = builder.build("glibc", arch, "sigprobe.c")
    r = run_linux(arch, prog, mode, extra=GUEST_TIMEOUT, timeout=HOST_TIMEOUT)
    no_panic(r)
    assert r.out == out, f"{mode}: the guest's output differs from the host's\n{diff(out, r.out)}\n{r}"
    assert r.rc == rc, (mode, r)


@pytest.fixture(scope="module")
def job_host_output(builder):
    prog = builder.build("glibc", "x86_64", "jobprobe.c")
    r = subprocess.run([str(prog)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.endswith("done\n"), r
    return r.stdout


@pytest.mark.parametrize("cpus", [1, 2])
def test_job_control_as_on_the_host(arch, cpus, builder, job_host_output):
    """SIGSTOP/SIGTSTP stop every thread of a process until SIGCONT, the
    parent hears of both (SIGCHLD CLD_STOPPED/CLD_CONTINUED, wait's
    WUNTRACED/WCONTINUED, waitid's WSTOPPED with WNOWAIT), orphaned groups
    discard SIGTSTP, SIGCONT drops a pending stop signal
    (tests/apps/linux/jobprobe.c): the guest prints what the host prints."""
    prog = builder.build("glibc", arch, "jobprobe.c")
    r = run_linux(arch, prog, extra=("--cpus", str(cpus), *GUEST_TIMEOUT), timeout=HOST_TIMEOUT)
    no_panic(r)
    assert r.rc == 0, r
    assert r.out == job_host_output, diff(job_host_output, r.out)


def on_a_terminal(argv: list[str], timeout: float = HOST_TIMEOUT) -> tuple[int, bytes]:
    """Run argv with a pseudo-terminal as its stdin, stdout and stderr, in a
    session of its own (as a terminal's shell starts a program): its
    status and every byte the terminal got."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last holder of the terminal is gone
                break
            if not chunk:
                break
            seen += chunk
        rc = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.terminate()  # (SIGTERM: `hermitcore run` takes its QEMU down with it)
            proc.wait(timeout=10)
        os.close(master)
    return rc, seen


@pytest.fixture(scope="module")
def tty_host_output(builder):
    rc, out = on_a_terminal([str(builder.build("glibc", "x86_64", "ttyprobe.c"))], timeout=60)
    assert rc == 0 and out.endswith(b"done\r\n"), (rc, out)
    return out


@pytest.mark.parametrize("cpus", [1, 2])
def test_terminal_job_control_as_on_the_host(arch, cpus, builder, tty_host_output):
    """On a terminal (the run on a pseudo-terminal, the host's run too):
    the console is pid 1's controlling terminal -- tcgetpgrp/tcsetpgrp,
    tcgetsid, TIOCSCTTY, TIOCNOTTY with Linux's errors -- and background
    groups get Linux's job control: a read stops them by SIGTTIN (EIO when
    ignored or blocked, EINTR after a handler), a write under TOSTOP,
    tcsetattr and tcsetpgrp by SIGTTOU (allowed when it is ignored or
    blocked), the call restarts when continued; an orphaned group gets EIO
    (tcsetpgrp ENOTTY) instead (tests/apps/linux/ttyprobe.c): the terminal
    shows what it shows on the host."""
    from tests.helpers import BOARD, TIMEOUT

    prog = builder.build("glibc", arch, "ttyprobe.c")
    rc, out = on_a_terminal([sys.executable, "-m", "hermitcore", "run", "--board", BOARD[arch], str(prog),
                             "--cpus", str(cpus), "--timeout", TIMEOUT])
    assert b"PANIC" not in out and b"EXCEPTION" not in out, out
    assert (rc, out) == (0, tty_host_output), diff(tty_host_output.decode(), out.decode(errors="replace"))
