"""Dynamic executables at compose time (hermitcore/dynlink.py): the
interpreter and the libraries gathered as the dynamic linker finds them,
checked against the host's own ld.so (ldd) where it can run them, the
symlinks kept, --add trees, --sysroot trees, the guest's ld.so.cache, and
the errors. Real programs and libraries, built here with gcc and
aarch64-linux-gnu-gcc; no QEMU."""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from hermitcore import dynlink
from hermitcore.dynlink import gather, guest_path, read_ld_so_cache, write_ld_so_cache
from hermitcore.errors import ImageError
from hermitcore.program import FileTree, inspect_program, newc_index
from tests.conftest import hermit

CROSS = "/usr/aarch64-linux-gnu"
HAVE_CROSS = bool(shutil.which("aarch64-linux-gnu-gcc")) and os.path.isfile(f"{CROSS}/lib/libc.so.6")
needs_gcc = pytest.mark.skipif(not shutil.which("gcc"), reason="gcc not installed")
needs_cross = pytest.mark.skipif(not HAVE_CROSS, reason="aarch64-linux-gnu-gcc / libc6-arm64-cross not installed")

MAIN_C = '#include <stdio.h>\nint foo(void);\nint main(void) { printf("%d\\n", foo()); return 0; }\n'
HELLO_C = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'


def cc(out: Path, source: str, *flags: str, compiler: str = "gcc") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".c") as src:  # not beside it: some of those are --add trees
        src.write(source)
        src.flush()
        subprocess.run([compiler, "-O1", "-o", str(out), src.name, *flags], check=True, capture_output=True)
    return out


def shared(out: Path, source: str, *flags: str, compiler: str = "gcc") -> Path:
    return cc(out, source, "-shared", "-fPIC", f"-Wl,-soname,{out.name}", *flags, compiler=compiler)


def files(g) -> set[str]:
    """The host files packed (regular files, by their real path)."""
    return {os.path.realpath(e.source) for e in g.entries if e.is_file and e.data is None}


def by_guest(g) -> dict:
    return {e.guest: e for e in g.entries}


def ldd(prog: Path, env: dict | None = None) -> tuple[set[str], list[str]]:
    """What the host's ld.so loads for ``prog``: real paths, and the names it did not find."""
    out = subprocess.run(["ldd", str(prog)], capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout
    found, missing = set(), []
    for line in out.splitlines():
        if "not found" in line:
            missing.append(line.split()[0])
        elif m := (re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)):
            found.add(os.path.realpath(m.group(1)))
    return found, missing


def guest_cache(g, tmp_path: Path, arch: str = "x86_64") -> dict[str, str]:
    """The guest's generated /etc/ld.so.cache, read back."""
    e = by_guest(g).get("/etc/ld.so.cache")
    if e is None:
        return {}
    path = tmp_path / "ld.so.cache"
    path.write_bytes(e.data)
    return read_ld_so_cache(str(path), arch)


def program(path, arch: str = "x86_64"):
    return inspect_program(path, arch, "qemu-microvm" if arch == "x86_64" else "qemu-virt")


# --- what compose accepts ----------------------------------------------------------


@needs_gcc
def test_dynamic_programs_are_accepted_and_shared_libraries_are_not(tmp_path):
    exe = cc(tmp_path / "exe", HELLO_C, "-no-pie")
    pie = cc(tmp_path / "pie", HELLO_C, "-pie", "-fPIE")
    for path in (exe, pie):
        p = program(path)
        assert (p.kind, p.interp) == ("dynamic", "/lib64/ld-linux-x86-64.so.2"), p
    lib = shared(tmp_path / "libx.so", "int x(void) { return 1; }\n")
    with pytest.raises(ImageError, match="a shared library, not an executable"):
        program(lib)
    data = bytearray(exe.read_bytes())  # PT_INTERP's size made to run past the file
    phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    at = next(phoff + 56 * i for i in range(phnum) if struct.unpack_from("<I", data, phoff + 56 * i)[0] == 3)
    struct.pack_into("<Q", data, at + 32, len(data))
    (tmp_path / "bad").write_bytes(data)
    with pytest.raises(ImageError, match=r"bad: corrupt PT_INTERP \(the interpreter's path is not a string"):
        program(tmp_path / "bad")


# --- the closure, as the host's ld.so finds it ------------------------------------------


