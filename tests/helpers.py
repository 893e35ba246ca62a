"""What the integration tests share, defined once: the board each
architecture's Linux programs run on, running one, and reading what the
program printed apart from the kernel's lines. (Fixtures stay in
conftest.py files; helpers for building programs in linux_programs.py.)"""

from __future__ import annotations

import re

from tests.conftest import Result, hermit

#: the board each architecture's programs run on (fast-booting ones)
BOARD = {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}
#: the guest's own time limit for a Linux program's run, seconds
TIMEOUT = "120"

#: the kernel's banner and log lines: `[hermit] ...`, a driver plugin's `[name] ...`
KERNEL_LINE = re.compile(r"hermitcore \d+\.\d+\.\d+ on |\[[a-z0-9_.-]+\] ")


def run_linux(arch: str, program, *args: str, files=None, env=(), extra=(), mount=None,
              timeout: float = 180) -> Result:
    """`hermitcore run` of a Linux program on the architecture's board:
    `files` embeds a tree, `env` is KEY=VALUE strings, `mount` a host
    directory at /m, `extra` more run options."""
    cmd = ["run", "--board", BOARD[arch], str(program), "--timeout", TIMEOUT, *extra]
    if files:
        cmd += ["--files", str(files)]
    if mount:
        cmd += ["--mount", f"{mount}:/m"]
    for kv in env:
        cmd += ["--env", kv]
    return hermit(*cmd, "--", *args, timeout=timeout)


def program_lines(r: Result) -> list[str]:
    """What the program printed: the console's kernel lines left out (they
    share stdout until the standard-streams work separates them; a
    third-party driver plugin, as tox installs one, logs there too), and the
    console's \\r\\n taken back to \\n."""
    return [line.rstrip("\r") for line in r.out.splitlines() if not KERNEL_LINE.match(line)]


def no_panic(r: Result) -> None:
    assert "PANIC" not in r.out and "EXCEPTION" not in r.out and "Traceback" not in r.err, r
