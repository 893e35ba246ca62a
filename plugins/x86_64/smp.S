/* x86_64 application-processor start-up and the thread switch.
 *
 * INIT-SIPI-SIPI starts an AP in real mode at AP_BASE (the SIPI vector
 * times 4 KiB): smp.c copies ap_trampoline there and fills the mailbox at
 * its end (stack, struct cpu). The trampoline goes to
 * protected mode, turns on PAE long mode with the kernel's tables and jumps
 * into the kernel's text; nothing runs from the low page once paging is on
 * (it stays no-execute). */

#include <arch/long_mode.h>

#define AP_BASE 0x8000
#define MB_STACK 0x8fe8
#define MB_CPU 0x8ff0
#define REL(x) (AP_BASE + (x) - ap_trampoline)

    .section .rodata
    .p2align 4
    .code16
    .globl ap_trampoline
ap_trampoline:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl REL(ap_gdt_desc)
    mov %cr0, %eax
    or $1, %eax                 /* PE */
    mov %eax, %cr0
    ljmpl $0x08, $REL(ap_pm32)

    .code32
ap_pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    enable_long_mode
    ljmp $0x18, $x86_ap_long_mode  /* kernel text: identity mapped, executable */

    .p2align 3
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code */
ap_gdt_desc:
    .word ap_gdt_desc - ap_gdt - 1
    .long REL(ap_gdt)
    .globl ap_trampoline_end
ap_trampoline_end:

    .code64
    .section .text
x86_ap_long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov MB_STACK, %rsp
    mov MB_CPU, %rdi
    xor %ebp, %ebp
    call x86_ap_entry
2:  cli
    hlt
    jmp 2b

/* x86_switch(&prev->ksp, next->ksp): callee-saved registers on the old
 * stack, then the new stack's. A new thread's stack is laid out by
 * arch_thread_init_*: six zeroed registers (r12 = function or 0, r13 =
 * argument) and x86_thread_start as the return address. */
    .globl x86_switch
x86_switch:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .globl x86_thread_start
x86_thread_start:
    call sched_thread_entry
    test %r12, %r12
    jz trap_return              /* a program thread: its frame is right here */
    mov %r13, %rdi
    call *%r12
    ud2
