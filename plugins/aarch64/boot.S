#include <board.h>

/* aarch64 boot: QEMU -kernel loads this ELF at its link address and starts
 * the boot CPU at EL1 with the MMU off; the DTB sits at the start of RAM.
 * We enable FP/SIMD, install the compose-time page tables (boot_ttbr0) with
 * the MAIR/TCR values the paging hook computed, turn the MMU and caches on,
 * clear .bss and call aarch64_start(dtb). */

/* FP/SIMD on, the compose-time MAIR/TCR/translation tables, MMU and caches
 * on, the vectors installed: the boot CPU and every secondary alike.
 * Clobbers x1, x2. */
.macro mmu_on
    mov x1, #(3 << 20)          /* CPACR_EL1.FPEN: no FP/SIMD traps */
    msr cpacr_el1, x1
    ldr x1, =BOOT_MAIR
    msr mair_el1, x1
    ldr x1, =BOOT_TCR
    msr tcr_el1, x1
    adrp x1, boot_ttbr0
    msr ttbr0_el1, x1
    isb
    tlbi vmalle1
    dsb nsh
    isb
    mrs x1, sctlr_el1
    ldr x2, =BOOT_SCTLR_SET
    orr x1, x1, x2
    ldr x2, =BOOT_SCTLR_CLEAR
    bic x1, x1, x2
    msr sctlr_el1, x1
    isb
    adrp x1, vectors
    add x1, x1, :lo12:vectors
    msr vbar_el1, x1
    isb
.endm

    .section .boot.text, "ax"
    .globl _start
    .type _start, %function
_start:
    mrs x28, cntvct_el0         /* the first instruction's timestamp */
    msr daifset, #0xf
    mrs x1, mpidr_el1
    and x1, x1, #0xffffff
    cbnz x1, park               /* secondary CPUs wait for PSCI CPU_ON */

    mmu_on

    ldr x1, =__bss_start
    ldr x2, =__bss_end
1:  cmp x1, x2
    b.hs 2f
    str xzr, [x1], #8
    b 1b
2:
    adrp x1, boot_first_tick    /* MMU and caches are on now */
    str x28, [x1, :lo12:boot_first_tick]
    ldr x1, =boot_stack_top
    mov sp, x1
    mov x29, xzr                /* terminates backtraces */
    mov x30, xzr
    ldr x0, =BOARD_RAM_BASE     /* DTB at the start of RAM */
    bl aarch64_start
park:
    wfe
    b park
    .size _start, . - _start

/* Secondary CPUs, started by PSCI CPU_ON at EL1 with the MMU off; x0 is the
 * context id: their struct cpu. Same MMU set-up as the boot CPU, then the
 * stack smp_boot prepared (struct cpu's first word) and C. */
    .globl secondary_entry
    .type secondary_entry, %function
secondary_entry:
    msr daifset, #0xf
    mmu_on
    msr tpidr_el1, x0
    isb
    ldr x1, [x0]                /* arch_kernel_sp: its idle thread's stack */
    mov sp, x1
    mov x29, xzr
    mov x30, xzr
    bl aarch64_secondary_start
1:  wfi
    b 1b
    .size secondary_entry, . - secondary_entry

    .section .stack, "aw", %nobits
    .p2align 12
    .globl boot_stack_guard
boot_stack_guard:
    .skip 4096
boot_stack:
    .skip 16384                 /* KSTACK_SIZE: thread 1 (the program's main thread) keeps it */
    .globl boot_stack_top
boot_stack_top:

    .section .data
    .p2align 3
    .globl boot_first_tick
boot_first_tick:
    .quad 0
