"""Linux executables as hermitcore applications: the compose-time checks
(static, static-pie or dynamic) and the file tree the image embeds (a cpio
"newc" archive: the user's tree and what compose gathers, hermitcore/dynlink.py)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import struct
import zlib
from pathlib import Path

import attrs

from hermitcore.errors import ImageError

MACHINES = {62: "x86_64", 183: "aarch64"}  # e_machine: EM_X86_64, EM_AARCH64
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
ELF_TYPES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_PHDR, PT_TLS = 1, 2, 3, 6, 7
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_PIE = 0x08000000
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr, 64 bytes
PHDR = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr, 56 bytes
# The loader's limits (hermitcore/kernel/linux/loader.c, hermit/user.h):
USER_LIMIT = 0x40_0000_0000  # programs live below 256 GiB
USER_PIE_BASE = 0x8_0000_0000  # a static-pie is loaded at 32 GiB
MIN_VADDR = 0x10000  # nothing below 64 KiB (Linux's default vm.mmap_min_addr)
MAX_PHDR_BYTES = 0x10000  # at most 64 KiB of program headers (Linux's limit)
MAX_FILES_BYTES = 512 << 20


@attrs.frozen
class Program:
    path: str
    name: str
    arch: str
    kind: str  # "static" (ET_EXEC), "static-pie", or "dynamic" (with PT_INTERP: ET_EXEC or PIE)
    data: bytes = attrs.field(repr=False)
    interp: str | None = None  # PT_INTERP: the dynamic linker's path in the guest


def is_elf(path: str | Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def inspect_program(path: str | Path, board_arch: str, board_name: str) -> Program:
    """Check that ``path`` is an executable for ``board_arch`` that the
    kernel's loader (hermitcore/kernel/linux/loader.c) will take -- static,
    static-pie, or dynamic (its interpreter, PT_INTERP, comes from the
    image's file tree; compose gathers it, hermitcore/dynlink.py): the same
    header checks, done here so a bad program is refused at compose time
    with one actionable line. Every field is read with ``struct`` from the
    bytes and bounds-checked before use (pyelftools is not used: it trusts
    offsets and enum values it reads)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror}") from None
    if data[:4] != b"\x7fELF":
        raise ImageError(f"{path}: not an ELF executable (nor a C source file ending in .c)")
    if len(data) < EHDR.size:
        raise ImageError(f"{path}: truncated ELF file ({len(data)} bytes, shorter than an ELF header)")
    elf_class, endian = data[4], data[5]
    if endian not in (1, 2):
        raise ImageError(f"{path}: corrupt ELF header (byte order {endian})")
    machine = int.from_bytes(data[18:20], "little" if endian == 1 else "big")
    arch = machine_name(machine)
    if elf_class == 1:
        raise ImageError(f"{path}: a 32-bit {arch} executable; hermitcore runs 64-bit programs ({board_arch})")
    if elf_class != 2:
        raise ImageError(f"{path}: corrupt ELF header (class {elf_class})")
    if endian != 1:
        raise ImageError(f"{path}: a big-endian {arch} executable; hermitcore runs little-endian programs ({board_arch})")
    (_, etype, _, _, entry, phoff, _, _, _, phentsize, phnum, _, _, _) = EHDR.unpack_from(data)
    if arch != board_arch:
        raise ImageError(
            (f"{path} is a {arch} executable" if not arch.startswith("machine ") else
             f"{path} is an executable for an unknown machine (e_machine {machine})") + f", but board '{board_name}' needs {board_arch}"
            + (f"; build it with {board_arch}-linux-gnu-gcc" if board_arch == "aarch64" else "")
        )
    if etype == ET_REL:
        raise ImageError(f"{path}: an object file, not an executable; link it (e.g. gcc -o prog prog.o)")
    if etype not in (ET_EXEC, ET_DYN):
        raise ImageError(f"{path}: not an executable (ELF type {ELF_TYPES.get(etype, etype)})")
    phdrs = _program_headers(path, data, phoff, phentsize, phnum)
    interp = _interpreter(path, data, phdrs)
    kind = "dynamic" if interp else "static"
    if etype == ET_DYN and not interp:
        if not _is_pie(data, phdrs):
            raise ImageError(f"{path}: a shared library, not an executable")
        kind = "static-pie"
    # a PIE, with an interpreter or not, is loaded at USER_PIE_BASE
    _check_segments(path, len(data), phdrs, entry, USER_PIE_BASE if etype == ET_DYN else 0)
    return Program(path=str(path), name=p.name, arch=arch, kind=kind, data=data, interp=interp)


