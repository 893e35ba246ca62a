"""The vDSO: the shared object the kernel maps into every Linux program
(AT_SYSINFO_EHDR) so that clock_gettime, gettimeofday and time need no
system call. The architecture's plugin gives its sources and linker script
(the ``hermitcore_emit_vdso`` hook); it is built here, apart from the kernel,
with clang and ld.lld, checked and cached by the hash of what it is made of."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from hermitcore.build import toolchain
from hermitcore.errors import ToolchainError
from hermitcore.model import Architecture, Fragment
from hermitcore.paths import cache_dir

SONAME = "linux-vdso.so.1"
CFLAGS = ("-O2", "-fPIC", "-ffreestanding", "-fno-stack-protector", "-fasynchronous-unwind-tables",
          "-fno-builtin", "-Wall", "-Werror")
PAGE = 4096


def build_vdso(arch: Architecture, frag: Fragment, include: Path) -> bytes:
    """The vDSO of ``frag`` for ``arch`` (headers from ``include``, the
    kernel's include directory): its bytes, from the cache when built before."""
    clang, lld, resource, version = toolchain()
    target = f"{arch.name}-unknown-linux-gnu"
    h = hashlib.sha256("\0".join([version, target, *CFLAGS, frag.linker_script or ""]).encode())
    for src in sorted(frag.sources, key=lambda s: s.name):
        h.update(src.name.encode() + b"\0" + src.text.encode() + b"\0")
    for header in sorted(include.rglob("*.h")):
        h.update(str(header.relative_to(include)).encode() + b"\0" + header.read_bytes())
    out = cache_dir() / "vdso" / f"{arch.name}-{h.hexdigest()[:24]}.so"
    if out.is_file():
        return out.read_bytes()
    if not frag.linker_script:
        raise ToolchainError(f"the {arch.name} vDSO has no linker script")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hermit-vdso-", dir=out.parent) as tmp:
        root = Path(tmp)
        objects = []
        for src in frag.sources:
            path = root / src.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(src.text)
            if path.suffix != ".c":
                continue
            obj = path.with_suffix(".o")
            _run([clang, f"--target={target}", *CFLAGS, "-nostdinc", "-isystem", os.path.join(resource, "include"),
                  f"-I{include}", "-c", str(path), "-o", str(obj)], f"compiling the vDSO's {src.name}", root)
            objects.append(str(obj))
        script = root / "vdso.lds"
        script.write_text(frag.linker_script)
        linked = root / "vdso.so"
        _run([lld, "-shared", "--hash-style=both", "--eh-frame-hdr", f"-soname={SONAME}", "-T", str(script),
              "--no-undefined", "-z", f"max-page-size={PAGE}", "-z", "noexecstack", "--build-id=none", "-o",
              str(linked), *objects], "linking the vDSO", root)
        data = linked.read_bytes()
        _check(arch, data)
        tmp_out = out.with_suffix(".tmp")
        tmp_out.write_bytes(data)
        os.replace(tmp_out, out)
    return data


def _run(cmd: list[str], what: str, root: Path) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise ToolchainError(f"{what} failed:\n{proc.stderr.replace(str(root) + '/', '').strip()}")


def _check(arch: Architecture, data: bytes) -> None:
    """What the kernel relies on: one PT_LOAD from offset 0 at address 0
    (mapped as it is), no relocations (nothing fixes them up), a dynamic
    symbol table with versions (how C libraries find the entry points)."""
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(data))
    loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    if len(loads) != 1 or loads[0]["p_offset"] or loads[0]["p_vaddr"]:
        raise ToolchainError(f"the {arch.name} vDSO must be one PT_LOAD at offset and address 0")
    if loads[0]["p_memsz"] != loads[0]["p_filesz"] or loads[0]["p_filesz"] > len(data):
        raise ToolchainError(f"the {arch.name} vDSO must have no zero-filled part (.bss)")
    relocs = [s.name for s in elf.iter_sections() if s["sh_type"] in ("SHT_RELA", "SHT_REL", "SHT_RELR")]
    if relocs:
        raise ToolchainError(f"the {arch.name} vDSO has relocations ({', '.join(relocs)}); nothing applies them")
    names = {s.name for s in elf.iter_sections()}
    missing = {".dynsym", ".gnu.version", ".gnu.version_d"} - names
    if missing:
        raise ToolchainError(f"the {arch.name} vDSO lacks {', '.join(sorted(missing))}")
