"""Host directories: `hermitcore run --mount HOSTDIR:/guest/path` lets an
unmodified static program (tests/apps/linux/files.c) read and write a host
directory through virtio-9p; the host then checks every file byte for byte."""

from __future__ import annotations

import pytest

from tests.conftest import BOARDS, hermit, selected_arches

#: virtio-9p over virtio-mmio (microvm, virt) and over virtio-pci (q35, pc)
FS_BOARDS = [b for b in ("qemu-microvm", "qemu-q35", "qemu-pc", "qemu-virt") if BOARDS[b] in selected_arches()]
BIG = 10 << 20

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")


def pattern(n: int) -> bytes:
    return bytes((i * 7 + (i >> 12)) & 0xFF for i in range(n))


@pytest.mark.parametrize("board", FS_BOARDS)
def test_program_reads_and_writes_a_host_directory(board, builder, tmp_path):
    prog = builder.build("glibc", BOARDS[board], "files.c")
    host = tmp_path / "shared"
    host.mkdir()
    (host / "from-host.txt").write_text("written by the host\n")
    (host / "delete-me").write_text("x")
    r = hermit("run", "--board", board, str(prog), "--mount", f"{host}:/host", "--timeout", "300", "--", "/host",
               timeout=400)
    assert r.rc == 0, r
    assert "[hermit] hostfs: host directory mounted at /host (9P2000.L" in r.log, r
    assert "ok: read host file: written by the host" in r.lines, r
    assert "files: 0 failed" in r.lines, r
    # what the host sees
    assert (host / "big.bin").read_bytes() == pattern(BIG)
    many = sorted(p.name for p in (host / "many").iterdir())
    assert many == [f"f{i:04d}.txt" for i in range(1000)]
    assert all((host / "many" / f"f{i:04d}.txt").read_text() == f"file {i}\n" for i in range(0, 1000, 37))
    assert (host / "renamed.txt").read_text() == "HELLO!"
    assert not (host / "edit.txt").exists() and not (host / "delete-me").exists() and not (host / "gone").exists()


def test_mount_errors_are_clear(tmp_path):
    for args, msg in [
        (["--mount", f"{tmp_path}"], "expected HOSTDIR:/GUEST/PATH"),
        (["--mount", f"{tmp_path}:relative"], "expected HOSTDIR:/GUEST/PATH"),
        (["--mount", f"{tmp_path}/missing:/x"], "is not a directory"),
    ]:
        r = hermit("run", "--board", "qemu-microvm", "--print-qemu", *args)
        assert r.rc == 1 and msg in r.err and "Traceback" not in r.err, (args, r)
    r = hermit("run", "--board", "qemu-microvm", "--print-qemu", "--mount", f"{tmp_path}:/x")
    assert r.rc == 1 and "for Linux executables" in r.err, r


def test_mount_on_a_board_without_9p(arch, builder, bare_board, tmp_path):
    prog = builder.build("glibc", arch, "files.c")
    r = hermit("run", "--board", str(bare_board[arch]), str(prog), "--mount", f"{tmp_path}:/host", "--print-qemu")
    assert r.rc == 1 and "describes none" in r.err, r


@pytest.mark.parametrize("arch", selected_arches())
def test_statfs_says_what_each_file_system_is(arch, builder, tmp_path):
    """statfs of a --mount directory gives the host's file system type (as
    Linux's v9fs passes on the server's; the block size is QEMU's, scaled to
    the 9P message size, as a Linux guest sees it too); the root (the image's
    tree, writable in memory) and /dev are tmpfs, stdin from /dev/null too; a
    closed fd is EBADF."""
    import os
    import subprocess

    from tests.helpers import BOARD

    if os.uname().machine != "x86_64":
        pytest.skip("the reference runs need an x86_64 host")
    host_dir, tree = tmp_path / "shared", tmp_path / "tree"
    host_dir.mkdir()
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "f").write_text("x\n")
    on_host = subprocess.run([str(builder.build("glibc", "x86_64", "statfs.c")), str(host_dir)],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    host_type = on_host.stdout.split()[2]
    r = hermit("run", "--board", BOARD[arch], str(builder.build("glibc", arch, "statfs.c")), "--files", str(tree),
               "--mount", f"{host_dir}:/m", "--timeout", "120", "--", "/", "/etc/f", "/m", "/dev/null", "/nope")
    assert r.rc == 0 and len(r.lines) == 7, r
    mount = r.lines.pop(2).split()
    assert mount[:3] == ["/m:", "type", host_type] and mount[5:] == ["blocks>0", "1", "ro", "0", "namelen", "255"], r
    assert r.lines == [
        "/: type 0x1021994 bsize 4096 blocks>0 1 ro 0 namelen 255",
        "/etc/f: type 0x1021994 bsize 4096 blocks>0 1 ro 0 namelen 255",
        "/dev/null: type 0x1021994 bsize 4096 blocks>0 1 ro 0 namelen 255",
        "/nope: No such file or directory",
        "fd0: type 0x1021994",
        "fd99: Bad file descriptor",
    ], (r, on_host.stdout)


def test_bulk_io_into_every_kind_of_memory_matches_the_host(arch, builder, tmp_path):
    """Large reads and writes of a --mount file go from and into the
    program's pages without a copy (p9.c, zero copy): an unaligned heap
    buffer, untouched memory, copy-on-write pages after fork, a private file
    mapping, the stack, a buffer unmapped by another thread mid-read -- the
    same bytes and lines as the same program on a host directory."""
    import os
    import subprocess

    if os.uname().machine != "x86_64":
        pytest.skip("the reference run needs an x86_64 host")
    host_prog = builder.build("glibc", "x86_64", "zcprobe.c")
    (tmp_path / "h").mkdir()
    want = subprocess.run([str(host_prog), str(tmp_path / "h")], capture_output=True, text=True, timeout=120)
    assert want.returncode == 0, want.stderr
    (tmp_path / "g").mkdir()
    r = hermit("run", "--board", {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}[arch],
               str(builder.build("glibc", arch, "zcprobe.c")), "--mount", f"{tmp_path / 'g'}:/m", "--timeout", "300",
               "--", "/m", timeout=400)
    assert (r.rc, r.lines) == (0, want.stdout.splitlines()), r
    assert (tmp_path / "g/zc.bin").read_bytes() == (tmp_path / "h/zc.bin").read_bytes()
