/* Exception vectors at VBAR_EL1: every exception taken to EL1 saves the
 * general registers (and SP_EL0, the program's stack pointer) on SP_EL1 and
 * calls aarch64_exception(frame, kind); interrupts, system calls and
 * resolved page faults return through eret, other faults never return.
 * Also setjmp/longjmp and the first entry into the program (EL0). */

#define FRAME_SIZE (36 * 8)

/* Call frame information for debuggers (.debug_frame; the image keeps no
 * .eh_frame): at the call from exception_common, the interrupted context --
 * the program's, or the kernel's -- is the frame at sp, so gdb's backtrace
 * from a kernel breakpoint goes on into the program. The pc is elr (DWARF
 * register 32 as the return column), sp is sp_el0 when SPSR says EL0, else
 * the saved kernel sp. */
    .cfi_sections .debug_frame
.macro FRAME_CFI
    .cfi_def_cfa sp, FRAME_SIZE
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
    .cfi_offset \n, \n * 8 - FRAME_SIZE
    .endr
    .cfi_offset 32, 256 - FRAME_SIZE   /* pc: elr */
    /* sp = (spsr & 0xc) ? [sp + 248] : [sp + 272]: DW_CFA_val_expression, register 31, 20 bytes of
     * DW_OP_breg31 264, deref, lit12, and, bra +7, breg31 272, deref, skip +4, breg31 248, deref */
    .cfi_escape 0x16, 31, 20, 0x8f, 0x88, 0x02, 0x06, 0x3c, 0x1a, 0x28, 0x07, 0x00, 0x8f, 0x90, 0x02, 0x06, 0x2f, 0x04, 0x00, 0x8f, 0xf8, 0x01, 0x06
.endm