def _interpreter(path, data: bytes, phdrs) -> str | None:
    """PT_INTERP's path (what the kernel loads from the file tree), checked
    as Linux checks it: in the file, at most 4096 bytes, ending in a NUL;
    and not empty."""
    found = [(offset, filesz) for ptype, _, offset, _, filesz, _, _ in phdrs if ptype == PT_INTERP]
    if not found:
        return None
    if len(found) > 1:
        raise ImageError(f"{path}: corrupt program headers (more than one PT_INTERP)")
    offset, filesz = found[0]
    raw = data[offset:offset + filesz]
    if offset + filesz > len(data) or not 1 < filesz <= 4096 or raw[-1:] != b"\0" or raw[:1] == b"\0":
        raise ImageError(f"{path}: corrupt PT_INTERP (the interpreter's path is not a string in the file)")
    return raw.split(b"\0")[0].decode(errors="surrogateescape")


def machine_name(machine: int) -> str:
    """x86_64, aarch64, or another e_machine's name as pyelftools spells it
    (EM_386 -> 386), or its number."""
    if machine in MACHINES:
        return MACHINES[machine]
    from elftools.elf.enums import ENUM_E_MACHINE

    for name, value in ENUM_E_MACHINE.items():
        if value == machine and name.startswith("EM_"):
            return name.removeprefix("EM_").lower()
    return f"machine {machine}"


def _program_headers(path, data: bytes, phoff: int, phentsize: int, phnum: int) -> list[tuple]:
    """(p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz, p_align) of
    each program header, once the table is known to lie in the file."""
    if phnum == 0:
        raise ImageError(f"{path}: no program headers (not an executable)")
    if phentsize != PHDR.size:
        raise ImageError(f"{path}: corrupt program headers (entry size {phentsize}, expected {PHDR.size})")
    if phnum * PHDR.size > MAX_PHDR_BYTES:
        raise ImageError(f"{path}: corrupt program headers ({phnum} entries; at most {MAX_PHDR_BYTES // PHDR.size})")
    if phoff % 8 or phoff + phnum * PHDR.size > len(data):
        raise ImageError(f"{path}: corrupt program headers (table at offset {phoff:#x} is not in the "
                         f"{len(data)}-byte file{'' if phoff % 8 == 0 else ' or not 8-byte aligned'})")
    out = []
    for i in range(phnum):
        ptype, flags, offset, vaddr, _, filesz, memsz, align = PHDR.unpack_from(data, phoff + i * PHDR.size)
        out.append((ptype, flags, offset, vaddr, filesz, memsz, align))
    return out


