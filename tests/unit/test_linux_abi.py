"""Linux binary compatibility without QEMU: compose-time checks of programs
(real executables from the machine's compilers), the cpio tree, the
generated syscall table and its documentation."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from hermitcore import linux_abi
from hermitcore.errors import ImageError
from hermitcore.program import cpio_from_dir, inspect_program, read_initrd
from hermitcore.syscall_numbers import AARCH64, X86_64
from tests.conftest import ROOT, hermit
from tests.linux_programs import Builder


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    return Builder(tmp_path_factory.mktemp("progs"))


def test_static_and_static_pie_are_accepted(builder):
    p = inspect_program(builder.build("glibc", "x86_64", "crash.c"), "x86_64", "qemu-microvm")
    assert (p.arch, p.kind) == ("x86_64", "static")
    p = inspect_program(builder.build("static-pie", "x86_64", "crash.c"), "x86_64", "qemu-microvm")
    assert p.kind == "static-pie"


def test_dynamic_executable_is_accepted(builder):
    p = inspect_program(builder.build("dynamic", "x86_64", "crash.c"), "x86_64", "qemu-microvm")
    assert (p.kind, p.interp) == ("dynamic", "/lib64/ld-linux-x86-64.so.2")  # its libraries: test_dynlink.py


def test_wrong_architecture_rejected_at_compose(builder):
    prog = builder.build("glibc", "aarch64", "crash.c")
    r = hermit("compose", "--board", "qemu-microvm", str(prog))
    assert r.rc == 1, r
    assert f"{prog} is a aarch64 executable, but board 'qemu-microvm' needs x86_64" in r.err, r
    prog = builder.build("glibc", "x86_64", "crash.c")
    r = hermit("compose", "--board", "qemu-virt", str(prog))
    assert r.rc == 1 and "needs aarch64; build it with aarch64-linux-gnu-gcc" in r.err, r


def test_text_file_rejected_at_compose(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("not a program\n")
    r = hermit("compose", "--board", "qemu-microvm", str(f))
    assert r.rc == 1 and "not a C source file (.c) or an ELF executable" in r.err, r
    with pytest.raises(ImageError, match="not an ELF executable"):
        inspect_program(f, "x86_64", "qemu-microvm")


def test_object_file_rejected(tmp_path):
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    obj = tmp_path / "crash.o"
    subprocess.run(["gcc", "-c", str(ROOT / "tests/apps/linux/crash.c"), "-o", str(obj)], check=True)
    with pytest.raises(ImageError, match="an object file, not an executable"):
        inspect_program(obj, "x86_64", "qemu-microvm")


def test_files_need_a_linux_program(tmp_path):
    r = hermit("compose", "--board", "qemu-microvm", "--files", str(tmp_path))
    assert r.rc == 1 and "--files and --initrd are for Linux executables" in r.err, r


def _parse_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    out, off = {}, 0
    while True:
        h = data[off:off + 110]
        assert h[:6] == b"070701"
        fields = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[off + 110:off + 110 + namesize - 1].decode()
        start = (off + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data[start:start + size])
        off = (start + size + 3) & ~3


def test_cpio_tree_round_trip(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_bytes(b"abc")
    (tmp_path / "top").write_bytes(b"x" * 5)
    (tmp_path / "d" / "l").symlink_to("a.txt")
    entries = _parse_newc(cpio_from_dir(tmp_path))
    assert set(entries) == {".", "d", "d/a.txt", "d/l", "top"}  # ".": the root's own mode and time
    assert entries["."][0] == tmp_path.stat().st_mode
    assert entries["d/a.txt"][1] == b"abc" and entries["d/l"][1] == b"a.txt"
    assert entries["d"][0] & 0o170000 == 0o040000


def test_initrd_must_be_newc(tmp_path):
    bad = tmp_path / "x.cpio"
    bad.write_bytes(b"nope")
    with pytest.raises(ImageError, match="not a cpio archive in newc format"):
        read_initrd(bad)
    import gzip

    good = tmp_path / "y.cpio.gz"
    good.write_bytes(gzip.compress(cpio_from_dir(ROOT / "tests" / "apps" / "linux")))
    assert read_initrd(good).startswith(b"070701")


def test_syscall_numbers_match_the_uapi_headers():
    """The committed table is what scripts/gen_syscall_numbers.py reads from
    the kernel headers (checked where the headers are installed)."""
    for cc, header, table in (("gcc", "asm/unistd_64.h", X86_64), ("aarch64-linux-gnu-gcc", "asm/unistd.h", AARCH64)):
        if not shutil.which(cc):
            continue
        proc = subprocess.run([cc, "-dM", "-E", "-x", "c", "-"], input=f"#include <{header}>\n",
                              capture_output=True, text=True)
        if proc.returncode != 0:
            continue
        for name in ("read", "write", "openat", "mmap", "exit_group", "clone", "futex", "getrandom"):
            assert f"#define __NR_{name} " in proc.stdout or f"#define __NR3264_{name} " in proc.stdout
        assert table["exit_group"] == (231 if table is X86_64 else 94)
        assert table["openat"] == (257 if table is X86_64 else 56)


def test_generated_table_covers_every_handler():
    for arch in ("x86_64", "aarch64"):
        src = linux_abi.c_source(arch)
        rows = linux_abi.table(arch)
        assert rows[linux_abi.NUMBERS[arch]["write"]][1] == "sys_write"
        assert f'"rseq", 0, 6, 1' in src  # quiet -ENOSYS
        assert ("sys_arch_prctl" in src) == (arch == "x86_64")


def test_syscall_doc_is_generated_from_the_table():
    doc = (ROOT / "docs" / "linux-abi.md").read_text()
    assert doc == linux_abi.markdown(), "docs/linux-abi.md is stale: python -m hermitcore.linux_abi > docs/linux-abi.md"


def test_every_c_handler_exists():
    """Each syscall in the table names a sys_* function in the kernel sources."""
    text = "".join(p.read_text() for p in (ROOT / "hermitcore" / "kernel" / "linux").glob("*.c"))
    text += (ROOT / "plugins" / "x86_64" / "trap.c").read_text()
    for name in linux_abi.SYSCALLS:
        assert f"long sys_{name}(" in text, name
