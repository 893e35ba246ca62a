/* Monotonic time and one-shot timers. Tickless: the hardware timer is armed
 * only for the earliest pending deadline. */
#pragma once
#include <hermit/arch.h>
#include <stdint.h>

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_USEC 1000ull

struct timer {
    uint64_t deadline; /* clock_ns() value */
    void (*fn)(struct timer *t, void *arg);
    void *arg;
    struct timer *next;
    struct cpu *cpu; /* whose queue it is on while pending */
    int pending;
};

/* Nanoseconds since boot (monotonic). */
uint64_t clock_ns(void);
/* arch_counter() ticks as nanoseconds. Counting in ticks needs no clock
 * (CPU-time accounting does, at every kernel entry and exit); converting
 * does, so only what a program reads pays for a calibration. */
uint64_t counter_ns(uint64_t ticks);

/* A bounded busy wait for a device that normally answers at once: the
 * first POLL_SPINS polls go by without the clock, then the wait lasts at
 * most `ns` more by it. The clock's first use may calibrate it (x86 with no
 * TSC frequency in CPUID: 10 ms of the PIT), which boot and exit should not
 * pay for a program that never asks for time. Zero-initialise; call once
 * per poll: nonzero when the wait is over. */
#define POLL_SPINS 100000u /* QEMU answers a virtqueue kick within ~1000 */
struct poll_bound {
    unsigned spins;
    uint64_t until;
};
static inline int poll_expired(struct poll_bound *b, uint64_t ns)
{
    if (b->spins < POLL_SPINS) {
        b->spins++;
        return 0;
    }
    if (!b->until) {
        b->until = clock_ns() + ns;
        return 0;
    }
    return clock_ns() >= b->until;
}

/* Call fn(t, arg) from the timer interrupt at or after `deadline`. */
void timer_add(struct timer *t, uint64_t deadline, void (*fn)(struct timer *, void *), void *arg);
void timer_cancel(struct timer *t);

/* Sleep at least `ns`, idling the CPU (hlt/wfi) until then. */
void sleep_ns(uint64_t ns);
/* Sleep until clock_ns() reaches `deadline`. */
void sleep_until(uint64_t deadline);

/* Number of timer interrupts taken since boot. */
uint64_t timer_interrupts(void);

/* Called by the arch timer interrupt. */
void timer_interrupt(void);
/* Program the hardware for this CPU's earliest deadline (timers, slice). */
void timer_rearm(void);
