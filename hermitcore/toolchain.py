"""Host tools hermitcore needs, and which Debian package provides each."""

from __future__ import annotations

import shutil
import subprocess

from hermitcore.errors import ToolchainError

#: tool -> Debian package that installs it
PACKAGES = {
    "clang": "clang",
    "ld.lld": "lld",
    "dtc": "device-tree-compiler",
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-system-aarch64": "qemu-system-arm",
}


def find_tool(name: str, package: str | None = None) -> str:
    """Absolute path of ``name`` on PATH, or a ToolchainError naming the package."""
    path = shutil.which(name)
    if path is None:
        pkg = package or PACKAGES.get(name, name)
        raise ToolchainError(
            f"'{name}' not found on PATH; install it with: apt-get install {pkg}"
        )
    return path


def run_tool(argv: list[str], what: str, input: bytes | None = None) -> bytes:
    """Run a tool, return stdout; on failure raise with its stderr."""
    try:
        proc = subprocess.run(argv, input=input, capture_output=True)
    except OSError as exc:
        raise ToolchainError(f"{what}: cannot run {argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise ToolchainError(f"{what} failed:\n{err}")
    return proc.stdout
