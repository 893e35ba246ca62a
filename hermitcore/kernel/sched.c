/* Threads, per-CPU run queues, SMP start-up and the Linux layer's big lock.
 * Policy and lock order: include/hermit/sched.h, docs/architecture.md. */
#include <hermit/arch.h>
#include <hermit/heap.h>
#include <hermit/init.h>
#include <hermit/hermit.h>
#include <hermit/mm.h>
#include <hermit/sched.h>
#include <hermit/string.h>

static struct cpu boot_cpu;
struct cpu *cpus[MAX_CPUS] = {&boot_cpu};
unsigned cpus_online;
uint64_t sched_slice_ns = 10 * NSEC_PER_MSEC;

static int set_timeslice(const char *value) /* hermit.timeslice=US */
{
    uint64_t us = parse_u64(&value);
    if (*value || !us)
        return -1;
    sched_slice_ns = us * NSEC_PER_USEC;
    return 0;
}
HERMIT_PARAM("hermit.timeslice=", set_timeslice);
extern char boot_stack_top[];

static volatile int next_tid = 2; /* the first thread is 1, the process id */

/* --- kernel stacks: 64 KiB slots in the arch's kernel window, the lower
 * half of each left unmapped as a guard. Freed slots are kept mapped and
 * reused, so no TLB shoot-down is ever needed for them. --- */
#define KSTACK_SLOT (64u << 10)
#define KSTACK_SLOTS 4096
static spinlock_t kstack_lock = SPINLOCK_INIT;
static int kstack_free = -1, kstack_used; /* free slots chain through their own stacks' lowest word */

static uintptr_t slot_top(int slot) { return arch_kstack_base + (uintptr_t)(slot + 1) * KSTACK_SLOT; }
static int *slot_link(int slot) { return (int *)(slot_top(slot) - KSTACK_SIZE); }

static int kstack_alloc(void)
{
    unsigned long f = spin_lock_irqsave(&kstack_lock);
    int slot = -1;
    if (kstack_free >= 0) {
        slot = kstack_free;
        kstack_free = *slot_link(slot);
    } else if (kstack_used < KSTACK_SLOTS) {
        void *pages = page_alloc(KSTACK_SIZE / PAGE_SIZE);
        if (pages && arch_map(slot_top(kstack_used) - KSTACK_SIZE, virt_to_phys(pages), KSTACK_SIZE, MAP_WRITE) == 0)
            slot = kstack_used++;
        else if (pages)
            page_free(pages, KSTACK_SIZE / PAGE_SIZE);
    }
    spin_unlock_irqrestore(&kstack_lock, f);
    return slot;
}

static void kstack_release(int slot)
{
    unsigned long f = spin_lock_irqsave(&kstack_lock);
    *slot_link(slot) = kstack_free;
    kstack_free = slot;
    spin_unlock_irqrestore(&kstack_lock, f);
}

static struct thread *thread_alloc(void)
{
    struct thread *t = kzalloc(sizeof *t);
    if (!t)
        return 0;
    t->kstack_slot = kstack_alloc();
    if (t->kstack_slot < 0) {
        kfree(t);
        return 0;
    }
    t->kstack_top = slot_top(t->kstack_slot);
    t->state = THREAD_BLOCKED;
    return t;
}

static void thread_free(struct thread *t)
{
    if (t->kstack_slot >= 0)
        kstack_release(t->kstack_slot);
    kfree(t);
}

/* --- the big lock --- */
static spinlock_t klock = SPINLOCK_INIT;
static volatile int klock_owner = -1;
static int klock_depth;

/* CPUs asleep until the big lock is released (bit = CPU id). A waiter
 * spins a little, then halts until the holder's unlock sends it an IPI:
 * a vCPU that halts gives its host CPU back, so under a VMM that runs more
 * vCPUs than it has cores (or TCG) the holder is not starved by spinning
 * waiters -- the stress test on 4 vCPUs over 2 host cores ran 2-20 s
 * spinning against ~1 s here. */
static volatile uint64_t klock_sleepers;
#define KLOCK_SPINS 64

static int klock_free(void)
{
    return __atomic_load_n(&klock.next, __ATOMIC_RELAXED) == __atomic_load_n(&klock.owner, __ATOMIC_RELAXED);
}

