/* Processes: fork (the memory copied on write, vm.c), vfork, clone without
 * CLONE_THREAD, exit and exit_group, wait4 and waitid (ends, and job
 * control's stops and continues: signal.c), zombies and
 * reparenting to pid 1, process groups and sessions.
 *
 * A process owns its memory (struct mm: mappings and address space), its
 * descriptors (struct fdtable), its working directory (struct fs_ctx) and
 * its signal dispositions (struct sighand) -- each shared instead of copied
 * when clone asks (CLONE_VM, CLONE_FILES, CLONE_FS, CLONE_SIGHAND). Its
 * pid is its first thread's tid. The run is pid 1's: when pid 1 ends, the
 * machine stops with its status (the others with it, as in a PID
 * namespace). Under the big kernel lock, except where noted. */
#include "linux.h"
#include <hermit/heap.h>

#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_PIDFD 0x1000
#define CLONE_PTRACE 0x2000
#define CLONE_VFORK 0x4000
#define CLONE_PARENT 0x8000
#define CLONE_THREAD 0x10000
#define CLONE_NEWNS 0x20000
#define CLONE_SYSVSEM 0x40000
#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_DETACHED 0x400000
#define CLONE_CHILD_SETTID 0x1000000
#define CSIGNAL 0xff

#define WNOHANG 1
#define WUNTRACED 2
#define WEXITED 4
#define WCONTINUED 8
#define WNOWAIT 0x01000000
#define __WNOTHREAD 0x20000000
#define __WALL 0x40000000
#define __WCLONE 0x80000000
#define CLD_EXITED 1
#define CLD_KILLED 2
#define CLD_DUMPED 3
#define CLD_STOPPED 5
#define CLD_CONTINUED 6

static struct process first = {.pid = 1, .pgid = 1, .sid = 1, .exit_signal = SIGCHLD, .umask = 022, .comm = "main"};
static struct process *all = &first;

struct process *process_first(void) { return all; }

struct process *process_find(int pid)
{
    for (struct process *p = all; p; p = p->next)
        if (p->pid == pid)
            return p;
    return 0;
}

/* The first thread becomes pid 1 (loader.c, before the program's first instruction). */
void linux_process_init(void)
{
    struct thread *t = current_thread();
    first.mm = vm_first_mm();
    first.files = fdt_first();
    first.fs = fs_first();
    first.sighand = sighand_first();
    first.threads = 1;
    first.start_tick = arch_counter();
    first.core_limit[0] = linux_core_wanted() ? ~0ull : 0; /* as the host's `ulimit -c` */
    first.core_limit[1] = ~0ull;
    first.ctty = 1; /* the console, when it is a terminal (stdio_file.c) */
    t->proc = &first;
    t->as_root = vm_root(first.mm);
    arch_as_switch(t->as_root);
}

/* --- identity --- */
long sys_getpid(void) { return current_process()->pid; }
long sys_getppid(void)
{
    struct process *p = current_process();
    return p->parent ? p->parent->pid : 0;
}

static struct process *target(long pid) { return pid == 0 ? current_process() : process_find((int)pid); }

long sys_getpgid(long pid)
{
    struct process *p = target((int)pid);
    return p ? p->pgid : -ESRCH;
}
long sys_getpgrp(void) { return current_process()->pgid; }
long sys_getsid(long pid)
{
    struct process *p = target((int)pid);
    return p ? p->sid : -ESRCH;
}

long sys_setpgid(long pid, long pgid)
{
    pid = (int)pid, pgid = (int)pgid;
    struct process *me = current_process(), *p = target(pid);
    if (pgid < 0)
        return -EINVAL;
    if (!p || (p != me && p->parent != me))
        return -ESRCH;
    if (p->sid == p->pid)
        return -EPERM; /* a session leader stays in its group */
    if (p->sid != me->sid)
        return -EPERM;
    if (!pgid)
        pgid = p->pid;
    if (pgid != p->pid) { /* joining a group: it must exist in the session */
        struct process *q = all;
        while (q && !(q->pgid == pgid && q->sid == me->sid && !q->zombie))
            q = q->next;
        if (!q)
            return -EPERM;
    }
    p->pgid = (int)pgid;
    return 0;
}