def test_python3_closure_is_what_the_host_linker_loads():
    if not os.path.isfile("/usr/bin/python3") or not shutil.which("ldd"):
        pytest.skip("no /usr/bin/python3 or ldd")
    g = gather(program("/usr/bin/python3"), "x86_64")
    loaded, missing = ldd(Path("/usr/bin/python3"))
    assert not missing and files(g) == loaded, (sorted(files(g)), sorted(loaded))
    entries = by_guest(g)
    assert entries["/lib64/ld-linux-x86-64.so.2" if not os.path.islink("/lib64") else "/lib64"].why == \
        "interpreter of python3"
    for link in ("/lib64", "/lib"):  # merged /usr (Debian 12): the directory symlinks come along
        if os.path.islink(link):
            assert entries[link].is_symlink and entries[link].source == os.readlink(link)
    libz = os.path.realpath("/lib/x86_64-linux-gnu/libz.so.1")
    if os.path.islink("/lib/x86_64-linux-gnu/libz.so.1"):  # libz.so.1 -> libz.so.1.2.13: the link and its file
        link = [e for e in g.entries if e.guest.endswith("/libz.so.1")]
        assert len(link) == 1 and link[0].is_symlink and link[0].why == "needed by python3"
        assert libz in files(g)
    assert "/etc/ld.so.cache" not in entries  # all in the interpreter's own directories


@needs_gcc
def test_origin_runpath_library_is_packed_and_in_the_guest_cache(tmp_path):
    lib = shared(tmp_path / "app/lib/libfoo.so.1", "int foo(void) { return 42; }\n")
    prog = cc(tmp_path / "app/bin/prog", MAIN_C, str(lib), "-Wl,-rpath,$ORIGIN/../lib")
    g = gather(program(prog), "x86_64")
    assert files(g) == ldd(prog)[0] and str(lib) in files(g)
    e = by_guest(g)[guest_path(str(lib))]
    assert e.why == "needed by prog" and e.is_file
    # /tmp is the kernel's own tmpfs in the guest: the library is packed under /host, and the
    # guest's ld.so finds it through the generated cache (its directory is not one it searches)
    assert e.guest.startswith("/host/") == str(lib).startswith(("/tmp/", "/run/"))
    assert guest_cache(g, tmp_path) == {"libfoo.so.1": guest_path(str(lib))}


@needs_gcc
def test_rpath_and_runpath_follow_glibc_rules(tmp_path):
    a = shared(tmp_path / "a/libfoo.so", "int foo(void) { return 1; }\n")
    b = shared(tmp_path / "b/libfoo.so", "int foo(void) { return 2; }\n")
    against_a = [f"-L{a.parent}", "-lfoo", f"-Wl,-rpath,{a.parent}"]
    rpath = cc(tmp_path / "rpath", MAIN_C, *against_a, "-Wl,--disable-new-dtags")
    runpath = cc(tmp_path / "runpath", MAIN_C, *against_a, "-Wl,--enable-new-dtags")
    env = {"LD_LIBRARY_PATH": str(b.parent)}
    # DT_RPATH comes before LD_LIBRARY_PATH, DT_RUNPATH after it
    for prog, winner in ((rpath, a), (runpath, b)):
        g = gather(program(prog), "x86_64", env=[f"LD_LIBRARY_PATH={b.parent}"])
        assert str(winner) in files(g) and files(g) == ldd(prog, env)[0], prog.name
    # the program's RPATH serves its libraries' own needs too; its RUNPATH does not
    baz = shared(tmp_path / "c/libbaz.so", "int baz(void) { return 3; }\n")
    foo = shared(tmp_path / "l/libfoo.so", "int baz(void);\nint foo(void) { return baz(); }\n",
                 f"-L{baz.parent}", "-lbaz")
    link = [f"-L{foo.parent}", "-lfoo", f"-Wl,-rpath-link,{baz.parent}", f"-Wl,-rpath,{foo.parent}:{baz.parent}"]
    old = cc(tmp_path / "old", MAIN_C, *link, "-Wl,--disable-new-dtags")
    new = cc(tmp_path / "new", MAIN_C, *link, "-Wl,--enable-new-dtags")
    g = gather(program(old), "x86_64")
    assert str(baz) in files(g) and files(g) == ldd(old)[0]
    assert ldd(new)[1] == ["libbaz.so"]
    with pytest.raises(ImageError) as err:
        gather(program(new), "x86_64")
    assert str(err.value).startswith("new needs libbaz.so (via libfoo.so), not found in: "), err.value


