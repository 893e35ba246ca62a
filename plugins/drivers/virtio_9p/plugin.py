"""virtio-9p: host directories for the program (``hermitcore run --mount
HOSTDIR:/guest/path``), through QEMU's built-in 9P server (``-fsdev local``,
no daemon to run). Claims the device-tree node "virtio,device9" (a child of a
virtio-mmio slot); the Linux layer (kernel/linux/p9.c) speaks 9P2000.L over
it and mounts each device at the path its mount tag names.

virtio-9p rather than virtio-fs: virtio-fs needs Debian's virtiofsd running
beside QEMU and shared guest memory (memory-backend-memfd), while 9p is inside
QEMU itself; for a program reading and writing its files, 9p's per-message
cost is what we pay either way at this scale.
"""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, Fragment, QemuArgs
from hermitcore.virtio import qemu_device

DRIVER = "virtio-9p"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("virtio,device9"):
        return Claim(driver=DRIVER, role="filesystem")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    if ctx.program is None:
        return None  # a C application has no sockets or files to serve: the device stays out
    return Fragment(
        sources=package_sources(__package__, "virtio_9p.c", prefix="drivers/virtio_9p"),
        summary=(f"host files: virtio-9p ({', '.join(c.device.path for c in claimed)})",),
    )


@hookimpl
def hermitcore_qemu_args(ctx):
    devices = ctx.devices_of(DRIVER)
    if not ctx.options.mounts:
        return None
    model = qemu_device(ctx.board, devices[0].device, "9p")
    args: list[str] = []
    for i, spec in enumerate(ctx.options.mounts):
        ro = spec.endswith(":ro")  # HOSTDIR:/guest/path:ro -- QEMU's server refuses writes (EROFS)
        host, guest = (spec[:-3] if ro else spec).rsplit(":", 1)
        where = model if i == 0 else model.split(",addr=")[0]  # more mounts: any free slot
        args += [
            "-fsdev", f"local,id=hostfs{i},path={host},security_model=none" + (",readonly=on" if ro else ""),
            "-device", f"{where},fsdev=hostfs{i},mount_tag={guest}",
        ]
    return QemuArgs(args=tuple(args))
