"""Robustness: what a program does at the edges -- racing page faults,
exhausted memory, descriptors, threads and sockets, pipes without readers,
stack overflows, file locks, standard input with nothing behind it -- ends in
a clear outcome, never a kernel panic or a hang. Where the outcome does not
depend on the machine, the same probe (tests/apps/linux/robust.c) runs on the
host too and both must print the same lines."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import APPS, hermit, selected_arches
from tests.helpers import BOARD, TIMEOUT, no_panic, program_lines, run_linux

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")


def guest(arch, builder, *args, cpus=1, mem=None, mount=None, files=None):
    extra = ["--cpus", str(cpus)] + (["--mem", mem] if mem else [])
    return run_linux(arch, builder.build("glibc", arch, "robust.c"), *args, files=files, mount=mount, extra=extra)


@pytest.fixture(scope="session")
def on_host(builder):
    """Run the x86_64 probe on this (x86_64 Linux) host: the reference."""
    if os.uname().machine != "x86_64":
        pytest.skip("the reference runs need an x86_64 host")
    prog = builder.build("glibc", "x86_64", "robust.c")

    def run(*args):
        p = subprocess.run([str(prog), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout.splitlines()
    return run


def same_on_mount(arch, builder, on_host, tmp_path, probe):
    """`robust PROBE DIR` on the host over one directory and in the guest
    over another, --mounted: the same status (0) and the same lines. Returns
    the two directories for the caller to compare what was left in them."""
    host_dir, guest_dir = tmp_path / "host", tmp_path / "guest"
    host_dir.mkdir()
    guest_dir.mkdir()
    want = on_host(probe, str(host_dir))
    r = guest(arch, builder, probe, "/m", mount=guest_dir)
    assert (r.rc, program_lines(r)) == want and want[0] == 0 and len(want[1]) > 5, r
    return host_dir, guest_dir


def test_threads_first_touching_the_same_pages(arch, builder):
    """Four threads write the same fresh pages at once, 200 rounds: the CPU
    that loses a fault race retries; it used to panic 'out of memory'."""
    r = guest(arch, builder, "race", "200", cpus=4)
    no_panic(r)
    assert r.rc == 0 and "race: 200 rounds x 4 threads x 64 pages, 0 lost writes" in r.lines, r


def test_concurrency_stress(arch, builder):
    """Threads on four CPUs fault, map, unmap and mprotect while others read
    regions being re-protected and dropped (MADV_DONTNEED); a contended mutex
    and condition variable, a pipe between threads and sockets opened and
    closed alongside: bounded rounds, every check exact."""
    r = guest(arch, builder, "stress", "200", cpus=4)
    no_panic(r)
    assert r.rc == 0, r
    assert "stress: 200 rounds: counter 800, pipe 2000000 bytes (0 wrong), 0 errors" in r.lines, r


def test_memory_exhaustion_is_enomem_then_the_oom_kill(arch, builder):
    r = guest(arch, builder, "oom", mem="64M")
    no_panic(r)
    assert r.rc == 137, r
    lines = program_lines(r)
    assert lines[:2] == ["oom: mmap of twice the RAM: Cannot allocate memory",
                         "oom: sbrk of twice the RAM: Cannot allocate memory"], r
    assert re.search(r"hermitcore: warning: out of memory: the program touched 0x[0-9a-f]+ and no page is free .*"
                     r"killed \(SIGKILL, exit status 137\)", r.err), r


def test_descriptors_past_rlimit_nofile(arch, builder, on_host):
    r = guest(arch, builder, "fds")
    rc, want = on_host("fds")
    assert (r.rc, program_lines(r)) == (rc, want), r
    assert "fds: opened 61 more, then Too many open files; highest 63" in want


def test_threads_until_there_is_no_room(arch, builder):
    """pthread_create until it fails: EAGAIN, never a panic; every thread
    joins with its own value and a new one can start again."""
    r = guest(arch, builder, "threads", cpus=2)
    no_panic(r)
    assert r.rc == 0, r
    assert any(re.fullmatch(r"threads: Resource temporarily unavailable after \d+ threads", x) for x in r.lines), r
    assert "threads: all joined (0 wrong), one more: ok" in r.lines, r


def test_ten_thousand_sockets(arch, builder):
    r = guest(arch, builder, "sockets", "10000")
    no_panic(r)
    assert r.rc == 0 and "sockets: 10000 opened, bound and closed, 0 failed; the next is fd 3" in r.lines, r


def test_pipe_without_a_reader_raises_sigpipe(arch, builder, on_host):
    r = guest(arch, builder, "sigpipe")
    rc, want = on_host("sigpipe")
    assert rc == -13 and r.rc == 141, r  # the host's subprocess reports death by SIGPIPE as -13
    assert program_lines(r) == want == ["sigpipe: ignored: write -1 (Broken pipe)", "sigpipe: default: writing"], r


@pytest.mark.parametrize("where", ["stack", "stack-thread"])
def test_stack_overflow_is_sigsegv_naming_the_guard(arch, builder, where):
    r = guest(arch, builder, where)
    no_panic(r)
    assert r.rc == 139, r
    what = "the guard gap below the main thread's stack" if where == "stack" else "the guard page"
    assert re.search(r"hermitcore: warning: stack overflow: 0x[0-9a-f]+ is in " + what, r.err), r
    assert "stack: still alive" not in r.out, r


def test_stdin_without_input_is_like_dev_null(arch, builder, on_host):
    """stdin from /dev/null (the test's own): it reads, polls and stats as
    /dev/null does on Linux (readable, end of file, a character device, not
    a terminal), never leaves poll waiting."""
    r = guest(arch, builder, "stdin")
    rc, want = on_host("stdin")
    assert (r.rc, program_lines(r)) == (rc, want) == (0, ["stdin: poll 1 revents IN", "stdin: select 1 readable 1",
                                                          "stdin: read 0",
                                                          "stdin: a terminal: no; a character device: yes"]), r


@pytest.mark.parametrize("probe", ["locks", "calls"])
def test_locks_and_file_calls_as_linux(arch, builder, on_host, tmp_path, probe):
    """fcntl record locks (POSIX and OFD, splitting, merging, conflicts
    between the kinds, F_SETLKW waiting, release on close), flock (sharing,
    conversion, release with the last descriptor), and getgroups, wait4,
    sendfile, chmod/chown/utimensat on a --mount: the same lines as on Linux."""
    same_on_mount(arch, builder, on_host, tmp_path, probe)


def test_file_metadata_as_linux(builder, tmp_path):
    """busybox ls -lan, stat and du over the image's tree (the root: a tmpfs
    made from it) print what they print for the same tree copied to a tmpfs
    on the host: link counts, sizes, blocks, modes and times."""
    if "x86_64" not in selected_arches():
        pytest.skip("Debian's busybox-static here is x86_64")
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox-static not installed")
    tree = tmp_path / "tree"
    (tree / "data" / "sub" / "deeper").mkdir(parents=True)
    (tree / "data" / "other").mkdir()
    (tree / "data" / "small.txt").write_text("hello\n")
    (tree / "data" / "empty").write_bytes(b"")
    (tree / "data" / "big.bin").write_bytes(bytes(range(256)) * 40)
    (tree / "data" / "link").symlink_to("small.txt")
    (tree / "data" / "sub" / "x").write_text("x" * 5000)
    (tree / "data" / "run.sh").write_text("#!/bin/sh\n")
    (tree / "data" / "run.sh").chmod(0o750)
    for p in [*tree.rglob("*"), tree]:
        os.utime(p, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    if subprocess.run(["stat", "-f", "-c", "%T", "/dev/shm"], capture_output=True, text=True).stdout.strip() != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm to compare with")
    import tempfile
    with tempfile.TemporaryDirectory(dir="/dev/shm") as ref:
        ref_tree = Path(ref) / "tree"
        shutil.copytree(tree, ref_tree, symlinks=True)
        for p in [*ref_tree.rglob("*"), ref_tree]:
            os.utime(p, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
        _compare_metadata(busybox, tree, ref_tree)


def _compare_metadata(busybox, tree, ref):
    commands = [
        ["ls", "-lan", "/data", "/data/sub"],
        ["stat", "-c", "%n %s %b %h %Y %a %F", "/data", "/data/small.txt", "/data/link", "/data/empty",
         "/data/sub", "/data/sub/deeper"],
        ["du", "-a", "/data"],
    ]
    for cmd in commands:
        host_cmd = [busybox, *[a.replace("/data", str(ref / "data")) if a.startswith("/data") else a for a in cmd]]
        if cmd[0] == "stat":
            host_cmd = [str(ref) if a == "/" else a for a in host_cmd]
        h = subprocess.run(host_cmd, capture_output=True, text=True)
        want = h.stdout.replace(str(ref / "data"), "/data").replace(str(ref) + " ", "/ ").splitlines()
        r = hermit("run", "--board", "qemu-microvm", busybox, "--files", str(tree), "--timeout", TIMEOUT, "--", *cmd)
        assert r.rc == h.returncode == 0, r
        # the root is not the tree's alone: the guest adds /dev, /proc, /tmp... (so does a Linux initramfs)
        got, want = [g for g in program_lines(r) if not g.endswith(" ..")], [w for w in want if not w.endswith(" ..")]
        if cmd[0] == "du":  # in directory order, which is the file system's own (ext4: hashed)
            got, want = sorted(got), sorted(want)
        assert got == want, (cmd, r)


#: addresses the guest kernel maps in the program's half: its image, its boot
#: map, and on aarch64 the RAM identity map and a device window (the PL011)
KERNEL_PAGES = {"x86_64": ["0x100000", "0x110000", "0x1000"], "aarch64": ["0x40100000", "0x40200000", "0x9000000"]}


def test_kernel_pages_are_out_of_the_programs_reach(arch, builder):
    """No mapping over the kernel's own lower-half pages, no unmapping or
    re-protecting them, no system call reading them for the program: before,
    mmap(MAP_FIXED) there succeeded and munmap freed the kernel's pages."""
    r = guest(arch, builder, "kernel", *KERNEL_PAGES[arch])
    no_panic(r)
    assert r.rc == 0 and "kernel: still running" in r.lines, r
    for a in KERNEL_PAGES[arch]:
        for line in ["mmap fixed: Cannot allocate memory", "mmap hint: elsewhere", "mprotect: Cannot allocate memory",
                     "madvise: Cannot allocate memory", "munmap: ok", "write from it: Bad address"]:
            assert f"kernel {a}: {line}" in program_lines(r), (a, line, r)


