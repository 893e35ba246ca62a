/* Process-wide system calls: identity, time, randomness, limits. Processes
 * (fork, wait, groups): process.c; threads, futexes: thread.c; signals:
 * signal.c. */
#include "linux.h"
#include <board.h>
#include <hermit/boot.h>
#include <hermit/heap.h>
#include <hermit/init.h>
#include <hermit/time.h>

void linux_exit(int status)
{
    vm_writeback_all(); /* what the program wrote through shared file mappings reaches the files */
    sockets_flush_at_exit(); /* what the program sent reaches its peer before the machine goes */
    hermit_exit(status & 0xff);
}

long sys_getuid(void) { return 0; }
long sys_geteuid(void) { return 0; }
long sys_getgid(void) { return 0; }
long sys_getegid(void) { return 0; }

static long put_ids(long a, long b, long c)
{
    long ptrs[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (!user_ok((uintptr_t)ptrs[i], 4, PROT_WRITE))
            return -EFAULT;
        *(uint32_t *)ptrs[i] = 0;
    }
    return 0;
}

long sys_getresuid(long r, long e, long s) { return put_ids(r, e, s); }
long sys_getresgid(long r, long e, long s) { return put_ids(r, e, s); }

/* root, in no supplementary group (as root is in a container) */
long sys_getgroups(long size, long ulist)
{
    return size < 0 ? -EINVAL : 0;
}

/* The owner of the calling process's POSIX locks: the process. */
const void *lock_process(void) { return current_process(); }

struct utsname {
    char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

static void field(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n > 64)
        n = 64;
    memcpy(dst, src, n);
    dst[n] = 0;
}

long sys_uname(long ubuf)
{
    if (!user_ok((uintptr_t)ubuf, sizeof(struct utsname), PROT_WRITE))
        return -EFAULT;
    struct utsname *u = (struct utsname *)ubuf;
    memset(u, 0, sizeof *u);
    field(u->sysname, UTS_SYSNAME);
    field(u->nodename, UTS_NODENAME);
    field(u->release, UTS_RELEASE);
    field(u->version, UTS_VERSION);
    field(u->machine, arch_platform);
    field(u->domainname, UTS_DOMAINNAME);
    return 0;
}

/* --- time --- */

#define CLOCK_REALTIME 0
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_TAI 11
#define TIMER_ABSTIME 1

/* The wall clock: the host's time at boot (hermit.epoch=SEC.NSEC), then
 * the monotonic clock's advance. */
static uint64_t epoch_sec, epoch_nsec;

static int set_epoch(const char *value)
{
    epoch_sec = parse_u64(&value);
    if (*value == '.') {
        value++;
        epoch_nsec = parse_u64(&value);
    }
    return *value ? -1 : 0;
}
HERMIT_PARAM("hermit.epoch=", set_epoch);

uint64_t realtime_offset_ns(void)
{
    return epoch_sec * NSEC_PER_SEC + epoch_nsec;
}

uint64_t realtime_ns(void)
{
    return realtime_offset_ns() + clock_ns();
}

static int is_realtime(long id)
{
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_REALTIME_ALARM || id == CLOCK_TAI;
}

static uint64_t clock_value(long id)
{
    return is_realtime(id) ? realtime_ns() : clock_ns();
}

/* the clocks of time (the CPU-time ones, 2, 3 and negative ids, are process.c's) */
static int valid_clock(long id) { return id >= 0 && id <= 11 && id != 10 && id != 2 && id != 3; }

long sys_clock_gettime(long id, long uts)
{
    linux_vvar_refresh(); /* the vDSO's fallback, before the clock was calibrated */
    uint64_t ns;
    int cpu = cpu_clock_read(id, &ns); /* a process's or a thread's CPU time */
    if (cpu < 0)
        return cpu;
    if (!cpu && !valid_clock(id))
        return -EINVAL;
    if (!user_ok((uintptr_t)uts, sizeof(struct timespec_k), PROT_WRITE))
        return -EFAULT;
    if (!cpu)
        ns = clock_value(id);
    struct timespec_k *ts = (struct timespec_k *)uts;
    ts->sec = (int64_t)(ns / NSEC_PER_SEC);
    ts->nsec = (int64_t)(ns % NSEC_PER_SEC);
    return 0;
}

