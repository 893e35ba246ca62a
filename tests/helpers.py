"""What the integration tests share, defined once: the board each
architecture's Linux programs run on, running one, and reading what the
program printed (its stdout, apart from the kernel's log). (Fixtures stay in
conftest.py files; helpers for building programs in linux_programs.py.)"""

from __future__ import annotations

from tests.conftest import Result, hermit

#: the board each architecture's programs run on (fast-booting ones)
BOARD = {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}
#: the guest's own time limit for a Linux program's run, seconds
TIMEOUT = "120"

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
    """What the program printed on stdout: exactly its lines."""
    return r.out.splitlines()


def no_panic(r: Result) -> None:
    text = r.err + r.log
    assert "PANIC" not in text and "EXCEPTION" not in text and "Traceback" not in r.err, r
