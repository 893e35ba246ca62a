"""Plugin discovery, and who is called for a board: built-in and
third-party plugins load the same way, through the ``hermitcore`` entry-point
group; once a board's architecture is selected, the core routes every hook
(``Selection``), so a plugin is only asked about boards it serves -- the way
pytest routes hooks to the conftest files of a path (``subset_hook_caller``).

- other architectures' plugins are never called for the board;
- ``emit_boot``/``emit_paging``/``emit_interrupts``/``emit_timers``: the
  architecture's plugin only;
- ``emit_device``: the plugin that claimed the driver's devices;
- ``qemu_args``/``decode_exit``: the architecture's plugin and the plugins
  that claimed a device of the board.

Each plugin is called through pluggy on its own (a subset caller), so the
core knows who contributed what and pluggy's wrappers and tracing still
apply."""

from __future__ import annotations

from typing import Iterable

import attrs
import pluggy

from hermitcore import PROJECT, hookspecs
from hermitcore.errors import BoardError, HermitError, PluginError
from hermitcore.model import Architecture, Board, ClaimedDevice


@attrs.frozen
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


def make_plugin_manager(
    extra: Iterable[tuple[str, object]] = (), entry_points: bool = True
) -> pluggy.PluginManager:
    """Create the plugin manager: hookspecs, entry points, then ``extra``
    ``(name, plugin)`` pairs (used by tests and embedders)."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if entry_points:
        try:
            pm.load_setuptools_entrypoints(PROJECT)
        except Exception as exc:  # a broken third-party plugin must not traceback
            raise PluginError(f"cannot load a hermitcore plugin: {exc}") from exc
    for name, plugin in extra:
        pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {pm.get_name(exc.plugin)!r}: {exc}") from exc
    return pm


def plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or repr(plugin)


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    out = []
    for plugin in pm.get_plugins():
        dist = dists.get(id(plugin))
        hooks = tuple(
            sorted(
                h.name
                for h in pm.get_hookcallers(plugin) or ()
            )
        )
        out.append(
            PluginInfo(
                name=plugin_name(pm, plugin),
                module=getattr(plugin, "__name__", type(plugin).__module__),
                distribution=dist.project_name if dist else "(not installed)",
                version=dist.version if dist else "-",
                hooks=hooks,
            )
        )
    return sorted(out, key=lambda p: (p.distribution != "hermitcore", p.name))


def call_each(pm: pluggy.PluginManager, hook_name: str, *, only=None, exclude=(), **kwargs) -> list[tuple[str, object]]:
    """Call a hook on each plugin that implements it (``only`` those, none of
    ``exclude``), one at a time through pluggy, in pluggy's order; return
    (plugin name, result) pairs for the results that are not None."""
    hook = getattr(pm.hook, hook_name)
    firstresult = hook.spec.opts.get("firstresult", False) if hook.spec else False
    everyone = pm.get_plugins()
    out = []
    for impl in reversed(hook.get_hookimpls()):
        plugin = impl.plugin
        if plugin in exclude or (only is not None and plugin not in only):
            continue
        caller = pm.subset_hook_caller(hook_name, remove_plugins=[p for p in everyone if p is not plugin])
        try:
            result = caller(**kwargs)
        except HermitError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin '{impl.plugin_name}' failed in {hook_name}: {type(exc).__name__}: {exc}") from exc
        if not firstresult:
            result = result[0] if result else None
        if result is not None:
            out.append((impl.plugin_name, result))
    return out


@attrs.frozen
class Selection:
    """The plugins that serve one board: its architecture's plugin, and the
    other architectures' plugins, which are never called for it."""

    pm: pluggy.PluginManager
    board: Board
    arch: Architecture
    arch_plugin: object
    others: tuple

    @property
    def arch_plugin_name(self) -> str:
        return plugin_name(self.pm, self.arch_plugin)

    def call_each(self, hook_name: str, **kwargs) -> list[tuple[str, object]]:
        """Every plugin serving the board (other architectures left out)."""
        return call_each(self.pm, hook_name, exclude=self.others, **kwargs)

    def call_arch(self, hook_name: str, **kwargs) -> list[tuple[str, object]]:
        """The architecture's plugin only."""
        return call_each(self.pm, hook_name, only=(self.arch_plugin,), **kwargs)

    def call_serving(self, hook_name: str, claimed, **kwargs) -> list[tuple[str, object]]:
        """The architecture's plugin and the plugins that claimed a device."""
        names = {c.claim.plugin for c in claimed}
        serving = (self.arch_plugin,) + tuple(p for p in self.pm.get_plugins() if plugin_name(self.pm, p) in names)
        return call_each(self.pm, hook_name, only=serving, **kwargs)

    def subset(self, hook_name: str, claimed):
        """A pluggy caller of ``hook_name`` on the plugins ``call_serving`` names."""
        names = {c.claim.plugin for c in claimed} | {self.arch_plugin_name}
        return self.pm.subset_hook_caller(
            hook_name, remove_plugins=[p for p in self.pm.get_plugins() if plugin_name(self.pm, p) not in names])


