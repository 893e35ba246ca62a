/* aarch64 signal frames, laid out as Linux's (arch/arm64/kernel/signal.c):
 * below the stack top (or the alternate stack's end), a frame record {fp,
 * lr} the handler's x29 points at, then struct rt_sigframe {siginfo,
 * ucontext} whose sigcontext's __reserved area holds the FP/SIMD registers
 * (fpsimd_context), the ESR of a fault (esr_context) and a terminator. The
 * handler gets x0 = signal, x1 = &info, x2 = &uc, x30 = the restorer (or,
 * without SA_RESTORER, the kernel's [sigpage] trampoline, Linux's vDSO
 * __kernel_rt_sigreturn), which calls rt_sigreturn with sp at the frame. */
#include <arch/aarch64.h>
#include <hermit/arch.h>
#include <hermit/errno.h>
#include <hermit/sched.h>
#include <hermit/string.h>
#include <hermit/trap.h>
#include <hermit/user.h>
#include <stdint.h>

struct sigcontext_k {
    uint64_t fault_address;
    uint64_t regs[31];
    uint64_t sp, pc, pstate;
    _Alignas(16) uint8_t reserved[4096];
};
struct stack_k {
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
};
struct ucontext_k {
    uint64_t uc_flags, uc_link;
    struct stack_k uc_stack;
    uint64_t uc_sigmask;
    uint8_t unused[1024 / 8 - 8];
    struct sigcontext_k uc_mcontext;
};
struct rt_sigframe {
    uint8_t info[128];
    struct ucontext_k uc;
};
_Static_assert(sizeof(struct rt_sigframe) == 4688, "Linux's arm64 struct rt_sigframe");
_Static_assert(__builtin_offsetof(struct ucontext_k, uc_mcontext) == 176, "Linux's arm64 struct ucontext");

#define FPSIMD_MAGIC 0x46508001u
#define ESR_MAGIC 0x45535201u
struct fpsimd_context {
    uint32_t magic, size, fpsr, fpcr;
    _Alignas(16) uint8_t vregs[32 * 16];
};
struct esr_context {
    uint32_t magic, size;
    uint64_t esr;
};
_Static_assert(sizeof(struct fpsimd_context) == 528, "Linux's struct fpsimd_context");

#define SA_RESTORER 0x04000000ul
#define PSR_NZCV 0xf0000000ull
#define PSR_SSBS (1ull << 12)
#define PSR_BTYPE (3ull << 10)

void aarch64_fp_save(uint8_t *area);          /* vectors.S: q0-q31, then fpcr, fpsr */
void aarch64_fp_restore(const uint8_t *area);

const unsigned long arch_minsigstksz = 5120;
const unsigned long arch_red_zone = 0;
/* The [sigpage] (the Linux layer maps it at USER_SIGPAGE): mov x8, #139
 * (rt_sigreturn); svc #0. */
const uint32_t arch_sigtramp[2] = {0xd2801168u, 0xd4000001u};
const unsigned arch_sigtramp_size = sizeof arch_sigtramp;

void *arch_user_regs(struct thread *t) { return (struct exception_frame *)t->kstack_top - 1; }

int arch_sample_regs(const void *regs, uintptr_t *pc, uintptr_t *fp)
{
    const struct exception_frame *f = regs;
    *pc = f->elr;
    *fp = f->x[29];
    return (f->spsr & 0xf) == 0; /* EL0t */
}

const unsigned arch_core_nregs = 34, arch_core_fp_size = 528;

void arch_core_regs(struct thread *t, uint64_t *regs, uint8_t *fp)
{
    const struct exception_frame *f = arch_user_regs(t);
    memcpy(regs, f->x, 31 * 8); /* user_pt_regs: x0-x30, sp, pc, pstate */
    regs[31] = f->sp_el0;
    regs[32] = f->elr;
    regs[33] = f->spsr;
    uint8_t area[528];
    if (t == current_thread())
        aarch64_fp_save(area); /* the program's FP/SIMD registers are live in the kernel */
    else
        memcpy(area, aarch64_thread(t)->fp, sizeof area);
    /* user_fpsimd_state: vregs[32], fpsr, fpcr (ours: q0-q31, fpcr, fpsr) */
    memcpy(fp, area, 512);
    memcpy(fp + 512, area + 520, 4);
    memcpy(fp + 516, area + 512, 4);
    memset(fp + 520, 0, 8);
}
uintptr_t arch_user_sp(const void *regs) { return ((const struct exception_frame *)regs)->sp_el0; }
void arch_syscall_set_result(void *regs, long rc) { ((struct exception_frame *)regs)->x[0] = (uint64_t)rc; }

void arch_syscall_restart(void *regs, long nr, long a0)
{
    struct exception_frame *f = regs;
    f->x[0] = (uint64_t)a0; /* the result overwrote it; x8 still holds nr */
    f->x[8] = (uint64_t)nr;
    f->elr -= 4;            /* svc #0 */
}

/* The frame goes to the program's stack in pieces, each built here and
 * copied once: what Linux writes of it, and no more (the rest of the 4 KiB
 * __reserved area after the terminator is the stack's, as on Linux). */
