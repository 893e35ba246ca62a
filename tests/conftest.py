"""Shared test helpers.

HERMIT_TEST_ARCH (set by tox) selects which architecture's boards the
integration tests boot; unset, both are tested. Composed images are shared
through one cache directory per test session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
def _boards() -> dict[str, str]:
    """Every built-in board folder (boards/<name>/board.toml) -> its
    architecture: the test matrix is the boards that exist."""
    import tomllib

    out = {}
    for toml in sorted((ROOT / "boards").glob("*/board.toml")):
        out[toml.parent.name] = tomllib.loads(toml.read_text())["arch"]
    return out


BOARDS = _boards()


def selected_arches() -> list[str]:
    wanted = os.environ.get("HERMIT_TEST_ARCH", "")
    return [a for a in ("x86_64", "aarch64") if not wanted or a in wanted.split(",")]


def selected_boards() -> list[str]:
    arches = selected_arches()
    return [b for b, a in BOARDS.items() if a in arches]


@pytest.fixture(scope="session", autouse=True)
def _hermit_cache(tmp_path_factory):
    cache = os.environ.get("HERMIT_TEST_CACHE") or str(tmp_path_factory.mktemp("hermit-cache"))
    os.environ["HERMIT_CACHE_DIR"] = cache
    yield cache


class Result:
    """A finished `hermitcore` command: ``out``/``lines`` are its stdout (for
    `run`, exactly the program's), ``err`` its stderr, and for `run` ``log``
    and ``log_lines`` the kernel log it saved (--kernel-log)."""

    def __init__(self, proc: subprocess.CompletedProcess, log: str = ""):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.lines = proc.stdout.splitlines()
        self.log = log
        self.log_lines = log.splitlines()

    def __repr__(self):
        return f"<rc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}\n--- kernel log\n{self.log}>"


def hermit(*args: str, env: dict | None = None, timeout: float = 180, stdin=subprocess.DEVNULL) -> Result:
    """Run the real `hermitcore` CLI in a subprocess. A `run` saves the
    kernel log (--kernel-log) for the test to read as ``log``."""
    import tempfile

    full_env = dict(os.environ)
    full_env.update(env or {})
    args = list(args)
    log_path = None
    if args and args[0] == "run" and "--print-qemu" not in args and "--kernel-log" not in args:
        fd, log_path = tempfile.mkstemp(prefix="hermit-kernel-log-")
        os.close(fd)
        cut = args.index("--") if "--" in args else len(args)
        args[cut:cut] = ["--kernel-log", log_path]
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hermitcore", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            stdin=stdin,
        )
        log = ""
        if log_path:
            with open(log_path, "rb") as f:
                log = f.read().decode(errors="replace")
    finally:
        if log_path:
            os.unlink(log_path)
    return Result(proc, log)
