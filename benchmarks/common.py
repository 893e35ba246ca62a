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
from hermitcore.model import RunOptions
from hermitcore.plugins import make_plugin_manager
from hermitcore.run import HOST_ARCH, kernel_cmdline, kvm_usable, qemu_command

BOARDS = ("qemu-microvm", "qemu-q35", "qemu-virt", "qemu-virt-gicv3")
APPS = Path(__file__).parent / "apps"


def accelerators(arch: str) -> list[str]:
    out = ["tcg"]
    if HOST_ARCH.get(platform.machine()) == arch and kvm_usable() and os.environ.get("HERMIT_KVM", "1") != "0":
        out.append("kvm")
    return out


class Runner:
    """Boots one composed image repeatedly with `hermitcore run`'s command line."""

    def __init__(self, board: str, app: str | None = None, pm=None):
        self.pm = pm or make_plugin_manager()
        self.result = compose(board, app, pm=self.pm)
        self.board = load_board(board)
        self.arch = self.result.spec.arch.name

    def run(self, accel: str, kernel_args=(), app_args=(), timeout: float = 120) -> tuple[float, str]:
        """(host seconds from exec to exit, guest console output)."""
        with tempfile.TemporaryDirectory(prefix="hermit-bench-") as workdir:
            options = RunOptions(
                cpus=1, mem_mib=self.board.qemu.default_mem_mib, accel=accel,
                append=kernel_cmdline(list(app_args), list(kernel_args)), workdir=workdir,
            )
            argv, _ = qemu_command(self.pm, self.board, str(self.result.build.image), options)
            start = time.perf_counter()
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
            elapsed = time.perf_counter() - start
        out = proc.stdout.decode(errors="replace").replace("\r\n", "\n")
        return elapsed, out


def summary(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "median": statistics.median(values),
        "min": values[0],
        "max": values[-1],
    }


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def field(pattern: str, text: str) -> re.Match:
    m = re.search(pattern, text)
    if not m:
        raise RuntimeError(f"benchmark output missing {pattern!r}:\n{text}")
    return m