long sys_setsid(void)
{
    struct process *me = current_process();
    for (struct process *q = all; q; q = q->next)
        if (q->pgid == me->pid)
            return -EPERM; /* a group leader (or its id in use) */
    me->sid = me->pgid = me->pid;
    me->ctty = 0; /* a new session has no controlling terminal */
    return me->sid;
}

/* --- fork, vfork, clone --- */
static void link_child(struct process *parent, struct process *c)
{
    c->parent = parent;
    c->sibling = parent->children;
    parent->children = c;
    c->next = all;
    all = c;
}

static void unlink_process(struct process *p)
{
    for (struct process **q = &all; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            break;
        }
    if (p->parent)
        for (struct process **q = &p->parent->children; *q; q = &(*q)->sibling)
            if (*q == p) {
                *q = p->sibling;
                break;
            }
}

static int put_tid(uintptr_t at, int tid)
{
    uint32_t v = (uint32_t)tid;
    return copy_to_user(at, &v, sizeof v);
}

long process_clone(unsigned long flags, uintptr_t sp, uintptr_t ptid, uintptr_t ctid, uintptr_t tls)
{
    struct process *parent = current_process();
    if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM))
        return -EINVAL;
    if (flags & (CLONE_NEWNS | CLONE_PIDFD))
        return -EINVAL; /* (namespaces and pidfds: not here) */
    struct process *c = kzalloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->mm = flags & CLONE_VM ? vm_share(parent->mm) : vm_fork();
    c->files = flags & CLONE_FILES ? fdt_share(parent->files) : fdt_fork(parent->files);
    c->fs = flags & CLONE_FS ? fs_share(parent->fs) : fs_fork(parent->fs);
    c->sighand = flags & CLONE_SIGHAND ? sighand_share(parent->sighand) : sighand_fork(parent->sighand);
    struct thread *t = c->mm && c->files && c->fs && c->sighand
                           ? thread_create_user(sp, tls, (flags & CLONE_SETTLS) != 0)
                           : 0;
    if (!t) {
        if (c->mm) {
            /* (a fork's copy: undone as an exit would, from its own address space) */
            struct process *me = current_process();
            current_thread()->proc = c;
            uint64_t back = current_thread()->as_root;
            if (!(flags & CLONE_VM)) {
                current_thread()->as_root = vm_root(c->mm);
                arch_as_switch(vm_root(c->mm));
            }
            vm_exit(c);
            current_thread()->proc = me;
            current_thread()->as_root = back;
            arch_as_switch(back);
        }
        if (c->files)
            fdt_put(c->files);
        if (c->fs)
            fs_put(c->fs);
        if (c->sighand)
            sighand_put(c->sighand);
        kfree(c);
        return -ENOMEM;
    }
    c->pid = t->tid;
    c->pgid = parent->pgid;
    c->sid = parent->sid;
    c->exit_signal = (int)(flags & CSIGNAL);
    c->threads = 1;
    c->umask = parent->umask;
    c->ctty = parent->ctty;
    c->start_tick = arch_counter();
    c->core_limit[0] = parent->core_limit[0], c->core_limit[1] = parent->core_limit[1];
    c->vvar_stale = parent->vvar_stale; /* the same [vvar] page, until either writes */
    memcpy(c->comm, parent->comm, sizeof c->comm);
    memcpy(c->exe, parent->exe, sizeof c->exe);
    c->arg_start = parent->arg_start, c->arg_end = parent->arg_end;
    c->env_start = parent->env_start, c->env_end = parent->env_end;
    c->stack_start = parent->stack_start;
    memcpy(c->auxv, parent->auxv, sizeof c->auxv);
    c->auxv_bytes = parent->auxv_bytes;
    t->proc = c;
    t->as_root = vm_root(c->mm);
    signal_thread_start(t);
    t->sig.ss_sp = current_thread()->sig.ss_sp; /* fork keeps the alternate stack */
    t->sig.ss_size = current_thread()->sig.ss_size;
    t->sig.ss_flags = current_thread()->sig.ss_flags;
    if (!linux_thread_add(t)) {
        t->state = THREAD_DEAD; /* (as sys_clone: a program at 1024 threads is rare) */
        return -EAGAIN;
    }
    link_child(flags & CLONE_PARENT && parent->parent ? parent->parent : parent, c);
    if (flags & CLONE_PARENT_SETTID)
        put_tid(ptid, c->pid);
    if (flags & CLONE_CHILD_SETTID) { /* in the child's memory */
        uint64_t back = current_thread()->as_root;
        arch_as_switch(t->as_root);
        current_thread()->as_root = t->as_root;
        struct process *me = current_thread()->proc;
        current_thread()->proc = c;
        put_tid(ctid, c->pid);
        current_thread()->proc = me;
        current_thread()->as_root = back;
        arch_as_switch(back);
    }
    if (flags & CLONE_CHILD_CLEARTID)
        t->clear_child_tid = ctid;
    if (flags & CLONE_VFORK)
        c->vfork_parent = current_thread();
    long pid = c->pid;
    thread_start(t);
    if (flags & CLONE_VFORK) /* until the child execs or exits (its memory is ours meanwhile) */
        while (!__atomic_load_n(&c->vfork_done, __ATOMIC_ACQUIRE))
            io_wait(io_seq(), 0);
    return pid;
}

