/* Signal semantics probe for hermitcore's kernel: the same static binary
 * runs on the host and in the guest, and tests/integration/test_signals.py
 * compares the two outputs byte for byte.
 *
 *     sigprobe                 every section, "== NAME" before each
 *     sigprobe SECTION...      only these sections (for debugging)
 *     sigprobe die-MODE        a default action (or SIG_IGN) ends the run:
 *                              the test compares the exit status
 *
 * Every line is "check: result": signal and si_code names, errno names,
 * booleans. Nothing that differs between runs is printed (no pids, tids,
 * addresses or times: only comparisons of them). Handlers record into
 * globals and main prints afterwards. Each section starts from a clean
 * state (default actions, nothing blocked, nothing pending: a leftover is
 * printed). Every wait is bounded, and a watchdog thread (all signals
 * blocked, plain nanosleep) ends the run with a message if a step makes no
 * progress, so a broken kernel gives a diff rather than a hang.
 *
 * Lines that Linux itself prints differently on x86_64 and aarch64 (the
 * trap instruction's signal, integer division by zero) are listed in the
 * test, which compares an aarch64 guest with the x86_64 host.
 *
 * The last section forks (children: wait statuses, SIGCHLD's siginfo, what
 * a child inherits); each child ends itself with alarm(10) if it hangs.
 * RLIMIT_CORE is set to 0 first, so a child killed by SIGSEGV reports
 * CLD_KILLED on every host. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

#define WATCH_MS 15000 /* a step without progress for this long ends the run */
#define ALT_SIZE (64 * 1024)

static pid_t main_tid, other_tid;

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static const char *ename(int e)
{
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EDEADLK: return "EDEADLK";
    case ECHILD: return "ECHILD";
    }
    static char buf[24];
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* name: ok, or the errno's name */
#define TRY(name, expr)                                              \
    do {                                                             \
        errno = 0;                                                   \
        long rc_ = (long)(expr);                                     \
        int e_ = errno;                                              \
        if (rc_ < 0)                                                 \
            printf("%s: %s\n", name, ename(e_));                     \
        else                                                         \
            printf("%s: ok\n", name);                                \
    } while (0)
/* name: the value, or -1 and the errno's name */
#define VAL(name, expr)                                              \
    do {                                                             \
        errno = 0;                                                   \
        long rc_ = (long)(expr);                                     \
        int e_ = errno;                                              \
        if (rc_ < 0)                                                 \
            printf("%s: %ld %s\n", name, rc_, ename(e_));            \
        else                                                         \
            printf("%s: %ld\n", name, rc_);                          \
    } while (0)

static void yes(const char *name, int cond) { printf("%s: %s\n", name, cond ? "yes" : "no"); }

/* --- names ------------------------------------------------------------- */

static const char *sname(int s)
{
    static const char *names[32] = {
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
        "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
        "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
        "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"};
    static char bufs[8][24];
    static int i;
    if (s >= 0 && s < 32)
        return names[s];
    char *b = bufs[i++ % 8];
    if (s >= SIGRTMIN && s <= SIGRTMAX)
        snprintf(b, 24, "SIGRTMIN+%d", s - SIGRTMIN);
    else
        snprintf(b, 24, "SIG%d", s);
    return b;
}

static const char *cname(int sig, int code)
{
    static char bufs[4][24];
    static int i;
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TIMER: return "SI_TIMER";
    case SI_MESGQ: return "SI_MESGQ";
    case SI_ASYNCIO: return "SI_ASYNCIO";
    case SI_SIGIO: return "SI_SIGIO";
    case SI_TKILL: return "SI_TKILL";
    }
    if (sig == SIGSEGV) {
        static const char *n[] = {0, "SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR"};
        if (code >= 1 && code <= 4)
            return n[code];
    } else if (sig == SIGBUS) {
        static const char *n[] = {0, "BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR"};
        if (code >= 1 && code <= 3)
            return n[code];
    } else if (sig == SIGILL) {
        static const char *n[] = {0,           "ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP",
                                  "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK"};
        if (code >= 1 && code <= 8)
            return n[code];
    } else if (sig == SIGFPE) {
        static const char *n[] = {0,          "FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF",
                                  "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB"};
        if (code >= 1 && code <= 8)
            return n[code];
    } else if (sig == SIGTRAP) {
        static const char *n[] = {0, "TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT"};
        if (code >= 1 && code <= 4)
            return n[code];
    }
    char *b = bufs[i++ % 4];
    snprintf(b, 24, "code %d", code);
    return b;
}

/* the members of a set, by name, lowest first */
static const char *setstr(const sigset_t *s)
{
    static char bufs[4][1024];
    static int i;
    char *b = bufs[i++ % 4];
    b[0] = 0;
    for (int sig = 1; sig < 65; sig++)
        if (sigismember(s, sig) == 1)
            snprintf(b + strlen(b), 1024 - strlen(b), "%s%s", b[0] ? " " : "", sname(sig));
    return b[0] ? b : "none";
}

static sigset_t set_of(int first, ...)
{
    sigset_t s;
    sigemptyset(&s);
    va_list ap;
    va_start(ap, first);
    for (int sig = first; sig; sig = va_arg(ap, int))
        sigaddset(&s, sig);
    va_end(ap);
    return s;
}

static const char *blocked_now(void)
{
    sigset_t s;
    pthread_sigmask(SIG_BLOCK, NULL, &s);
    return setstr(&s);
}

static const char *pending_now(void)
{
    sigset_t s;
    sigpending(&s);
    return setstr(&s);
}

static void block(int sig) { sigset_t s = set_of(sig, 0); pthread_sigmask(SIG_BLOCK, &s, NULL); }
static void unblock(int sig) { sigset_t s = set_of(sig, 0); pthread_sigmask(SIG_UNBLOCK, &s, NULL); }

/* --- time, threads, watchdog ------------------------------------------ */

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a handler may cut it short: callers loop */
}

/* wait until *v >= n, at most ms: whether it got there */
static int wait_until(volatile int *v, int n, int ms)
{
    long long end = now_ns() + ms * 1000000LL;
    while (*v < n) {
        if (now_ns() > end)
            return 0;
        sleep_ms(1);
    }
    return 1;
}

static const char *volatile w_step = "start";
static volatile long long w_deadline;

static void step(const char *what)
{
    w_step = what;
    w_deadline = now_ns() + WATCH_MS * 1000000LL;
}

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        sleep_ms(50);
        long long d = w_deadline;
        if (d && now_ns() > d) {
            dprintf(1, "\nwatchdog: step \"%s\" made no progress in %d ms\n", w_step, WATCH_MS);
            _exit(3);
        }
    }
    return NULL;
}

/* a thread started with the given mask (NULL: every signal blocked) */
static pthread_t spawn(void *(*fn)(void *), void *arg, const sigset_t *mask, size_t stack)
{
    sigset_t set, old;
    if (mask)
        set = *mask;
    else
        sigfillset(&set);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack)
        pthread_attr_setstacksize(&attr, stack);
    pthread_sigmask(SIG_SETMASK, &set, &old);
    pthread_t t;
    int e = pthread_create(&t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e) {
        printf("pthread_create: %s\n", ename(e));
        exit(1);
    }
    return t;
}

/* --- what handlers record ---------------------------------------------- */

struct rec {
    int sig, code, value, pid_self, uid_self, timerid, overrun, status;
    pid_t pid;
    void *ptr;
    pid_t tid;
    void *addr;
    sigset_t mask;   /* blocked inside the handler */
    sigset_t ucmask; /* uc_sigmask: the mask the handler returns to */
    stack_t ucstack; /* uc_stack */
    stack_t ss;      /* sigaltstack inside the handler */
    int ss_rc;
    char *sp;        /* an address on the handler's stack */
    int action_dfl;  /* the signal's action inside the handler is SIG_DFL */
};
#define MAXREC 64
static struct rec recs[MAXREC];
static volatile int nrec;

static void reset(void)
{
    memset(recs, 0, sizeof recs);
    nrec = 0;
}

static void record(int sig, siginfo_t *si, void *ucv)
{
    int saved = errno;
    int i = __atomic_fetch_add(&nrec, 1, __ATOMIC_SEQ_CST);
    if (i < MAXREC) {
        struct rec *r = &recs[i];
        ucontext_t *uc = ucv;
        volatile char here = 0;
        r->sig = sig;
        r->code = si->si_code;
        r->value = si->si_value.sival_int;
        r->ptr = si->si_value.sival_ptr;
        r->pid = si->si_pid;
        r->status = si->si_status;
        r->pid_self = si->si_pid == getpid();
        r->uid_self = si->si_uid == getuid();
        r->timerid = si->si_timerid;
        r->overrun = si->si_overrun;
        r->tid = tid();
        r->addr = si->si_addr;
        pthread_sigmask(SIG_BLOCK, NULL, &r->mask);
        r->ucmask = uc->uc_sigmask;
        r->ucstack = uc->uc_stack;
        r->ss_rc = sigaltstack(NULL, &r->ss);
        r->sp = (char *)&here;
        struct sigaction q;
        r->action_dfl = sigaction(sig, NULL, &q) == 0 && q.sa_handler == SIG_DFL;
    }
    errno = saved;
}

static void h_rec(int sig, siginfo_t *si, void *uc) { record(sig, si, uc); }

static const char *who(pid_t t)
{
    return t == main_tid ? "main" : t == other_tid ? "the other thread" : "an unexpected thread";
}

/* one line for recs[i]: the signal, si_code, and what goes with the code */
static void show(const char *name, int i)
{
    if (i >= nrec) {
        printf("%s: not delivered\n", name);
        return;
    }
    struct rec *r = &recs[i];
    printf("%s: %s %s", name, sname(r->sig), cname(r->sig, r->code));
    if (r->code == SI_USER || r->code == SI_TKILL || r->code == SI_QUEUE)
        printf(" pid %s uid %s", r->pid_self ? "self" : "other", r->uid_self ? "self" : "other");
    if (r->code == SI_QUEUE || r->code == SI_TIMER)
        printf(" value %d", r->value);
    printf(" in %s\n", who(r->tid));
}

/* "N deliveries: SIG SIG ..." */
static void show_order(const char *name)
{
    printf("%s: %d deliveries:", name, nrec);
    for (int i = 0; i < nrec && i < MAXREC; i++)
        printf(" %s", sname(recs[i].sig));
    printf("\n");
}

static void on(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = flags | SA_SIGINFO;
    if (mask)
        sa.sa_mask = *mask;
    else
        sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL))
        printf("sigaction %s: %s\n", sname(sig), ename(errno));
}

static void set_handler(int sig, void (*h)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

struct named {
    void *fn;
    const char *name;
};
static void h_plain(int sig) { (void)sig; }
static struct named handlers[] = {{(void *)h_rec, "h_rec"}, {(void *)h_plain, "h_plain"}};

static const char *flagstr(unsigned long f)
{
    static char buf[256];
    static const struct {
        unsigned long bit;
        const char *name;
    } known[] = {{SA_NOCLDSTOP, "SA_NOCLDSTOP"}, {SA_NOCLDWAIT, "SA_NOCLDWAIT"}, {SA_SIGINFO, "SA_SIGINFO"},
                 {SA_ONSTACK, "SA_ONSTACK"},     {SA_RESTART, "SA_RESTART"},     {SA_NODEFER, "SA_NODEFER"},
                 {SA_RESETHAND, "SA_RESETHAND"}};
    f &= ~0x04000000ul; /* SA_RESTORER: libc's business, per architecture */
    buf[0] = 0;
    for (unsigned k = 0; k < sizeof known / sizeof known[0]; k++)
        if (f & known[k].bit) {
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? "|" : "", known[k].name);
            f &= ~known[k].bit;
        }
    if (f)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s0x%lx", buf[0] ? "|" : "", f);
    return buf[0] ? buf : "0";
}

static void show_sa(const char *name, const struct sigaction *sa)
{
    const char *h = sa->sa_handler == SIG_DFL ? "SIG_DFL" : sa->sa_handler == SIG_IGN ? "SIG_IGN" : "unknown";
    for (unsigned k = 0; k < sizeof handlers / sizeof handlers[0]; k++)
        if ((void *)sa->sa_handler == handlers[k].fn)
            h = handlers[k].name;
    printf("%s: handler %s flags %s mask %s\n", name, h, flagstr((unsigned int)sa->sa_flags), setstr(&sa->sa_mask));
}

static void show_action(const char *name, int sig)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa))
        printf("%s: %s\n", name, ename(errno));
    else
        show_sa(name, &sa);
}

/* Each section starts clean: whatever is still pending is reported and
 * taken, every action is SIG_DFL again, nothing is blocked. */
static void clean(void)
{
    sigset_t all, p;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    sigpending(&p);
    if (strcmp(setstr(&p), "none")) {
        printf("leftover pending: %s\n", setstr(&p));
        struct timespec zero = {0, 0};
        while (sigtimedwait(&p, NULL, &zero) > 0)
            ;
    }
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && (sig < 32 || sig >= SIGRTMIN))
            set_handler(sig, SIG_DFL);
    sigemptyset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    reset();
    other_tid = 0;
}

static void section(const char *name)
{
    clean();
    printf("== %s\n", name);
    step(name);
}

/* --- faults: a handler that leaves by siglongjmp ------------------------ */

static sigjmp_buf *volatile jump_to;
static volatile uintptr_t fault_pc;
static volatile int fault_write; /* what the ucontext says: 1 write, 0 read, -1 not said */
static volatile uintptr_t fault_ucaddr;

static uintptr_t uc_pc(ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#endif
}

/* the fault's direction from the architecture's record of it: x86_64's
 * page fault error code (bit 1: write), aarch64's ESR record (a data
 * abort's WnR bit) */
