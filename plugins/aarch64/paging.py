"""aarch64 translation tables (4 KiB granule, 39-bit VA, TTBR0_EL1 only),
computed at compose time: one level-1 table of 1 GiB blocks. The GiB that
holds the board's devices is Device-nGnRE; RAM blocks are Normal write-back,
inner shareable. MAIR/TCR/SCTLR values go to the boot code as defines."""

from __future__ import annotations

from hermitcore.model import Board
from hermitcore.pagetables import Table

GIB = 1 << 30
ATTR_DEVICE, ATTR_NORMAL = 0, 1
MAIR = (0x04 << (8 * ATTR_DEVICE)) | (0xFF << (8 * ATTR_NORMAL))  # nGnRE, WB RA/WA
# T0SZ=25 (39-bit), IRGN0/ORGN0 = WB WA, SH0 inner, TG0 4K, EPD1 (no TTBR1 walks), IPS 40-bit
TCR = 25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32)
SCTLR_SET = (1 << 0) | (1 << 2) | (1 << 12)  # M, C, I
SCTLR_CLEAR = (1 << 1) | (1 << 19)  # A (alignment checks), WXN (until W^X lands)

BLOCK, AF, SH_INNER = 0b01, 1 << 10, 3 << 8
PXN, UXN = 1 << 53, 1 << 54
RAM_WINDOW_GIB = 255  # RAM blocks mapped above the board's RAM base


def build(board: Board) -> tuple[list[Table], dict[str, str], list[str]]:
    l1 = Table("boot_ttbr0")
    summary = []
    ram_base = board.ram_base
    first_ram = ram_base // GIB
    for gib in range(first_ram, min(first_ram + RAM_WINDOW_GIB, 512)):
        l1.set(gib, (gib * GIB) | BLOCK | AF | SH_INNER | (ATTR_NORMAL << 2))
    summary.append(
        f"RAM    {first_ram * GIB:#012x}-{(first_ram + RAM_WINDOW_GIB) * GIB - 1:#012x}"
        "  rwx  1 GiB blocks, Normal WB"
    )
    for dev in board.devices:
        for reg in dev.regs:
            if reg.space != "mmio" or reg.size == 0:
                continue
            for gib in range(reg.address // GIB, (reg.address + reg.size - 1) // GIB + 1):
                if gib >= 512 or gib * GIB >= ram_base and gib < first_ram + RAM_WINDOW_GIB:
                    continue
                l1.set(gib, (gib * GIB) | BLOCK | AF | PXN | UXN | (ATTR_DEVICE << 2))
            summary.append(
                f"MMIO   {reg.address:#012x}-{reg.address + reg.size - 1:#012x}  rw-  Device-nGnRE  {dev.path}"
            )
    defines = {
        "BOOT_MAIR": f"{MAIR:#x}",
        "BOOT_TCR": f"{TCR:#x}",
        "BOOT_SCTLR_SET": f"{SCTLR_SET:#x}",
        "BOOT_SCTLR_CLEAR": f"{SCTLR_CLEAR:#x}",
    }
    return [l1], defines, summary
