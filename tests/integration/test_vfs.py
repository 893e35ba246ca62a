"""The kernel's file systems judged as Linux compatibility is judged here:
the same static binary runs on the host and in the guest, and what it
prints is compared byte for byte.

- tests/apps/linux/fsprobe.c exercises POSIX file semantics in a directory
  (I/O, O_EXCL/O_TRUNC/O_APPEND, rename and renameat2, unlink of open files,
  hard and symbolic links, mkdir/rmdir, chmod and utimensat, O_TMPFILE,
  truncate and fallocate, getdents, MAP_SHARED, sendfile and
  copy_file_range, record locks and flock, FIFOs, statfs) and prints only
  what Linux gives alike on ext4, tmpfs and a 9P host directory. One boot
  per architecture runs it in /tmp, in the writable root made from the
  image's tree (--files) and in a --mount directory; each part must equal
  the host's run of the same program in a host directory.
- tests/apps/linux/treeprobe.c reports the guest's own tree (/dev, /proc,
  /sys, /etc defaults, the tmpfs mounts) and tries paths given on its
  command line: these are facts of the guest, asserted here, not compared.
- Debian's busybox-static (x86_64) extracts, copies, finds and lists on the
  writable root and into a --mount directory; its output, and what it wrote
  to the host, match busybox run on the host.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.conftest import selected_arches
from tests.helpers import no_panic, run_linux

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")

#: a guest time limit for the probes' runs (TCG, 9P round trips), and the host's
GUEST_TIMEOUT = ("--timeout", "300")
HOST_TIMEOUT = 420

#: The checks Linux itself answers differently in a 9P directory: its v9fs
#: has no RENAME_NOREPLACE/RENAME_EXCHANGE (9P2000.L's renameat has no
#: flags: EINVAL once the VFS's own EEXIST and ENOENT checks pass), no
#: O_TMPFILE and no fallocate (EOPNOTSUPP, after the VFS's own EINVAL and
#: EBADF checks). In a --mount directory the guest may give, group by group,
#: either the host's answers or these -- exactly as fsprobe prints them.
V9FS = {
    "renameat2": [
        "renameat2 noreplace existing: EEXIST",
        "renameat2 noreplace new: EINVAL",
        "renameat2 exchange: EINVAL",
        "renameat2 exchanged contents: x1=A x2=B",
        "renameat2 exchange with a missing name: ENOENT",
        "renameat2 noreplace|exchange: EINVAL",
        "renameat2 unknown flag: EINVAL",
        "renameat2 exchange dir and file: EINVAL",
        "renameat2 exchanged types: xd=dir x1=reg",
    ],
    "tmpfile": [
        "tmpfile O_RDONLY: EINVAL",
        "tmpfile open: EOPNOTSUPP",
    ],
    "fallocate": [
        "fallocate: EOPNOTSUPP",
        "fallocate then fstat: reg 644 size=0 nlink=1",
        "fallocate KEEP_SIZE: EOPNOTSUPP",
        "fallocate KEEP_SIZE then fstat: reg 644 size=0 nlink=1",
        "fallocate inside: EOPNOTSUPP",
        "fallocate inside then fstat: reg 644 size=0 nlink=1",
        "fallocate length 0: EINVAL",
        "fallocate negative offset: EINVAL",
        "fallocate reads zeros: 0 yes",
        "fallocate on O_RDONLY: EBADF",
    ],
}


# --- helpers ---------------------------------------------------------------


def host_build(builder, source: str) -> Path:
    """The x86_64 build of a probe, for the reference run on the host (the
    guest's output is the same on both architectures by construction)."""
    if os.uname().machine != "x86_64":
        pytest.skip("the reference runs need an x86_64 host")
    return builder.build("glibc", "x86_64", source)


def seed_pattern(n: int) -> bytes:
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))


