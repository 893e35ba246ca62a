/* The arm64 vDSO (AT_SYSINFO_EHDR): Linux's entry points and version
 * (LINUX_2.6.39, vdso.ld), answering from the [vvar] page and cntvct_el0,
 * or with the system call when the clock is not one the page describes.
 * Built by the core as a shared object apart from the kernel
 * (hermitcore/vdso.py). The signal return trampoline stays the [sigpage]. */
#include <hermit/vdso.h>

extern const volatile struct vdso_data vvar __attribute__((visibility("hidden"))); /* vdso.ld: one page below */

static inline uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static inline long sys2(long nr, long a, long b)
{
    register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a, x1 __asm__("x1") = b;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
    return x0;
}

int __kernel_clock_gettime(int id, struct vdso_timespec *ts)
{
    uint64_t ns;
    if (!vdso_clock_ns(&vvar, counter(), id, &ns))
        return (int)sys2(113 /* clock_gettime */, id, (long)ts);
    ts->sec = (int64_t)(ns / 1000000000u);
    ts->nsec = (int64_t)(ns % 1000000000u);
    return 0;
}

int __kernel_gettimeofday(struct vdso_timespec *tv, void *tz)
{
    uint64_t ns;
    if (tz || !vdso_clock_ns(&vvar, counter(), 0, &ns))
        return (int)sys2(169 /* gettimeofday */, (long)tv, (long)tz);
    if (tv) {
        tv->sec = (int64_t)(ns / 1000000000u);
        tv->nsec = (int64_t)(ns % 1000000000u / 1000u); /* tv_usec */
    }
    return 0;
}

int __kernel_clock_getres(int id, struct vdso_timespec *res)
{
    return (int)sys2(114 /* clock_getres */, id, (long)res);
}
