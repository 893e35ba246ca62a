import pytest

from hermitcore import hookimpl
from hermitcore.board import load_board
from hermitcore.compose import make_spec
from hermitcore.errors import PluginError
from hermitcore.model import Claim, Fragment, Source
from hermitcore.plugins import claim_devices, describe_plugins, make_plugin_manager, select

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
        claim_devices(select(pm, load_board("qemu-virt")))
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
    def hermitcore_claim_device(self, board, device):
        if device.is_compatible("arm,pl031"):
            return Claim(driver="bad-rtc")

    @hookimpl
    def hermitcore_emit_device(self, ctx, claimed):
        return "not a fragment"


def test_plugin_returning_garbage_is_reported():
    pm = make_plugin_manager(extra=[("bad", BadFragment())])
    with pytest.raises(PluginError, match="plugin 'bad' returned str, expected a Fragment"):
        make_spec(pm, load_board("qemu-virt"))


class Spy:
    """Records every hook it is asked."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def hermitcore_claim_device(self, board, device):
        self.calls.append("claim_device")

    @hookimpl
    def hermitcore_emit_boot(self, ctx):
        self.calls.append("emit_boot")

    @hookimpl
    def hermitcore_emit_timers(self, ctx):
        self.calls.append("emit_timers")

    @hookimpl
    def hermitcore_qemu_args(self, ctx):
        self.calls.append("qemu_args")


class OtherArchSpy(Spy):
    """An architecture plugin that does not serve the board."""

    @hookimpl
    def hermitcore_select_arch(self, board):
        self.calls.append("select_arch")


def test_the_core_routes_hooks_to_the_plugins_that_serve_the_board(tmp_path):
    """Another architecture's plugin hears only selection; a plugin that
    claims nothing is asked about devices but not to emit the architecture's
    code or add QEMU arguments; the arch plugin and the claimers are."""
    from hermitcore.model import RunOptions
    from hermitcore.run import plan_command

    other_arch, bystander, rec = OtherArchSpy(), Spy(), Recorder()
    pm = make_plugin_manager(extra=[("other-arch", other_arch), ("bystander", bystander), ("recorder", rec)])
    board = load_board("qemu-virt")
    sel = select(pm, board)
    assert sel.arch.name == "aarch64" and sel.arch_plugin_name == "aarch64" and other_arch in sel.others
    make_spec(pm, board)
    argv, ctx, _ = plan_command(pm, board, str(tmp_path / "none.elf"), RunOptions(workdir=str(tmp_path)), meta={})
    assert set(other_arch.calls) == {"select_arch"}
    assert set(bystander.calls) == {"claim_device"}
    assert rec.calls == [("rtc-recorder",)]
    assert "qemu-system-aarch64" in argv[0] and ctx.devices_of("rtc-recorder")


def test_two_plugins_for_one_architecture_is_a_conflict():
    class Twin:
        @hookimpl
        def hermitcore_select_arch(self, board):
            from hermitcore.model import Architecture

            return Architecture(name=board.arch, clang_target="x", qemu_binary="y", qemu_package="z")

    pm = make_plugin_manager(extra=[("twin", Twin())])
    with pytest.raises(PluginError, match="'aarch64' and 'twin'|'twin' and 'aarch64'"):
        select(pm, load_board("qemu-virt"))
