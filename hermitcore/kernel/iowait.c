/* The I/O event counter (hermit/iowait.h). */
#include <hermit/iowait.h>
#include <hermit/sched.h>
#include <hermit/spinlock.h>
#include <hermit/time.h>

struct io_waiter {
    struct thread *t;
    struct io_waiter *next;
    volatile int woken;
};

static spinlock_t io_lock = SPINLOCK_INIT;
static uint64_t seq;
static struct io_waiter *waiters;

uint64_t io_seq(void) { return __atomic_load_n(&seq, __ATOMIC_ACQUIRE); }

void io_notify(void)
{
    spin_lock(&io_lock);
    __atomic_store_n(&seq, seq + 1, __ATOMIC_RELEASE);
    struct io_waiter *w = waiters;
    waiters = 0;
    while (w) {
        struct io_waiter *next = w->next; /* w lives on the waiter's stack: read before waking */
        w->woken = 1;
        sched_wake(w->t);
        w = next;
    }
    spin_unlock(&io_lock);
}


static int wait(uint64_t seen, uint64_t deadline, int intr)
{
    struct thread *t = current_thread();
    struct io_waiter w = {t, 0, 0};
    if (intr && t->sig_wakeup)
        return -4; /* EINTR */
    spin_lock(&io_lock);
    if (seq != seen) {
        spin_unlock(&io_lock);
        return 0;
    }
    w.next = waiters;
    waiters = &w;
    t->timed_out = 0;
    if (!intr)
        t->state = THREAD_BLOCKED;
    else
        sched_block_intr(t); /* (a pending signal: runs on, and leaves below) */
    spin_unlock(&io_lock);
    if (deadline)
        timer_add(&t->timer, deadline, sched_timeout_wake, t);
    schedule();
    if (deadline)
        timer_cancel(&t->timer);
    spin_lock(&io_lock);
    if (!w.woken)
        for (struct io_waiter **p = &waiters; *p; p = &(*p)->next)
            if (*p == &w) {
                *p = w.next;
                break;
            }
    spin_unlock(&io_lock);
    if (w.woken)
        return 0;
    if (intr && t->sig_wakeup)
        return -4;
    return t->timed_out ? -110 /* -ETIMEDOUT */ : 0;
}

int io_wait(uint64_t seen, uint64_t deadline) { return wait(seen, deadline, 0); }
int io_wait_intr(uint64_t seen, uint64_t deadline) { return wait(seen, deadline, 1); }

