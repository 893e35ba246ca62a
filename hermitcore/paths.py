"""Where hermitcore keeps what it can rebuild: images, objects, run plans,
fetched sources. Standard library only (on `hermitcore run`'s path)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hermitcore"


def cache_dir() -> Path:
    """``HERMIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/hermitcore`` (``~/.cache``)."""
    root = os.environ.get("HERMIT_CACHE_DIR")
    return Path(root) if root else default_cache_dir()