static int uc_is_write(ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#elif defined(__aarch64__)
    unsigned char *p = uc->uc_mcontext.__reserved, *end = p + sizeof uc->uc_mcontext.__reserved;
    while (p + 8 <= end) {
        uint32_t magic, size;
        memcpy(&magic, p, 4);
        memcpy(&size, p + 4, 4);
        if (magic == 0 || size < 8)
            break;
        if (magic == 0x45535201 /* ESR_MAGIC */) {
            uint64_t esr;
            memcpy(&esr, p + 8, 8);
            unsigned ec = (unsigned)(esr >> 26) & 0x3f;
            if (ec != 0x24 && ec != 0x25)
                return -1;
            return (esr >> 6) & 1;
        }
        p += size;
    }
    return -1;
#endif
}

static uintptr_t uc_fault_address(ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_CR2];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.fault_address;
#endif
}

static void h_fault(int sig, siginfo_t *si, void *ucv)
{
    record(sig, si, ucv);
    fault_pc = uc_pc(ucv);
    fault_write = uc_is_write(ucv);
    fault_ucaddr = uc_fault_address(ucv);
    sigjmp_buf *j = jump_to;
    if (!j) {
        static const char msg[] = "\nsigprobe: a fault nobody expected\n";
        write(1, msg, sizeof msg - 1);
        _exit(5);
    }
    jump_to = NULL;
    siglongjmp(*j, 1);
}

/* --- sections ----------------------------------------------------------- */

struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static long raw_sigaction(int sig, const struct ksigaction *act, struct ksigaction *old, size_t size)
{
    return syscall(SYS_rt_sigaction, sig, act, old, size);
}

struct idle {
    volatile int ready, stop, go, done;
    pid_t tid;
    sigset_t pending;
    int rc, err;
};

/* a thread that waits (in nanosleep) until told to stop, at most 3 s */
static void *idle_fn(void *p)
{
    struct idle *d = p;
    d->tid = tid();
    d->ready = 1;
    long long end = now_ns() + 3000000000LL;
    while (!d->stop && now_ns() < end)
        sleep_ms(1);
    return NULL;
}

/* waits for SIGUSR1 in sigsuspend, SIGUSR1 blocked otherwise */
static void *suspend_fn(void *p)
{
    struct idle *d = p;
    d->tid = tid();
    block(SIGUSR1);
    d->ready = 1;
    sigset_t empty;
    sigemptyset(&empty);
    errno = 0;
    d->rc = sigsuspend(&empty);
    d->err = errno;
    d->done = 1;
    return NULL;
}

static void show_ss(const char *name, const stack_t *ss);

static void s_sigaction(void)
{
    section("sigaction");
    show_action("SIGUSR1 initially", SIGUSR1);
    show_action("SIGSEGV initially", SIGSEGV);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h_rec;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | 0x400 /* not a flag: reads back clear */;
    sa.sa_mask = set_of(SIGUSR2, SIGRTMIN + 2, SIGKILL, SIGSTOP, 0);
    TRY("sigaction SIGUSR1", sigaction(SIGUSR1, &sa, &old));
    show_sa("old action", &old);
    show_action("SIGUSR1 read back", SIGUSR1);
    TRY("sigaction SIGUSR1 again", sigaction(SIGUSR1, &sa, &old));
    show_sa("old action now", &old);
    struct sigaction plain;
    memset(&plain, 0, sizeof plain);
    plain.sa_handler = SIG_IGN;
    plain.sa_flags = SA_NODEFER | SA_RESETHAND | SA_ONSTACK;
    TRY("sigaction SIGUSR2 SIG_IGN", sigaction(SIGUSR2, &plain, NULL));
    show_action("SIGUSR2 read back", SIGUSR2);
    set_handler(SIGUSR2, SIG_DFL);

    struct ksigaction k, ko;
    memset(&k, 0, sizeof k);
    memset(&ko, 0xff, sizeof ko);
    TRY("rt_sigaction query SIGKILL", raw_sigaction(SIGKILL, NULL, &ko, 8));
    yes("SIGKILL's action is SIG_DFL", ko.handler == SIG_DFL);
    k.handler = SIG_IGN;
    TRY("rt_sigaction set SIGKILL", raw_sigaction(SIGKILL, &k, NULL, 8));
    TRY("rt_sigaction set SIGSTOP", raw_sigaction(SIGSTOP, &k, NULL, 8));
    TRY("rt_sigaction signal 0", raw_sigaction(0, NULL, &ko, 8));
    TRY("rt_sigaction signal 65", raw_sigaction(65, NULL, &ko, 8));
    TRY("rt_sigaction sigsetsize 4", raw_sigaction(SIGUSR1, NULL, &ko, 4));
    TRY("rt_sigaction sigsetsize 16", raw_sigaction(SIGUSR1, NULL, &ko, 16));
    TRY("rt_sigaction bad act pointer", raw_sigaction(SIGUSR1, (void *)8, NULL, 8));
    TRY("rt_sigaction bad oldact pointer", raw_sigaction(SIGUSR1, NULL, (void *)8, 8));
    show_action("SIGUSR1 after the bad calls", SIGUSR1);

    reset();
    TRY("kill self", kill(getpid(), SIGUSR1));
    printf("kill: %d deliveries before kill returned\n", nrec);
    show("kill", 0);
    printf("kill: blocked in the handler: %s\n", setstr(&recs[0].mask));
    printf("kill: uc_sigmask: %s\n", setstr(&recs[0].ucmask));
    show_ss("kill: uc_stack without an altstack", &recs[0].ucstack);
    printf("kill: blocked after the handler: %s\n", blocked_now());

    reset();
    TRY("raise", raise(SIGUSR1));
    printf("raise: %d deliveries\n", nrec);
    show("raise", 0);

    reset();
    TRY("sigqueue", sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 7}));
    printf("sigqueue: %d deliveries\n", nrec);
    show("sigqueue", 0);

    reset();
    void *big = (void *)(uintptr_t)0x123456789abcdef0ull;
    TRY("sigqueue a 64-bit sival_ptr", sigqueue(getpid(), SIGUSR1, (union sigval){.sival_ptr = big}));
    yes("sival_ptr intact in the handler", nrec == 1 && recs[0].ptr == big);

    reset();
    TRY("tgkill self", syscall(SYS_tgkill, getpid(), tid(), SIGUSR1));
    show("tgkill", 0);

    /* to another thread, waiting in sigsuspend with SIGUSR1 blocked */
    struct idle d = {0};
    reset();
    pthread_t t = spawn(suspend_fn, &d, &(sigset_t){0}, 0);
    step("pthread_kill to a thread in sigsuspend");
    wait_until(&d.ready, 1, 5000);
    other_tid = d.tid;
    int e = pthread_kill(t, SIGUSR1);
    printf("pthread_kill: %s\n", ename(e));
    wait_until(&d.done, 1, 5000);
    if (!d.done) {
        printf("pthread_kill: the thread's sigsuspend did not return\n");
        exit(1);
    }
    pthread_join(t, NULL);
    printf("pthread_kill: %d deliveries\n", nrec);
    show("pthread_kill", 0);
    printf("pthread_kill: sigsuspend returned %d %s\n", d.rc, ename(d.err));
    printf("pthread_kill: blocked in the handler: %s\n", setstr(&recs[0].mask));
    printf("pthread_kill: uc_sigmask (the mask before sigsuspend): %s\n", setstr(&recs[0].ucmask));
    show_ss("pthread_kill: uc_stack in a thread without an altstack", &recs[0].ucstack);
    other_tid = 0;
}

static void s_mask(void)
{
    section("mask");
    on(SIGUSR1, h_rec, 0, NULL);
    block(SIGUSR1);
    printf("blocked: %s\n", blocked_now());
    kill(getpid(), SIGUSR1);
    printf("blocked kill: %d deliveries\n", nrec);
    printf("pending: %s\n", pending_now());
    unblock(SIGUSR1);
    printf("after unblocking: %d deliveries\n", nrec);
    show("after unblocking", 0);
    printf("pending after: %s\n", pending_now());

    reset();
    block(SIGUSR1);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    printf("three kills while blocked: pending %s\n", pending_now());
    unblock(SIGUSR1);
    printf("three kills while blocked: %d deliveries\n", nrec);

    /* the thread's own pending set and the process's are apart */
    reset();
    block(SIGUSR1);
    kill(getpid(), SIGUSR1);
    raise(SIGUSR1);
    raise(SIGUSR1);
    unblock(SIGUSR1);
    printf("kill and raise twice while blocked: %d deliveries\n", nrec);
    show("kill and raise: first", 0);
    show("kill and raise: second", 1);

    int rt = SIGRTMIN + 1;
    on(rt, h_rec, 0, NULL);
    reset();
    block(rt);
    for (int v = 1; v <= 3; v++)
        sigqueue(getpid(), rt, (union sigval){.sival_int = v});
    printf("real-time queued 3: pending %s\n", pending_now());
    unblock(rt);
    printf("real-time queued 3: %d deliveries, values", nrec);
    for (int i = 0; i < nrec; i++)
        printf(" %d", recs[i].value);
    printf("\n");
    show("real-time first", 0);

    reset();
    block(rt);
    kill(getpid(), rt);
    kill(getpid(), rt);
    raise(rt);
    unblock(rt);
    printf("real-time kill kill raise: %d deliveries\n", nrec);
    for (int i = 0; i < nrec; i++) {
        char n[32];
        snprintf(n, sizeof n, "real-time #%d", i + 1);
        show(n, i);
    }

    /* several pending at once: lowest first, synchronous ones before */
    int order[] = {SIGRTMIN + 2, SIGUSR2, SIGTERM, SIGRTMIN + 1, SIGUSR1, SIGINT, SIGSEGV};
    int n_order = sizeof order / sizeof order[0];
    sigset_t all_of = set_of(0);
    for (int i = 0; i < n_order; i++)
        sigaddset(&all_of, order[i]);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n_order; i++)
            on(order[i], h_rec, 0, pass == 0 ? &all_of : NULL);
        reset();
        pthread_sigmask(SIG_BLOCK, &all_of, NULL);
        for (int i = 0; i < n_order; i++)
            kill(getpid(), order[i]);
        printf("seven pending: %s\n", pending_now());
        pthread_sigmask(SIG_UNBLOCK, &all_of, NULL);
        show_order(pass == 0 ? "unblocked at once, handlers block the others" : "unblocked at once, nested handlers");
    }
    for (int i = 0; i < n_order; i++)
        set_handler(order[i], SIG_DFL);

    /* SIGKILL and SIGSTOP cannot be blocked; bad arguments */
    sigset_t ks = set_of(SIGKILL, SIGSTOP, SIGUSR2, 0), old;
    TRY("block SIGKILL SIGSTOP SIGUSR2", sigprocmask(SIG_BLOCK, &ks, NULL));
    printf("blocked: %s\n", blocked_now());
    TRY("SIG_SETMASK none", sigprocmask(SIG_SETMASK, &(sigset_t){0}, &old));
    printf("old mask: %s\n", setstr(&old));
    TRY("sigprocmask how 99", sigprocmask(99, &ks, NULL));
    TRY("sigprocmask how 99 without a set", sigprocmask(99, NULL, &old));
    uint64_t kmask = 0;
    TRY("rt_sigprocmask sigsetsize 4", syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &kmask, 4));
    TRY("rt_sigprocmask bad pointer", syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)8, NULL, 8));
    printf("blocked: %s\n", blocked_now());

    /* a process-directed signal goes to a thread that does not block it */
    on(SIGUSR2, h_rec, 0, NULL);
    reset();
    block(SIGUSR2);
    struct idle d = {0};
    sigset_t all_but = set_of(0);
    sigfillset(&all_but);
    sigdelset(&all_but, SIGUSR2);
    pthread_t t = spawn(idle_fn, &d, &all_but, 0);
    step("kill to the process, taken by the one thread that does not block it");
    wait_until(&d.ready, 1, 5000);
    other_tid = d.tid;
    kill(getpid(), SIGUSR2);
    wait_until(&nrec, 1, 2000);
    d.stop = 1;
    pthread_join(t, NULL);
    printf("kill while main blocks it: %d deliveries\n", nrec);
    show("kill while main blocks it", 0);
    printf("pending in main: %s\n", pending_now());

    /* a thread-directed one stays that thread's */
    reset();
    struct idle d2 = {0};
    t = spawn(idle_fn, &d2, NULL, 0);
    wait_until(&d2.ready, 1, 5000);
    other_tid = d2.tid;
    printf("pthread_kill to a thread that blocks it: %s\n", ename(pthread_kill(t, SIGUSR2)));
    sleep_ms(10);
    printf("pending in main: %s\n", pending_now());
    printf("deliveries: %d\n", nrec);
    d2.stop = 1;
    pthread_join(t, NULL);
    printf("after that thread exited: pending in main %s, %d deliveries\n", pending_now(), nrec);
    unblock(SIGUSR2);
    printf("main unblocks: %d deliveries\n", nrec);
    other_tid = 0;
}

/* --- flags -------------------------------------------------------------- */

static char evlog[256];
static volatile int evlen, depth;

static void ev(const char *what)
{
    int n = (int)strlen(what);
    if (evlen + n + 1 < (int)sizeof evlog) {
        memcpy(evlog + evlen, what, n);
        evlen += n;
        evlog[evlen++] = ' ';
        evlog[evlen] = 0;
    }
}

static void ev_reset(void)
{
    evlen = 0;
    evlog[0] = 0;
    depth = 0;
}

static volatile int nest_raised;

