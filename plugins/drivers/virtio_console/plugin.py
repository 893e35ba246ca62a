"""virtio-console: the program's standard streams, one port each, on every
board that describes a "virtio,device3" (a child of a virtio-mmio slot or of
a virtio PCI function). On a board with no other console (see
boards/qemu-microvm-vcon) its port 0 also carries the kernel log.

At run time it puts a ``virtio-serial`` device on QEMU's command line with a
``virtserialport`` per stream on the chardevs the core connects to the host
command's stdin, stdout and stderr (launch.py), and -- with the kernel log --
a ``virtconsole`` on the console chardev. Ports, not consoles, carry the
streams: QEMU drops a console port's bytes when the host is slow, a port
waits."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import STDIO_PORTS, Claim, Fragment, QemuArgs
from hermitcore.virtio import qemu_device

DRIVER = "virtio-console"


def _kernel_log(claimed) -> bool:
    """The device carries the kernel log: no other driver is the console."""
    return not any(c.claim.role == "console" for c in claimed)


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("virtio,device3"):
        return Claim(driver=DRIVER, role="stdio")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    log = _kernel_log(ctx.claimed)
    defines = {"HERMIT_CONSOLE_REPLAY": "8192", "VCON_KERNEL_LOG": "1"} if log else {}  # boot output replayed
    return Fragment(
        sources=package_sources(__package__, "virtio_console.c", prefix="drivers/virtio_console"),
        defines=defines,
        summary=(f"streams{' and console' if log else ''}: virtio-console ({claimed[0].device.path})",),
    )


@hookimpl
def hermitcore_qemu_args(ctx):
    mine = ctx.devices_of(DRIVER)
    if ctx.meta.get("stdio") != "virtio":
        return None  # a foreign kernel (the benchmarks' Linux guest) brings its own
    args = ["-device", qemu_device(ctx.board, mine[0].device, "serial")]
    if _kernel_log(ctx.claimed):
        args += ["-device", f"virtconsole,chardev={ctx.options.console_chardev},nr=0"]
    for nr, (chardev, name) in enumerate(STDIO_PORTS, start=1):
        args += ["-device", f"virtserialport,chardev={chardev},nr={nr},name={name}"]
    return QemuArgs(args=tuple(args))
