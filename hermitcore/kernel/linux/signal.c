/* Signals, with Linux's semantics for a process of many threads:
 * dispositions are the process's, masks, alternate stacks and a pending
 * set are each thread's, and a pending set is the process's (kill goes
 * there; any thread that does not block the signal takes it). A thread
 * takes its signals on every return to the program (user_return: system
 * calls, interrupts, faults): a handler gets Linux's frame on its stack
 * (the architecture's arch_signal_frame), a default action ends the
 * program with 128 + the signal. A sender marks the thread (sig_wakeup),
 * wakes it if it sleeps interruptibly (the blocking call then returns
 * -ERESTARTSYS or -EINTR), or sends its CPU an IPI if it runs elsewhere.
 *
 * One process: pid 1 behaves as an ordinary process (its default actions
 * apply, as under `docker run --init`), not as Linux's unkillable init.
 *
 * Job control: a stop signal (SIGSTOP; SIGTSTP, SIGTTIN, SIGTTOU at their
 * default action, unless the process group is orphaned -- pid 1's is) stops
 * every thread of the process where it returns to the program, until
 * SIGCONT (whatever its disposition) or SIGKILL; a stop signal sent drops a
 * pending SIGCONT and SIGCONT the pending stop signals, as Linux's
 * prepare_signal. The parent hears of both: SIGCHLD with CLD_STOPPED /
 * CLD_CONTINUED (unless SA_NOCLDSTOP), and wait's WUNTRACED / WCONTINUED. */
#include "linux.h"
#include <hermit/heap.h>
#include <hermit/spinlock.h>

#define SIG_DFL 0
#define SIG_IGN 1
#define SA_NOCLDSTOP 0x1ul
#define SA_NOCLDWAIT 0x2ul
#define SA_SIGINFO 0x4ul
#define SA_EXPOSE_TAGBITS 0x800ul
#define SA_RESTORER 0x04000000ul
#define SA_ONSTACK 0x08000000ul
#define SA_RESTART 0x10000000ul
#define SA_NODEFER 0x40000000ul
#define SA_RESETHAND 0x80000000ul
#define SA_KNOWN (SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND | \
                  SA_RESTORER | SA_EXPOSE_TAGBITS)
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define SS_AUTODISARM (1u << 31)

#define CLD_STOPPED 5
#define CLD_CONTINUED 6
#define UNBLOCKABLE (SIG_BIT(SIGKILL) | SIG_BIT(SIGSTOP))
#define SYNCHRONOUS (SIG_BIT(SIGSEGV) | SIG_BIT(SIGBUS) | SIG_BIT(SIGILL) | SIG_BIT(SIGTRAP) | SIG_BIT(SIGFPE) | \
                     SIG_BIT(SIGSYS))
#define DEFAULT_IGNORE (SIG_BIT(SIGCHLD) | SIG_BIT(SIGCONT) | SIG_BIT(SIGURG) | SIG_BIT(SIGWINCH))
#define DEFAULT_STOP (SIG_BIT(SIGSTOP) | SIG_BIT(SIGTSTP) | SIG_BIT(SIGTTIN) | SIG_BIT(SIGTTOU))
#define MAX_QUEUED 4096 /* RLIMIT_SIGPENDING */

struct sigaction_k {
    uint64_t handler, flags, restorer, mask;
};
struct sigqueue {
    struct sigqueue *next;
    union ksiginfo info;
};

/* everything below, every process's dispositions and pending set, every thread's struct thread_signals */
static spinlock_t siglock = SPINLOCK_INIT;
struct sighand {
    int refs; /* processes sharing it (CLONE_SIGHAND) */
    struct sigaction_k action[NSIG_K + 1];
};
static struct sighand first_hand = {1};
static unsigned queued;
#define actions (current_process()->sighand->action)

struct sighand *sighand_first(void) { return &first_hand; }

struct sighand *sighand_fork(struct sighand *h)
{
    struct sighand *n = kmalloc(sizeof *n);
    if (n) {
        unsigned long f = spin_lock_irqsave(&siglock);
        *n = *h;
        spin_unlock_irqrestore(&siglock, f);
        n->refs = 1;
    }
    return n;
}

struct sighand *sighand_share(struct sighand *h)
{
    __atomic_fetch_add(&h->refs, 1, __ATOMIC_RELAXED);
    return h;
}

void sighand_put(struct sighand *h)
{
    if (h && __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0 && h != &first_hand)
        kfree(h);
}

static int valid(long sig) { return sig >= 1 && sig <= NSIG_K; }

/* Ignored as it stands: such a signal is dropped when sent (unless blocked).
 * (A stop signal at its default action is not: it stops the process.) */
static int ignored_by(struct process *p, int sig)
{
    uint64_t h = p->sighand->action[sig].handler;
    return sig != SIGKILL && (h == SIG_IGN || (h == SIG_DFL && (SIG_BIT(sig) & DEFAULT_IGNORE)));
}

static uint64_t deliverable(struct thread *t) { return (t->sig.pending | t->proc->shared_pending) & ~t->sig.blocked; }

static void recalc(struct thread *t) /* siglock held; a stopped process's threads come to a stop */
{
    __atomic_store_n(&t->sig_wakeup, deliverable(t) != 0 || t->proc->stop_sig, __ATOMIC_SEQ_CST);
}

/* Make t notice: wake it from an interruptible sleep, or interrupt the
 * CPU it runs on. siglock held. */
