"""hermitcore: compose bootable unikernel images from plugins and run them in QEMU."""

__version__ = "0.1.0"

#: One name for the pluggy project, the markers and the entry-point group.
PROJECT = "hermitcore"


def __getattr__(name: str):
    # The markers are made on first use: `hermitcore run` on a cached run
    # plan never imports pluggy.
    if name in ("hookspec", "hookimpl"):
        import pluggy

        marker = (pluggy.HookspecMarker if name == "hookspec" else pluggy.HookimplMarker)(PROJECT)
        globals()[name] = marker
        return marker
    raise AttributeError(f"module 'hermitcore' has no attribute {name!r}")

__all__ = ["PROJECT", "__version__", "hookimpl", "hookspec"]
