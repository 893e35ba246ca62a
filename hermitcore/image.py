"""Reading and checking kernel images with pyelftools."""

from __future__ import annotations

import json
import os
import struct
from collections import namedtuple

from hermitcore.errors import ImageError

#: what read_image returns; load_size: bytes occupied in memory by the PT_LOAD
#: segments. (collections, not typing.NamedTuple: typing costs ~3 ms to import
#: on every run.)
ImageInfo = namedtuple("ImageInfo", "path arch entry meta load_size file_size")


ELF_MACHINES = {62: "x86_64", 183: "aarch64"}


def read_image(path: str | os.PathLike) -> ImageInfo:
    """The image's metadata, read with plain ``struct`` (this is on every
    `hermitcore run`'s path; pyelftools costs ~35 ms to import, so it is
    left to symbolisation, which needs it)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageError(f"cannot open image '{path}': {exc.strerror}") from None
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise ImageError(f"{path}: not an ELF file")
    not_ours = ImageError(f"{path}: not a hermitcore image (no .hermit.meta section); compose one with `hermitcore compose`")
    if data[4] != 2 or data[5] != 1:  # ELFCLASS64, little-endian
        raise not_ours
    try:
        (_, machine, _, entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from(
            "<HHIQQQIHHHHHH", data, 16)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        names_off = sections[shstrndx][4]
        meta_text = None
        for name, _, _, _, offset, size, *_ in sections:
            end = data.index(b"\0", names_off + name)
            if data[names_off + name:end] == b".hermit.meta":
                meta_text = data[offset:offset + size]
        load = 0
        for i in range(phnum):
            p_type, *_rest = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
            if p_type == 1:  # PT_LOAD
                load += _rest[-2]
    except (struct.error, IndexError, ValueError):
        raise ImageError(f"{path}: corrupt ELF file") from None
    if meta_text is None:
        raise not_ours
    try:
        meta = json.loads(meta_text.decode())
    except ValueError:
        raise ImageError(f"{path}: corrupt .hermit.meta section") from None
    return ImageInfo(
        path=path,
        arch=ELF_MACHINES.get(machine, str(machine)),
        entry=entry,
        meta=meta,
        load_size=load,
        file_size=len(data),
    )


USER_PIE_BASE = 0x8_0000_0000  # hermit/user.h


def _elf_read_errors() -> tuple:
    """What pyelftools raises on a corrupt or truncated file: its own
    ELFError (ELFParseError wraps its construct errors), struct.error and
    ValueError (UnicodeDecodeError: a symbol name that is not UTF-8) from
    fields it unpacks, IndexError/KeyError from tables it indexes with
    values read from the file, OverflowError from offsets past 2**63."""
    from elftools.common.exceptions import ELFError

    return (ELFError, struct.error, ValueError, OverflowError, IndexError, KeyError)


def program_of(path: str | os.PathLike) -> bytes | None:
    """The static Linux executable embedded in a Linux image (``app_elf`` in
    its ``.app`` section), or None (also when the image cannot be read)."""
    return _embedded(path, "app_elf")


def vdso_of(path: str | os.PathLike) -> bytes | None:
    """The vDSO a Linux image maps into its programs (``vdso_image``), or None."""
    return _embedded(path, "vdso_image")


def _embedded(path, name: str) -> bytes | None:
    """The bytes between the symbols NAME and NAME_end of a section."""
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            if symtab is None:
                return None
            syms = {s.name: s for s in symtab.iter_symbols() if s.name in (name, name + "_end")}
            if len(syms) != 2:
                return None
            sec = elf.get_section(syms[name]["st_shndx"])
            start = syms[name]["st_value"] - sec["sh_addr"]
            return sec.data()[start:start + syms[name + "_end"]["st_value"] - syms[name]["st_value"]]
    except (OSError, *_elf_read_errors()):
        return None


def symbolize_program(path: str | os.PathLike, pc: int) -> str:
    """Name the program's pc from its own symbols (static-pie: relative to
    its load address); the bare address when they cannot be read (a
    stripped or corrupt program: it ran, so only its headers were sound)."""
    import io

    from elftools.elf.elffile import ELFFile

    data = program_of(path)
    if not data:
        return f"{pc:#x}"
    try:
        bias = USER_PIE_BASE if ELFFile(io.BytesIO(data))["e_type"] == "ET_DYN" else 0
    except _elf_read_errors():
        return f"{pc:#x}"
    name = symbolize(io.BytesIO(data), [pc - bias], return_addresses=False)[0]
    return f"{pc:#x}" + name[name.find(" "):] if " " in name else f"{pc:#x}"


def symbolize(path, addresses: list[int], return_addresses: bool = True) -> list[str]:
    """Name each address as ``function+0xoff`` from the image's symbol table
    (``path`` may also be an open binary file); an address stays bare when
    the symbol table cannot be read.

    Return addresses point after their call, which may be past the end of a
    function that ends in a call to a noreturn function: look them up at
    ``addr - 1``."""
    import contextlib

    from elftools.elf.elffile import ELFFile

    funcs = []
    try:
        with (open(path, "rb") if isinstance(path, (str, os.PathLike)) else contextlib.nullcontext(path)) as f:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            if symtab is not None:
                for sym in symtab.iter_symbols():
                    if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"]:
                        funcs.append((sym["st_value"], sym["st_size"], sym.name))
    except (OSError, *_elf_read_errors()):
        funcs = []
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
