#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/trap.h>
#include <hermit/stdio.h>
#include <hermit/profile.h>
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
    boot_times_report();
    stack_usage_report();
    profile_flush(); /* the samples to the host (--profile) */
    stdio_drain(); /* the program's last output reaches the host before the machine goes */
    if (poweroff_fn)
        poweroff_fn(status & 0xff);
    pr_info("no exit device on this board (exit status %d); halting\n", status);
    arch_halt();
}


void panic(const char *fmt, ...)
{
    va_list ap;
    printk("\n[hermit] PANIC: ");
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\n");
    hermit_backtrace((uintptr_t)__builtin_frame_address(0), 0);
    hermit_exit(HERMIT_PANIC_STATUS);
}
