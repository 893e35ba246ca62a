#include <hermit/arch.h>
#include <hermit/hermit.h>
#include <hermit/irq.h>
#include <hermit/time.h>

static struct timer *queue; /* sorted by deadline */
static uint64_t interrupts;

uint64_t clock_ns(void)
{
    return arch_clock_ns();
}

uint64_t timer_interrupts(void)
{
    return interrupts;
}

static void rearm(void)
{
    if (queue)
        arch_timer_arm(queue->deadline);
    else
        arch_timer_disarm(); /* tickless: nothing due, no tick */
}

void timer_add(struct timer *t, uint64_t deadline, void (*fn)(struct timer *, void *), void *arg)
{
    int was = arch_irq_enabled();
    arch_irq_disable();
    if (t->pending)
        timer_cancel(t);
    t->deadline = deadline;
    t->fn = fn;
    t->arg = arg;
    t->pending = 1;
    struct timer **p = &queue;
    while (*p && (*p)->deadline <= deadline)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    if (queue == t)
        rearm();
    if (was)
        arch_irq_enable();
}

void timer_cancel(struct timer *t)
{
    int was = arch_irq_enabled();
    arch_irq_disable();
    for (struct timer **p = &queue; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->pending = 0;
    rearm();
    if (was)
        arch_irq_enable();
}

void timer_interrupt(void)
{
    interrupts++;
    uint64_t now = arch_clock_ns();
    while (queue && queue->deadline <= now) {
        struct timer *t = queue;
        queue = t->next;
        t->pending = 0;
        t->fn(t, t->arg);
        now = arch_clock_ns();
    }
    rearm();
}

static void wake(struct timer *t, void *arg)
{
    *(volatile int *)arg = 1;
}

void sleep_ns(uint64_t ns)
{
    volatile int done = 0;
    struct timer t = {0};
    timer_add(&t, arch_clock_ns() + ns, wake, (void *)&done);
    while (!done)
        arch_idle();
}
