/* Timers that end in a signal: alarm and setitimer(ITIMER_REAL) (SIGALRM
 * to the process), and POSIX timers (timer_create: SIGEV_SIGNAL to the
 * process, SIGEV_THREAD_ID to one thread -- glibc's SIGEV_THREAD rides on
 * it --, SIGEV_NONE). Each runs on a kernel timer (timer.c) of the CPU that
 * armed it; any thread may re-arm or delete it, and a callback that lost
 * the race finds a newer generation and does nothing.
 *
 * Timers on CPU time -- ITIMER_VIRTUAL (the process's user time: SIGVTALRM),
 * ITIMER_PROF (user + system: SIGPROF) and POSIX timers on the caller's
 * process or thread CPU clocks -- have their deadline in that clock's ns,
 * and one kernel timer (cpu_check) reads the clocks: CPU time grows at
 * most as fast as the CPUs it runs on, so the check comes back after the
 * soonest timer's time left divided by the CPUs (at least 50 us) and fires
 * those that are due. */
#include "linux.h"
#include <hermit/spinlock.h>
#include <hermit/time.h>

#define MAX_TIMERS 64
#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD 2
#define SIGEV_THREAD_ID 4
#define TIMER_ABSTIME 1

struct ptimer {
    struct timer kt;
    struct process *owner; /* whose it is: its signals go there */
    int used, clock, notify, signo;
    int itimer;          /* setitimer's: 1 + ITIMER_REAL/VIRTUAL/PROF; 0: a POSIX timer */
    int cpu, cpu_which;  /* on a CPU-time clock (process_times: which 0 PROF, 1 VIRT, 2 SCHED) ... */
    long cpu_tid;        /* ... of a thread (0: of the owner) */
    long tid;            /* SIGEV_THREAD_ID */
    uint64_t value;      /* sigev_value */
    uint64_t deadline;   /* clock_ns(); 0: disarmed */
    uint64_t interval;
    uint64_t gen;        /* bumped by every (re)arm and delete: a stale callback does nothing */
    uint64_t before_boot; /* intervals of an absolute deadline before boot, for the first overrun */
    int overrun, id;     /* overrun: the last delivered signal's (timer_getoverrun) */
    volatile int queued; /* its signal waits in a queue: expiries meanwhile only count */
    volatile int stalled; /* periodic, its kernel timer off until the signal is taken */
    volatile int missed; /* ... here, until it is taken */
};

static spinlock_t tlock = SPINLOCK_INIT;
static struct ptimer timers[MAX_TIMERS]; /* every process's: POSIX timers, and each one's ITIMER_REAL */

#define ITIMER_REAL 0
#define ITIMER_VIRTUAL 1
#define ITIMER_PROF 2

/* The calling process's interval timer `which`, made on first use (NULL:
 * none, and `make` is 0 or the table is full). tlock held. */
static struct ptimer *itimer(int which, int make)
{
    struct process *me = current_process();
    struct ptimer *freep = 0;
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (timers[i].used && timers[i].itimer == 1 + which && timers[i].owner == me)
            return &timers[i];
        if (!timers[i].used && !freep)
            freep = &timers[i];
    }
    if (!make || !freep)
        return 0;
    static const int signo[3] = {SIGALRM, 26 /* SIGVTALRM */, 27 /* SIGPROF */};
    *freep = (struct ptimer){.used = 1, .itimer = 1 + which, .owner = me, .notify = SIGEV_SIGNAL,
                             .signo = signo[which], .cpu = which != ITIMER_REAL,
                             .cpu_which = which == ITIMER_VIRTUAL ? 1 : 0, .id = (int)(freep - timers),
                             .gen = freep->gen};
    return freep;
}
static struct ptimer *real_timer(int make) { return itimer(ITIMER_REAL, make); }

/* Where p's clock stands: clock_ns(), or its CPU time (~0: its thread ended). */
static uint64_t timer_now(const struct ptimer *p)
{
    return p->cpu ? cpu_clock_value(p->owner, p->cpu_tid, p->cpu_which) : clock_ns();
}

static struct timer cpu_check;
static void cpu_check_arm(void);

static void fire(struct timer *kt, void *arg);

/* Called as a POSIX timer's signal is taken (under the signal lock: no
 * tlock here): the expiries it stood for beyond the first are its overrun. */
