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


def _written(core: Path) -> int:
    """The bytes of a core that were written, not skipped: Linux's pieces
    before the pages (the ELF header, each program header, each note's
    header, name and description -- their padding is skipped) as far as the
    file goes, then its pages that hold data (SEEK_DATA), not holes."""
    import os
    import struct

    data = core.read_bytes()
    size = len(data)
    n = 64 if size >= 64 else 0
    phnum = struct.unpack_from("<H", data, 56)[0] if size >= 64 else 0
    n += 56 * min(phnum, max(0, (size - 64) // 56))
    if phnum == 0 or size < 64 + 56:
        return n
    note_at, note_size = struct.unpack_from("<Q", data, 64 + 8)[0], struct.unpack_from("<Q", data, 64 + 32)[0]
    at = note_at
    while at + 12 <= note_at + note_size:
        namesz, descsz, _ = struct.unpack_from("<III", data, at) if at + 12 <= size else (0, 0, 0)
        for piece, length in ((at, 12), (at + 12, namesz), (at + 12 + (namesz + 3) // 4 * 4, descsz)):
            if piece + length <= size:
                n += length
        at += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    pages_at = (note_at + note_size + 4095) // 4096 * 4096
    fd = os.open(core, os.O_RDONLY)
    try:
        for off in range(pages_at, size, 4096):
            try:
                n += 4096 if os.lseek(fd, off, os.SEEK_DATA) == off else 0
            except OSError:  # ENXIO: no data from here on
                break
    finally:
        os.close(fd)
    return n


#: RLIMIT_CORE values: below a page (no core), a page (the headers cut),
#: three pages, 64 KiB (cut among the pages), and unlimited
LIMITS = ("0", "4095", "4096", "12288", "65536", "0xffffffffffffffff")


def test_cores_are_cut_to_rlimit_core(arch, tmp_path):
    """A child aborts after touching 300 000 bytes, under each RLIMIT_CORE:
    below a page no core and no core bit; from a page on, the core bit and
    a core of at most RLIMIT_CORE written bytes -- Linux's pieces, the last
    that fits, holes not counted -- the whole core when it fits. The core
    bits are the host's for the same binary (x86_64)."""
    prog = _build(arch, tmp_path)
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    host_prog = _build("x86_64", host_dir)
    written = {}
    for limit in reversed(LIMITS):  # unlimited first: the whole core's size
        core = tmp_path / f"core-{limit}"
        r = run_linux(arch, prog, "limit", limit, extra=("--core", str(core)))
        no_panic(r)
        assert r.rc == 0, r
        line = r.out.splitlines()[-1]
        host = subprocess.run([str(host_prog), "limit", limit], capture_output=True, text=True, cwd=host_dir,
                              timeout=60)
        assert host.returncode == 0 and host.stdout.splitlines()[-1] == line, (host, r)
        big = int(limit, 0) >= 4096
        assert line == f"limit={limit}: signaled=1 sig=6 core={int(big)}", r
        assert core.is_file() == big, (limit, r)
        if not big:
            continue
        assert core.read_bytes()[:4] == b"\x7fELF", limit
        written[limit] = w = _written(core)
        whole = written["0xffffffffffffffff"]
        assert w <= int(limit, 0), (limit, w)
        if whole <= int(limit, 0):
            assert w == whole and core.stat().st_size == (tmp_path / "core-0xffffffffffffffff").stat().st_size
        else:  # cut before the first piece that did not fit (a piece is at most a page)
            assert int(limit, 0) - 4096 < w < whole, (limit, w, whole)
    assert written["65536"] < written["0xffffffffffffffff"], written  # (the cut among the pages is tested)
