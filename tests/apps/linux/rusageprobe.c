/* getrusage's counts as Linux keeps them: page faults (ru_minflt,
 * ru_majflt), context switches (ru_nvcsw when a thread blocks), the
 * resident high-water mark (ru_maxrss: the peak, not the size now) -- for
 * the process, one thread, its children and wait4's rusage, and the same
 * numbers in /proc/self/stat and status. Prints facts that hold on Linux
 * ("...: yes"), never the numbers themselves, so the guest's output must be
 * the host's line for line. Anonymous memory is madvise(MADV_NOHUGEPAGE)d:
 * a huge page would take one fault for 512 pages. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static void fact(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "no"); }

static struct rusage usage(int who)
{
    struct rusage r;
    getrusage(who, &r);
    return r;
}

static char *touch(size_t pages)
{
    char *p = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        exit(2);
    madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < pages; i++)
        p[i * PAGE] = 1;
    return p;
}

static void nap(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, 0);
}

/* field n (1-based) of /proc/self/stat */
static unsigned long long stat_field(int n)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f || !fgets(buf, sizeof buf, f))
        return ~0ull;
    fclose(f);
    char *p = strrchr(buf, ')') + 2; /* field 3 on */
    for (int i = 3; i < n; i++)
        p = strchr(p, ' ') + 1;
    return strtoull(p, 0, 10);
}

static long status_value(const char *key)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)))
            v = strtol(line + strlen(key) + 1, 0, 10);
    if (f)
        fclose(f);
    return v;
}

static struct rusage in_thread[2];

static void *worker(void *arg)
{
    in_thread[0] = usage(RUSAGE_THREAD);
    munmap(touch(32), 32 * PAGE);
    nap();
    in_thread[1] = usage(RUSAGE_THREAD);
    return arg;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    struct rusage a = usage(RUSAGE_SELF);
    char *p = touch(64);
    struct rusage b = usage(RUSAGE_SELF);
    fact("minflt grows by at least the 64 pages touched", b.ru_minflt - a.ru_minflt >= 64);
    fact("no major fault for anonymous memory", b.ru_majflt == a.ru_majflt);
    munmap(p, 64 * PAGE);

    a = usage(RUSAGE_SELF);
    for (int i = 0; i < 3; i++)
        nap();
    b = usage(RUSAGE_SELF);
    fact("nvcsw grows by at least the 3 sleeps", b.ru_nvcsw - a.ru_nvcsw >= 3);
    fact("nivcsw never shrinks", b.ru_nivcsw >= a.ru_nivcsw);

    /* the high-water mark: up with what is touched, and it stays after munmap.
     * It starts at least at what exec'd us had (Linux keeps a process's
     * across exec): more than that is touched, so that it must grow. */
    long before = usage(RUSAGE_SELF).ru_maxrss;
    size_t pages = ((size_t)before + 16 * 1024) / 4;
    p = touch(pages);
    long peak = usage(RUSAGE_SELF).ru_maxrss;
    munmap(p, pages * PAGE);
    long after = usage(RUSAGE_SELF).ru_maxrss;
    fact("maxrss grows past its start with 16 MiB more touched", peak - before >= 15 * 1024);
    fact("maxrss stays at the peak after munmap", after >= peak);
    fact("VmHWM is at least the peak", status_value("VmHWM:") >= peak);
    fact("VmRSS is below the peak after munmap", status_value("VmRSS:") < peak - 8 * 1024);

    /* one thread's own */
    struct rusage m0 = usage(RUSAGE_THREAD);
    pthread_t t;
    pthread_create(&t, 0, worker, 0);
    pthread_join(t, 0);
    struct rusage m1 = usage(RUSAGE_THREAD);
    fact("a thread's minflt counts its own 32 pages", in_thread[1].ru_minflt - in_thread[0].ru_minflt >= 32);
    fact("a thread's nvcsw counts its sleep", in_thread[1].ru_nvcsw - in_thread[0].ru_nvcsw >= 1);
    fact("the main thread's minflt leaves the other thread's out", m1.ru_minflt - m0.ru_minflt < 32);
    struct rusage all = usage(RUSAGE_SELF);
    fact("the process's minflt includes the ended thread's", all.ru_minflt >= m1.ru_minflt + 32);

    /* /proc/self: the same counts */
    all = usage(RUSAGE_SELF);
    fact("stat's minflt is at least getrusage's", stat_field(10) >= (unsigned long long)all.ru_minflt);
    fact("stat's majflt is getrusage's", stat_field(12) == (unsigned long long)usage(RUSAGE_SELF).ru_majflt);
    fact("status counts the main thread's voluntary switches",
         status_value("voluntary_ctxt_switches:") >= (long)m1.ru_nvcsw);

    /* children: wait4's rusage, then RUSAGE_CHILDREN */
    struct rusage c0 = usage(RUSAGE_CHILDREN);
    pid_t pid = fork();
    if (pid == 0) {
        char *q = touch(100);
        nap();
        nap();
        munmap(q, 100 * PAGE);
        _exit(0);
    }
    struct rusage w;
    int status;
    wait4(pid, &status, 0, &w);
    struct rusage c1 = usage(RUSAGE_CHILDREN);
    fact("wait4's rusage counts the child's 100 pages", w.ru_minflt >= 100);
    fact("wait4's rusage counts the child's 2 sleeps", w.ru_nvcsw >= 2);
    fact("wait4's maxrss is the child's peak", w.ru_maxrss >= 400);
    fact("RUSAGE_CHILDREN grows by the child's counts", c1.ru_minflt - c0.ru_minflt >= 100 && c1.ru_nvcsw - c0.ru_nvcsw >= 2);
    fact("stat's cminflt is RUSAGE_CHILDREN's", stat_field(11) == (unsigned long long)c1.ru_minflt);
    return 0;
}