void kernel_lock(void)
{
    struct cpu *c = this_cpu();
    if (klock_owner == (int)c->id) {
        klock_depth++;
        return;
    }
    int was = arch_irq_enabled();
    for (unsigned spins = 0; !spin_trylock(&klock); spins++) {
        if (spins < KLOCK_SPINS || c->id >= 64) {
            arch_irq_enable(); /* let shoot-downs and wake-ups in while waiting */
            arch_cpu_relax();
            arch_irq_disable();
            continue;
        }
        uint64_t me = 1ull << c->id;
        arch_irq_disable();
        __atomic_fetch_or(&klock_sleepers, me, __ATOMIC_SEQ_CST);
        __atomic_thread_fence(__ATOMIC_SEQ_CST); /* aarch64: order the store before the loads below */
        if (!klock_free()) /* checked after announcing: the holder's unlock sees us, or we see it */
            arch_idle(); /* until an interrupt: the unlock's IPI, a shoot-down, a timer */
        __atomic_fetch_and(&klock_sleepers, ~me, __ATOMIC_SEQ_CST);
        spins = 0;
    }
    if (was)
        arch_irq_enable();
    klock_owner = (int)c->id;
    klock_depth = 1;
}

void kernel_unlock(void)
{
    if (--klock_depth == 0) {
        klock_owner = -1;
        spin_unlock(&klock);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint64_t sleepers = __atomic_load_n(&klock_sleepers, __ATOMIC_RELAXED);
        for (unsigned i = 0; sleepers; i++, sleepers >>= 1)
            if ((sleepers & 1) && i < cpus_online)
                arch_send_ipi(cpus[i]);
    }
}

static int kernel_lock_drop(void)
{
    if (klock_owner != (int)this_cpu()->id)
        return 0;
    int depth = klock_depth;
    klock_depth = 1;
    kernel_unlock();
    return depth;
}

static void kernel_lock_retake(int depth)
{
    if (depth) {
        kernel_lock();
        klock_depth = depth;
    }
}

/* --- run queues --- */
static void rq_push(struct cpu *c, struct thread *t)
{
    t->next = 0;
    if (c->rq_tail)
        c->rq_tail->next = t;
    else
        c->rq_head = t;
    c->rq_tail = t;
}

static struct thread *rq_pop(struct cpu *c)
{
    struct thread *t = c->rq_head;
    if (t) {
        c->rq_head = t->next;
        if (!c->rq_head)
            c->rq_tail = 0;
    }
    return t;
}

/* Work was queued on this CPU: an idle CPU switches at once; a busy one
 * starts a time slice if none is running. */
static void kick_local(void)
{
    struct cpu *c = this_cpu();
    if (c->current == c->idle) {
        c->need_resched = 1;
    } else if (c->rq_head && !c->slice_deadline) {
        c->slice_deadline = arch_clock_ns() + sched_slice_ns;
        timer_rearm();
    }
}

void sched_ipi(void) { kick_local(); }

void sched_slice_expired(void)
{
    struct cpu *c = this_cpu();
    c->slice_deadline = 0;
    c->need_resched = 1;
}

/* --- CPU time --- */
/* The thread's own CPU writes; a reader elsewhere retries while the count is
 * odd or moved (sched_thread_ticks). The writer's fences only order stores
 * after stores (a seqlock's smp_wmb: nothing on x86, dmb ishst-like on arm64):
 * this runs twice per system call. */
static void acct_charge(struct thread *t, uint64_t now, uint64_t stamp, int user)
{
    __atomic_store_n(&t->acct_seq, t->acct_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (t->acct_stamp && now > t->acct_stamp) {
        if (t->acct_user)
            t->utime_ticks += now - t->acct_stamp;
        else
            t->stime_ticks += now - t->acct_stamp;
    }
    t->acct_stamp = stamp;
    t->acct_user = user;
    __atomic_store_n(&t->acct_seq, t->acct_seq + 1, __ATOMIC_RELEASE);
}

void sched_account(int user)
{
    struct thread *t = current_thread();
    if (t->acct_user != user) {
        uint64_t now = arch_counter();
        acct_charge(t, now, now, user);
    }
}

void sched_thread_ticks(struct thread *t, uint64_t *user, uint64_t *sys)
{
    for (;;) {
        unsigned seq = __atomic_load_n(&t->acct_seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            arch_cpu_relax();
            continue;
        }
        uint64_t u = t->utime_ticks, s = t->stime_ticks, stamp = t->acct_stamp;
        int side = t->acct_user;
        uint64_t now = arch_counter();
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&t->acct_seq, __ATOMIC_ACQUIRE) != seq)
            continue;
        if (stamp && now > stamp)
            *(side ? &u : &s) += now - stamp;
        *user = u;
        *sys = s;
        return;
    }
}

