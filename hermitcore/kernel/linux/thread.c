/* Threads for the Linux layer: clone (the flags pthread_create uses),
 * thread exit vs exit_group, futexes, tids, CPU affinity and yield.
 *
 * Futexes are keyed by (address space, user address), PRIVATE or not, as
 * Linux keys private memory; a shared futex (no FUTEX_PRIVATE_FLAG) in a
 * shared mapping -- anonymous MAP_SHARED, a file's shared pages -- by the
 * physical address of its word instead, the same in every process mapping
 * the page (Linux: the shmem inode and offset), so a forked child's wake
 * reaches its parent. They are kept in 256 hash buckets, each with its lock
 * (taken before the run-queue locks; two buckets in address order). None of
 * these system calls take the big lock but to look a shared futex's mapping
 * up: program memory is read with a fault fix-up instead (user_access). */
#include "linux.h"
#include <hermit/heap.h>
#include <hermit/sched.h>
#include <hermit/time.h>


#define CLONE_VM 0x100
#define CLONE_SIGHAND 0x800
#define CLONE_THREAD 0x10000
#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_CHILD_SETTID 0x1000000

/* --- the process's threads --- */
#define MAX_THREADS 1024
static spinlock_t threads_lock = SPINLOCK_INIT;
static struct thread *live[MAX_THREADS];
static unsigned nlive;
unsigned linux_thread_count(void) { return nlive; } /* /proc/self/status */

void linux_threads_init(void)
{
    linux_process_init(); /* the first thread is pid 1's */
    live[0] = current_thread();
    live[0]->user = 1; /* it is about to enter the program: keep its FP and TLS state */
    live[0]->acct_stamp = arch_counter(); /* its CPU time from here, the program's */
    live[0]->acct_user = 1;
    nlive = 1;
}

static int thread_add(struct thread *t)
{
    t->acct_user = 1; /* (not running yet) its CPU time will be the program's, where it starts */
    spin_lock(&threads_lock);
    int ok = nlive < MAX_THREADS;
    if (ok)
        live[nlive++] = t;
    spin_unlock(&threads_lock);
    return ok;
}

/* Remove it; returns how many threads are left. */
static unsigned thread_remove(struct thread *t)
{
    spin_lock(&threads_lock);
    for (unsigned i = 0; i < nlive; i++) {
        if (live[i] == t) {
            live[i] = live[--nlive];
            uint64_t u, s; /* its CPU time goes to the process's as it leaves the list (process_times) */
            sched_thread_ticks(t, &u, &s);
            t->proc->utime_ticks += u;
            t->proc->stime_ticks += s;
            struct rucount c;
            thread_counts(t, &c);
            rucount_add(&t->proc->ru, &c);
            break;
        }
    }
    unsigned left = nlive;
    spin_unlock(&threads_lock);
    return left;
}

static int tid_alive(long tid)
{
    spin_lock(&threads_lock);
    int found = linux_thread_find(tid) != 0;
    spin_unlock(&threads_lock);
    return found;
}

void linux_threads_lock(void) { spin_lock(&threads_lock); }
void linux_threads_unlock(void) { spin_unlock(&threads_lock); }
struct thread *linux_thread_at(unsigned i) { return i < nlive ? live[i] : 0; }

struct thread *linux_thread_find(long tid)
{
    for (unsigned i = 0; i < nlive; i++)
        if (live[i]->tid == tid)
            return live[i];
    return 0;
}

/* Program memory without the big lock: a bad address faults, and the fault
 * handler sends us back here (struct thread.uaccess_fixup) with -EFAULT. */
static int user_access(uintptr_t p, uint64_t *v, int size, int write)
{
    if (p >= USER_LIMIT - 8 || (p & (uintptr_t)(size - 1)))
        return -EFAULT;
    struct thread *t = current_thread();
    uint64_t jb[14];
    if (arch_setjmp(jb)) {
        t->uaccess_fixup = 0;
        return -EFAULT;
    }
    t->uaccess_fixup = jb;
    if (write && size == 4)
        *(volatile uint32_t *)p = (uint32_t)*v;
    else if (size == 4)
        *v = *(volatile uint32_t *)p;
    else
        *v = *(volatile uint64_t *)p;
    t->uaccess_fixup = 0;
    return 0;
}

