"""aarch64 architecture plugin: EL1 boot from QEMU -kernel, DTB at the start
of RAM, compose-time translation tables, exception vectors, semihosting exit."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_file, package_sources
from hermitcore.model import Architecture, EmitContext, Fragment, QemuArgs, RunContext, Source
from hermitcore.pagetables import describe, emit_tables

from . import paging

PKG = __package__
KERNEL_OFFSET = 0x200000  # above the DTB QEMU writes at the start of RAM

ARCH = Architecture(
    name="aarch64",
    clang_target="aarch64-unknown-none-elf",
    qemu_binary="qemu-system-aarch64",
    qemu_package="qemu-system-arm",
    cflags=("-mgeneral-regs-only", "-mcmodel=small"),
    ldflags=("-z", "max-page-size=4096"),
)


def _mine(ctx) -> bool:
    return ctx.arch.name == ARCH.name


@hookimpl
def hermitcore_architectures():
    return [ARCH]


@hookimpl
def hermitcore_select_arch(board):
    return ARCH if board.arch == ARCH.name else None


@hookimpl
def hermitcore_emit_boot(ctx: EmitContext):
    if not _mine(ctx):
        return None
    base = ctx.board.ram_base + KERNEL_OFFSET
    return Fragment(
        sources=package_sources(PKG, "boot.S", "cpu.c", "semihosting.c", prefix="aarch64"),
        linker_script=package_file(PKG, "kernel.ld").replace("KERNEL_BASE", f"{base:#x}"),
        summary=(f"boot: EL1 entry at {base:#x}, DTB at {ctx.board.ram_base:#x}",),
    )


@hookimpl
def hermitcore_emit_paging(ctx: EmitContext):
    if not _mine(ctx):
        return None
    tables, defines, summary = paging.build(ctx.board)
    return Fragment(
        sources=(Source("aarch64/pagetables.S", emit_tables(tables)),),
        defines=defines,
        summary=tuple(["paging: " + describe(tables)] + summary),
    )


@hookimpl
def hermitcore_emit_interrupts(ctx: EmitContext):
    if not _mine(ctx):
        return None
    return Fragment(
        sources=package_sources(PKG, "vectors.S", prefix="aarch64"),
        summary=("interrupts: VBAR_EL1 vectors report every exception and panic",),
    )


@hookimpl
def hermitcore_qemu_args(ctx: RunContext):
    if ctx.arch.name != ARCH.name:
        return None
    return QemuArgs(
        binary=ARCH.qemu_binary,
        args=("-semihosting-config", "enable=on,target=native"),
    )


@hookimpl
def hermitcore_decode_exit(ctx: RunContext, returncode: int):
    if ctx.arch.name != ARCH.name:
        return None
    # Semihosting SYS_EXIT with ADP_Stopped_ApplicationExit: QEMU exits with
    # the guest's status as is.
    return returncode if returncode >= 0 else None
