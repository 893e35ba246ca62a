"""Mutated ELF programs booted for real: whatever the kernel's loader
(hermitcore/kernel/linux/loader.c) is handed, the run ends with its clear
refusal (`[hermit] cannot start ...`, status 127), a program fault
(128+signal, the kernel surviving to say so) or the program's own exit --
never a kernel panic or exception, never a hang.

Compose refuses most malformed programs itself (tests/unit/test_fuzz.py), so
to reach the kernel's own checks -- which matter for programs the host never
inspected: an --initrd tree, a later execve -- these images are composed
in-process with the host's refusal turned off (`inspect_program` falls back
to the raw bytes). The examples are hypothesis's, derandomized (the same
fixed list on every machine and every run: a failure reproduces) and few,
so the file boots about 20 guests per architecture."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hermitcore.errors import ImageError
from tests.conftest import hermit, selected_arches
from tests.helpers import BOARD

CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}
#: where each architecture's kernel image is linked (a program there must be refused, not load over it)
KERNEL_BASE = {"x86_64": 0x100000, "aarch64": 0x40100000}
TIMEOUT = "60"
SOURCE = '#include <stdio.h>\nint main(void) { printf("fuzz program ran\\n"); return 42; }\n'

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")


@pytest.fixture(scope="module", params=selected_arches())
def arch(request):
    return request.param


@pytest.fixture(scope="module")
def program(arch, tmp_path_factory) -> bytes:
    if shutil.which(CC[arch]) is None:
        pytest.skip(f"{CC[arch]} not installed")
    d = tmp_path_factory.mktemp(f"fuzz-boot-{arch}")
    (d / "p.c").write_text(SOURCE)
    subprocess.run([CC[arch], "-static", "-O2", "-o", str(d / "p"), str(d / "p.c")], check=True)
    return (d / "p").read_bytes()


@pytest.fixture(scope="module")
def plugin_manager():
    from hermitcore.plugins import make_plugin_manager

    return make_plugin_manager()


def compose_unchecked(pm, arch: str, path) -> str:
    """Compose ``path`` for the architecture's board, letting through what
    compose would refuse: the kernel must cope with it alone."""
    import hermitcore.compose as compose_mod
    from hermitcore.program import Program, inspect_program

    def lenient(p, board_arch, board_name):
        try:
            return inspect_program(p, board_arch, board_name)
        except ImageError:
            data = open(p, "rb").read()
            kind = "static-pie" if data[16:18] == b"\x03\x00" else "static"
            return Program(path=str(p), name="prog", arch=board_arch, kind=kind, data=data)

    real = compose_mod.inspect_program
    compose_mod.inspect_program = lenient
    try:
        return str(compose_mod.compose(BOARD[arch], str(path), pm=pm).build.image)
    finally:
        compose_mod.inspect_program = real


def boot(image: str, *extra: str):
    return hermit("run", image, "--timeout", TIMEOUT, *extra, timeout=float(TIMEOUT) + 60)


def assert_clean_end(r) -> None:
    """A refusal, a program fault or the program's own exit: never the
    kernel's death, never a timeout."""
    assert "[hermit] PANIC" not in r.log and "[hermit] EXCEPTION" not in r.log, r
    assert "guest kernel" not in r.err and "Traceback" not in r.err, r
    assert r.rc not in (124, 125), r
    if r.rc == 127:
        refusals = [line for line in r.err.splitlines() if line.startswith("hermitcore: warning: cannot start /prog: ")]
        # none: the program's own 127 -- a mutated program can start and end
        # in glibc's fatal start-up path (_dl_fatal_printf exits 127)
        assert len(refusals) <= 1, r
    elif r.rc > 128:
        assert "hermitcore: program fault" in r.err or "killed" in r.err or "out of memory" in r.err, r
    else:
        assert r.rc == 42 and "fuzz program ran" in r.lines, r


# -- the kernel alone: collisions and sizes compose cannot know ----------------


def relocate(data: bytes, new_base: int) -> bytes:
    """The program with every PT_LOAD (and the entry point) moved by the
    same amount so that the first one starts at new_base: still a
    well-formed ELF that compose accepts."""
    out = bytearray(data)
    phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    loads = [phoff + i * 56 for i in range(phnum)]
    first = min(struct.unpack_from("<Q", data, p + 16)[0] for p in loads
                if struct.unpack_from("<I", data, p)[0] == 1)
    delta = new_base - first
    for p in loads:
        if struct.unpack_from("<I", data, p)[0] in (0, 0x6474E551):  # PT_NULL, PT_GNU_STACK: no address
            continue
        for field in (16, 24):  # p_vaddr, p_paddr
            struct.pack_into("<Q", out, p + field, struct.unpack_from("<Q", data, p + field)[0] + delta)
    struct.pack_into("<Q", out, 24, struct.unpack_from("<Q", data, 24)[0] + delta)
    return bytes(out)


def test_program_over_the_kernel_is_refused(arch, program, plugin_manager, tmp_path):
    """Linked where the kernel's own pages are (its image in the boot map):
    compose cannot know the kernel's layout; the loader must refuse it, not
    replace the kernel's pages with the program's."""
    f = tmp_path / "prog"
    f.write_bytes(relocate(program, KERNEL_BASE[arch]))
    r = boot(compose_unchecked(plugin_manager, arch, f))
    assert r.rc == 127 and "collides with the kernel's memory" in r.err, r
    assert_clean_end(r)


