"""x86_64 architecture plugin: PVH boot, long mode, compose-time page tables."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_file, package_sources
from hermitcore.errors import PluginError
from hermitcore.model import Architecture, Claim, EmitContext, Fragment, QemuArgs, RunContext, Source
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



@hookimpl
def hermitcore_architectures():
    return [ARCH]


@hookimpl
def hermitcore_select_arch(board):
    return ARCH if board.arch == ARCH.name else None


#: DT compatible -> (driver, role): platform devices the arch code drives itself
CLAIMS = {
    "intel,ce4100-lapic": ("x86-lapic", "interrupt-controller"),
    "intel,ce4100-ioapic": ("x86-ioapic", "interrupt-controller"),
    "intel,8254": ("i8254", "clock-calibration"),
}


@hookimpl
def hermitcore_interrupt_number(controller, cells):
    """The IOAPIC's specifiers are <pin flags>: the pin is the number."""
    if controller.is_compatible("intel,ce4100-ioapic") and cells:
        return cells[0]
    return None


@hookimpl
def hermitcore_claim_device(board, device):
    for compatible, (driver, role) in CLAIMS.items():
        if device.is_compatible(compatible):
            return Claim(driver=driver, role=role)
    return None



@hookimpl
def hermitcore_emit_interrupts(ctx: EmitContext):
    _require(ctx, "x86-lapic", "x86-ioapic")
    return Fragment(
        sources=package_sources(PKG, "traps.S", "trap.c", "signal.c", prefix="x86_64"),
        summary=("interrupts: GDT+TSS (IST for #DF/NMI/#MC), 256-vector IDT, 8259 PICs masked",),
    )


@hookimpl
def hermitcore_emit_timers(ctx: EmitContext):
    _require(ctx, "x86-lapic", "x86-ioapic", "i8254")
    return Fragment(
        sources=package_sources(PKG, "apic.c", prefix="x86_64"),
        summary=("timers: TSC clock, LAPIC TSC-deadline/one-shot timer, IOAPIC routing",),
    )


def _require(ctx, *drivers):
    for driver in drivers:
        if not ctx.devices_of(driver):
            wanted = {d: c for c, (d, _) in CLAIMS.items()}[driver]
            raise PluginError(
                f"board '{ctx.board.name}' has no '{wanted}' node; the x86_64 plugin needs one"
            )


@hookimpl
def hermitcore_emit_boot(ctx: EmitContext):
    return Fragment(
        sources=package_sources(PKG, "boot.S", "start.c", "cpu.c", "smp.S", "smp.c", prefix="x86_64")
        + tuple(Source(f"x86_64/include/arch/{h}", package_file(PKG, f"include/arch/{h}")) for h in ("io.h", "x86.h", "long_mode.h", "percpu.h")),
        include_dirs=("x86_64/include",),
        linker_script=package_file(PKG, "kernel.ld"),
        summary=("boot: PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) at 1 MiB",),
    )


@hookimpl
def hermitcore_emit_paging(ctx: EmitContext, layout):
    tables, symbols, summary = paging.build(ctx.board, layout)
    return Fragment(
        sources=(
            Source("x86_64/pagetables.S", emit_tables(tables, symbols)),
            Source("x86_64/mmu.c", package_file(PKG, "mmu.c")),
        ),
        summary=tuple(["paging: " + describe(tables)] + summary),
    )



@hookimpl
def hermitcore_emit_vdso(ctx: EmitContext):
    return Fragment(
        sources=package_sources(PKG, "vdso.c", prefix="x86_64"),
        linker_script=package_file(PKG, "vdso.ld"),
        summary=("vdso: LINUX_2.6: __vdso_clock_gettime, __vdso_gettimeofday, __vdso_time, __vdso_clock_getres, __vdso_getcpu (from rdtsc)",),
    )


@hookimpl
def hermitcore_qemu_args(ctx: RunContext):
    cpu = None
    if ctx.options.accel == "kvm":
        # Some KVM hosts (kvm_pvm among them) refuse IA32_ARCH_CAPABILITIES;
        # the kernel never reads it, so hide it rather than fail to start.
        cpu = f"{ctx.board.qemu.cpu},-arch-capabilities,+invtsc"
    return QemuArgs(binary=ARCH.qemu_binary, cpu=cpu)