static int put_u32(uintptr_t p, uint32_t v)
{
    uint64_t w = v;
    return user_access(p, &w, 4, 1);
}

static int get_word(uintptr_t p, size_t size, uint64_t *v) { return user_access(p, v, (int)size, 0); }

/* --- futexes --- */
struct waiter {
    struct thread *t;
    struct mm *mm; /* the key: (address space, address), or (NULL, physical address) */
    uintptr_t addr;
    uint32_t bitset;
    volatile int woken;
    struct waiter *next;
};

#define BUCKETS 256
static struct bucket {
    spinlock_t lock;
    struct waiter *head;
} buckets[BUCKETS];

static struct bucket *bucket(uintptr_t addr) { return &buckets[((addr >> 2) * 2654435761u >> 8) % BUCKETS]; }

static void unlink_waiter(struct bucket *b, struct waiter *w)
{
    for (struct waiter **p = &b->head; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            return;
        }
    }
}


/* uaddr's key (see the top): 0 or -EFAULT. A shared futex's page is
 * faulted in to learn it (Linux's get_futex_key). */
static long futex_key(uintptr_t uaddr, int shared, struct mm **mm, uintptr_t *addr)
{
    *mm = current_process()->mm;
    *addr = uaddr;
    for (int tries = 0; shared && tries < 3; tries++) {
        uint64_t key, cur;
        int rc = vm_futex_key(uaddr, &key);
        if (rc == 0)
            return 0;
        if (rc == 1) {
            *mm = 0;
            *addr = (uintptr_t)key;
            return 0;
        }
        if (get_word(uaddr, 4, &cur))
            break;
    }
    return shared ? -EFAULT : 0;
}

/* deadline: clock_ns() value, 0 for none. */
static long futex_wait(uintptr_t uaddr, int shared, uint32_t val, uint64_t deadline, uint32_t bitset)
{
    uint64_t cur;
    struct thread *t = current_thread();
    struct waiter w = {t, 0, 0, bitset, 0, 0};
    if (get_word(uaddr, 4, &cur)) /* fault it in before taking the bucket lock */
        return -EFAULT;
    if (futex_key(uaddr, shared, &w.mm, &w.addr))
        return -EFAULT;
    struct bucket *b = bucket(w.addr);
    spin_lock(&b->lock);
    if (get_word(uaddr, 4, &cur)) { /* again under the lock: a wake after our check cannot be lost */
        spin_unlock(&b->lock);
        return -EFAULT;
    }
    if ((uint32_t)cur != val) {
        spin_unlock(&b->lock);
        return -EAGAIN;
    }
    w.next = b->head;
    b->head = &w;
    t->timed_out = 0;
    sched_block_intr(t); /* (a signal already pending: it stays runnable and leaves below) */
    spin_unlock(&b->lock);
    if (deadline)
        timer_add(&t->timer, deadline, sched_timeout_wake, t);
    schedule();
    if (deadline)
        timer_cancel(&t->timer);
    int woken;
    for (;;) { /* a requeue may have moved us to another bucket meanwhile */
        b = bucket(__atomic_load_n(&w.addr, __ATOMIC_ACQUIRE));
        spin_lock(&b->lock);
        if (b == bucket(w.addr))
            break;
        spin_unlock(&b->lock);
    }
    woken = w.woken;
    if (!woken)
        unlink_waiter(b, &w);
    spin_unlock(&b->lock);
    if (woken)
        return 0;
    if (t->timed_out)
        return -ETIMEDOUT;
    return deadline || !t->sig_wakeup ? -EINTR : -ERESTARTSYS;
}

/* Wake up to n waiters on uaddr (matching bitset); then move up to
 * requeue of the rest to uaddr2. Returns the number woken (+ moved). */
