"""Build stage: compile the ImageSpec's sources with clang, link with ld.lld.

Results are cached by a hash of everything that goes in (sources, flags,
toolchain version), so composing the same image twice costs one hash. Object
files are cached too, each under a hash of its flags and source, with the
hashes of the headers it included (clang -MD) checked on reuse -- like
ccache's direct mode -- so a new image recompiles only what differs (the
kernel and lwIP are compiled once, not once per program).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import attrs

from hermitcore.paths import cache_dir  # noqa: F401 (re-exported)
from hermitcore.errors import ToolchainError
from hermitcore.toolchain import find_tool

COMMON_CFLAGS = (
    "-std=gnu11",
    "-ffreestanding",
    "-fno-builtin",
    "-nostdlib",
    "-nostdinc",
    "-fno-stack-protector",
    "-fno-pic",
    "-fno-pie",
    "-fno-omit-frame-pointer",
    "-mno-omit-leaf-frame-pointer",  # leaf frames too: complete backtraces
    "-fno-asynchronous-unwind-tables",
    "-ffunction-sections",
    "-fdata-sections",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Werror=implicit-function-declaration",  # an undeclared call truncates pointers to int
)


#: the build tree's name in the DWARF (-fdebug-prefix-map): the same in every
#: object, so a cached object compiled for another image names its source the
#: way this image's does; keep_sources puts the texts where gdb is told to look
DEBUG_PREFIX = "/hermitcore-build"
#: in the cache keys of objects and images: how their debug information names files
DEBUG_PATHS = f"debug-prefix-map={DEBUG_PREFIX} assembly-compilation-dir"


@attrs.frozen
class BuildResult:
    image: Path
    key: str
    cached: bool
    size: int


@lru_cache(maxsize=None)
def toolchain() -> tuple[str, str, str, str]:
    """(clang, ld.lld, clang resource dir, clang version line). Asking clang
    costs two processes (~40 ms, most of a warm compose), so the answers
    are kept in the cache, for as long as the clang binary they came from
    is the same file (path, size, mtime)."""
    clang = find_tool("clang")
    lld = find_tool("ld.lld")
    real = os.path.realpath(clang)
    try:
        st = os.stat(real)
        stamp = [clang, real, st.st_size, st.st_mtime_ns]
    except OSError:
        stamp = None
    kept = cache_dir() / "toolchain.json"
    try:
        known = json.loads(kept.read_text())
        if stamp is not None and known["stamp"] == stamp:
            return clang, lld, known["resource"], known["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        resource = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True).stdout.strip()
    except (OSError, IndexError) as exc:
        raise ToolchainError(f"cannot run {clang}: {exc}") from exc
    if stamp is not None and resource:
        _write_atomic(kept, json.dumps({"stamp": stamp, "resource": resource, "version": version}))
    return clang, lld, resource, version


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        pass  # only a cache


def sources_dir(image) -> Path:
    """Where the texts an image was compiled from are kept (for gdb: the
    DWARF names them under DEBUG_PREFIX), by a hash of the image's bytes, so
    a copy of the image (compose -o) finds them too."""
    h = hashlib.sha256()
    with open(image, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return cache_dir() / "sources" / h.hexdigest()[:24]


def keep_sources(image, texts: dict[str, str]) -> None:
    """The image's C, assembly and header texts under sources_dir(image),
    each a hard link to one copy per distinct text (sources/blobs): an image
    costs directory entries, not another copy of the kernel's sources. Best
    effort: only gdb's source listing needs them."""
    try:
        top = sources_dir(image)
        blobs = cache_dir() / "sources" / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            if not name.endswith((".c", ".S", ".h", ".ld")) or text is None:
                continue
            data = text.encode()
            blob = blobs / hashlib.sha256(data).hexdigest()[:32]
            if not blob.is_file():
                tmp = blob.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, blob)
            dest = top / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                dest.unlink()
            try:
                os.link(blob, dest)
            except OSError:
                shutil.copyfile(blob, dest)
    except OSError:
        pass


def _all_sources(spec):
    for src in spec.core:
        yield src
    for src in spec.generated:
        yield src
    for _, _, frag in spec.fragments:
        yield from frag.sources


def _flags(spec) -> tuple[list[str], list[str], str]:
    defines: dict[str, str] = {}
    cflags: list[str] = []
    incs = ["generated", "kernel/include"]
    for _, plugin, frag in spec.fragments:
        for k, v in frag.defines.items():
            if k in defines and defines[k] != v:
                raise ToolchainError(f"define {k} set twice with different values (last by plugin '{plugin}')")
            defines[k] = v
        cflags.extend(frag.cflags)
        incs.extend(frag.include_dirs)
    flags = list(spec.arch.cflags) + cflags + [f"-D{k}={v}" for k, v in sorted(defines.items())]
    script = next(f.linker_script for _, _, f in spec.fragments if f.linker_script)
    return flags, incs, script


