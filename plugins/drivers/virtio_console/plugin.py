"""virtio-console: the kernel console on a virtio device, for boards that
choose it instead of a UART (a "virtio,device3" child of a virtio-mmio slot;
see boards/qemu-microvm-vcon). At run time it puts QEMU's console chardev on
a ``virtconsole`` port of a ``virtio-serial`` device."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, Fragment, QemuArgs
from hermitcore.virtio import qemu_device

DRIVER = "virtio-console"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("virtio,device3"):
        return Claim(driver=DRIVER, role="console")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    return Fragment(
        sources=package_sources(__package__, "virtio_console.c", prefix="drivers/virtio_console"),
        defines={"HERMIT_CONSOLE_REPLAY": "8192"},  # boot output before the device is found, replayed
        summary=(f"console: virtio-console ({claimed[0].device.path})",),
    )


@hookimpl
def hermitcore_qemu_args(ctx):
    consoles = [c for c in ctx.claimed if c.claim.driver == DRIVER]
    if not consoles:
        return None
    serial = qemu_device(ctx.board, consoles[0].device, "serial")
    return QemuArgs(args=("-device", serial, "-device", f"virtconsole,chardev={ctx.options.console_chardev}"))
