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


def test_x86_page_tables_identity_map_ram_and_uncached_mmio():
    tables, _ = x86.build(load_board("qemu-q35"))
    names = [t.symbol for t in tables]
    assert names[:2] == ["boot_pml4", "boot_pdpt"]
    pd0 = next(t for t in tables if t.symbol == "boot_pd0")
    assert pd0.entries[1] == (1 << 21) | x86.P | x86.RW | x86.PS
    pd3 = next(t for t in tables if t.symbol == "boot_pd3")
    lapic = pd3.entries[(0xFEE00000 % (1 << 30)) >> 21]
    assert lapic & x86.PCD and lapic & x86.PWT and lapic & ~0xFFF == 0xFEE00000
    pd2 = next(t for t in tables if t.symbol == "boot_pd2")  # q35 ECAM at 0xb0000000
    assert pd2.entries[(0xB0000000 % (1 << 30)) >> 21] & x86.PCD


def test_aarch64_tables_device_and_normal_memory():
    tables, defines, _ = a64.build(load_board("qemu-virt"))
    l1 = tables[0]
    assert (l1.entries[0] >> 2) & 7 == a64.ATTR_DEVICE and l1.entries[0] & a64.UXN
    assert (l1.entries[1] >> 2) & 7 == a64.ATTR_NORMAL and l1.entries[1] & ~0xFFF & ((1 << 48) - 1) == 1 << 30
    assert int(defines["BOOT_MAIR"], 16) == 0xFF04
