"""x86_64 4-level page tables, computed from the board at compose time.

Identity map: the first GiB of RAM with 2 MiB pages (read/write), and every
device register window the board's device tree names, with caching disabled
(PCD|PWT). RAM beyond the first GiB is mapped at run time (issue: kernel core).
"""

from __future__ import annotations

from hermitcore.model import Board
from hermitcore.pagetables import Table

P, RW, PWT, PCD, PS = 1 << 0, 1 << 1, 1 << 3, 1 << 4, 1 << 7
GIB, MIB2 = 1 << 30, 1 << 21
IDENTITY_RAM = 1 * GIB


def build(board: Board) -> tuple[list[Table], list[str]]:
    pml4 = Table("boot_pml4")
    pdpt = Table("boot_pdpt")
    pml4.set(0, (pdpt, P | RW))
    pds: dict[int, Table] = {}
    summary = []

    def pd_for(addr: int) -> Table:
        gib = addr // GIB
        if gib >= 512:
            raise ValueError(f"address {addr:#x} beyond the boot map (512 GiB)")
        if gib not in pds:
            pds[gib] = Table(f"boot_pd{gib}")
            pdpt.set(gib, (pds[gib], P | RW))
        return pds[gib]

    for addr in range(0, IDENTITY_RAM, MIB2):
        pd_for(addr).set((addr % GIB) // MIB2, addr | P | RW | PS)
    summary.append(f"RAM    {0:#012x}-{IDENTITY_RAM - 1:#012x}  rw  2 MiB pages, write-back")

    for dev in board.devices:
        for reg in dev.regs:
            if reg.space != "mmio" or reg.size == 0:
                continue
            start = reg.address & ~(MIB2 - 1)
            end = reg.address + reg.size
            for addr in range(start, end, MIB2):
                if addr < IDENTITY_RAM:
                    continue  # inside the RAM map (no device there on our boards)
                pd_for(addr).set((addr % GIB) // MIB2, addr | P | RW | PS | PCD | PWT)
            summary.append(f"MMIO   {reg.address:#012x}-{end - 1:#012x}  rw  uncached  {dev.path}")
    tables = [pml4, pdpt] + [pds[k] for k in sorted(pds)]
    return tables, summary