def make_seed(d: Path) -> Path:
    """The files fsprobe's SEED argument names: a.txt, big.bin, sub/c.txt,
    link -> a.txt, with explicit modes (the pytest process's umask may be
    anything)."""
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("alpha\n")
    (d / "big.bin").write_bytes(seed_pattern(100000))
    (d / "sub" / "c.txt").write_text("c\n")
    (d / "link").symlink_to("a.txt")
    for p, mode in ((d, 0o755), (d / "sub", 0o755), (d / "a.txt", 0o644), (d / "big.bin", 0o644),
                    (d / "sub" / "c.txt", 0o644)):
        os.chmod(p, mode)
    return d


def host_fsprobe(prog: Path, directory: Path, seed, prefix: str = "") -> str:
    """fsprobe on the host for one DIR SEED pair: its output, without the
    final "== done" line (one section, as the guest's run prints it)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([str(prog), prefix + str(directory), str(seed)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("== done\n"), proc.stdout[-2000:]
    assert proc.stdout.startswith("== fsprobe\nmkdir base: ok\n"), proc.stdout[:2000]
    return proc.stdout[: -len("== done\n")]


def sections(out: str) -> list[str]:
    """A guest run of fsprobe over several directories, cut into the part
    each directory printed."""
    assert out.endswith("== done\n"), out[-3000:]
    parts = out[: -len("== done\n")].split("== fsprobe\n")
    assert parts[0] == "", out[:3000]
    return ["== fsprobe\n" + p for p in parts[1:]]


def diff(host: list[str], guest: list[str]) -> str:
    return "\n".join(difflib.unified_diff(host, guest, "host", "guest", lineterm="", n=3))


#: Lines starting with these are compared on neither side (none now: getcwd,
#: ".." and /proc/self/fd follow renames -- namei.c's vfs_renamed);
#: everything else must match.
PATHS_AS_STRINGS: tuple[str, ...] = ()


def known(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(PATHS_AS_STRINGS))


def compare(what: str, host: str, guest: str) -> str:
    """"" if the guest printed what the host did, else the difference."""
    host, guest = known(host), known(guest)
    if guest == host:
        return ""
    return f"{what}: the guest's output differs from the host's\n{diff(host.splitlines(), guest.splitlines())}"


def compare_but_v9fs(what: str, host: str, guest: str) -> str:
    """As compare, but the V9FS checks may give Linux's v9fs answers."""
    h, g = known(host).splitlines(), known(guest).splitlines()
    problems = []
    for prefix, linux in V9FS.items():
        hp = [line for line in h if line.startswith(prefix)]
        gp = [line for line in g if line.startswith(prefix)]
        if gp != hp and gp != linux:
            problems.append(f"{prefix}: neither the host's nor Linux's v9fs answers\n{diff(hp, gp)}\n"
                            "(Linux's v9fs: " + "; ".join(linux) + ")")
    rest_h = [line for line in h if not line.startswith(tuple(V9FS))]
    rest_g = [line for line in g if not line.startswith(tuple(V9FS))]
    if rest_g != rest_h:
        problems.append(diff(rest_h, rest_g))
    return f"{what}: the guest's output differs from the host's\n" + "\n".join(problems) if problems else ""


def facts(lines: list[str]) -> dict[str, str]:
    """"name: value" lines as a dict (the first ": " splits)."""
    out = {}
    for line in lines:
        name, sep, value = line.partition(": ")
        if sep:
            out[name] = value
    return out