static void kick(struct thread *t)
{
    __atomic_store_n(&t->sig_wakeup, 1, __ATOMIC_SEQ_CST);
    if (t == current_thread())
        return;
    int state = __atomic_load_n(&t->state, __ATOMIC_SEQ_CST);
    if (state == THREAD_BLOCKED)
        sched_wake(t);
    else if (state == THREAD_RUNNING && t->cpu != this_cpu())
        arch_send_ipi(t->cpu);
}

/* Queue sig on (pending, queue). siglock held. */
static long enqueue(uint64_t *pending, struct sigqueue **queue, int sig, const union ksiginfo *info)
{
    if (sig < SIGRTMIN && (*pending & SIG_BIT(sig))) {
        if (info && info->code == SI_TIMER) {
            union ksiginfo gone = *info;
            sigtimer_taken(&gone); /* (its timer may send again) */
        }
        return 0; /* a standard signal is pending once */
    }
    struct sigqueue *q = queued < MAX_QUEUED ? kmalloc(sizeof *q) : 0;
    if (!q && sig >= SIGRTMIN && info && info->code != SI_USER)
        return -EAGAIN;
    if (q) {
        if (info)
            q->info = *info;
        else
            memset(&q->info, 0, sizeof q->info), q->info.code = SI_KERNEL;
        q->info.signo = sig;
        q->next = 0;
        struct sigqueue **p = queue;
        while (*p)
            p = &(*p)->next;
        *p = q;
        queued++;
    }
    *pending |= SIG_BIT(sig);
    return 0;
}

/* Take sig's first siginfo off (pending, queue) into info. siglock held. */
static void take(uint64_t *pending, struct sigqueue **queue, int sig, union ksiginfo *info)
{
    struct sigqueue **p = queue, *found = 0;
    int more = 0;
    while (*p) {
        if ((*p)->info.signo == sig) {
            if (found) {
                more = 1;
                break;
            }
            found = *p;
            *p = found->next;
            continue;
        }
        p = &(*p)->next;
    }
    if (!more)
        *pending &= ~SIG_BIT(sig);
    if (found) {
        *info = found->info;
        kfree(found);
        queued--;
        if (info->code == SI_TIMER)
            sigtimer_taken(info); /* the timer may queue its next one; overruns meanwhile go in this one */
    } else { /* a standard signal whose siginfo could not be allocated */
        memset(info, 0, sizeof *info);
        info->signo = sig;
        info->code = SI_KERNEL;
    }
}

static void flush(uint64_t *pending, struct sigqueue **queue, uint64_t set)
{
    for (struct sigqueue **p = queue; *p;) {
        struct sigqueue *q = *p;
        if (SIG_BIT(q->info.signo) & set) {
            *p = q->next;
            if (q->info.code == SI_TIMER)
                sigtimer_taken(&q->info);
            kfree(q);
            queued--;
        } else {
            p = &q->next;
        }
    }
    *pending &= ~set;
}

/* Linux's prepare_signal for job control, as sig is sent to p (siglock
 * held; with all_threads, the thread list's lock too): a stop signal drops
 * a pending SIGCONT, SIGCONT the pending stop signals and continues a
 * stopped p (1: its parent is to hear of it). */
static int prepare(struct process *p, struct thread *only, int sig)
{
    uint64_t drop = SIG_BIT(sig) & DEFAULT_STOP ? SIG_BIT(SIGCONT) : sig == SIGCONT ? DEFAULT_STOP : 0;
    if (!drop)
        return 0;
    flush(&p->shared_pending, &p->shared_queue, drop);
    for (unsigned i = 0; !only && linux_thread_at(i); i++)
        if (linux_thread_at(i)->proc == p)
            flush(&linux_thread_at(i)->sig.pending, &linux_thread_at(i)->sig.queue, drop);
    if (only)
        flush(&only->sig.pending, &only->sig.queue, drop);
    if (sig == SIGCONT && p->stop_sig) {
        p->stop_sig = 0;
        p->stop_report = 2;
        return 1;
    }
    return 0;
}

/* SIGCHLD for the parent: p stopped (CLD_STOPPED, the stop signal) or
 * continued (CLD_CONTINUED, SIGCONT) -- unless it set SA_NOCLDSTOP. */
static void notify_parent(struct process *p, int code, int status)
{
    struct process *parent = p->parent;
    if (parent && parent->sighand && !(parent->sighand->action[SIGCHLD].flags & SA_NOCLDSTOP)) {
        union ksiginfo info = {0};
        info.code = code;
        info.chld.pid = p->pid;
        info.chld.status = status;
        signal_to(parent, SIGCHLD, &info);
    }
    io_notify(); /* a parent in wait */
}

/* The first of `set` pending for t: synchronous ones (faults) first, then
 * by number; the thread's own before the process's. siglock held. */
static int dequeue_locked(struct thread *t, uint64_t set, union ksiginfo *info)
{
    struct process *p = t->proc;
    uint64_t own = t->sig.pending & set, shared = p->shared_pending & set;
    uint64_t pick = own ? own : shared;
    if (!pick)
        return 0;
    if (pick & SYNCHRONOUS)
        pick &= SYNCHRONOUS;
    int sig = __builtin_ctzll(pick) + 1;
    if (own)
        take(&t->sig.pending, &t->sig.queue, sig, info);
    else
        take(&p->shared_pending, &p->shared_queue, sig, info);
    return sig;
}

int signal_dequeue(uint64_t set, union ksiginfo *info)
{
    struct thread *t = current_thread();
    unsigned long f = spin_lock_irqsave(&siglock);
    int sig = dequeue_locked(t, set, info);
    recalc(t);
    spin_unlock_irqrestore(&siglock, f);
    return sig;
}

