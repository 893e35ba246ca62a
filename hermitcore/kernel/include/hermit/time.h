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