def spec_key(spec) -> str:
    clang, lld, resource, version = toolchain()
    flags, incs, script = _flags(spec)
    h = hashlib.sha256()
    for part in [version, spec.arch.clang_target, *COMMON_CFLAGS, *flags, *incs, script, *spec.arch.ldflags,
                 DEBUG_PATHS]:
        h.update(part.encode() + b"\0")
    for src in sorted(_all_sources(spec), key=lambda s: s.name):
        h.update(src.name.encode() + b"\0" + src.text.encode() + b"\0")
        if isinstance(src.data, bytes):
            h.update(hashlib.sha256(src.data).digest())
        elif src.data is not None:  # a Blob: its key, not its bytes (made only to build)
            h.update(src.data.key.encode())
    return h.hexdigest()[:24]


MAX_LINK_PASSES = 4


class ObjectCache:
    """Compiled objects shared between images. An entry is keyed by the
    compile flags, the source's name and text; it records the headers the
    compiler read (with -MD) and their hashes, and is reused only while every
    one of them is unchanged. Sources that pull in data with ``.incbin`` are
    never cached (-MD does not see those files)."""

    def __init__(self, root: Path, flags_key: str, texts: dict[str, str]):
        self.root = root
        self.flags_key = flags_key
        self.texts = texts
        self._hashes: dict[str, str] = {}

    def _hash(self, name: str) -> str | None:
        if name not in self._hashes:
            text = self.texts.get(name)
            self._hashes[name] = hashlib.sha256(text.encode()).hexdigest() if text is not None else ""
        return self._hashes[name] or None

    def _entry(self, name: str) -> Path | None:
        text = self.texts.get(name)
        if text is None or ".incbin" in text:
            return None
        h = hashlib.sha256(f"{self.flags_key}\0{name}\0".encode() + text.encode()).hexdigest()[:32]
        return self.root / h[:2] / h

    def lookup(self, name: str) -> Path | None:
        entry = self._entry(name)
        if entry is None:
            return None
        try:
            deps = json.loads(entry.with_suffix(".deps").read_text())
        except (OSError, ValueError):
            return None
        obj = entry.with_suffix(".o")
        if not obj.is_file() or any(self._hash(h) != sha for h, sha in deps.items()):
            return None
        return obj

    def store(self, name: str, obj: Path, depfile: Path, build_root: Path) -> None:
        entry = self._entry(name)
        if entry is None:
            return
        try:
            text = depfile.read_text().replace("\\\n", " ")
        except OSError:
            return
        prefix = str(build_root) + "/"
        deps = {}
        for token in text.split(":", 1)[-1].split():
            if not token.startswith("/"):  # relative to the build tree (assembly is compiled from there)
                token = prefix + token
            if token.startswith(prefix) and token[len(prefix):] != name:
                header = token[len(prefix):]
                sha = self._hash(header)
                if sha is None:
                    return  # a file outside the spec: do not cache
                deps[header] = sha
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".tmp{os.getpid()}")
        shutil.copyfile(obj, tmp)
        os.replace(tmp, entry.with_suffix(".o"))
        tmp.write_text(json.dumps(deps, sort_keys=True))
        os.replace(tmp, entry.with_suffix(".deps"))


