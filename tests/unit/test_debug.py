"""`run --gdb`/`--monitor` and `hermitcore gdb` without a guest: option
parsing, environment variables, QEMU's arguments, reading the image's file
tree (docs/debugging.md). The guests: tests/integration/test_debug.py."""

from __future__ import annotations

import stat

import pytest

from hermitcore import debug
from hermitcore.cli import _gdb_option_last, build_parser
from hermitcore.errors import HermitError
from hermitcore.program import _newc
from tests.conftest import hermit


@pytest.mark.parametrize("argv, want", [
    (["run", "--gdb", "prog"], ["run", "prog", "--gdb"]),
    (["run", "--gdb", "4321", "prog"], ["run", "--gdb=4321", "prog"]),
    (["run", "--gdb=4321", "prog"], ["run", "--gdb=4321", "prog"]),
    (["run", "prog", "--gdb"], ["run", "prog", "--gdb"]),
])
def test_a_bare_gdb_option_never_takes_the_image(argv, want):
    assert _gdb_option_last(argv) == want
    args = build_parser().parse_args(want)
    assert args.image == "prog" and args.gdb == (4321 if "4321" in " ".join(want) else 0)


def test_gdb_port_and_hermit_debug(monkeypatch):
    monkeypatch.delenv("HERMIT_DEBUG", raising=False)
    assert debug.gdb_port_from(None) is None
    assert debug.gdb_port_from(0) == debug.DEFAULT_GDB_PORT == 1234
    assert debug.gdb_port_from(2000) == 2000
    monkeypatch.setenv("HERMIT_DEBUG", "1")
    assert debug.gdb_port_from(None) == 1234
    monkeypatch.setenv("HERMIT_DEBUG", "0")
    assert debug.gdb_port_from(None) is None


def test_monitor_and_hermit_port(monkeypatch):
    monkeypatch.delenv("HERMIT_MONITOR", raising=False)
    monkeypatch.delenv("HERMIT_PORT", raising=False)
    assert debug.monitor_from_env(False) is None
    assert debug.monitor_from_env(True) == "unix"
    monkeypatch.setenv("HERMIT_MONITOR", "1")
    assert debug.monitor_from_env(False) == "unix"
    monkeypatch.setenv("HERMIT_PORT", "18766")  # HermitCore's default: the monitor on the next port
    assert debug.monitor_from_env(False) == 18767
    monkeypatch.setenv("HERMIT_PORT", "http")
    with pytest.raises(HermitError, match="HERMIT_PORT"):
        debug.monitor_from_env(False)


def test_qemu_arguments(tmp_path):
    d = debug.Debug(gdb_port=1234, monitor="unix", control=str(tmp_path / "c.sock"))
    assert d.qemu_args("/run/dir") == [
        "-gdb", "tcp:127.0.0.1:1234", "-S",  # held before the first instruction, localhost only
        "-monitor", "unix:/run/dir/monitor.sock,server=on,wait=off",
        "-monitor", f"unix:{tmp_path / 'c.sock'},server=on,wait=off",
    ]
    assert debug.Debug(monitor=4000).qemu_args("/d") == ["-monitor", "tcp:127.0.0.1:4000,server=on,wait=off"]
    assert debug.Debug(monitor=4000).lines("img", None, "/d") == ["hermitcore: QEMU monitor: socat - TCP:127.0.0.1:4000"]


def test_newc_entries_read_what_compose_writes():
    archive = b"".join([
        _newc("lib", stat.S_IFDIR | 0o755, b"", 1, 0),
        _newc("lib/libc.so.6", stat.S_IFREG | 0o644, b"\x7fELF...", 2, 0),
        _newc("lib64", stat.S_IFLNK | 0o777, b"/lib", 3, 0),
        _newc("TRAILER!!!", 0, b"", 0, 0),
    ])
    got = list(debug._newc_entries(archive))
    assert [(n, stat.S_IFMT(m), d) for n, m, d in got] == [
        ("lib", stat.S_IFDIR, b""), ("lib/libc.so.6", stat.S_IFREG, b"\x7fELF..."), ("lib64", stat.S_IFLNK, b"/lib")]


def test_help_texts():
    r = hermit("run", "--help")
    assert r.rc == 0 and "--gdb [PORT]" in r.out and "--monitor" in r.out and "HERMIT_DEBUG=1" in r.out, r
    r = hermit("gdb", "--help")
    assert r.rc == 0 and "--ex COMMAND" in r.out and "--batch" in r.out and "--no-main" in r.out, r
    assert "gdb-multiarch" in r.out and "137" in r.out, r


def test_gdb_refuses_print_qemu():
    r = hermit("gdb", "--print-qemu", "no-such.elf")
    assert r.rc == 1 and "--print-qemu" in r.err and "Traceback" not in r.err, r


def test_session_script_uses_hbreak_under_kvm(tmp_path):
    """Under KVM a software breakpoint is written into guest memory when gdb
    resumes, and main's page does not exist yet then: hbreak."""
    from hermitcore.image import ImageInfo

    image = tmp_path / "app.elf"
    image.write_bytes(b"\x7fELF" + bytes(60))
    info = ImageInfo(path=str(image), arch="x86_64", entry=0, meta={"program": None}, load_size=0, file_size=64)
    for accel, brk in (("kvm", "hbreak main"), ("tcg", "break main")):
        text, note = debug.session_script(str(image), info, 4321, program=None, accel=accel, break_main=True)
        lines = text.splitlines()
        assert brk in lines and "target remote 127.0.0.1:4321" in lines and note is None, text
        assert lines.index("target remote 127.0.0.1:4321") < lines.index(brk)
    text, _ = debug.session_script(str(image), info, 4321, program=None, accel="tcg", break_main=False)
    assert "break main" not in text
