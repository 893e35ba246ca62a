"""SQLite, Debian's own library linked into a static program
(tests/apps/linux/sqlite.c), on real files: a write-heavy script on a
`--mount`ed directory, in /tmp (tmpfs) and in the writable root, in
rollback-journal and WAL mode, and read-only queries of a database embedded
in the image. SQLite locks every database with fcntl
record locks and maps WAL's shared-memory file MAP_SHARED: it used to end in
"disk I/O error" on every file. Outputs are compared with the same program
run on the host, and the host's SQLite reads what the guest wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import APPS, selected_arches
from tests.helpers import program_lines, run_linux
from tests.linux_programs import unavailable

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")

CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}


def arm64_libsqlite(root: Path) -> Path:
    """Debian's libsqlite3.a for arm64, from its own package (downloaded with
    a private apt state: the host's dpkg stays single-architecture)."""
    from benchmarks.linux_guest import _apt_options

    out = root / "arm64"
    lib = out / "usr/lib/aarch64-linux-gnu/libsqlite3.a"
    if lib.exists():
        return lib
    out.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["apt-get", *_apt_options("arm64"), "download", "libsqlite3-dev"], cwd=out,
                       capture_output=True, text=True)
    debs = list(out.glob("libsqlite3-dev_*.deb"))
    if p.returncode != 0 or not debs:
        unavailable("glibc", "aarch64", f"apt-get download libsqlite3-dev:arm64 failed: {p.stderr.strip()[-200:]}")
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(out)], check=True)
    return lib


@pytest.fixture(scope="session")
def sqlite_programs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sqlite")
    built = {}

    def build(arch: str) -> Path:
        if arch in built:
            return built[arch]
        if shutil.which(CC[arch]) is None:
            unavailable("glibc", arch, f"{CC[arch]} not installed")
        if not Path("/usr/include/sqlite3.h").exists():
            unavailable("glibc", arch, "libsqlite3-dev is not installed (scripts/setup.sh installs it)")
        lib = ["-lsqlite3"] if arch == "x86_64" else [str(arm64_libsqlite(root))]
        out = root / f"sqlite-{arch}"
        p = subprocess.run([CC[arch], "-static", "-O2", str(APPS / "linux" / "sqlite.c"), "-o", str(out), *lib,
                            "-lm"], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        built[arch] = out
        return out
    return build


def run_guest(arch, prog, *args, mount=None, files=None):
    return run_linux(arch, prog, *args, mount=mount, files=files, timeout=400)


@pytest.fixture(scope="session")
def on_host(sqlite_programs):
    if os.uname().machine != "x86_64":
        pytest.skip("the reference runs need an x86_64 host")
    prog = sqlite_programs("x86_64")

    def run(*args):
        p = subprocess.run([str(prog), *args], capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout.splitlines()
    return run


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_sqlite_on_a_mounted_directory(arch, sqlite_programs, on_host, tmp_path, journal):
    host_dir, guest_dir = tmp_path / "host", tmp_path / "guest"
    host_dir.mkdir()
    guest_dir.mkdir()
    want = on_host(str(host_dir / "t.db"), journal)
    r = run_guest(arch, sqlite_programs(arch), "/m/t.db", journal, mount=guest_dir)
    assert "disk I/O error" not in r.out, r
    assert (r.rc, program_lines(r)) == want and want[0] == 0, r
    # the host's SQLite reads the guest's database
    assert on_host(str(guest_dir / "t.db"), "read")[1][-6:] == want[1][-6:]


def test_sqlite_reads_a_database_embedded_in_the_image(arch, sqlite_programs, on_host, tmp_path):
    tree = tmp_path / "tree"
    (tree / "db").mkdir(parents=True)
    rc, _ = on_host(str(tree / "db" / "t.db"), "delete")
    assert rc == 0
    want = on_host(str(tree / "db" / "t.db"), "read")
    r = run_guest(arch, sqlite_programs(arch), "/db/t.db", "read", files=tree)
    assert (r.rc, program_lines(r)) == want and want[0] == 0, r


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_sqlite_on_tmpfs_and_the_writable_root(arch, sqlite_programs, on_host, tmp_path, journal):
    """The same write-heavy script in /tmp (tmpfs) and in a directory of the
    image's tree (the writable root) prints what it prints on the host."""
    tree = tmp_path / "tree"
    (tree / "db").mkdir(parents=True)
    (tree / "db" / "README").write_text("a directory of the image\n")
    want = on_host(str(tmp_path / "ref.db"), journal)
    assert want[0] == 0
    for path in ("/tmp/t.db", "/db/t.db"):
        r = run_guest(arch, sqlite_programs(arch), path, journal, files=tree)
        assert "disk I/O error" not in r.out, r
        assert (r.rc, program_lines(r)) == want, (path, r)