void sigtimer_taken(union ksiginfo *info)
{
    int id = info->timer.tid;
    if (id < 0 || id >= MAX_TIMERS)
        return;
    struct ptimer *p = &timers[id];
    int missed = __atomic_exchange_n(&p->missed, 0, __ATOMIC_ACQ_REL);
    if (__atomic_exchange_n(&p->stalled, 0, __ATOMIC_ACQ_REL) && p->deadline && p->interval && !p->cpu) {
        /* the expiries it slept through are overruns; it runs again from the next one */
        uint64_t now = clock_ns(), next = p->deadline;
        if (next <= now) {
            uint64_t late = (now - next) / p->interval + 1;
            uint64_t total = (uint64_t)missed + late - 1;
            missed = total > 0x7fffffff ? 0x7fffffff : (int)total;
            next += late * p->interval;
        }
        p->deadline = next;
        timer_add(&p->kt, next, fire, (void *)(uintptr_t)(p->gen << 8 | (uint64_t)p->id));
    }
    info->timer.overrun = missed;
    p->overrun = missed;
    __atomic_store_n(&p->queued, 0, __ATOMIC_RELEASE);
}

/* The process ends (every timer of its goes) or execs (its POSIX timers go;
 * alarm stays, as on Linux). */
void sigtimer_release(struct process *p, int exec)
{
    unsigned long f = spin_lock_irqsave(&tlock);
    for (int i = 0; i < MAX_TIMERS; i++)
        if (timers[i].used && timers[i].owner == p && !(exec && timers[i].itimer)) { /* (itimers survive exec) */
            timers[i].gen++;
            timer_cancel(&timers[i].kt);
            timers[i].deadline = 0;
            timers[i].used = 0;
        }
    spin_unlock_irqrestore(&tlock, f);
}

static void fire(struct timer *kt, void *arg);

/* (Re)arm p: deadline 0 disarms (on its clock: clock_ns() or CPU time). tlock held. */
static void arm(struct ptimer *p, uint64_t deadline, uint64_t interval)
{
    p->gen++;
    timer_cancel(&p->kt);
    p->deadline = deadline;
    p->interval = interval;
    p->overrun = 0;
    p->missed = 0;
    p->stalled = 0;
    p->before_boot = 0;
    if (deadline && p->cpu)
        cpu_check_arm();
    else if (deadline)
        timer_add(&p->kt, deadline, fire, (void *)(uintptr_t)(p->gen << 8 | (uint64_t)p->id));
}

static void expire(struct ptimer *p, uint64_t now);

static void fire(struct timer *kt, void *arg)
{
    uint64_t cookie = (uint64_t)(uintptr_t)arg;
    struct ptimer *p = &timers[cookie & 0xff];
    unsigned long f = spin_lock_irqsave(&tlock);
    if (!p->used || p->gen != cookie >> 8 || !p->deadline) {
        spin_unlock_irqrestore(&tlock, f);
        return;
    }
    expire(p, clock_ns());
    spin_unlock_irqrestore(&tlock, f);
}

/* CPU-time timers: fire those due, then come back when the soonest may be. */
static void cpu_check_fire(struct timer *kt, void *arg)
{
    unsigned long f = spin_lock_irqsave(&tlock);
    cpu_check_arm();
    spin_unlock_irqrestore(&tlock, f);
}

static void cpu_check_arm(void) /* tlock held */
{
    uint64_t soonest = ~0ull;
    unsigned cpus = cpus_online ? cpus_online : 1;
    for (int i = 0; i < MAX_TIMERS; i++) {
        struct ptimer *p = &timers[i];
        if (!p->used || !p->cpu || !p->deadline)
            continue;
        uint64_t now = timer_now(p);
        if (now == ~0ull)
            continue; /* its thread ended: it never fires */
        if (now >= p->deadline)
            expire(p, now);
        if (p->deadline && p->deadline > now && (p->deadline - now) / cpus < soonest)
            soonest = (p->deadline - now) / cpus;
    }
    timer_cancel(&cpu_check);
    if (soonest != ~0ull)
        timer_add(&cpu_check, clock_ns() + (soonest > 50000 ? soonest : 50000), cpu_check_fire, 0);
}