.macro vector kind
    .p2align 7
    sub sp, sp, #FRAME_SIZE
    stp x0, x1, [sp, #0]
    mov x0, #\kind
    b exception_common
.endm

    .section .text.vectors, "ax"
    .p2align 11
    .globl vectors
vectors:
    vector 0   /* current EL, SP_EL0: sync */
    vector 1   /*   irq */
    vector 2   /*   fiq */
    vector 3   /*   serror */
    vector 4   /* current EL, SP_ELx: sync */
    vector 5
    vector 6
    vector 7
    vector 8   /* lower EL, aarch64 */
    vector 9
    vector 10
    vector 11
    vector 12  /* lower EL, aarch32 */
    vector 13
    vector 14
    vector 15

exception_common:
    .cfi_startproc simple
    .cfi_signal_frame
    .cfi_return_column 32
    .cfi_def_cfa sp, FRAME_SIZE /* the vector's stub made the frame */
    .cfi_undefined 32           /* (until it is filled in) */
    /* x0 = kind; the original x0/x1 are at [sp]. */
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    add x2, sp, #FRAME_SIZE
    stp x30, x2, [sp, #240]     /* lr, sp before the exception */
    mrs x2, elr_el1
    mrs x3, spsr_el1
    stp x2, x3, [sp, #256]
    mrs x2, sp_el0
    str x2, [sp, #272]
    FRAME_CFI
    mov x1, x0
    mov x0, sp
    mov x29, xzr
    bl aarch64_exception        /* returns for interrupts, syscalls, demand paging */
    .cfi_undefined 32
exception_return:
    ldp x2, x3, [sp, #256]
    msr elr_el1, x2
    msr spsr_el1, x3
    ldr x2, [sp, #272]
    msr sp_el0, x2
    ldp x0, x1, [sp, #0]
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x19, [sp, #144]
    ldp x20, x21, [sp, #160]
    ldp x22, x23, [sp, #176]
    ldp x24, x25, [sp, #192]
    ldp x26, x27, [sp, #208]
    ldp x28, x29, [sp, #224]
    ldr x30, [sp, #240]
    add sp, sp, #FRAME_SIZE
    eret
    .cfi_endproc

/* aarch64_enter_user(entry, user sp, frame): the first entry into the
 * program, from a frame at the top of the kernel stack that the program's
 * exceptions will use (SP_EL1): every register 0, elr the entry, spsr EL0t
 * with interrupts unmasked, sp_el0 the program's stack. Made here, on the
 * new stack pointer: thread 1 still runs on its kernel stack (the boot
 * stack), and the caller's own frames may lie where the frame goes. */
    .globl aarch64_enter_user
aarch64_enter_user:
    mov sp, x2
    add x3, x2, #FRAME_SIZE
1:  stp xzr, xzr, [x2], #16
    cmp x2, x3
    b.lo 1b
    str x0, [sp, #256]          /* elr; spsr (#264) stays 0: EL0t */
    str x1, [sp, #272]          /* sp_el0 */
    b exception_return

    .section .text
    .globl arch_setjmp
arch_setjmp:                    /* x0 = uint64_t regs[14] */
    stp x19, x20, [x0, #0]
    stp x21, x22, [x0, #16]
    stp x23, x24, [x0, #32]
    stp x25, x26, [x0, #48]
    stp x27, x28, [x0, #64]
    stp x29, x30, [x0, #80]
    mov x2, sp
    mrs x3, daif
    stp x2, x3, [x0, #96]
    mov w0, #0
    ret

    .globl arch_longjmp
arch_longjmp:                   /* x0 = regs, w1 = value */
    ldp x19, x20, [x0, #0]
    ldp x21, x22, [x0, #16]
    ldp x23, x24, [x0, #32]
    ldp x25, x26, [x0, #48]
    ldp x27, x28, [x0, #64]
    ldp x29, x30, [x0, #80]
    ldp x2, x3, [x0, #96]
    mov sp, x2
    msr daif, x3
    mov w0, w1
    ret

/* aarch64_switch(&prev->ksp, next->ksp): callee-saved registers on the old
 * stack, then the new stack's. A new thread's stack is laid out by
 * arch_thread_init_*: x19 = function or 0, x20 = argument, x30 =
 * aarch64_thread_start. */
    .globl aarch64_switch
aarch64_switch:
    sub sp, sp, #96
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    add sp, sp, #96
    ret

    .globl aarch64_thread_start
aarch64_thread_start:
    bl sched_thread_entry
    cbz x19, exception_return   /* a program thread: its frame is right here */
    mov x0, x20
    blr x19
    udf #0

/* The program's FP/SIMD registers (the kernel is built without them). */
    .arch armv8-a+fp+simd
    .globl aarch64_fp_save
aarch64_fp_save:                /* x0 = 528-byte area */
    stp q0, q1, [x0, #0]
    stp q2, q3, [x0, #32]
    stp q4, q5, [x0, #64]
    stp q6, q7, [x0, #96]
    stp q8, q9, [x0, #128]
    stp q10, q11, [x0, #160]
    stp q12, q13, [x0, #192]
    stp q14, q15, [x0, #224]
    stp q16, q17, [x0, #256]
    stp q18, q19, [x0, #288]
    stp q20, q21, [x0, #320]
    stp q22, q23, [x0, #352]
    stp q24, q25, [x0, #384]
    stp q26, q27, [x0, #416]
    stp q28, q29, [x0, #448]
    stp q30, q31, [x0, #480]
    mrs x9, fpcr
    mrs x10, fpsr
    add x11, x0, #512
    stp x9, x10, [x11]
    ret

    .globl aarch64_fp_restore
aarch64_fp_restore:
    ldp q0, q1, [x0, #0]
    ldp q2, q3, [x0, #32]
    ldp q4, q5, [x0, #64]
    ldp q6, q7, [x0, #96]
    ldp q8, q9, [x0, #128]
    ldp q10, q11, [x0, #160]
    ldp q12, q13, [x0, #192]
    ldp q14, q15, [x0, #224]
    ldp q16, q17, [x0, #256]
    ldp q18, q19, [x0, #288]
    ldp q20, q21, [x0, #320]
    ldp q22, q23, [x0, #352]
    ldp q24, q25, [x0, #384]
    ldp q26, q27, [x0, #416]
    ldp q28, q29, [x0, #448]
    ldp q30, q31, [x0, #480]
    add x11, x0, #512
    ldp x9, x10, [x11]
    msr fpcr, x9
    msr fpsr, x10
    ret