uint64_t signal_pending_set(void)
{
    struct thread *t = current_thread();
    return __atomic_load_n(&t->sig.pending, __ATOMIC_RELAXED) |
           __atomic_load_n(&t->proc->shared_pending, __ATOMIC_RELAXED);
}

static int wants(struct thread *t, int sig) { return !(t->sig.blocked & SIG_BIT(sig)) && t->state != THREAD_DEAD; }

long signal_to(struct process *p, int sig, const union ksiginfo *info)
{
    long rc = 0;
    if (p->zombie || !p->sighand)
        return 0;
    linux_threads_lock();
    unsigned long f = spin_lock_irqsave(&siglock);
    int continued = prepare(p, 0, sig);
    if (continued) /* its threads go on: what they wait on is their sig_wakeup */
        for (unsigned i = 0; linux_thread_at(i); i++)
            if (linux_thread_at(i)->proc == p)
                recalc(linux_thread_at(i));
    if (!ignored_by(p, sig)) {
        rc = enqueue(&p->shared_pending, &p->shared_queue, sig, info);
        if (rc == 0) {
            /* who takes it: the caller if it can, else the first thread that does not block it */
            struct thread *me = current_thread(), *t = 0;
            if (me && me->user && me->proc == p && wants(me, sig))
                t = me;
            for (unsigned i = 0; !t && linux_thread_at(i); i++)
                if (linux_thread_at(i)->proc == p && wants(linux_thread_at(i), sig))
                    t = linux_thread_at(i);
            if (t)
                kick(t);
        }
    } else {
        /* an ignored signal is dropped, unless some thread blocks it (it stays pending until unblocked) */
        int kept = 0;
        for (unsigned i = 0; linux_thread_at(i) && !kept; i++)
            if (linux_thread_at(i)->proc == p && (linux_thread_at(i)->sig.blocked & SIG_BIT(sig))) {
                rc = enqueue(&p->shared_pending, &p->shared_queue, sig, info);
                kept = 1;
            }
        if (!kept && info && info->code == SI_TIMER) {
            union ksiginfo gone = *info;
            sigtimer_taken(&gone);
        }
    }
    spin_unlock_irqrestore(&siglock, f);
    linux_threads_unlock();
    io_notify(); /* signalfd readers and pollers; stopped threads */
    if (continued)
        notify_parent(p, CLD_CONTINUED, SIGCONT);
    return rc;
}

long signal_process(int sig, const union ksiginfo *info) { return signal_to(current_process(), sig, info); }

long signal_thread(struct thread *t, int sig, const union ksiginfo *info)
{
    long rc = 0;
    unsigned long f = spin_lock_irqsave(&siglock);
    int continued = prepare(t->proc, t, sig);
    if (continued)
        recalc(t); /* (its other threads: at io_notify, see stop_wait) */
    if (!ignored_by(t->proc, sig) || (t->sig.blocked & SIG_BIT(sig))) {
        rc = enqueue(&t->sig.pending, &t->sig.queue, sig, info);
        if (rc == 0 && !(t->sig.blocked & SIG_BIT(sig)))
            kick(t);
    } else if (info && info->code == SI_TIMER) {
        union ksiginfo gone = *info;
        sigtimer_taken(&gone);
    }
    spin_unlock_irqrestore(&siglock, f);
    io_notify(); /* signalfd readers and pollers; stopped threads */
    if (continued)
        notify_parent(t->proc, CLD_CONTINUED, SIGCONT);
    return rc;
}

long signal_self(long sig)
{
    union ksiginfo info = {0};
    info.code = SI_KERNEL;
    return signal_thread(current_thread(), (int)sig, &info);
}

void signal_thread_start(struct thread *child)
{
    struct thread *parent = current_thread();
    child->sig.blocked = parent->sig.blocked; /* the alternate stack is not inherited with CLONE_VM */
    child->sig.ss_flags = SS_DISABLE;
}

void signal_thread_exit(struct thread *t)
{
    unsigned long f = spin_lock_irqsave(&siglock);
    flush(&t->sig.pending, &t->sig.queue, ~0ull);
    t->sig.blocked = ~0ull; /* a process-directed signal goes to another thread */
    t->sig_wakeup = 0;
    /* if it was picked for one of the process's signals, let another thread take it */
    struct process *p = t->proc;
    uint64_t left = p->shared_pending;
    spin_unlock_irqrestore(&siglock, f);
    if (left) {
        linux_threads_lock();
        f = spin_lock_irqsave(&siglock);
        for (unsigned i = 0; linux_thread_at(i); i++) {
            struct thread *o = linux_thread_at(i);
            if (o != t && o->proc == p && (p->shared_pending & ~o->sig.blocked)) {
                kick(o);
                break;
            }
        }
        spin_unlock_irqrestore(&siglock, f);
        linux_threads_unlock();
    }
}

