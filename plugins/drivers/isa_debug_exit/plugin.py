"""Guest exit through QEMU's isa-debug-exit (x86), with the exact status byte
carried on an isa-debugcon port next to it."""

from __future__ import annotations

import os

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, ExitCode, Fragment, QemuArgs

EXIT, STATUS = "isa-debug-exit", "isa-debugcon-status"
STATUS_FILE = "exit-status"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("qemu,isa-debug-exit"):
        return Claim(driver=EXIT, role="exit")
    if device.is_compatible("qemu,isa-debugcon"):
        return Claim(driver=STATUS, role="exit-status")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    if claimed[0].claim.driver != EXIT:
        return None  # the status port is emitted with the exit device
    exit_dev = claimed[0].device
    defines = {}
    status = ctx.devices_of(STATUS)
    if status:
        defines["ISA_EXIT_STATUS_PORT"] = f"{status[0].device.regs[0].address:#x}"
    return Fragment(
        sources=package_sources(__package__, "isa_debug_exit.c", prefix="drivers/isa_debug_exit"),
        defines=defines,
        summary=(f"exit: isa-debug-exit at port {exit_dev.regs[0].address:#x}",),
    )


def _ports(ctx):
    exit_dev, status_dev = ctx.devices_of(EXIT), ctx.devices_of(STATUS)
    return exit_dev[0].device if exit_dev else None, status_dev[0].device if status_dev else None


@hookimpl
def hermitcore_qemu_args(ctx):
    exit_dev, status_dev = _ports(ctx)
    if exit_dev is None:
        return None
    reg = exit_dev.regs[0]
    args = ["-device", f"isa-debug-exit,iobase={reg.address:#x},iosize={reg.size:#x}"]
    # QEMU exits with (value << 1) | 1; the driver writes the exact status
    # to the debugcon port first (no byte: the odd status is QEMU's own).
    exit_code = ExitCode(odd=True, shift=1)
    if status_dev is not None:
        exit_code = ExitCode(odd=True, status_file=STATUS_FILE)
        path = os.path.join(ctx.options.workdir, STATUS_FILE)
        args += [
            "-chardev", f"file,id=hexitstatus,path={path}",
            "-device", f"isa-debugcon,iobase={status_dev.regs[0].address:#x},chardev=hexitstatus",
        ]
    return QemuArgs(args=tuple(args), exit_code=exit_code)