static long futex_wake_requeue(uintptr_t uaddr, int shared, long n, uint32_t bitset, uintptr_t uaddr2, long requeue)
{
    long done = 0, moved = 0;
    struct mm *mm, *mm2 = 0;
    uintptr_t key, key2 = 0;
    if (futex_key(uaddr, shared, &mm, &key) || (requeue && futex_key(uaddr2, shared, &mm2, &key2)))
        return -EFAULT;
    struct bucket *b = bucket(key), *b2 = requeue ? bucket(key2) : b;
    /* two buckets: locked in address order */
    spin_lock(b < b2 ? b : b2);
    if (b2 != b)
        spin_lock(b < b2 ? b2 : b);
    struct waiter **p = &b->head;
    while (*p) {
        struct waiter *w = *p;
        if (w->addr != key || w->mm != mm || !(w->bitset & bitset)) {
            p = &w->next;
            continue;
        }
        if (done < n) {
            *p = w->next;
            struct thread *t = w->t;
            w->woken = 1; /* w lives on the waiter's stack: not touched after the wake */
            sched_wake(t);
            done++;
        } else if (moved < requeue) {
            *p = w->next;
            w->mm = mm2;
            __atomic_store_n(&w->addr, key2, __ATOMIC_RELEASE);
            w->next = b2->head;
            b2->head = w;
            moved++;
        } else {
            break;
        }
    }
    if (b2 != b)
        spin_unlock(b < b2 ? b2 : b);
    spin_unlock(b < b2 ? b : b2);
    return done + moved;
}

/* The kernel's own wakes (clear_child_tid, robust lists) are shared ones, as Linux's. */
static long futex_wake(uintptr_t uaddr, long n) { return futex_wake_requeue(uaddr, 1, n, ~0u, 0, 0); }

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_CMD_MASK 0x7f

long sys_futex(long uaddr, long op, long val, long utimeout, long uaddr2, long val3)
{
    int cmd = (int)(op & FUTEX_CMD_MASK), shared = !(op & FUTEX_PRIVATE_FLAG);
    if (uaddr & 3)
        return -EINVAL;
    switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
        uint32_t bitset = cmd == FUTEX_WAIT ? ~0u : (uint32_t)val3;
        if (!bitset)
            return -EINVAL;
        uint64_t deadline = 0;
        if (utimeout) {
            uint64_t sec, nsec;
            if (get_word((uintptr_t)utimeout, 8, &sec) || get_word((uintptr_t)utimeout + 8, 8, &nsec))
                return -EFAULT;
            if ((int64_t)sec < 0 || nsec >= NSEC_PER_SEC)
                return -EINVAL;
            uint64_t ns = sec * NSEC_PER_SEC + nsec, now = clock_ns();
            if (cmd == FUTEX_WAIT) { /* relative */
                deadline = now + ns;
            } else { /* absolute, on CLOCK_MONOTONIC or CLOCK_REALTIME; the clock is read once */
                uint64_t offset = (op & FUTEX_CLOCK_REALTIME) ? realtime_offset_ns() : 0;
                if (ns <= offset + now)
                    return -ETIMEDOUT;
                deadline = ns - offset;
            }
            if (!deadline)
                deadline = 1;
        }
        return futex_wait((uintptr_t)uaddr, shared, (uint32_t)val, deadline, bitset);
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
        uint32_t bitset = cmd == FUTEX_WAKE ? ~0u : (uint32_t)val3;
        if (!bitset)
            return -EINVAL;
        return futex_wake_requeue((uintptr_t)uaddr, shared, val, bitset, 0, 0);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
        if (uaddr2 & 3)
            return -EINVAL;
        if (cmd == FUTEX_CMP_REQUEUE) {
            uint64_t cur;
            if (get_word((uintptr_t)uaddr, 4, &cur))
                return -EFAULT;
            if ((uint32_t)cur != (uint32_t)val3)
                return -EAGAIN;
        }
        return futex_wake_requeue((uintptr_t)uaddr, shared, val, ~0u, (uintptr_t)uaddr2, utimeout /* nr_requeue */);
    }
    }
    return -ENOSYS;
}

