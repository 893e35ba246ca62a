"""Code emission without QEMU: board.h, page tables, linker script."""

from hermitcore.board import load_board
from hermitcore.compose import make_spec
from hermitcore.plugins import make_plugin_manager
from hermitcore_plugins.aarch64 import paging as a64
from hermitcore_plugins.x86_64 import paging as x86


def _generated(spec, name):
    return next(s.text for s in spec.generated if s.name == name)


def test_board_h_carries_device_tree_addresses():
    spec, claimed, _ = make_spec(make_plugin_manager(), load_board("qemu-virt"))
    h = _generated(spec, "generated/board.h")
    assert "#define BOARD_PL011_0_BASE 0x9000000" in h
    assert "#define BOARD_RAM_BASE 0x40000000" in h
    assert '#define BOARD_NAME "qemu-virt"' in h
    spec, _, _ = make_spec(make_plugin_manager(), load_board("qemu-microvm"))
    h = _generated(spec, "generated/board.h")
    assert "#define BOARD_NS16550_0_BASE 0x3f8" in h and "#define BOARD_NS16550_0_IO 1" in h
    assert "#define BOARD_ISA_DEBUG_EXIT_0_BASE 0xf4" in h


def test_no_device_address_is_hard_coded_in_driver_c():
    import hermitcore_plugins

    from pathlib import Path

    root = Path(hermitcore_plugins.__file__).parent / "drivers"
    for c in root.glob("*/*.c"):
        text = c.read_text()
        for addr in ("0x3f8", "0x9000000", "0x09000000", "0xf4"):
            assert addr not in text.lower(), f"{c} hard-codes {addr}"


def test_exactly_one_linker_script_from_the_arch_plugin():
    for board in ("qemu-virt", "qemu-microvm"):
        spec, _, _ = make_spec(make_plugin_manager(), load_board(board))
        scripts = [(p, f) for _, p, f in spec.fragments if f.linker_script]
        assert [p for p, _ in scripts] == [spec.arch.name]


def _layout(base):
    """A linked image as the linker would lay it out: text, rodata, data, bss,
    a stack with its guard page."""
    from hermitcore.model import Layout, Section

    K = 0x1000
    return Layout(
        sections=(
            Section(".text", base, 0x2345, writable=False, executable=True),
            Section(".rodata", base + 3 * K, 0x800, writable=False, executable=False),
            Section(".data", base + 4 * K, 0x1800, writable=True, executable=False),
            Section(".bss", base + 6 * K, 0x400, writable=True, executable=False),
            Section(".stack", base + 7 * K, 5 * K, writable=True, executable=False),
        ),
        symbols={"__kernel_start": base, "__kernel_end": base + 12 * K, "boot_stack_guard": base + 7 * K},
    )


def test_x86_boot_map_is_w_xor_x_with_guard_and_null_pages():
    base = x86.KERNEL_BASE
    tables, symbols, _ = x86.build(load_board("qemu-q35"), _layout(base))
    pt0 = next(t for t in tables if t.symbol == "boot_pt0")

    def pte(addr):
        return pt0.entries[addr >> 12]

    text, rodata, data, guard, stack = pte(base), pte(base + 0x3000), pte(base + 0x4000), pte(base + 0x7000), pte(base + 0x8000)
    assert text & x86.P and not text & x86.RW and not text & x86.NX  # r-x
    assert rodata & x86.P and not rodata & x86.RW and rodata & x86.NX  # r--
    assert data & x86.RW and data & x86.NX and stack & x86.RW and stack & x86.NX  # rw-
    assert guard == 0
    for entry in pt0.entries:
        assert not (entry and entry & x86.RW and not entry & x86.NX), "a page is writable and executable"
    assert symbols["boot_map_end"] == 0x200000
    pd3 = next(t for t in tables if t.symbol == "boot_pd3")
    lapic = pd3.entries[(0xFEE00000 % (1 << 30)) >> 21]
    assert lapic & x86.PCD and lapic & x86.PWT and lapic & x86.NX and lapic & ~0xFFF & ((1 << 52) - 1) == 0xFEE00000
    pd2 = next(t for t in tables if t.symbol == "boot_pd2")  # q35 ECAM at 0xb0000000
    assert pd2.entries[(0xB0000000 % (1 << 30)) >> 21] & x86.PCD


def test_aarch64_boot_map_is_w_xor_x_and_devices_are_device_memory():
    board = load_board("qemu-virt")
    base = board.ram_base + a64.KERNEL_OFFSET
    tables, defines, symbols, _ = a64.build(board, _layout(base))
    l3 = next(t for t in tables if t.symbol == f"boot_l3_{base // (2 << 20)}")
    idx = lambda addr: (addr % (2 << 20)) >> 12
    text, rodata, data, guard = (l3.entries[idx(base + o)] for o in (0, 0x3000, 0x4000, 0x7000))
    assert text & a64.AP_RO and not text & a64.PXN  # r-x
    assert rodata & a64.AP_RO and rodata & a64.PXN  # r--
    assert not data & a64.AP_RO and data & a64.PXN  # rw-
    assert guard == 0
    for e in l3.entries:
        assert not (e and not e & a64.AP_RO and not e & a64.PXN), "a page is writable and executable"
    l2_dev = next(t for t in tables if t.symbol == "boot_l2_0")
    uart = l2_dev.entries[0x09000000 >> 21]
    assert (uart >> 2) & 7 == a64.ATTR_DEVICE and uart & a64.PXN and uart & a64.UXN
    assert l2_dev.entries[0] == 0, "NULL (flash at 0) must stay unmapped"
    assert int(defines["BOOT_MAIR"], 16) == 0xFF04


def test_compose_links_until_the_page_tables_match_the_image(tmp_path, monkeypatch):
    """End to end without QEMU: the emitted tables describe the real image."""
    from elftools.elf.elffile import ELFFile

    from hermitcore.compose import compose

    monkeypatch.setenv("HERMIT_CACHE_DIR", str(tmp_path))
    result = compose("qemu-microvm")
    with open(result.build.image, "rb") as f:
        elf = ELFFile(f)
        syms = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        text = elf.get_section_by_name(".text")
        text_end = text["sh_addr"] + text["sh_size"]
    summary = "\n".join(l for ph, _, f in result.spec.fragments if ph == "paging" for l in f.summary)
    assert f"{text_end - 1:#012x}  r-x" in summary
    assert f"guard        {syms['boot_stack_guard']:#012x}" in summary