@needs_gcc
def test_a_missing_library_is_one_line_naming_where_it_looked(tmp_path):
    lib = shared(tmp_path / "lib/libgone.so.1", "int foo(void) { return 1; }\n")
    prog = cc(tmp_path / "prog", MAIN_C, str(lib), f"-Wl,-rpath,{lib.parent}")
    lib.unlink()
    with pytest.raises(ImageError) as err:
        gather(program(prog), "x86_64", env=["LD_LIBRARY_PATH=/opt/nowhere"])
    msg = str(err.value)
    # LD_LIBRARY_PATH, then the program's RUNPATH, the host's cache, the default directories
    assert msg.startswith(f"prog needs libgone.so.1, not found in: /opt/nowhere, {lib.parent}, "), msg
    assert "/etc/ld.so.cache" in msg and "/usr/lib/x86_64-linux-gnu" in msg and "\n" not in msg
    r = hermit("compose", "--board", "qemu-microvm", str(prog))
    assert r.rc == 1 and r.err.startswith("hermitcore: error: prog needs libgone.so.1, not found in: "), r
    assert len(r.err.splitlines()) == 1 and "Traceback" not in r.err, r


@needs_gcc
@needs_cross
def test_a_library_for_the_other_architecture_is_named_with_both(tmp_path):
    lib = shared(tmp_path / "lib/libfoo.so", "int foo(void) { return 1; }\n")
    prog = cc(tmp_path / "prog", MAIN_C, str(lib), f"-Wl,-rpath,{lib.parent}")
    shared(lib, "int foo(void) { return 2; }\n", compiler="aarch64-linux-gnu-gcc")  # replaced by an arm64 build
    with pytest.raises(ImageError) as err:
        gather(program(prog), "x86_64")
    assert str(err.value) == (f"prog needs libfoo.so, but {lib} is for aarch64, and prog is x86_64: "
                              "no x86_64 libfoo.so found"), err.value


# --- aarch64: a sysroot ----------------------------------------------------------------


@needs_cross
def test_aarch64_closure_comes_from_the_cross_sysroot(tmp_path):
    prog = cc(tmp_path / "hello", HELLO_C, compiler="aarch64-linux-gnu-gcc")
    p = program(prog, "aarch64")
    assert (p.kind, p.interp) == ("dynamic", "/lib/ld-linux-aarch64.so.1")
    g = gather(p, "aarch64")  # the default sysroot: Debian's libc6-arm64-cross
    assert g.sysroot == CROSS
    entries = by_guest(g)
    interp, libc = entries["/lib/ld-linux-aarch64.so.1"], entries["/lib/libc.so.6"]
    assert interp.source == f"{CROSS}/lib/ld-linux-aarch64.so.1" and interp.why == "interpreter of hello"
    assert libc.source == f"{CROSS}/lib/libc.so.6" and libc.why == "needed by hello"
    assert not any(e.source.startswith("/lib/x86_64") for e in g.entries)
    # without one, the interpreter is not there: said with what to do
    with pytest.raises(ImageError, match=r"^hello needs its interpreter /lib/ld-linux-aarch64.so.1, not found at "
                                         r"/lib/ld-linux-aarch64.so.1$"):
        gather(p, "aarch64", sysroot="/")


def _debian_tree(root: Path, merged: bool) -> Path:
    """arm64 libc6 as `dpkg-deb -x` unpacks it (libraries in lib/aarch64-linux-gnu, the
    interpreter's lib/ld-linux-aarch64.so.1 a symlink into it), with or without merged /usr."""
    libdir = root / ("usr/lib" if merged else "lib")
    (libdir / "aarch64-linux-gnu").mkdir(parents=True)
    for name in ("ld-linux-aarch64.so.1", "libc.so.6"):
        shutil.copy(f"{CROSS}/lib/{name}", libdir / "aarch64-linux-gnu" / name)
    (libdir / "ld-linux-aarch64.so.1").symlink_to("aarch64-linux-gnu/ld-linux-aarch64.so.1")
    if merged:
        (root / "lib").symlink_to("usr/lib")
    return root


