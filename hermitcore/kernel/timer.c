/* Per-CPU one-shot timers. Each CPU keeps its own queue, under its
 * timer_lock: a timer fires on the CPU it was added on (a thread's sleep
 * timer lives on the CPU the thread lives on), and any CPU may cancel it (a
 * process's interval timers are armed and disarmed by any of its threads).
 * The hardware timer is armed for the earliest of the queue and the
 * scheduler's time slice: tickless. */
#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <hermit/irq.h>
#include <hermit/sched.h>
#include <hermit/time.h>

uint64_t clock_ns(void)
{
    return arch_clock_ns();
}

uint64_t counter_ns(uint64_t ticks)
{
    uint64_t hz = arch_clock_hz(); /* whole seconds, then the rest: no 128-bit division (no libgcc) */
    return ticks / hz * NSEC_PER_SEC + ticks % hz * NSEC_PER_SEC / hz;
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
    spin_lock(&c->timer_lock);
    uint64_t next = c->timers ? c->timers->deadline : 0;
    spin_unlock(&c->timer_lock);
    if (c->slice_deadline && (!next || c->slice_deadline < next))
        next = c->slice_deadline;
    if (next)
        arch_timer_arm(next);
    else
        arch_timer_disarm(); /* nothing due: no tick */
}

static void dequeue(struct timer *t) /* interrupts off */
{
    for (;;) {
        struct cpu *c = __atomic_load_n(&t->cpu, __ATOMIC_ACQUIRE);
        if (!c)
            return;
        spin_lock(&c->timer_lock);
        if (t->cpu != c) { /* fired or moved meanwhile */
            spin_unlock(&c->timer_lock);
            continue;
        }
        if (t->pending)
            for (struct timer **p = &c->timers; *p; p = &(*p)->next)
                if (*p == t) {
                    *p = t->next;
                    break;
                }
        t->pending = 0;
        t->cpu = 0;
        spin_unlock(&c->timer_lock);
        if (c == this_cpu())
            timer_rearm(); /* (another CPU's early interrupt finds nothing due and rearms) */
        return;
    }
}

void timer_add(struct timer *t, uint64_t deadline, void (*fn)(struct timer *, void *), void *arg)
{
    int was = arch_irq_enabled();
    arch_irq_disable();
    dequeue(t);
    struct cpu *c = this_cpu();
    spin_lock(&c->timer_lock);
    t->deadline = deadline;
    t->fn = fn;
    t->arg = arg;
    t->pending = 1;
    t->cpu = c;
    struct timer **p = &c->timers;
    while (*p && (*p)->deadline <= deadline)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    int first = c->timers == t;
    spin_unlock(&c->timer_lock);
    if (first)
        timer_rearm();
    if (was)
        arch_irq_enable();
}

void timer_cancel(struct timer *t)
{
    int was = arch_irq_enabled();
    arch_irq_disable();
    dequeue(t);
    if (was)
        arch_irq_enable();
}

void timer_interrupt(void)
{
    struct cpu *c = this_cpu();
    c->timer_interrupts++;
    uint64_t now = arch_clock_ns();
    spin_lock(&c->timer_lock);
    while (c->timers && c->timers->deadline <= now) {
        struct timer *t = c->timers;
        c->timers = t->next;
        t->pending = 0;
        __atomic_store_n(&t->cpu, 0, __ATOMIC_RELEASE);
        void (*fn)(struct timer *, void *) = t->fn;
        void *arg = t->arg;
        spin_unlock(&c->timer_lock);
        fn(t, arg); /* may add it again, here or elsewhere */
        spin_lock(&c->timer_lock);
        now = arch_clock_ns();
    }
    spin_unlock(&c->timer_lock);
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
