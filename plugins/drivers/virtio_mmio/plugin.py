"""virtio over MMIO (virtio 1.x, "version 2" registers): claims the device
tree's "virtio,mmio" slots, emits a probe that reads each slot's device ID at
boot and hands what it finds to the virtio core (kernel/virtio.c), which binds
the composed device drivers (virtio-net, ...)."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, Fragment, QemuArgs, Source

DRIVER = "virtio-mmio"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("virtio,mmio"):
        return Claim(driver=DRIVER, role="bus")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    rows = [
        f"    {{{c.device.regs[0].address:#x}, {c.device.interrupts[0] if c.device.interrupts else '~0u'}}},"
        for c in claimed
        if c.device.regs
    ]
    table = "\n".join(
        ["/* Generated from the board's virtio,mmio nodes: base, IRQ. */",
         "static const struct slot slots[] = {", *rows, "};", ""]
    )
    return Fragment(
        sources=package_sources(__package__, "virtio_mmio.c", prefix="drivers/virtio_mmio")
        + (Source("drivers/virtio_mmio/slots.h", table),),
        summary=(f"virtio-mmio: {len(rows)} slots probed at boot",),
    )


@hookimpl
def hermitcore_qemu_args(ctx):  # called only for boards where this plugin claimed a slot
    # QEMU's virtio-mmio speaks the legacy (0.9.5) register layout unless told otherwise
    return QemuArgs(args=("-global", "virtio-mmio.force-legacy=false"))