long sys_clock_getres(long id, long uts)
{
    uint64_t ns;
    int cpu = cpu_clock_read(id, &ns); /* (glibc's clock_getcpuclockid asks so whether a pid's clock exists) */
    if (cpu < 0)
        return cpu;
    if (!cpu && !valid_clock(id))
        return -EINVAL;
    if (uts) {
        if (!user_ok((uintptr_t)uts, sizeof(struct timespec_k), PROT_WRITE))
            return -EFAULT;
        ((struct timespec_k *)uts)->sec = 0;
        ((struct timespec_k *)uts)->nsec = 1;
    }
    return 0;
}

long sys_gettimeofday(long utv, long utz)
{
    linux_vvar_refresh();
    if (utv) {
        if (!user_ok((uintptr_t)utv, 16, PROT_WRITE))
            return -EFAULT;
        uint64_t ns = realtime_ns();
        ((int64_t *)utv)[0] = (int64_t)(ns / NSEC_PER_SEC);
        ((int64_t *)utv)[1] = (int64_t)(ns % NSEC_PER_SEC / 1000);
    }
    if (utz) {
        if (!user_ok((uintptr_t)utz, 8, PROT_WRITE))
            return -EFAULT;
        memset((void *)utz, 0, 8);
    }
    return 0;
}

long sys_time(long ut)
{
    linux_vvar_refresh();
    int64_t t = (int64_t)(realtime_ns() / NSEC_PER_SEC);
    if (ut) {
        if (!user_ok((uintptr_t)ut, 8, PROT_WRITE))
            return -EFAULT;
        *(int64_t *)ut = t;
    }
    return t;
}

static long read_timespec(long uts, uint64_t *ns)
{
    if (!user_ok((uintptr_t)uts, sizeof(struct timespec_k), PROT_READ))
        return -EFAULT;
    const struct timespec_k *ts = (const struct timespec_k *)uts;
    if (ts->sec < 0 || ts->nsec < 0 || ts->nsec >= (int64_t)NSEC_PER_SEC)
        return -EINVAL;
    *ns = (uint64_t)ts->sec * NSEC_PER_SEC + (uint64_t)ts->nsec;
    return 0;
}

/* Until process p's (or thread tid's) CPU time reaches target: it grows at
 * most as fast as the CPUs it runs on, so it is read again at least that often. */
static long cpu_sleep(struct process *p, long tid, int which, uint64_t target, int relative, long urem)
{
    for (;;) {
        uint64_t now = cpu_clock_value(p, tid, which);
        if (now == ~0ull)
            return -EINVAL; /* the thread ended */
        if (now >= target)
            return 0;
        uint64_t step = (target - now) / (cpus_online ? cpus_online : 1);
        if (sched_sleep_until_intr(clock_ns() + (step > 10000 ? step : 10000))) {
            now = cpu_clock_value(p, tid, which);
            uint64_t left = target > now ? target - now : 0;
            struct timespec_k rem = {(int64_t)(left / NSEC_PER_SEC), (int64_t)(left % NSEC_PER_SEC)};
            if (relative && urem && copy_to_user((uintptr_t)urem, &rem, sizeof rem))
                return -EFAULT;
            return -EINTR;
        }
    }
}

