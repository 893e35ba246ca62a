/* The x86_64 vDSO (AT_SYSINFO_EHDR): Linux's entry points and version
 * (LINUX_2.6, vdso.ld), answering from the [vvar] page and rdtsc, or with
 * the system call when the clock is not one the page describes. Built by
 * the core as a shared object apart from the kernel (hermitcore/vdso.py). */
#include <hermit/vdso.h>

extern const volatile struct vdso_data vvar __attribute__((visibility("hidden"))); /* vdso.ld: one page below */

static inline uint64_t counter(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline long sys2(long nr, long a, long b)
{
    long rc;
    __asm__ volatile("syscall" : "=a"(rc) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return rc;
}

int __vdso_clock_gettime(int id, struct vdso_timespec *ts)
{
    uint64_t ns;
    if (!vdso_clock_ns(&vvar, counter(), id, &ns))
        return (int)sys2(228 /* clock_gettime */, id, (long)ts);
    ts->sec = (int64_t)(ns / 1000000000u);
    ts->nsec = (int64_t)(ns % 1000000000u);
    return 0;
}

int __vdso_gettimeofday(struct vdso_timespec *tv, void *tz)
{
    uint64_t ns;
    if (tz || !vdso_clock_ns(&vvar, counter(), 0, &ns))
        return (int)sys2(96 /* gettimeofday */, (long)tv, (long)tz);
    if (tv) {
        tv->sec = (int64_t)(ns / 1000000000u);
        tv->nsec = (int64_t)(ns % 1000000000u / 1000u); /* tv_usec */
    }
    return 0;
}

long __vdso_time(long *t)
{
    uint64_t ns;
    if (!vdso_clock_ns(&vvar, counter(), 0, &ns))
        return sys2(201 /* time */, (long)t, 0);
    long s = (long)(ns / 1000000000u);
    if (t)
        *t = s;
    return s;
}

int __vdso_clock_getres(int id, struct vdso_timespec *res)
{
    return (int)sys2(229 /* clock_getres */, id, (long)res);
}

long __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
    return sys2(309 /* getcpu */, (long)cpu, (long)node);
}

int clock_gettime(int, struct vdso_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vdso_timespec *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct vdso_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
