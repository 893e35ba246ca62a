"""hermitcore: compose bootable unikernel images from plugins and run them in QEMU."""

import pluggy

__version__ = "0.1.0"

#: One name for the pluggy project, the markers and the entry-point group.
PROJECT = "hermitcore"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "__version__", "hookimpl", "hookspec"]
