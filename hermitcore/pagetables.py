"""Page tables as data: arch plugins build them in Python at compose time and
emit them as assembly (``.quad`` lines), which the linker places and
relocates. Early boot only has to load the root."""

from __future__ import annotations

import attrs

from hermitcore.model import Layout

ENTRIES = 512
PAGE = 4096
MIB2 = 2 << 20
GIB = 1 << 30
#: free pages kept after the kernel inside the boot map, for the first
#: page tables the runtime mapper allocates
EARLY_POOL = 256 * 1024


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


@attrs.frozen
class PagePerms:
    writable: bool
    executable: bool


@attrs.frozen
class ImageMap:
    """What the boot map must cover, from the linked layout (or a nominal
    one on the first pass)."""

    start: int  # first byte of the image
    end: int  # end of the image (bss and stacks included)
    sections: tuple
    guards: tuple[int, ...]  # pages that must stay unmapped

    @classmethod
    def from_layout(cls, layout: Layout | None, nominal_start: int) -> "ImageMap":
        if layout is None:
            return cls(nominal_start, nominal_start + MIB2 // 2, (), ())
        secs = tuple(s for s in layout.sections if s.size)
        guards = tuple(sorted(v for k, v in layout.symbols.items() if k.endswith("_stack_guard")))
        return cls(
            start=layout.symbol("__kernel_start"),
            end=layout.symbol("__kernel_end"),
            sections=secs,
            guards=guards,
        )

    def map_end(self) -> int:
        """The boot map covers whole 2 MiB regions up to here."""
        return align_up(self.end + EARLY_POOL, MIB2)

    def perms(self, page: int) -> PagePerms | None:
        """Permissions of the image page at ``page``, or None outside it."""
        if page in self.guards:
            return None
        hits = [s for s in self.sections if s.address < page + PAGE and page < s.address + s.size]
        if not hits:
            return PagePerms(writable=True, executable=False)
        return PagePerms(
            writable=any(s.writable for s in hits), executable=any(s.executable for s in hits)
        )

    def describe(self) -> list[str]:
        lines = []
        for s in self.sections:
            perm = "r" + ("w" if s.writable else "-") + ("x" if s.executable else "-")
            lines.append(f"{s.name:<12} {s.address:#012x}-{s.address + s.size - 1:#012x}  {perm}  {s.size:>8} bytes")
        for g in self.guards:
            lines.append(f"{'guard':<12} {g:#012x}-{g + PAGE - 1:#012x}  ---  unmapped")
        return lines


def align_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def emit_tables(tables: list[Table], symbols: dict[str, int] | None = None,
                section: str = ".data.pagetables") -> str:
    """Assembly for ``tables``, each 4 KiB aligned, global symbols, with runs
    of zero entries compressed to ``.fill``; ``symbols`` become absolute
    global symbols (e.g. the end of the boot map)."""
    out = [f'    .section {section}, "aw"', "    .p2align 12"]
    for name, value in (symbols or {}).items():
        out += [f"    .globl {name}", f"    .set {name}, {value:#x}"]
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