/* SIGUSR1's first run raises SIGUSR1 and SIGUSR2 */
static void h_nest(int sig, siginfo_t *si, void *uc)
{
    char b[16];
    int d = ++depth;
    snprintf(b, sizeof b, "+%s%d", sig == SIGUSR1 ? "a" : "b", d);
    ev(b);
    record(sig, si, uc);
    if (sig == SIGUSR1 && !nest_raised) {
        nest_raised = 1;
        raise(SIGUSR1);
        raise(SIGUSR2);
    }
    snprintf(b, sizeof b, "-%s%d", sig == SIGUSR1 ? "a" : "b", d);
    ev(b);
    depth--;
}

static void h_ucmask(int sig, siginfo_t *si, void *ucv)
{
    record(sig, si, ucv);
    ucontext_t *uc = ucv;
    sigaddset(&uc->uc_sigmask, SIGWINCH); /* sigreturn installs it */
    block(SIGTERM);                       /* and undoes this */
}

static void s_flags(void)
{
    section("flags");
    on(SIGUSR2, h_rec, SA_RESETHAND, NULL);
    raise(SIGUSR2);
    printf("SA_RESETHAND: %d deliveries\n", nrec);
    show("SA_RESETHAND", 0);
    printf("SA_RESETHAND: blocked in the handler: %s\n", setstr(&recs[0].mask));
    yes("SA_RESETHAND: the action in the handler is SIG_DFL", recs[0].action_dfl);
    show_action("SA_RESETHAND: action afterwards", SIGUSR2);

    /* SA_NODEFER: re-entered from itself; without it, the second waits */
    sigset_t usr2 = set_of(SIGUSR2, 0);
    for (int pass = 0; pass < 2; pass++) {
        const char *name = pass ? "without SA_NODEFER" : "SA_NODEFER";
        on(SIGUSR1, h_nest, pass ? 0 : SA_NODEFER, &usr2);
        on(SIGUSR2, h_nest, 0, NULL);
        reset();
        ev_reset();
        nest_raised = 0;
        raise(SIGUSR1);
        printf("%s: %d deliveries, events %s\n", name, nrec, evlog);
        printf("%s: blocked in the first handler: %s\n", name, setstr(&recs[0].mask));
        printf("%s: blocked in the second: %s\n", name, nrec > 1 ? setstr(&recs[1].mask) : "-");
        printf("%s: blocked afterwards: %s\n", name, blocked_now());
    }

    /* sa_mask and the signal itself blocked in the handler, restored after */
    sigset_t m = set_of(SIGUSR2, SIGRTMIN, SIGKILL, 0);
    on(SIGUSR1, h_rec, 0, &m);
    reset();
    block(SIGHUP);
    raise(SIGUSR1);
    printf("sa_mask: blocked in the handler: %s\n", setstr(&recs[0].mask));
    printf("sa_mask: uc_sigmask: %s\n", setstr(&recs[0].ucmask));
    printf("sa_mask: blocked afterwards: %s\n", blocked_now());
    unblock(SIGHUP);

    /* uc_sigmask is what sigreturn installs; the handler's own changes go */
    on(SIGUSR1, h_ucmask, 0, NULL);
    reset();
    raise(SIGUSR1);
    printf("uc_sigmask changed by the handler: blocked afterwards: %s\n", blocked_now());
    unblock(SIGWINCH);

    /* SIG_IGN and default-ignored signals */
    on(SIGUSR1, h_rec, 0, NULL);
    reset();
    set_handler(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    printf("SIG_IGN unblocked: %d deliveries, pending %s\n", nrec, pending_now());
    block(SIGUSR1);
    kill(getpid(), SIGUSR1);
    printf("SIG_IGN blocked: pending %s\n", pending_now());
    unblock(SIGUSR1);
    printf("SIG_IGN unblocked again: pending %s, %d deliveries\n", pending_now(), nrec);

    on(SIGUSR1, h_rec, 0, NULL);
    block(SIGUSR1);
    kill(getpid(), SIGUSR1);
    raise(SIGUSR1);
    printf("handled, blocked: pending %s\n", pending_now());
    set_handler(SIGUSR1, SIG_IGN);
    printf("set to SIG_IGN while pending: pending %s\n", pending_now());
    unblock(SIGUSR1);
    printf("deliveries: %d\n", nrec);

    block(SIGWINCH);
    raise(SIGWINCH);
    printf("SIGWINCH blocked: pending %s\n", pending_now());
    set_handler(SIGWINCH, SIG_DFL);
    printf("SIGWINCH set to SIG_DFL while pending: pending %s\n", pending_now());
    unblock(SIGWINCH);
    raise(SIGWINCH);
    raise(SIGCHLD);
    raise(SIGURG);
    raise(SIGCONT);
    printf("SIGWINCH SIGCHLD SIGURG SIGCONT by default: still running\n");

    /* glibc's signal() is BSD's: SA_RESTART */
    signal(SIGUSR2, SIG_IGN);
    signal(SIGUSR2, h_plain);
    show_action("signal()", SIGUSR2);
    set_handler(SIGUSR2, SIG_DFL);
}

/* --- alternate stacks --------------------------------------------------- */

static char *alt, *alt2;
static volatile int alt_eperm_set, alt_eperm_disable, alt_autodisarm_set;

static int on_alt(const char *p, const char *base) { return p >= base && p < base + ALT_SIZE; }

static void h_alt(int sig, siginfo_t *si, void *uc)
{
    record(sig, si, uc);
    stack_t ss = {.ss_sp = alt2, .ss_size = ALT_SIZE, .ss_flags = 0};
    errno = 0;
    alt_eperm_set = sigaltstack(&ss, NULL) < 0 ? errno : 0;
    ss.ss_flags = SS_DISABLE;
    errno = 0;
    alt_eperm_disable = sigaltstack(&ss, NULL) < 0 ? errno : 0;
    if (sig == SIGUSR1)
        raise(SIGUSR2); /* SA_NODEFER not needed: another signal */
}

static void h_autodisarm(int sig, siginfo_t *si, void *uc)
{
    record(sig, si, uc);
    stack_t ss = {.ss_sp = alt2, .ss_size = ALT_SIZE, .ss_flags = 0};
    errno = 0;
    alt_autodisarm_set = sigaltstack(&ss, NULL) < 0 ? errno : 0;
}

static const char *ssflags(int f)
{
    static char buf[64];
    buf[0] = 0;
    if (f & SS_ONSTACK)
        strcat(buf, "SS_ONSTACK|");
    if (f & SS_DISABLE)
        strcat(buf, "SS_DISABLE|");
    if (f & SS_AUTODISARM)
        strcat(buf, "SS_AUTODISARM|");
    f &= ~(SS_ONSTACK | SS_DISABLE | SS_AUTODISARM);
    if (f)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "0x%x|", f);
    if (!buf[0])
        return "0";
    buf[strlen(buf) - 1] = 0;
    return buf;
}

static void show_ss(const char *name, const stack_t *ss)
{
    const char *where = ss->ss_sp == NULL ? "null" : (char *)ss->ss_sp == alt ? "alt" : (char *)ss->ss_sp == alt2 ? "alt2" : "other";
    printf("%s: sp %s size %zu flags %s\n", name, where, ss->ss_size, ssflags(ss->ss_flags));
}

static void show_altstack(const char *name)
{
    stack_t ss;
    memset(&ss, 0xff, sizeof ss);
    if (sigaltstack(NULL, &ss))
        printf("%s: %s\n", name, ename(errno));
    else
        show_ss(name, &ss);
}

static volatile int deep_sink;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
__attribute__((noipa)) static int recurse(int n) /* until the stack's guard page */
{
    volatile char buf[512];
    buf[0] = (char)n;
    buf[511] = (char)n;
    return recurse(n + 1) + buf[0] + buf[511];
}
#pragma GCC diagnostic pop

struct overflow {
    int initial_flags, caught, in_guard;
    char *guard_lo, *guard_hi;
};

static void *overflow_fn(void *p)
{
    struct overflow *o = p;
    other_tid = tid();
    stack_t ss;
    sigaltstack(NULL, &ss);
    o->initial_flags = ss.ss_flags;
    pthread_attr_t a;
    void *lo;
    size_t size, guard;
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_getguardsize(&a, &guard);
    pthread_attr_destroy(&a);
    o->guard_lo = (char *)lo - guard;
    o->guard_hi = (char *)lo;
    ss.ss_sp = alt2;
    ss.ss_size = ALT_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL))
        return NULL;
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1) == 0) {
        jump_to = &jb;
        deep_sink = recurse(0);
    } else {
        o->caught = 1;
    }
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    return NULL;
}

static void s_altstack(void)
{
    section("altstack");
    show_altstack("initially");
    stack_t ss = {.ss_sp = alt, .ss_size = 1024, .ss_flags = 0};
    TRY("size 1024", sigaltstack(&ss, NULL));
    ss.ss_size = ALT_SIZE;
    ss.ss_flags = 0x10;
    TRY("flags 0x10", sigaltstack(&ss, NULL));
    ss.ss_flags = SS_ONSTACK;
    TRY("flags SS_ONSTACK", sigaltstack(&ss, NULL));
    show_altstack("read back");
    ss.ss_flags = SS_DISABLE;
    ss.ss_size = 0;
    TRY("SS_DISABLE", sigaltstack(&ss, NULL));
    show_altstack("read back");
    TRY("bad pointer", sigaltstack((void *)8, NULL));
    ss.ss_flags = 0;
    ss.ss_size = ALT_SIZE;
    stack_t old;
    TRY("set", sigaltstack(&ss, &old));
    show_ss("old", &old);
    show_altstack("read back");

    /* SIGUSR1 on the altstack raises SIGUSR2, also SA_ONSTACK: nested there */
    on(SIGUSR1, h_alt, SA_ONSTACK, NULL);
    on(SIGUSR2, h_alt, SA_ONSTACK, NULL);
    reset();
    raise(SIGUSR1);
    printf("deliveries: %d\n", nrec);
    if (nrec == 2) {
        yes("SA_ONSTACK handler on the altstack", on_alt(recs[0].sp, alt));
        show_ss("sigaltstack in the handler", &recs[0].ss);
        show_ss("uc_stack", &recs[0].ucstack);
        printf("changing it in the handler: %s\n", ename(alt_eperm_set));
        printf("disabling it in the handler: %s\n", ename(alt_eperm_disable));
        yes("nested handler on the altstack", on_alt(recs[1].sp, alt));
        yes("nested handler below the first", recs[1].sp < recs[0].sp);
        show_ss("nested uc_stack", &recs[1].ucstack);
        show_ss("nested sigaltstack", &recs[1].ss);
    }
    show_altstack("after the handlers");

    on(SIGUSR1, h_rec, 0, NULL);
    reset();
    raise(SIGUSR1);
    yes("handler without SA_ONSTACK on the altstack", nrec == 1 && on_alt(recs[0].sp, alt));
    show_ss("its sigaltstack", &recs[0].ss);

    /* SS_AUTODISARM: off while the handler runs, back after sigreturn */
    ss.ss_flags = SS_AUTODISARM;
    TRY("set SS_AUTODISARM", sigaltstack(&ss, NULL));
    show_altstack("read back");
    on(SIGUSR1, h_autodisarm, SA_ONSTACK, NULL);
    reset();
    raise(SIGUSR1);
    yes("SS_AUTODISARM handler on the altstack", nrec == 1 && on_alt(recs[0].sp, alt));
    show_ss("SS_AUTODISARM sigaltstack in the handler", &recs[0].ss);
    show_ss("SS_AUTODISARM uc_stack", &recs[0].ucstack);
    printf("SS_AUTODISARM changing it in the handler: %s\n", ename(alt_autodisarm_set));
    show_altstack("SS_AUTODISARM after the handler");
    ss.ss_flags = 0;
    TRY("set without SS_AUTODISARM", sigaltstack(&ss, NULL));

    /* a thread starts without one; its stack overflow is caught on its own */
    on(SIGSEGV, h_fault, SA_ONSTACK, NULL);
    reset();
    struct overflow o = {0};
    step("stack overflow in a thread");
    pthread_t t = spawn(overflow_fn, &o, &(sigset_t){0}, 256 * 1024);
    pthread_join(t, NULL);
    printf("new thread's altstack: %s\n", ssflags(o.initial_flags));
    printf("thread stack overflow: %s\n", o.caught ? "caught" : "not caught");
    show("thread stack overflow", 0);
    other_tid = 0;
    yes("thread stack overflow: handler on the thread's altstack", nrec == 1 && on_alt(recs[0].sp, alt2));
    yes("thread stack overflow: si_addr in the guard page",
        nrec == 1 && (char *)recs[0].addr >= o.guard_lo && (char *)recs[0].addr < o.guard_hi);
    show_altstack("main's altstack after that");
}

/* --- faults -------------------------------------------------------------- */

__attribute__((noipa)) static void poke(volatile int *p) { *p = 1; }
__attribute__((noipa)) static int peek(volatile int *p) { return *p; }

/* one fault caught by h_fault: what it saw */
static void fault(const char *name, volatile int *p, int write)
{
    sigjmp_buf jb;
    reset();
    fault_write = -2;
    if (sigsetjmp(jb, 1) == 0) {
        jump_to = &jb;
        if (write)
            poke(p);
        else
            deep_sink = peek(p);
        jump_to = NULL;
        printf("%s: no fault\n", name);
        return;
    }
    show(name, 0);
    yes("  si_addr is the address", recs[0].addr == (void *)p);
    yes("  ucontext's fault address is si_addr", fault_ucaddr == (uintptr_t)recs[0].addr);
    printf("  ucontext says: %s\n", fault_write == 1 ? "write" : fault_write == 0 ? "read" : "nothing");
    yes("  on the altstack", on_alt(recs[0].sp, alt));
    printf("  blocked in the handler: %s\n", setstr(&recs[0].mask));
    printf("  blocked after siglongjmp: %s\n", blocked_now());
}

