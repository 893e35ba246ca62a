/* QEMU floor kernel, x86_64: PVH entry, one byte to the 16550, exit through
 * isa-debug-exit (status byte 0 to the debugcon port first, as hermitcore's
 * driver does, so the runner decodes it the same way). Nothing else. */
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4, 4, 18              /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .long floor_start

    .section .text, "ax"
    .code32
    .globl floor_start
floor_start:
    mov $0x3f8, %dx
    mov $'x', %al
    out %al, %dx
    mov $0x402, %dx             /* exact status: 0 */
    xor %al, %al
    out %al, %dx
    mov $0xf4, %dx              /* isa-debug-exit */
    xor %eax, %eax
    out %eax, %dx
1:  hlt
    jmp 1b