def snapshot(root: Path) -> dict[str, tuple]:
    """What a tree holds, as two runs of the same program should leave it:
    types, permissions, contents, link targets, regular files' link counts
    and modification times (directories' times and sizes vary)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("lnk", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(stat.S_IMODE(st.st_mode)))
            else:
                out[rel] = ("reg", oct(stat.S_IMODE(st.st_mode)), st.st_size, st.st_nlink,
                            hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns // 10**9)
    return out


# --- POSIX semantics: fsprobe ----------------------------------------------


@pytest.fixture
def host_tmpfs(tmp_path):
    """A directory in a tmpfs of the host's (/dev/shm), for the reference
    runs of what the guest keeps in a tmpfs (its /tmp, its writable root);
    tmp_path's own file system when the host has no such tmpfs."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        mounts = []
    if ["/dev/shm", "tmpfs"] not in mounts or not os.access("/dev/shm", os.W_OK):
        yield tmp_path / "no-tmpfs"
        return
    d = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="hermit-test-vfs-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_fsprobe_agrees_with_itself_on_host_file_systems(builder, tmp_path, host_tmpfs):
    """The reference is sound: on the host, fsprobe prints the same twice
    in a row, and the same in tmp_path's file system (what a --mount
    directory is in the guest) as in a tmpfs (what /tmp and the writable
    root are)."""
    prog = host_build(builder, "fsprobe.c")
    first = host_fsprobe(prog, tmp_path / "a" / "w", make_seed(tmp_path / "a" / "seed"))
    again = host_fsprobe(prog, tmp_path / "b" / "w", make_seed(tmp_path / "b" / "seed"))
    assert again == first, diff(first.splitlines(), again.splitlines())
    unnamed = [line for line in first.splitlines() if re.search(r": E\d+$", line)]
    assert not unnamed, f"errnos missing from fsprobe's table: {unnamed}"
    on_tmpfs = host_fsprobe(prog, host_tmpfs / "w", make_seed(host_tmpfs / "seed"))
    assert on_tmpfs == first, diff(first.splitlines(), on_tmpfs.splitlines())


def test_posix_semantics_match_the_host(arch, builder, tmp_path, host_tmpfs):
    """One boot: fsprobe in /tmp (a tmpfs), in /w of the writable root (the
    image's tree, with its seed directory) and in /m/w of a --mount
    directory; each part byte for byte the host's run in the same kind of
    file system (a tmpfs; the mounted directory's), and the mount's changes
    visible on the host afterwards."""
    host_prog = host_build(builder, "fsprobe.c")
    prog = builder.build("glibc", arch, "fsprobe.c")
    tree = tmp_path / "tree"
    make_seed(tree / "seed")
    shared = tmp_path / "shared"
    make_seed(shared / "seed")

    # nofifo: QEMU 7.2's 9P server cannot make FIFOs (fsprobe.c says why)
    r = run_linux(arch, prog, "/tmp/fsprobe", "-", "/w", "/seed", "nofifo:/m/w", "/m/seed", files=tree, mount=shared,
                  extra=GUEST_TIMEOUT, timeout=HOST_TIMEOUT)
    no_panic(r)
    assert r.rc == 0, r
    parts = sections(r.out)
    assert len(parts) == 3, r

    in_tmp = host_fsprobe(host_prog, host_tmpfs / "tmp" / "w", "-")
    in_root = host_fsprobe(host_prog, host_tmpfs / "root" / "w", make_seed(host_tmpfs / "root" / "seed"))
    in_mount = host_fsprobe(host_prog, tmp_path / "host" / "w", make_seed(tmp_path / "host" / "seed"), "nofifo:")
    problems = [p for p in (compare("in /tmp", in_tmp, parts[0]),
                            compare("in the writable root", in_root, parts[1]),
                            compare_but_v9fs("in a --mount directory", in_mount, parts[2])) if p]
    if problems:
        pytest.fail("\n\n".join(problems) + f"\n--- guest stderr\n{r.err[-3000:]}")
    assert "hermitcore: warning" not in r.err, r  # no unimplemented system call on the way

    # what the guest did in the mount reached the host
    assert not (shared / "w").exists(), sorted(os.listdir(shared))
    seed = shared / "seed"
    assert sorted(os.listdir(seed)) == ["a.txt", "big.bin", "new.txt"]
    a = seed / "a.txt"
    assert a.read_text() == "alpha\nappended\n"
    assert stat.S_IMODE(a.stat().st_mode) == 0o600 and a.stat().st_mtime_ns == 1300000000_000000500
    big = bytearray(seed_pattern(100000))
    big[50000:50006] = b"MIDDLE"
    big[65536 + 10:65536 + 16] = b"MAPPED"
    assert (seed / "big.bin").read_bytes() == bytes(big[:70000])
    assert (seed / "new.txt").read_bytes() == b""