/* --- thread life --- */
long sys_clone(long flags, long sp, long uptid, long a3, long a4)
{
    long uctid = arch_clone_tls_arg == 3 ? a4 : a3, tls = arch_clone_tls_arg == 3 ? a3 : a4;
    const long thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    if (!(flags & CLONE_THREAD)) { /* a process: fork, vfork, posix_spawn */
        kernel_lock();
        long rc = process_clone((unsigned long)flags, (uintptr_t)sp, (uintptr_t)uptid, (uintptr_t)uctid,
                                (uintptr_t)tls);
        kernel_unlock();
        return rc;
    }
    if ((flags & thread) != thread)
        return -EINVAL;
    struct thread *t = thread_create_user((uintptr_t)sp, (uintptr_t)tls, (flags & CLONE_SETTLS) != 0);
    if (!t)
        return -ENOMEM;
    t->proc = current_process();
    signal_thread_start(t);
    if (!thread_add(t)) {
        t->state = THREAD_DEAD;
        return -EAGAIN; /* (its stack slot is not reclaimed: a program at 1024 threads is rare) */
    }
    if ((flags & CLONE_PARENT_SETTID) && put_u32((uintptr_t)uptid, (uint32_t)t->tid))
        return -EFAULT;
    if ((flags & CLONE_CHILD_SETTID) && put_u32((uintptr_t)uctid, (uint32_t)t->tid))
        return -EFAULT;
    if (flags & CLONE_CHILD_CLEARTID)
        t->clear_child_tid = (uintptr_t)uctid;
    long tid = t->tid;
    __atomic_fetch_add(&t->proc->threads, 1, __ATOMIC_RELAXED);
    thread_start(t);
    return tid;
}

#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u
#define FUTEX_TID_MASK 0x3fffffffu

static void robust_release(uintptr_t uaddr, int tid)
{
    uint64_t v;
    if (get_word(uaddr, 4, &v) || (v & FUTEX_TID_MASK) != (uint32_t)tid)
        return;
    put_u32(uaddr, ((uint32_t)v & FUTEX_WAITERS) | FUTEX_OWNER_DIED);
    if (v & FUTEX_WAITERS)
        futex_wake(uaddr, 1);
}

/* The robust-futex list: locks the thread still holds are marked
 * OWNER_DIED and one waiter woken, as Linux does. */
static void robust_list_exit(struct thread *t)
{
    uint64_t head = t->robust_list, entry, offset, pending;
    if (!head || get_word(head, 8, &entry) || get_word(head + 8, 8, &offset) || get_word(head + 16, 8, &pending))
        return;
    for (int n = 0; entry != head && n < 2048; n++) {
        if (entry != pending)
            robust_release(entry + offset, t->tid);
        if (get_word(entry, 8, &entry))
            break;
    }
    if (pending)
        robust_release(pending + offset, t->tid);
}

/* A thread ends: what it leaves behind for others (robust futexes, its
 * tid word for pthread_join), then off the thread list. */
void linux_thread_cleanup(struct thread *t)
{
    robust_list_exit(t);
    if (t->clear_child_tid && put_u32(t->clear_child_tid, 0) == 0)
        futex_wake(t->clear_child_tid, 1); /* pthread_join's wait */
    thread_remove(t);
    signal_thread_exit(t);
}

int linux_thread_add(struct thread *t) { return thread_add(t); }

long sys_exit(long status) { thread_leave(((int)status & 0xff) << 8); }

long sys_gettid(void) { return current_thread()->tid; }

long sys_set_tid_address(long tidptr)
{
    struct thread *t = current_thread();
    t->clear_child_tid = (uintptr_t)tidptr;
    return t->tid;
}

long sys_set_robust_list(long head, long len)
{
    if (len != 24)
        return -EINVAL;
    current_thread()->robust_list = (uintptr_t)head;
    return 0;
}

long sys_sched_yield(void)
{
    if (this_cpu()->rq_head)
        schedule();
    return 0;
}

long sys_sched_getaffinity(long pid, long size, long umask)
{
    if (size < 8 || (size & 7))
        return -EINVAL;
    if (pid && !tid_alive(pid))
        return -ESRCH;
    uint64_t mask = cpus_online >= 64 ? ~0ull : (1ull << cpus_online) - 1;
    kernel_lock();
    int ok = user_ok((uintptr_t)umask, (size_t)size, PROT_WRITE);
    if (ok) {
        memset((void *)umask, 0, (size_t)size);
        *(uint64_t *)umask = mask; /* every online CPU */
    }
    kernel_unlock();
    return ok ? 8 : -EFAULT;
}

/* Placement is the kernel's (one thread per core while there are enough). */
long sys_sched_setaffinity(long pid, long size, long umask) { return pid && !tid_alive(pid) ? -ESRCH : 0; }

long sys_getcpu(long ucpu, long unode, long cache)
{
    if (ucpu && put_u32((uintptr_t)ucpu, this_cpu()->id))
        return -EFAULT;
    if (unode && put_u32((uintptr_t)unode, 0))
        return -EFAULT;
    return 0;
}

