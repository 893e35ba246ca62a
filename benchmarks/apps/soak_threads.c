/* Thread soak (benchmark metric `soak`), one static binary (gcc -static -O2):
 *   soak_threads N
 * creates and joins N threads, one after the other, and every 64th round
 * also starts 4 detached threads that exit on their own (so N + N/16 thread
 * lifetimes in all). Free memory (sysinfo()'s freeram) is read after a
 * warm-up (glibc's stack cache and the kernel's first allocations are then
 * in place), at 10 checkpoints in the loop and after it; each reading is
 * taken once every detached thread has said goodbye and had 20 ms to be
 * gone. Prints one line per checkpoint and one summary:
 *   soak_threads: checkpoint I free=BYTES
 *   soak_threads free_start=B free_end=B totalram=B joined=N detached=M
 *       seconds=S creates_per_s=R failed=F */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

static atomic_long live;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned long long free_bytes(unsigned long long *total)
{
    struct sysinfo si;
    if (sysinfo(&si))
        return 0;
    if (total)
        *total = (unsigned long long)si.totalram * si.mem_unit;
    return (unsigned long long)si.freeram * si.mem_unit;
}

static void *joined(void *arg)
{
    volatile char scratch[256]; /* a little of the stack touched, as real code does */
    scratch[0] = (char)(long)arg;
    return (void *)(long)scratch[0];
}

static void *detached(void *arg)
{
    (void)arg;
    atomic_fetch_sub(&live, 1);
    return 0;
}

/* Wait until every detached thread has run to its end, then give them
 * 20 ms to leave the kernel. */
static void drain(void)
{
    while (atomic_load(&live) > 0)
        sched_yield();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, 0);
}

static long failed;

static void round_trip(long i)
{
    pthread_t t;
    if (pthread_create(&t, 0, joined, (void *)i) == 0)
        pthread_join(t, 0);
    else
        failed++;
}

static long spawn_detached(void)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    long n = 0;
    for (int k = 0; k < 4; k++) {
        pthread_t t;
        atomic_fetch_add(&live, 1);
        if (pthread_create(&t, &a, detached, 0) == 0) {
            n++;
        } else {
            atomic_fetch_sub(&live, 1);
            failed++;
        }
    }
    pthread_attr_destroy(&a);
    return n;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IOLBF, 0);
    long n = argc > 1 ? atol(argv[1]) : 100000;
    if (n < 10)
        n = 10;
    for (long i = 0; i < 200; i++) { /* warm-up */
        round_trip(i);
        if (i % 64 == 0)
            spawn_detached();
    }
    drain();
    failed = 0;
    unsigned long long total = 0, start = free_bytes(&total);
    long det = 0;
    double busy = 0, t0 = now_s();
    for (long i = 0; i < n;) {
        long stop = i + n / 10 > n ? n : i + n / 10;
        for (; i < stop; i++) {
            round_trip(i);
            if (i % 64 == 0)
                det += spawn_detached();
        }
        busy += now_s() - t0;
        drain();
        printf("soak_threads: checkpoint %ld free=%llu\n", i, free_bytes(0));
        t0 = now_s();
    }
    unsigned long long end = free_bytes(0);
    printf("soak_threads free_start=%llu free_end=%llu totalram=%llu joined=%ld detached=%ld seconds=%.3f "
           "creates_per_s=%.0f failed=%ld\n",
           start, end, total, n, det, busy, (n + det) / busy, failed);
    return 0;
}
