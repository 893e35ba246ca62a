/* The vDSO's clock: the kernel fills one page of this at boot ([vvar],
 * mapped read-only one page below [vdso] in every program) and the
 * architecture's vDSO (plugins/<arch>/vdso.c, a shared object of its own)
 * answers clock_gettime, gettimeofday and time from it and the counter,
 * with the same values the system calls give (kernel/linux/sys.c), without
 * entering the kernel. Nothing here may need relocations or a C library. */
#pragma once
#include <stdint.h>

struct vdso_data {
    uint64_t counter_boot;    /* the counter at clock_ns() == 0 */
    uint64_t mult;            /* clock_ns() = ((counter - counter_boot) * mult) >> 32 */
    uint64_t realtime_offset; /* CLOCK_REALTIME = clock_ns() + this */
    uint32_t usable;          /* 0: the counter cannot be read in user mode; make the system call */
};

struct vdso_timespec {
    int64_t sec, nsec;
};

/* clock_ns() or the wall clock for clock `id` into *ns: 1, or 0 when the
 * system call must answer (CPU-time clocks, unknown ones, no counter). */
static inline int vdso_clock_ns(const volatile struct vdso_data *d, uint64_t counter, int id, uint64_t *ns)
{
    if (!d->usable)
        return 0;
    uint64_t mono = (uint64_t)(((unsigned __int128)(counter - d->counter_boot) * d->mult) >> 32);
    switch (id) {
    case 0:  /* CLOCK_REALTIME */
    case 5:  /* CLOCK_REALTIME_COARSE */
    case 11: /* CLOCK_TAI */
        *ns = mono + d->realtime_offset;
        return 1;
    case 1: /* CLOCK_MONOTONIC */
    case 4: /* CLOCK_MONOTONIC_RAW */
    case 6: /* CLOCK_MONOTONIC_COARSE */
    case 7: /* CLOCK_BOOTTIME */
        *ns = mono;
        return 1;
    default:
        return 0;
    }
}
