"""x86_64 architecture plugin: PVH boot, long mode, compose-time page tables."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_file, package_sources
from hermitcore.model import Architecture, EmitContext, Fragment, QemuArgs, RunContext, Source
from hermitcore.pagetables import describe, emit_tables

from . import paging

PKG = __package__

ARCH = Architecture(
    name="x86_64",
    clang_target="x86_64-unknown-none-elf",
    qemu_binary="qemu-system-x86_64",
    qemu_package="qemu-system-x86",
    # No red zone (interrupts use the kernel stack); no SSE/x87 in the kernel.
    cflags=("-mno-red-zone", "-mgeneral-regs-only", "-mcmodel=small"),
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
    return Fragment(
        sources=package_sources(PKG, "boot.S", "start.c", "cpu.c", prefix="x86_64")
        + (Source("x86_64/include/arch/io.h", package_file(PKG, "include/arch/io.h")),),
        include_dirs=("x86_64/include",),
        linker_script=package_file(PKG, "kernel.ld"),
        summary=("boot: PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) at 1 MiB",),
    )


@hookimpl
def hermitcore_emit_paging(ctx: EmitContext):
    if not _mine(ctx):
        return None
    tables, summary = paging.build(ctx.board)
    return Fragment(
        sources=(Source("x86_64/pagetables.S", emit_tables(tables)),),
        summary=tuple(["paging: " + describe(tables)] + summary),
    )


@hookimpl
def hermitcore_qemu_args(ctx: RunContext):
    if ctx.arch.name != ARCH.name:
        return None
    cpu = None
    if ctx.options.accel == "kvm":
        # Some KVM hosts (kvm_pvm among them) refuse IA32_ARCH_CAPABILITIES;
        # the kernel never reads it, so hide it rather than fail to start.
        cpu = f"{ctx.board.qemu.cpu},-arch-capabilities"
    return QemuArgs(binary=ARCH.qemu_binary, cpu=cpu)
