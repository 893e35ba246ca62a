/* System-call dispatch through the generated per-architecture table. An
 * unimplemented call returns -ENOSYS and is reported once by name; with
 * the kernel option hermit.strace every call is printed, strace-like. */
#include "linux.h"
#include <hermit/init.h>
#include <hermit/profile.h>
#include <hermit/sched.h>

static uint8_t reported[(1024 + 7) / 8];
int strace_enabled;

static int set_strace(const char *value)
{
    strace_enabled = 1;
    return 0;
}
HERMIT_PARAM("hermit.strace", set_strace);

long linux_syscall(unsigned long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    const struct syscall_entry *e = nr < syscall_count ? &syscall_table[nr] : 0;
    const char *name = e && e->name ? e->name : "unknown";
    long rc;
    if (strace_enabled && e && e->fn && !strncmp(name, "exit", 4)) /* does not return: say it first */
        printk("[strace] %s(%#lx) = ?\n", name, (unsigned long)a0);
    if (e && e->fn && e->unlocked) {
        rc = e->fn(a0, a1, a2, a3, a4, a5);
    } else if (e && e->fn) {
        kernel_lock();
        rc = e->fn(a0, a1, a2, a3, a4, a5);
        kernel_unlock();
    } else {
        rc = -ENOSYS;
        if (!(e && e->quiet) && nr < 1024 && !(reported[nr / 8] & (1u << (nr % 8)))) {
            reported[nr / 8] |= (uint8_t)(1u << (nr % 8));
            pr_warn("system call %s (%lu) is not implemented: returning -ENOSYS\n", name, nr);
        }
    }
    if (profile_hz && e && e->fn)
        profile_syscall_done((uintptr_t)e->fn);
    if (strace_enabled) {
        long args[6] = {a0, a1, a2, a3, a4, a5};
        unsigned n = e && e->fn ? e->nargs : 6;
        printk("[strace] %s(", name);
        for (unsigned i = 0; i < n; i++)
            printk(i ? ", %#lx" : "%#lx", (unsigned long)args[i]);
        if (rc < 0 && rc > -4096)
            printk(") = -%ld\n", -rc);
        else
            printk(") = %#lx\n", (unsigned long)rc);
    }
    return rc;
}