def _is_pie(data: bytes, phdrs) -> bool:
    """DT_FLAGS_1 has DF_1_PIE (read from PT_DYNAMIC, bounds-checked)."""
    for ptype, _, offset, _, filesz, _, _ in phdrs:
        if ptype != PT_DYNAMIC:
            continue
        end = min(offset + filesz, len(data))
        for pos in range(offset, end - 15, 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == 0:  # DT_NULL
                break
            if tag == DT_FLAGS_1 and value & DF_1_PIE:
                return True
    return False


def _check_segments(path, size: int, phdrs, entry: int, bias: int) -> None:
    """What the loader needs of the PT_LOAD and PT_TLS segments: in the
    file, file size <= memory size, in ascending order without overlap,
    from 64 KiB to 256 GiB, alignment a power of two, the entry point
    inside one, the TLS image and PT_PHDR inside one (loader.c checks the
    same)."""
    loads, tls = [], []
    prev_end = 0
    for ptype, _, offset, vaddr, filesz, memsz, align in phdrs:
        if ptype not in (PT_LOAD, PT_TLS) or (ptype == PT_LOAD and memsz == 0):
            continue
        what = "a loadable segment" if ptype == PT_LOAD else "the TLS segment"
        if offset + filesz > size:
            raise ImageError(f"{path}: {what} lies outside the file (offset {offset:#x} + {filesz:#x} bytes, "
                             f"file {size:#x}): truncated or corrupt")
        if filesz > memsz:
            raise ImageError(f"{path}: corrupt program headers ({what} has more bytes in the file than in memory)")
        if align & (align - 1):
            raise ImageError(f"{path}: corrupt program headers ({what} has alignment {align:#x}, not a power of two)")
        start, end = bias + vaddr, bias + vaddr + memsz
        if ptype == PT_LOAD and end > USER_LIMIT:
            raise ImageError(f"{path}: loads at {start:#x}-{end:#x}, above the 256 GiB programs may use")
        if ptype == PT_TLS:
            tls.append((start, filesz))
            continue
        if start < prev_end:
            raise ImageError(f"{path}: corrupt program headers (loadable segments overlap or are out of order)")
        if start < MIN_VADDR:
            raise ImageError(f"{path}: loads at {start:#x}, below {MIN_VADDR:#x} (the first 64 KiB stay unmapped, as on Linux)")
        prev_end = end
        loads.append((start, end))
    if not loads:
        raise ImageError(f"{path}: no loadable segments")
    if not any(s <= bias + entry < e for s, e in loads):
        raise ImageError(f"{path}: its entry point {bias + entry:#x} is not in a loadable segment")
    # what the C library reads through AT_PHDR must be in loaded memory
    phdr = [(bias + vaddr, len(phdrs) * PHDR.size) for ptype, _, _, vaddr, _, _, _ in phdrs if ptype == PT_PHDR]
    for what, ranges in (("the TLS image", tls), ("PT_PHDR", phdr)):
        for start, length in ranges:
            if length and not any(s <= start and start + length <= e for s, e in loads):
                raise ImageError(f"{path}: corrupt program headers ({what} is not in a loadable segment)")


def _newc(name: str, mode: int, data: bytes, ino: int, mtime: int) -> bytes:
    encoded = os.fsencode(name) + b"\0"  # file names as the file system has them, UTF-8 or not
    fields = [ino, mode, 0, 0, 1, mtime, len(data), 0, 0, 0, 0, len(encoded), 0]
    header = b"070701" + b"".join(f"{v & 0xFFFFFFFF:08x}".encode() for v in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def cpio_from_dir(root: str | Path) -> bytes:
    """A newc archive of ``root``'s tree (directories, files, symlinks)."""
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"--files {root}: not a directory")
    top = os.stat(root)
    parts = [_newc(".", top.st_mode, b"", 1, int(top.st_mtime))]  # the root's own mode and time
    total = 0
    ino = 2
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        entries = [(d, True) for d in dirnames] + [(f, False) for f in sorted(filenames)]
        for name, _ in entries:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                data = os.readlink(full).encode()
            elif stat.S_ISREG(st.st_mode):
                try:
                    data = Path(full).read_bytes()
                except OSError as exc:
                    raise ImageError(f"--files: cannot read {full}: {exc.strerror}") from None
            elif stat.S_ISDIR(st.st_mode):
                data = b""
            else:
                continue  # sockets, devices, fifos: nothing to embed
            total += len(data)
            if total > MAX_FILES_BYTES:
                raise ImageError(f"--files {root}: more than {MAX_FILES_BYTES >> 20} MiB to embed")
            parts.append(_newc(rel, st.st_mode, data, ino, int(st.st_mtime)))
            ino += 1
    parts.append(_newc("TRAILER!!!", 0, b"", 0, 0))
    return b"".join(parts)


def read_initrd(path: str | Path) -> bytes:
    """A cpio newc archive as given (gzip-compressed is unpacked here),
    checked entry by entry the way the kernel walks it (fs.c): every header
    in place with hexadecimal fields, every name NUL-terminated and every
    file inside the archive, up to the ``TRAILER!!!`` entry."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"--initrd {path}: {exc.strerror}") from None
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(path, data)
    if data[:6] not in (b"070701", b"070702"):
        raise ImageError(f"--initrd {path}: not a cpio archive in newc format (make one with: find . | cpio -o -H newc)")
    _check_newc(path, data)
    return data


def _gunzip(path, data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(MAX_FILES_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError; EOFError: truncated
        raise ImageError(f"--initrd {path}: corrupt gzip data ({exc or 'truncated'})") from None
    if len(out) > MAX_FILES_BYTES:
        raise ImageError(f"--initrd {path}: more than {MAX_FILES_BYTES >> 20} MiB to embed once unpacked")
    return out


NEWC_HEADER = 110


def _check_newc(path, data: bytes) -> None:
    if len(data) > MAX_FILES_BYTES:
        raise ImageError(f"--initrd {path}: more than {MAX_FILES_BYTES >> 20} MiB to embed")
    off = 0
    while True:
        where = f"--initrd {path}: entry at offset {off:#x}"
        if off + NEWC_HEADER > len(data):
            raise ImageError(f"--initrd {path}: truncated cpio archive (no TRAILER!!! entry)")
        header = data[off:off + NEWC_HEADER]
        if header[:6] not in (b"070701", b"070702"):
            raise ImageError(f"{where}: not a newc header (corrupt or truncated archive)")
        fields = header[6:]
        if not all(c in HEX_DIGITS for c in fields):
            raise ImageError(f"{where}: a header field is not hexadecimal (corrupt archive)")
        filesize, namesize = int(fields[48:56], 16), int(fields[88:96], 16)
        name_end = off + NEWC_HEADER + namesize
        if namesize == 0 or name_end > len(data) or data[name_end - 1] != 0:
            raise ImageError(f"{where}: corrupt name (size {namesize})")
        name = data[off + NEWC_HEADER:name_end - 1]
        if b"\0" in name:
            raise ImageError(f"{where}: corrupt name (a NUL inside it)")
        start = (name_end + 3) & ~3
        if start + filesize > len(data):
            raise ImageError(f"{where} ({name.decode(errors='replace')}): its data runs past the end of the archive "
                             "(truncated?)")
        if name == b"TRAILER!!!":
            return
        off = (start + filesize + 3) & ~3


HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def newc_index(data: bytes) -> tuple[frozenset[str], int]:
    """The guest paths a newc archive's entries make ("/a/b"; "." is "/")
    and the offset of its trailer, for an archive read_initrd checked or
    cpio_from_dir made."""
    names, off = set(), 0
    while off + NEWC_HEADER <= len(data) and data[off:off + 5] == b"07070":
        filesize, namesize = int(data[off + 54:off + 62], 16), int(data[off + 94:off + 102], 16)
        name = data[off + NEWC_HEADER:off + NEWC_HEADER + namesize - 1]
        if name == b"TRAILER!!!":
            return frozenset(names), off
        names.add(os.path.normpath("/" + os.fsdecode(name).lstrip("/")))
        off = (((off + NEWC_HEADER + namesize + 3) & ~3) + filesize + 3) & ~3
    return frozenset(names), len(data)


class FileTree:
    """The program's file tree as the image embeds it: the user's archive
    (--files, --initrd) and after it the entries compose gathered
    (hermitcore/dynlink.py: the interpreter, the libraries, --add paths),
    then one trailer. The archive is made by ``read()``, only when an image
    is built; ``key`` stands for it in the image's cache key: the user's
    archive's hash and every gathered entry's path, mode, size and mtime
    (and a generated file's hash), so a warm compose reads none of the
    gathered files."""

    def __init__(self, base: bytes, entries=()):
        self.base = base
        self.entries = tuple(entries)
        self.end = newc_index(base)[1] if base else 0
        total = len(base) + sum(e.size for e in self.entries)
        if total > MAX_FILES_BYTES:
            raise ImageError(f"the program's file tree would hold {total / (1 << 20):.0f} MiB, more than the "
                             f"{MAX_FILES_BYTES >> 20} MiB an image embeds (add less with --add)")
        h = hashlib.sha256(base)
        for e in self.entries:
            h.update(repr((e.guest, e.mode, e.source, e.size, e.mtime)).encode())
            if e.data is not None:
                h.update(hashlib.sha256(e.data).digest())
        self.key = h.hexdigest()

    def read(self) -> bytes:
        if not self.entries:
            return self.base
        parts = [self.base[:self.end]]
        for ino, e in enumerate(self.entries, 1 << 20):
            parts.append(_newc(e.guest.lstrip("/"), e.mode, _entry_bytes(e), ino, e.mtime // 1_000_000_000))
        parts.append(_newc("TRAILER!!!", 0, b"", 0, 0))
        return b"".join(parts)


def _entry_bytes(e) -> bytes:
    if e.data is not None:
        return e.data
    if stat.S_ISLNK(e.mode):
        return os.fsencode(e.source)
    if not stat.S_ISREG(e.mode):
        return b""
    try:
        return Path(e.source).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {e.source} ({e.why}): {exc.strerror}") from None