# --- the guest's own tree: treeprobe ---------------------------------------


def test_tree_devices_proc_etc_and_no_way_out_of_a_mount(arch, builder, tmp_path):
    """One boot with 2 CPUs and a --mount: the standard parts of the tree
    are there and behave (tmpfs at /tmp, /run, /dev/shm; /dev's devices and
    links; /proc and /sys generated files agreeing with sysconf; /etc
    defaults that libc's own lookups use), and no path -- "..", a symlink
    to "/", "..", or to the host's absolute path -- reaches a host file
    outside the mounted directory."""
    prog = builder.build("glibc", arch, "treeprobe.c")
    tree = tmp_path / "tree"
    (tree / "data").mkdir(parents=True)
    (tree / "data" / "hello.txt").write_text("hello\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET outside the mount\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "inside.txt").write_text("inside the mount\n")
    (shared / "up").symlink_to("..")
    (shared / "root").symlink_to("/")
    (shared / "rel").symlink_to("../outside/secret.txt")
    (shared / "abs").symlink_to(outside / "secret.txt")
    (shared / "hostparent").symlink_to(tmp_path)
    before = snapshot(tmp_path)

    escapes = [
        "read:/m/../outside/secret.txt",
        "read:/m/up/outside/secret.txt",
        "read:/m/rel",
        "read:/m/abs",
        "read:/m/hostparent/outside/secret.txt",
        "read:/m/up/up/up/outside/secret.txt",
        "write:/m/rel",
        "write:/m/abs",
    ]
    r = run_linux(arch, prog, "facts", "read:/m/inside.txt", "read:/m/root/m/inside.txt", "read:/m/up/data/hello.txt",
                  *escapes, "ls:/m/up", "ls:/m/root", "cwd:/m/up", "cwd:/m/root", "cwd:/m/..", "cwd:/m",
                  "read:../outside/secret.txt", "read:up/m/inside.txt", "write:/m/up/escaped.txt",
                  "write:/m/../escaped2.txt", "mkdir:/m/up/newdir", "ls:/",
                  files=tree, mount=shared, extra=("--cpus", "2", *GUEST_TIMEOUT), timeout=HOST_TIMEOUT)
    no_panic(r)
    assert r.rc == 0 and r.lines and r.lines[-1] == "treeprobe: done", r
    f = facts(r.lines)
    expected = {
        "writable /tmp": "ok",
        "writable /run": "ok",
        "writable /dev/shm": "ok",
        "fstype /tmp": "tmpfs",
        "fstype /run": "tmpfs",
        "fstype /dev/shm": "tmpfs",
        "fstype /dev": "tmpfs",
        "fstype /proc": "proc",
        "fstype /sys": "sysfs",
        "dev null write": "5",
        "dev null read": "0",
        "dev zero read": "4096 zeros yes",
        "dev full write": "ENOSPC",
        "dev full read": "16 zeros yes",
        "dev urandom read": "32 varied yes",
        "dev random read": "32 varied yes",
        "getrandom": "32",
        "stat /dev/null": "chr 666 rdev 1:3",
        "stat /dev/zero": "chr 666 rdev 1:5",
        "stat /dev/full": "chr 666 rdev 1:7",
        "stat /dev/random": "chr 666 rdev 1:8",
        "stat /dev/urandom": "chr 666 rdev 1:9",
        "readlink /dev/stdin": "/proc/self/fd/0",
        "readlink /dev/stdout": "/proc/self/fd/1",
        "readlink /dev/stderr": "/proc/self/fd/2",
        "readlink /dev/fd": "/proc/self/fd",
        "dev fd/1 is stdout": "yes",
        "open dev stdout": "ok",
        "readlink /proc/self/exe": f"/{prog.name}",
        "exe is ELF": "yes",
        "meminfo MemTotal": "yes",
        "cpuinfo processors": "2",
        "nprocs onln": "2",
        "get_nprocs": "2",
        "sys cpu online": "2",
        "exists /etc/passwd": "yes",
        "exists /etc/group": "yes",
        "exists /etc/hosts": "yes",
        "exists /etc/nsswitch.conf": "yes",
        "exists /etc/hostname": "yes",
        "exists /etc/resolv.conf": "yes",  # QEMU user networking's resolver (hermit.dns from hermitcore run)
        "resolv.conf": "nameserver 10.0.2.3",
        "passwd uid 0": "root",
        "getpwuid(0)": "root",
        "getgrgid(0)": "root",
        "hosts 127.0.0.1 localhost": "yes",
        "getaddrinfo localhost": "127.0.0.1",
    }
    wrong = {k: (v, f.get(k)) for k, v in expected.items() if f.get(k) != v}
    assert not wrong, f"expected, got: {wrong}\n{r.out}"
    assert f["self fd"].split()[:3] == ["0", "1", "2"], r.out
    mounts = dict(line.split()[1:3] for line in r.lines if line.startswith("mount: "))
    for point in ("/", "/tmp", "/run", "/dev", "/dev/shm", "/proc", "/sys", "/m"):
        assert point in mounts, (point, mounts)
    assert mounts["/m"] == "9p" and mounts["/tmp"] == "tmpfs" and mounts["/proc"] == "proc", mounts

    # a --mount directory has no way out
    assert "SECRET" not in r.out, r.out
    for cmd in escapes:
        verb, path = cmd.split(":", 1)
        assert f"{verb} {path}: ENOENT" in r.lines, (cmd, r.out)
    assert 'read /m/inside.txt: "inside the mount"' in r.lines, r.out
    assert 'read /m/root/m/inside.txt: "inside the mount"' in r.lines, r.out  # "/" is the guest's root
    assert 'read /m/up/data/hello.txt: "hello"' in r.lines, r.out  # and so is /m/..
    assert "read ../outside/secret.txt: ENOENT" in r.lines, r.out
    assert 'read up/m/inside.txt: "inside the mount"' in r.lines, r.out
    root_listing = f["ls /m/up"].split()
    assert "m" in root_listing and "data" in root_listing and "outside" not in root_listing, r.out
    assert f["ls /m/root"] == f["ls /m/up"], r.out
    assert f["cwd /m/up"] == "/" and f["cwd /m/root"] == "/" and f["cwd /m/.."] == "/" and f["cwd /m"] == "/m", r.out
    assert f["write /m/up/escaped.txt"] == "ok" and f["write /m/../escaped2.txt"] == "ok", r.out
    assert f["mkdir /m/up/newdir"] == "ok", r.out
    assert {"escaped.txt", "escaped2.txt", "newdir"} <= set(f["ls /"].split()), r.out  # in the guest's root
    assert snapshot(tmp_path) == before  # and nothing at all changed on the host


def test_read_only_root_and_a_full_tmpfs(arch, builder, tmp_path):
    """--read-only: creating anything in the image's tree is EROFS (reading
    it still works), /tmp and /run still take files. --tmpfs-size 4M: /tmp
    reports 4 MiB, a file written past it gets ENOSPC (the kernel does not
    panic), /run is a tmpfs of its own, and deleting the file gives the
    space back."""
    prog = builder.build("glibc", arch, "treeprobe.c")
    tree = tmp_path / "tree"
    (tree / "data").mkdir(parents=True)
    (tree / "data" / "hello.txt").write_text("hello\n")
    r = run_linux(arch, prog, "create:/newfile", "mkdir:/newdir", "write:/data/hello.txt", "create:/data/new",
                  "read:/data/hello.txt", "statfs:/", "create:/tmp/ok", "read:/tmp/ok", "statfs:/tmp",
                  "statfs:/run", "statfs:/dev/shm", "fill:/tmp/big", "create:/run/ok", "read:/run/ok",
                  files=tree, extra=("--read-only", "--tmpfs-size", "4M", *GUEST_TIMEOUT), timeout=HOST_TIMEOUT)
    no_panic(r)
    assert r.rc == 0 and r.lines and r.lines[-1] == "treeprobe: done", r
    f = facts(r.lines)
    assert f["create /newfile"] == "EROFS" and f["mkdir /newdir"] == "EROFS", r.out
    assert f["write /data/hello.txt"] == "EROFS" and f["create /data/new"] == "EROFS", r.out
    assert f["read /data/hello.txt"] == '"hello"', r.out
    assert f["statfs /"].split()[1] == "ro", r.out
    assert f["create /tmp/ok"] == "ok" and f["read /tmp/ok"] == '"created"', r.out
    for d in ("/tmp", "/run", "/dev/shm"):
        assert f[f"statfs {d}"] == "tmpfs rw size KiB 4096", (d, r.out)
    verdict, _, amount = f["fill /tmp/big"].partition(" after ")
    assert verdict == "ENOSPC", r.out
    assert 3072 <= int(amount.split()[0]) <= 4096, r.out
    assert f["fill /tmp/big fsync"] == "ok" and f["fill /tmp/big close"] == "ok", r.out
    assert 3072 <= int(f["fill /tmp/big size KiB"]) <= 4096, r.out
    assert f["fill /tmp/big another write"] == "ENOSPC", r.out
    assert f["fill /tmp/big unlink"] == "ok", r.out
    assert f["fill /tmp/big after unlink"] == "1024 KiB written", r.out
    assert f["create /run/ok"] == "ok" and f["read /run/ok"] == '"created"', r.out


# --- busybox on the writable root --------------------------------------------


@pytest.fixture(scope="session")
def busybox():
    if "x86_64" not in selected_arches():
        pytest.skip("Debian's busybox-static here is x86_64")
    path = shutil.which("busybox")
    if path is None:
        pytest.skip("busybox-static not installed")
    return path


MTIME = 1234567890


@pytest.fixture
def bb_tree(tmp_path):
    return make_bb_tree(tmp_path / "tree")


def make_bb_tree(tree: Path) -> Path:
    """A tree for busybox: src/ (files, a subdirectory, a symlink, an empty
    directory; fixed modes and times), t.tar (a directory, files of several
    modes, a symlink, a hard link, an empty directory) and an empty out/."""
    src = tree / "src"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a.txt").write_text("alpha\n")
    (src / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (src / "sub" / "data.bin").write_bytes(seed_pattern(50000))
    (src / "sub" / "deep" / "c.txt").write_text("deep\n")
    (src / "link").symlink_to("a.txt")
    modes = {"a.txt": 0o644, "run.sh": 0o755, "sub/data.bin": 0o600, "sub/deep/c.txt": 0o444, "sub": 0o755,
             "sub/deep": 0o750, "empty": 0o700}
    for rel, mode in modes.items():
        os.chmod(src / rel, mode)
    for rel in modes:
        os.utime(src / rel, (MTIME, MTIME))
    os.chmod(src, 0o755)
    (tree / "out").mkdir()
    with tarfile.open(tree / "t.tar", "w", format=tarfile.GNU_FORMAT) as tar:
        def add(name, kind=tarfile.REGTYPE, mode=0o644, data=b"", link=""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, MTIME, 0, 0
            info.uname = info.gname = "root"
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

        add("pkg/", tarfile.DIRTYPE, 0o755)
        add("pkg/bin/", tarfile.DIRTYPE, 0o755)
        add("pkg/bin/tool", mode=0o755, data=b"#!/bin/sh\necho tool\n")
        add("pkg/etc/", tarfile.DIRTYPE, 0o755)
        add("pkg/etc/conf", mode=0o600, data=b"key=value\n")
        add("pkg/lib/", tarfile.DIRTYPE, 0o755)
        add("pkg/lib/data.bin", data=seed_pattern(200000))
        add("pkg/link", tarfile.SYMTYPE, 0o777, link="etc/conf")
        add("pkg/hard", tarfile.LNKTYPE, 0o755, link="pkg/bin/tool")
        add("pkg/empty/", tarfile.DIRTYPE, 0o700)
    return tree


def host_busybox(busybox: str, tree: Path, where: Path, *args: str) -> subprocess.CompletedProcess:
    """busybox on the host in a fresh copy of the tree (as the guest's cwd
    is its root)."""
    shutil.copytree(tree, where, symlinks=True)
    return subprocess.run([busybox, *args], cwd=where, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, umask=0o022, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"})


def applet_errors(r) -> list[str]:
    return [line for line in r.err.splitlines()
            if line.startswith(("tar:", "cp:", "find:", "du:", "ls:", "hermitcore: warning"))]


@pytest.mark.slow
def test_busybox_on_the_writable_root(busybox, bb_tree, tmp_path):
    """tar -x, cp -a, find, du -s and ls -R on the writable root (one boot
    each: busybox's sh would fork): the output is the host's busybox's
    (sorted where it follows readdir's order), nothing on stderr."""
    cases = [
        (["tar", "-xvf", "t.tar", "-C", "out"], False),
        (["cp", "-av", "src", "copy"], True),
        (["find", "src", "out"], True),
        (["ls", "-1aRF", "src"], False),
    ]
    for n, (args, unordered) in enumerate(cases):
        r = run_linux("x86_64", busybox, *args, files=bb_tree)
        no_panic(r)
        host = host_busybox(busybox, bb_tree, tmp_path / f"host{n}", *args)
        assert host.returncode == 0, (args, host.stderr)
        assert r.rc == 0 and not applet_errors(r), (args, r)
        want, got = host.stdout.splitlines(), r.lines
        if unordered:
            want, got = sorted(want), sorted(got)
        assert got == want, (args, diff(want, got))

    # du counts blocks, which differ between file systems: at least the bytes
    r = run_linux("x86_64", busybox, "du", "-s", "src", files=bb_tree)
    no_panic(r)
    assert r.rc == 0 and not applet_errors(r), r
    size = sum(p.stat().st_size for p in (bb_tree / "src").rglob("*") if p.is_file() and not p.is_symlink())
    kib, name = r.lines[-1].split()
    assert name == "src" and size // 1024 <= int(kib) <= size // 1024 + 64, r


@pytest.mark.slow
def test_busybox_writes_to_a_mount_what_it_writes_on_the_host(busybox, bb_tree, tmp_path):
    """tar -x and cp -a from the writable root into a --mount directory:
    the host then finds what busybox on the host makes of the same
    archive and tree (modes, contents, symlinks, the hard link, times)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    r = run_linux("x86_64", busybox, "tar", "-xf", "/t.tar", "-C", "/m", files=bb_tree, mount=shared)
    no_panic(r)
    assert r.rc == 0 and not applet_errors(r), r
    host = host_busybox(busybox, bb_tree, tmp_path / "host-tar", "tar", "-xf", "t.tar", "-C", "out")
    assert host.returncode == 0, host.stderr
    want = snapshot(tmp_path / "host-tar" / "out")
    assert snapshot(shared) == want
    assert want["pkg/hard"][3] == 2 and want["pkg/link"] == ("lnk", "etc/conf")

    copy = tmp_path / "copy"
    copy.mkdir()
    r = run_linux("x86_64", busybox, "cp", "-a", "/src", "/m/src", files=bb_tree, mount=copy)
    no_panic(r)
    # cp -a also copies ownership (uid 0 in the guest), which a non-root
    # QEMU cannot give a host file: busybox says so on stderr; nothing else
    assert r.rc == 0 and not [e for e in applet_errors(r) if "ownership" not in e], r
    assert snapshot(copy / "src") == snapshot(bb_tree / "src")
