"""Arm PL011 UART console driver."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, Fragment, QemuArgs

DRIVER = "pl011"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("arm,pl011"):
        return Claim(driver=DRIVER, role="console")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    first = claimed[0].device
    return Fragment(
        sources=package_sources(__package__, "pl011.c", prefix="drivers/pl011"),
        summary=(f"console: PL011 at {first.regs[0].address:#x} ({first.path})",),
    )


@hookimpl
def hermitcore_qemu_args(ctx):  # called only for boards where this plugin claimed the UART
    return QemuArgs(args=("-serial", f"chardev:{ctx.options.console_chardev}"))