/* p is due at `now` on its clock: its signal, and its next expiry. tlock held. */
static void expire(struct ptimer *p, uint64_t now)
{
    void *arg = (void *)(uintptr_t)(p->gen << 8 | (uint64_t)p->id);
    int overrun = 0;
    if (p->interval) { /* the next expiry; intervals missed meanwhile are overruns */
        uint64_t next = p->deadline + p->interval;
        if (next <= now) {
            uint64_t missed = (now - p->deadline) / p->interval;
            overrun = missed > 0x7fffffff ? 0x7fffffff : (int)missed;
            next = p->deadline + (missed + 1) * p->interval;
        }
        if (p->before_boot) { /* an absolute deadline before boot: the intervals until boot too */
            uint64_t total = (uint64_t)overrun + p->before_boot;
            overrun = total > 0x7fffffff ? 0x7fffffff : (int)total;
            p->before_boot = 0;
        }
        p->deadline = next;
        if (!p->cpu)
            timer_add(&p->kt, next, fire, arg);
    } else {
        p->deadline = 0;
    }
    if (!p->itimer && p->notify != SIGEV_NONE &&
        __atomic_exchange_n(&p->queued, 1, __ATOMIC_ACQ_REL)) { /* the last one is still queued: an overrun */
        __atomic_add_fetch(&p->missed, 1 + overrun, __ATOMIC_RELAXED);
        return;
    }
    if (!p->itimer && !p->cpu && p->notify != SIGEV_NONE && p->interval) {
        /* A periodic timer waits for its signal to be taken before it runs
         * again (as Linux's): a 1 ns interval cannot flood the CPU. */
        timer_cancel(&p->kt);
        p->stalled = 1;
    }
    __atomic_store_n(&p->missed, overrun, __ATOMIC_RELAXED);
    union ksiginfo info = {0};
    int notify = p->notify, signo = p->signo;
    long tid = p->tid;
    struct process *owner = p->owner;
    if (p->itimer) {
        info.code = SI_KERNEL;
    } else {
        info.code = SI_TIMER;
        info.timer.tid = p->id;
        info.timer.overrun = overrun;
        info.timer.value = p->value;
    }
    if (notify == SIGEV_SIGNAL) {
        signal_to(owner, signo, &info); /* (under tlock: the owner cannot go meanwhile) */
    } else if (notify == (SIGEV_SIGNAL | SIGEV_THREAD_ID)) {
        linux_threads_lock();
        struct thread *t = linux_thread_find(tid);
        if (t && t->proc == owner)
            signal_thread(t, signo, &info);
        linux_threads_unlock();
    }
}

static uint64_t remaining(const struct ptimer *p)
{
    if (!p->deadline)
        return 0;
    uint64_t now = timer_now(p);
    return now == ~0ull ? p->deadline : p->deadline > now ? p->deadline - now : 1; /* due: not yet fired, still armed */
}

/* --- setitimer, getitimer, alarm --- */

struct itimerval_k {
    struct timeval_k interval, value;
};

static uint64_t tv_ns(const struct timeval_k *tv) { return (uint64_t)tv->sec * NSEC_PER_SEC + (uint64_t)tv->usec * 1000; }
static struct timeval_k ns_tv(uint64_t ns)
{
    return (struct timeval_k){(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / 1000)};
}

static void itimer_get(int which, struct itimerval_k *v) /* tlock held */
{
    struct ptimer *it = itimer(which, 0);
    uint64_t left = it ? remaining(it) : 0;
    if (left && left < 1000)
        left = 1000; /* armed: never reads as zero */
    v->value = ns_tv(left);
    v->interval = ns_tv(it ? it->interval : 0);
}
static void real_get(struct itimerval_k *v) { itimer_get(ITIMER_REAL, v); }

long sys_getitimer(long which, long uvalue)
{
    which = (int)which;
    if (which < 0 || which > 2)
        return -EINVAL;
    struct itimerval_k v = {0};
    unsigned long f = spin_lock_irqsave(&tlock);
    itimer_get((int)which, &v);
    spin_unlock_irqrestore(&tlock, f);
    return copy_to_user((uintptr_t)uvalue, &v, sizeof v) ? -EFAULT : 0;
}

