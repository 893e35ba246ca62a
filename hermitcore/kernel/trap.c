#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <hermit/trap.h>
#include <hermit/sched.h>
#include <hermit/user.h>
#include <hermit/string.h>
#include <hermit/profile.h>

static struct hermit_catch *volatile active_catch;

void hermit_catch_arm(struct hermit_catch *c)
{
    active_catch = c;
}

void hermit_uncatch(void)
{
    active_catch = 0;
}

void hermit_backtrace(uintptr_t fp, uintptr_t first)
{
    printk("[hermit] backtrace:");
    if (first)
        printk(" %p", (void *)(first + 1)); /* +1: the host looks up addr-1 */
    /* Both x86_64 and aarch64 frames start with {previous fp, return address}. */
    for (int depth = 0; fp && !(fp & 7) && depth < 32; depth++) {
        uintptr_t *frame = (uintptr_t *)fp;
        uintptr_t ret = frame[1];
        if (!ret)
            break;
        printk(" %p", (void *)ret);
        if (frame[0] <= fp)
            break; /* stacks grow down: the caller's frame is higher */
        fp = frame[0];
    }
    printk("\n");
}

static void fault_line(const char *what, const struct fault_info *f)
{
    printk("\n[hermit] %s: %s at pc %p", what, f->name, (void *)f->pc);
    if (f->kind == FAULT_PAGE)
        printk(", address %p (%s, %s)", (void *)f->addr, f->exec ? "instruction fetch" : f->write ? "write" : "read",
               f->present ? "permission violation" : "not mapped");
    printk(", code %#llx\n", (unsigned long long)f->code);
}

void hermit_fault(const struct fault_info *f, void (*regs_dump)(const void *frame), const void *frame, uintptr_t fp)
{
    struct thread *t = current_thread();
    if (t && t->uaccess_fixup && f->kind == FAULT_PAGE && f->addr < USER_LIMIT) {
        uint64_t *fixup = t->uaccess_fixup; /* a bad program pointer in a system call: -EFAULT */
        t->uaccess_fixup = 0;
        arch_longjmp(fixup, 1);
    }
    struct hermit_catch *c = active_catch;
    if (c) {
        active_catch = 0;
        c->fault = *f;
        arch_longjmp(c->regs, 1);
    }
    fault_line("EXCEPTION", f);
    if (regs_dump)
        regs_dump(frame);
    hermit_backtrace(fp, f->pc);
    hermit_exit(HERMIT_FAULT_STATUS);
}

static const struct program_layer *program;

/* Program memory from the kernel: a bad address (the program's page fault
 * handler declines it) comes back through uaccess_fixup as -EFAULT. */
static int copy_user(void *dst, const void *src, size_t n, uintptr_t user)
{
    if (user >= USER_LIMIT || n > USER_LIMIT - user)
        return -14; /* EFAULT */
    struct thread *t = current_thread();
    uint64_t jb[14];
    if (arch_setjmp(jb)) {
        t->uaccess_fixup = 0;
        return -14;
    }
    t->uaccess_fixup = jb;
    memcpy(dst, src, n);
    t->uaccess_fixup = 0;
    return 0;
}

int copy_to_user(uintptr_t dst, const void *src, size_t n) { return copy_user((void *)dst, src, n, dst); }
int copy_from_user(void *dst, uintptr_t src, size_t n) { return copy_user(dst, (const void *)src, n, src); }

void program_layer_register(const struct program_layer *layer) { program = layer; }

static const char *const signal_names[32] = {
    [4] = "SIGILL", [5] = "SIGTRAP", [6] = "SIGABRT", [7] = "SIGBUS", [8] = "SIGFPE", [11] = "SIGSEGV",
};

/* The program's frames are not the kernel's: no backtrace (programs are
 * usually built without frame pointers); the host names the pc from the
 * program's symbols. */
void user_fault(const struct fault_info *f, void (*regs_dump)(const void *frame), void *frame, uintptr_t fp)
{
    if (program && program->fault_signal && program->fault_signal(f, frame))
        return; /* the program's handler takes it */
    int sig = f->signal > 0 && f->signal < 32 ? f->signal : 11;
    fault_line("PROGRAM FAULT", f);
    if (f->kind == FAULT_PAGE && program && program->explain_fault)
        program->explain_fault(f->addr);
    pr_warn("the program was killed by %s (exit status %d)\n", signal_names[sig] ? signal_names[sig] : "a signal",
           128 + sig);
    if (regs_dump)
        regs_dump(frame);
    program_exit(128 + sig); /* as any end of the program: its shared file mappings and sockets are flushed */
}

/* The program's layer (hermit/user.h); kernel-only images have none. */
long syscall_dispatch(unsigned long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    if (!program)
        return -38; /* ENOSYS */
    struct thread *t = current_thread();
    t->sys_nr = (long)nr; /* (rt_sigreturn makes it -1: nothing to restart) */
    t->sys_a0 = a0;
    t->in_syscall = 1; /* until user_return has looked at a signal (restarts) */
    long rc = program->syscall(nr, a0, a1, a2, a3, a4, a5);
    t->sys_rc = rc;
    return rc;
}

int user_return(void *regs)
{
    struct thread *t = current_thread();
    int full = 0;
    if (profile_hz)
        profile_arm(); /* this CPU samples once it runs the program */
    if (t->sig_wakeup && program && program->user_return)
        full = program->user_return(regs);
    t->in_syscall = 0;
    full |= t->full_restore;
    t->full_restore = 0;
    sched_account(1); /* from here on the program's time */
    return full;
}

void user_enter(void) { sched_account(0); }
void user_leave(void) { sched_account(1); }

int vm_fault(uintptr_t addr, int write, int exec) { return program ? program->fault(addr, write, exec) : -1; }

void program_exit(int status)
{
    if (program)
        program->exit(status);
    hermit_exit(status);
}

/* A terminal signal (tty.c): without a layer to deliver it, the run ends as
 * the program would. */
void tty_signal(int sig)
{
    if (program && program->signal)
        program->signal(sig, 0);
    else
        hermit_exit(128 + sig);
}

void host_signal(int sig)
{
    if (program && program->signal)
        program->signal(sig, 1);
    else
        hermit_exit(128 + sig);
}
