"""Property tests (hypothesis) for every input hermitcore reads from the
user: mutated and truncated ELF programs, cpio/newc archives (--initrd),
board folders (board.toml, board.dts) and command-line values. The
invariant is issue #15's: a working result or one line of the project's own
error (ImageError, BoardError, HermitError -> `hermitcore: error: ...`,
argparse's exit 2) -- never another exception, never a traceback, never a
hang. No QEMU here: tests/integration/test_fuzz_boot.py boots what composes.

Every test is `derandomize=True`: the examples are a fixed function of the
test's source, so a run in CI tries exactly what it tried on the
developer's machine (a red CI is reproducible, not a one-off), and no
example database is written into the checkout. The counts are bounded so
the whole file takes seconds; the strategies aim at the fields that matter
(header and program-header fields, truncation points, archive header
fields) rather than at random bytes."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hermitcore.errors import BoardError, HermitError, ImageError
from hermitcore.program import Program, cpio_from_dir, inspect_program, read_initrd
from tests.conftest import ROOT

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# -- ELF programs ------------------------------------------------------------

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
PHDR = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr

SOURCE = "int main(int argc, char **argv) { return argc + 40; }\n"


@pytest.fixture(scope="module")
def static_elf(tmp_path_factory) -> bytes:
    """A real small static x86_64 executable, built now with gcc -static."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    d = tmp_path_factory.mktemp("fuzz-elf")
    (d / "p.c").write_text(SOURCE)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(d / "p"), str(d / "p.c")], check=True)
    return (d / "p").read_bytes()


#: (offset, struct format) of each ELF header field the loader reads
EHDR_FIELDS = {
    "class": (4, "<B"), "data": (5, "<B"), "e_type": (16, "<H"), "e_machine": (18, "<H"), "e_entry": (24, "<Q"),
    "e_phoff": (32, "<Q"), "e_phentsize": (54, "<H"), "e_phnum": (56, "<H"),
}
#: (offset inside a program header, format)
PHDR_FIELDS = {
    "p_type": (0, "<I"), "p_flags": (4, "<I"), "p_offset": (8, "<Q"), "p_vaddr": (16, "<Q"), "p_filesz": (32, "<Q"),
    "p_memsz": (40, "<Q"), "p_align": (48, "<Q"),
}

#: values that cross the limits the checks are about, besides arbitrary ones
INTERESTING = [0, 1, 3, 7, 8, 0x38, 0x40, 0xFFFF, 0x10000, 0x400000, 0x7FFFFFFF, 0xFFFFFFFF, 0x8_0000_0000,
               0x40_0000_0000, 0x3F_FFFF_F000, 2**63, 2**64 - 1, 2**64 - 0x1000]
PT_TYPES = [0, 1, 2, 3, 4, 6, 7, 0x6474E551, 0x6474E552]


def _value(fmt: str):
    bits = struct.calcsize(fmt) * 8
    return st.one_of(st.sampled_from([v for v in INTERESTING if v < 2**bits] + [2**bits - 1]),
                     st.integers(0, 2**bits - 1))