def test_segment_larger_than_memory_is_refused(arch, program, plugin_manager, tmp_path):
    """A .bss of 64 GiB: compose does not know --mem; the kernel says it
    does not fit rather than filling memory page by page."""
    data = bytearray(program)
    phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    last = max((phoff + i * 56 for i in range(phnum) if struct.unpack_from("<I", data, phoff + i * 56)[0] == 1),
               key=lambda p: struct.unpack_from("<Q", data, p + 16)[0])
    struct.pack_into("<Q", data, last + 40, 64 << 30)
    f = tmp_path / "prog"
    f.write_bytes(bytes(data))
    r = boot(compose_unchecked(plugin_manager, arch, f))
    assert r.rc == 127 and "need more memory than there is" in r.err, r
    assert_clean_end(r)


# -- mutated headers, the host's checks turned off ----------------------------

EHDR_FIELDS = {"e_entry": (24, "<Q"), "e_phoff": (32, "<Q"), "e_phentsize": (54, "<H"), "e_phnum": (56, "<H"),
               "e_type": (16, "<H"), "e_machine": (18, "<H")}
PHDR_FIELDS = {"p_type": (0, "<I"), "p_flags": (4, "<I"), "p_offset": (8, "<Q"), "p_vaddr": (16, "<Q"),
               "p_filesz": (32, "<Q"), "p_memsz": (40, "<Q"), "p_align": (48, "<Q")}
VALUES = [0, 1, 3, 7, 0x38, 0x1000, 0x10000, 0x400000, 0xFFFFFFFF, 0x8_0000_0000, 0x3F_FFFF_F000, 0x40_0000_0000,
          2**63, 2**64 - 1, 2**64 - 0x1000]


@st.composite
def header_edits(draw):
    edits = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.integers(0, 3)) == 0:
            name = draw(st.sampled_from(sorted(EHDR_FIELDS)))
            edits.append((None, name, draw(st.sampled_from(VALUES + [draw(st.integers(0, 2**16 - 1))]))))
        else:
            name = draw(st.sampled_from(sorted(PHDR_FIELDS)))
            values = [1, 3, 6, 7, 0x6474E551] if name == "p_type" else VALUES
            edits.append((draw(st.integers(0, 9)), name, draw(st.sampled_from(values))))
    return edits


def apply_edits(data: bytes, edits) -> bytes:
    out = bytearray(data)
    phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    for index, name, value in edits:
        if index is None:
            off, fmt = EHDR_FIELDS[name]
        else:
            off, fmt = PHDR_FIELDS[name]
            off += phoff + (index % phnum) * 56
        struct.pack_into(fmt, out, off, value % 2 ** (8 * struct.calcsize(fmt)))
    return bytes(out)


@settings(max_examples=14, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=header_edits())
@example(edits=[(None, "e_phoff", 2**64 - 8)])  # phoff + table size wraps around
@example(edits=[(None, "e_phnum", 0xFFFF), (None, "e_phoff", 2**64 - 0xFFFF * 56 + 8)])  # ... to 3.6 MiB below the file
@example(edits=[(1, "p_offset", 2**64 - 0x1000)])  # p_offset + p_filesz wraps around
@example(edits=[(1, "p_vaddr", 2**64 - 0x1000)])  # vaddr + memsz wraps around
@example(edits=[(0, "p_vaddr", 0x3F_FFFF_F000)])  # below USER_LIMIT, then the next segment out of order
def test_mutated_program_headers_end_cleanly(arch, program, plugin_manager, tmp_path, edits):
    f = tmp_path / "prog"
    f.write_bytes(apply_edits(program, edits))
    assert_clean_end(boot(compose_unchecked(plugin_manager, arch, f)))


# -- mutated --initrd archives, the host's checks turned off -------------------


def compose_with_raw_initrd(pm, arch: str, program_path, archive: bytes, tmp_path) -> str:
    """Compose with ``archive`` embedded as it is: the kernel's own walk
    (fs.c) must cope with an archive the host never checked."""
    import hermitcore.compose as compose_mod

    f = tmp_path / "initrd.cpio"
    f.write_bytes(archive)
    real = compose_mod.read_initrd
    compose_mod.read_initrd = lambda path: open(path, "rb").read()
    try:
        return str(compose_mod.compose(BOARD[arch], str(program_path), pm=pm, initrd=str(f)).build.image)
    finally:
        compose_mod.read_initrd = real


#: newc header fields: (offset in the 110-byte header, width)
NEWC_FIELDS = {"mode": 14, "nlink": 38, "mtime": 46, "filesize": 54, "namesize": 94}


@st.composite
def archive_edits(draw):
    return [(draw(st.integers(0, 3)), draw(st.sampled_from(sorted(NEWC_FIELDS))),
             draw(st.sampled_from([b"00000000", b"ffffffff", b"7fffffff", b"0000zz00", b"00000001", b"00001000"])))
            for _ in range(draw(st.integers(1, 2)))] + [draw(st.sampled_from([None, 17, 111, 300]))]


@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=archive_edits())
@example(edits=[(1, "namesize", b"00000003"), None])  # a name without its NUL
@example(edits=[(0, "filesize", b"0000zz00"), 200])   # not hexadecimal, then cut short
def test_mutated_initrd_ends_cleanly(arch, program, plugin_manager, tmp_path, edits):
    import tempfile
    from pathlib import Path

    from hermitcore.program import cpio_from_dir

    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example: hypothesis reuses the fixture
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hostname").write_text("fuzz\n")
    (tree / "etc" / "link").symlink_to("hostname")
    data = bytearray(cpio_from_dir(tree))
    starts = [i for i in range(len(data)) if data[i:i + 6] == b"070701"]
    *fields, cut = edits
    for entry, name, value in fields:
        at = starts[entry % len(starts)] + NEWC_FIELDS[name]
        data[at:at + 8] = value
    if cut:
        del data[cut:]
    prog = tmp_path / "prog"
    prog.write_bytes(program)
    assert_clean_end(boot(compose_with_raw_initrd(plugin_manager, arch, prog, bytes(data), tmp_path)))
