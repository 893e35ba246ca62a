/* Per-CPU one-shot timers. Each CPU keeps its own queue, touched only by
 * that CPU with interrupts masked (a thread's sleep timer lives on the CPU
 * the thread lives on), so no lock is needed. The hardware timer is armed
 * for the earliest of the queue and the scheduler's time slice: tickless. */
#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <hermit/irq.h>
#include <hermit/sched.h>
#include <hermit/time.h>

uint64_t clock_ns(void)
{
    return arch_clock_ns();
}

uint64_t timer_interrupts(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < MAX_CPUS; i++)
        if (cpus[i])
            n += cpus[i]->timer_interrupts;
    return n;
}

void timer_rearm(void)
{
    struct cpu *c = this_cpu();
    uint64_t next = c->timers ? c->timers->deadline : 0;
    if (c->slice_deadline && (!next || c->slice_deadline < next))
        next = c->slice_deadline;
    if (next)
        arch_timer_arm(next);
    else
        arch_timer_disarm(); /* nothing due: no tick */
}

void timer_add(struct timer *t, uint64_t deadline, void (*fn)(struct timer *, void *), void *arg)
{
    int was = arch_irq_enabled();
    arch_irq_disable();
    if (t->pending)
        timer_cancel(t);
    struct cpu *c = this_cpu();
    t->deadline = deadline;
    t->fn = fn;
    t->arg = arg;
    t->pending = 1;
    struct timer **p = &c->timers;
    while (*p && (*p)->deadline <= deadline)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    if (c->timers == t)
        timer_rearm();
    if (was)
        arch_irq_enable();
}

void timer_cancel(struct timer *t)
{
    int was = arch_irq_enabled();
    arch_irq_disable();
    if (t->pending) {
        for (struct timer **p = &this_cpu()->timers; *p; p = &(*p)->next) {
            if (*p == t) {
                *p = t->next;
                break;
            }
        }
        t->pending = 0;
        timer_rearm();
    }
    if (was)
        arch_irq_enable();
}

void timer_interrupt(void)
{
    struct cpu *c = this_cpu();
    c->timer_interrupts++;
    uint64_t now = arch_clock_ns();
    while (c->timers && c->timers->deadline <= now) {
        struct timer *t = c->timers;
        c->timers = t->next;
        t->pending = 0;
        t->fn(t, t->arg);
        now = arch_clock_ns();
    }
    if (c->slice_deadline && c->slice_deadline <= now)
        sched_slice_expired();
    timer_rearm();
}

static void wake(struct timer *t, void *arg)
{
    *(volatile int *)arg = 1;
}

void sleep_ns(uint64_t ns)
{
    sleep_until(arch_clock_ns() + ns);
}

void sleep_until(uint64_t deadline)
{
    int was = arch_irq_enabled();
    arch_irq_disable();
    if (current_thread()) {
        sched_sleep_until(deadline);
    } else { /* before the scheduler exists */
        volatile int done = 0;
        struct timer t = {0};
        timer_add(&t, deadline, wake, (void *)&done);
        while (!done)
            arch_idle();
    }
    if (was)
        arch_irq_enable();
}