long sys_fork(void) { return process_clone(SIGCHLD, 0, 0, 0, 0); }
long sys_vfork(void) { return process_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0); }

/* The child execs or ends: a vfork parent goes on. */
void process_vfork_release(struct process *p)
{
    if (p->vfork_parent) {
        p->vfork_parent = 0;
        __atomic_store_n(&p->vfork_done, 1, __ATOMIC_RELEASE);
        io_notify();
    }
}

/* --- CPU time and memory use --- */
void process_times(struct process *p, uint64_t *user, uint64_t *sys)
{
    linux_threads_lock(); /* (a thread's time moves into p as it leaves the list) */
    uint64_t u = p->utime_ticks, s = p->stime_ticks;
    for (unsigned i = 0; linux_thread_at(i); i++) {
        struct thread *t = linux_thread_at(i);
        if (t->proc == p && t != linux_stand_in) {
            uint64_t tu, ts;
            sched_thread_ticks(t, &tu, &ts);
            u += tu, s += ts;
        }
    }
    linux_threads_unlock();
    *user = counter_ns(u), *sys = counter_ns(s);
}

static int count_resident(uintptr_t start, uintptr_t end, unsigned prot, const char *name, uint64_t off, void *arg)
{
    (void)prot, (void)name, (void)off;
    uint64_t *pages = arg;
    for (uintptr_t va = arch_user_next(start, end); va < end; va = arch_user_next(va + PAGE_SIZE, end))
        (*pages)++;
    return 0;
}

void rucount_add(struct rucount *to, const struct rucount *c)
{
    to->minflt += c->minflt, to->majflt += c->majflt, to->nvcsw += c->nvcsw, to->nivcsw += c->nivcsw;
}

void thread_counts(const struct thread *t, struct rucount *out)
{
    *out = (struct rucount){__atomic_load_n(&t->minflt, __ATOMIC_RELAXED),
                            __atomic_load_n(&t->majflt, __ATOMIC_RELAXED),
                            __atomic_load_n(&t->nvcsw, __ATOMIC_RELAXED),
                            __atomic_load_n(&t->nivcsw, __ATOMIC_RELAXED)};
}

void process_counts(struct process *p, struct rucount *out)
{
    linux_threads_lock(); /* (a thread's counts move into p as it leaves the list) */
    *out = p->ru;
    for (unsigned i = 0; linux_thread_at(i); i++) {
        struct thread *t = linux_thread_at(i);
        if (t->proc == p && t != linux_stand_in) {
            struct rucount c;
            thread_counts(t, &c);
            rucount_add(out, &c);
        }
    }
    linux_threads_unlock();
}

uint64_t process_rss_kb(void) /* big lock held: the mappings */
{
    uint64_t pages = 0;
    vm_each(count_resident, &pages);
    return pages * (PAGE_SIZE / 1024);
}

#define CPUCLOCK_PERTHREAD 4

