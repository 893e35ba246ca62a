"""Helpers for plugins that emit native code shipped next to their Python."""

from __future__ import annotations

import json
from importlib import resources

from hermitcore.model import Source


def package_file(package: str, filename: str) -> str:
    """Text of ``filename`` inside ``package`` (works installed or editable)."""
    return resources.files(package).joinpath(filename).read_text()


def package_sources(package: str, *filenames: str, prefix: str | None = None) -> tuple[Source, ...]:
    """Sources from ``package``, named ``<prefix>/<filename>`` in the build tree."""
    prefix = prefix or package.rsplit(".", 1)[-1]
    return tuple(Source(f"{prefix}/{f}", package_file(package, f)) for f in filenames)


def pci_names_header(board) -> str:
    """The board's pci.ids as C, for host-bridge drivers: ``static const
    struct pci_name names[]`` (hermit/pci.h), ending with a zero entry."""
    rows = [f"    {{{v:#06x}, {d:#06x}, {json.dumps(name)}}}," for (v, d), name in sorted(board.pci_names.items())]
    return "\n".join(
        ["/* Generated from the board's pci.ids: vendor, device, name. */",
         "static const struct pci_name names[] = {", *rows, "    {0, 0, 0},", "};", ""]
    )
