"""Static Linux test programs, built at test time with the machine's ordinary
compilers (scripts/setup.sh installs them from Debian). A missing compiler
skips its tests -- except under CI, where it fails them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import APPS

SOURCES = APPS / "linux"

#: kind -> arch -> compiler command (source and -o appended)
COMPILERS = {
    "glibc": {"x86_64": ["gcc", "-static", "-O2"], "aarch64": ["aarch64-linux-gnu-gcc", "-static", "-O2"]},
    "musl": {"x86_64": ["musl-gcc", "-static", "-O2"]},
    "static-pie": {
        "x86_64": ["gcc", "-static-pie", "-fPIE", "-O2"],
        "aarch64": ["aarch64-linux-gnu-gcc", "-static-pie", "-fPIE", "-O2"],
    },
    "dynamic": {"x86_64": ["gcc", "-O2"], "aarch64": ["aarch64-linux-gnu-gcc", "-O2"]},
    "c++": {
        "x86_64": ["g++", "-static", "-O2", "-std=c++17"],
        "aarch64": ["aarch64-linux-gnu-g++", "-static", "-O2", "-std=c++17"],
    },
    "fortran": {
        "x86_64": ["gfortran", "-static", "-O2"],
        "aarch64": ["aarch64-linux-gnu-gfortran", "-static", "-O2"],
    },
    "openmp": {
        "x86_64": ["gcc", "-static", "-O2", "-fopenmp"],
        "aarch64": ["aarch64-linux-gnu-gcc", "-static", "-O2", "-fopenmp"],
    },
    # with debug information, unoptimised: programs to step through in gdb (tests/integration/test_debug.py)
    "debug": {"x86_64": ["gcc", "-static", "-g", "-O0"], "aarch64": ["aarch64-linux-gnu-gcc", "-static", "-g", "-O0"]},
    "debug-static-pie": {
        "x86_64": ["gcc", "-static-pie", "-fPIE", "-g", "-O0"],
        "aarch64": ["aarch64-linux-gnu-gcc", "-static-pie", "-fPIE", "-g", "-O0"],
    },
    "debug-dynamic": {"x86_64": ["gcc", "-g", "-O0"], "aarch64": ["aarch64-linux-gnu-gcc", "-g", "-O0"]},
    "rust": {
        "x86_64": ["rustc", "--edition=2021", "-O", "-C", "target-feature=+crt-static",
                   "--target", "x86_64-unknown-linux-gnu"],
        "aarch64": ["rustc", "--edition=2021", "-O", "-C", "target-feature=+crt-static",
                    "--target", "aarch64-unknown-linux-gnu", "-C", "linker=aarch64-linux-gnu-gcc"],
    },
}

#: toolchains CI must have (scripts/setup.sh installs them); rust is optional
REQUIRED_IN_CI = {"glibc", "musl", "static-pie", "dynamic", "c++", "fortran", "openmp", "go", "debug",
                  "debug-static-pie", "debug-dynamic"}


def unavailable(kind: str, arch: str, why: str):
    if os.environ.get("CI") and kind in REQUIRED_IN_CI:
        pytest.fail(f"{kind} for {arch}: {why} (scripts/setup.sh should have installed it)")
    pytest.skip(f"{kind} for {arch}: {why}")


class Builder:
    def __init__(self, root: Path):
        self.root = root
        self.done: dict[tuple[str, str, str], Path] = {}

    def build(self, kind: str, arch: str, source: str) -> Path:
        key = (kind, arch, source)
        if key in self.done:
            return self.done[key]
        if kind == "go":
            return self._go(arch, source)
        cmd = COMPILERS.get(kind, {}).get(arch)
        if cmd is None:  # not a gap in the machine's setup: skip even under CI
            pytest.skip(f"{kind} for {arch}: no such toolchain in Debian for this architecture")
        if shutil.which(cmd[0]) is None:
            unavailable(kind, arch, f"{cmd[0]} not installed")
        out = self.root / f"{Path(source).stem}-{kind}-{arch}"
        proc = subprocess.run([*cmd, str(SOURCES / source), "-o", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            if kind == "rust" and ("target may not be installed" in proc.stderr or "can't find crate" in proc.stderr):
                unavailable(kind, arch, "the Rust standard library for this target is not installed")
            raise AssertionError(f"building {source} ({kind}, {arch}) failed:\n{proc.stderr}")
        self.done[key] = out
        return out

    def _go(self, arch: str, source: str) -> Path:
        """A Go program built static with Debian's go (CGO_ENABLED=0;
        GOARCH=arm64 cross-compiles)."""
        go = shutil.which("go")
        if go is None:
            unavailable("go", arch, "go is not installed")
        out = self.root / f"{Path(source).stem}-go-{arch}"
        env = dict(os.environ, CGO_ENABLED="0", GOARCH={"x86_64": "amd64", "aarch64": "arm64"}[arch],
                   GOCACHE=str(self.root / "gocache"), GOPATH=str(self.root / "gopath"), GO111MODULE="off")
        proc = subprocess.run([go, "build", "-o", str(out), str(SOURCES / source)], env=env, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise AssertionError(f"building {source} (go, {arch}) failed:\n{proc.stderr}")
        self.done[("go", arch, source)] = out
        return out