def cached_layout(image: Path):
    """``read_layout`` of a cached image, kept beside it as JSON after the
    first time (an image in the cache never changes: its name is the hash
    of its inputs); parsing the symbols with pyelftools is most of a warm
    compose otherwise."""
    from hermitcore.model import Layout, Section

    kept = image.with_suffix(".layout.json")
    try:
        data = json.loads(kept.read_text())
        return Layout(sections=tuple(Section(*s) for s in data["sections"]), symbols=data["symbols"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    layout = read_layout(image)
    _write_atomic(kept, json.dumps({
        "sections": [[s.name, s.address, s.size, s.writable, s.executable] for s in layout.sections],
        "symbols": dict(layout.symbols),
    }))
    return layout


def read_layout(path: Path):
    """Allocated sections and global symbols of a linked ELF (pyelftools)."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    from hermitcore.model import Layout, Section

    with path.open("rb") as f:
        elf = ELFFile(f)
        sections = tuple(
            Section(
                name=sec.name,
                address=sec["sh_addr"],
                size=sec["sh_size"],
                writable=bool(sec["sh_flags"] & SH_FLAGS.SHF_WRITE),
                executable=bool(sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR),
            )
            for sec in elf.iter_sections()
            if sec["sh_flags"] & SH_FLAGS.SHF_ALLOC and sec["sh_size"]
        )
        symbols = {}
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():
                if sym.name and sym["st_info"]["bind"] == "STB_GLOBAL":
                    symbols[sym.name] = sym["st_value"]
    return Layout(sections=sections, symbols=symbols)


def build_image(spec, progress=None, relink=None) -> BuildResult:
    """Compile and link ``spec``. ``relink(layout)``, if given, returns
    sources that depend on the linked layout (page tables); they replace the
    sources of the same name and the image is relinked until they settle."""
    key = spec_key(spec)
    out_dir = cache_dir() / "images"
    image = out_dir / f"{spec.board.name}-{spec.app_name}-{key}.elf"
    if image.is_file():
        return BuildResult(image=image, key=key, cached=True, size=image.stat().st_size)

    clang, lld, resource, version = toolchain()
    flags, incs, script = _flags(spec)
    flags_key = hashlib.sha256(
        "\0".join([version, spec.arch.clang_target, *COMMON_CFLAGS, *flags, *incs, DEBUG_PATHS]).encode()
    ).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hermit-build-", dir=out_dir) as tmp:
        root = Path(tmp)
        units: dict[str, Path] = {}
        texts: dict[str, str] = {}

        def write(src) -> Path:
            path = root / src.name
            path.parent.mkdir(parents=True, exist_ok=True)
            if src.data is not None:
                path.write_bytes(src.data if isinstance(src.data, bytes) else src.data.read())
            else:
                path.write_text(src.text)
            texts[src.name] = src.text
            return path

        for src in _all_sources(spec):
            path = write(src)
            if path.suffix in (".c", ".S"):
                units[src.name] = path
        (root / "kernel.ld").write_text(script)
        base = [
            clang,
            f"--target={spec.arch.clang_target}",
            *COMMON_CFLAGS,
            f"-fdebug-prefix-map={root}={DEBUG_PREFIX}",
            "-isystem", os.path.join(resource, "include"),  # stddef.h, stdint.h, stdarg.h
            *[f"-I{root / i}" for i in incs],
            *flags,
        ]
        objcache = ObjectCache(cache_dir() / "objects", flags_key, texts)
        if progress:
            fresh = sum(1 for name in units if not objcache.lookup(name))
            progress(f"compiling {fresh} of {len(units)} sources for {spec.arch.name} (the rest are cached)")

        def compile_one(path: Path) -> Path:
            name = str(path.relative_to(root))
            hit = objcache.lookup(name)
            if hit:
                return hit
            obj = path.with_suffix(path.suffix + ".o")
            dep = path.with_suffix(path.suffix + ".d")
            # assembly by its name in the build tree, from there: clang's assembler (14) keeps its file names
            # and line-table directory out of -fdebug-prefix-map, but takes the compilation directory
            source = [name, f"-fdebug-compilation-dir={DEBUG_PREFIX}"] if path.suffix == ".S" else [str(path)]
            proc = subprocess.run([*base, "-MD", "-MF", str(dep), "-c", *source, "-o", str(obj)],
                                  capture_output=True, text=True, cwd=root)
            if proc.returncode != 0:
                err = proc.stderr.replace(str(root) + "/", "")
                raise ToolchainError(f"compiling {path.relative_to(root)} failed:\n{err.strip()}")
            objcache.store(name, obj, dep, root)
            return obj

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            objects = dict(zip(units, pool.map(compile_one, units.values())))
        linked = root / "kernel.elf"

        def link() -> None:
            cmd = [
                lld, "-nostdlib", "--no-pie", "--gc-sections", "--build-id=none",
                *spec.arch.ldflags, "-L", str(root / "kernel"), "-T", str(root / "kernel.ld"), "-o", str(linked),
                *(str(objects[name]) for name in units),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                err = proc.stderr.replace(str(root) + "/", "")
                raise ToolchainError(f"linking the image failed:\n{err.strip()}")

        link()
        for _ in range(MAX_LINK_PASSES if relink else 0):
            changed = [src for src in relink(read_layout(linked)) if texts.get(src.name) != src.text]
            if not changed:
                break
            for src in changed:
                if src.name not in units:
                    raise ToolchainError(f"layout-dependent source {src.name} was not in the first pass")
                objects[src.name] = compile_one(write(src))
            link()
        else:
            if relink:
                raise ToolchainError(f"page tables did not settle after {MAX_LINK_PASSES} link passes")
        tmp_image = image.with_suffix(".tmp")
        shutil.copyfile(linked, tmp_image)
        keep_sources(tmp_image, texts)
        os.replace(tmp_image, image)
    return BuildResult(image=image, key=key, cached=False, size=image.stat().st_size)