/* --- default actions --- */
static const char *const names[32] = {
    [1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [5] = "SIGTRAP", [6] = "SIGABRT",
    [7] = "SIGBUS", [8] = "SIGFPE", [9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2",
    [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM", [16] = "SIGSTKFLT", [24] = "SIGXCPU", [25] = "SIGXFSZ",
    [26] = "SIGVTALRM", [27] = "SIGPROF", [29] = "SIGIO", [30] = "SIGPWR", [31] = "SIGSYS",
};

static __attribute__((noreturn)) void die(int sig, const union ksiginfo *info)
{
    int core = linux_core_dump(sig, info); /* 0x80 when RLIMIT_CORE allows a core (to the host if the run asked) */
    if (current_process()->pid != 1 || current_process()->exiting)
        process_exit(sig | core); /* a child's end is its parent's to report */
    /* as a shell, say nothing of SIGPIPE: `prog | head` ends programs so */
    printk(sig == SIGPIPE ? "[hermit] %s (signal %d) ends the program: exit status %d\n"
                          : "[hermit] warning: %s (signal %d) ends the program: exit status %d\n",
           sig < 32 && names[sig] ? names[sig] : "a signal", sig, 128 + sig);
    linux_exit(128 + sig);
}

/* Linux's force_sigsegv: a frame that cannot be built or read back */
static const union ksiginfo kernel_segv = {.signo = SIGSEGV, .code = SI_KERNEL};

/* --- delivery --- */
static int on_altstack(struct thread *t, uintptr_t sp)
{
    if (t->sig.ss_flags & SS_AUTODISARM)
        return 0;
    return sp > t->sig.ss_sp && sp - t->sig.ss_sp <= t->sig.ss_size;
}

static int altstack_flags(struct thread *t, uintptr_t sp)
{
    if (!t->sig.ss_size)
        return SS_DISABLE;
    return on_altstack(t, sp) ? SS_ONSTACK : 0;
}

/* Build the handler's frame for sig; 0, or -EFAULT (the program dies of SIGSEGV). */
static int setup_frame(struct thread *t, void *regs, int sig, const struct sigaction_k *act, const union ksiginfo *info,
                       uint64_t oldmask, const struct fault_info *fault)
{
    uintptr_t sp = arch_user_sp(regs);
    struct signal_frame s = {
        .sig = sig, .siginfo = info, .handler = act->handler, .restorer = act->restorer, .flags = act->flags,
        .mask = oldmask, .ss_sp = t->sig.ss_sp, .ss_size = t->sig.ss_size,
        .ss_flags = (int)t->sig.ss_flags, .fault = fault, /* the thread's own flags, as Linux since 4.7 */
    };
    s.top = sp - arch_red_zone;
    if ((act->flags & SA_ONSTACK) && altstack_flags(t, sp) == 0) {
        s.top = t->sig.ss_sp + t->sig.ss_size;
        s.limit = t->sig.ss_sp;
        if (t->sig.ss_flags & SS_AUTODISARM)
            t->sig.ss_sp = t->sig.ss_size = 0, t->sig.ss_flags = SS_DISABLE;
    } else if (on_altstack(t, sp)) {
        s.limit = t->sig.ss_sp; /* a nested handler on the alternate stack must stay on it */
    }
    kernel_lock(); /* the program's memory: against another thread's munmap */
    int rc = arch_signal_frame(regs, &s);
    kernel_unlock();
    return rc;
}

/* The interrupted system call: restart it, or fail it with EINTR (Linux's
 * handle_signal/arch_do_signal_or_restart rules). */
static void syscall_restart(struct thread *t, void *regs, const struct sigaction_k *act)
{
    long rc = t->sys_rc;
    if (t->sys_nr < 0 || (rc != -ERESTARTSYS && rc != -ERESTARTNOINTR && rc != -ERESTARTNOHAND))
        return;
    if (act && (rc == -ERESTARTNOHAND || (rc == -ERESTARTSYS && !(act->flags & SA_RESTART))))
        arch_syscall_set_result(regs, -EINTR);
    else
        arch_syscall_restart(regs, t->sys_nr, t->sys_a0);
}

/* Linux's is_current_pgrp_orphaned: no member has a parent in another
 * group of the same session (pid 1's group never has). Big lock held. */
static int pgrp_orphaned(struct process *me)
{
    for (struct process *q = process_first(); q; q = q->next)
        if (q->pgid == me->pgid && !q->zombie && q->parent && q->parent->pgid != q->pgid &&
            q->parent->sid == q->sid)
            return 0;
    return 1;
}

/* A stopped process's thread waits here until SIGCONT, SIGKILL or the
 * process's end (the signals pending meanwhile are taken afterwards). */
static void stop_wait(struct thread *t)
{
    struct process *p = t->proc;
    for (;;) {
        uint64_t seq = io_seq();
        if (!__atomic_load_n(&p->stop_sig, __ATOMIC_ACQUIRE) || p->exiting || p->exec_thread ||
            (signal_pending_set() & SIG_BIT(SIGKILL)))
            return;
        io_wait(seq, 0);
    }
}

/* sig's default action: the whole process stops (its other threads where
 * they next return to the program), the parent hears of it, and this
 * thread waits for SIGCONT. */
static void group_stop(struct thread *t, int sig)
{
    struct process *p = t->proc;
    kernel_lock();
    if (sig != SIGSTOP && pgrp_orphaned(p)) { /* Linux discards SIGTSTP, SIGTTIN, SIGTTOU so */
        kernel_unlock();
        return;
    }
    int first = 0;
    linux_threads_lock();
    unsigned long f = spin_lock_irqsave(&siglock);
    if (!p->stop_sig && !p->exiting) {
        p->stop_sig = sig;
        p->stop_report = 1;
        first = 1;
        for (unsigned i = 0; linux_thread_at(i); i++)
            if (linux_thread_at(i)->proc == p && linux_thread_at(i) != t)
                kick(linux_thread_at(i));
    }
    spin_unlock_irqrestore(&siglock, f);
    linux_threads_unlock();
    kernel_unlock();
    if (first)
        notify_parent(p, CLD_STOPPED, sig);
    stop_wait(t);
}

/* Run the handler of sig (or its default action); with a fault, the
 * exception's details go into the frame. 1 when a frame was built. */
static int handle(struct thread *t, void *regs, int sig, union ksiginfo *info, const struct fault_info *fault,
                  int *in_syscall)
{
    unsigned long f = spin_lock_irqsave(&siglock);
    struct sigaction_k act = actions[sig];
    if (act.handler == SIG_IGN && sig != SIGKILL) {
        spin_unlock_irqrestore(&siglock, f);
        return 0;
    }
    if (act.handler == SIG_DFL || sig == SIGKILL) {
        spin_unlock_irqrestore(&siglock, f);
        if (SIG_BIT(sig) & DEFAULT_IGNORE)
            return 0;
        if (SIG_BIT(sig) & DEFAULT_STOP) {
            group_stop(t, sig);
            return 0;
        }
        die(sig, info);
    }
    if (act.flags & SA_RESETHAND)
        actions[sig].handler = SIG_DFL;
    uint64_t oldmask = t->sig.restore_saved ? t->sig.saved : t->sig.blocked;
    t->sig.restore_saved = 0;
    spin_unlock_irqrestore(&siglock, f);
    if (*in_syscall) {
        syscall_restart(t, regs, &act);
        *in_syscall = 0;
    }
    if (setup_frame(t, regs, sig, &act, info, oldmask, fault)) {
        printk("[hermit] the handler of %s could not get a signal frame: its stack at %p is not writable\n",
               sig < 32 && names[sig] ? names[sig] : "a signal", (void *)arch_user_sp(regs));
        die(SIGSEGV, &kernel_segv);
    }
    f = spin_lock_irqsave(&siglock);
    t->sig.blocked |= act.mask | (act.flags & SA_NODEFER ? 0 : SIG_BIT(sig));
    t->sig.blocked &= ~UNBLOCKABLE;
    recalc(t);
    spin_unlock_irqrestore(&siglock, f);
    return 1;
}

int linux_user_return(void *regs)
{
    struct thread *t = current_thread();
    struct thread *exec = t->proc->exec_thread;
    if (t->proc->exiting || (exec && exec != t)) /* exit_group, a fatal signal or an execve elsewhere */
        thread_leave(0);
    if (t->proc->stop_sig) /* another thread stopped the process */
        stop_wait(t);
    if (t->proc->exiting || (t->proc->exec_thread && t->proc->exec_thread != t))
        thread_leave(0);
    int built = 0, in_syscall = t->in_syscall;
    for (int n = 0; n < NSIG_K; n++) {
        union ksiginfo info;
        unsigned long f = spin_lock_irqsave(&siglock);
        int sig = dequeue_locked(t, ~t->sig.blocked, &info);
        recalc(t);
        spin_unlock_irqrestore(&siglock, f);
        if (!sig)
            break;
        built |= handle(t, regs, sig, &info, 0, &in_syscall);
    }
    if (in_syscall) /* no handler ran: the call goes on as if nothing happened */
        syscall_restart(t, regs, 0);
    unsigned long f = spin_lock_irqsave(&siglock);
    if (t->sig.restore_saved) { /* sigsuspend's mask goes when no handler took its place */
        t->sig.blocked = t->sig.saved;
        t->sig.restore_saved = 0;
    }
    recalc(t);
    spin_unlock_irqrestore(&siglock, f);
    return built;
}

/* A CPU exception in the program: its handler runs unless the signal is
 * blocked or ignored (then, as Linux's force_sig, the program dies). */
int linux_fault_signal(const struct fault_info *fault, void *regs)
{
    struct thread *t = current_thread();
    int sig = fault->signal;
    if (!valid(sig))
        return 0;
    unsigned long f = spin_lock_irqsave(&siglock);
    uint64_t handler = actions[sig].handler;
    int takes = handler != SIG_DFL && handler != SIG_IGN && !(t->sig.blocked & SIG_BIT(sig));
    spin_unlock_irqrestore(&siglock, f);
    union ksiginfo info = {0};
    info.signo = sig;
    switch (sig) {
    case SIGSEGV:
        if (fault->kind == FAULT_PAGE)
            info.code = user_ok(fault->addr, 1, 0) ? 2 /* SEGV_ACCERR */ : 1 /* SEGV_MAPERR */;
        else
            info.code = SI_KERNEL; /* #GP */
        info.fault.addr = fault->kind == FAULT_PAGE ? fault->addr : 0;
        break;
    case SIGBUS:
        info.code = fault->kind == FAULT_PAGE ? 2 /* BUS_ADRERR: past a file's end */ : 1 /* BUS_ADRALN */;
        info.fault.addr = fault->addr ? fault->addr : fault->pc;
        break;
    case SIGILL:
        info.code = arch_red_zone ? 2 /* ILL_ILLOPN, as x86 */ : 1 /* ILL_ILLOPC, as arm64 */;
        info.fault.addr = fault->pc;
        break;
    case SIGFPE:
        info.code = 1; /* FPE_INTDIV */
        info.fault.addr = fault->pc;
        break;
    case SIGTRAP:
        info.code = arch_red_zone ? SI_KERNEL : 1 /* TRAP_BRKPT */;
        info.fault.addr = arch_red_zone ? 0 : fault->pc;
        break;
    }
    if (!takes) {
        int core = linux_core_dump(sig, &info);
        if (t->proc->pid != 1)
            process_exit(sig | core); /* a child dies alone: its parent's wait reports it */
        return 0;
    }
    int in_syscall = 0;
    return handle(t, regs, sig, &info, fault, &in_syscall);
}

/* --- the system calls --- */
long sys_rt_sigaction(long sig, long uact, long uold, long size)
{
    sig = (int)sig; /* int arguments: the upper half of the register is not the program's */
    if (!valid(sig) || size != 8)
        return -EINVAL;
    struct sigaction_k act, old;
    if (uact && copy_from_user(&act, (uintptr_t)uact, sizeof act))
        return -EFAULT;
    if (uact && (sig == SIGKILL || sig == SIGSTOP))
        return -EINVAL;
    linux_threads_lock(); /* (lock order: the thread list, then siglock) */
    unsigned long f = spin_lock_irqsave(&siglock);
    old = actions[(int)sig];
    if (uact) {
        act.flags &= SA_KNOWN; /* unknown bits read back as clear: libc probes for support so */
        act.mask &= ~UNBLOCKABLE;
        actions[(int)sig] = act;
        struct process *me = current_process();
        if (ignored_by(me, (int)sig)) { /* pending instances go (POSIX) */
            flush(&me->shared_pending, &me->shared_queue, SIG_BIT(sig));
            for (unsigned i = 0; linux_thread_at(i); i++) {
                struct thread *t = linux_thread_at(i);
                if (t->proc == me) {
                    flush(&t->sig.pending, &t->sig.queue, SIG_BIT(sig));
                    recalc(t);
                }
            }
        }
    }
    spin_unlock_irqrestore(&siglock, f);
    linux_threads_unlock();
    old.flags &= SA_KNOWN;
    if (uold && copy_to_user((uintptr_t)uold, &old, sizeof old))
        return -EFAULT;
    return 0;
}

static void set_blocked(struct thread *t, uint64_t mask) /* siglock held */
{
    t->sig.blocked = mask & ~UNBLOCKABLE;
    recalc(t);
}

long sys_rt_sigprocmask(long how, long uset, long uold, long size)
{
    how = (int)how;
    struct thread *t = current_thread();
    if (size != 8)
        return -EINVAL;
    uint64_t set = 0, old = t->sig.blocked;
    if (uset) {
        if (copy_from_user(&set, (uintptr_t)uset, 8))
            return -EFAULT;
        unsigned long f = spin_lock_irqsave(&siglock);
        old = t->sig.blocked;
        if (how == 0)
            set_blocked(t, old | set);
        else if (how == 1)
            set_blocked(t, old & ~set);
        else if (how == 2)
            set_blocked(t, set);
        spin_unlock_irqrestore(&siglock, f);
        if (how < 0 || how > 2)
            return -EINVAL;
    }
    if (uold && copy_to_user((uintptr_t)uold, &old, 8))
        return -EFAULT;
    return 0;
}

long sys_rt_sigpending(long uset, long size)
{
    if (size > 8 || size < 0)
        return -EINVAL;
    struct thread *t = current_thread();
    uint64_t set = signal_pending_set() & t->sig.blocked;
    return copy_to_user((uintptr_t)uset, &set, (size_t)size) ? -EFAULT : 0;
}

struct stack_k {
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
};

static long altstack_set(struct thread *t, uint64_t sp, uint32_t flags, uint64_t size, uintptr_t user_sp)
{
    if (on_altstack(t, user_sp))
        return -EPERM;
    uint32_t mode = flags & ~SS_AUTODISARM;
    if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0)
        return -EINVAL;
    if (mode == SS_DISABLE) {
        sp = size = 0;
    } else if (size < arch_minsigstksz) {
        return -ENOMEM;
    }
    t->sig.ss_sp = sp;
    t->sig.ss_size = size;
    t->sig.ss_flags = flags; /* as given: SS_DISABLE, 0 or SS_ONSTACK, with SS_AUTODISARM */
    return 0;
}

long sys_sigaltstack(long uss, long uold)
{
    struct thread *t = current_thread();
    uintptr_t sp = arch_user_sp(arch_user_regs(t));
    struct stack_k old = {t->sig.ss_sp, altstack_flags(t, sp) | (int32_t)(t->sig.ss_flags & SS_AUTODISARM), 0,
                          t->sig.ss_size};
    if (uss) {
        struct stack_k ss;
        if (copy_from_user(&ss, (uintptr_t)uss, sizeof ss))
            return -EFAULT;
        long rc = altstack_set(t, ss.ss_sp, (uint32_t)ss.ss_flags, ss.ss_size, sp);
        if (rc)
            return rc;
    }
    if (uold && copy_to_user((uintptr_t)uold, &old, sizeof old))
        return -EFAULT;
    return 0;
}

long sys_rt_sigreturn(void)
{
    struct thread *t = current_thread();
    void *regs = arch_user_regs(t);
    uint64_t mask, ss[3];
    long rc;
    kernel_lock();
    int bad = arch_sigreturn(regs, &mask, ss, &rc);
    kernel_unlock();
    if (bad) {
        printk("[hermit] rt_sigreturn: no signal frame at the stack pointer %p\n", (void *)arch_user_sp(regs));
        die(SIGSEGV, &kernel_segv);
    }
    unsigned long f = spin_lock_irqsave(&siglock);
    set_blocked(t, mask);
    spin_unlock_irqrestore(&siglock, f);
    altstack_set(t, ss[0], (uint32_t)ss[1], ss[2], arch_user_sp(regs)); /* (errors other than EFAULT are ignored, as Linux) */
    t->full_restore = 1;
    t->sys_nr = -1; /* its "result" is the interrupted code's register: nothing to restart */
    return rc;
}

/* Wait until a signal is deliverable; for pause and sigsuspend. */
static long wait_for_signal(void)
{
    while (!signal_pending())
        if (io_wait_intr(io_seq(), 0) == -EINTR)
            break;
    return -ERESTARTNOHAND;
}

long sys_pause(void) { return wait_for_signal(); }

long signal_mask_swap(long umask, long size)
{
    uint64_t mask;
    if (size != 8)
        return -EINVAL;
    if (copy_from_user(&mask, (uintptr_t)umask, 8))
        return -EFAULT;
    struct thread *t = current_thread();
    unsigned long f = spin_lock_irqsave(&siglock);
    t->sig.saved = t->sig.blocked;
    set_blocked(t, mask);
    spin_unlock_irqrestore(&siglock, f);
    return 0;
}

void signal_mask_restore(int interrupted)
{
    struct thread *t = current_thread();
    unsigned long f = spin_lock_irqsave(&siglock);
    if (interrupted)
        t->sig.restore_saved = 1; /* the handler's frame carries the old mask */
    else
        set_blocked(t, t->sig.saved);
    spin_unlock_irqrestore(&siglock, f);
}

long sys_rt_sigsuspend(long umask, long size)
{
    long rc = signal_mask_swap(umask, size);
    if (rc)
        return rc;
    signal_mask_restore(1);
    return wait_for_signal();
}

long sys_rt_sigtimedwait(long uset, long uinfo, long uts, long size)
{
    if (size != 8)
        return -EINVAL;
    uint64_t set;
    if (copy_from_user(&set, (uintptr_t)uset, 8))
        return -EFAULT;
    set &= ~UNBLOCKABLE;
    uint64_t deadline = 0;
    if (uts) {
        struct timespec_k ts;
        if (copy_from_user(&ts, (uintptr_t)uts, sizeof ts))
            return -EFAULT;
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= (int64_t)NSEC_PER_SEC)
            return -EINVAL;
        deadline = clock_ns() + (uint64_t)ts.sec * NSEC_PER_SEC + (uint64_t)ts.nsec;
    }
    struct thread *t = current_thread();
    union ksiginfo info;
    int sig = signal_dequeue(set, &info);
    if (!sig) {
        /* wait with the set unblocked, so its signals wake us; we take them ourselves */
        unsigned long f = spin_lock_irqsave(&siglock);
        uint64_t real = t->sig.blocked;
        set_blocked(t, real & ~set);
        spin_unlock_irqrestore(&siglock, f);
        for (;;) {
            if (signal_pending() || (uts && clock_ns() >= deadline))
                break;
            if (io_wait_intr(io_seq(), uts ? deadline : 0) == -ETIMEDOUT)
                break;
        }
        f = spin_lock_irqsave(&siglock);
        set_blocked(t, real);
        sig = dequeue_locked(t, set, &info);
        recalc(t);
        spin_unlock_irqrestore(&siglock, f);
        if (!sig)
            return signal_pending() ? -EINTR : -EAGAIN;
    }
    if (uinfo && copy_to_user((uintptr_t)uinfo, &info, sizeof info))
        return -EFAULT;
    return sig;
}

static union ksiginfo user_info(int code)
{
    union ksiginfo info = {0};
    info.code = code;
    info.kill.pid = (int32_t)sys_getpid();
    info.kill.uid = 0;
    return info;
}

/* The process a pid names -- or, as Linux's lookups allow, the process of
 * the thread that id names. */
static struct process *process_of(int id)
{
    struct process *p = process_find(id);
    if (p)
        return p;
    linux_threads_lock();
    struct thread *t = linux_thread_find(id);
    p = t ? t->proc : 0;
    linux_threads_unlock();
    return p;
}

long sys_kill(long pid, long sig)
{
    pid = (int)pid, sig = (int)sig;
    if (sig && !valid(sig))
        return -EINVAL;
    union ksiginfo info = user_info(SI_USER);
    struct process *me = current_process();
    if (pid > 0) {
        struct process *p = process_of((int)pid);
        if (!p)
            return -ESRCH;
        return sig ? signal_to(p, (int)sig, &info) : 0;
    }
    int found = 0;
    for (struct process *p = process_first(); p; p = p->next) {
        /* 0: the caller's group; -1: everyone but pid 1 and the caller; -N: group N */
        int match = pid == 0 ? p->pgid == me->pgid : pid == -1 ? p->pid > 1 && p != me : p->pgid == -pid;
        if (!match)
            continue;
        found = 1;
        if (sig)
            signal_to(p, (int)sig, &info);
    }
    return found ? 0 : -ESRCH;
}

static long thread_kill(long tgid, long tid, long sig, const union ksiginfo *info)
{
    tgid = (int)tgid, tid = (int)tid, sig = (int)sig;
    if (tid <= 0 || (tgid != -1 && tgid <= 0) || (sig && !valid(sig)))
        return -EINVAL;
    long rc = -ESRCH;
    linux_threads_lock();
    struct thread *t = linux_thread_find(tid);
    if (t && (tgid == -1 || t->proc->pid == tgid))
        rc = sig ? signal_thread(t, (int)sig, info) : 0;
    linux_threads_unlock();
    return rc;
}

long sys_tgkill(long tgid, long tid, long sig)
{
    union ksiginfo info = user_info(SI_TKILL);
    return thread_kill(tgid, tid, sig, &info);
}

long sys_tkill(long tid, long sig) { return sys_tgkill(-1, tid, sig); }

static long queue_info(long tgid, long tid, long sig, long uinfo)
{
    tgid = (int)tgid, tid = (int)tid, sig = (int)sig;
    union ksiginfo info;
    if (copy_from_user(&info, (uintptr_t)uinfo, sizeof info))
        return -EFAULT;
    /* only the kernel may claim to be the kernel or tkill, except to oneself */
    struct process *to = tgid > 0 ? process_of((int)tgid) : 0;
    if ((info.code >= 0 || info.code == SI_TKILL) && to != current_process())
        return -EPERM;
    info.signo = (int32_t)sig;
    if (tid)
        return thread_kill(tgid, tid, sig, &info);
    if (sig && !valid(sig))
        return -EINVAL;
    struct process *p = tgid > 0 ? process_of((int)tgid) : 0;
    if (!p)
        return -ESRCH;
    return sig ? signal_to(p, (int)sig, &info) : 0; /* 0: whether it exists */
}

long sys_rt_sigqueueinfo(long pid, long sig, long uinfo) { return queue_info(pid, 0, sig, uinfo); }
long sys_rt_tgsigqueueinfo(long tgid, long tid, long sig, long uinfo)
{
    return (int)tid <= 0 ? -EINVAL : queue_info(tgid, tid, sig, uinfo);
}

/* ^C, ^\ and ^Z on the terminal (tty.c), from an interrupt: to its
 * foreground process group, as the kernel's line discipline sends them
 * (SI_KERNEL) -- pid 1's group unless a tcsetpgrp chose another; pid 1's
 * group is orphaned, so ^Z's default action does nothing there. From the
 * host (`hermitcore run` got it), as `docker kill` sends it: SI_USER from
 * pid 0, outside the guest, to pid 1. */
void linux_tty_signal(int sig, int from_host)
{
    union ksiginfo info = {0};
    info.code = from_host ? SI_USER : SI_KERNEL;
    struct process *init = process_find(1);
    if (!valid(sig) || !init)
        return;
    if (from_host) { /* to the program the run started, as `docker kill` */
        signal_to(init, sig, &info);
        return;
    }
    long fg = linux_tty_pgrp();
    for (struct process *p = process_first(); p; p = p->next)
        if (fg && p->pgid == fg)
            signal_to(p, sig, &info);
}

/* Linux's __tty_check_change: a process of a background group that reads
 * its controlling terminal (SIGTTIN), or writes it under TOSTOP, changes
 * its modes or its foreground group (SIGTTOU), stops with its group --
 * unless it blocks or ignores the signal (a read: -EIO; the rest goes on)
 * or its group is orphaned (-EIO). The call restarts once it continues. */
long signal_tty_check(int sig, long fg)
{
    struct process *p = current_process();
    struct thread *t = current_thread();
    if (!fg || p->pgid == fg)
        return 0;
    if ((t->sig.blocked & SIG_BIT(sig)) || actions[sig].handler == SIG_IGN)
        return sig == SIGTTIN ? -EIO : 0;
    if (pgrp_orphaned(p))
        return -EIO;
    union ksiginfo info = {0};
    info.code = SI_KERNEL; /* (Linux's kill_pgrp with priv: SEND_SIG_PRIV) */
    int pgid = p->pgid;
    for (struct process *q = process_first(); q; q = q->next)
        if (q->pgid == pgid)
            signal_to(q, sig, &info);
    return -ERESTARTSYS;
}

/* /proc/PID/status's SigPnd, ShdPnd, SigBlk, SigIgn, SigCgt: the thread's
 * sets are p's first thread's (pid = its tid; another of its threads once
 * that one has ended), as Linux shows the task the pid names. `not`: a
 * thread that only stands in for p (procfs reading another process). */
void linux_sigstate(struct process *p, struct thread *not, uint64_t *pending, uint64_t *shared, uint64_t *blocked,
                    uint64_t *ignored_set, uint64_t *caught)
{
    *pending = *blocked = *ignored_set = *caught = 0;
    *shared = p->shared_pending;
    struct thread *t = 0;
    linux_threads_lock();
    for (unsigned i = 0; linux_thread_at(i); i++) {
        struct thread *o = linux_thread_at(i);
        if (o->proc == p && o != not && (!t || o->tid == p->pid))
            t = o;
    }
    if (t) {
        *pending = t->sig.pending;
        *blocked = t->sig.blocked;
    }
    linux_threads_unlock();
    if (!p->sighand)
        return; /* a zombie */
    for (int sig = 1; sig <= NSIG_K; sig++) {
        if (p->sighand->action[sig].handler == SIG_IGN)
            *ignored_set |= SIG_BIT(sig);
        else if (p->sighand->action[sig].handler != SIG_DFL)
            *caught |= SIG_BIT(sig);
    }
}

/* --- processes --- */
int signal_ignored_child(struct process *parent)
{
    const struct sigaction_k *a = &parent->sighand->action[SIGCHLD];
    return a->handler == SIG_IGN || (a->flags & SA_NOCLDWAIT);
}

/* exec: handlers do not survive the program (ignored stays ignored; the
 * mask and what is pending do), nor does the alternate stack. */
void signal_exec(void)
{
    struct process *p = current_process();
    struct thread *t = current_thread();
    if (p->sighand->refs > 1) { /* shared with a vfork parent: a copy of our own */
        struct sighand *n = sighand_fork(p->sighand);
        if (n) {
            sighand_put(p->sighand);
            p->sighand = n;
        }
    }
    unsigned long f = spin_lock_irqsave(&siglock);
    for (int sig = 1; sig <= NSIG_K; sig++) {
        struct sigaction_k *a = &p->sighand->action[sig];
        if (a->handler != SIG_IGN)
            a->handler = SIG_DFL;
        a->flags = a->restorer = a->mask = 0;
    }
    t->sig.ss_sp = t->sig.ss_size = 0; /* (its flags stay, as Linux's) */
    spin_unlock_irqrestore(&siglock, f);
}