int cpu_clock_parse(long id, struct process **p, long *tid, int *which)
{
    int cid = (int)id;
    struct thread *me = current_thread();
    if (cid == 2 || cid == 3) { /* CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID */
        *p = me->proc, *tid = cid == 3 ? me->tid : 0, *which = 2;
        return 1;
    }
    if (cid >= 0)
        return 0;
    int pid = ~(cid >> 3); /* Linux's CPUCLOCK_PID */
    *which = cid & 3;
    if (*which == 3)
        return -EINVAL;
    if (cid & CPUCLOCK_PERTHREAD) { /* a thread of the caller's process */
        *p = me->proc;
        *tid = pid ? pid : me->tid;
        if (pid) {
            linux_threads_lock();
            struct thread *t = linux_thread_find(pid);
            int ours = t && t->proc == me->proc;
            linux_threads_unlock();
            if (!ours)
                return -EINVAL;
        }
        return 1;
    }
    *tid = 0;
    *p = pid ? process_find(pid) : me->proc; /* any process, by its pid (not another thread's id) */
    return *p ? 1 : -EINVAL;
}

uint64_t cpu_clock_value(struct process *p, long tid, int which)
{
    uint64_t u, s;
    if (tid) {
        linux_threads_lock();
        struct thread *t = linux_thread_find(tid);
        if (t && t->proc == p)
            sched_thread_ticks(t, &u, &s);
        linux_threads_unlock();
        if (!t || t->proc != p)
            return ~0ull;
        u = counter_ns(u), s = counter_ns(s);
    } else {
        process_times(p, &u, &s);
    }
    return which == 1 ? u : u + s; /* VIRT: the program's; PROF and SCHED: both */
}

int cpu_clock_read(long id, uint64_t *ns)
{
    struct process *p;
    long tid;
    int which, rc = cpu_clock_parse(id, &p, &tid, &which);
    if (rc == 1) {
        *ns = cpu_clock_value(p, tid, which);
        if (*ns == ~0ull)
            return -EINVAL;
    }
    return rc;
}

/* --- the end --- */
static int wait_status_exit(int code) { return (code & 0xff) << 8; }

/* The last thread of p is leaving (in p's address space, on its way to
 * thread_exit): p becomes a zombie for its parent to collect. */
static void finish(struct process *p)
{
    sigtimer_release(p, 0);
    fdt_put(p->files); /* closing may sleep (9P, sockets): first */
    p->files = 0;
    rlock_release((struct lock_key){0, 0}, p); /* its POSIX locks */
    fs_put(p->fs);
    p->fs = 0;
    process_vfork_release(p);
    uint64_t rss = vm_hwm_kb(); /* its memory's high-water mark (shared with a vfork parent: theirs) */
    if (rss > p->maxrss_kb)
        p->maxrss_kb = rss;
    vm_exit(p); /* from here on in the kernel's address space */
    p->mm = 0;
    /* its children go to pid 1 (those that asked get their parent-death signal) */
    while (p->children) {
        struct process *c = p->children;
        p->children = c->sibling;
        if (c->pdeath_signal && !c->zombie) {
            union ksiginfo info = {0};
            info.code = SI_USER;
            info.kill.pid = p->pid;
            signal_to(c, c->pdeath_signal, &info);
        }
        c->parent = &first;
        c->sibling = first.children;
        first.children = c;
    }
    struct process *parent = p->parent;
    int auto_reap = parent && signal_ignored_child(parent);
    sighand_put(p->sighand);
    p->sighand = 0;
    p->zombie = 1;
    if (parent && p->exit_signal) {
        union ksiginfo info = {0};
        int sig = p->status & 0x7f;
        info.code = sig ? ((p->status & 0x80) ? CLD_DUMPED : CLD_KILLED) : CLD_EXITED;
        info.chld.pid = p->pid;
        info.chld.status = sig ? sig : (p->status >> 8) & 0xff;
        info.chld.utime = (int64_t)(counter_ns(p->utime_ticks + p->cutime_ticks) / 10000000); /* USER_HZ, as Linux's */
        info.chld.stime = (int64_t)(counter_ns(p->stime_ticks + p->cstime_ticks) / 10000000);
        signal_to(parent, p->exit_signal, &info);
    }
    if (auto_reap) {
        unlink_process(p);
        kfree(p);
    }
    io_notify(); /* a parent in wait4 */
}

static int run_status(int status) /* wait(2)'s word as an exit code: 128 + signal, or the code */
{
    return status & 0x7f ? 128 + (status & 0x7f) : (status >> 8) & 0xff;
}