long sys_clock_nanosleep(long id, long flags, long ureq, long urem)
{
    struct process *cp;
    long tid;
    if ((int)id == 3)
        return -EOPNOTSUPP; /* CLOCK_THREAD_CPUTIME_ID: Linux's has no sleep (glibc says EINVAL itself) */
    int which, cpu = cpu_clock_parse(id, &cp, &tid, &which);
    if (cpu < 0 || (cpu && tid == current_thread()->tid))
        return -EINVAL; /* (Linux: not on the caller's own thread clock) */
    if (!cpu && !valid_clock(id))
        return -EINVAL;
    uint64_t ns;
    long rc = read_timespec(ureq, &ns);
    if (rc)
        return rc;
    if (cpu)
        return cpu_sleep(cp, tid, which, flags & TIMER_ABSTIME ? ns : cpu_clock_value(cp, tid, which) + ns,
                         !(flags & TIMER_ABSTIME), urem);
    if (flags & TIMER_ABSTIME) { /* a deadline on the monotonic clock: no gap between two readings */
        uint64_t offset = is_realtime(id) ? realtime_offset_ns() : 0;
        if (ns > offset && sched_sleep_until_intr(ns - offset))
            return -EINTR;
    } else if (ns) {
        uint64_t deadline = clock_ns() + ns;
        if (sched_sleep_until_intr(deadline)) { /* a signal's handler runs: say how much was left */
            uint64_t now = clock_ns(), left = deadline > now ? deadline - now : 0;
            struct timespec_k rem = {(int64_t)(left / NSEC_PER_SEC), (int64_t)(left % NSEC_PER_SEC)};
            if (urem && copy_to_user((uintptr_t)urem, &rem, sizeof rem))
                return -EFAULT;
            return -EINTR;
        }
    }
    return 0;
}

long sys_nanosleep(long ureq, long urem) { return sys_clock_nanosleep(1, 0, ureq, urem); }

void rusage_fill(struct rusage_k *r, uint64_t user_ns, uint64_t sys_ns, uint64_t maxrss_kb,
                 const struct rucount *c)
{
    memset(r, 0, sizeof *r);
    r->utime.sec = (int64_t)(user_ns / NSEC_PER_SEC);
    r->utime.usec = (int64_t)(user_ns % NSEC_PER_SEC / 1000);
    r->stime.sec = (int64_t)(sys_ns / NSEC_PER_SEC);
    r->stime.usec = (int64_t)(sys_ns % NSEC_PER_SEC / 1000);
    r->maxrss = (int64_t)maxrss_kb;
    r->minflt = (int64_t)c->minflt;
    r->majflt = (int64_t)c->majflt;
    r->nvcsw = (int64_t)c->nvcsw;
    r->nivcsw = (int64_t)c->nivcsw;
}

#define RUSAGE_SELF 0
#define RUSAGE_CHILDREN (-1)
#define RUSAGE_THREAD 1

/* CPU time as accounted per thread (sched_account: the program's between
 * its returns and the kernel's between entry and return); maxrss is the
 * resident size's high-water mark: for the caller, its memory's (vm.c keeps
 * it as pages are mapped) or an earlier program's it exec'd from; for
 * children, the largest of theirs. Page faults and context switches are
 * counted as they happen, per thread. */
long sys_getrusage(long who, long ubuf)
{
    who = (int)who;
    struct process *p = current_process();
    struct rusage_k r;
    uint64_t u, s, rss;
    struct rucount c;
    if (who == RUSAGE_SELF || who == RUSAGE_THREAD) {
        if (who == RUSAGE_SELF) {
            process_times(p, &u, &s);
            process_counts(p, &c);
        } else {
            sched_thread_ticks(current_thread(), &u, &s);
            u = counter_ns(u), s = counter_ns(s);
            thread_counts(current_thread(), &c);
        }
        rss = vm_hwm_kb();
        rusage_fill(&r, u, s, rss > p->maxrss_kb ? rss : p->maxrss_kb, &c);
    } else if (who == RUSAGE_CHILDREN) {
        rusage_fill(&r, counter_ns(p->cutime_ticks), counter_ns(p->cstime_ticks), p->cmaxrss_kb, &p->cru);
    } else {
        return -EINVAL;
    }
    return copy_to_user((uintptr_t)ubuf, &r, sizeof r) ? -EFAULT : 0;
}

