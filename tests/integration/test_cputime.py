"""CPU time (issue #18): the kernel accounts each thread's time in the
program and in the kernel (between its entries and returns), and a
program reads it as on Linux -- getrusage (self, thread, children),
wait4's rusage, times(), the CPU-time clocks (the process's, a thread's,
clock_getcpuclockid's and pthread_getcpuclockid's), children's time and
maximum resident size passed up by wait only. tests/apps/linux/cpuprobe.c
prints facts that hold on Linux; the guest's output must be the host's,
line for line (the x86_64 build on the host is the reference for both
architectures), on one CPU and on two."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import selected_arches
from tests.helpers import no_panic, run_linux

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")


def _host_facts(builder, source: str) -> str:
    """A probe's facts on the host: every one of them "yes"."""
    prog = builder.build("glibc", "x86_64", source)
    r = subprocess.run([str(prog)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r
    assert "no" not in [line.rsplit(": ", 1)[1] for line in r.stdout.splitlines()], r.stdout
    return r.stdout


@pytest.fixture(scope="module")
def host_output(builder):
    return _host_facts(builder, "cpuprobe.c")


@pytest.mark.parametrize("cpus", [1, 2])
def test_cpu_time_as_on_the_host(arch, cpus, builder, host_output):
    prog = builder.build("glibc", arch, "cpuprobe.c")
    r = run_linux(arch, prog, extra=("--cpus", str(cpus), "--timeout", "300"), timeout=420)
    no_panic(r)
    assert r.rc == 0, r
    assert r.out == host_output, r


@pytest.fixture(scope="module")
def host_rusage(builder):
    return _host_facts(builder, "rusageprobe.c")


@pytest.mark.parametrize("cpus", [1, 2])
def test_rusage_counts_as_on_the_host(arch, cpus, builder, host_rusage):
    """Page faults, voluntary context switches and the resident high-water
    mark (tests/apps/linux/rusageprobe.c): for the process, a thread,
    children, wait4 and /proc/self -- the host's facts, line for line."""
    prog = builder.build("glibc", arch, "rusageprobe.c")
    r = run_linux(arch, prog, extra=("--cpus", str(cpus), "--timeout", "300"), timeout=420)
    no_panic(r)
    assert r.rc == 0, r
    assert r.out == host_rusage, r
