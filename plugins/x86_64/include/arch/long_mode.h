/* Assembly only: from 32-bit protected mode (paging off) to long mode with
 * the compose-time page tables, as the boot CPU (boot.S) and every AP
 * (smp.S) do it. The caller far-jumps to a 64-bit code segment next.
 * Clobbers eax, ecx, edx, edi. */
#pragma once

#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)

.macro enable_long_mode
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax        /* below 4 GiB: part of the image */
    mov %eax, %cr3
    /* Long mode, and no-execute if the CPU has it (CPUID 0x80000001 EDX.20). */
    mov $0x80000001, %eax
    cpuid
    xor %edi, %edi
    bt $20, %edx
    jnc 1f
    mov $EFER_NXE, %edi
1:  mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    or %edi, %eax
    wrmsr
    mov %cr0, %eax
    or $(CR0_PG | CR0_WP | CR0_PE), %eax
    mov %eax, %cr0
.endm