@needs_cross
@pytest.mark.parametrize("merged", [False, True], ids=["split-usr", "merged-usr"])
def test_aarch64_closure_from_unpacked_debian_packages(tmp_path, merged):
    root = _debian_tree(tmp_path / "sysroot", merged)
    usr = root / "usr/lib/aarch64-linux-gnu"
    usr.mkdir(parents=True, exist_ok=True)
    real = shared(usr / "libfoo.so.1.2.3", "int foo(void) { return 7; }\n", "-Wl,-soname,libfoo.so.1",
                  compiler="aarch64-linux-gnu-gcc")
    (usr / "libfoo.so.1").symlink_to(real.name)
    prog = cc(tmp_path / "prog", MAIN_C, str(usr / "libfoo.so.1"), compiler="aarch64-linux-gnu-gcc")
    g = gather(program(prog, "aarch64"), "aarch64", sysroot=str(root))
    entries = by_guest(g)
    lib = "/usr/lib" if merged else "/lib"
    if merged:
        assert entries["/lib"].is_symlink and entries["/lib"].source == "usr/lib"
    assert entries[f"{lib}/ld-linux-aarch64.so.1"].source == "aarch64-linux-gnu/ld-linux-aarch64.so.1"
    assert entries[f"{lib}/aarch64-linux-gnu/ld-linux-aarch64.so.1"].is_file
    assert entries[f"{lib}/aarch64-linux-gnu/libc.so.6"].source == str(root) + f"{lib}/aarch64-linux-gnu/libc.so.6"
    assert entries["/usr/lib/aarch64-linux-gnu/libfoo.so.1"].source == "libfoo.so.1.2.3"
    assert entries["/usr/lib/aarch64-linux-gnu/libfoo.so.1.2.3"].why == "needed by prog"
    assert "/etc/ld.so.cache" not in entries  # Debian's multiarch directories: the interpreter's own


# --- --add, symlinks, the user's tree ---------------------------------------------------


@needs_gcc
def test_add_brings_what_the_libraries_in_it_need(tmp_path):
    mods = tmp_path / "mods"
    shared(mods / "zmod.so", "#include <zlib.h>\nconst char *v(void) { return zlibVersion(); }\n", "-lz")
    (mods / "sub").mkdir()
    (mods / "sub/data.txt").write_text("data\n")
    (mods / "__pycache__").mkdir()
    (mods / "__pycache__/x.pyc").write_bytes(b"kept")
    os.mkfifo(mods / "fifo")
    (mods / "link").symlink_to("sub/data.txt")
    for prog in (cc(tmp_path / "dyn", HELLO_C), cc(tmp_path / "static", HELLO_C, "-static")):
        g = gather(program(prog), "x86_64", adds=[f"{mods}:/opt/mods"])
        entries = by_guest(g)
        for path in ("/opt", "/opt/mods", "/opt/mods/sub"):
            assert entries[path].is_dir, path
        assert entries["/opt/mods/zmod.so"].source == str(mods / "zmod.so")
        assert entries["/opt/mods/sub/data.txt"].why == f"--add {mods}:/opt/mods"
        assert "/opt/mods/__pycache__/x.pyc" in entries and "/opt/mods/fifo" not in entries
        assert entries["/opt/mods/link"].is_symlink and entries["/opt/mods/link"].source == "sub/data.txt"
        libz = [e for e in g.entries if e.guest.endswith("/libz.so.1")]
        assert libz and libz[0].why == "needed by /opt/mods/zmod.so", [e.guest for e in g.entries]
        assert os.path.realpath("/lib/x86_64-linux-gnu/libz.so.1") in files(g)
    # at its own path, a directory under /tmp would be covered by the guest's tmpfs
    if str(mods).startswith("/tmp/"):
        with pytest.raises(ImageError, match=r"--add .*: the kernel mounts its own /tmp at start, which would hide"):
            gather(program(tmp_path / "dyn"), "x86_64", adds=[str(mods)])
    with pytest.raises(ImageError, match=r"^--add /no/such: /no/such does not exist$"):
        gather(program(tmp_path / "dyn"), "x86_64", adds=["/no/such"])


