"""SMP and threads: every CPU the VMM gives comes online, and unmodified
pthreads and OpenMP programs (glibc, musl) run on them -- and still run,
by preemption, on one CPU."""

from __future__ import annotations

import pytest

from tests.conftest import hermit, selected_arches, selected_boards
from tests.helpers import TIMEOUT, run_linux

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")


def run(arch, program, cpus, *args):
    return run_linux(arch, program, *args, extra=("--cpus", str(cpus)))


@pytest.mark.parametrize("board", selected_boards())
def test_every_cpu_comes_online(board):
    r = hermit("run", "--board", board, "--cpus", "4", "--timeout", TIMEOUT)
    assert r.rc == 0, r
    assert "4 CPUs" in r.log_lines[0], r
    assert "[hermit] smp: 4 of 4 CPUs online" in r.log_lines, r
    assert "Hello from hermitcore!" in r.lines, r


def check_suite(r, cpus):
    out = r.lines
    assert r.rc == 0, r
    assert f"cpus: {cpus} online, {cpus} by sysconf" in out, r
    assert "checksums: 8 threads ok" in out, r
    assert "tls: distinct per thread (main 0)" in out, r
    assert "producer/consumer: 100000 items, 0 missing, 0 duplicated" in out, r
    assert "timedwait: ETIMEDOUT after >= 30 ms: yes" in out, r
    assert "exit while blocked: 6 from the quick ones, blockers released" in out, r


@pytest.mark.parametrize("kind", ["glibc", "musl"])
def test_pthreads_on_four_cpus(arch, kind, builder):
    prog = builder.build(kind, arch, "threads.c")
    r = run(arch, prog, 4)
    assert "[hermit] smp: 4 of 4 CPUs online" in r.log_lines, r
    check_suite(r, 4)
    # 8 live workers on 4 CPUs: placed on every CPU, not piled on one
    assert "workers ran on 4 cpus" in r.lines, r


def test_pthreads_on_one_cpu(arch, builder):
    r = run(arch, builder.build("glibc", arch, "threads.c"), 1)
    check_suite(r, 1)
    assert "workers ran on 1 cpus" in r.lines, r


def test_main_returns_while_threads_run(arch, builder):
    """Two threads spin, one sleeps; main sleeps 20 ms on the same single
    CPU (so it gets back only by preemption) and returns 7: exit_group ends
    every thread and the host sees 7."""
    r = run(arch, builder.build("glibc", arch, "threads.c"), 1, "exit-running")
    assert r.rc == 7, r
    assert "main returns while 3 threads run" in r.lines, r


def test_openmp_reduction_uses_every_cpu(arch, builder):
    r = run(arch, builder.build("openmp", arch, "openmp.c"), 4)
    assert r.rc == 0, r
    assert "omp: 4 threads of 4 procs, sum 999000000 exact" in r.lines, r
