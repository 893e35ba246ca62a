"""`hermitcore run --profile FILE`: the kernel's samples (hermitcore/kernel/
profile.c, sent as the blob "profile") named from the image's symbols and
the program's, written as folded stacks -- one line per distinct stack,
outermost frame first, `main;work;inner COUNT`, what flamegraph.pl,
inferno and speedscope read -- with the hottest functions on stderr."""

from __future__ import annotations

import bisect
import io
import os
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
            table = elf.get_section_by_name(".symtab") or elf.get_section_by_name(".dynsym")  # libraries: stripped
            syms = [] if table is None else [
                (s["st_value"] + bias, s["st_size"], s.name.split("@")[0]) for s in table.iter_symbols()
                if s["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and s["st_value"] and s.name]
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


def parse(data: bytes, mappings: list | None = None) -> tuple[int, int, list[tuple[int, list[int]]]]:
    """The kernel's buffer: (HZ, samples dropped, [(kernel frames, [pc, ...
    innermost first])]); the executable file mappings it recorded go to
    ``mappings`` as (start, end, file offset, path)."""
    words = struct.unpack(f"<{len(data) // 8}Q", data[: len(data) // 8 * 8])
    if len(words) < 4 or words[0] != MAGIC:
        raise ValueError("not a hermitcore profile")
    hz, count, dropped = words[1], words[2], words[3]
    out, i = [], 4
    while i < len(words):
        head = words[i]
        n, kernel = head & 0xFF, (head >> 8) & 0xFF
        if n == 0 and kernel == 0xFF:  # a mapping: start, end, offset, path
            length = (head >> 16) & 0xFFFF
            nwords = 4 + (length + 7) // 8
            if i + nwords > len(words):
                break
            path = data[(i + 4) * 8:(i + 4) * 8 + length].decode(errors="replace")
            if mappings is not None:
                mappings.append((words[i + 1], words[i + 2], words[i + 3], path))
            i += nwords
            continue
        if n == 0 or len(out) >= count:
            break
        out.append((kernel, list(words[i + 1:i + 1 + n])))
        i += 1 + n
    return hz, dropped, out


class Libraries:
    """The program's shared libraries (and anything else mapped executable
    from a file), named from the image's own copies of them."""

    def __init__(self, image: str, mappings: list):
        self.ranges: list[tuple[int, int, Symbols]] = []
        if not mappings:
            return
        from hermitcore.debug import file_tree_dir

        try:
            root = file_tree_dir(image)
        except Exception:  # no tree: addresses stay bare
            return
        loaded: dict[str, tuple[bytes, object] | None] = {}
        for start, end, offset, path in sorted(set(mappings)):
            if path not in loaded:
                loaded[path] = _read(os.path.join(root, path.lstrip("/")))
            if loaded[path] is None:
                continue
            data, segments = loaded[path]
            seg = next((s for s in segments if s[0] <= offset < s[0] + max(s[2], 1)), None)
            if seg is None:
                continue
            base = start - (seg[1] + offset - seg[0])  # where the file's address 0 is
            self.ranges.append((start, end, Symbols(data, base)))

    def name(self, addr: int) -> str | None:
        for start, end, syms in self.ranges:
            if start <= addr < end:
                return syms.name(addr)
        return None


def _read(path: str):
    """An ELF file's bytes and its PT_LOAD segments (offset, vaddr, filesz), or None."""
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            data = f.read()
        elf = ELFFile(io.BytesIO(data))
        return data, [(s["p_offset"], s["p_vaddr"], s["p_filesz"]) for s in elf.iter_segments()
                      if s["p_type"] == "PT_LOAD"]
    except Exception:
        return None


def fold(samples, kernel_syms: Symbols, program_syms: Symbols, libraries: Libraries | None = None) -> Counter:
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
                names.append(program_syms.name(at) or (libraries and libraries.name(at)) or hex(pc))
        stacks[";".join(reversed(names))] += 1
    return stacks


def write(blob: str, image: str, out: str, err) -> None:
    """Turn the raw blob file into folded stacks at ``out`` (the raw file is
    replaced) and say on ``err`` where the time went."""
    from elftools.elf.elffile import ELFFile

    from hermitcore.image import program_of
    from hermitcore.program import USER_PIE_BASE

    mappings: list = []
    hz, dropped, samples = parse(Path(blob).read_bytes(), mappings)
    program = program_of(image)
    bias = 0
    if program:
        try:
            bias = USER_PIE_BASE if ELFFile(io.BytesIO(program))["e_type"] == "ET_DYN" else 0
        except Exception:
            program = None
    stacks = fold(samples, Symbols(Path(image).read_bytes()), Symbols(program, bias), Libraries(image, mappings))
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
