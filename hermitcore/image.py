"""Reading and checking kernel images with pyelftools."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from hermitcore.errors import ImageError

MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}


@attrs.frozen
class ImageInfo:
    path: str
    arch: str
    entry: int
    meta: dict
    load_size: int  # bytes occupied in memory by PT_LOAD segments
    file_size: int


def read_image(path: str | Path) -> ImageInfo:
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise ImageError(f"cannot open image '{path}': {exc.strerror}") from None
    with f:
        try:
            elf = ELFFile(f)
        except ELFError:
            raise ImageError(f"{path}: not an ELF file") from None
        arch = MACHINES.get(elf["e_machine"])
        sec = elf.get_section_by_name(".hermit.meta")
        if sec is None:
            raise ImageError(f"{path}: not a hermitcore image (no .hermit.meta section); compose one with `hermitcore compose`")
        try:
            meta = json.loads(sec.data().decode())
        except ValueError:
            raise ImageError(f"{path}: corrupt .hermit.meta section") from None
        load = sum(s["p_memsz"] for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        return ImageInfo(
            path=str(path),
            arch=arch or str(elf["e_machine"]),
            entry=elf["e_entry"],
            meta=meta,
            load_size=load,
            file_size=path.stat().st_size,
        )


USER_PIE_BASE = 0x8_0000_0000  # hermit/user.h


def program_of(path: str | Path) -> bytes | None:
    """The static Linux executable embedded in a Linux image (``app_elf`` in
    its ``.app`` section), or None."""
    with Path(path).open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        sec = elf.get_section_by_name(".app")
        if symtab is None or sec is None:
            return None
        syms = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name in ("app_elf", "app_elf_end")}
        if len(syms) != 2:
            return None
        start = syms["app_elf"] - sec["sh_addr"]
        return sec.data()[start:start + syms["app_elf_end"] - syms["app_elf"]]


def symbolize_program(path: str | Path, pc: int) -> str:
    """Name the program's pc from its own symbols (static-pie: relative to
    its load address)."""
    import io

    data = program_of(path)
    if not data:
        return f"{pc:#x}"
    bias = USER_PIE_BASE if ELFFile(io.BytesIO(data))["e_type"] == "ET_DYN" else 0
    name = symbolize(io.BytesIO(data), [pc - bias], return_addresses=False)[0]
    return f"{pc:#x}" + name[name.find(" "):] if " " in name else f"{pc:#x}"


def symbolize(path, addresses: list[int], return_addresses: bool = True) -> list[str]:
    """Name each address as ``function+0xoff`` from the image's symbol table
    (``path`` may also be an open binary file).

    Return addresses point after their call, which may be past the end of a
    function that ends in a call to a noreturn function: look them up at
    ``addr - 1``."""
    import contextlib

    with (Path(path).open("rb") if isinstance(path, (str, Path)) else contextlib.nullcontext(path)) as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        funcs = []
        if symtab is not None:
            for sym in symtab.iter_symbols():
                if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"]:
                    funcs.append((sym["st_value"], sym["st_size"], sym.name))
        funcs.sort()
    out = []
    for addr in addresses:
        name = f"{addr:#x}"
        look = addr - 1 if return_addresses else addr
        for start, size, sym in funcs:
            if start <= look < start + max(size, 1):
                name = f"{addr:#x} {sym}+{addr - start:#x}"
                break
        out.append(name)
    return out
