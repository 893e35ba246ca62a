"""Unmodified static Linux executables, built with ordinary compilers, boot
inside hermitcore images on both architectures; the tests read what the
program printed and the exit status the host sees."""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest

from tests.conftest import selected_arches
from tests.helpers import run_linux

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    (root / "data").mkdir()
    (root / "data" / "hello.txt").write_text("hello from the embedded tree\n")
    (root / "data" / "blob.bin").write_bytes(bytes(range(256)) * 300)
    (root / "data" / "link").symlink_to("hello.txt")
    return root


@pytest.mark.parametrize("kind", ["glibc", "musl", "static-pie"])
def test_c_program_round_trip(arch, kind, builder, tree):
    prog = builder.build(kind, arch, "probe.c")
    r = run_linux(arch, prog, "42", "two words", files=tree, env=["FOO=bar", "SPACED=a b c"])
    assert r.rc == 42, r
    out = r.lines
    assert "argc=3" in out and f"argv[0]={prog.name}" in out, r
    assert "argv[1]=42" in out and "argv[2]=two words" in out, r
    assert "env FOO=bar" in out and "env SPACED=a b c" in out, r
    assert "file /data/hello.txt size=29: hello from the embedded tree" in out, r
    assert "dir /data: 3 entries" in out, r
    assert "write to a file: written" in out, r
    # sum of (i & 0xff) over 100k allocations
    assert f"malloc: 100000 allocations, checksum {sum(i & 0xff for i in range(100000))}" in out, r
    assert "mmap: kept" in out, r
    assert "nanosleep 20 ms: ok" in out and "realtime: plausible" in out, r
    assert f"uname: Linux {arch}" in out, r
    assert f"exe: /{prog.name}" in out, r
    assert "acct: -1 Function not implemented" in out, r
    assert r.err.count("hermitcore: warning: system call acct (") == 1, r  # on stderr, once


def test_exit_status_zero_and_no_tree(arch, builder):
    prog = builder.build("glibc", arch, "probe.c")
    r = run_linux(arch, prog, "0")
    assert r.rc == 0, r
    assert "file /data/hello.txt: errno 2 (No such file or directory)" in r.lines, r


def test_wild_pointer_is_reported_not_fatal_to_the_kernel(arch, builder):
    prog = builder.build("glibc", arch, "crash.c")
    r = run_linux(arch, prog)
    assert r.rc == 139, r
    assert "about to crash" in r.lines and "still alive?!" not in r.out, r
    assert "hermitcore: program fault: " in r.err and "address 0x10 (write, not mapped)" in r.err, r
    assert "killed by SIGSEGV" in r.err, r
    assert "hermitcore: program fault:" in r.err, r
    assert re.search(r"hermitcore:   at 0x[0-9a-f]+ main\+0x", r.err), r  # named from the program's symbols


def test_cxx_iostream_strings_exceptions(arch, builder):
    prog = builder.build("c++", arch, "cxx.cpp")
    r = run_linux(arch, prog, "pear", "apple", "pear")
    assert r.rc == 2, r
    assert r.lines[-4:] == ["static constructor ran", "apple:1", "pear:2", "exception thrown and caught"], r


def test_fortran_formatted_output(arch, builder):
    prog = builder.build("fortran", arch, "fortran.f90")
    r = run_linux(arch, prog)
    assert r.rc == 3, r
    total = sum(i ** 0.5 for i in range(1, 11))
    assert f"sum of sqrt(1..10) = {total:12.6f}" in r.lines, r
    assert "integers: 120" in r.lines, r


def test_rust_std(arch, builder, tree):
    prog = builder.build("rust", arch, "rust.rs")
    r = run_linux(arch, prog, "x", "y", files=tree, env=["FOO=rusty"])
    assert r.rc == 4, r
    assert 'rust args: ["x", "y"]' in r.lines and "rust env FOO=rusty" in r.lines, r
    assert "rust file: hello from the embedded tree" in r.lines, r
    assert f"rust map: {sum(range(1000))}" in r.lines, r


def test_strace_shows_system_calls(arch, builder):
    prog = builder.build("musl" if arch == "x86_64" else "glibc", arch, "probe.c")
    r = run_linux(arch, prog, "5", extra=["--strace"])
    assert r.rc == 5, r
    trace = r.err.splitlines()  # on stderr, the program's stdout untouched
    assert any(re.match(r"\[strace\] writev?\(0x1, ", line) for line in trace), r
    assert any(line == "[strace] exit_group(0x5) = ?" for line in trace), r
    assert not any(line.startswith("[strace]") for line in r.lines), r


@pytest.fixture(scope="session")
def busybox():
    path = shutil.which("busybox")
    if path is None:
        pytest.skip("busybox-static not installed")
    return path


def test_busybox(busybox, tree):
    if "x86_64" not in selected_arches():
        pytest.skip("Debian's busybox-static here is x86_64")
    r = run_linux("x86_64", busybox, "echo", "hello", "busybox")
    assert r.rc == 0 and "hello busybox" in r.lines, r
    r = run_linux("x86_64", busybox, "sha256sum", "/data/blob.bin", files=tree)
    want = hashlib.sha256((tree / "data" / "blob.bin").read_bytes()).hexdigest()
    assert r.rc == 0 and f"{want}  /data/blob.bin" in r.lines, r
    r = run_linux("x86_64", busybox, "ls", "-1", "/data", files=tree)
    assert r.rc == 0, r
    assert r.lines[-3:] == ["blob.bin", "hello.txt", "link"], r
