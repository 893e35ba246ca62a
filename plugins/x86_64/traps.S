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


/* The general registers, in struct trap_frame order (r15 lowest). */
.macro SAVE_REGS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm
.macro RESTORE_REGS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
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
    testb $3, FRAME_CS(%rsp)
    jz 1f
    swapgs                      /* from the program: kernel GS */
1:  SAVE_REGS
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
    iretq

/* syscall: rip in rcx, rflags in r11, interrupts off (SFMASK), still on the
 * program's stack. Switch to the kernel stack, build a trap frame, call
 * x86_syscall(frame), return with sysretq. */
    .globl syscall_entry
    .p2align 4
syscall_entry:
    swapgs
    mov %rsp, %gs:PERCPU_USER_RSP
    mov %gs:PERCPU_KERNEL_RSP, %rsp
    pushq $USER_DS              /* ss */
    pushq %gs:PERCPU_USER_RSP   /* rsp */
    push %r11                   /* rflags */
    pushq $USER_CS              /* cs */
    push %rcx                   /* rip */
    pushq $0                    /* error code */
    pushq $256                  /* vector: system call */
    SAVE_REGS
    cld
    mov %rsp, %rdi
    xor %ebp, %ebp              /* kernel backtraces stop here */
    call x86_syscall
    test %eax, %eax
    jnz trap_return             /* the same frame: iretq restores every register */
    RESTORE_REGS
    add $16, %rsp               /* vector, error code */
    pop %rcx                    /* rip */
    add $8, %rsp                /* cs */
    pop %r11                    /* rflags */
    pop %rsp                    /* the program's stack */
    swapgs
    sysretq

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
