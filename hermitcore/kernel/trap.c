#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <hermit/trap.h>
#include <hermit/sched.h>
#include <hermit/user.h>

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

void program_layer_register(const struct program_layer *layer) { program = layer; }

static const char *const signal_names[32] = {
    [4] = "SIGILL", [5] = "SIGTRAP", [6] = "SIGABRT", [7] = "SIGBUS", [8] = "SIGFPE", [11] = "SIGSEGV",
};

/* The program's frames are not the kernel's: no backtrace (programs are
 * usually built without frame pointers); the host names the pc from the
 * program's symbols. */
void user_fault(const struct fault_info *f, void (*regs_dump)(const void *frame), const void *frame, uintptr_t fp)
{
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
    return program ? program->syscall(nr, a0, a1, a2, a3, a4, a5) : -38; /* ENOSYS */
}

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
        program->signal(sig);
    else
        hermit_exit(128 + sig);
}
