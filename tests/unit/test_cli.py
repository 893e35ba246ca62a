"""CLI errors: one line, non-zero exit, never a traceback."""

import os
import shutil

import pytest

from hermitcore.cli import parse_mem
from hermitcore.errors import HermitError
from tests.conftest import hermit


def _no_traceback(r):
    assert "Traceback" not in r.err, r


def test_unknown_board():
    r = hermit("compose", "--board", "no-such-board")
    assert r.rc == 1
    assert "unknown board 'no-such-board'; known boards:" in r.err and "qemu-virt" in r.err
    _no_traceback(r)


def test_broken_dts(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "board.toml").write_text('arch = "aarch64"\n[qemu]\nmachine = "virt"\n')
    (d / "board.dts").write_text("/dts-v1/;\n/ {\n  oops\n};\n")
    r = hermit("boards", "show", str(d))
    assert r.rc == 1 and f"{d}/board.dts:4:" in r.err, r
    _no_traceback(r)


def test_missing_tool_names_the_debian_package(tmp_path):
    # A PATH with python but without dtc/clang/qemu.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    r = hermit("compose", "--board", "qemu-virt", env={"PATH": str(bindir)})
    assert r.rc == 1
    assert "'dtc' not found on PATH; install it with: apt-get install device-tree-compiler" in r.err, r
    _no_traceback(r)


def test_not_an_image(tmp_path):
    f = tmp_path / "x.elf"
    f.write_text("hello")
    r = hermit("run", str(f))
    assert r.rc == 1 and "not an ELF file" in r.err, r
    _no_traceback(r)


def test_bad_application(tmp_path):
    f = tmp_path / "prog.txt"
    f.write_text("hello")
    r = hermit("compose", "--board", "qemu-microvm", str(f))
    assert r.rc == 1 and "not a C source file" in r.err, r


def test_compile_error_in_app_is_shown(tmp_path):
    f = tmp_path / "broken.c"
    f.write_text("int main(int argc, char **argv) { return nope; }\n")
    r = hermit("compose", "--board", "qemu-microvm", str(f), "-o", str(tmp_path / "x.elf"))
    assert r.rc == 1 and "compiling app/broken.c failed" in r.err and "nope" in r.err, r
    _no_traceback(r)


def test_args_after_dashdash_only_for_run():
    r = hermit("compose", "--", "x")
    assert r.rc == 2 and "only for `run`" in r.err


@pytest.mark.parametrize("text,mib", [("512", 512), ("512M", 512), ("1G", 1024), ("2048K", 2), ("64MiB", 64)])
def test_parse_mem(text, mib):
    assert parse_mem(text) == mib


@pytest.mark.parametrize("text", ["", "lots", "1.5G", "0", "100K"])
def test_parse_mem_rejects(text):
    with pytest.raises(HermitError):
        parse_mem(text)


def test_boards_listing():
    r = hermit("boards")
    assert r.rc == 0
    rows = {line.split()[0]: line.split()[1] for line in r.lines}
    assert rows == {"qemu-microvm": "x86_64", "qemu-microvm-vcon": "x86_64", "qemu-pc": "x86_64", "qemu-q35": "x86_64",
                    "qemu-virt": "aarch64", "qemu-virt-gicv3": "aarch64"}


def test_boards_show_lists_claims():
    r = hermit("boards", "show", "qemu-virt")
    assert r.rc == 0, r
    line = next(l for l in r.lines if "/pl011@9000000" in l)
    assert "arm,pl011" in line and "0x9000000" in line and "-> pl011 (pl011, console)" in line
    line = next(l for l in r.lines if "/virtio_mmio@a000000" in l)
    assert "-> virtio-mmio (virtio-mmio, bus)" in line
    line = next(l for l in r.lines if l.strip().startswith("/virtio_mmio@a003e00/net"))
    assert "virtio,device1" in line and "-> virtio-net (virtio-net, nic)" in line and "0x0+0x0" not in line
    line = next(l for l in r.lines if "/pl061@9030000" in l)
    assert "-> unclaimed" in line
    assert any(l.startswith("memory   0x40000000") for l in r.lines)


def test_plugins_listing_shows_distribution_version_hooks():
    r = hermit("plugins")
    assert r.rc == 0
    assert any(l.startswith("x86_64") and "hermitcore 0.1.0" in l for l in r.lines)
    assert any("hooks:" in l and "emit_paging" in l for l in r.lines)


def test_bad_environment_values_are_clear_errors():
    r = hermit("run", "--board", "qemu-microvm", "--print-qemu", env={"HERMIT_CPUS": "many"})
    assert r.rc == 1 and "HERMIT_CPUS='many': expected a number of CPUs" in r.err, r
    _no_traceback(r)
    r = hermit("run", "--board", "qemu-microvm", "--print-qemu", env={"HERMIT_MEM": "lots"})
    assert r.rc == 1 and "invalid memory size 'lots'" in r.err, r
    _no_traceback(r)


def test_stdout_closed_early_is_not_a_traceback():
    """`hermitcore plugins | head -1`: the reader is gone before we write
    (here: from the start) -- status 0, nothing on stderr."""
    import os
    import subprocess
    import sys

    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-m", "hermitcore", "plugins"], stdout=w, stderr=subprocess.PIPE,
                           text=True, timeout=60)
    finally:
        os.close(w)
    assert (p.returncode, p.stderr) == (0, "")


def test_run_name_is_qemus_guest_name():
    r = hermit("run", "--board", "qemu-microvm", "--print-qemu", "--name", "web,1=x")
    assert r.rc == 0 and " -name guest=web,,1=x" in r.out, r  # QEMU's option syntax doubles a comma
    r = hermit("run", "--board", "qemu-microvm", "--print-qemu", "--name", "a\tb")
    assert r.rc == 1 and "--name 'a\\tb': expected 1 to 256 printable characters" in r.err, r
    _no_traceback(r)
