"""The docs name what exists: every built-in board in the README's board
list, every built-in plugin in docs/architecture.md. A board or plugin added
without its line fails here."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import BOARDS, ROOT


def entry_points() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return meta["project"]["entry-points"]["hermitcore"]


def test_readme_lists_every_board():
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^    (qemu-[a-z0-9-]+) +(?:x86_64|aarch64) ", readme, re.M))
    assert listed == set(BOARDS), "README's `hermitcore boards` listing and boards/ differ"


def test_architecture_names_every_driver_plugin():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    drivers = {name for name, module in entry_points().items() if ".drivers." in module}
    table = set(re.findall(r"^\| `([a-z0-9-]+)` \| ", doc, re.M))
    assert drivers <= table, f"docs/architecture.md does not name {sorted(drivers - table)}"
    assert drivers, "no driver plugins found in pyproject.toml"


def test_every_plugin_folder_has_its_entry_point():
    folders = {p.parent.name for p in (ROOT / "plugins" / "drivers").glob("*/plugin.py")}
    modules = {module.rsplit(".", 2)[-2] for module in entry_points().values() if ".drivers." in module}
    assert folders == modules