static void s_faults(void)
{
    section("faults");
    stack_t ss = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    on(SIGSEGV, h_fault, SA_ONSTACK, NULL);
    on(SIGBUS, h_fault, SA_ONSTACK, NULL);
    long page = sysconf(_SC_PAGESIZE);
    char *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *gone = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, page);
    fault("write to PROT_NONE", (int *)(none + 0x10), 1);
    fault("read from PROT_NONE", (int *)(none + 0x20), 0);
    fault("write to PROT_READ", (int *)(ro + 0x30), 1);
    fault("write to an unmapped page", (int *)(gone + 0x40), 1);
    fault("read from an unmapped page", (int *)(gone + 0x48), 0);
    fault("write to 0x10", (int *)0x10, 1);
    TRY("sigaltstack change after leaving a handler by siglongjmp", sigaltstack(&ss, NULL));

    /* a shared mapping of a one-page file, touched on its second page */
    char name[] = "/tmp/sigprobe-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) {
        printf("mkstemp in /tmp: %s\n", ename(errno));
    } else {
        unlink(name);
        if (ftruncate(fd, page) < 0)
            printf("ftruncate: %s\n", ename(errno));
        char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            printf("mmap of a file: %s\n", ename(errno));
        } else {
            m[8] = 1;
            fault("write past the end of a shared file mapping", (int *)(m + page + 8), 1);
            munmap(m, 2 * page);
        }
        m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            printf("private mmap of a file: %s\n", ename(errno));
        } else {
            fault("read past the end of a private file mapping", (int *)(m + page + 16), 0);
            munmap(m, 2 * page);
        }
        close(fd);
    }

    /* sigsetjmp without the mask: the fault's handler left SIGSEGV blocked */
    sigjmp_buf jb;
    reset();
    if (sigsetjmp(jb, 0) == 0) {
        jump_to = &jb;
        poke((int *)none);
    }
    printf("siglongjmp without the saved mask: blocked %s\n", blocked_now());
    unblock(SIGSEGV);

    /* a fault with SIGSEGV ignored is not ignored: tested by die-segv-ignored */
    munmap(none, page);
    munmap(ro, page);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
}

/* the trap instruction and integer division by zero: what Linux gives
 * differs between x86_64 and aarch64 (the test knows how) */
__attribute__((noipa)) static void do_trap(void) { __builtin_trap(); }
__attribute__((noipa)) static int divide(int a, int b) { return a / b; }

static void s_traps(void)
{
    section("traps");
    on(SIGILL, h_fault, 0, NULL);
    on(SIGTRAP, h_fault, 0, NULL);
    on(SIGFPE, h_fault, 0, NULL);
    sigjmp_buf jb;
    reset();
    if (sigsetjmp(jb, 1) == 0) {
        jump_to = &jb;
        do_trap();
        jump_to = NULL;
        printf("trap: no signal\n");
    } else {
        printf("trap: caught %s si_code %s\n", sname(recs[0].sig), cname(recs[0].sig, recs[0].code));
        yes("trap: si_addr is the pc", (uintptr_t)recs[0].addr == fault_pc);
        yes("trap: the pc is in the trapping function",
            fault_pc >= (uintptr_t)do_trap && fault_pc < (uintptr_t)do_trap + 64);
        printf("trap: recovered, blocked %s\n", blocked_now());
    }
    reset();
    if (sigsetjmp(jb, 1) == 0) {
        jump_to = &jb;
        int r = divide(7, 0);
        jump_to = NULL;
        printf("divide by zero: no signal, result %d\n", r);
    } else {
        printf("divide by zero: %s %s\n", sname(recs[0].sig), cname(recs[0].sig, recs[0].code));
        yes("divide by zero: si_addr is the pc", (uintptr_t)recs[0].addr == fault_pc);
    }
}

/* --- the ucontext: read the faulting pc, resume after the instruction ---- */

extern char probe_fault_insn[], probe_fault_next[];
static volatile int resume_calls, resume_pc_ok;

__attribute__((noipa)) static long fault_and_resume(volatile int *p)
{
#if defined(__x86_64__)
    long r = 7;
    __asm__ volatile(".globl probe_fault_insn\n.globl probe_fault_next\n"
                     "probe_fault_insn: movl $42, (%1)\n"
                     "probe_fault_next:\n"
                     : "+a"(r)
                     : "r"(p)
                     : "memory");
    return r;
#elif defined(__aarch64__)
    register long r __asm__("x0") = 7;
    __asm__ volatile(".globl probe_fault_insn\n.globl probe_fault_next\n"
                     "probe_fault_insn: str wzr, [%1]\n"
                     "probe_fault_next:\n"
                     : "+r"(r)
                     : "r"(p)
                     : "memory");
    return r;
#endif
}

static void h_resume(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    record(sig, si, ucv);
    if (++resume_calls > 3) {
        static const char msg[] = "\nsigprobe: the faulting instruction keeps faulting\n";
        write(1, msg, sizeof msg - 1);
        _exit(6);
    }
    resume_pc_ok = uc_pc(uc) == (uintptr_t)probe_fault_insn;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)probe_fault_next;
    uc->uc_mcontext.gregs[REG_RAX] = 1234;
#elif defined(__aarch64__)
    uc->uc_mcontext.pc = (uintptr_t)probe_fault_next;
    uc->uc_mcontext.regs[0] = 1234;
#endif
}

static void s_ucontext(void)
{
    section("ucontext");
    on(SIGSEGV, h_resume, 0, NULL);
    long page = sysconf(_SC_PAGESIZE);
    char *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    reset();
    long r = fault_and_resume((int *)(none + 8));
    printf("handler calls: %d\n", resume_calls);
    show("fault", 0);
    yes("the pc in the ucontext is the faulting instruction", resume_pc_ok);
    printf("resumed after it, with the register the handler set: %ld\n", r);
    munmap(none, page);
}

/* --- registers kept across a handler ------------------------------------- */

long regs_probe(long tgid, long tid, long sig);     /* mismatching registers after tgkill to itself */
long regs_probe_avx(long tgid, long tid, long sig); /* the same with the ymm registers' upper halves */

#if defined(__x86_64__)
__asm__(".text\n"
        ".macro setgpr reg, val\n movabs $\\val, \\reg\n .endm\n"
        ".macro chkgpr reg, val\n movabs $\\val, %r11\n cmp %r11, \\reg\n setne %cl\n movzbl %cl, %ecx\n"
        " add %rcx, %rax\n .endm\n"
        ".globl regs_probe\n.type regs_probe, @function\n"
        "regs_probe:\n"
        " push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        " .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        " movabs $(0x1111111111111111 + 0x0101010101010101 * \\n), %r11\n movq %r11, %xmm\\n\n"
        " pshufd $0x44, %xmm\\n, %xmm\\n\n"
        " .endr\n"
        " setgpr %rbx, 0x0b0b0b0b0b0b0b0b\n setgpr %rbp, 0x0d0d0d0d0d0d0d0d\n"
        " setgpr %r8, 0x0808080808080808\n setgpr %r9, 0x0909090909090909\n setgpr %r10, 0x1010101010101010\n"
        " setgpr %r12, 0x1212121212121212\n setgpr %r13, 0x1313131313131313\n"
        " setgpr %r14, 0x1414141414141414\n setgpr %r15, 0x1515151515151515\n"
        " mov $" "234" ", %eax\n syscall\n" /* tgkill */
        " xor %eax, %eax\n"
        " chkgpr %rbx, 0x0b0b0b0b0b0b0b0b\n chkgpr %rbp, 0x0d0d0d0d0d0d0d0d\n"
        " chkgpr %r8, 0x0808080808080808\n chkgpr %r9, 0x0909090909090909\n chkgpr %r10, 0x1010101010101010\n"
        " chkgpr %r12, 0x1212121212121212\n chkgpr %r13, 0x1313131313131313\n"
        " chkgpr %r14, 0x1414141414141414\n chkgpr %r15, 0x1515151515151515\n"
        " .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        " movabs $(0x1111111111111111 + 0x0101010101010101 * \\n), %rdx\n"
        " movq %xmm\\n, %r11\n cmp %rdx, %r11\n setne %cl\n movzbl %cl, %ecx\n add %rcx, %rax\n"
        " pshufd $0xee, %xmm\\n, %xmm\\n\n"
        " movq %xmm\\n, %r11\n cmp %rdx, %r11\n setne %cl\n movzbl %cl, %ecx\n add %rcx, %rax\n"
        " .endr\n"
        " pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n"
        ".size regs_probe, .-regs_probe\n"

        ".globl regs_probe_avx\n.type regs_probe_avx, @function\n"
        "regs_probe_avx:\n"
        " sub $40, %rsp\n"
        " .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        " movabs $(0x2121212121212121 + 0x0101010101010101 * \\n), %r11\n mov %r11, (%rsp)\n"
        " vbroadcastsd (%rsp), %ymm\\n\n"
        " .endr\n"
        " mov $" "234" ", %eax\n syscall\n"
        " xor %eax, %eax\n"
        " .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        " movabs $(0x2121212121212121 + 0x0101010101010101 * \\n), %rdx\n"
        " vmovdqu %ymm\\n, (%rsp)\n"
        " .irp q, 0,8,16,24\n"
        " cmp \\q(%rsp), %rdx\n setne %cl\n movzbl %cl, %ecx\n add %rcx, %rax\n"
        " .endr\n"
        " .endr\n"
        " vzeroupper\n"
        " add $40, %rsp\n ret\n"
        ".size regs_probe_avx, .-regs_probe_avx\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl regs_probe\n.type regs_probe, %function\n"
        "regs_probe:\n"
        " stp x29, x30, [sp, #-160]!\n stp x19, x20, [sp, #16]\n stp x21, x22, [sp, #32]\n"
        " stp x23, x24, [sp, #48]\n stp x25, x26, [sp, #64]\n stp x27, x28, [sp, #80]\n"
        " stp d8, d9, [sp, #96]\n stp d10, d11, [sp, #112]\n stp d12, d13, [sp, #128]\n stp d14, d15, [sp, #144]\n"
        " .irp r, 3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28\n"
        " ldr x\\r, =(0x0101010101010101 * \\r + 0x0f)\n"
        " .endr\n"
        " .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
        " ldr x30, =(0x1111111111111111 + 0x0101010101010101 * \\v)\n fmov d\\v, x30\n"
        " ldr x30, =(0x2222222222222222 + \\v)\n mov v\\v\\().d[1], x30\n"
        " .endr\n"
        " mov x8, #131\n svc #0\n" /* tgkill */
        " mov x29, #0\n"
        " .irp r, 3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28\n"
        " ldr x30, =(0x0101010101010101 * \\r + 0x0f)\n cmp x\\r, x30\n cinc x29, x29, ne\n"
        " .endr\n"
        " .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
        " ldr x8, =(0x1111111111111111 + 0x0101010101010101 * \\v)\n fmov x30, d\\v\n cmp x30, x8\n"
        " cinc x29, x29, ne\n"
        " ldr x8, =(0x2222222222222222 + \\v)\n mov x30, v\\v\\().d[1]\n cmp x30, x8\n cinc x29, x29, ne\n"
        " .endr\n"
        " mov x0, x29\n"
        " ldp d8, d9, [sp, #96]\n ldp d10, d11, [sp, #112]\n ldp d12, d13, [sp, #128]\n ldp d14, d15, [sp, #144]\n"
        " ldp x19, x20, [sp, #16]\n ldp x21, x22, [sp, #32]\n ldp x23, x24, [sp, #48]\n"
        " ldp x25, x26, [sp, #64]\n ldp x27, x28, [sp, #80]\n"
        " ldp x29, x30, [sp], #160\n ret\n"
        " .ltorg\n"
        ".size regs_probe, .-regs_probe\n");
long regs_probe_avx(long a, long b, long c) { return regs_probe(a, b, c); }
#endif

static volatile int clobbered, have_avx;

