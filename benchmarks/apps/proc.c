/* Process benchmarks (metric `processes`), one static binary run in
 * hermitcore, in the Linux guest (as /init) and on the host:
 *   proc N     fork+exit+wait, posix_spawn+wait of this program as `true`,
 *              a one-byte pipe ping-pong between two processes (round
 *              trip), a signal to itself (kill -> handler -> sigreturn), N
 *              rounds each (medians of 5 batches); then the memory a fork of
 *              a process with 256 MiB resident adds until the child writes
 *              (free RAM from sysinfo before and after, the child alive)
 *   proc true  exits 0 (what posix_spawn starts) */
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static char self[256];
static volatile int caught;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median over 5 batches of n rounds of f, per round, in microseconds. */
static double median_us(void (*f)(int), int n)
{
    double t[5];
    for (int b = 0; b < 5; b++) {
        double t0 = now_us();
        f(n);
        t[b] = (now_us() - t0) / n;
    }
    qsort(t, 5, sizeof t[0], cmp);
    return t[2];
}

static void fork_wait(int n)
{
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        waitpid(pid, 0, 0);
    }
}

static void spawn_wait(int n)
{
    char *argv[] = {self, "true", 0};
    for (int i = 0; i < n; i++) {
        pid_t pid;
        if (posix_spawn(&pid, self, 0, 0, argv, environ) != 0) {
            printf("posix_spawn %s failed\n", self);
            exit(1);
        }
        waitpid(pid, 0, 0);
    }
}

static int ping[2], pong[2];

static void pingpong(int n)
{
    char c = 0;
    for (int i = 0; i < n; i++) {
        write(ping[1], &c, 1);
        read(pong[0], &c, 1);
    }
}

static void on_usr1(int sig) { caught++; }

static void signal_rt(int n)
{
    for (int i = 0; i < n; i++)
        kill(getpid(), SIGUSR1);
}

static long free_kib(void)
{
    struct sysinfo si;
    sysinfo(&si);
    return (long)(si.freeram * si.mem_unit / 1024);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "true"))
        return 0;
    int n = argc > 2 ? atoi(argv[2]) : 200;
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0)
        self[len] = 0;
    else
        snprintf(self, sizeof self, "%s", argv[0]); /* the Linux guest's /init has no /proc */
    double fork_us = median_us(fork_wait, n);
    double spawn_us = median_us(spawn_wait, n);
    pipe(ping);
    pipe(pong);
    pid_t echo = fork();
    if (echo == 0) {
        char c;
        close(ping[1]); /* EOF when the parent closes its end */
        close(pong[0]);
        while (read(ping[0], &c, 1) == 1)
            write(pong[1], &c, 1);
        _exit(0);
    }
    close(ping[0]);
    close(pong[1]);
    double pp_us = median_us(pingpong, n * 5);
    close(ping[1]);
    waitpid(echo, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    double sig_ns = median_us(signal_rt, n * 10) * 1000;

    /* fork with 256 MiB resident: what the child costs before it writes */
    size_t big = 256u << 20;
    char *mem = malloc(big);
    memset(mem, 1, big);
    int ready[2], go[2];
    pipe(ready);
    pipe(go);
    long before = free_kib();
    pid_t child = fork();
    if (child == 0) {
        char c;
        write(ready[1], "r", 1);
        read(go[0], &c, 1);
        _exit(mem[big / 2]);
    }
    char c;
    read(ready[0], &c, 1);
    long added = before - free_kib();
    write(go[1], "g", 1);
    waitpid(child, 0, 0);
    printf("processes fork_exit_wait_us=%.1f spawn_wait_us=%.1f pipe_pingpong_us=%.2f signal_rt_ns=%.0f "
           "fork_256m_added_kib=%ld\n", fork_us, spawn_us, pp_us, sig_ns, added);
    return caught == n * 10 * 5 ? 0 : 1;
}
