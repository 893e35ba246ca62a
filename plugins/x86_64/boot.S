/* x86_64 boot through the PVH entry point: QEMU loads this ELF with -kernel,
 * finds XEN_ELFNOTE_PHYS32_ENTRY and starts us in 32-bit protected mode,
 * paging off, %ebx = physical address of struct hvm_start_info. We load the
 * page tables the compose step computed (boot_pml4), enter long mode and
 * call x86_64_start(start_info). */

#include <arch/long_mode.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a", @note
    .p2align 2
    .long 4                     /* name size: "Xen\0" */
    .long 4                     /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .p2align 2
    .long pvh_start32

    .section .boot.text, "ax"
    .code32
    .globl pvh_start32
    .type pvh_start32, @function
pvh_start32:
    rdtsc                       /* the first instruction's timestamp */
    mov %eax, boot_first_tick
    mov %edx, boot_first_tick + 4
    cli
    cld
    mov %ebx, %esi              /* keep start_info across the switch */

    lgdt boot_gdt_desc

    enable_long_mode

    ljmp $0x08, $long_mode

    .code64
long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs

    /* Clear .bss (the boot stack lives there; nothing is on it yet). */
    mov $__bss_start, %rdi
    mov $__bss_end, %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    rep stosb

    mov $boot_stack_top, %rsp
    xor %ebp, %ebp              /* terminates backtraces */
    mov %esi, %edi              /* zero-extends: start_info */
    call x86_64_start
2:  cli
    hlt
    jmp 2b
    .size pvh_start32, . - pvh_start32

    /* Read-only once paging is on (CR0.WP): the Accessed bits are preset so
     * the CPU never needs to write these descriptors. */
    .section .data
    .p2align 3
    .globl boot_first_tick
boot_first_tick:
    .quad 0

    .section .rodata
    .p2align 3
boot_gdt:
    .quad 0                     /* null */
    .quad 0x00af9b000000ffff    /* 0x08: 64-bit code, DPL 0, accessed */
    .quad 0x00cf93000000ffff    /* 0x10: data, DPL 0, accessed */
boot_gdt_end:
boot_gdt_desc:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .section .stack, "aw", @nobits
    .p2align 12
    .globl boot_stack_guard
boot_stack_guard:
    .skip 4096
boot_stack:
    .skip 16384                 /* KSTACK_SIZE: thread 1 (the program's main thread) keeps it */
    .globl boot_stack_top
boot_stack_top:
