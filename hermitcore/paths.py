"""Where hermitcore keeps what it can rebuild: images, objects, run plans,
fetched sources. Standard library only, and no pathlib at import (~3 ms):
`hermitcore run` passes through here."""

from __future__ import annotations

import os


def _default_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hermitcore")


def default_cache_dir() -> Path:  # noqa: F821 (pathlib imported when called)
    from pathlib import Path

    return Path(_default_root())


def cache_path(*parts: str) -> str:
    """``cache_dir()/parts...`` as a string, without importing pathlib."""
    return os.path.join(os.environ.get("HERMIT_CACHE_DIR") or _default_root(), *parts)


def cache_dir() -> Path:  # noqa: F821
    """``HERMIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/hermitcore`` (``~/.cache``)."""
    from pathlib import Path

    return Path(cache_path())