/* a handler that changes every register it can, and the rounding mode */
static void h_clobber(int sig)
{
    (void)sig;
    clobbered++;
#if defined(__x86_64__)
    __asm__ volatile("pxor %%xmm0, %%xmm0\n pxor %%xmm1, %%xmm1\n pxor %%xmm2, %%xmm2\n pxor %%xmm3, %%xmm3\n"
                     "pxor %%xmm4, %%xmm4\n pxor %%xmm5, %%xmm5\n pxor %%xmm6, %%xmm6\n pxor %%xmm7, %%xmm7\n"
                     "pxor %%xmm8, %%xmm8\n pxor %%xmm9, %%xmm9\n pxor %%xmm10, %%xmm10\n pxor %%xmm11, %%xmm11\n"
                     "pxor %%xmm12, %%xmm12\n pxor %%xmm13, %%xmm13\n pxor %%xmm14, %%xmm14\n pxor %%xmm15, %%xmm15\n"
                     "xor %%r8d, %%r8d\n xor %%r9d, %%r9d\n xor %%r10d, %%r10d\n xor %%r11d, %%r11d\n"
                     "xor %%ebx, %%ebx\n xor %%r12d, %%r12d\n xor %%r13d, %%r13d\n xor %%r14d, %%r14d\n"
                     "xor %%r15d, %%r15d\n xor %%edi, %%edi\n xor %%esi, %%esi\n xor %%edx, %%edx\n"
                     ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                     "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "r8", "r9", "r10", "r11", "rbx", "r12", "r13",
                     "r14", "r15", "rdi", "rsi", "rdx", "memory");
    if (have_avx)
        __asm__ volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                         "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    unsigned csr = 0x1f80 | 0x6000; /* round toward zero */
    __asm__ volatile("ldmxcsr %0" ::"m"(csr));
#elif defined(__aarch64__)
    __asm__ volatile("movi v0.16b, #0\n movi v1.16b, #0\n movi v2.16b, #0\n movi v3.16b, #0\n"
                     "movi v4.16b, #0\n movi v5.16b, #0\n movi v6.16b, #0\n movi v7.16b, #0\n"
                     "movi v8.16b, #0\n movi v9.16b, #0\n movi v10.16b, #0\n movi v11.16b, #0\n"
                     "movi v12.16b, #0\n movi v13.16b, #0\n movi v14.16b, #0\n movi v15.16b, #0\n"
                     "movi v16.16b, #0\n movi v17.16b, #0\n movi v18.16b, #0\n movi v19.16b, #0\n"
                     "movi v20.16b, #0\n movi v21.16b, #0\n movi v22.16b, #0\n movi v23.16b, #0\n"
                     "movi v24.16b, #0\n movi v25.16b, #0\n movi v26.16b, #0\n movi v27.16b, #0\n"
                     "movi v28.16b, #0\n movi v29.16b, #0\n movi v30.16b, #0\n movi v31.16b, #0\n"
                     "mov x3, #0\n mov x4, #0\n mov x5, #0\n mov x6, #0\n mov x7, #0\n mov x9, #0\n"
                     "mov x10, #0\n mov x11, #0\n mov x12, #0\n mov x13, #0\n mov x14, #0\n mov x15, #0\n"
                     "mov x16, #0\n mov x17, #0\n mov x19, #0\n mov x20, #0\n mov x21, #0\n mov x22, #0\n"
                     "mov x23, #0\n mov x24, #0\n mov x25, #0\n mov x26, #0\n mov x27, #0\n mov x28, #0\n"
                     ::: "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",
                     "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26",
                     "v27", "v28", "v29", "v30", "v31", "x3", "x4", "x5", "x6", "x7", "x9", "x10", "x11", "x12",
                     "x13", "x14", "x15", "x16", "x17", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26",
                     "x27", "x28", "memory");
    unsigned long fpcr = 3ul << 22; /* round toward zero */
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr));
#endif
}

static unsigned long get_rounding(void)
{
#if defined(__x86_64__)
    unsigned csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    return (csr >> 13) & 3;
#elif defined(__aarch64__)
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (fpcr >> 22) & 3;
#endif
}

static void set_round_up(int up)
{
#if defined(__x86_64__)
    unsigned csr = 0x1f80 | (up ? 0x4000 : 0);
    __asm__ volatile("ldmxcsr %0" ::"m"(csr));
#elif defined(__aarch64__)
    unsigned long fpcr = up ? 1ul << 22 : 0;
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr));
#endif
}

static void s_registers(void)
{
    section("registers");
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx");
#endif
    set_handler(SIGUSR1, h_clobber);
    clobbered = 0;
    long bad = regs_probe(getpid(), tid(), SIGUSR1);
    printf("handler ran: %d\n", clobbered);
    printf("general and vector registers changed across the handler: %ld\n", bad);
    if (have_avx) {
        bad = regs_probe_avx(getpid(), tid(), SIGUSR1);
        printf("256-bit registers changed across the handler: %ld\n", bad);
    } else {
        printf("256-bit registers changed across the handler: 0\n"); /* none to change */
    }
    int before = clobbered;
    set_round_up(1);
    raise(SIGUSR1);
    unsigned long mode = get_rounding();
    set_round_up(0);
    printf("handler ran: %d\n", clobbered - before);
#if defined(__x86_64__)
    yes("rounding mode kept across the handler", mode == 2); /* MXCSR RC: up */
#else
    yes("rounding mode kept across the handler", mode == 1); /* FPCR RMode: RP */
#endif
    /* floating point in the interrupted code and the handler at once */
    volatile double acc = 0;
    for (int i = 1; i <= 200; i++) {
        acc += 1.0 / i;
        if (i % 50 == 0)
            raise(SIGUSR1);
    }
    printf("harmonic sum with handlers in between: %.12f\n", acc);
}

/* --- EINTR and SA_RESTART ------------------------------------------------- */

enum op { OP_READ, OP_NANOSLEEP, OP_CLOCK_NANOSLEEP_ABS, OP_POLL_INF, OP_POLL_TIMEOUT, OP_SELECT, OP_EPOLL,
          OP_SEM, OP_SIGTIMEDWAIT, OP_SIGWAITINFO_USR1 };

static int pfd[2];
static sem_t sem;

struct blocker {
    enum op op;
    volatile int ready, done;
    long rc;
    int err, handled_before;
    char buf[16];
    struct timespec rem;
};

static void *blocker_fn(void *p)
{
    struct blocker *b = p;
    other_tid = tid();
    b->ready = 1;
    errno = 0;
    switch (b->op) {
    case OP_READ:
        b->rc = read(pfd[0], b->buf, sizeof b->buf - 1);
        break;
    case OP_NANOSLEEP: {
        struct timespec ts = {1, 0};
        b->rc = nanosleep(&ts, &b->rem);
        break;
    }
    case OP_CLOCK_NANOSLEEP_ABS: {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        int e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        b->rc = e ? -1 : 0;
        errno = e;
        break;
    }
    case OP_POLL_INF: {
        struct pollfd q = {.fd = pfd[0], .events = POLLIN};
        b->rc = poll(&q, 1, -1);
        break;
    }
    case OP_POLL_TIMEOUT: {
        struct pollfd q = {.fd = pfd[0], .events = POLLIN};
        b->rc = poll(&q, 1, 1000);
        break;
    }
    case OP_SELECT: {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(pfd[0], &r);
        struct timeval tv = {1, 0};
        b->rc = select(pfd[0] + 1, &r, NULL, NULL, &tv);
        break;
    }
    case OP_EPOLL: {
        int ep = epoll_create1(0);
        struct epoll_event e = {.events = EPOLLIN};
        epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &e);
        b->rc = epoll_wait(ep, &e, 1, 1000);
        int keep = errno;
        close(ep);
        errno = keep;
        break;
    }
    case OP_SEM:
        b->rc = sem_wait(&sem);
        break;
    case OP_SIGTIMEDWAIT: {
        sigset_t s = set_of(SIGUSR2, 0);
        struct timespec ts = {1, 0};
        b->rc = sigtimedwait(&s, NULL, &ts);
        break;
    }
    case OP_SIGWAITINFO_USR1: {
        sigset_t s = set_of(SIGUSR1, 0);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        b->rc = sigwaitinfo(&s, &si);
        b->err = errno;
        b->handled_before = si.si_code; /* reused: the code */
        b->done = 1;
        return NULL;
    }
    }
    b->err = errno;
    b->handled_before = nrec;
    b->done = 1;
    return NULL;
}

/* What a blocking call in another thread returns when that thread gets sig
 * (with the flags) while it waits. release: after the handler, make the
 * call able to finish (data in the pipe, a semaphore post). */
static void interrupt(const char *name, enum op op, int sig, int flags, int release)
{
    char stepname[128];
    snprintf(stepname, sizeof stepname, "interrupt %s", name);
    step(stepname);
    if (sig != SIGWINCH)
        on(sig, h_rec, flags, NULL);
    reset();
    pipe(pfd);
    sem_init(&sem, 0, 0);
    struct blocker b = {.op = op};
    sigset_t mask = set_of(0);
    if (op == OP_SIGTIMEDWAIT)
        sigaddset(&mask, SIGUSR2);
    pthread_t t = spawn(blocker_fn, &b, &mask, 0);
    wait_until(&b.ready, 1, 5000);
    sleep_ms(20); /* into the call */
    pthread_kill(t, sig);
    if (sig == SIGWINCH)
        sleep_ms(20);
    else
        wait_until(&nrec, 1, 2000);
    if (release) {
        sleep_ms(10);
        if (op == OP_SEM)
            sem_post(&sem);
        else
            write(pfd[1], "data", 4);
    }
    if (!wait_until(&b.done, 1, 2000)) {
        printf("%s: still waiting after the signal\n", name);
        write(pfd[1], "late", 4); /* let it end */
        sem_post(&sem);
        wait_until(&b.done, 1, 5000);
    }
    pthread_join(t, NULL);
    if (b.rc < 0)
        printf("%s: %ld %s", name, b.rc, ename(b.err));
    else if (op == OP_READ)
        printf("%s: %ld \"%.*s\"", name, b.rc, (int)b.rc, b.buf);
    else
        printf("%s: %ld", name, b.rc);
    printf(", handler ran %d before it returned", b.handled_before);
    if (nrec)
        printf(" in %s", who(recs[0].tid));
    if (op == OP_NANOSLEEP && b.rc < 0)
        printf(", remaining between 0 and 1 s: %s",
               (b.rem.tv_sec == 0 && b.rem.tv_nsec > 0) ? "yes" : "no");
    printf("\n");
    close(pfd[0]);
    close(pfd[1]);
    sem_destroy(&sem);
    other_tid = 0;
}

static void s_restart(void)
{
    section("restart");
    interrupt("read without SA_RESTART", OP_READ, SIGUSR1, 0, 0);
    interrupt("read with SA_RESTART", OP_READ, SIGUSR1, SA_RESTART, 1);
    interrupt("read and a default-ignored signal", OP_READ, SIGWINCH, 0, 1);
    interrupt("nanosleep without SA_RESTART", OP_NANOSLEEP, SIGUSR1, 0, 0);
    interrupt("nanosleep with SA_RESTART", OP_NANOSLEEP, SIGUSR1, SA_RESTART, 0);
    interrupt("clock_nanosleep TIMER_ABSTIME with SA_RESTART", OP_CLOCK_NANOSLEEP_ABS, SIGUSR1, SA_RESTART, 0);
    interrupt("poll without a timeout with SA_RESTART", OP_POLL_INF, SIGUSR1, SA_RESTART, 0);
    interrupt("poll with a timeout with SA_RESTART", OP_POLL_TIMEOUT, SIGUSR1, SA_RESTART, 0);
    interrupt("select with SA_RESTART", OP_SELECT, SIGUSR1, SA_RESTART, 0);
    interrupt("epoll_wait with SA_RESTART", OP_EPOLL, SIGUSR1, SA_RESTART, 0);
    interrupt("sem_wait without SA_RESTART", OP_SEM, SIGUSR1, 0, 0);
    interrupt("sem_wait with SA_RESTART", OP_SEM, SIGUSR1, SA_RESTART, 1);
    interrupt("sigtimedwait and another signal with SA_RESTART", OP_SIGTIMEDWAIT, SIGUSR1, SA_RESTART, 0);
}

/* --- sigsuspend, pause ---------------------------------------------------- */

struct sender {
    pthread_t to;
    int sig, ms, process;
};

static void *sender_fn(void *p)
{
    struct sender *s = p;
    sleep_ms(s->ms);
    if (s->process)
        kill(getpid(), s->sig);
    else
        pthread_kill(s->to, s->sig);
    return NULL;
}

static void s_suspend(void)
{
    section("suspend");
    on(SIGUSR1, h_rec, 0, NULL);
    on(SIGUSR2, h_rec, 0, NULL);
    block(SIGUSR1);
    raise(SIGUSR1);
    sigset_t empty = set_of(0);
    errno = 0;
    int rc = sigsuspend(&empty);
    printf("sigsuspend with SIGUSR1 pending: %d %s, %d deliveries\n", rc, ename(errno), nrec);
    printf("  uc_sigmask: %s\n", setstr(&recs[0].ucmask));
    printf("  blocked in the handler: %s\n", setstr(&recs[0].mask));
    printf("  blocked afterwards: %s\n", blocked_now());

    reset();
    step("sigsuspend until another thread sends");
    struct sender s = {.to = pthread_self(), .sig = SIGUSR1, .ms = 20};
    pthread_t t = spawn(sender_fn, &s, NULL, 0);
    errno = 0;
    rc = sigsuspend(&empty);
    printf("sigsuspend until another thread sends: %d %s, %d deliveries\n", rc, ename(errno), nrec);
    show("  it", 0);
    pthread_join(t, NULL);

    /* the mask sigsuspend sets blocks what it names */
    reset();
    step("sigsuspend with SIGUSR2 in its mask");
    sigset_t usr2 = set_of(SIGUSR2, 0);
    block(SIGUSR2);
    raise(SIGUSR2);
    struct sender s2 = {.to = pthread_self(), .sig = SIGUSR1, .ms = 20};
    t = spawn(sender_fn, &s2, NULL, 0);
    errno = 0;
    rc = sigsuspend(&usr2);
    printf("sigsuspend blocking SIGUSR2 while it is pending: %d %s, deliveries:", rc, ename(errno));
    for (int i = 0; i < nrec; i++)
        printf(" %s", sname(recs[i].sig));
    printf("\n");
    pthread_join(t, NULL);
    printf("  pending afterwards: %s\n", pending_now());
    unblock(SIGUSR2);
    printf("  after unblocking: %d deliveries\n", nrec);
    unblock(SIGUSR1);

    /* the calls that take a mask for their wait, as sigsuspend does */
    for (int k = 0; k < 3; k++) {
        static const char *names[] = {"ppoll", "pselect", "epoll_pwait"};
        reset();
        block(SIGUSR1);
        raise(SIGUSR1);
        struct timespec ts = {1, 0};
        errno = 0;
        if (k == 0) {
            rc = ppoll(NULL, 0, &ts, &empty);
        } else if (k == 1) {
            rc = pselect(0, NULL, NULL, NULL, &ts, &empty);
        } else {
            int ep = epoll_create1(0);
            struct epoll_event e;
            rc = epoll_pwait(ep, &e, 1, 1000, &empty);
            int keep = errno;
            close(ep);
            errno = keep;
        }
        printf("%s unblocking a pending SIGUSR1: %d %s, %d deliveries, blocked afterwards %s\n", names[k], rc,
               ename(errno), nrec, blocked_now());
        printf("  uc_sigmask: %s\n", nrec ? setstr(&recs[0].ucmask) : "-");
        unblock(SIGUSR1);
    }

    reset();
    step("pause");
    struct sender s3 = {.to = pthread_self(), .sig = SIGUSR1, .ms = 20, .process = 1};
    t = spawn(sender_fn, &s3, NULL, 0);
    errno = 0;
    rc = pause();
    printf("pause until a kill from another thread: %d %s, %d deliveries\n", rc, ename(errno), nrec);
    show("  it", 0);
    pthread_join(t, NULL);
}

