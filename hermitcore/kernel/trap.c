#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <hermit/trap.h>

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

void hermit_fault(const struct fault_info *f, void (*regs_dump)(const void *frame), const void *frame, uintptr_t fp)
{
    struct hermit_catch *c = active_catch;
    if (c) {
        active_catch = 0;
        c->fault = *f;
        arch_longjmp(c->regs, 1);
    }
    printk("\n[hermit] EXCEPTION: %s at pc %p", f->name, (void *)f->pc);
    if (f->kind == FAULT_PAGE)
        printk(", address %p (%s%s, %s)", (void *)f->addr, f->exec ? "instruction fetch" : f->write ? "write" : "read",
               "", f->present ? "permission violation" : "not mapped");
    printk(", code %#llx\n", (unsigned long long)f->code);
    if (regs_dump)
        regs_dump(frame);
    hermit_backtrace(fp, f->pc);
    hermit_exit(HERMIT_FAULT_STATUS);
}
