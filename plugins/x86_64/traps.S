/* x86_64 interrupt/exception entry: one stub per vector pushes a uniform
 * frame {error code, vector} and jumps to trap_common, which saves the
 * general registers and calls x86_trap(struct trap_frame *). */

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
    cld
    mov %rsp, %rdi
    call x86_trap
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
    add $16, %rsp               /* vector, error code */
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

/* IST stacks for #DF, NMI and #MC, each above an unmapped guard page. */
.macro ist_stack name
    .p2align 12
    .globl \name\()_stack_guard
\name\()_stack_guard:
    .skip 4096
    .skip 8192
    .globl \name\()_stack_top
\name\()_stack_top:
.endm
    .section .stack, "aw", @nobits
    ist_stack df
    ist_stack nmi
    ist_stack mc
