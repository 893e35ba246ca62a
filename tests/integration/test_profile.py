"""The sampling profiler (issue #21): `run --profile FILE` writes folded
stacks of the program, named from its symbols; a program spending ~70% of
its time in one function and ~30% in another shows that split (within 10
points) -- both architectures."""

from __future__ import annotations

import subprocess

from tests.helpers import no_panic, run_linux
from tests.linux_programs import SOURCES

CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}


def _share(folded: str, caller: str) -> tuple[float, int]:
    counts = {}
    total = 0
    for line in folded.splitlines():
        stack, _, n = line.rpartition(" ")
        total += int(n)
        for name in ("hot", "warm"):
            if f";{name};spin" in stack:
                counts[name] = counts.get(name, 0) + int(n)
    both = counts.get("hot", 0) + counts.get("warm", 0)
    return (counts.get(caller, 0) / both if both else 0.0), total


def test_profile_shows_where_the_time_goes(arch, tmp_path):
    prog = tmp_path / "profiled"
    r = subprocess.run([CC[arch], "-O0", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer", "-static",
                        "-o", str(prog), str(SOURCES / "profiled.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "profile.folded"
    r = run_linux(arch, prog, extra=("--profile", str(out), "--cpus", "2"))
    no_panic(r)
    assert r.rc == 0 and r.out == "done 1\n", r
    assert f"samples at 997 Hz -> {out}" in r.err and "% " in r.err and "spin" in r.err, r.err
    folded = out.read_text()
    assert all(line.rpartition(" ")[2].isdigit() for line in folded.splitlines()), folded
    assert "main;hot;spin" in folded and "main;warm;spin" in folded, folded
    hot, total = _share(folded, "hot")
    assert total >= 100, folded  # about a second of samples
    assert 0.60 <= hot <= 0.80, (hot, folded)
    assert not (tmp_path / "profile.folded.raw").exists()


def test_shared_library_functions_are_named(arch, tmp_path):
    """A dynamic program's samples in its C library are named from the
    library's symbols (the kernel records the executable file mappings in
    the profile; the host reads the image's copy of each library)."""
    prog = tmp_path / "dynprof"
    r = subprocess.run([CC[arch], "-O1", "-fno-omit-frame-pointer", "-o", str(prog), str(SOURCES / "dynprof.c")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "profile.folded"
    r = run_linux(arch, prog, extra=("--profile", str(out)))
    no_panic(r)
    assert r.rc == 0, r
    counts: dict[str, int] = {}
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]
        counts[leaf] = counts.get(leaf, 0) + int(n)
    total = sum(counts.values())
    in_libc = sum(counts.get(f, 0) for f in ("rand", "random", "random_r"))
    assert total >= 100 and in_libc / total >= 0.4, counts


def test_time_in_system_calls_is_the_kernels(arch, tmp_path):
    """System calls run with interrupts off; the samples that fall due
    during one are taken at its end, in its handler (a kernel frame), not on
    the program's return address: reads of /dev/zero show as sys_read."""
    prog = tmp_path / "sysprof"
    r = subprocess.run([CC[arch], "-O1", "-fno-omit-frame-pointer", "-static", "-o", str(prog),
                        str(SOURCES / "sysprof.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "profile.folded"
    r = run_linux(arch, prog, extra=("--profile", str(out)))
    no_panic(r)
    assert (r.rc, r.out) == (0, f"{300 * (4 << 20)}\n"), r
    total = in_read = 0
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        total += int(n)
        if stack.endswith(";read;sys_read_[k]"):
            in_read += int(n)
    assert total >= 50 and in_read / total >= 0.7, out.read_text()
