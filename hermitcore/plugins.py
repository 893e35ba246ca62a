"""Plugin discovery: built-in and third-party plugins load the same way,
through the ``hermitcore`` entry-point group."""

from __future__ import annotations

from typing import Iterable

import attrs
import pluggy

from hermitcore import PROJECT, hookspecs
from hermitcore.errors import PluginError


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