/* --- sigtimedwait, sigwaitinfo, sigwait ----------------------------------- */

static void s_sigwait(void)
{
    section("sigwait");
    on(SIGUSR1, h_rec, 0, NULL);
    sigset_t usr1 = set_of(SIGUSR1, 0);
    block(SIGUSR1);
    siginfo_t si;
    struct timespec zero = {0, 0}, short_wait = {0, 20000000};
    VAL("sigtimedwait with a zero timeout", sigtimedwait(&usr1, &si, &zero));
    VAL("sigtimedwait for 20 ms", sigtimedwait(&usr1, &si, &short_wait));
    struct timespec bad = {0, 1000000000};
    VAL("sigtimedwait with tv_nsec 1e9", sigtimedwait(&usr1, &si, &bad));
    sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 5});
    memset(&si, 0, sizeof si);
    int rc = sigtimedwait(&usr1, &si, &zero);
    printf("sigtimedwait with SIGUSR1 pending: %s, si_signo %s si_code %s value %d pid %s uid %s\n",
           rc > 0 ? sname(rc) : ename(errno), sname(si.si_signo), cname(si.si_signo, si.si_code),
           si.si_value.sival_int, si.si_pid == getpid() ? "self" : "other", si.si_uid == getuid() ? "self" : "other");
    printf("handler ran: %d, pending after: %s\n", nrec, pending_now());

    int rt = SIGRTMIN + 3;
    block(rt);
    sigset_t both = set_of(rt, SIGUSR1, 0);
    sigqueue(getpid(), rt, (union sigval){.sival_int = 10});
    sigqueue(getpid(), rt, (union sigval){.sival_int = 20});
    kill(getpid(), SIGUSR1);
    printf("sigwaitinfo three pending:");
    for (int i = 0; i < 3; i++) {
        memset(&si, 0, sizeof si);
        rc = sigwaitinfo(&both, &si);
        printf(" %s/%s/%d", rc > 0 ? sname(rc) : ename(errno), cname(si.si_signo, si.si_code),
               si.si_code == SI_QUEUE ? si.si_value.sival_int : 0);
    }
    printf("\n");

    /* the thread's own pending signals come before the process's */
    sigset_t two = set_of(SIGINT, SIGUSR2, 0);
    pthread_sigmask(SIG_BLOCK, &two, NULL);
    kill(getpid(), SIGINT);
    raise(SIGUSR2);
    printf("sigwaitinfo process SIGINT and thread SIGUSR2:");
    for (int i = 0; i < 2; i++) {
        rc = sigwaitinfo(&two, &si);
        printf(" %s", rc > 0 ? sname(rc) : ename(errno));
    }
    printf("\n");

    int sig = 0;
    raise(SIGUSR1);
    rc = sigwait(&usr1, &sig);
    printf("sigwait: %d %s\n", rc, sname(sig));

    /* a signal sent while waiting */
    step("sigtimedwait for a signal another thread sends");
    struct sender s = {.to = pthread_self(), .sig = SIGUSR1, .ms = 20};
    pthread_t t = spawn(sender_fn, &s, NULL, 0);
    struct timespec two_s = {2, 0};
    memset(&si, 0, sizeof si);
    rc = sigtimedwait(&usr1, &si, &two_s);
    printf("sigtimedwait for a signal another thread sends: %s %s\n", rc > 0 ? sname(rc) : ename(errno),
           cname(si.si_signo, si.si_code));
    pthread_join(t, NULL);

    /* a thread that waits in sigwaitinfo takes a kill to the process
     * (every thread blocks the signal: the common signal-thread pattern) */
    step("a signal thread in sigwaitinfo");
    struct blocker b = {.op = OP_SIGWAITINFO_USR1};
    t = spawn(blocker_fn, &b, NULL, 0);
    wait_until(&b.ready, 1, 5000);
    sleep_ms(20);
    kill(getpid(), SIGUSR1);
    if (!wait_until(&b.done, 1, 3000)) {
        printf("a thread in sigwaitinfo and a kill to the process: still waiting\n");
        pthread_kill(t, SIGUSR1); /* to the thread itself, to end it */
        wait_until(&b.done, 1, 5000);
    }
    pthread_join(t, NULL);
    printf("a thread in sigwaitinfo and a kill to the process: %s %s\n",
           b.rc > 0 ? sname((int)b.rc) : ename(b.err), b.rc > 0 ? cname((int)b.rc, b.handled_before) : "");
    printf("pending in main afterwards: %s\n", pending_now());

    /* waiting for a signal that is not blocked: it is taken all the same */
    unblock(SIGUSR1);
    step("sigtimedwait for an unblocked signal");
    s.ms = 20;
    t = spawn(sender_fn, &s, NULL, 0);
    reset();
    rc = sigtimedwait(&usr1, &si, &two_s);
    printf("sigtimedwait for an unblocked signal: %s, handler ran %d\n", rc > 0 ? sname(rc) : ename(errno), nrec);
    pthread_join(t, NULL);
}

/* --- interval timers, alarm ---------------------------------------------- */

static void s_itimer(void)
{
    section("itimer");
    on(SIGALRM, h_rec, 0, NULL);
    struct itimerval it = {{0, 0}, {0, 50000}}, cur, old;
    VAL("getitimer ITIMER_REAL unarmed", getitimer(ITIMER_REAL, &cur));
    printf("  value %ld.%06ld interval %ld.%06ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec,
           (long)cur.it_interval.tv_sec, (long)cur.it_interval.tv_usec);
    errno = 0;
    if (setitimer(ITIMER_REAL, &it, NULL) < 0) {
        printf("setitimer ITIMER_REAL 50 ms: %s\n", ename(errno));
    } else {
        printf("setitimer ITIMER_REAL 50 ms: ok\n");
        getitimer(ITIMER_REAL, &cur);
        long us = cur.it_value.tv_sec * 1000000L + cur.it_value.tv_usec;
        printf("getitimer while armed: %s\n", us > 0 && us <= 50000 ? "armed" : "wrong");
        step("pause until ITIMER_REAL fires");
        errno = 0;
        int rc = pause();
        printf("pause: %d %s, %d deliveries\n", rc, ename(errno), nrec);
        show("ITIMER_REAL", 0);
        getitimer(ITIMER_REAL, &cur);
        printf("getitimer after it fired: %s\n",
               cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0 ? "disarmed" : "armed");

        reset();
        struct itimerval periodic = {{0, 10000}, {0, 10000}};
        setitimer(ITIMER_REAL, &periodic, NULL);
        step("periodic ITIMER_REAL");
        int ok = wait_until(&nrec, 3, 3000);
        memset(&old, 0, sizeof old);
        setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 0}}, &old);
        printf("periodic 10 ms: at least 3 deliveries: %s\n", ok ? "yes" : "no");
        printf("  old interval %ld.%06ld, old value %s\n", (long)old.it_interval.tv_sec,
               (long)old.it_interval.tv_usec, old.it_value.tv_sec == 0 && old.it_value.tv_usec > 0 && old.it_value.tv_usec <= 10000 ? "within the interval" : "wrong");
        int n = nrec;
        sleep_ms(30);
        printf("  after disarming: %s\n", nrec == n ? "no more" : "more");
    }
    VAL("alarm(5)", alarm(5));
    getitimer(ITIMER_REAL, &cur);
    printf("getitimer after alarm(5): %s\n", cur.it_value.tv_sec == 4 && cur.it_interval.tv_sec == 0 ? "4.x s" : "wrong");
    VAL("alarm(0)", alarm(0));
    VAL("alarm(0) again", alarm(0));
    VAL("getitimer which 99", getitimer(99, &cur));
    VAL("setitimer which 99", setitimer(99, &it, NULL));
    struct itimerval badit = {{0, 0}, {0, 1000000}};
    VAL("setitimer tv_usec 1000000", setitimer(ITIMER_REAL, &badit, NULL));
    badit.it_value.tv_usec = -1;
    VAL("setitimer tv_usec -1", setitimer(ITIMER_REAL, &badit, NULL));

    /* CPU time: a busy loop, bounded by the wall clock */
    int which[] = {ITIMER_VIRTUAL, ITIMER_PROF}, sigs[] = {SIGVTALRM, SIGPROF};
    const char *names[] = {"ITIMER_VIRTUAL", "ITIMER_PROF"};
    for (int k = 0; k < 2; k++) {
        on(sigs[k], h_rec, 0, NULL);
        reset();
        char label[64];
        snprintf(label, sizeof label, "setitimer %s 10 ms", names[k]);
        errno = 0;
        if (setitimer(which[k], &(struct itimerval){{0, 0}, {0, 10000}}, NULL) < 0) {
            printf("%s: %s\n", label, ename(errno));
            continue;
        }
        printf("%s: ok\n", label);
        step(label);
        long long end = now_ns() + 2000000000LL;
        volatile unsigned long spin = 0;
        while (nrec == 0 && now_ns() < end)
            spin++;
        printf("%s: fired within 2 s of busy loop: %s\n", names[k], nrec ? "yes" : "no");
        show(names[k], 0);
        getitimer(which[k], &cur);
        printf("%s after it fired: %s\n", names[k],
               cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0 ? "disarmed" : "armed");
    }
}

/* --- POSIX timers --------------------------------------------------------- */

static volatile int thread_fn_value, thread_fn_calls;
static void timer_thread_fn(union sigval v)
{
    thread_fn_value = v.sival_int;
    __atomic_fetch_add(&thread_fn_calls, 1, __ATOMIC_SEQ_CST);
}

static void show_timer_rec(const char *name, int i, int kid)
{
    if (i >= nrec) {
        printf("%s: not delivered\n", name);
        return;
    }
    struct rec *r = &recs[i];
    printf("%s: %s %s value %d overrun %d in %s", name, sname(r->sig), cname(r->sig, r->code), r->value,
           r->overrun, who(r->tid));
    if (kid >= 0)
        printf(", si_timerid is the timer's id: %s", r->timerid == kid ? "yes" : "no");
    printf("\n");
}

static void *overrun_handler_timer;
static void h_disarm(int sig, siginfo_t *si, void *uc)
{
    record(sig, si, uc);
    struct itimerspec zero = {{0, 0}, {0, 0}};
    timer_settime((timer_t)overrun_handler_timer, 0, &zero, NULL);
}