void thread_leave(int status)
{
    struct thread *t = current_thread();
    struct process *p = t->proc;
    linux_thread_cleanup(t); /* robust futexes, clear_child_tid, the thread list */
    /* Done with the program's memory: this CPU drops its translations before
     * the count says the process has one thread fewer (vm.c then spares
     * the other CPUs its shoot-downs; a thread of ours scheduled here later
     * must not find stale entries). */
    uint64_t root = t->as_root;
    t->as_root = kernel_as;
    arch_as_switch(kernel_as);
    unsigned left = __atomic_sub_fetch(&p->threads, 1, __ATOMIC_ACQ_REL);
    if (left == 0) { /* the last: its memory is freed from its own address space */
        t->as_root = root;
        arch_as_switch(root);
    }
    if (left == 1 && p->exec_thread)
        io_notify(); /* the execve waiting for the others */
    if (left == 0) {
        if (!p->exiting)
            p->status = status;
        if (p->pid == 1)
            linux_exit(run_status(p->status));
        kernel_lock();
        finish(p);
        kernel_unlock();
    }
    thread_exit();
}

void process_exit(int status)
{
    struct process *p = current_process();
    if (p->pid == 1) /* the run ends with it */
        linux_exit(run_status(status));
    if (!p->exiting) {
        p->exiting = 1;
        p->status = status;
    }
    process_stop_others(p);
    thread_leave(status);
}

/* p's threads but the caller leave at their next return to the program
 * (SIGKILL wakes those asleep; exiting or exec_thread tells them why). */
void process_stop_others(struct process *p)
{
    linux_threads_lock();
    for (unsigned i = 0; linux_thread_at(i); i++) {
        struct thread *t = linux_thread_at(i);
        if (t->proc == p && t != current_thread())
            signal_thread(t, SIGKILL, 0);
    }
    linux_threads_unlock();
}

long sys_exit_group(long status) { process_exit(wait_status_exit((int)status)); }

/* --- wait --- */
static int matches(struct process *c, long pid, struct process *me)
{
    if (pid > 0)
        return c->pid == pid;
    if (pid == 0)
        return c->pgid == me->pgid;
    if (pid < -1)
        return c->pgid == -pid;
    return 1;
}

/* The first matching child with something to report for `options`: it
 * ended (WEXITED: *what 0), stopped (WUNTRACED: 1) or continued
 * (WCONTINUED: 2); or NULL with *any set when a matching child exists at
 * all. */
static struct process *reap(long pid, long options, int *any, int *what)
{
    struct process *me = current_process();
    *any = 0;
    for (struct process *c = me->children; c; c = c->sibling) {
        if (!matches(c, pid, me))
            continue;
        *any = 1;
        if (c->zombie && (options & WEXITED)) {
            *what = 0;
            return c;
        }
        if (!c->zombie && (options & WUNTRACED) && c->stop_report == 1 && c->stop_sig) {
            *what = 1;
            return c;
        }
        if (!c->zombie && (options & WCONTINUED) && c->stop_report == 2) {
            *what = 2;
            return c;
        }
    }
    return 0;
}

/* A collected child's time and memory go to its parent's children's
 * (Linux's cutime, cstime, cmaxrss: its own and those it collected). */
static void collect(struct process *me, struct process *c)
{
    me->cutime_ticks += c->utime_ticks + c->cutime_ticks;
    me->cstime_ticks += c->stime_ticks + c->cstime_ticks;
    uint64_t rss = c->maxrss_kb > c->cmaxrss_kb ? c->maxrss_kb : c->cmaxrss_kb;
    if (rss > me->cmaxrss_kb)
        me->cmaxrss_kb = rss;
    rucount_add(&me->cru, &c->ru);
    rucount_add(&me->cru, &c->cru);
}

/* wait4's and waitid's rusage of a collected child: its own and its children's */
static int put_child_rusage(long urusage, struct process *c)
{
    struct rusage_k ru = {0};
    uint64_t u = counter_ns(c->utime_ticks), st = counter_ns(c->stime_ticks);
    struct rucount n = c->ru;
    if (!c->zombie) { /* stopped or continued: its threads' so far */
        process_times(c, &u, &st);
        process_counts(c, &n);
    }
    rucount_add(&n, &c->cru);
    rusage_fill(&ru, u + counter_ns(c->cutime_ticks), st + counter_ns(c->cstime_ticks),
                c->maxrss_kb > c->cmaxrss_kb ? c->maxrss_kb : c->cmaxrss_kb, &n);
    return copy_to_user((uintptr_t)urusage, &ru, sizeof ru) ? -EFAULT : 0;
}

