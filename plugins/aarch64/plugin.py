"""aarch64 architecture plugin: EL1 boot from QEMU -kernel, DTB at the start
of RAM, compose-time translation tables, exception vectors, semihosting exit."""

from __future__ import annotations

import os

from hermitcore import hookimpl
from hermitcore.emit import package_file, package_sources
from hermitcore.errors import PluginError
from hermitcore.model import Architecture, Claim, EmitContext, ExitCode, Fragment, QemuArgs, RunContext, Source
from hermitcore.pagetables import describe, emit_tables

from . import paging

PKG = __package__
EXIT_STATUS_FILE = "exit-status"  # the semihosting console: the exit status byte
KERNEL_OFFSET = paging.KERNEL_OFFSET

ARCH = Architecture(
    name="aarch64",
    clang_target="aarch64-unknown-none-elf",
    qemu_binary="qemu-system-aarch64",
    qemu_package="qemu-system-arm",
    cflags=("-mgeneral-regs-only", "-mcmodel=small"),
    ldflags=("-z", "max-page-size=4096"),
)



@hookimpl
def hermitcore_architectures():
    return [ARCH]


@hookimpl
def hermitcore_select_arch(board):
    return ARCH if board.arch == ARCH.name else None


@hookimpl
def hermitcore_emit_boot(ctx: EmitContext):
    base = ctx.board.ram_base + KERNEL_OFFSET
    return Fragment(
        sources=package_sources(PKG, "boot.S", "cpu.c", "smp.c", "semihosting.c", "signal.c", prefix="aarch64")
        + tuple(Source(f"aarch64/include/arch/{h}", package_file(PKG, f"include/arch/{h}")) for h in ("aarch64.h", "percpu.h")),
        include_dirs=("aarch64/include",),
        linker_script=package_file(PKG, "kernel.ld").replace("KERNEL_BASE", f"{base:#x}"),
        summary=(f"boot: EL1 entry at {base:#x}, DTB at {ctx.board.ram_base:#x}",),
    )


@hookimpl
def hermitcore_emit_paging(ctx: EmitContext, layout):
    tables, defines, symbols, summary = paging.build(ctx.board, layout)
    return Fragment(
        sources=(
            Source("aarch64/pagetables.S", emit_tables(tables, symbols)),
            Source("aarch64/mmu.c", package_file(PKG, "mmu.c")),
        ),
        defines=defines,
        summary=tuple(["paging: " + describe(tables)] + summary),
    )


GIC_VERSIONS = {"arm,cortex-a15-gic": 2, "arm,gic-400": 2, "arm,gic-v3": 3}


@hookimpl
def hermitcore_interrupt_number(controller, cells):
    """GIC binding: <type n flags>, type 0 an SPI (INTID n + 32), 1 a PPI
    (INTID n + 16)."""
    if controller.is_compatible(*GIC_VERSIONS) and len(cells) >= 3:
        return cells[1] + (32 if cells[0] == 0 else 16)
    return None


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible(*GIC_VERSIONS):
        return Claim(driver="gic", role="interrupt-controller")
    if device.is_compatible("arm,armv8-timer"):
        return Claim(driver="armv8-timer", role="timer")
    return None



def _one(ctx, driver, what):
    devs = ctx.devices_of(driver)
    if not devs:
        raise PluginError(f"board '{ctx.board.name}' has no {what} node; the aarch64 plugin needs one")
    return devs[0].device


@hookimpl
def hermitcore_emit_interrupts(ctx: EmitContext):
    gic = _one(ctx, "gic", "GIC ('arm,cortex-a15-gic', 'arm,gic-400' or 'arm,gic-v3')")
    version = next(v for c, v in GIC_VERSIONS.items() if gic.is_compatible(c))
    if len(gic.regs) < 2:
        raise PluginError(f"{gic.path}: a GIC needs two reg entries (distributor and CPU interface/redistributor)")
    return Fragment(
        sources=package_sources(PKG, "vectors.S", "gic.c", prefix="aarch64"),
        defines={"GIC_VERSION": str(version)},
        summary=(f"interrupts: VBAR_EL1 vectors, GICv{version} at {gic.regs[0].address:#x} ({gic.path})",),
    )


@hookimpl
def hermitcore_emit_timers(ctx: EmitContext):
    timer = _one(ctx, "armv8-timer", "'arm,armv8-timer'")
    if len(timer.interrupts) < 3:
        raise PluginError(f"{timer.path}: expected 4 timer interrupts (secure, non-secure, virtual, hypervisor)")
    return Fragment(
        sources=package_sources(PKG, "timer.c", prefix="aarch64"),
        summary=(f"timers: generic timer, virtual timer PPI {timer.interrupts[2]}",),
    )



@hookimpl
def hermitcore_emit_vdso(ctx: EmitContext):
    return Fragment(
        sources=package_sources(PKG, "vdso.c", prefix="aarch64"),
        linker_script=package_file(PKG, "vdso.ld"),
        summary=("vdso: LINUX_2.6.39: __kernel_clock_gettime, __kernel_gettimeofday, __kernel_clock_getres (from cntvct_el0)",),
    )


@hookimpl
def hermitcore_qemu_args(ctx: RunContext):
    # Semihosting SYS_EXIT with ADP_Stopped_ApplicationExit: QEMU exits with
    # the guest's status; the kernel writes the exact byte to the semihosting
    # console first (no byte: QEMU's 0 is a reset or power-off, not an exit).
    status = os.path.join(ctx.options.workdir, EXIT_STATUS_FILE)
    return QemuArgs(
        binary=ARCH.qemu_binary,
        args=("-chardev", f"file,id=hexitstatus,path={status}",
              "-semihosting-config", "enable=on,target=native,chardev=hexitstatus"),
        exit_code=ExitCode(status_file=EXIT_STATUS_FILE),
    )
