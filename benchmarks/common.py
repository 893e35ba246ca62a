"""Shared helpers: compose images, run them with the exact QEMU command line
`hermitcore run` uses, pick accelerators available here."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from hermitcore.board import load_board
from hermitcore.compose import compose
from hermitcore.errors import ImageError
from hermitcore.image import read_image
from hermitcore.model import RunOptions
from hermitcore.plugins import make_plugin_manager
from hermitcore.run import HOST_ARCH, kernel_cmdline, kvm_usable, printable, qemu_command

BOARDS = ("qemu-microvm", "qemu-q35", "qemu-virt", "qemu-virt-gicv3")
APPS = Path(__file__).parent / "apps"


def accelerators(arch: str) -> list[str]:
    out = ["tcg"]
    if HOST_ARCH.get(platform.machine()) == arch and kvm_usable() and os.environ.get("HERMIT_KVM", "1") != "0":
        out.append("kvm")
    return out


class Runner:
    """Boots one composed image repeatedly with `hermitcore run`'s command line."""

    def __init__(self, board: str, app: str | None = None, pm=None, adds=()):
        self.pm = pm or make_plugin_manager()
        self.result = compose(board, app, pm=self.pm, adds=tuple(adds))
        self.board = load_board(board)
        self.arch = self.result.spec.arch.name

    def run(self, accel: str, kernel_args=(), app_args=(), timeout: float = 120, image=None,
            mem_mib: int | None = None, cpus: int = 1) -> tuple[float, str]:
        """(host seconds from exec to exit, guest output: the kernel log, then
        the program's stdout). `image` replaces the composed one on the very
        same command line (QEMU floor). QEMU runs on `run --print-qemu`'s
        chardevs: the kernel log on its stderr, the streams on its stdio."""
        image = str(image or self.result.build.image)
        try:
            stdio = read_image(image).meta.get("stdio", "")
        except ImageError:
            stdio = ""  # a foreign kernel: its console on QEMU's stdio
        with tempfile.TemporaryDirectory(prefix="hermit-bench-") as workdir:
            options = RunOptions(
                cpus=cpus, mem_mib=mem_mib or self.board.qemu.default_mem_mib, accel=accel,
                append=kernel_cmdline(list(app_args), list(kernel_args)), workdir=workdir, stdio=stdio,
            )
            argv, _ = qemu_command(self.pm, self.board, image, options)
            start = time.perf_counter()
            proc = subprocess.run(printable(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
            elapsed = time.perf_counter() - start
        out = (proc.stderr if stdio else b"") + proc.stdout
        return elapsed, out.decode(errors="replace").replace("\r\n", "\n")


def summary(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "median": statistics.median(values),
        "min": values[0],
        "max": values[-1],
    }


def field(pattern: str, text: str) -> re.Match:
    m = re.search(pattern, text)
    if not m:
        raise RuntimeError(f"benchmark output missing {pattern!r}:\n{text}")
    return m


def machine_description() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        qemu = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "host_arch": platform.machine(),
        "kvm": kvm_usable(),
        "qemu": qemu,
        "python": platform.python_version(),
    }


FLOOR = Path(__file__).parent / "floor"


def build_floor(arch: str, ram_base: int, out_dir: Path) -> Path:
    """The QEMU floor kernel for `arch` (see floor/*.S), built with clang+lld."""
    from hermitcore.build import toolchain

    clang, lld, _, _ = toolchain()
    base = 0x100000 if arch == "x86_64" else ram_base + 0x100000  # where the kernels link
    target = {"x86_64": "x86_64-unknown-none-elf", "aarch64": "aarch64-unknown-none-elf"}[arch]
    obj, elf, script = out_dir / f"floor-{arch}.o", out_dir / f"floor-{arch}.elf", out_dir / f"floor-{arch}.ld"
    script.write_text((FLOOR / "floor.ld").read_text().replace("FLOOR_BASE", hex(base)))
    subprocess.run([clang, f"--target={target}", "-c", str(FLOOR / f"{arch}.S"), "-o", str(obj)], check=True)
    subprocess.run([lld, "-T", str(script), "-o", str(elf), str(obj)], check=True)
    return elf