@st.composite
def elf_mutation(draw):
    """A list of edits: (kind, where, value)."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["ehdr", "phdr", "phdr", "phdr", "truncate", "byte"]))
        if kind == "ehdr":
            name = draw(st.sampled_from(sorted(EHDR_FIELDS)))
            edits.append((kind, name, draw(_value(EHDR_FIELDS[name][1]))))
        elif kind == "phdr":
            name = draw(st.sampled_from(sorted(PHDR_FIELDS)))
            value = draw(st.sampled_from(PT_TYPES)) if name == "p_type" and draw(st.booleans()) else \
                draw(_value(PHDR_FIELDS[name][1]))
            edits.append((kind, (draw(st.integers(0, 11)), name), value))
        elif kind == "truncate":
            edits.append((kind, None, draw(st.one_of(st.integers(0, 4096), st.floats(0, 1)))))
        else:
            edits.append((kind, draw(st.integers(0, 4095)), draw(st.integers(0, 255))))
    return edits


def mutate_elf(data: bytes, edits) -> bytes:
    out = bytearray(data)
    phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    for kind, where, value in edits:
        if kind == "ehdr":
            off, fmt = EHDR_FIELDS[where]
            if off + struct.calcsize(fmt) <= len(out):
                struct.pack_into(fmt, out, off, value)
        elif kind == "phdr":
            index, name = where
            off, fmt = PHDR_FIELDS[name]
            pos = phoff + (index % phnum) * PHDR.size + off
            if pos + struct.calcsize(fmt) <= len(out):
                struct.pack_into(fmt, out, pos, value)
        elif kind == "truncate":
            cut = int(value * len(out)) if isinstance(value, float) else value
            del out[cut:]
        elif where < len(out):
            out[where] = value
    return bytes(out)


def inspect(tmp_path, data: bytes, arch="x86_64"):
    f = tmp_path / "prog"
    f.write_bytes(data)
    return inspect_program(f, arch, "qemu-microvm")


@FUZZ
@given(edits=elf_mutation())
@example(edits=[])  # the program as built is accepted
def test_mutated_elf_is_accepted_or_refused_in_one_line(static_elf, tmp_path, edits):
    data = mutate_elf(static_elf, edits)
    try:
        p = inspect(tmp_path, data)
    except ImageError as exc:
        assert edits, exc
        assert "\n" not in str(exc) and str(exc).startswith(str(tmp_path / "prog")), exc
        return
    assert isinstance(p, Program) and p.data == data
    check_loadable(data, p.kind)


def check_loadable(data: bytes, kind: str) -> None:
    """What compose let through is what the kernel's loader accepts
    (loader.c: check_program): every PT_LOAD inside the file, in order,
    from 64 KiB to 256 GiB, the entry point inside one."""
    (_, _, _, _, entry, phoff, _, _, _, phentsize, phnum, *_) = EHDR.unpack_from(data)
    assert phentsize == PHDR.size and 0 < phnum and phoff + phnum * PHDR.size <= len(data)
    bias = 0x8_0000_0000 if kind == "static-pie" else 0
    prev, inside = 0, False
    for i in range(phnum):
        ptype, _, off, vaddr, _, filesz, memsz, align = PHDR.unpack_from(data, phoff + i * PHDR.size)
        if ptype != 1 or not memsz:
            continue
        assert off + filesz <= len(data) and filesz <= memsz and align & (align - 1) == 0
        assert prev <= bias + vaddr and 0x10000 <= bias + vaddr and bias + vaddr + memsz <= 0x40_0000_0000
        prev = bias + vaddr + memsz
        inside |= bias + vaddr <= bias + entry < prev
    assert inside


@pytest.mark.parametrize("cut", [2000, 4096, 100_000])  # headers whole, segments cut off
def test_truncated_elf_is_refused(static_elf, tmp_path, cut):
    with pytest.raises(ImageError):
        inspect(tmp_path, static_elf[:cut])


def test_unknown_machine_is_named(static_elf, tmp_path):
    data = mutate_elf(static_elf, [("ehdr", "e_machine", 0x1234)])
    with pytest.raises(ImageError, match=r"an unknown machine \(e_machine 4660\), but board 'qemu-microvm'"):
        inspect(tmp_path, data)
    data = mutate_elf(static_elf, [("ehdr", "e_machine", 40)])  # EM_ARM
    with pytest.raises(ImageError, match="is a arm executable"):
        inspect(tmp_path, data)


# -- cpio/newc archives (--initrd) -------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("fuzz-tree")
    (root / "etc").mkdir()
    (root / "etc" / "motd").write_text("hello\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 3)
    (root / "link").symlink_to("etc/motd")
    return cpio_from_dir(root)


NEWC_FIELDS = 13  # after the 6-byte magic, 13 fields of 8 hex digits


@st.composite
def cpio_mutation(draw):
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["field", "field", "truncate", "byte", "magic"]))
        if kind == "field":
            text = draw(st.one_of(
                st.integers(0, 2**32 - 1).map(lambda v: f"{v:08x}"),
                st.sampled_from(["00000000", "ffffffff", "7fffffff", "0000000b", "00000001", "zzzzzzzz", "-0000001",
                                 " 0000010"]),
            ))
            edits.append((kind, (draw(st.integers(0, 5)), draw(st.integers(0, NEWC_FIELDS - 1))), text))
        elif kind == "truncate":
            edits.append((kind, None, draw(st.integers(0, 2000))))
        elif kind == "magic":
            edits.append((kind, draw(st.integers(0, 5)), draw(st.sampled_from([b"070707", b"070701", b"07070x"]))))
        else:
            edits.append((kind, draw(st.integers(0, 2000)), draw(st.integers(0, 255))))
    return edits, draw(st.booleans())


def _headers(data: bytes) -> list[int]:
    offs, off = [], 0
    while off + 110 <= len(data) and data[off:off + 5] == b"07070":
        offs.append(off)
        size, namesize = int(data[off + 54:off + 62], 16), int(data[off + 94:off + 102], 16)
        off = (((off + 110 + namesize + 3) & ~3) + size + 3) & ~3
    return offs


def mutate_cpio(data: bytes, edits) -> bytes:
    out = bytearray(data)
    headers = _headers(data)
    for kind, where, value in edits:
        if kind == "field":
            h, field = where
            pos = headers[h % len(headers)] + 6 + 8 * field
            out[pos:pos + 8] = value.encode()
        elif kind == "magic":
            pos = headers[where % len(headers)]
            out[pos:pos + 6] = value
        elif kind == "truncate":
            del out[value:]
        elif where < len(out):
            out[where] = value
    return bytes(out)


@FUZZ
@given(mutation=cpio_mutation())
@example(mutation=([], True))  # the archive as made is accepted
@example(mutation=([], False))
def test_mutated_initrd_is_accepted_or_refused_in_one_line(archive, tmp_path, mutation):
    edits, compress = mutation
    data = mutate_cpio(archive, edits)
    f = tmp_path / "a.cpio"
    f.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    try:
        got = read_initrd(f)
    except ImageError as exc:
        assert edits, exc
        assert "\n" not in str(exc) and str(exc).startswith(f"--initrd {f}"), exc
        return
    assert got == data
    check_walkable(data)


def check_walkable(data: bytes) -> None:
    """What read_initrd let through is what the kernel's walk (fs.c) reads
    safely: headers with hex fields, NUL-terminated names and data inside
    the archive, up to TRAILER!!!."""
    off = 0
    while True:
        assert off + 110 <= len(data) and data[off:off + 6] in (b"070701", b"070702")
        fields = data[off + 6:off + 110]
        assert all(c in b"0123456789abcdefABCDEF" for c in fields)
        size, namesize = int(fields[48:56], 16), int(fields[88:96], 16)
        assert namesize >= 1 and off + 110 + namesize <= len(data) and data[off + 110 + namesize - 1] == 0
        start = (off + 110 + namesize + 3) & ~3
        assert start + size <= len(data)
        if data[off + 110:off + 110 + namesize - 1] == b"TRAILER!!!":
            return
        off = (start + size + 3) & ~3


@FUZZ
@given(cut=st.integers(0, 400), flip=st.one_of(st.none(), st.tuples(st.integers(0, 400), st.integers(0, 255))))
def test_corrupt_gzip_initrd_is_refused_in_one_line(archive, tmp_path, cut, flip):
    packed = bytearray(gzip.compress(archive, mtime=0))
    if flip:
        packed[flip[0] % len(packed)] = flip[1]
    f = tmp_path / "a.cpio.gz"
    f.write_bytes(bytes(packed[:cut] if cut < len(packed) else packed))
    try:
        read_initrd(f)
    except ImageError as exc:
        assert "\n" not in str(exc), exc


# -- board folders -----------------------------------------------------------


BOARD_TOML = (ROOT / "boards" / "qemu-virt" / "board.toml").read_text()
BOARD_DTS = (ROOT / "boards" / "qemu-virt" / "board.dts").read_text()
#: the board folders whose device trees are mutated: GIC and simple bus
#: (virt), IOAPIC and ISA bus with port I/O (microvm)
DTS_BOARDS = {name: ((ROOT / "boards" / name / "board.toml").read_text(), (ROOT / "boards" / name / "board.dts").read_text())
              for name in ("qemu-virt", "qemu-microvm")}


TOML_VALUES = st.sampled_from(['"x86_64"', '"aarch64"', '""', "1", "-5", "true", "[1, 2]", '["a", 3]', "{}",
                               '{ machine = "virt" }', "1.5", '"virt"', "[]", '"\\u00e9"', "0", "99999999999999999999"])
TOML_KEYS = st.sampled_from(["arch", "description", "qemu", "qemu.machine", "qemu.cpu", "qemu.mem", "qemu.args"])


@st.composite
def toml_mutation(draw, text):
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "drop", "garble"]))
        if op == "set":
            key = draw(TOML_KEYS)
            table, _, name = key.rpartition(".")
            lines = [line for line in lines if line.split("=")[0].strip() != name]
            line = f"{name} = {draw(TOML_VALUES)}"
            if table:
                idx = next((i for i, l in enumerate(lines) if l.strip() == f"[{table}]"), None)
                if idx is None:
                    lines += [f"[{table}]", line]
                else:
                    lines.insert(idx + 1, line)
            else:
                lines.insert(0, line)
        elif op == "drop" and lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = draw(st.text(st.sampled_from('ab=[]{}"\n#.\\ 1'), max_size=12))
    return "\n".join(lines) + "\n"


#: (regex of what is in a built-in board.dts, replacements): cell counts the
#: walk divides by, properties of the wrong kind, brackets gone
DTS_EDITS = [
    (r"#address-cells = <(0x0)?[12]>", ["#address-cells = <0>", "#address-cells = <5>", "#address-cells = <0xffffffff>",
                                        ""]),
    (r"#size-cells = <(0x0)?[012]>", ["#size-cells = <0>", "#size-cells = <3>", ""]),
    (r"#interrupt-cells = <(0x0)?[23]>", ["#interrupt-cells = <0>", "#interrupt-cells = <1>",
                                          "#interrupt-cells = <7>"]),
    (r"interrupts = <", ["interrupts = <0xffffffff ", "interrupts = /bits/ 8 <1 ", 'interrupts = "x", <']),
    (r"reg = <", ["reg = <0xffffffff 0xffffffff ", "reg = <>, <", 'reg = "str", <', "reg = /bits/ 16 <1 "]),
    (r"compatible = ", ['compatible = "", ', "compatible = <1>, ", 'compatible = "pci1af4,ffff", ']),
    (r"ranges;", ["ranges = <1 2 3>;", "ranges = <0xffffffff 0 0 0 0 0 0xffffffff>;", 'ranges = "x";']),
    (r'device_type = "memory"', ['device_type = "cpu"', "device_type = <1>"]),
    (r"interrupt-parent = <&\w+>", ["interrupt-parent = <0xdead>", "interrupt-parent = <0>"]),
    (r"};", ["", "}", "};};", "{"]),
]


@st.composite
def dts_mutation(draw, text):
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 5)) == 0:  # a random slice of it gone
            a = draw(st.integers(0, len(text)))
            text = text[:a] + text[a + draw(st.integers(1, 200)):]
            continue
        anchor, replacements = draw(st.sampled_from(DTS_EDITS))
        hits = list(re.finditer(anchor, text))
        if not hits:
            continue
        m = draw(st.sampled_from(hits))
        text = text[:m.start()] + draw(st.sampled_from(replacements)) + text[m.end():]
    return text


def load_board_from(tmp_path, toml: str, dts: str):
    from hermitcore.board import load_board

    d = tmp_path / "fuzzboard"
    d.mkdir(exist_ok=True)
    (d / "board.toml").write_text(toml)
    (d / "board.dts").write_text(dts)
    return load_board(str(d))


@pytest.fixture(scope="module")
def plugin_manager():
    from hermitcore.plugins import make_plugin_manager

    return make_plugin_manager()


needs_dtc = pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc not installed")


@needs_dtc
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_mutated_board_toml_loads_or_is_one_board_error(tmp_path, data):
    toml, dts = BOARD_TOML, BOARD_DTS
    text = data.draw(toml_mutation(toml))
    try:
        board = load_board_from(tmp_path, text, dts)
    except BoardError as exc:
        assert "\n" not in str(exc), exc
        return
    assert isinstance(board.arch, str) and board.arch and isinstance(board.qemu.machine, str)
    assert board.qemu.default_mem_mib >= 1 and all(isinstance(a, str) for a in board.qemu.extra_args)


@needs_dtc
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_mutated_board_dts_loads_or_is_one_board_error(plugin_manager, tmp_path, data):
    toml, dts = DTS_BOARDS[data.draw(st.sampled_from(sorted(DTS_BOARDS)))]
    text = data.draw(dts_mutation(dts))
    try:
        board = load_board_from(tmp_path, toml, text)
    except BoardError as exc:
        assert str(exc).strip(), exc
        return
    # what compose does with a board next: plugins claim and emit (no toolchain)
    from hermitcore.compose import make_spec

    try:
        make_spec(plugin_manager, board)
    except HermitError:
        pass


def test_board_toml_that_is_not_utf8_is_a_board_error(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    (d / "board.toml").write_bytes(b'arch = "\xff"\n')
    (d / "board.dts").write_text(BOARD_DTS)
    from hermitcore.board import load_board

    with pytest.raises(BoardError, match="board.toml"):
        load_board(str(d))


# -- command-line values -----------------------------------------------------


class _Stub:
    """Stands in for composing and booting: the CLI's own checks are under
    test, not QEMU."""

    def __init__(self, image: Path):
        self.image = image
        self.calls = []

    def run_image(self, pm, image, **kw):
        from hermitcore.run import RunResult

        self.calls.append(kw)
        return RunResult(status=0, fatal=None, seconds=0.0, qemu_argv=())


@pytest.fixture(scope="module")
def fake_image(tmp_path_factory):
    """A file read_image takes for a Linux image: the metadata section is
    all `run IMAGE` reads before it would start QEMU."""
    d = tmp_path_factory.mktemp("fuzz-image")
    meta = b'{"board": "qemu-microvm", "arch": "x86_64", "program": "static", "plugins": ["virtio-9p"], "network": true}'
    names = b"\0.hermit.meta\0.shstrtab\0"
    body = meta + names
    shoff = 64 + len(body)
    shoff += -shoff % 8
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, 62, 1, 0x100000, 0, shoff, 0, 64,
                       56, 0, 64, 3, 2)
    sh = [struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
          struct.pack("<IIQQQQIIQQ", 1, 1, 0, 0, 64, len(meta), 0, 0, 1, 0),
          struct.pack("<IIQQQQIIQQ", 14, 3, 0, 0, 64 + len(meta), len(names), 0, 0, 1, 0)]
    data = ehdr + body + b"\0" * (shoff - 64 - len(body)) + b"".join(sh)
    path = d / "image.elf"
    path.write_bytes(data)
    return path


RUN_OPTIONS = {
    "--cpus": ["1", "2", "64", "65", "0", "-1", "x", "1e3", "9" * 30, " 3", "٣"],
    "--mem": ["256M", "1G", "1T", "2T", "0", "1.5G", "9" * 5000, "512k", "64MiB", "-1G", "lots"],
    "--timeout": ["5", "0.5", "-5", "0", "nan", "inf", "-inf", "1e400", "x", "1e9"],
    "--accel": ["auto", "kvm", "tcg", "xen", ""],
    "-k": ["hermit.boot-times", "--", "a b", "", 'x"y', "hermit.timeslice=5000", "a\nb", "a\\b"],
    "--env": ["A=b", "A=b c", "=x", "novalue", "A=", "A=\n"],
    "--net": ["user", "none", "tap:tap0", "tap:", "tap:" + "x" * 20, "bridge", "tap:a b"],
    "--port": ["8080:80", "8080:80/udp", "0:80", "65536:1", "1:1/sctp", "x:y", "99999999999999999999:1", "8080:80"],
    "--ip": ["10.0.2.15", "256.1.1.1", "10.0.2", "::1", "x"],
    "--gateway": ["10.0.2.2", "10.0.2.256"],
    "--mask": ["255.255.255.0", "255.255.255"],
    "--capture": ["{tmp}/c.pcap", "{tmp}", "/no/such/dir/c.pcap", "{tmp}/a,b.pcap"],
    "--mount": ["{tmp}:/data", "{tmp}:data", "{tmp}:/", "/no/such:/x", ":/x", "{tmp}:/a,b"],
}


@st.composite
def run_argv(draw):
    argv = []
    for opt in draw(st.lists(st.sampled_from(sorted(RUN_OPTIONS)), max_size=5)):
        argv += [opt, draw(st.sampled_from(RUN_OPTIONS[opt]))]
    return argv


def _main(argv: list[str]) -> tuple[int, str]:
    from hermitcore.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse: --help, usage errors
            rc = exc.code
    return rc, err.getvalue()


def assert_one_line_error(rc: int, err: str) -> None:
    assert "Traceback" not in err, err
    assert rc in (0, 1, 2), (rc, err)
    lines = err.splitlines()
    if rc == 1:
        assert len(lines) == 1 and lines[0].startswith("hermitcore: error: "), err
    elif rc == 2:  # argparse: its usage, then one error line
        assert lines and lines[-1].startswith("hermitcore") and ": error: " in lines[-1], err
        assert not any(": error: " in line for line in lines[:-1]), err


@settings(FUZZ, max_examples=250)
@given(argv=run_argv())
def test_run_options_are_taken_or_refused_in_one_line(fake_image, tmp_path, monkeypatch, argv):
    import hermitcore.run

    stub = _Stub(fake_image)
    monkeypatch.setattr(hermitcore.run, "run_image", stub.run_image)
    for var in ("HERMIT_CPUS", "HERMIT_MEM", "HERMIT_NET", "HERMIT_IP", "HERMIT_GATEWAY", "HERMIT_MASK",
                "HERMIT_CAPTURE_NET"):
        monkeypatch.delenv(var, raising=False)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc, err = _main(["run", str(fake_image), *argv])
    assert_one_line_error(rc, err)
    if rc == 0:
        kw = stub.calls[-1]
        assert 1 <= kw["cpus"] <= 64 and (kw["mem_mib"] is None or 1 <= kw["mem_mib"] <= 1 << 20)
        assert kw["timeout"] is None or 0 < kw["timeout"] < float("inf")
        assert all(a and " " not in a and a != "--" for a in kw["kernel_args"] if not a.startswith('"'))


@settings(FUZZ, max_examples=60)
@given(env=st.fixed_dictionaries({}, optional={
    "HERMIT_CPUS": st.sampled_from(["2", "0", "x", "65", "9" * 30]),
    "HERMIT_MEM": st.sampled_from(["1G", "0", "9" * 5000, "2T"]),
    "HERMIT_NET": st.sampled_from(["user", "tap:", "zzz"]),
    "HERMIT_IP": st.sampled_from(["10.0.2.15", "1.2.3"]),
    "HERMIT_CAPTURE_NET": st.sampled_from(["/no/such/dir/x.pcap", "/tmp"]),
}))
def test_environment_defaults_are_taken_or_refused_in_one_line(fake_image, monkeypatch, env):
    import hermitcore.run

    monkeypatch.setattr(hermitcore.run, "run_image", _Stub(fake_image).run_image)
    for var in ("HERMIT_CPUS", "HERMIT_MEM", "HERMIT_NET", "HERMIT_IP", "HERMIT_CAPTURE_NET"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert_one_line_error(*_main(["run", str(fake_image)]))


def test_negative_timeout_is_refused():
    rc, err = _main(["run", "x.elf", "--timeout", "-5"])
    assert rc == 2 and "argument --timeout: must be a positive number of seconds" in err, err


@pytest.mark.parametrize("out", ["{tmp}/no/such/dir/x.elf", "{tmp}", "/proc/version"])
def test_compose_output_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, out):
    import hermitcore.compose

    image = tmp_path / "built.elf"
    image.write_bytes(b"\x7fELF")

    class Result:
        class spec:
            class board:
                name = "b"
            class arch:
                name = "x86_64"
            app_name = "hello"
            plugins = ()
        class build:
            size = 4
            cached = True
        build.image = image
        seconds = 0.0

    monkeypatch.setattr(hermitcore.compose, "compose", lambda *a, **k: Result)
    rc, err = _main(["compose", "-o", out.replace("{tmp}", str(tmp_path))])
    assert rc == 1, err
    assert_one_line_error(rc, err)
    assert "cannot write the image to" in err


@settings(FUZZ, max_examples=80)
@given(edits=elf_mutation())
def test_compose_of_a_mutated_elf_is_one_line(static_elf, tmp_path, monkeypatch, edits):
    """The whole CLI path up to the build (stopped there: no toolchain)."""
    import hermitcore.compose

    class Built(Exception):
        pass

    def build_image(spec, **kw):
        assert spec.program in ("static", "static-pie")
        raise Built

    monkeypatch.setattr(hermitcore.compose, "build_image", build_image)
    f = tmp_path / "prog"
    f.write_bytes(mutate_elf(static_elf, edits))
    try:
        rc, err = _main(["compose", "--board", "qemu-microvm", str(f), "-o", str(tmp_path / "x.elf")])
    except Built:
        return
    assert rc == 1, err
    assert_one_line_error(rc, err)


# -- symbolising a program fault (run's console scanner) ---------------------


@FUZZ
@given(edits=elf_mutation(), pc=st.integers(0, 2**64 - 1))
def test_symbolising_a_corrupt_program_never_raises(static_elf, edits, pc):
    from hermitcore.image import symbolize

    data = mutate_elf(static_elf, edits)
    # the section headers are what symbolising reads: aim mutations there too
    shoff = struct.unpack_from("<Q", static_elf, 40)[0]
    if shoff < len(data):
        buf = bytearray(data)
        for i, (kind, where, value) in enumerate(edits):
            pos = shoff + zlib.crc32(f"{i} {where}".encode()) % (64 * 30)  # (hash() is salted per process)
            if pos + 8 <= len(buf) and kind in ("phdr", "ehdr"):
                struct.pack_into("<Q", buf, pos, value % 2**64)
        data = bytes(buf)
    names = symbolize(io.BytesIO(data), [pc, pc ^ 1], return_addresses=bool(pc & 1))
    assert len(names) == 2 and all(n.startswith(f"{a:#x}") for n, a in zip(names, [pc, pc ^ 1]))
