"""x86_64 4-level boot page tables, computed at compose time from the board
and the linked image.

- [0, boot map end): 4 KiB pages. The low 1 MiB read/write no-execute (PVH
  start info, BIOS data); page 0 is unmapped by start.c as soon as the PVH
  data (which firmware may leave there) is copied, so NULL faults. The image with its
  sections' permissions (text r-x, rodata r--, data/bss/stacks rw-, never
  w+x), guard pages below every stack unmapped, the rest rw- (the early pool
  the runtime mapper takes page tables from).
- Every MMIO window of the device tree: 2 MiB pages, PCD|PWT, no-execute.
- The rest of RAM is mapped at boot by the kernel (mmu.c) with 2 MiB / 1 GiB
  pages, from the VMM's memory map.
"""

from __future__ import annotations

from hermitcore.model import Board, Layout
from hermitcore.pagetables import GIB, MIB2, PAGE, ImageMap, Table

P, RW, PWT, PCD, PS = 1 << 0, 1 << 1, 1 << 3, 1 << 4, 1 << 7
NX = 1 << 63
KERNEL_BASE = 0x100000


def build(board: Board, layout: Layout | None) -> tuple[list[Table], dict[str, int], list[str]]:
    image = ImageMap.from_layout(layout, KERNEL_BASE)
    end = image.map_end()
    pml4 = Table("boot_pml4")
    pdpt = Table("boot_pdpt")
    pml4.set(0, (pdpt, P | RW))
    pds: dict[int, Table] = {}
    pts: list[Table] = []

    def pd_for(addr: int) -> Table:
        gib = addr // GIB
        if gib >= 512:
            raise ValueError(f"address {addr:#x} beyond the boot map (512 GiB)")
        if gib not in pds:
            pds[gib] = Table(f"boot_pd{gib}")
            pdpt.set(gib, (pds[gib], P | RW))
        return pds[gib]

    for region in range(0, end, MIB2):
        pt = Table(f"boot_pt{region // MIB2}")
        pts.append(pt)
        pd_for(region).set((region % GIB) // MIB2, (pt, P | RW))
        for i in range(512):
            page = region + i * PAGE
            if page < image.start:  # page 0 too: unmapped by start.c once read
                pt.set(i, page | P | RW | NX)
                continue
            perms = image.perms(page)
            if perms is None:
                continue  # guard page
            flags = P | (RW if perms.writable else 0) | (0 if perms.executable else NX)
            pt.set(i, page | flags)

    summary = [f"boot map     {0:#012x}-{end - 1:#012x}  4 KiB pages; page 0 unmapped after boot"]
    summary += image.describe()
    for dev in board.devices:
        for reg in dev.regs:
            if reg.space != "mmio" or reg.size == 0:
                continue
            start = reg.address & ~(MIB2 - 1)
            for addr in range(start, reg.address + reg.size, MIB2):
                if addr < end:
                    raise ValueError(f"{dev.path}: MMIO at {addr:#x} overlaps the kernel's boot map")
                pd_for(addr).set((addr % GIB) // MIB2, addr | P | RW | PS | PCD | PWT | NX)
            summary.append(
                f"{'mmio':<12} {reg.address:#012x}-{reg.address + reg.size - 1:#012x}  rw-  uncached  {dev.path}"
            )
    tables = [pml4, pdpt] + [pds[k] for k in sorted(pds)] + pts
    return tables, {"boot_map_end": end}, summary