long sys_times(long ubuf)
{
    uint64_t ticks = clock_ns() / 10000000; /* AT_CLKTCK = 100 */
    if (ubuf) {
        struct process *p = current_process();
        uint64_t u, s;
        process_times(p, &u, &s);
        int64_t t[4] = {(int64_t)(u / 10000000), (int64_t)(s / 10000000),
                        (int64_t)(counter_ns(p->cutime_ticks) / 10000000),
                        (int64_t)(counter_ns(p->cstime_ticks) / 10000000)};
        if (copy_to_user((uintptr_t)ubuf, t, sizeof t))
            return -EFAULT;
    }
    return (long)ticks;
}

/* --- randomness --- */

/* The host's seed (hermit.seed=HEX, from its urandom), mixed with the CPU's
 * own randomness where there is one. */
static uint64_t random_seed;

static int set_seed(const char *value)
{
    for (; *value; value++) {
        unsigned d = *value >= 'a' ? (unsigned)(*value - 'a' + 10) : (unsigned)(*value - '0');
        random_seed = (random_seed << 4 | (random_seed >> 60)) ^ (d & 15);
    }
    return 0;
}
HERMIT_PARAM("hermit.seed=", set_seed);
static uint64_t rng_state;
static int rng_hw = -1;

static int hw_random(uint64_t *out)
{
#if defined(__x86_64__)
    if (rng_hw < 0) {
        uint32_t a, b, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
        rng_hw = (c >> 30) & 1; /* RDRAND */
    }
    for (int i = 0; rng_hw && i < 10; i++) {
        unsigned char ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok));
        if (ok)
            return 1;
    }
#elif defined(__aarch64__)
    if (rng_hw < 0) {
        uint64_t isar0;
        __asm__ volatile("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
        rng_hw = (isar0 >> 60) != 0; /* FEAT_RNG */
    }
    if (rng_hw) {
        uint64_t v, nzcv;
        __asm__ volatile("mrs %0, s3_3_c2_c4_0\n mrs %1, nzcv" : "=r"(v), "=r"(nzcv)); /* RNDR */
        if (!(nzcv & (1ull << 30))) {
            *out = v;
            return 1;
        }
    }
#endif
    return 0;
}

/* RDRAND / RNDR when the CPU has them; otherwise splitmix64 over a seed the
 * host passes at boot (hermit.seed, from os.urandom) mixed with the cycle
 * counter: unpredictable across runs, but not a vetted CSPRNG. */
void random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    if (!rng_state)
        rng_state = random_seed ^ arch_counter() ^ 0x9e3779b97f4a7c15ull;
    while (n) {
        uint64_t v;
        if (!hw_random(&v)) {
            uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            v = z ^ (z >> 31);
        }
        size_t k = n < 8 ? n : 8;
        memcpy(p, &v, k);
        p += k;
        n -= k;
    }
}

long sys_getrandom(long ubuf, long len, long flags)
{
    if (len < 0)
        return -EINVAL;
    if (!user_ok((uintptr_t)ubuf, (size_t)len, PROT_WRITE))
        return -EFAULT;
    random_bytes((void *)ubuf, (size_t)len);
    return len;
}

/* --- limits and system information --- */
#define RLIMIT_STACK 3
#define RLIMIT_CORE 4
#define RLIMIT_NOFILE 7
#define RLIM_INFINITY (~0ull)
static unsigned fd_limit_max = MAX_FDS;

/* What getrlimit reports (and /proc/self/limits). */
void linux_rlimit(unsigned resource, uint64_t *cur, uint64_t *max)
{
    *cur = *max = RLIM_INFINITY;
    if (resource == RLIMIT_STACK)
        *cur = USER_STACK_MAX;
    if (resource == RLIMIT_NOFILE)
        *cur = fd_limit, *max = fd_limit_max;
    if (resource == RLIMIT_CORE) /* the process's own (coredump.c reads it) */
        *cur = current_process()->core_limit[0], *max = current_process()->core_limit[1];
}

