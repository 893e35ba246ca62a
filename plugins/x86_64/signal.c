/* x86_64 signal frames, laid out as Linux's (arch/x86/kernel/signal_64.c):
 * below the red zone (or on the alternate stack), the FXSAVE image (64-byte
 * aligned), then struct rt_sigframe {pretcode, ucontext, siginfo} with rsp
 * at pretcode and rsp + 8 16-byte aligned, as after a call. The handler
 * gets rdi = signal, rsi = &info, rdx = &uc; its `ret` pops pretcode, the
 * restorer, which calls rt_sigreturn with rsp just above pretcode. */
#include <arch/x86.h>
#include <hermit/arch.h>
#include <hermit/errno.h>
#include <hermit/sched.h>
#include <hermit/string.h>
#include <hermit/trap.h>
#include <hermit/user.h>
#include <stdint.h>

struct sigcontext_k {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2, fpstate;
    uint64_t reserved1[8];
};
struct stack_k {
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
};
struct ucontext_k {
    uint64_t uc_flags, uc_link;
    struct stack_k uc_stack;
    struct sigcontext_k uc_mcontext;
    uint64_t uc_sigmask;
};
struct rt_sigframe {
    uint64_t pretcode;
    struct ucontext_k uc;
    uint8_t info[128];
};
_Static_assert(sizeof(struct sigcontext_k) == 256, "Linux's struct sigcontext");
_Static_assert(sizeof(struct rt_sigframe) == 440, "Linux's struct rt_sigframe");

#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define SA_RESTORER 0x04000000ul
#define USER_CS 0x23
#define USER_DS 0x1b
#define FLAGS_IF (1ull << 9)
#define FLAGS_TF (1ull << 8)
#define FLAGS_DF (1ull << 10)
#define FLAGS_RF (1ull << 16)
/* what sigreturn may change: AC OF DF TF SF ZF AF PF CF RF */
#define FIX_EFLAGS 0x50dd5ull

const unsigned long arch_minsigstksz = 2048;
const unsigned long arch_red_zone = 128;
const uint32_t arch_sigtramp[1];
const unsigned arch_sigtramp_size = 0; /* none: x86_64 handlers need SA_RESTORER, as on Linux */

void *arch_user_regs(struct thread *t) { return (struct trap_frame *)t->kstack_top - 1; }

int arch_sample_regs(const void *regs, uintptr_t *pc, uintptr_t *fp)
{
    const struct trap_frame *f = regs;
    *pc = f->rip;
    *fp = f->rbp;
    return (f->cs & 3) == 3;
}

const unsigned arch_core_nregs = 27, arch_core_fp_size = 512;

void arch_core_regs(struct thread *t, uint64_t *regs, uint8_t *fp)
{
    const struct trap_frame *f = arch_user_regs(t);
    const struct x86_thread *a = x86_thread(t);
    /* user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss
     * fs_base gs_base ds es fs gs */
    uint64_t r[27] = {f->r15, f->r14, f->r13, f->r12, f->rbp, f->rbx, f->r11, f->r10, f->r9, f->r8,
                      f->rax, f->rcx, f->rdx, f->rsi, f->rdi, (uint64_t)-1, f->rip, f->cs, f->rflags, f->rsp,
                      f->ss, a->fs, a->gs, 0, 0, 0, 0};
    memcpy(regs, r, sizeof r);
    if (t == current_thread()) {
        _Alignas(16) uint8_t live[512];
        __asm__ volatile("fxsave64 %0" : "=m"(live)); /* the program's FP registers are live in the kernel */
        memcpy(fp, live, sizeof live);
    } else {
        memcpy(fp, a->fxsave, 512);
    }
}
uintptr_t arch_user_sp(const void *regs) { return ((const struct trap_frame *)regs)->rsp; }
void arch_syscall_set_result(void *regs, long rc) { ((struct trap_frame *)regs)->rax = (uint64_t)rc; }

void arch_syscall_restart(void *regs, long nr, long a0)
{
    struct trap_frame *f = regs;
    f->rax = (uint64_t)nr; /* rdi and the rest were left as they came */
    f->rip -= 2;           /* syscall: 0f 05 */
    (void)a0;
}