static void s_timers(void)
{
    section("timers");
    int sig = SIGRTMIN + 4;
    on(sig, h_rec, 0, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = sig;
    ev.sigev_value.sival_int = 42;
    int kid = -1;
    errno = 0;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &kid) < 0) {
        printf("timer_create: %s\n", ename(errno));
        return;
    }
    printf("timer_create: ok\n");
    struct itimerspec its = {{0, 0}, {0, 20000000}}, cur;
    TRY("timer_gettime unarmed", syscall(SYS_timer_gettime, kid, &cur));
    printf("  value %ld.%09ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
    TRY("timer_settime 20 ms", syscall(SYS_timer_settime, kid, 0, &its, NULL));
    syscall(SYS_timer_gettime, kid, &cur);
    printf("timer_gettime while armed: %s\n",
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20000000 ? "armed" : "wrong");
    step("one-shot timer");
    wait_until(&nrec, 1, 3000);
    sleep_ms(30);
    printf("one-shot: %d deliveries\n", nrec);
    show_timer_rec("one-shot", 0, kid);
    syscall(SYS_timer_gettime, kid, &cur);
    printf("timer_gettime after it fired: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "disarmed" : "armed");

    reset();
    struct itimerspec per = {{0, 10000000}, {0, 10000000}}, old;
    TRY("timer_settime periodic 10 ms", syscall(SYS_timer_settime, kid, 0, &per, NULL));
    step("periodic timer");
    int ok = wait_until(&nrec, 3, 3000);
    memset(&old, 0, sizeof old);
    syscall(SYS_timer_settime, kid, 0, &(struct itimerspec){{0, 0}, {0, 0}}, &old);
    printf("periodic: at least 3 deliveries: %s\n", ok ? "yes" : "no");
    show_timer_rec("periodic", 0, kid);
    printf("  old interval %ld.%09ld\n", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    int n = nrec;
    sleep_ms(30);
    printf("  after disarming: %s\n", nrec == n ? "no more" : "more");
    TRY("timer_delete", syscall(SYS_timer_delete, kid));
    TRY("timer_settime after timer_delete", syscall(SYS_timer_settime, kid, 0, &its, NULL));
    TRY("timer_getoverrun after timer_delete", syscall(SYS_timer_getoverrun, kid));
    TRY("timer_delete again", syscall(SYS_timer_delete, kid));

    /* through glibc */
    timer_t t;
    TRY("timer_create clock 99", timer_create(99, &ev, &t));
    ev.sigev_notify = 99;
    TRY("timer_create sigev_notify 99", timer_create(CLOCK_MONOTONIC, &ev, &t));
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = 65;
    TRY("timer_create signal 65", timer_create(CLOCK_MONOTONIC, &ev, &t));

    /* absolute time, CLOCK_REALTIME */
    reset();
    ev.sigev_signo = sig;
    ev.sigev_value.sival_int = 43;
    if (timer_create(CLOCK_REALTIME, &ev, &t) == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        now.tv_nsec += 20000000;
        if (now.tv_nsec >= 1000000000) {
            now.tv_sec++;
            now.tv_nsec -= 1000000000;
        }
        struct itimerspec abs = {{0, 0}, now};
        TRY("timer_settime CLOCK_REALTIME TIMER_ABSTIME +20 ms", timer_settime(t, TIMER_ABSTIME, &abs, NULL));
        step("absolute timer");
        wait_until(&nrec, 1, 3000);
        show_timer_rec("absolute", 0, -1);
        struct itimerspec past = {{0, 0}, {1, 0}};
        reset();
        TRY("timer_settime TIMER_ABSTIME in the past", timer_settime(t, TIMER_ABSTIME, &past, NULL));
        wait_until(&nrec, 1, 3000);
        printf("  a time in the past fires at once: %d deliveries\n", nrec);
        TRY("timer_settime tv_nsec 1e9", timer_settime(t, 0, &(struct itimerspec){{0, 0}, {0, 1000000000}}, NULL));
        timer_delete(t);
    } else {
        printf("timer_create CLOCK_REALTIME: %s\n", ename(errno));
    }

    /* SIGEV_NONE: runs, is read, signals nothing */
    reset();
    ev.sigev_notify = SIGEV_NONE;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) == 0) {
        timer_settime(t, 0, &its, NULL);
        timer_gettime(t, &cur);
        printf("SIGEV_NONE while armed: %s\n", cur.it_value.tv_nsec > 0 ? "armed" : "wrong");
        sleep_ms(40);
        timer_gettime(t, &cur);
        printf("SIGEV_NONE after expiry: %s, %d deliveries\n",
               cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "disarmed" : "armed", nrec);
        timer_delete(t);
    } else {
        printf("timer_create SIGEV_NONE: %s\n", ename(errno));
    }

    /* overruns: periodic while blocked, one delivery; the handler disarms */
    on(sig, h_disarm, 0, NULL);
    reset();
    ev.sigev_notify = SIGEV_SIGNAL;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) == 0) {
        overrun_handler_timer = (void *)t;
        block(sig);
        timer_settime(t, 0, &(struct itimerspec){{0, 5000000}, {0, 5000000}}, NULL);
        step("overruns");
        sleep_ms(60);
        printf("periodic while blocked: pending %s\n", pending_now());
        unblock(sig);
        sleep_ms(20);
        printf("periodic while blocked: %d deliveries, overrun > 0: %s\n", nrec,
               nrec && recs[0].overrun > 0 ? "yes" : "no");
        timer_delete(t);
    } else {
        printf("timer_create for overruns: %s\n", ename(errno));
    }
    on(sig, h_rec, 0, NULL);

    /* SIGEV_THREAD_ID: to one thread, which does not block it; main does not either */
    reset();
    struct idle d = {0};
    pthread_t th = spawn(idle_fn, &d, &(sigset_t){0}, 0);
    wait_until(&d.ready, 1, 5000);
    other_tid = d.tid;
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev._sigev_un._tid = d.tid;
    ev.sigev_value.sival_int = 44;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) == 0) {
        timer_settime(t, 0, &its, NULL);
        step("SIGEV_THREAD_ID");
        wait_until(&nrec, 1, 3000);
        show_timer_rec("SIGEV_THREAD_ID", 0, -1);
        timer_delete(t);
    } else {
        printf("timer_create SIGEV_THREAD_ID: %s\n", ename(errno));
    }
    d.stop = 1;
    pthread_join(th, NULL);
    other_tid = 0;
    ev._sigev_un._tid = 0x3fffffff;
    TRY("timer_create SIGEV_THREAD_ID to no thread", timer_create(CLOCK_MONOTONIC, &ev, &t));

    /* SIGEV_THREAD: glibc's helper thread runs the function */
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = timer_thread_fn;
    ev.sigev_value.sival_int = 9;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) == 0) {
        timer_settime(t, 0, &its, NULL);
        step("SIGEV_THREAD");
        wait_until(&thread_fn_calls, 1, 3000);
        sleep_ms(30);
        printf("SIGEV_THREAD: %d calls, value %d\n", thread_fn_calls, thread_fn_value);
        timer_delete(t);
    } else {
        printf("timer_create SIGEV_THREAD: %s\n", ename(errno));
    }
}

/* --- signalfd --------------------------------------------------------------- */

static void show_ssi(const char *name, const struct signalfd_siginfo *s)
{
    printf("%s: ssi_signo %s ssi_code %s", name, sname((int)s->ssi_signo), cname((int)s->ssi_signo, s->ssi_code));
    if (s->ssi_code == SI_USER || s->ssi_code == SI_TKILL || s->ssi_code == SI_QUEUE)
        printf(" pid %s uid %s", s->ssi_pid == (uint32_t)getpid() ? "self" : "other",
               s->ssi_uid == (uint32_t)getuid() ? "self" : "other");
    if (s->ssi_code == SI_QUEUE)
        printf(" ssi_int %d", s->ssi_int);
    printf("\n");
}

static void *blocking_read_fn(void *p)
{
    struct blocker *b = p;
    b->ready = 1;
    struct signalfd_siginfo s;
    errno = 0;
    b->rc = read(pfd[0], &s, sizeof s);
    b->err = errno;
    b->handled_before = (int)s.ssi_signo;
    b->done = 1;
    return NULL;
}

static void s_signalfd(void)
{
    section("signalfd");
    on(SIGUSR1, h_rec, 0, NULL);
    on(SIGUSR2, h_rec, 0, NULL);
    sigset_t m = set_of(SIGUSR1, 0);
    block(SIGUSR1);
    errno = 0;
    int fd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        printf("signalfd: %s\n", ename(errno));
        return;
    }
    printf("signalfd: ok\n");
    yes("FD_CLOEXEC", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    yes("O_NONBLOCK", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    char link[64] = "", path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t ln = readlink(path, link, sizeof link - 1);
    printf("readlink /proc/self/fd: %s\n", ln > 0 ? (link[ln] = 0, link) : ename(errno));
    struct signalfd_siginfo s[4];
    VAL("read with nothing pending", read(fd, s, sizeof s[0]));
    struct pollfd q = {.fd = fd, .events = POLLIN};
    VAL("poll with nothing pending", poll(&q, 1, 0));
    kill(getpid(), SIGUSR1);
    q.revents = 0;
    VAL("poll after kill", poll(&q, 1, 0));
    printf("  revents: %s\n", q.revents == POLLIN ? "POLLIN" : "other");
    memset(s, 0, sizeof s);
    VAL("read", read(fd, s, sizeof s));
    show_ssi("read", &s[0]);
    VAL("read again", read(fd, s, sizeof s));
    printf("pending: %s, handler ran %d\n", pending_now(), nrec);

    raise(SIGUSR1);
    VAL("read after raise", read(fd, s, sizeof s));
    show_ssi("read after raise", &s[0]);
    VAL("read with 64 bytes", read(fd, s, 64));

    int rt = SIGRTMIN + 1;
    block(rt);
    sigset_t m2 = set_of(SIGUSR1, rt, 0);
    int fd2 = signalfd(fd, &m2, 0);
    yes("signalfd on itself returns it", fd2 == fd);
    for (int v = 1; v <= 3; v++)
        sigqueue(getpid(), rt, (union sigval){.sival_int = v});
    kill(getpid(), SIGUSR1);
    memset(s, 0, sizeof s);
    ssize_t n = read(fd, s, sizeof s);
    printf("read four queued: %zd bytes:", n);
    for (int i = 0; i < n / (ssize_t)sizeof s[0]; i++)
        printf(" %s/%s/%d", sname((int)s[i].ssi_signo), cname((int)s[i].ssi_signo, s[i].ssi_code),
               s[i].ssi_code == SI_QUEUE ? s[i].ssi_int : 0);
    printf("\n");

    void *big = (void *)(uintptr_t)0x123456789abcdef0ull;
    sigqueue(getpid(), SIGUSR1, (union sigval){.sival_ptr = big});
    memset(s, 0, sizeof s);
    read(fd, s, sizeof s);
    yes("64-bit sival_ptr intact in ssi_ptr", s[0].ssi_ptr == (uint64_t)(uintptr_t)big);

    /* not in its mask: left pending */
    block(SIGUSR2);
    raise(SIGUSR2);
    VAL("read with only SIGUSR2 pending", read(fd, s, sizeof s));
    printf("pending: %s\n", pending_now());
    unblock(SIGUSR2);
    printf("SIGUSR2 handler ran: %d\n", nrec);

    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = 7}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    VAL("epoll_wait with nothing pending", epoll_wait(ep, &got, 1, 0));
    kill(getpid(), SIGUSR1);
    VAL("epoll_wait after kill", epoll_wait(ep, &got, 1, 0));
    printf("  events %s data %u\n", got.events == EPOLLIN ? "EPOLLIN" : "other", got.data.u32);
    read(fd, s, sizeof s);
    close(ep);

    int p[2];
    pipe(p);
    sigset_t kill_too = set_of(SIGKILL, SIGSTOP, SIGUSR1, 0);
    int fd3 = signalfd(-1, &kill_too, 0);
    TRY("signalfd with SIGKILL in the mask", fd3);
    TRY("signalfd on a pipe", signalfd(p[0], &m, 0));
    TRY("signalfd flags 1", signalfd(-1, &m, 1));
    TRY("signalfd on fd 999", signalfd(999, &m, 0));
    close(p[0]);
    close(p[1]);

    /* a blocking read waits for the signal */
    struct blocker b = {0};
    pfd[0] = fd3;
    pthread_t t = spawn(blocking_read_fn, &b, NULL, 0);
    step("blocking signalfd read");
    wait_until(&b.ready, 1, 5000);
    sleep_ms(20);
    kill(getpid(), SIGUSR1);
    if (!wait_until(&b.done, 1, 3000)) {
        printf("blocking read: still waiting\n");
        exit(1);
    }
    pthread_join(t, NULL);
    printf("blocking read: %ld %s\n", b.rc, b.rc < 0 ? ename(b.err) : sname(b.handled_before));
    close(fd3);
    TRY("close", close(fd));
    unblock(SIGUSR1);
    unblock(rt);
    printf("handlers ran: %d\n", nrec);
}

/* --- threads: cancellation rides on a signal ------------------------------ */

static void *cancel_read_fn(void *p)
{
    struct blocker *b = p;
    b->ready = 1;
    char c;
    read(pfd[0], &c, 1);
    return (void *)1;
}

static void *cancel_sleep_fn(void *p)
{
    struct blocker *b = p;
    b->ready = 1;
    struct timespec ts = {2, 0};
    nanosleep(&ts, NULL);
    return (void *)1;
}

static volatile int spin_stop;
static void *cancel_async_fn(void *p)
{
    struct blocker *b = p;
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
    b->ready = 1;
    long long end = now_ns() + 2000000000LL;
    volatile unsigned long n = 0;
    while (!spin_stop && now_ns() < end)
        n++;
    return (void *)1;
}

static volatile int busy_got;
static void h_busy(int sig) { (void)sig; busy_got = 1; }

static void *busy_fn(void *p)
{
    struct blocker *b = p;
    other_tid = tid();
    b->ready = 1;
    long long end = now_ns() + 2000000000LL;
    while (!busy_got && now_ns() < end)
        ;
    b->rc = busy_got;
    return NULL;
}

static void cancel(const char *name, void *(*fn)(void *))
{
    struct blocker b = {0};
    pipe(pfd);
    step(name);
    pthread_t t = spawn(fn, &b, &(sigset_t){0}, 0);
    wait_until(&b.ready, 1, 5000);
    sleep_ms(20);
    pthread_cancel(t);
    void *ret = NULL;
    pthread_join(t, &ret);
    printf("%s: %s\n", name, ret == PTHREAD_CANCELED ? "canceled" : "returned");
    close(pfd[0]);
    close(pfd[1]);
}

static void s_threads(void)
{
    section("threads");
    cancel("pthread_cancel of a thread in read", cancel_read_fn);
    cancel("pthread_cancel of a thread in nanosleep", cancel_sleep_fn);
    cancel("pthread_cancel of a busy thread, asynchronous", cancel_async_fn);

    /* a signal to a thread that runs (no system call to return from) */
    set_handler(SIGUSR1, h_busy);
    struct blocker b = {0};
    step("signal to a busy thread");
    pthread_t t = spawn(busy_fn, &b, &(sigset_t){0}, 0);
    wait_until(&b.ready, 1, 5000);
    sleep_ms(10);
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
    printf("signal to a busy thread: %s\n", b.rc ? "handled" : "not handled in 2 s");
    other_tid = 0;

    /* many signals between two threads */
    on(SIGUSR2, h_rec, 0, NULL);
    reset();
    struct idle d = {0};
    t = spawn(idle_fn, &d, &(sigset_t){0}, 0);
    wait_until(&d.ready, 1, 5000);
    other_tid = d.tid;
    step("100 signals to a thread");
    int sent = 0;
    for (int i = 0; i < 100; i++) {
        int before = nrec;
        if (pthread_kill(t, SIGUSR2) == 0)
            sent++;
        wait_until(&nrec, before + 1, 2000);
    }
    d.stop = 1;
    pthread_join(t, NULL);
    int in_other = 0;
    for (int i = 0; i < nrec && i < MAXREC; i++)
        in_other += recs[i].tid == d.tid;
    printf("100 signals one at a time to a thread: sent %d, delivered %d, in that thread: %s\n", sent, nrec,
           in_other == (nrec < MAXREC ? nrec : MAXREC) ? "all" : "not all");
    other_tid = 0;
}