struct rlimit_k {
    uint64_t cur, max;
};

long sys_prlimit64(long pid, long resource, long unew, long uold)
{
    if (pid != 0 && pid != 1)
        return -ESRCH;
    if (resource < 0 || resource >= 16)
        return -EINVAL;
    if (uold) {
        if (!user_ok((uintptr_t)uold, sizeof(struct rlimit_k), PROT_WRITE))
            return -EFAULT;
        struct rlimit_k *r = (struct rlimit_k *)uold;
        linux_rlimit((unsigned)resource, &r->cur, &r->max);
    }
    if (unew) {
        if (!user_ok((uintptr_t)unew, sizeof(struct rlimit_k), PROT_READ))
            return -EFAULT;
        const struct rlimit_k *r = (const struct rlimit_k *)unew;
        if (r->cur > r->max)
            return -EINVAL;
        if (resource == RLIMIT_NOFILE) {
            if (r->max > MAX_FDS)
                return -EPERM; /* beyond the descriptor table (Linux: beyond fs.nr_open) */
            fd_limit = (unsigned)r->cur;
            fd_limit_max = (unsigned)r->max; /* root may raise it again, up to MAX_FDS */
        }
        if (resource == RLIMIT_CORE) { /* (every process is root: it may raise the hard limit too) */
            current_process()->core_limit[0] = r->cur;
            current_process()->core_limit[1] = r->max;
        }
    }
    return 0; /* other limits are accepted and not enforced */
}

long sys_getrlimit(long resource, long uold) { return sys_prlimit64(0, resource, 0, uold); }
long sys_setrlimit(long resource, long unew) { return sys_prlimit64(0, resource, unew, 0); }

struct sysinfo_k {
    int64_t uptime;
    uint64_t loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs, pad;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    char reserved[4];
};

long sys_sysinfo(long ubuf)
{
    if (!user_ok((uintptr_t)ubuf, sizeof(struct sysinfo_k), PROT_WRITE))
        return -EFAULT;
    struct sysinfo_k *s = (struct sysinfo_k *)ubuf;
    memset(s, 0, sizeof *s);
    s->uptime = (int64_t)(clock_ns() / NSEC_PER_SEC);
    s->totalram = pages_total() * PAGE_SIZE;
    s->freeram = pages_free() * PAGE_SIZE;
    s->procs = 1;
    s->mem_unit = 1;
    return 0;
}

#define PR_SET_PDEATHSIG 1
#define PR_GET_PDEATHSIG 2
#define PR_SET_NAME 15
#define PR_GET_NAME 16
#define task_name (current_process()->comm)
const char *linux_comm(void) { return task_name; }

long sys_prctl(long option, long arg2, long a3, long a4, long a5)
{
    if (option == PR_SET_PDEATHSIG) { /* the signal this process gets when its parent ends */
        if (arg2 < 0 || arg2 > 64)
            return -EINVAL;
        current_process()->pdeath_signal = (int)arg2;
        return 0;
    }
    if (option == PR_GET_PDEATHSIG) {
        int sig = current_process()->pdeath_signal;
        return copy_to_user((uintptr_t)arg2, &sig, sizeof sig) ? -EFAULT : 0;
    }
    if (option == PR_SET_NAME) {
        char buf[16];
        long n = user_str((uintptr_t)arg2, buf, sizeof buf);
        if (n == -ENAMETOOLONG) {
            memcpy(task_name, (const char *)arg2, 15);
            task_name[15] = 0;
            return 0;
        }
        if (n < 0)
            return n;
        memcpy(task_name, buf, (size_t)n + 1);
        return 0;
    }
    if (option == PR_GET_NAME) {
        if (!user_ok((uintptr_t)arg2, 16, PROT_WRITE))
            return -EFAULT;
        memcpy((void *)arg2, task_name, 16);
        return 0;
    }
    return -EINVAL;
}

