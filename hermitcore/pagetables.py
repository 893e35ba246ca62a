"""Page tables as data: arch plugins build them in Python at compose time and
emit them as assembly (``.quad`` lines), which the linker places and
relocates. Early boot only has to load the root."""

from __future__ import annotations

import attrs

ENTRIES = 512


@attrs.define
class Table:
    """One 4 KiB translation table of 512 64-bit entries.

    An entry is an int (a final descriptor) or ``(table, flags)``: a pointer
    to a next-level table, resolved by the linker.
    """

    symbol: str
    entries: list = attrs.field(factory=lambda: [0] * ENTRIES)

    def set(self, index: int, value) -> None:
        if not 0 <= index < ENTRIES:
            raise ValueError(f"{self.symbol}: index {index} out of range")
        self.entries[index] = value


def emit_tables(tables: list[Table], section: str = ".data.pagetables") -> str:
    """Assembly for ``tables``, each 4 KiB aligned, global symbols, with runs
    of zero entries compressed to ``.fill``."""
    out = [f'    .section {section}, "aw"', "    .p2align 12"]
    for table in tables:
        out += [f"    .globl {table.symbol}", f"{table.symbol}:"]
        zeros = 0
        for entry in table.entries + [None]:
            if entry == 0:
                zeros += 1
                continue
            if zeros:
                out.append(f"    .fill {zeros}, 8, 0")
                zeros = 0
            if entry is None:
                break
            if isinstance(entry, tuple):
                target, flags = entry
                out.append(f"    .quad {target.symbol} + {flags:#x}")
            else:
                out.append(f"    .quad {entry:#018x}")
    return "\n".join(out) + "\n"


def describe(tables: list[Table]) -> str:
    return f"{len(tables)} page-table page(s), {len(tables) * 4} KiB"
