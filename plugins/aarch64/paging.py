"""aarch64 boot translation tables (4 KiB granule, 39-bit VA, TTBR0_EL1),
computed at compose time from the board and the linked image.

- The MiB at the RAM base (QEMU's DTB, which QEMU always loads as a 1 MiB
  blob there and the kernel reads once at boot): Normal, rw-, execute-never,
  4 KiB pages like the rest of the boot map; the page allocator takes it
  over once the kernel has read it.
- The image: 4 KiB pages with its sections' permissions (text r-x, rodata
  r--, data/bss/stacks rw-, never w+x); guard pages unmapped; the rest of
  the boot map rw- (the early pool for the runtime mapper's tables).
- Every MMIO window of the device tree: 2 MiB Device-nGnRE blocks,
  execute-never. Nothing else in the device GiB is mapped, so NULL faults.
- The rest of RAM is mapped at boot by the kernel (mmu.c).
MAIR/TCR/SCTLR values go to the boot code as defines.
"""

from __future__ import annotations

from hermitcore.model import Board, Layout
from hermitcore.pagetables import GIB, MIB2, PAGE, ImageMap, Table

ATTR_DEVICE, ATTR_NORMAL = 0, 1
MAIR = (0x04 << (8 * ATTR_DEVICE)) | (0xFF << (8 * ATTR_NORMAL))  # nGnRE, WB RA/WA
# T0SZ=25 (39-bit), IRGN0/ORGN0 = WB WA, SH0 inner, TG0 4K, EPD1 (no TTBR1 walks), IPS 40-bit
TCR = 25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32)
# M, C, I; for EL0: DZE (dc zva), UCT (CTR_EL0), nTWI/nTWE (wfi/wfe), UCI
# (cache maintenance), SPAN (PSTATE.PAN left alone) -- as Linux sets them.
SCTLR_SET = (1 << 0) | (1 << 2) | (1 << 12) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18) | (1 << 23) | (1 << 26)
SCTLR_CLEAR = (1 << 1) | (1 << 19)  # A (alignment checks), WXN

BLOCK, TABLE, PAGE_DESC = 0b01, 0b11, 0b11
AF, SH_INNER = 1 << 10, 3 << 8
AP_RO = 2 << 6
PXN, UXN = 1 << 53, 1 << 54
NORMAL = AF | SH_INNER | (ATTR_NORMAL << 2)
DEVICE = AF | (ATTR_DEVICE << 2) | PXN | UXN
# Above the DTB QEMU writes at the start of RAM: QEMU loads it whole (its
# FDT_MAX_SIZE, 1 MiB, free space included) and silently drops it when the
# kernel's lowest segment leaves less room than that.
KERNEL_OFFSET = 0x100000


def build(board: Board, layout: Layout | None) -> tuple[list[Table], dict[str, str], dict[str, int], list[str]]:
    ram = board.ram_base
    image = ImageMap.from_layout(layout, ram + KERNEL_OFFSET)
    end = image.map_end()
    l1 = Table("boot_ttbr0")
    l2s: dict[int, Table] = {}
    l3s: list[Table] = []

    def l2_for(addr: int) -> Table:
        gib = addr // GIB
        if gib >= 512:
            raise ValueError(f"address {addr:#x} beyond the 39-bit boot map")
        if gib not in l2s:
            l2s[gib] = Table(f"boot_l2_{gib}")
            l1.set(gib, (l2s[gib], TABLE))
        return l2s[gib]

    start = image.start - image.start % MIB2
    for region in range(start, end, MIB2):
        l3 = Table(f"boot_l3_{region // MIB2}")
        l3s.append(l3)
        l2_for(region).set((region % GIB) // MIB2, (l3, TABLE))
        for i in range(512):
            page = region + i * PAGE
            if page < image.start:
                l3.set(i, page | PAGE_DESC | NORMAL | PXN | UXN)
                continue
            perms = image.perms(page)
            if perms is None:
                continue  # guard page
            attrs = NORMAL | (0 if perms.writable else AP_RO) | (0 if perms.executable else PXN | UXN)
            l3.set(i, page | PAGE_DESC | attrs)

    summary = [
        f"{'dtb':<12} {ram:#012x}-{image.start - 1:#012x}  rw-  read at boot, then free memory",
        f"boot map     {start:#012x}-{end - 1:#012x}  4 KiB pages",
    ] + image.describe()
    for dev in board.devices:
        for reg in dev.regs:
            if reg.space != "mmio" or reg.size == 0:
                continue
            for addr in range(reg.address - reg.address % MIB2, reg.address + reg.size, MIB2):
                if ram <= addr < end:
                    raise ValueError(f"{dev.path}: MMIO at {addr:#x} overlaps the kernel's boot map")
                l2_for(addr).set((addr % GIB) // MIB2, addr | BLOCK | DEVICE)
            summary.append(
                f"{'mmio':<12} {reg.address:#012x}-{reg.address + reg.size - 1:#012x}  rw-  Device-nGnRE  {dev.path}"
            )
    defines = {
        "BOOT_MAIR": f"{MAIR:#x}",
        "BOOT_TCR": f"{TCR:#x}",
        "BOOT_SCTLR_SET": f"{SCTLR_SET:#x}",
        "BOOT_SCTLR_CLEAR": f"{SCTLR_CLEAR:#x}",
    }
    tables = [l1] + [l2s[k] for k in sorted(l2s)] + l3s
    return tables, defines, {"boot_map_end": end}, summary
