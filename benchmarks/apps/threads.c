/* SMP benchmarks, one static binary (gcc -static -O2 -fopenmp) run in the
 * guest and on the host:
 *   threads lat N      thread create+join, futex ping-pong between two
 *                      threads (round trip), sched_yield
 *   threads fwq N      fixed-work-quanta on every CPU: per-sample overhead
 *                      above the fastest sample (OS noise)
 *   threads stream N   STREAM Copy/Scale/Add/Triad (N doubles per array),
 *                      one thread and all threads, best of 5 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline uint64_t ticks(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
#else
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
#endif
}

/* --- latencies --- */
static void *nothing(void *arg) { return arg; }

static volatile int ping, pong;
static long rounds;

static void fwait(volatile int *addr, int val) { syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, 0, 0, 0); }
static void fwake(volatile int *addr) { syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0); }

static void *ponger(void *arg)
{
    for (long i = 1; i <= rounds; i++) {
        while (ping != i)
            fwait(&ping, (int)(i - 1));
        pong = (int)i;
        fwake(&pong);
    }
    return 0;
}

static int lat(long n)
{
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        pthread_create(&t, 0, nothing, 0);
        pthread_join(t, 0);
    }
    double create_us = (now_s() - t0) / n * 1e6;

    rounds = n;
    pthread_t t;
    pthread_create(&t, 0, ponger, 0);
    t0 = now_s();
    for (long i = 1; i <= n; i++) {
        ping = (int)i;
        fwake(&ping);
        while (pong != i)
            fwait(&pong, (int)(i - 1));
    }
    double pingpong_ns = (now_s() - t0) / n * 1e9;
    pthread_join(t, 0);

    t0 = now_s();
    for (long i = 0; i < n * 10; i++)
        sched_yield();
    double yield_ns = (now_s() - t0) / (n * 10) * 1e9;
    printf("thread_create_join_us=%.2f futex_pingpong_ns=%.0f yield_ns=%.0f\n", create_us, pingpong_ns, yield_ns);
    return 0;
}

/* --- FWQ --- */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int fwq(long samples)
{
    int nt = omp_get_num_procs();
    uint64_t *all = calloc((size_t)(nt * samples), sizeof *all);
    double t0 = now_s();
    uint64_t k0 = ticks();
#pragma omp parallel num_threads(nt)
    {
        uint64_t *mine = all + omp_get_thread_num() * samples;
        for (long s = 0; s < samples; s++) {
            uint64_t a = ticks();
            volatile double x = 1.0;
            for (int i = 0; i < 20000; i++) /* one quantum of fixed work */
                x = x * 1.0000001 + 0.0000001;
            mine[s] = ticks() - a;
        }
    }
    double hz = (ticks() - k0) / (now_s() - t0);
    qsort(all, (size_t)(nt * samples), sizeof *all, cmp_u64);
    size_t n = (size_t)(nt * samples);
    double base = all[0] / hz * 1e9;
#define OVER(v) ((v) / hz * 1e9 - base)
    printf("fwq_threads=%d fwq_samples=%zu fwq_quantum_ns=%.0f fwq_overhead_median_ns=%.0f fwq_overhead_p99_ns=%.0f "
           "fwq_overhead_max_ns=%.0f\n",
           nt, n, base, OVER(all[n / 2]), OVER(all[n * 99 / 100]), OVER(all[n - 1]));
    return 0;
}

/* --- STREAM (McCalpin's four kernels) --- */
static double *a, *b, *c;

static void stream_run(long n, int threads, double best[4])
{
    const double scalar = 3.0;
    for (int k = 0; k < 4; k++)
        best[k] = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t[4];
        t[0] = now_s();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long j = 0; j < n; j++)
            c[j] = a[j];
        t[0] = now_s() - t[0];
        t[1] = now_s();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long j = 0; j < n; j++)
            b[j] = scalar * c[j];
        t[1] = now_s() - t[1];
        t[2] = now_s();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long j = 0; j < n; j++)
            c[j] = a[j] + b[j];
        t[2] = now_s() - t[2];
        t[3] = now_s();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long j = 0; j < n; j++)
            a[j] = b[j] + scalar * c[j];
        t[3] = now_s() - t[3];
        const double bytes[4] = {2.0 * 8 * n, 2.0 * 8 * n, 3.0 * 8 * n, 3.0 * 8 * n};
        for (int k = 0; k < 4; k++)
            if (rep > 0 && bytes[k] / t[k] / 1e6 > best[k]) /* the first pass warms up */
                best[k] = bytes[k] / t[k] / 1e6;
    }
}

static int stream(long n)
{
    a = malloc(n * sizeof *a);
    b = malloc(n * sizeof *b);
    c = malloc(n * sizeof *c);
    int all = omp_get_num_procs();
#pragma omp parallel for num_threads(all) schedule(static)
    for (long j = 0; j < n; j++) { /* first touch where the threads run */
        a[j] = 1.0;
        b[j] = 2.0;
        c[j] = 0.0;
    }
    double one[4], many[4];
    stream_run(n, 1, one);
    stream_run(n, all, many);
    printf("stream_threads=%d copy_1=%.0f scale_1=%.0f add_1=%.0f triad_1=%.0f copy_n=%.0f scale_n=%.0f add_n=%.0f "
           "triad_n=%.0f\n",
           all, one[0], one[1], one[2], one[3], many[0], many[1], many[2], many[3]);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 2 ? atol(argv[2]) : 1000;
    if (argc > 1 && !strcmp(argv[1], "lat"))
        return lat(n);
    if (argc > 1 && !strcmp(argv[1], "fwq"))
        return fwq(n);
    if (argc > 1 && !strcmp(argv[1], "stream"))
        return stream(n);
    fprintf(stderr, "usage: threads lat|fwq|stream N\n");
    return 2;
}