def test_add_of_a_host_tree_keeps_its_place_and_symlinks():
    if not os.path.isdir("/usr/lib/python3.11") or not os.path.isfile("/usr/bin/python3"):
        pytest.skip("no Python 3.11 standard library")
    g = gather(program("/usr/bin/python3"), "x86_64", adds=["/usr/lib/python3.11"])
    entries = by_guest(g)
    assert entries["/usr/lib/python3.11/os.py"].group == "/usr/lib/python3.11"
    dynload = "/usr/lib/python3.11/lib-dynload"
    ssl = [e for e in g.entries if e.guest.endswith("/libssl.so.3")]
    assert ssl and ssl[0].why.startswith(f"needed by {dynload}/_ssl."), ssl
    site = "/usr/lib/python3.11/sitecustomize.py"
    if os.path.islink(site) and os.path.isfile(site):  # a link out of the tree: its file comes too
        assert entries[site].is_symlink and os.path.realpath(site) in files(g)


@needs_gcc
def test_symlinks_on_the_way_are_kept(tmp_path):
    real = tmp_path / "real/lib"
    lib = shared(real / "libfoo.so.1.0", "int foo(void) { return 1; }\n", "-Wl,-soname,libfoo.so.1")
    (real / "libfoo.so.1").symlink_to("libfoo.so.1.0")
    (tmp_path / "app").mkdir()
    (tmp_path / "app/lib").symlink_to("../real/lib")
    prog = cc(tmp_path / "app/prog", MAIN_C, str(real / "libfoo.so.1"), "-Wl,-rpath,$ORIGIN/lib")
    g = gather(program(prog), "x86_64")
    entries = by_guest(g)
    assert entries[guest_path(str(tmp_path / "app/lib"))].source == "../real/lib"
    assert entries[guest_path(str(real / "libfoo.so.1"))].source == "libfoo.so.1.0"
    assert entries[guest_path(str(lib))].is_file and files(g) == ldd(prog)[0]
    assert guest_cache(g, tmp_path) == {"libfoo.so.1": guest_path(str(real / "libfoo.so.1"))}


@needs_gcc
def test_the_users_tree_wins(tmp_path):
    from hermitcore.board import load_board
    from hermitcore.compose import make_spec
    from hermitcore.plugins import make_plugin_manager

    prog = cc(tmp_path / "prog", HELLO_C)
    tree = tmp_path / "tree"
    libc = tree / "usr/lib/x86_64-linux-gnu/libc.so.6"
    libc.parent.mkdir(parents=True)
    libc.write_bytes(b"the user's own libc")
    spec, _, _ = make_spec(make_plugin_manager(), load_board("qemu-microvm"), str(prog), files=str(tree))
    assert spec.program == "dynamic"
    assert [e.guest for e in spec.kept if e.is_file] == ["/usr/lib/x86_64-linux-gnu/libc.so.6"]
    assert "/usr/lib/x86_64-linux-gnu/libc.so.6" not in {e.guest for e in spec.packed}
    blob = next(s.data for s in spec.core if s.name == "generated/files.cpio.bin")
    archive = blob.read()
    names, end = newc_index(archive)
    assert archive[end + 110:end + 120] == b"TRAILER!!!" and archive.count(b"TRAILER!!!") == 1
    assert {"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2" if not os.path.islink("/lib64")
            else "/lib64"} <= names
    assert b"the user's own libc" in archive and archive.index(b"the user's own libc") < archive.index(b"ld-linux")


# --- the archive, the guest's cache, musl -----------------------------------------------


@needs_gcc
def test_file_tree_key_follows_the_files_without_reading_them(tmp_path):
    prog = cc(tmp_path / "prog", HELLO_C)
    data = tmp_path / "d/file.txt"
    data.parent.mkdir()
    data.write_text("one\n")
    key = lambda: FileTree(b"", gather(program(prog), "x86_64", adds=[f"{data.parent}:/d"]).entries).key  # noqa: E731
    first = key()
    assert key() == first
    os.utime(data, ns=(0, 10**9))
    assert key() != first
    tree = FileTree(b"", gather(program(prog), "x86_64", adds=[f"{data.parent}:/d"]).entries)
    names, end = newc_index(tree.read())
    assert {"/d", "/d/file.txt"} <= names and end == len(tree.read()) - 124