def select(pm: pluggy.PluginManager, board: Board) -> Selection:
    """The architecture that serves ``board`` and its plugin: exactly one
    plugin implementing ``hermitcore_select_arch`` must answer."""
    arch_plugins = [impl.plugin for impl in pm.hook.hermitcore_select_arch.get_hookimpls()]
    answers = call_each(pm, "hermitcore_select_arch", board=board)
    if not answers:
        archs = sorted({a.name for _, lst in call_each(pm, "hermitcore_architectures") for a in lst})
        raise PluginError(
            f"board '{board.name}' needs architecture '{board.arch}', but no installed plugin "
            f"implements it (available: {', '.join(archs) or 'none'})"
        )
    if len(answers) > 1:
        raise PluginError(f"board '{board.name}': plugins {' and '.join(repr(n) for n, _ in answers)} both "
                          f"implement architecture '{board.arch}'")
    name, arch = answers[0]
    chosen = pm.get_plugin(name)
    return Selection(pm=pm, board=board, arch=arch, arch_plugin=chosen,
                     others=tuple(p for p in arch_plugins if p is not chosen))


def claim_devices(sel: Selection):
    """Ask every plugin serving the board about every device: (claimed,
    unclaimed). Each Claim is stamped with the plugin that made it."""
    claimed: list[ClaimedDevice] = []
    unclaimed = []
    per_driver: dict[str, int] = {}
    driver_owner: dict[str, str] = {}
    for device in sel.board.devices:
        claims = [
            (plugin, attrs.evolve(claim, plugin=plugin))
            for plugin, claim in sel.call_each("hermitcore_claim_device", board=sel.board, device=device)
        ]
        if len(claims) > 1:
            who = " and ".join(f"'{p}' (driver {c.driver})" for p, c in claims)
            raise PluginError(f"device {device.path} ({device.describe()}) is claimed by two plugins: {who}")
        if not claims:
            unclaimed.append(device)
            continue
        plugin, claim = claims[0]
        owner = driver_owner.setdefault(claim.driver, plugin)
        if owner != plugin:
            raise PluginError(
                f"driver name '{claim.driver}' is used by two plugins: '{owner}' and '{plugin}'"
            )
        instance = per_driver.get(claim.driver, 0)
        per_driver[claim.driver] = instance + 1
        claimed.append(ClaimedDevice(device=device, claim=claim, instance=instance))
    return _number_interrupts(sel, tuple(claimed), tuple(unclaimed))


def _number_interrupts(sel: Selection, claimed, unclaimed):
    """Every device's interrupt specifiers as numbers, each from the plugin
    that claimed its controller (``hermitcore_interrupt_number``). A claimed
    device whose interrupts no plugin numbers is an error; an unclaimed one
    is listed without them."""
    controllers = {c.device.path: c for c in claimed}

    def numbers(device, required: bool) -> tuple[int, ...]:
        out = []
        for spec in device.interrupt_specs:
            ctrl = controllers.get(spec.controller)
            answers = call_each(sel.pm, "hermitcore_interrupt_number", only=(sel.pm.get_plugin(ctrl.claim.plugin),),
                                controller=ctrl.device, cells=spec.cells) if ctrl else []
            if not answers:
                if not required:
                    return ()
                where = f"{sel.board.directory}/board.dts:{device.line}: " if device.line else ""
                to = f"controller {spec.controller}" if spec.controller else "no interrupt controller (no interrupt-parent)"
                raise BoardError(f"{where}{device.path}: its interrupt <{' '.join(map(str, spec.cells))}> goes to "
                                 f"{to}, whose cells no plugin turns into a number")
            out.append(answers[0][1])
        return tuple(out)

    claimed = tuple(attrs.evolve(c, device=attrs.evolve(c.device, interrupts=numbers(c.device, True)))
                    for c in claimed)
    return claimed, tuple(attrs.evolve(d, interrupts=numbers(d, False)) for d in unclaimed)