struct frame_head { /* rt_sigframe up to uc_mcontext */
    uint8_t info[128];
    uint64_t uc_flags, uc_link;
    struct stack_k uc_stack;
    uint64_t uc_sigmask;
    uint8_t unused[1024 / 8 - 8];
    uint64_t pad; /* uc_mcontext is 16-byte aligned */
};
struct frame_regs { /* uc_mcontext up to __reserved */
    uint64_t fault_address;
    uint64_t regs[31];
    uint64_t sp, pc, pstate;
    uint64_t pad; /* __reserved is 16-byte aligned */
};
struct frame_records { /* __reserved: FP/SIMD, a fault's ESR, the terminator */
    struct fpsimd_context fp;
    uint32_t magic, size;
    uint64_t esr;
    uint64_t end[2];
};
#define UC_OFF (__builtin_offsetof(struct rt_sigframe, uc))
#define REGS_OFF (UC_OFF + __builtin_offsetof(struct ucontext_k, uc_mcontext))
#define RESERVED_OFF (REGS_OFF + __builtin_offsetof(struct sigcontext_k, reserved))
_Static_assert(sizeof(struct frame_head) == REGS_OFF, "the head ends where uc_mcontext starts");
_Static_assert(sizeof(struct frame_regs) == __builtin_offsetof(struct sigcontext_k, reserved), "sigcontext's registers");

int arch_signal_frame(void *regs, const struct signal_frame *s)
{
    struct exception_frame *f = regs;
    uintptr_t record = (s->top - 16) & ~15ul;
    uintptr_t sp = record - sizeof(struct rt_sigframe);
    uintptr_t restorer = s->flags & SA_RESTORER ? s->restorer : USER_SIGPAGE;
    if (sp < s->limit || s->top > USER_LIMIT || sp < 4096 || s->handler >= USER_LIMIT)
        return -EFAULT;
    struct frame_head head = {0};
    memcpy(head.info, s->siginfo, sizeof head.info);
    head.uc_stack = (struct stack_k){s->ss_sp, s->ss_flags, 0, s->ss_size};
    head.uc_sigmask = s->mask;
    struct frame_regs sc = {0};
    memcpy(sc.regs, f->x, sizeof sc.regs);
    sc.sp = f->sp_el0;
    sc.pc = f->elr;
    sc.pstate = f->spsr;
    _Alignas(16) struct frame_records rec;
    _Alignas(16) uint8_t area[528];
    aarch64_fp_save(area); /* the program's FP/SIMD registers are live while it is in the kernel */
    rec.fp.magic = FPSIMD_MAGIC;
    rec.fp.size = sizeof rec.fp;
    memcpy(rec.fp.vregs, area, 512);
    rec.fp.fpcr = (uint32_t) * (uint64_t *)(area + 512);
    rec.fp.fpsr = (uint32_t) * (uint64_t *)(area + 520);
    size_t records = sizeof rec.fp;
    if (s->fault) {
        sc.fault_address = s->fault->addr;
        rec.magic = ESR_MAGIC; /* struct esr_context */
        rec.size = sizeof(struct esr_context);
        rec.esr = s->fault->code;
        records += sizeof(struct esr_context);
    }
    memset((uint8_t *)&rec + records, 0, 16); /* the terminator */
    records += 16;
    uint64_t fp_lr[2] = {f->x[29], f->x[30]};
    if (copy_to_user(record, fp_lr, sizeof fp_lr) || copy_to_user(sp, &head, sizeof head) ||
        copy_to_user(sp + REGS_OFF, &sc, sizeof sc) || copy_to_user(sp + RESERVED_OFF, &rec, records))
        return -EFAULT;
    f->x[0] = (uint64_t)s->sig;
    f->x[1] = sp + __builtin_offsetof(struct rt_sigframe, info);
    f->x[2] = sp + UC_OFF;
    f->x[29] = record;
    f->x[30] = restorer;
    f->sp_el0 = sp;
    f->elr = s->handler;
    f->spsr &= ~PSR_BTYPE;
    return 0;
}

int arch_sigreturn(void *regs, uint64_t *mask, uint64_t ss[3], long *rc)
{
    struct exception_frame *f = regs;
    uintptr_t at = f->sp_el0;
    struct frame_head head;
    struct frame_regs sc;
    _Alignas(16) struct fpsimd_context fp;
    if ((at & 15) || copy_from_user(&head, at, sizeof head) || copy_from_user(&sc, at + REGS_OFF, sizeof sc) ||
        copy_from_user(&fp, at + RESERVED_OFF, sizeof fp) || fp.magic != FPSIMD_MAGIC || fp.size != sizeof fp ||
        sc.pc >= USER_LIMIT || (sc.pc & 3))
        return -EFAULT;
    _Alignas(16) uint8_t area[528];
    memcpy(area, fp.vregs, 512);
    *(uint64_t *)(area + 512) = fp.fpcr;
    *(uint64_t *)(area + 520) = fp.fpsr;
    aarch64_fp_restore(area);
    memcpy(f->x, sc.regs, sizeof f->x);
    f->sp_el0 = sc.sp;
    f->elr = sc.pc;
    f->spsr = sc.pstate & (PSR_NZCV | PSR_SSBS); /* EL0t, interrupts unmasked: nothing else is the program's */
    *mask = head.uc_sigmask;
    ss[0] = head.uc_stack.ss_sp;
    ss[1] = (uint64_t)(uint32_t)head.uc_stack.ss_flags;
    ss[2] = head.uc_stack.ss_size;
    *rc = (long)sc.regs[0];
    return 0;
}

void arch_exec_regs(void *regs, uintptr_t entry, uintptr_t sp)
{
    struct exception_frame *f = regs;
    memset(f->x, 0, sizeof f->x);
    f->elr = entry;
    f->sp_el0 = sp;
    f->spsr = 0; /* EL0t, interrupts unmasked */
    aarch64_thread(current_thread())->tpidr = 0;
    __asm__ volatile("msr tpidr_el0, xzr");
    _Alignas(16) uint8_t area[528];
    memset(area, 0, sizeof area);
    aarch64_fp_restore(area);
}
