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
