"""Signals across the host boundary and Go's runtime on real signal delivery:
`hermitcore run` passes the signals it gets to the program (pid 1 in the
guest), stops a guest that outlives --stop-timeout, and Go programs preempt
a spinning goroutine (the runtime's SIGURG to a thread) and take SIGTERM
through os/signal -- on both architectures."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import BOARD, TIMEOUT, no_panic, program_lines, run_linux


def start(arch, program, *args, extra=()):
    """`hermitcore run` in the background, once the program has printed its
    first line (it is ready for the signal): (process, that line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermitcore", "run", "--board", BOARD[arch], str(program), "--timeout", TIMEOUT,
         *extra, "--", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline()


def finish(proc, timeout=90):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"hermitcore run did not end:\n{out}\n{err}") from None
    return proc.returncode, out, err


def test_sigterm_default_action_ends_the_program(arch, builder):
    prog = builder.build("glibc", arch, "sigterm.c")
    proc, first = start(arch, prog)
    assert first == "ready\n"
    proc.send_signal(signal.SIGTERM)
    rc, out, err = finish(proc)
    assert (rc, out) == (143, ""), err
    assert "SIGTERM (signal 15) ends the program: exit status 143" in err


def test_sigterm_handler_shuts_down_gracefully(arch, builder):
    prog = builder.build("glibc", arch, "sigterm.c")
    proc, first = start(arch, prog, "handle")
    assert first == "ready\n"
    proc.send_signal(signal.SIGTERM)
    rc, out, err = finish(proc)
    assert (rc, out) == (3, "graceful shutdown after signal 15 from the host\n"), err


def test_a_program_that_ignores_sigterm_is_stopped_after_stop_timeout(arch, builder):
    prog = builder.build("glibc", arch, "sigterm.c")
    proc, first = start(arch, prog, "ignore", extra=("--stop-timeout", "1"))
    assert first == "ready\n"
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc, out, err = finish(proc)
    assert rc == 143 and "did not end within --stop-timeout of SIGTERM: stopped the guest" in err, err
    assert time.monotonic() - sent < 30


def test_a_second_sigint_stops_the_guest_at_once(arch, builder):
    prog = builder.build("glibc", arch, "sigterm.c")
    proc, first = start(arch, prog, "ignore", extra=("--stop-timeout", "600"))
    assert first == "ready\n"
    proc.send_signal(signal.SIGTERM)  # ignored by the program
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    rc, out, err = finish(proc)
    assert rc == 143 and "stopped the guest" in err, err


def test_go_preempts_a_spinning_goroutine_and_takes_signals(arch, builder):
    """GOMAXPROCS=1 and a goroutine spinning without a call: only the
    runtime's asynchronous preemption (SIGURG by tgkill, a handler that
    rewrites the interrupted context) lets another goroutine run. Then
    os/signal receives SIGUSR1 the program sends itself. Output as on the
    host."""
    want = subprocess.run([str(builder.build("go", "x86_64", "gosignals.go"))], capture_output=True, text=True,
                          timeout=60)
    assert want.returncode == 0, want
    r = run_linux(arch, builder.build("go", arch, "gosignals.go"))
    no_panic(r)
    assert (r.rc, program_lines(r)) == (0, want.stdout.splitlines()), r


def test_go_server_shuts_down_cleanly_on_sigterm(arch, builder):
    proc, first = start(arch, builder.build("go", arch, "gosignals.go"), "serve")
    assert first.startswith("preempted"), first
    lines = [proc.stdout.readline(), proc.stdout.readline()]
    assert lines == ["got user defined signal 1\n", "serving\n"], lines
    proc.send_signal(signal.SIGTERM)
    rc, out, err = finish(proc)
    assert (rc, out) == (0, "graceful shutdown on terminated\n"), err


def _resume(proc, delay=1.5):
    """SIGCONT to a stopped program, until it says it resumed (a SIGCONT that
    came before its stop would leave it stopped): its line."""
    time.sleep(delay)
    got = []

    def read():
        got.append(proc.stdout.readline())
    import threading

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for _ in range(60):
        proc.send_signal(signal.SIGCONT)
        reader.join(2)
        if got:
            return got[0]
    raise AssertionError("SIGCONT did not resume it")


@pytest.mark.parametrize("mode", ["stop", "stop-by-child"])
def test_sigcont_from_the_host_resumes_a_stopped_pid_1(arch, builder, mode):
    """pid 1 stopped by SIGSTOP (its own raise, or a child's kill): the
    SIGCONT `hermitcore run` gets goes to it and resumes it -- its SIGCONT
    handler sees SI_USER from outside -- and starts no --stop-timeout; the
    same binary on the host (resumed by our SIGCONT) says the same."""
    host = subprocess.Popen([str(builder.build("glibc", "x86_64", "sigterm.c")), mode], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert host.stdout.readline() == "ready\n"
    want = _resume(host)
    assert finish(host)[0] == 0
    proc, first = start(arch, builder.build("glibc", arch, "sigterm.c"), mode, extra=("--stop-timeout", "1"))
    assert first == "ready\n"
    line = _resume(proc, delay=3)
    rc, out, err = finish(proc)
    assert (rc, line, out) == (0, want, ""), err
    assert "stopped the guest" not in err, err
    assert "stopped for a second or more: yes" in line and "SI_USER, from outside" in line, line