def test_file_mappings_as_linux(arch, builder, on_host, tmp_path):
    """MAP_SHARED and MAP_PRIVATE mappings of a --mount file: two shared
    mappings see each other's writes, a private one keeps its own, msync and
    munmap write back, a mapping still dirty at exit reaches the file; the
    same lines as on Linux and the same file bytes."""
    host_dir, guest_dir = same_on_mount(arch, builder, on_host, tmp_path, "mmap")
    assert (guest_dir / "mapped.bin").read_bytes() == (host_dir / "mapped.bin").read_bytes()
    assert (guest_dir / "mapped.bin").read_bytes()[:7] == b"AT-EXIT"


def test_busybox_stdin_readers_groups_and_tar(tmp_path):
    """Real programs that met the old defects: bc and sh without arguments
    wait for input (they ended at --timeout), id asks for the groups
    (getgroups was missing), tar -x sets modes and times (chmod and
    utimensat were missing on a --mount). The same output as the host's
    busybox with stdin from /dev/null, and the same files."""
    if "x86_64" not in selected_arches():
        pytest.skip("Debian's busybox-static here is x86_64")
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox-static not installed")
    for cmd in (["bc"], ["sh"], ["sh", "-c", "echo $((6 * 7)); read x || echo eof"]):
        h = subprocess.run([busybox, *cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        r = hermit("run", "--board", "qemu-microvm", busybox, "--timeout", "60", "--", *cmd)
        assert (r.rc, program_lines(r)) == (h.returncode, h.stdout.splitlines()), (cmd, r)
        assert "not implemented" not in r.err, r
    r = hermit("run", "--board", "qemu-microvm", busybox, "--timeout", "60", "--", "id")
    # named from the /etc/passwd and /etc/group the guest provides when the image has none
    assert r.rc == 0 and program_lines(r) == ["uid=0(root) gid=0(root)"] and "not implemented" not in r.err, r
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("hi\n")
    (src / "d" / "run.sh").write_text("#!/bin/sh\n")
    for name, mode in (("d/f", 0o640), ("d/run.sh", 0o751), ("d", 0o750)):
        (src / name).chmod(mode)
        os.utime(src / name, (1_577_934_245, 1_577_934_245))
    subprocess.run(["tar", "-cf", str(tmp_path / "a.tar"), "-C", str(src), "d"], check=True)
    for where in ("host", "guest"):
        (tmp_path / where).mkdir()
    subprocess.run([busybox, "tar", "-xf", str(tmp_path / "a.tar"), "-C", str(tmp_path / "host")], check=True)
    r = hermit("run", "--board", "qemu-microvm", busybox, "--mount", f"{tmp_path}:/m", "--timeout", "60", "--",
               "tar", "-xf", "/m/a.tar", "-C", "/m/guest")
    assert r.rc == 0 and "not implemented" not in r.err, r
    for name in ("d/f", "d/run.sh"):
        h, g = (tmp_path / "host" / name).stat(), (tmp_path / "guest" / name).stat()
        assert (g.st_mode, int(g.st_mtime)) == (h.st_mode, int(h.st_mtime)) == ((src / name).stat().st_mode,
                                                                                1_577_934_245), name
    assert (tmp_path / "guest" / "d").stat().st_mode == (tmp_path / "host" / "d").stat().st_mode


@pytest.fixture(scope="session")
def go_programs(tmp_path_factory):
    """tests/apps/linux/gcstress.go built static with Debian's go, per
    architecture (GOARCH=arm64 cross-compiles)."""
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI"):
            pytest.fail("go is not installed (scripts/setup.sh installs golang-go)")
        pytest.skip("go is not installed")
    root = tmp_path_factory.mktemp("go")
    built = {}

    def build(arch):
        if arch not in built:
            out = root / f"gcstress-{arch}"
            env = dict(os.environ, CGO_ENABLED="0", GOARCH={"x86_64": "amd64", "aarch64": "arm64"}[arch],
                       GOCACHE=str(root / "cache"), GOPATH=str(root / "gopath"))
            subprocess.run([go, "build", "-o", str(out), str(Path(APPS) / "linux" / "gcstress.go")], env=env,
                           check=True, capture_output=True)
            built[arch] = out
        return built[arch]
    return build


def test_go_collector_on_two_cpus(arch, go_programs):
    """A Go program whose goroutines allocate on two CPUs while runtime.GC
    runs: Go programs used to hit the first-touch fault race (a kernel
    panic) in ~7% of such runs; three runs, each with the host's output."""
    prog = go_programs(arch)
    want = subprocess.run([str(go_programs("x86_64")), "x"], capture_output=True, text=True, timeout=60)
    assert want.returncode == 3
    for _ in range(3):
        r = hermit("run", "--board", BOARD[arch], str(prog), "--cpus", "2", "--timeout", TIMEOUT, "--", "x")
        no_panic(r)
        assert (r.rc, program_lines(r)) == (3, want.stdout.splitlines()), r


def test_read_only_file_mappings_of_the_embedded_tree(arch, builder, on_host, tmp_path):
    """mmap of a file of the image's tree: private and shared read-only
    mappings see its bytes, a private writable one is a copy, a shared
    writable one is refused (EACCES: opened read-only) -- as on Linux."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "blob").write_bytes(bytes((i * 13 + (i >> 9)) & 0xFF for i in range(3 * 4096 + 123)))
    want = on_host("mmap-ro", str(tree / "blob"))
    r = guest(arch, builder, "mmap-ro", "/blob", files=tree)
    assert (r.rc, program_lines(r)) == want and want[0] == 0, r


@pytest.fixture(scope="session")
def big_tree(tmp_path_factory):
    """40 000 empty files: an archive of ~6 MiB whose table of entries needs
    ~2.5 MiB of kernel memory."""
    root = tmp_path_factory.mktemp("big-tree")
    (root / "d").mkdir()
    for i in range(40_000):
        (root / "d" / f"f{i}").touch()
    return root


def test_image_or_file_tree_larger_than_memory(arch, builder, big_tree):
    """An image that does not fit in --mem, and a file tree whose entries do
    not fit in what is left: one clear line each, never a kernel fault (the
    tree's walk used to read past the end of RAM, the table's allocation to
    panic)."""
    small = {"x86_64": "4M", "aarch64": "4M"}[arch]
    r = guest(arch, builder, "stdin", mem=small, files=big_tree)
    no_panic(r)
    assert (r.rc == 127 and "does not fit in this machine's RAM: give it more with --mem" in r.err) or \
        (r.rc == 125 and "is too large to fit in RAM" in r.err), r  # aarch64: QEMU itself refuses to load it
    r = guest(arch, builder, "stdin", mem="8M", files=big_tree)
    no_panic(r)
    assert r.rc == 127 and "no memory for its file tree (40002 entries; give it more with --mem)" in r.err, r


def test_shared_mapping_reaches_the_file_when_the_program_crashes(arch, builder, tmp_path):
    """What a program wrote through a MAP_SHARED mapping is in the file even
    when it dies of SIGSEGV right after (on Linux the page cache outlives it)."""
    r = guest(arch, builder, "mmap-crash", "/m", mount=tmp_path)
    assert r.rc == 139 and "mmap-crash: crashing" in program_lines(r), r
    assert (tmp_path / "crash.bin").read_bytes()[:24] == b"WRITTEN BEFORE THE CRASH"


def test_shared_mappings_and_writes_agree_as_linux(arch, builder, on_host, tmp_path):
    """write()/pwrite() are seen through shared mappings and their write-back
    never undoes them; MAP_FIXED over the file's own shared mapping keeps
    its bytes; a truncation reads as zeros; a read-only open cannot be made
    writable by mprotect (a review found each of these broken)."""
    host_dir, guest_dir = same_on_mount(arch, builder, on_host, tmp_path, "mmap-coherent")
    assert (guest_dir / "coherent.bin").read_bytes() == (host_dir / "coherent.bin").read_bytes()


def test_arguments_and_environment_up_to_the_kernels_limit(arch, builder):
    """The program's arguments and environment travel on the kernel's
    command line: near its limit (4 KiB, what QEMU passes whole on every
    board) all arrive; past it `run` refuses with one line instead of the
    kernel cutting them off."""
    prog = builder.build("glibc", arch, "ocitool.c")
    env = [f"VAR{i:03d}={'x' * 40}" for i in range(50)]
    args = [f"arg{i}" for i in range(100)]
    r = run_linux(arch, prog, "count", *args, env=env)
    assert (r.rc, program_lines(r)) == (0, [f"argc 102, last arg99, env 50, {sum(map(len, env))} bytes"]), r
    r = run_linux(arch, prog, "count", *args, env=env + [f"MORE{i}={'y' * 40}" for i in range(30)])
    assert r.rc == 1 and "do not fit the kernel's command line" in r.err and "Traceback" not in r.err, r
