"""Build stage: compile the ImageSpec's sources with clang, link with ld.lld.

Results are cached by a hash of everything that goes in (sources, flags,
toolchain version), so composing the same image twice costs one hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import attrs

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
    "-fno-asynchronous-unwind-tables",
    "-ffunction-sections",
    "-fdata-sections",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
)


@attrs.frozen
class BuildResult:
    image: Path
    key: str
    cached: bool
    size: int


def cache_dir() -> Path:
    root = os.environ.get("HERMIT_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hermitcore"


@lru_cache(maxsize=None)
def toolchain() -> tuple[str, str, str, str]:
    """(clang, ld.lld, clang resource dir, clang version line)."""
    clang = find_tool("clang")
    lld = find_tool("ld.lld")
    try:
        version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        resource = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True).stdout.strip()
    except (OSError, IndexError) as exc:
        raise ToolchainError(f"cannot run {clang}: {exc}") from exc
    return clang, lld, resource, version


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
    for part in [version, spec.arch.clang_target, *COMMON_CFLAGS, *flags, *incs, script, *spec.arch.ldflags]:
        h.update(part.encode() + b"\0")
    for src in sorted(_all_sources(spec), key=lambda s: s.name):
        h.update(src.name.encode() + b"\0" + src.text.encode() + b"\0")
    return h.hexdigest()[:24]


def build_image(spec, progress=None) -> BuildResult:
    key = spec_key(spec)
    out_dir = cache_dir() / "images"
    image = out_dir / f"{spec.board.name}-{spec.app_name}-{key}.elf"
    if image.is_file():
        return BuildResult(image=image, key=key, cached=True, size=image.stat().st_size)

    clang, lld, resource, _ = toolchain()
    flags, incs, script = _flags(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hermit-build-", dir=out_dir) as tmp:
        root = Path(tmp)
        units = []
        for src in _all_sources(spec):
            path = root / src.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(src.text)
            if path.suffix in (".c", ".S"):
                units.append(path)
        (root / "kernel.ld").write_text(script)
        base = [
            clang,
            f"--target={spec.arch.clang_target}",
            *COMMON_CFLAGS,
            "-isystem", os.path.join(resource, "include"),  # stddef.h, stdint.h, stdarg.h
            *[f"-I{root / i}" for i in incs],
            *flags,
        ]
        if progress:
            progress(f"compiling {len(units)} sources for {spec.arch.name}")

        def compile_one(path: Path) -> Path:
            obj = path.with_suffix(path.suffix + ".o")
            proc = subprocess.run([*base, "-c", str(path), "-o", str(obj)], capture_output=True, text=True)
            if proc.returncode != 0:
                err = proc.stderr.replace(str(root) + "/", "")
                raise ToolchainError(f"compiling {path.relative_to(root)} failed:\n{err.strip()}")
            return obj

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            objects = list(pool.map(compile_one, units))
        linked = root / "kernel.elf"
        cmd = [
            lld, "-nostdlib", "--no-pie", "--gc-sections", "--build-id=none",
            *spec.arch.ldflags, "-T", str(root / "kernel.ld"), "-o", str(linked),
            *map(str, objects),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            err = proc.stderr.replace(str(root) + "/", "")
            raise ToolchainError(f"linking the image failed:\n{err.strip()}")
        tmp_image = image.with_suffix(".tmp")
        shutil.copyfile(linked, tmp_image)
        os.replace(tmp_image, image)
    return BuildResult(image=image, key=key, cached=False, size=image.stat().st_size)
