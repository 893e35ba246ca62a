#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <stdarg.h>

static void (*poweroff_fn)(int);
static const char *poweroff_name;

void poweroff_register(const char *name, void (*fn)(int status))
{
    if (!poweroff_fn) {
        poweroff_fn = fn;
        poweroff_name = name;
    }
}

void hermit_exit(int status)
{
    if (poweroff_fn)
        poweroff_fn(status & 0xff);
    pr_info("no exit device on this board (exit status %d); halting\n", status);
    arch_halt();
}

static void backtrace(void)
{
    uintptr_t fp = arch_frame_pointer();
    printk("[hermit] backtrace:");
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

void panic(const char *fmt, ...)
{
    va_list ap;
    printk("\n[hermit] PANIC: ");
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\n");
    backtrace();
    hermit_exit(HERMIT_PANIC_STATUS);
}
