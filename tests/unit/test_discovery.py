"""Plugin discovery and the run path's imports, in-process (as pytest's own
suite tests its plugin loading): a distribution that declares a `hermitcore`
entry point is loaded and named; `hermitcore run`'s path imports the
standard library only."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import types

from hermitcore import hookimpl
from hermitcore.model import Claim
from hermitcore.plugins import claim_devices, describe_plugins, make_plugin_manager, select
from hermitcore.board import load_board
from tests.conftest import ROOT


class FakeDistribution(importlib.metadata.Distribution):
    """An installed distribution that exists only in this test."""

    def __init__(self, name: str, version: str, entry_points: str):
        self._files = {"METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                       "entry_points.txt": entry_points}

    def read_text(self, filename):
        return self._files.get(filename)

    def locate_file(self, path):
        return None


def test_a_third_party_distribution_is_found_through_its_entry_point(monkeypatch):
    module = types.ModuleType("hermit_fake_rtc")

    @hookimpl
    def hermitcore_claim_device(board, device):
        if device.is_compatible("arm,pl031"):
            return Claim(driver="fake-rtc")

    module.hermitcore_claim_device = hermitcore_claim_device
    monkeypatch.setitem(sys.modules, "hermit_fake_rtc", module)
    fake = FakeDistribution("hermitcore-fake-rtc", "9.9", "[hermitcore]\nfake-rtc = hermit_fake_rtc\n")
    real = importlib.metadata.distributions
    monkeypatch.setattr(importlib.metadata, "distributions", lambda **kw: [*real(**kw), fake])

    pm = make_plugin_manager()
    info = {p.name: p for p in describe_plugins(pm)}
    assert info["fake-rtc"].distribution == "hermitcore-fake-rtc" and info["fake-rtc"].version == "9.9"
    assert info["fake-rtc"].hooks == ("hermitcore_claim_device",)
    claimed, _ = claim_devices(select(pm, load_board("qemu-virt")))
    rtc = [c for c in claimed if c.claim.driver == "fake-rtc"]
    assert len(rtc) == 1 and rtc[0].claim.plugin == "fake-rtc" and rtc[0].device.path.endswith("pl031@9010000")


def test_the_run_path_imports_the_standard_library_only():
    """`hermitcore run` on a cached run plan loads no plugin, pluggy, attrs or
    pyelftools (launch.py, streams.py, runplan.py say so; this keeps them
    honest): every module it imports is the standard library's or one of
    these."""
    allowed = {"hermitcore", "hermitcore.cli", "hermitcore.errors", "hermitcore.image", "hermitcore.launch",
               "hermitcore.paths", "hermitcore.run", "hermitcore.runplan", "hermitcore.streams"}
    code = ("import sys; before = set(sys.modules); import hermitcore.cli, hermitcore.run; "
            "print('\\n'.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    foreign = [m for m in out.stdout.split() if m.split(".")[0] not in sys.stdlib_module_names and m not in allowed]
    assert foreign == [], foreign
    assert "hermitcore.streams" in out.stdout.split()