long sys_wait4(long pid, long ustatus, long options, long urusage)
{
    pid = (int)pid;
    if (pid == -0x7fffffff - 1)
        return -ESRCH; /* INT_MIN: no such group (its negation overflows) */
    if (options & ~(long)(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE))
        return -EINVAL;
    for (;;) {
        uint64_t seq = io_seq();
        int any, what;
        struct process *c = reap(pid, options | WEXITED, &any, &what);
        if (c && what) { /* stopped: the signal in the high byte, 0x7f; continued: 0xffff */
            int status = what == 1 ? (c->stop_sig << 8) | 0x7f : 0xffff, cpid = c->pid;
            if (ustatus && copy_to_user((uintptr_t)ustatus, &status, sizeof status))
                return -EFAULT;
            if (urusage && put_child_rusage(urusage, c))
                return -EFAULT;
            c->stop_report = 0;
            return cpid;
        }
        if (c) {
            int status = c->status, cpid = c->pid;
            if (ustatus && copy_to_user((uintptr_t)ustatus, &status, sizeof status))
                return -EFAULT;
            if (urusage && put_child_rusage(urusage, c))
                return -EFAULT;
            collect(current_process(), c);
            unlink_process(c);
            kfree(c);
            return cpid;
        }
        if (!any)
            return -ECHILD;
        if (options & WNOHANG)
            return 0;
        if (io_wait_intr(seq, 0) == -EINTR)
            return -ERESTARTSYS;
    }
}

long sys_waitid(long idtype, long id, long uinfo, long options, long urusage)
{
    long pid;
    id = (int)id;
    if (idtype == 0 /* P_ALL */)
        pid = -1;
    else if (idtype == 1 /* P_PID */)
        pid = id > 0 ? id : -0x7fffffff;
    else if (idtype == 2 /* P_PGID */)
        pid = id ? -id : 0;
    else
        return -EINVAL;
    if (!(options & (WEXITED | WUNTRACED | WCONTINUED)) ||
        (options & ~(long)(WNOHANG | WEXITED | WUNTRACED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WALL | __WCLONE)))
        return -EINVAL;
    for (;;) {
        uint64_t seq = io_seq();
        int any, what;
        struct process *c = reap(pid, options, &any, &what);
        if (c && what) {
            union ksiginfo info = {0};
            info.signo = SIGCHLD;
            info.code = what == 1 ? CLD_STOPPED : CLD_CONTINUED;
            info.chld.pid = c->pid;
            info.chld.status = what == 1 ? c->stop_sig : SIGCONT;
            if (uinfo && copy_to_user((uintptr_t)uinfo, &info, sizeof info))
                return -EFAULT;
            if (urusage && put_child_rusage(urusage, c))
                return -EFAULT;
            if (!(options & WNOWAIT))
                c->stop_report = 0;
            return 0;
        }
        if (c) {
            union ksiginfo info = {0};
            int sig = c->status & 0x7f;
            info.signo = SIGCHLD;
            info.code = sig ? ((c->status & 0x80) ? CLD_DUMPED : CLD_KILLED) : CLD_EXITED;
            info.chld.pid = c->pid;
            info.chld.status = sig ? sig : (c->status >> 8) & 0xff;
            if (uinfo && copy_to_user((uintptr_t)uinfo, &info, sizeof info))
                return -EFAULT;
            if (urusage && put_child_rusage(urusage, c))
                return -EFAULT;
            if (!(options & WNOWAIT)) {
                collect(current_process(), c);
                unlink_process(c);
                kfree(c);
            }
            return 0;
        }
        if (!any)
            return -ECHILD;
        if (options & WNOHANG) {
            union ksiginfo none = {0};
            if (uinfo && copy_to_user((uintptr_t)uinfo, &none, sizeof none))
                return -EFAULT;
            return 0;
        }
        if (io_wait_intr(seq, 0) == -EINTR)
            return -ERESTARTSYS;
    }
}
