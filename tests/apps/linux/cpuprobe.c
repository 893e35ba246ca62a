/* CPU time as a program sees it, for tests/integration/test_cputime.py:
 * every line is a fact that holds on Linux (the test compares the guest's
 * output with the host's): getrusage (RUSAGE_SELF, RUSAGE_THREAD,
 * RUSAGE_CHILDREN), wait4's rusage, times(), the CPU-time clocks
 * (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, clock_getcpuclockid,
 * pthread_getcpuclockid), the user/system split, children's time and
 * maximum resident size passed up by wait (and only by wait). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static double clk(clockid_t c)
{
    struct timespec t;
    if (clock_gettime(c, &t))
        return -1;
    return t.tv_sec + t.tv_nsec / 1e9;
}
static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }
static const char *yes(int c) { return c ? "yes" : "no"; }

static volatile unsigned long sink;
/* user time: a loop that asks the clock rarely */
static void spin_user(clockid_t c, double secs)
{
    double start = clk(c);
    while (clk(c) - start < secs)
        for (int i = 0; i < 200000; i++)
            sink++;
}

/* system time: reading /dev/zero (the kernel clears the buffer) */
static void spin_sys(double secs)
{
    static char buf[1 << 18];
    int fd = open("/dev/zero", O_RDONLY);
    double start = clk(CLOCK_PROCESS_CPUTIME_ID);
    while (clk(CLOCK_PROCESS_CPUTIME_ID) - start < secs)
        for (int i = 0; i < 16; i++)
            if (read(fd, buf, sizeof buf) < 0)
                break;
    close(fd);
}

