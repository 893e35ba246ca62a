"""Static Linux executables as hermitcore applications: the compose-time
checks (pyelftools) and the read-only file tree (a cpio "newc" archive)."""

from __future__ import annotations

import gzip
import io
import os
import stat
from pathlib import Path

import attrs

from hermitcore.errors import ImageError

MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}
DF_1_PIE = 0x08000000
USER_LIMIT = 0x40_0000_0000  # hermit/user.h: programs live below 256 GiB
MAX_FILES_BYTES = 512 << 20


@attrs.frozen
class Program:
    path: str
    name: str
    arch: str
    kind: str  # "static" (ET_EXEC) or "static-pie"
    data: bytes = attrs.field(repr=False)


def is_elf(path: str | Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def inspect_program(path: str | Path, board_arch: str, board_name: str) -> Program:
    """Check that ``path`` is a static executable for ``board_arch``; one
    actionable line per problem."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror}") from None
    if data[:4] != b"\x7fELF":
        raise ImageError(f"{path}: not an ELF executable (nor a C source file ending in .c)")
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
        etype = elf["e_type"]
        arch = MACHINES.get(machine, machine.replace("EM_", "").lower())
        if elf.elfclass != 64:
            raise ImageError(f"{path}: a 32-bit {arch} executable; hermitcore runs 64-bit programs ({board_arch})")
        if arch != board_arch:
            raise ImageError(
                f"{path} is a {arch} executable, but board '{board_name}' needs {board_arch}"
                + (f"; build it with {board_arch}-linux-gnu-gcc -static" if board_arch == "aarch64" else "")
            )
        if etype == "ET_REL":
            raise ImageError(f"{path}: an object file, not an executable; link it (e.g. gcc -static -o prog prog.o)")
        if etype not in ("ET_EXEC", "ET_DYN"):
            raise ImageError(f"{path}: not an executable (ELF type {etype})")
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_INTERP":
                interp = seg.get_interp_name()
                raise ImageError(
                    f"{path} is dynamically linked (interpreter {interp}); hermitcore runs static executables: "
                    "rebuild it with -static (or -static-pie)"
                )
        kind = "static"
        if etype == "ET_DYN":
            pie = False
            for sec in elf.iter_sections():
                if isinstance(sec, DynamicSection):
                    for tag in sec.iter_tags():
                        if tag.entry.d_tag == "DT_FLAGS_1" and tag.entry.d_val & DF_1_PIE:
                            pie = True
            if not pie:
                raise ImageError(f"{path}: a shared library, not an executable")
            kind = "static-pie"
        else:
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] + seg["p_memsz"] > USER_LIMIT:
                    raise ImageError(f"{path}: loads at {seg['p_vaddr']:#x}, above the 256 GiB programs may use")
        if not any(seg["p_type"] == "PT_LOAD" for seg in elf.iter_segments()):
            raise ImageError(f"{path}: no loadable segments")
    except ELFError as exc:
        raise ImageError(f"{path}: corrupt ELF file ({exc})") from None
    return Program(path=str(path), name=p.name, arch=arch, kind=kind, data=data)


def _newc(name: str, mode: int, data: bytes, ino: int, mtime: int) -> bytes:
    encoded = name.encode() + b"\0"
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
    parts = []
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
    """A cpio newc archive as given (gzip-compressed is unpacked here)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"--initrd {path}: {exc.strerror}") from None
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:6] not in (b"070701", b"070702"):
        raise ImageError(f"--initrd {path}: not a cpio archive in newc format (make one with: find . | cpio -o -H newc)")
    return data