int arch_signal_frame(void *regs, const struct signal_frame *s)
{
    struct trap_frame *f = regs;
    uintptr_t fx = (s->top - 512) & ~63ul;
    uintptr_t sp = ((fx - sizeof(struct rt_sigframe)) & ~15ul) - 8;
    if (!(s->flags & SA_RESTORER) || s->handler >= USER_LIMIT || sp < s->limit || s->top > USER_LIMIT || sp < 4096)
        return -EFAULT; /* Linux needs a restorer on x86_64 */
    _Alignas(16) uint8_t fxsave[512];
    __asm__ volatile("fxsave64 %0" : "=m"(fxsave)); /* the program's FP registers are live while it is in the kernel */
    memset(fxsave + 464, 0, 48);                     /* no XSAVE extension: FP_XSTATE_MAGIC1 absent */
    struct rt_sigframe fr;
    memset(&fr, 0, sizeof fr);
    fr.pretcode = s->restorer;
    fr.uc.uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
    fr.uc.uc_stack = (struct stack_k){s->ss_sp, s->ss_flags, 0, s->ss_size};
    struct sigcontext_k *sc = &fr.uc.uc_mcontext;
    *sc = (struct sigcontext_k){
        .r8 = f->r8, .r9 = f->r9, .r10 = f->r10, .r11 = f->r11, .r12 = f->r12, .r13 = f->r13, .r14 = f->r14,
        .r15 = f->r15, .rdi = f->rdi, .rsi = f->rsi, .rbp = f->rbp, .rbx = f->rbx, .rdx = f->rdx, .rax = f->rax,
        .rcx = f->rcx, .rsp = f->rsp, .rip = f->rip, .eflags = f->rflags, .cs = USER_CS, .ss = USER_DS,
        .oldmask = s->mask, .fpstate = fx,
    };
    if (s->fault) {
        sc->trapno = (uint64_t)s->fault->trapno;
        sc->err = s->fault->code;
        sc->cr2 = s->fault->addr;
    }
    fr.uc.uc_sigmask = s->mask;
    memcpy(fr.info, s->siginfo, sizeof fr.info);
    if (copy_to_user(fx, fxsave, sizeof fxsave) || copy_to_user(sp, &fr, sizeof fr))
        return -EFAULT;
    f->rdi = (uint64_t)s->sig;
    f->rsi = sp + __builtin_offsetof(struct rt_sigframe, info);
    f->rdx = sp + __builtin_offsetof(struct rt_sigframe, uc);
    f->rax = 0;
    f->rsp = sp;
    f->rip = s->handler;
    f->rflags &= ~(FLAGS_DF | FLAGS_RF | FLAGS_TF);
    f->cs = USER_CS;
    f->ss = USER_DS;
    return 0;
}

int arch_sigreturn(void *regs, uint64_t *mask, uint64_t ss[3], long *rc)
{
    struct trap_frame *f = regs;
    struct rt_sigframe fr;
    uintptr_t at = f->rsp - 8; /* the restorer ran after `ret` popped pretcode */
    if (copy_from_user(&fr, at, sizeof fr))
        return -EFAULT;
    const struct sigcontext_k *sc = &fr.uc.uc_mcontext;
    if (sc->rip >= USER_LIMIT)
        return -EFAULT;
    _Alignas(16) uint8_t fxsave[512];
    if (sc->fpstate) {
        if (copy_from_user(fxsave, sc->fpstate, sizeof fxsave))
            return -EFAULT;
        uint32_t mxcsr_mask = *(uint32_t *)(fxsave + 28);
        *(uint32_t *)(fxsave + 24) &= mxcsr_mask ? mxcsr_mask : 0xffbf; /* reserved MXCSR bits would fault */
    } else {
        memset(fxsave, 0, sizeof fxsave); /* no FP state: the initial one */
        *(uint16_t *)fxsave = 0x37f;
        *(uint32_t *)(fxsave + 24) = 0x1f80;
    }
    __asm__ volatile("fxrstor64 %0" : : "m"(fxsave));
    f->r8 = sc->r8, f->r9 = sc->r9, f->r10 = sc->r10, f->r11 = sc->r11, f->r12 = sc->r12, f->r13 = sc->r13;
    f->r14 = sc->r14, f->r15 = sc->r15, f->rdi = sc->rdi, f->rsi = sc->rsi, f->rbp = sc->rbp, f->rbx = sc->rbx;
    f->rdx = sc->rdx, f->rax = sc->rax, f->rcx = sc->rcx, f->rsp = sc->rsp, f->rip = sc->rip;
    f->rflags = (f->rflags & ~FIX_EFLAGS) | (sc->eflags & FIX_EFLAGS) | FLAGS_IF;
    f->cs = USER_CS;
    f->ss = USER_DS;
    *mask = fr.uc.uc_sigmask;
    ss[0] = fr.uc.uc_stack.ss_sp;
    ss[1] = (uint64_t)(uint32_t)fr.uc.uc_stack.ss_flags;
    ss[2] = fr.uc.uc_stack.ss_size;
    *rc = (long)sc->rax;
    return 0;
}

void arch_exec_regs(void *regs, uintptr_t entry, uintptr_t sp)
{
    struct trap_frame *f = regs;
    memset(f, 0, sizeof *f);
    f->rip = entry;
    f->rsp = sp;
    f->rflags = FLAGS_IF;
    f->cs = USER_CS;
    f->ss = USER_DS;
    struct x86_thread *x = x86_thread(current_thread());
    x->fs = x->gs = 0;
    x86_wrmsr(MSR_FS_BASE, 0);
    x86_wrmsr(MSR_KERNEL_GS_BASE, 0);
    _Alignas(16) uint8_t fx[512];
    memset(fx, 0, sizeof fx);
    *(uint16_t *)fx = 0x37f;             /* FCW as after finit */
    *(uint32_t *)(fx + 24) = 0x1f80;     /* MXCSR at reset */
    __asm__ volatile("fxrstor64 %0" : : "m"(fx));
}
