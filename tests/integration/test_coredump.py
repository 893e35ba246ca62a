"""Core dumps (issue #21): a program that dies of a core-dumping signal
leaves an ELF core on the host (`run --core FILE`) that gdb opens with
the faulting function and line and every thread -- both architectures,
read by Debian's gdb-multiarch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import no_panic, run_linux
from tests.linux_programs import SOURCES, unavailable

CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}
SOURCE = SOURCES / "coredump.c"
FAULT_LINE = next(i for i, line in enumerate(SOURCE.read_text().splitlines(), 1) if "FAULT HERE" in line)


def _gdb() -> str:
    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        unavailable("c", "any", "gdb-multiarch is not installed (scripts/setup.sh installs it)")
    return gdb


def _build(arch: str, tmp_path: Path) -> Path:
    prog = tmp_path / f"coredump-{arch}"
    r = subprocess.run([CC[arch], "-g", "-O0", "-static", "-pthread", "-o", str(prog), str(SOURCE)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return prog


def _bt(prog: Path, core: Path, *commands: str) -> str:
    args = [_gdb(), "-nx", "-batch", "-ex", "set auto-load off"]
    for c in commands:
        args += ["-ex", c]
    r = subprocess.run([*args, str(prog), str(core)], capture_output=True, text=True, timeout=120)
    return r.stdout + r.stderr


def test_null_dereference_in_a_thread(arch, tmp_path):
    prog = _build(arch, tmp_path)
    core = tmp_path / "core"
    r = run_linux(arch, prog, "thread", extra=("--core", str(core), "--cpus", "2"))
    no_panic(r)
    assert r.rc == 139, r
    assert f"core dumped to {core}" in r.err, r
    assert core.is_file() and core.read_bytes()[:4] == b"\x7fELF", r
    out = _bt(prog, core, "bt", "info threads", "frame 2", "print mark")
    assert "terminated with signal SIGSEGV" in out, out
    assert f"deepest (x=" in out and f"coredump.c:{FAULT_LINE}" in out, out
    assert "deeper (x=" in out and "crasher (arg=" in out, out
    assert "$1 = 4242" in out, out  # a local of the faulting thread's frame
    assert " 2    Thread" in out, out  # main's thread too


def test_abort_and_no_core_unless_asked(arch, tmp_path):
    prog = _build(arch, tmp_path)
    core = tmp_path / "abort.core"
    r = run_linux(arch, prog, "abort", extra=("--core", str(core)))
    no_panic(r)
    assert r.rc == 134, r
    out = _bt(prog, core, "bt")
    assert "terminated with signal SIGABRT" in out and " in abort ()" in out and "in main (argc=2" in out, out
    # without --core (and `ulimit -c` 0 here): no file, no blob lines anywhere
    plain = run_linux(arch, prog, "abort", extra=("--kernel-log", str(tmp_path / "log")))
    assert plain.rc == 134 and "core dumped" not in plain.err, plain
    assert "[blob]" not in (tmp_path / "log").read_text(errors="replace")


def _host_corebit(prog: Path, tmp_path: Path) -> list[str] | None:
    """The probe's lines on the host, when its core_pattern is a file's (a
    pipe's handler sets the core bit whatever RLIMIT_CORE says)."""
    try:
        pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    except OSError:
        return None
    if pattern.startswith("|"):
        return None
    cwd = tmp_path / "host"
    cwd.mkdir()
    r = subprocess.run([str(prog), "corebit"], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert r.returncode == 0, r
    return r.stdout.splitlines()[1:]


def test_wait_reports_the_core_bit_as_rlimit_core_allows(arch, tmp_path):
    """A child killed by a core-dumping signal: WCOREDUMP and CLD_DUMPED
    when its RLIMIT_CORE allows a core, not under `ulimit -c 0` -- as the
    same binary on the host (x86_64)."""
    prog = _build(arch, tmp_path)
    r = run_linux(arch, prog, "corebit")
    no_panic(r)
    assert r.rc == 0, r
    lines = r.out.splitlines()[1:]
    assert len(lines) == 22, r
    dumps = {"segv": 11, "trap": 4 if arch == "x86_64" else 5, "abort": 6, "3": 3, "4": 4, "7": 7, "8": 8,
             "31": 31}
    for line in lines:
        limit, how = line.split(":")[0].split()
        limit = int(limit.split("=")[1])
        sig = dumps.get(how) or int(how)
        core = limit != 0 and how in dumps
        assert (f"signaled=1 sig={sig} core={int(core)} waitid code={'CLD_DUMPED' if core else 'CLD_KILLED'} "
                f"status={sig}") in line, line
    if arch == "x86_64":
        host = _host_corebit(prog, tmp_path)
        if host is not None:
            assert lines == host


def _host_core(prog: Path, tmp_path: Path, *args: str) -> Path | None:
    """The same program's core on the host (x86_64), when its core_pattern
    names a file in the working directory."""
    try:
        pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    except OSError:
        return None
    if pattern.startswith("|") or "/" in pattern:
        return None
    cwd = tmp_path / "hostcore"
    cwd.mkdir()
    subprocess.run(["sh", "-c", 'ulimit -c unlimited && exec "$@"', "sh", str(prog), *args], cwd=cwd,
                   capture_output=True, timeout=60)
    cores = sorted(cwd.glob("core*"))
    return cores[0] if cores else None


SIGINFO = ("print $_siginfo.si_signo", "print $_siginfo.si_errno", "print $_siginfo.si_code",
           "print $_siginfo._sifields._sigfault.si_addr", "print $_siginfo._sifields._kill.si_pid")


def _siginfo(prog: Path, core: Path) -> list[str]:
    out = _bt(prog, core, *SIGINFO)
    return [l for l in out.splitlines() if l.startswith("$")]


def test_core_siginfo_carries_the_fault(arch, tmp_path):
    """NT_SIGINFO is the whole siginfo: a fault's si_code and si_addr, an
    abort's sender -- gdb's $_siginfo reads them as from the host's core."""
    prog = _build(arch, tmp_path)
    core = tmp_path / "addr.core"
    r = run_linux(arch, prog, "addr", extra=("--core", str(core)))
    no_panic(r)
    assert r.rc == 139, r
    got = _siginfo(prog, core)
    assert got[:4] == ["$1 = 11", "$2 = 0", "$3 = 1", "$4 = (void *) 0x1238"], got  # SEGV_MAPERR at 0x1238
    if arch == "x86_64":
        host = _host_core(prog, tmp_path, "addr")
        if host is not None:
            assert _siginfo(prog, host)[:4] == got[:4]

    core = tmp_path / "abort.core"
    r = run_linux(arch, prog, "abort", extra=("--core", str(core)))
    assert r.rc == 134, r
    got = _siginfo(prog, core)
    # raise(SIGABRT) is tgkill: SI_TKILL (-6) from the process itself (pid 1)
    assert got[:3] == ["$1 = 6", "$2 = 0", "$3 = -6"] and got[4] == "$5 = 1", got
