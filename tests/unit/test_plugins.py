import pytest

from hermitcore import hookimpl
from hermitcore.board import load_board
from hermitcore.compose import claim_devices, make_spec
from hermitcore.errors import PluginError
from hermitcore.model import Claim, Fragment, Source
from hermitcore.plugins import describe_plugins, make_plugin_manager

BUILTIN = {"x86_64", "aarch64", "ns16550", "pl011", "isa-debug-exit"}


def test_builtin_plugins_load_through_entry_points():
    pm = make_plugin_manager()
    infos = {i.name: i for i in describe_plugins(pm)}
    assert BUILTIN <= set(infos)
    assert infos["pl011"].distribution == "hermitcore"
    assert "hermitcore_claim_device" in infos["pl011"].hooks


def test_third_party_plugin_is_discovered():
    """The fixture distribution under tests/fixtures is installed by tox; it is
    found through its own entry point, with no change to hermitcore. Outside
    tox (and CI) a checkout without it skips this test instead of failing."""
    import importlib.metadata
    import os

    try:
        importlib.metadata.distribution("hermitcore-example-fwcfg")
    except importlib.metadata.PackageNotFoundError:
        if not (os.environ.get("CI") or os.environ.get("TOX_ENV_NAME")):
            pytest.skip("tests/fixtures/hermitcore-example-fwcfg is not installed (tox installs it)")
    pm = make_plugin_manager()
    infos = {i.name: i for i in describe_plugins(pm)}
    assert "example-fwcfg" in infos, "install tests/fixtures/hermitcore-example-fwcfg (tox does)"
    assert infos["example-fwcfg"].distribution == "hermitcore-example-fwcfg"
    assert infos["example-fwcfg"].version == "1.2.3"


class Misspelt:
    @hookimpl
    def hermitcore_emit_bot(self, ctx):  # typo: not a hook
        return None


def test_misspelt_hook_is_an_error():
    with pytest.raises(PluginError, match="hermitcore_emit_bot"):
        make_plugin_manager(extra=[("typo", Misspelt())])


class AnotherUart:
    @hookimpl
    def hermitcore_claim_device(self, board, device):
        if device.is_compatible("arm,pl011"):
            return Claim(driver="my-uart", role="console")


def test_device_claimed_twice_names_both_plugins():
    pm = make_plugin_manager(extra=[("my-uart-plugin", AnotherUart())])
    with pytest.raises(PluginError) as exc:
        claim_devices(pm, load_board("qemu-virt"))
    msg = str(exc.value)
    assert "/pl011@9000000" in msg and "'pl011'" in msg and "'my-uart-plugin'" in msg


class Recorder:
    """Claims the PL031 RTC; records which device hooks it is asked."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def hermitcore_claim_device(self, board, device):
        if device.is_compatible("arm,pl031"):
            return Claim(driver="rtc-recorder")

    @hookimpl
    def hermitcore_emit_device(self, ctx, claimed):
        self.calls.append(tuple(c.claim.driver for c in claimed))
        return Fragment(sources=(Source("rec/rec.c", "int rec_marker;\n"),))


def test_emit_device_is_called_only_on_the_claiming_plugin():
    rec = Recorder()
    pm = make_plugin_manager(extra=[("recorder", rec)])
    spec, claimed, unclaimed = make_spec(pm, load_board("qemu-virt"))
    assert rec.calls == [("rtc-recorder",)]
    assert ("device", "recorder") in {(ph, p) for ph, p, _ in spec.fragments}
    board_h = next(s.text for s in spec.generated if s.name == "generated/board.h")
    assert "#define BOARD_RTC_RECORDER_0_BASE 0x9010000" in board_h
    assert "#define BOARD_RTC_RECORDER_0_IRQ 34" in board_h


class BadFragment:
    @hookimpl
    def hermitcore_emit_timers(self, ctx):
        return "not a fragment"


def test_plugin_returning_garbage_is_reported():
    pm = make_plugin_manager(extra=[("bad", BadFragment())])
    with pytest.raises(PluginError, match="plugin 'bad' returned str, expected a Fragment"):
        make_spec(pm, load_board("qemu-microvm"))
