"""The page cache (hermitcore/kernel/linux/vm.c): private file mappings and
the ELF loader map one read-only page per (file, page offset), shared by
every process, copied on write. tests/apps/linux/pagecache.c checks what
the mappings show -- a write in one process is its own, write()/truncate/
rename-over/unlink/a shared mapping's write-back reach later mappings and
later execs of a patched program -- byte for byte against the host; and
what one more process costs in memory (MemAvailable, in the guest): a
private mapping of a 4 MiB file read whole, and an exec of the program, cost
a fraction of the file (a copy per process would cost all of it). Static and
dynamic builds (the dynamic one maps libc.so through ld.so's mmap), on both
architectures; and mapping, writing and reclaiming at once on two CPUs."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.helpers import no_panic, program_lines, run_linux
from tests.linux_programs import SOURCES, unavailable

CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}


@pytest.fixture(scope="session")
def dynamic_build(tmp_path_factory):
    built = {}

    def make(arch):
        if arch not in built:
            if shutil.which(CC[arch]) is None:
                unavailable("dynamic", arch, f"{CC[arch]} is not installed")
            out = tmp_path_factory.mktemp(f"pagecache-{arch}") / "pagecache"
            r = subprocess.run([CC[arch], "-O2", "-o", str(out), str(SOURCES / "pagecache.c")], capture_output=True,
                               text=True)
            assert r.returncode == 0, r.stderr
            built[arch] = out
        return built[arch]
    return make


def program(kind, arch, builder, dynamic_build):
    return builder.build("glibc", arch, "pagecache.c") if kind == "static" else dynamic_build(arch)


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_private_mappings_and_exec_see_what_linux_shows(arch, kind, builder, dynamic_build):
    want = subprocess.run([str(program(kind, "x86_64", builder, dynamic_build))], capture_output=True, text=True,
                          timeout=120)
    assert want.returncode == 0 and want.stdout.endswith("== done\n"), want
    assert "marker PATCHED!" in want.stdout
    r = run_linux(arch, program(kind, arch, builder, dynamic_build), extra=("--cpus", "2"))
    no_panic(r)
    assert (r.rc, program_lines(r)) == (0, want.stdout.splitlines()), r


def numbers(out: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(.+?) (-?\d+)$", out, re.M)}


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_file_pages_are_shared_not_copied(arch, kind, builder, dynamic_build):
    r = run_linux(arch, program(kind, arch, builder, dynamic_build), "mem", extra=("--cpus", "2", "--mem", "256M"))
    no_panic(r)
    assert r.rc == 0 and "FAIL" not in r.out and r.out.endswith("== done\n"), r
    n = numbers(r.out)
    file_kib = n["file KiB"]
    # the first mapping reads the file into the cache (Cached grows by it): the file's size, once
    assert file_kib <= n["first mapping KiB"] < file_kib + 512, r.out
    assert file_kib <= n["first mapping, cached KiB"] < file_kib + 512, r.out
    # each further process mapping all of it (and writing one page) adds its
    # page tables, stack and the written page -- not a copy of the file
    assert n["fork+map KiB per process"] < file_kib // 8, r.out
    assert r.out.count("parent's page 7 h") == 1, r.out  # the children's writes were theirs
    # unmapped, the file's pages stay cached but count as available again
    assert n["unmapped, available again KiB"] > file_kib - 512, r.out
    assert abs(n["unmapped, cached KiB"]) < 256, r.out
    # a program that needs more than the free pages gets the cache's unmapped ones
    assert n["reclaimable over the fill KiB"] > 1024 and "filled memory past the free pages: ok" in r.out, r.out
    # unlinked: the tmpfs file's pages (Shmem) and its cached pages both go
    assert n["unlinked, cached KiB"] >= 2 * file_kib - 256, r.out
    # an exec of the program: its read-only pages are the cache's. Static:
    # a fraction of its loaded bytes; dynamic: ld.so and libc.so (~2 MiB,
    # copied whole before) are shared too
    bound = n["loadable KiB"] // 2 if kind == "static" else 1024
    assert n["exec KiB per process"] < bound, r.out


def test_mapping_writing_and_reclaiming_at_once(arch, builder, dynamic_build):
    """On two CPUs at once: a process maps the file again and again and
    finds every page whole (a write replaces a cached page, never changes
    it), another rewrites its pages, a third takes memory past the free
    pages so the cache's unmapped pages give way; a new mapping then shows
    exactly the file's bytes. (The guest only: on Linux a private mapping
    shows writes as they happen, so pages are not whole.)"""
    r = run_linux(arch, program("static", arch, builder, dynamic_build), "stress",
                  extra=("--cpus", "2", "--mem", "256M"))
    no_panic(r)
    assert (r.rc, program_lines(r)) == (0, ["the cache gave way: yes", "stress ok", "== done"]), r
