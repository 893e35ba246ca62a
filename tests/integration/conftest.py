"""Fixtures shared by the integration tests of Linux programs."""

from __future__ import annotations

import pytest

from tests.conftest import selected_arches
from tests.linux_programs import Builder


@pytest.fixture(params=selected_arches())
def arch(request):
    return request.param


@pytest.fixture(scope="session")
def bare_board(tmp_path_factory):
    """Per architecture, a copy of its fast board with the virtio devices
    (network card, 9p) taken out of the device tree: a board folder of the
    user's own, given to --board by path."""
    import re
    import shutil

    from tests.conftest import ROOT

    out = {}
    for arch, name in (("x86_64", "qemu-microvm"), ("aarch64", "qemu-virt")):
        dest = tmp_path_factory.mktemp("boards") / f"{name}-bare"
        shutil.copytree(ROOT / "boards" / name, dest)
        dts = dest / "board.dts"
        text = re.sub(r"\n\t\t// [^\n]*\n(\t\t// [^\n]*\n)?\t\t(net|fs|streams) \{\n[^}]*\};\n", "\n", dts.read_text())
        assert "virtio,device" not in text
        dts.write_text(text)
        out[arch] = dest
    return out


@pytest.fixture(scope="session")
def builder(tmp_path_factory):
    """Static test programs, each built once per session."""
    return Builder(tmp_path_factory.mktemp("linux-programs"))
