"""`hermitcore run --profile FILE`: the kernel's samples (hermitcore/kernel/
profile.c, sent as the blob "profile") named from the image's symbols and
the program's, written as folded stacks -- one line per distinct stack,
outermost frame first, `main;work;inner COUNT`, what flamegraph.pl,
inferno and speedscope read -- with the hottest functions on stderr."""

from __future__ import annotations

import bisect
import io
import struct
from collections import Counter
from pathlib import Path

MAGIC = 0x666F72706D726568  # "hermprof"


class Symbols:
    """Function symbols of one ELF file, looked up by address."""

    def __init__(self, data: bytes | None, bias: int = 0):
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.names: list[str] = []
        if not data:
            return
        from elftools.elf.elffile import ELFFile

        try:
            elf = ELFFile(io.BytesIO(data))
            table = elf.get_section_by_name(".symtab")
            syms = [] if table is None else [
                (s["st_value"] + bias, s["st_size"], s.name) for s in table.iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s["st_value"] and s.name]
        except Exception:  # a stripped or odd program: addresses stay bare
            syms = []
        for start, size, name in sorted(syms):
            self.starts.append(start)
            self.ends.append(start + max(size, 1))
            self.names.append(name)

    def name(self, addr: int) -> str | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.ends[i]:
            return self.names[i]
        return None


def parse(data: bytes) -> tuple[int, int, list[tuple[int, list[int]]]]:
    """The kernel's buffer: (HZ, samples dropped, [(kernel frames, [pc, ...
    innermost first])])."""
    words = struct.unpack(f"<{len(data) // 8}Q", data[: len(data) // 8 * 8])
    if len(words) < 4 or words[0] != MAGIC:
        raise ValueError("not a hermitcore profile")
    hz, count, dropped = words[1], words[2], words[3]
    out, i = [], 4
    while i < len(words) and len(out) < count:
        head = words[i]
        n, kernel = head & 0xFF, (head >> 8) & 0xFF
        out.append((kernel, list(words[i + 1:i + 1 + n])))
        i += 1 + n
    return hz, dropped, out


def fold(samples, kernel_syms: Symbols, program_syms: Symbols) -> Counter:
    """Folded stacks: outermost first, `[kernel]`-marked kernel frames."""
    stacks: Counter = Counter()
    for kernel, pcs in samples:
        names = []
        for i, pc in enumerate(pcs):
            # return addresses (all but the innermost of each part) point after their call
            at = pc if i in (0, kernel) else pc - 1
            if i < kernel:
                names.append(f"{kernel_syms.name(at) or hex(pc)}_[k]")
            else:
                names.append(program_syms.name(at) or hex(pc))
        stacks[";".join(reversed(names))] += 1
    return stacks


def write(blob: str, image: str, out: str, err) -> None:
    """Turn the raw blob file into folded stacks at ``out`` (the raw file is
    replaced) and say on ``err`` where the time went."""
    from elftools.elf.elffile import ELFFile

    from hermitcore.image import program_of
    from hermitcore.program import USER_PIE_BASE

    hz, dropped, samples = parse(Path(blob).read_bytes())
    program = program_of(image)
    bias = 0
    if program:
        try:
            bias = USER_PIE_BASE if ELFFile(io.BytesIO(program))["e_type"] == "ET_DYN" else 0
        except Exception:
            program = None
    stacks = fold(samples, Symbols(Path(image).read_bytes()), Symbols(program, bias))
    with open(out, "w") as f:
        for stack, n in sorted(stacks.items()):
            f.write(f"{stack} {n}\n")
    total = sum(stacks.values())
    own: Counter = Counter()
    for stack, n in stacks.items():
        own[stack.rsplit(";", 1)[-1]] += n
    err.write(f"hermitcore: profile: {total} samples at {hz} Hz"
              + (f" ({dropped} dropped: the buffer was full)" if dropped else "") + f" -> {out}\n")
    for name, n in own.most_common(8):
        err.write(f"hermitcore:   {100.0 * n / total:5.1f}%  {name}\n")