static void finish_switch(void)
{
    struct cpu *c = this_cpu();
    struct thread *prev = c->switch_from;
    __atomic_store_n(&prev->on_cpu, 0, __ATOMIC_RELEASE);
    spin_unlock(&c->lock);
    if (prev->state == THREAD_DEAD)
        thread_free(prev);
}

static struct thread *idle_thread(struct cpu *c);

/* First code a new thread runs (from the arch's thread trampoline). */
void sched_thread_entry(void) { finish_switch(); }

void schedule(void)
{
    struct cpu *c = this_cpu();
    int depth = kernel_lock_drop();
    spin_lock(&c->lock);
    c->need_resched = 0;
    struct thread *prev = c->current, *next;
    if (prev->state == THREAD_RUNNING && prev != c->idle) {
        prev->state = THREAD_RUNNABLE;
        rq_push(c, prev);
    }
    next = rq_pop(c);
    if (!next && !c->idle)
        c->idle = idle_thread(c); /* the boot CPU's, on its first idle moment: boot does not pay for it */
    if (!next)
        next = c->idle;
    uint64_t slice = c->rq_head ? arch_clock_ns() + sched_slice_ns : 0;
    if (slice != c->slice_deadline) {
        c->slice_deadline = slice;
        timer_rearm();
    }
    next->state = THREAD_RUNNING;
    if (next == prev) {
        spin_unlock(&c->lock);
        kernel_lock_retake(depth);
        return;
    }
    next->on_cpu = 1;
    if (prev->state == THREAD_RUNNABLE) /* preempted or yielding: it could have gone on */
        prev->nivcsw++;
    else if (prev != c->idle)
        prev->nvcsw++;
    uint64_t now = arch_counter(); /* CPU time: prev stops running, next starts */
    acct_charge(prev, now, 0, prev->acct_user);
    acct_charge(next, now, now, next->acct_user);
    c->current = next;
    c->switch_from = prev;
    c->switches++;
    c->arch_kernel_sp = next->kstack_top;
    if (next->as_root)
        arch_as_switch(next->as_root);
    arch_switch(prev, next);
    finish_switch();
    kernel_lock_retake(depth);
}

void sched_preempt(void)
{
    if (this_cpu()->need_resched)
        schedule();
}

void sched_wake(struct thread *t)
{
    struct cpu *c = t->cpu;
    unsigned long f = spin_lock_irqsave(&c->lock);
    if (t->state != THREAD_BLOCKED) {
        spin_unlock_irqrestore(&c->lock, f);
        return;
    }
    t->state = THREAD_RUNNABLE;
    rq_push(c, t);
    spin_unlock(&c->lock);
    if (c == this_cpu())
        kick_local();
    else
        arch_send_ipi(c);
    if (f)
        arch_irq_enable();
}

void sched_timeout_wake(struct timer *tm, void *arg)
{
    struct thread *t = arg;
    t->timed_out = 1;
    sched_wake(t);
}

static int sleep_till(uint64_t deadline, int intr)
{
    struct thread *t = current_thread();
    t->timed_out = 0;
    timer_add(&t->timer, deadline, sched_timeout_wake, t);
    while (!t->timed_out) {
        if (intr && sched_block_intr(t)) {
            timer_cancel(&t->timer);
            return -4; /* EINTR */
        }
        if (!intr)
            t->state = THREAD_BLOCKED;
        schedule(); /* woken early by someone else: sleep on */
    }
    return 0;
}

void sched_sleep_until(uint64_t deadline) { sleep_till(deadline, 0); }
int sched_sleep_until_intr(uint64_t deadline) { return sleep_till(deadline, 1); }

int sched_block_intr(struct thread *t)
{
    if (__atomic_load_n(&t->sig_wakeup, __ATOMIC_SEQ_CST))
        return 1;
    __atomic_store_n(&t->state, THREAD_BLOCKED, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&t->sig_wakeup, __ATOMIC_SEQ_CST))
        sched_wake(t); /* a signal came in between: do not sleep through it */
    return 0;
}