long sys_setitimer(long which, long unew, long uold)
{
    which = (int)which;
    struct itimerval_k v, old = {0};
    if (unew && copy_from_user(&v, (uintptr_t)unew, sizeof v))
        return -EFAULT;
    if (which < 0 || which > 2)
        return -EINVAL;
    if (unew && (v.value.usec < 0 || v.value.usec >= 1000000 || v.value.sec < 0 || v.interval.usec < 0 ||
                 v.interval.usec >= 1000000 || v.interval.sec < 0))
        return -EINVAL;
    unsigned long f = spin_lock_irqsave(&tlock);
    itimer_get((int)which, &old);
    struct ptimer *it = unew ? itimer((int)which, 1) : 0;
    if (it) {
        uint64_t value = tv_ns(&v.value), now = timer_now(it);
        arm(it, value ? now + value : 0, value ? tv_ns(&v.interval) : 0);
    }
    spin_unlock_irqrestore(&tlock, f);
    if (unew && !it)
        return -EAGAIN;
    if (uold && copy_to_user((uintptr_t)uold, &old, sizeof old))
        return -EFAULT;
    return 0;
}

long sys_alarm(long seconds)
{
    struct itimerval_k old;
    unsigned long f = spin_lock_irqsave(&tlock);
    real_get(&old);
    uint64_t s = (uint64_t)(unsigned)seconds;
    struct ptimer *real = real_timer(s != 0);
    if (real)
        arm(real, s ? clock_ns() + s * NSEC_PER_SEC : 0, 0);
    spin_unlock_irqrestore(&tlock, f);
    long left = old.value.sec;
    if ((!left && old.value.usec) || old.value.usec >= 500000)
        left++; /* Linux rounds so */
    return left;
}

/* --- POSIX timers --- */
struct sigevent_k {
    uint64_t value;
    int32_t signo, notify;
    int32_t tid, pad[11];
};
struct itimerspec_k {
    struct timespec_k interval, value;
};

static int valid_clock(long clock)
{
    return clock == 0 /* REALTIME */ || clock == 1 /* MONOTONIC */ || clock == 7 /* BOOTTIME */ ||
           clock == 8 /* REALTIME_ALARM */ || clock == 9 /* BOOTTIME_ALARM */ || clock == 11 /* TAI */;
}
static int realtime_clock(long clock) { return clock == 0 || clock == 8 || clock == 11; }

static struct ptimer *lookup(long id) /* tlock held */
{
    return id >= 0 && id < MAX_TIMERS && timers[id].used && !timers[id].itimer && timers[id].owner == current_process()
               ? &timers[id]
               : 0;
}

long sys_timer_create(long clock, long usev, long uid)
{
    clock = (int)clock;
    struct process *cpu_proc;
    long cpu_tid;
    int cpu_which, cpu = cpu_clock_parse(clock, &cpu_proc, &cpu_tid, &cpu_which);
    if (cpu < 0 || (!cpu && !valid_clock(clock)))
        return -EINVAL;
    if (cpu && cpu_proc != current_process())
        return -EINVAL; /* (another process's CPU clock: not kept for timers) */
    struct sigevent_k ev = {.signo = SIGALRM, .notify = SIGEV_SIGNAL};
    if (usev && copy_from_user(&ev, (uintptr_t)usev, sizeof ev))
        return -EFAULT;
    if (ev.notify == SIGEV_THREAD)
        ev.notify = SIGEV_SIGNAL; /* as Linux: the C library's threads are its own affair */
    if (ev.notify != SIGEV_NONE && ev.notify != SIGEV_SIGNAL && ev.notify != (SIGEV_SIGNAL | SIGEV_THREAD_ID))
        return -EINVAL;
    if (ev.notify != SIGEV_NONE && (ev.signo < 1 || ev.signo > NSIG_K))
        return -EINVAL;
    if (ev.notify == (SIGEV_SIGNAL | SIGEV_THREAD_ID)) {
        linux_threads_lock();
        int alive = linux_thread_find(ev.tid) != 0;
        linux_threads_unlock();
        if (!alive)
            return -EINVAL;
    }
    unsigned long f = spin_lock_irqsave(&tlock);
    int id = 0;
    while (id < MAX_TIMERS && timers[id].used)
        id++;
    if (id == MAX_TIMERS) {
        spin_unlock_irqrestore(&tlock, f);
        return -EAGAIN;
    }
    struct ptimer *p = &timers[id];
    p->used = 1;
    p->itimer = 0;
    p->cpu = cpu, p->cpu_tid = cpu ? cpu_tid : 0, p->cpu_which = cpu ? cpu_which : 0;
    p->owner = current_process();
    p->id = id;
    p->clock = (int)clock;
    p->notify = ev.notify;
    p->signo = ev.signo;
    p->tid = ev.tid;
    p->value = usev ? ev.value : (uint64_t)id; /* no sigevent: the timer's id is its value */
    p->deadline = p->interval = 0;
    p->overrun = p->missed = p->queued = 0;
    spin_unlock_irqrestore(&tlock, f);
    int32_t out = id;
    if (copy_to_user((uintptr_t)uid, &out, sizeof out)) {
        f = spin_lock_irqsave(&tlock);
        p->used = 0;
        spin_unlock_irqrestore(&tlock, f);
        return -EFAULT;
    }
    return 0;
}

