"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""


class HermitError(Exception):
    """A problem with the user's input or environment, with an actionable message."""

    exit_code = 1


class BoardError(HermitError):
    """An unknown board or a board whose description is broken."""


class PluginError(HermitError):
    """A plugin conflict or a plugin that breaks the hook contract."""


class ToolchainError(HermitError):
    """A missing tool, or a compiler/linker failure."""


class ImageError(HermitError):
    """An image or application that cannot be used."""


class RunError(HermitError):
    """QEMU could not start or died without a guest exit status."""

    exit_code = 125


class GuestTimeout(HermitError):
    """The guest was still running when the timeout expired."""

    exit_code = 124