/* --- threads --- */
struct thread *thread_create_user(uintptr_t sp, uintptr_t tls, int set_tls)
{
    struct thread *t = thread_alloc();
    if (!t)
        return 0;
    t->tid = __atomic_fetch_add(&next_tid, 1, __ATOMIC_RELAXED);
    t->user = 1;
    t->as_root = current_thread()->as_root; /* a thread of the same process (fork gives its child another) */
    arch_thread_init_user(t, sp, tls, set_tls);
    return t;
}

static struct cpu *least_loaded(void)
{
    struct cpu *best = cpus[0];
    for (unsigned i = 1; i < cpus_online; i++)
        if (cpus[i]->load < best->load)
            best = cpus[i];
    return best;
}

void thread_start(struct thread *t)
{
    struct cpu *c = least_loaded();
    t->cpu = c;
    __atomic_fetch_add(&c->load, 1, __ATOMIC_RELAXED);
    sched_wake(t); /* BLOCKED -> queued there */
}

void thread_exit(void)
{
    arch_irq_disable();
    struct thread *t = current_thread();
    __atomic_fetch_sub(&t->cpu->load, 1, __ATOMIC_RELAXED);
    t->state = THREAD_DEAD;
    schedule();
    panic("a dead thread ran again");
}

/* --- idle and SMP start-up --- */
static void idle_loop(void *unused)
{
    struct cpu *c = this_cpu();
    for (;;) {
        arch_irq_disable();
        if (c->rq_head || c->need_resched)
            schedule();
        else
            arch_idle(); /* until an interrupt: a timer, a device or an IPI */
    }
}

uint64_t kernel_as;

static struct thread *idle_thread(struct cpu *c)
{
    struct thread *t = thread_alloc();
    if (!t)
        panic("out of memory for CPU %u's idle thread", c->id);
    t->cpu = c;
    t->as_root = kernel_as;
    t->state = THREAD_RUNNING;
    arch_thread_init_kernel(t, idle_loop, 0);
    return t;
}

void sched_early_init(uint32_t boot_hwid)
{
    struct cpu *c = cpus[0];
    c->self = c;
    c->hwid = boot_hwid;
    c->online = 1;
    cpus_online = 1;
    arch_set_this_cpu(c);
}

void sched_init(void)
{
    struct cpu *c = cpus[0];
    struct thread *t = kzalloc(sizeof *t);
    if (!t)
        panic("out of memory for the first thread");
    t->tid = 1;
    t->kstack_slot = -1;
    kernel_as = t->as_root = arch_as_current();
    t->kstack_top = (uintptr_t)boot_stack_top;
    t->state = THREAD_RUNNING;
    t->on_cpu = 1;
    t->cpu = c;
    c->load = 1;
    c->current = t;
    c->arch_kernel_sp = t->kstack_top;
}

void smp_secondary_main(struct cpu *c)
{
    timer_rearm();
    __atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
    idle_loop(0);
    for (;;)
        ;
}

void smp_boot(const struct boot_info *bi)
{
    unsigned n = bi->cpus < MAX_CPUS ? bi->cpus : MAX_CPUS;
    if (bi->cpus > MAX_CPUS)
        pr_info("smp: %u CPUs reported, using the first %u\n", bi->cpus, MAX_CPUS);
    if (n > 1)
        (void)arch_clock_ns(); /* calibrate the clock once, on the boot CPU (one CPU: only if asked) */
    for (unsigned i = 1; i < n; i++) {
        struct cpu *c = kzalloc(sizeof *c);
        if (!c) {
            pr_info("smp: out of memory for CPU %u; going on with %u\n", i, i);
            break;
        }
        cpus[i] = c;
        c->self = c;
        c->id = i;
        c->hwid = bi->cpu_ids[i];
        c->idle = c->current = idle_thread(c);
        c->idle->on_cpu = 1;
        c->arch_kernel_sp = c->idle->kstack_top;
        if (arch_cpu_start(c, c->idle->kstack_top) != 0) {
            pr_info("smp: CPU %u (id %#x) did not come up; going on with %u\n", i, c->hwid, i);
            break;
        }
        cpus_online = i + 1;
    }
    if (n > 1)
        pr_info("smp: %u of %u CPUs online\n", cpus_online, n);
}
