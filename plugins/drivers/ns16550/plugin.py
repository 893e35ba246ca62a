"""16550 UART console driver (x86 port I/O or MMIO, chosen from the DT)."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, Fragment, QemuArgs

COMPATIBLE = ("ns16550a", "ns16550", "ns16450", "ns8250")
DRIVER = "ns16550"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible(*COMPATIBLE):
        return Claim(driver=DRIVER, role="console")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    first = claimed[0].device
    if not first.regs:
        return None
    pio = first.regs[0].space == "io"
    return Fragment(
        sources=package_sources(__package__, "ns16550.c", prefix="drivers/ns16550"),
        defines={"NS16550_PIO": "1" if pio else "0", "NS16550_REG_SHIFT": "0"},
        summary=(f"console: 16550 at {'port' if pio else 'mmio'} {first.regs[0].address:#x} ({first.path})",),
    )


@hookimpl
def hermitcore_qemu_args(ctx):  # called only for boards where this plugin claimed the UART
    return QemuArgs(args=("-serial", f"chardev:{ctx.options.console_chardev}"))