/* --- children: SIGCHLD, wait statuses, what fork passes on ----------------- */

static void h_exit7(int sig)
{
    (void)sig;
    _exit(7);
}

static const char *wstatus(int st)
{
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s", sname(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "other 0x%x", st);
    return buf;
}

enum child_how { CH_EXIT3, CH_RAISE_TERM, CH_SEGV, CH_WAIT, CH_INHERIT };

/* fork a child that does `how` (bounded by alarm(10)); `ready` gets a byte
 * when it waits for the parent */
static pid_t child(enum child_how how, int ready)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    alarm(10); /* a child that hangs ends all the same */
    switch (how) {
    case CH_EXIT3:
        _exit(3);
    case CH_RAISE_TERM:
        raise(SIGTERM);
        _exit(90);
    case CH_SEGV:
        poke(NULL);
        _exit(91);
    case CH_WAIT:
        write(ready, "r", 1);
        for (;;)
            pause();
    case CH_INHERIT: {
        sigset_t m, p;
        pthread_sigmask(SIG_BLOCK, NULL, &m);
        sigpending(&p);
        struct sigaction sa;
        sigaction(SIGUSR1, NULL, &sa);
        stack_t ss;
        sigaltstack(NULL, &ss);
        int bits = (sigismember(&m, SIGUSR2) == 1) | (sigisemptyset(&p) ? 2 : 0) |
                   ((void *)sa.sa_sigaction == (void *)h_rec ? 4 : 0) | ((char *)ss.ss_sp == alt ? 8 : 0);
        _exit(bits);
    }
    }
    _exit(92);
}

static void show_child(const char *name, pid_t pid, int st)
{
    printf("%s: %s\n", name, wstatus(st));
    wait_until(&nrec, 1, 2000);
    if (nrec == 0) {
        printf("  no SIGCHLD\n");
        return;
    }
    struct rec *r = &recs[0];
    static const char *codes[] = {"0", "CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED",
                                  "CLD_CONTINUED"};
    char status[24];
    if (r->code == CLD_EXITED)
        snprintf(status, sizeof status, "%d", r->status);
    else
        snprintf(status, sizeof status, "%s", sname(r->status));
    printf("  %d SIGCHLD: %s %s, si_pid is the child: %s, si_status %s\n", nrec, sname(r->sig),
           r->code >= 1 && r->code <= 6 ? codes[r->code] : cname(r->sig, r->code), r->pid == pid ? "yes" : "no",
           status);
}

static void s_children(void)
{
    section("children");
    on(SIGCHLD, h_rec, 0, NULL);
    int st = 0;
    struct {
        const char *name;
        enum child_how how;
    } simple[] = {{"child _exit(3)", CH_EXIT3}, {"child raise(SIGTERM)", CH_RAISE_TERM}, {"child writes to NULL", CH_SEGV}};
    for (unsigned k = 0; k < sizeof simple / sizeof simple[0]; k++) {
        if (simple[k].how == CH_SEGV)
            continue; /* at the end */
        step(simple[k].name);
        reset();
        pid_t pid = child(simple[k].how, -1);
        if (pid < 0) {
            printf("fork: %s\n", ename(errno));
            return;
        }
        pid_t w = waitpid(pid, &st, 0);
        if (w != pid)
            printf("%s: waitpid %s\n", simple[k].name, ename(errno));
        show_child(simple[k].name, pid, st);
    }

    /* the parent's kill: SIGKILL, and SIGUSR1 to the handler the child inherited */
    int p[2];
    pipe(p);
    set_handler(SIGUSR1, h_exit7);
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "child killed with SIGUSR1, its inherited handler exits 7" : "child killed with SIGKILL";
        step(name);
        reset();
        pid_t pid = child(CH_WAIT, p[1]);
        char c;
        read(p[0], &c, 1);
        VAL("  waitpid WNOHANG while it runs", waitpid(pid, &st, WNOHANG));
        TRY("  kill", kill(pid, k ? SIGUSR1 : SIGKILL));
        siginfo_t si;
        memset(&si, 0, sizeof si);
        TRY("  waitid WNOWAIT", waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
        TRY("  kill the zombie with 0", kill(pid, 0));
        waitpid(pid, &st, 0);
        show_child(name, pid, st);
        TRY("  kill it once reaped", kill(pid, 0));
    }
    close(p[0]);
    close(p[1]);

    /* fork passes on dispositions, the mask and the alternate stack, not
     * pending signals */
    step("what a child inherits");
    on(SIGUSR1, h_rec, 0, NULL);
    stack_t ss = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    block(SIGUSR2);
    raise(SIGUSR2);
    reset();
    pid_t pid = child(CH_INHERIT, -1);
    waitpid(pid, &st, 0);
    int bits = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    printf("child's mask has the parent's SIGUSR2: %s\n", bits >= 0 && (bits & 1) ? "yes" : "no");
    printf("child's pending set is empty: %s\n", bits >= 0 && (bits & 2) ? "yes" : "no");
    printf("child's SIGUSR1 handler is the parent's: %s\n", bits >= 0 && (bits & 4) ? "yes" : "no");
    printf("child's altstack is the parent's: %s\n", bits >= 0 && (bits & 8) ? "yes" : "no");
    printf("parent's pending: %s\n", pending_now());
    sigset_t usr2 = set_of(SIGUSR2, 0);
    sigwaitinfo(&usr2, NULL);
    unblock(SIGUSR2);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);

    /* SIGCHLD ignored, or SA_NOCLDWAIT: children are not kept as zombies */
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "SA_NOCLDWAIT" : "SIGCHLD SIG_IGN";
        step(name);
        reset();
        if (k)
            on(SIGCHLD, h_rec, SA_NOCLDWAIT, NULL);
        else
            set_handler(SIGCHLD, SIG_IGN);
        pid = child(CH_EXIT3, -1);
        errno = 0;
        pid_t w = waitpid(pid, &st, 0);
        printf("%s: waitpid %s", name, w < 0 ? ename(errno) : w == pid ? "the child" : "other");
        if (k) {
            wait_until(&nrec, 1, 2000);
            printf(", %d SIGCHLD", nrec);
        }
        printf("\n");
    }
    set_handler(SIGCHLD, SIG_DFL);
    VAL("waitpid without children", waitpid(-1, &st, WNOHANG));

    /* last: a kernel that takes a child's fault for the whole program's
     * loses nothing else */
    on(SIGCHLD, h_rec, 0, NULL);
    step("child writes to NULL");
    reset();
    pid = child(CH_SEGV, -1);
    if (waitpid(pid, &st, 0) != pid)
        printf("child writes to NULL: waitpid %s\n", ename(errno));
    show_child("child writes to NULL", pid, st);
}

/* --- kill, tgkill, sigqueue: arguments ------------------------------------ */

static void s_misc(void)
{
    section("misc");
    TRY("kill self 0", kill(getpid(), 0));
    TRY("kill process group 0", kill(0, 0));
    TRY("kill a pid that cannot exist", kill(0x3fffffff, 0));
    TRY("kill signal 65", kill(getpid(), 65));
    TRY("kill signal -1", kill(getpid(), -1));
    TRY("tgkill self 0", syscall(SYS_tgkill, getpid(), tid(), 0));
    TRY("tgkill a tid that cannot exist", syscall(SYS_tgkill, getpid(), 0x3fffffff, 0));
    TRY("tgkill a tgid that cannot exist", syscall(SYS_tgkill, 0x3fffffff, tid(), 0));
    TRY("tgkill tid 0", syscall(SYS_tgkill, getpid(), 0, 0));
    TRY("tgkill signal 65", syscall(SYS_tgkill, getpid(), tid(), 65));
    TRY("tkill self 0", syscall(SYS_tkill, tid(), 0));
    TRY("tkill tid -1", syscall(SYS_tkill, -1, 0));
    TRY("sigqueue signal 0", sigqueue(getpid(), 0, (union sigval){0}));
    TRY("sigqueue a pid that cannot exist", sigqueue(0x3fffffff, SIGUSR1, (union sigval){0}));
    on(SIGUSR1, h_rec, 0, NULL);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = -10;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 99;
    reset();
    TRY("rt_sigqueueinfo to self, si_code -10", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si));
    printf("  handler: %d deliveries, si_code %d value %d\n", nrec, recs[0].code, recs[0].value);
    reset();
    TRY("rt_tgsigqueueinfo to self, si_code -10", syscall(SYS_rt_tgsigqueueinfo, getpid(), tid(), SIGUSR1, &si));
    printf("  handler: %d deliveries, si_code %d value %d in %s\n", nrec, recs[0].code, recs[0].value,
           who(recs[0].tid));
    TRY("rt_sigqueueinfo bad pointer", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, (void *)8));
    sigset_t p;
    TRY("rt_sigpending sigsetsize 16", syscall(SYS_rt_sigpending, &p, 16));
    TRY("rt_sigsuspend sigsetsize 4", syscall(SYS_rt_sigsuspend, &p, 4));
}

/* --- default actions: the exit status is compared ------------------------- */

static void h_reraise(int sig)
{
    static const char msg[] = "die-reraise: in the handler\n";
    write(1, msg, sizeof msg - 1);
    set_handler(sig, SIG_DFL); /* the fault happens again on return */
}

static void h_abort_returns(int sig)
{
    static const char msg[] = "die-abort-handled: in the handler\n";
    (void)sig;
    write(1, msg, sizeof msg - 1);
}

static void *raise_term_fn(void *p)
{
    (void)p;
    raise(SIGTERM);
    sleep_ms(2000);
    return NULL;
}

static int die(const char *mode)
{
    printf("%s: before\n", mode);
    if (!strcmp(mode, "die-term")) {
        raise(SIGTERM);
    } else if (!strcmp(mode, "die-kill")) {
        raise(SIGKILL);
    } else if (!strcmp(mode, "die-usr1")) {
        kill(getpid(), SIGUSR1);
    } else if (!strcmp(mode, "die-rt")) {
        raise(SIGRTMIN + 1);
    } else if (!strcmp(mode, "die-abort")) {
        abort();
    } else if (!strcmp(mode, "die-abort-handled")) {
        set_handler(SIGABRT, h_abort_returns);
        abort();
    } else if (!strcmp(mode, "die-segv")) {
        poke(NULL);
    } else if (!strcmp(mode, "die-segv-blocked")) {
        on(SIGSEGV, h_rec, 0, NULL);
        block(SIGSEGV);
        poke(NULL);
    } else if (!strcmp(mode, "die-segv-ignored")) {
        set_handler(SIGSEGV, SIG_IGN);
        poke(NULL);
    } else if (!strcmp(mode, "die-reraise")) {
        set_handler(SIGSEGV, h_reraise);
        poke(NULL);
    } else if (!strcmp(mode, "die-unblock")) {
        block(SIGTERM);
        raise(SIGTERM);
        printf("%s: pending %s\n", mode, pending_now());
        unblock(SIGTERM);
    } else if (!strcmp(mode, "die-thread")) {
        pthread_t t = spawn(raise_term_fn, NULL, &(sigset_t){0}, 0);
        pthread_join(t, NULL);
    } else if (!strcmp(mode, "die-alarm")) {
        struct itimerval it = {{0, 0}, {0, 20000}};
        if (setitimer(ITIMER_REAL, &it, NULL) < 0)
            printf("%s: setitimer %s\n", mode, ename(errno));
        else
            pause();
    } else if (!strcmp(mode, "die-ignore")) {
        set_handler(SIGTERM, SIG_IGN);
        raise(SIGTERM);
        kill(getpid(), SIGTERM);
        printf("%s: still here\n", mode);
        return 0;
    } else {
        printf("unknown mode %s\n", mode);
        return 2;
    }
    printf("%s: still here\n", mode);
    return 1;
}

/* --- main ------------------------------------------------------------------ */

static const struct {
    const char *name;
    void (*fn)(void);
} sections[] = {
    {"sigaction", s_sigaction}, {"mask", s_mask},       {"flags", s_flags},       {"altstack", s_altstack},
    {"faults", s_faults},       {"traps", s_traps},     {"ucontext", s_ucontext}, {"registers", s_registers},
    {"restart", s_restart},     {"suspend", s_suspend}, {"sigwait", s_sigwait},   {"itimer", s_itimer},
    {"timers", s_timers},       {"signalfd", s_signalfd}, {"threads", s_threads},
    {"misc", s_misc},           {"children", s_children}, /* last: a kernel that cannot fork loses no other section */
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    main_tid = tid();
    struct rlimit no_core = {0, 0}; /* a child killed by SIGSEGV: CLD_KILLED, not CLD_DUMPED */
    setrlimit(RLIMIT_CORE, &no_core);
    if (argc == 2 && !strncmp(argv[1], "die-", 4))
        return die(argv[1]);
    if (!alt) {
        alt = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        alt2 = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    spawn(watchdog, NULL, NULL, 0);
    printf("== sigprobe\n");
    printf("SIGRTMIN SIGRTMAX: %d %d\n", SIGRTMIN, SIGRTMAX);
    for (unsigned i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        int run = argc == 1;
        for (int a = 1; a < argc; a++)
            run |= !strcmp(argv[a], sections[i].name);
        if (run)
            sections[i].fn();
    }
    clean();
    printf("== done\n");
    return 0;
}