static void *thread_spin(void *arg)
{
    spin_user(CLOCK_THREAD_CPUTIME_ID, *(double *)arg);
    return 0;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    struct rusage r0, r1, rt;
    /* user time */
    getrusage(RUSAGE_SELF, &r0);
    double p0 = clk(CLOCK_PROCESS_CPUTIME_ID), m0 = clk(CLOCK_MONOTONIC);
    spin_user(CLOCK_PROCESS_CPUTIME_ID, 0.3);
    double p1 = clk(CLOCK_PROCESS_CPUTIME_ID), m1 = clk(CLOCK_MONOTONIC);
    getrusage(RUSAGE_SELF, &r1);
    double du = tv(r1.ru_utime) - tv(r0.ru_utime), ds = tv(r1.ru_stime) - tv(r0.ru_stime);
    printf("busy loop: process clock advanced 0.3 s: %s\n", yes(p1 - p0 >= 0.3));
    printf("busy loop: no faster than the wall clock: %s\n", yes(p1 - p0 <= m1 - m0 + 0.02));
    printf("busy loop: rusage user time grew 0.2-0.5 s: %s\n", yes(du > 0.2 && du < 0.5));
    printf("busy loop: mostly user time: %s\n", yes(du > 3 * ds));
    /* system time */
    getrusage(RUSAGE_SELF, &r0);
    spin_sys(0.3);
    getrusage(RUSAGE_SELF, &r1);
    du = tv(r1.ru_utime) - tv(r0.ru_utime), ds = tv(r1.ru_stime) - tv(r0.ru_stime);
    printf("reading /dev/zero: mostly system time: %s\n", yes(ds > 0.15 && ds > du));
    /* times() agrees */
    struct tms tm;
    times(&tm);
    long hz = sysconf(_SC_CLK_TCK);
    printf("times: user ticks match rusage: %s\n",
           yes(labs(tm.tms_utime - (long)(tv(r1.ru_utime) * hz)) <= 2 + hz / 20));
    printf("times: system ticks match rusage: %s\n",
           yes(labs(tm.tms_stime - (long)(tv(r1.ru_stime) * hz)) <= 2 + hz / 20));
    /* the thread clock and RUSAGE_THREAD: another thread's time is not ours */
    double t0 = clk(CLOCK_THREAD_CPUTIME_ID);
    p0 = clk(CLOCK_PROCESS_CPUTIME_ID);
    double secs = 0.3;
    pthread_t th;
    pthread_create(&th, 0, thread_spin, &secs);
    clockid_t tc;
    printf("pthread_getcpuclockid: %s\n", yes(pthread_getcpuclockid(th, &tc) == 0));
    pthread_join(th, 0);
    double t1 = clk(CLOCK_THREAD_CPUTIME_ID);
    p1 = clk(CLOCK_PROCESS_CPUTIME_ID);
    printf("a thread spun 0.3 s: process clock grew by it: %s\n", yes(p1 - p0 >= 0.3));
    printf("a thread spun 0.3 s: the main thread's clock did not: %s\n", yes(t1 - t0 < 0.15));
    getrusage(RUSAGE_THREAD, &rt);
    getrusage(RUSAGE_SELF, &r1);
    printf("RUSAGE_THREAD below RUSAGE_SELF by the thread's: %s\n",
           yes(tv(r1.ru_utime) + tv(r1.ru_stime) - tv(rt.ru_utime) - tv(rt.ru_stime) >= 0.25));
    clockid_t pc, mine;
    printf("clock_getcpuclockid(0): %s\n", yes(clock_getcpuclockid(0, &pc) == 0));
    printf("its clock is the process's: %s\n", yes(clk(pc) - clk(CLOCK_PROCESS_CPUTIME_ID) < 0.05 &&
                                                   clk(CLOCK_PROCESS_CPUTIME_ID) - clk(pc) < 0.05));
    pthread_getcpuclockid(pthread_self(), &mine);
    printf("own pthread clock is the thread clock: %s\n", yes(clk(mine) - clk(CLOCK_THREAD_CPUTIME_ID) < 0.05));
    struct timespec res;
    printf("clock_getres(CLOCK_PROCESS_CPUTIME_ID): %s\n",
           yes(clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0));
    /* a clock of no process; a bad clock id */
    struct timespec ts;
    errno = 0;
    printf("clock_gettime(the clock of no process): %s\n",
           clock_gettime(((~(clockid_t)999999) << 3) | 2, &ts) < 0 && errno == EINVAL ? "EINVAL" : "other");
    errno = 0;
    printf("clock_gettime(CPU clock kind 3): %s\n",
           syscall(SYS_clock_gettime, (~(clockid_t)0 << 3) | 3, &ts) < 0 && errno == EINVAL ? "EINVAL" : "other");
    errno = 0;
    struct timespec short_ = {0, 1000};
    printf("clock_nanosleep(CLOCK_THREAD_CPUTIME_ID): %s\n",
           clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &short_, 0) == EINVAL ? "EINVAL" : "other");

    /* children: nothing until one is waited for */
    struct rusage c0, c1, w;
    getrusage(RUSAGE_CHILDREN, &c0);
    printf("no children yet: zero: %s\n", yes(tv(c0.ru_utime) == 0 && tv(c0.ru_stime) == 0 && c0.ru_maxrss == 0));
    pid_t pid = fork();
    if (pid == 0) {
        volatile char *mem = malloc(16 << 20); /* 16 MiB touched: its maximum resident size */
        for (int i = 0; i < 16 << 20; i += 4096)
            mem[i] = 1;
        spin_user(CLOCK_PROCESS_CPUTIME_ID, 0.3);
        _exit(mem[4096] == 1 ? 0 : 1);
    }
    siginfo_t si;
    waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
    clockid_t cc;
    printf("clock_getcpuclockid(a zombie child): %s\n", yes(clock_getcpuclockid(pid, &cc) == 0));
    printf("the zombie's clock shows its 0.3 s: %s\n", yes(clk(cc) >= 0.3));
    getrusage(RUSAGE_CHILDREN, &c1);
    printf("a zombie child does not count yet: %s\n", yes(tv(c1.ru_utime) == tv(c0.ru_utime)));
    int st;
    wait4(pid, &st, 0, &w);
    printf("wait4 rusage: user 0.25-0.6 s: %s\n", yes(tv(w.ru_utime) >= 0.25 && tv(w.ru_utime) < 0.6));
    printf("wait4 rusage: maxrss 16 MiB or more: %s\n", yes(w.ru_maxrss >= 16 * 1024));
    getrusage(RUSAGE_CHILDREN, &c1);
    printf("RUSAGE_CHILDREN is the waited child's: %s\n",
           yes(tv(c1.ru_utime) == tv(w.ru_utime) && tv(c1.ru_stime) == tv(w.ru_stime)));
    printf("RUSAGE_CHILDREN maxrss is the child's: %s\n", yes(c1.ru_maxrss == w.ru_maxrss));
    times(&tm);
    printf("times: children's user ticks: %s\n", yes(tm.tms_cutime >= hz / 4));
    /* a grandchild's time reaches us through the child that waited for it */
    pid = fork();
    if (pid == 0) {
        pid_t g = fork();
        if (g == 0) {
            spin_user(CLOCK_PROCESS_CPUTIME_ID, 0.3);
            _exit(0);
        }
        waitpid(g, 0, 0);
        _exit(0);
    }
    wait4(pid, &st, 0, &w);
    printf("wait4 rusage includes the grandchild's: %s\n", yes(tv(w.ru_utime) >= 0.25));
    getrusage(RUSAGE_CHILDREN, &r1);
    printf("RUSAGE_CHILDREN adds up: %s\n", yes(tv(r1.ru_utime) >= tv(c1.ru_utime) + 0.25));
    return 0;
}