def test_ld_so_cache_is_the_format_ld_so_reads(tmp_path):
    libs = [("libfoo.so.1", "/opt/a/libfoo.so.1"), ("libbar.so.10", "/opt/b/libbar.so.10"),
            ("libbar.so.9", "/opt/b/libbar.so.9"), ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6")]
    for arch in ("x86_64", "aarch64"):
        data = write_ld_so_cache(arch, libs)
        assert data.startswith(b"glibc-ld.so.cache1.1")
        path = tmp_path / f"{arch}.cache"
        path.write_bytes(data)
        assert read_ld_so_cache(str(path), arch) == dict(libs)
        assert read_ld_so_cache(str(path), "aarch64" if arch == "x86_64" else "x86_64") == {}
        if shutil.which("ldconfig"):  # glibc's own reader agrees
            out = subprocess.run(["ldconfig", "-p", "-C", str(path)], capture_output=True, text=True).stdout
            assert out.splitlines()[0].startswith("4 libs found in cache"), out
            assert f"libbar.so.10 (libc6,{'x86-64' if arch == 'x86_64' else 'AArch64'}) => /opt/b/libbar.so.10" in out
    # entries sorted as ld.so's binary search expects: as the host's ldconfig sorted its own
    if os.path.isfile("/etc/ld.so.cache"):
        host = Path("/etc/ld.so.cache").read_bytes()
        if host.startswith(b"glibc-ld.so.cache1.1"):
            n = dynlink.CACHE_HEADER.unpack_from(host)[1]
            keys = []
            for i in range(n):
                key = dynlink.CACHE_ENTRY.unpack_from(host, 48 + 24 * i)[1]
                keys.append(host[key:host.index(b"\0", key)])
            assert all(dynlink.libcmp(a, b) >= 0 for a, b in zip(keys, keys[1:]))
    assert dynlink.libcmp(b"libbar.so.10", b"libbar.so.9") > 0 > dynlink.libcmp(b"liba.so", b"libb.so")


def test_glibc_interpreters_own_directories_are_read_from_it():
    for interp, triplet in (("/lib64/ld-linux-x86-64.so.2", "x86_64-linux-gnu"),
                            (f"{CROSS}/lib/ld-linux-aarch64.so.1", "aarch64-linux-gnu")):
        if os.path.isfile(interp):
            assert dynlink._glibc_builtin_dirs(interp, triplet) == (
                f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")


def test_musl_program_gets_its_interpreter_and_path_file(tmp_path):
    if not shutil.which("musl-gcc"):
        pytest.skip("musl-gcc not installed")
    prog = cc(tmp_path / "hello", HELLO_C, compiler="musl-gcc")
    p = program(prog)
    assert p.kind == "dynamic" and p.interp == "/lib/ld-musl-x86_64.so.1"
    g = gather(p, "x86_64")  # libc.so: musl's ld.so is libc itself
    assert files(g) == {os.path.realpath(p.interp)} | (
        {"/etc/ld-musl-x86_64.path"} if os.path.isfile("/etc/ld-musl-x86_64.path") else set())


def test_cli_options_reach_compose(tmp_path):
    r = hermit("compose", "--board", "qemu-microvm", "--sysroot", str(tmp_path / "none"), "/usr/bin/python3")
    assert r.rc == 1 and "--sysroot" in r.err and "not a directory" in r.err and len(r.err.splitlines()) == 1, r
    r = hermit("compose", "--board", "qemu-microvm", "--add", "/etc/hostname")
    assert r.rc == 1 and "are for Linux executables" in r.err, r
    r = hermit("compose", "--help")
    assert "--add HOSTPATH[:GUESTPATH]" in r.out and "--sysroot DIR" in r.out, r


def test_compose_v_lists_what_it_packed(tmp_path):
    from hermitcore.cli import packed_lines

    if not os.path.isfile("/usr/bin/python3") or not os.path.isdir("/usr/lib/python3.11"):
        pytest.skip("no Python 3.11")
    g = gather(program("/usr/bin/python3"), "x86_64", adds=["/usr/lib/python3.11"])
    lines = packed_lines(g.entries)
    libc = [line for line in lines if line.endswith("/libc.so.6 (needed by python3)")]
    assert len(libc) == 1 and libc[0].startswith("packed /"), lines[:12]
    tree = [line for line in lines if line.startswith("packed /usr/lib/python3.11: ")]
    assert len(tree) == 1 and re.search(r": \d+ files, [\d.]+ MiB.* \(--add /usr/lib/python3.11\)$", tree[0]), tree
    assert not any("/os.py" in line for line in lines)
    assert all(stat.S_ISDIR(e.mode) or e.group or any(e.guest in line for line in lines) for e in g.entries)
