"""A board may put its console on virtio-console instead of a UART
(boards/qemu-microvm-vcon): the kernel log on the device's port 0 -- the
banner printed before the device is found replayed to it -- and the
program's streams on its other ports, its exit status to the host."""

from __future__ import annotations

import pytest

from tests.conftest import hermit, selected_arches

BOARD = "qemu-microvm-vcon"

pytestmark = pytest.mark.skipif("x86_64" not in selected_arches(), reason="the virtio-console board is x86_64")


def test_hello_on_a_virtio_console():
    r = hermit("run", "--board", BOARD, "--timeout", "120", "--", "one", "two words")
    assert r.rc == 0, r
    assert r.log_lines[0].startswith(f"hermitcore 0.1.0 on {BOARD} (x86_64)"), r  # printed before the console existed
    assert any(l.startswith("[hermit] virtio: console (virtio-mmio) at virtio-mmio@") and l.endswith(
        "driver virtio-console") for l in r.log_lines), r
    assert r.lines == ["Hello from hermitcore!", "argv[1] = one", "argv[2] = two words"], r  # stdout: the app's alone
    assert not any("16550" in l for l in r.log_lines), r


def test_linux_program_on_a_virtio_console(builder):
    prog = builder.build("glibc", "x86_64", "probe.c")
    r = hermit("run", "--board", BOARD, str(prog), "--timeout", "120", "--", "42")
    assert r.rc == 42, r
    assert "argv[1]=42" in r.lines, r
