/* x86_64 interrupt/exception entry: one stub per vector pushes a uniform
 * frame {error code, vector} and jumps to trap_common, which saves the
 * general registers and calls x86_trap(struct trap_frame *). Entries from
 * ring 3 (the program) arrive on the TSS rsp0 stack and swap GS to the
 * kernel's per-CPU block; `syscall` enters at syscall_entry and builds the
 * same frame (vector 256). */

#define PERCPU_KERNEL_RSP 0
#define PERCPU_USER_RSP 8
#define FRAME_CS 24                 /* from the vector slot */
#define USER_CS 0x23
#define USER_DS 0x1b
#define FRAME_BYTES (22 * 8)        /* struct trap_frame */

/* Call frame information for debuggers (.debug_frame; the image keeps no
 * .eh_frame): at a call from the entry code, the interrupted context --
 * the program's, or the kernel's -- is the struct trap_frame at rsp, so
 * gdb's backtrace from a kernel breakpoint goes on into the program. */
    .cfi_sections .debug_frame
/* The CPU's frame and {error code, vector} at rsp: the interrupted rip and rsp */
.macro ENTRY_FRAME_CFI
    .cfi_def_cfa rsp, 7 * 8
    .cfi_offset 16, 2 * 8 - 7 * 8       /* rip */
    .cfi_offset rsp, 5 * 8 - 7 * 8
.endm
/* The whole struct trap_frame at rsp */
.macro TRAP_FRAME_CFI
    .cfi_def_cfa rsp, FRAME_BYTES
    .cfi_offset r15, 0 * 8 - FRAME_BYTES
    .cfi_offset r14, 1 * 8 - FRAME_BYTES
    .cfi_offset r13, 2 * 8 - FRAME_BYTES
    .cfi_offset r12, 3 * 8 - FRAME_BYTES
    .cfi_offset r11, 4 * 8 - FRAME_BYTES
    .cfi_offset r10, 5 * 8 - FRAME_BYTES
    .cfi_offset r9, 6 * 8 - FRAME_BYTES
    .cfi_offset r8, 7 * 8 - FRAME_BYTES
    .cfi_offset rbp, 8 * 8 - FRAME_BYTES
    .cfi_offset rdi, 9 * 8 - FRAME_BYTES
    .cfi_offset rsi, 10 * 8 - FRAME_BYTES
    .cfi_offset rdx, 11 * 8 - FRAME_BYTES
    .cfi_offset rcx, 12 * 8 - FRAME_BYTES
    .cfi_offset rbx, 13 * 8 - FRAME_BYTES
    .cfi_offset rax, 14 * 8 - FRAME_BYTES
    .cfi_offset 16, 17 * 8 - FRAME_BYTES   /* rip */
    .cfi_offset rsp, 20 * 8 - FRAME_BYTES
.endm


/* The general registers, in struct trap_frame order (r15 lowest); the
 * call frame information follows the stack pointer. */
.macro SAVE_REGS
    push %rax; .cfi_adjust_cfa_offset 8
    push %rbx; .cfi_adjust_cfa_offset 8
    push %rcx; .cfi_adjust_cfa_offset 8
    push %rdx; .cfi_adjust_cfa_offset 8
    push %rsi; .cfi_adjust_cfa_offset 8
    push %rdi; .cfi_adjust_cfa_offset 8
    push %rbp; .cfi_adjust_cfa_offset 8
    push %r8; .cfi_adjust_cfa_offset 8
    push %r9; .cfi_adjust_cfa_offset 8
    push %r10; .cfi_adjust_cfa_offset 8
    push %r11; .cfi_adjust_cfa_offset 8
    push %r12; .cfi_adjust_cfa_offset 8
    push %r13; .cfi_adjust_cfa_offset 8
    push %r14; .cfi_adjust_cfa_offset 8
    push %r15; .cfi_adjust_cfa_offset 8
.endm
.macro RESTORE_REGS
    pop %r15; .cfi_adjust_cfa_offset -8
    pop %r14; .cfi_adjust_cfa_offset -8
    pop %r13; .cfi_adjust_cfa_offset -8
    pop %r12; .cfi_adjust_cfa_offset -8
    pop %r11; .cfi_adjust_cfa_offset -8
    pop %r10; .cfi_adjust_cfa_offset -8
    pop %r9; .cfi_adjust_cfa_offset -8
    pop %r8; .cfi_adjust_cfa_offset -8
    pop %rbp; .cfi_adjust_cfa_offset -8
    pop %rdi; .cfi_adjust_cfa_offset -8
    pop %rsi; .cfi_adjust_cfa_offset -8
    pop %rdx; .cfi_adjust_cfa_offset -8
    pop %rcx; .cfi_adjust_cfa_offset -8
    pop %rbx; .cfi_adjust_cfa_offset -8
    pop %rax; .cfi_adjust_cfa_offset -8
.endm

    .section .text.traps, "ax"

.macro stub vector
    .p2align 4