static long ts_ns(const struct timespec_k *ts, uint64_t *ns)
{
    if (ts->sec < 0 || ts->nsec < 0 || ts->nsec >= (int64_t)NSEC_PER_SEC)
        return -EINVAL;
    *ns = (uint64_t)ts->sec * NSEC_PER_SEC + (uint64_t)ts->nsec;
    return 0;
}
static struct timespec_k ns_ts(uint64_t ns) { return (struct timespec_k){(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC)}; }

static void get(const struct ptimer *p, struct itimerspec_k *v) /* tlock held */
{
    v->value = ns_ts(remaining(p));
    v->interval = ns_ts(p->interval);
}

long sys_timer_settime(long id, long flags, long unew, long uold)
{
    id = (int)id; /* timer_t */
    struct itimerspec_k v, old;
    uint64_t value, interval;
    if (!unew)
        return -EINVAL;
    if (copy_from_user(&v, (uintptr_t)unew, sizeof v))
        return -EFAULT;
    if (ts_ns(&v.value, &value) || ts_ns(&v.interval, &interval))
        return -EINVAL;
    unsigned long f = spin_lock_irqsave(&tlock);
    struct ptimer *p = lookup(id);
    if (!p) {
        spin_unlock_irqrestore(&tlock, f);
        return -EINVAL;
    }
    get(p, &old);
    uint64_t deadline = 0, early = 0;
    if (value) {
        if (flags & TIMER_ABSTIME && p->cpu) {
            deadline = value; /* in CPU time */
        } else if (flags & TIMER_ABSTIME) {
            uint64_t offset = realtime_clock(p->clock) ? realtime_offset_ns() : 0;
            deadline = value > offset ? value - offset : 1; /* in the past: fires now, its missed intervals overruns */
            early = value < offset ? offset - value : 0;   /* (before boot: those until boot count too) */
        } else {
            uint64_t now = timer_now(p);
            deadline = (now == ~0ull ? 0 : now) + value;
        }
    }
    arm(p, deadline, value ? interval : 0);
    if (early && value && interval)
        p->before_boot = early / interval;
    spin_unlock_irqrestore(&tlock, f);
    if (uold && copy_to_user((uintptr_t)uold, &old, sizeof old))
        return -EFAULT;
    return 0;
}

long sys_timer_gettime(long id, long ucur)
{
    id = (int)id; /* timer_t */
    struct itimerspec_k v;
    unsigned long f = spin_lock_irqsave(&tlock);
    struct ptimer *p = lookup(id);
    if (p)
        get(p, &v);
    spin_unlock_irqrestore(&tlock, f);
    if (!p)
        return -EINVAL;
    return copy_to_user((uintptr_t)ucur, &v, sizeof v) ? -EFAULT : 0;
}

long sys_timer_getoverrun(long id)
{
    id = (int)id; /* timer_t */
    unsigned long f = spin_lock_irqsave(&tlock);
    struct ptimer *p = lookup(id);
    long n = p ? p->overrun : -EINVAL;
    spin_unlock_irqrestore(&tlock, f);
    return n;
}

long sys_timer_delete(long id)
{
    id = (int)id; /* timer_t */
    unsigned long f = spin_lock_irqsave(&tlock);
    struct ptimer *p = lookup(id);
    if (p) {
        arm(p, 0, 0);
        p->used = 0;
    }
    spin_unlock_irqrestore(&tlock, f);
    return p ? 0 : -EINVAL;
}