trap_stub_\vector:
    .if (\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21 || \vector == 29 || \vector == 30)
    .else
    pushq $0                    /* no CPU error code: push a zero */
    .endif
    pushq $\vector
    jmp trap_common
.endm

    .globl trap_stubs
trap_stubs:
    .altmacro
    .set v, 0
    .rept 256
    stub %v
    .set v, v + 1
    .endr

trap_common:
    .cfi_startproc simple
    .cfi_signal_frame
    ENTRY_FRAME_CFI
    testb $3, FRAME_CS(%rsp)
    jz 1f
    swapgs                      /* from the program: kernel GS */
1:  SAVE_REGS
    TRAP_FRAME_CFI
    cld
    mov %rsp, %rdi
    call x86_trap
    .globl trap_return
trap_return:                    /* also where a new program thread starts */
    RESTORE_REGS
    testb $3, FRAME_CS(%rsp)
    jz 1f
    swapgs                      /* back to the program's GS */
1:  add $16, %rsp               /* vector, error code */
    .cfi_adjust_cfa_offset -16
    iretq
    .cfi_endproc

/* syscall: rip in rcx, rflags in r11, interrupts off (SFMASK), still on the
 * program's stack. Switch to the kernel stack, build a trap frame, call
 * x86_syscall(frame), return with sysretq. */
    .globl syscall_entry
    .p2align 4
syscall_entry:
    .cfi_startproc simple
    .cfi_signal_frame
    .cfi_def_cfa rsp, 0         /* the program's stack, its rip in rcx */
    .cfi_register 16, rcx
    swapgs
    mov %rsp, %gs:PERCPU_USER_RSP
    mov %gs:PERCPU_KERNEL_RSP, %rsp
    .cfi_undefined 16           /* (the program's rsp is in the per-CPU block until the frame has it) */
    pushq $USER_DS              /* ss */
    pushq %gs:PERCPU_USER_RSP   /* rsp */
    push %r11                   /* rflags */
    pushq $USER_CS              /* cs */
    push %rcx                   /* rip */
    pushq $0                    /* error code */
    pushq $256                  /* vector: system call */
    ENTRY_FRAME_CFI
    SAVE_REGS
    TRAP_FRAME_CFI
    cld
    mov %rsp, %rdi
    xor %ebp, %ebp              /* kernel backtraces stop here */
    call x86_syscall
    test %eax, %eax
    jnz trap_return             /* the same frame: iretq restores every register */
    RESTORE_REGS
    add $16, %rsp               /* vector, error code */
    .cfi_adjust_cfa_offset -16
    pop %rcx                    /* rip */
    .cfi_adjust_cfa_offset -8
    .cfi_register 16, rcx
    add $8, %rsp                /* cs */
    .cfi_adjust_cfa_offset -8
    pop %r11                    /* rflags */
    .cfi_adjust_cfa_offset -8
    pop %rsp                    /* the program's stack */
    .cfi_def_cfa rsp, 0
    swapgs
    sysretq
    .cfi_endproc

/* arch_enter_user(entry, sp): the first entry into the program, with every
 * register cleared as Linux leaves them at exec (rdx = 0: no atexit hook). */
    .globl x86_enter_user
x86_enter_user:
    pushq $USER_DS
    push %rsi
    pushq $0x202                /* IF */
    pushq $USER_CS
    push %rdi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    swapgs
    iretq

/* Each stub is 16-byte aligned: trap_stubs + 16 * vector. */

    .section .text
    .globl arch_setjmp
arch_setjmp:                    /* rdi = uint64_t regs[14] */
    mov %rbx, 0(%rdi)
    mov %rbp, 8(%rdi)
    mov %r12, 16(%rdi)
    mov %r13, 24(%rdi)
    mov %r14, 32(%rdi)
    mov %r15, 40(%rdi)
    lea 8(%rsp), %rax           /* rsp after return */
    mov %rax, 48(%rdi)
    mov (%rsp), %rax            /* return address */
    mov %rax, 56(%rdi)
    pushfq
    pop %rax
    mov %rax, 64(%rdi)
    xor %eax, %eax
    ret

    .globl arch_longjmp
arch_longjmp:                   /* rdi = regs, esi = value */
    mov 0(%rdi), %rbx
    mov 8(%rdi), %rbp
    mov 16(%rdi), %r12
    mov 24(%rdi), %r13
    mov 32(%rdi), %r14
    mov 40(%rdi), %r15
    mov 48(%rdi), %rsp
    push 64(%rdi)
    popfq
    mov %esi, %eax
    jmp *56(%rdi)

/* The boot CPU's IST stacks for #DF, NMI and #MC, 4 KiB each (as Linux's),
 * as the other CPUs get them (smp.c): no guard pages -- a handler that runs
 * off one is a triple fault, which the host reports as a guest reset. */
.macro ist_stack name, size
    .p2align 4
    .skip \size
    .globl \name\()_stack_top
\name\()_stack_top:
.endm
    .section .bss.ist, "aw", @nobits
    ist_stack df, 4096
    ist_stack nmi, 4096
    ist_stack mc, 4096
