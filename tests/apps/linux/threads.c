/* pthreads probe: hermitcore's test suite runs it unmodified (glibc and
 * musl, static) and reads what it prints.
 *   threads suite        checksums, producer/consumer, TLS, timed waits,
 *                        threads exiting while others block; exit 0
 *   threads exit-running main returns 7 while threads still run */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 8
#define ITEMS 100000
#define PRODUCERS 4
#define CONSUMERS 4
#define QSIZE 64

static __thread long tls_value;
static long tls_seen[WORKERS];
static uint64_t sums[WORKERS];
static int cpu_of[WORKERS];
static pthread_barrier_t all_alive; /* every worker exists before any finishes */

static uint64_t checksum(long id)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)id;
    for (long i = 0; i < 200000; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    return h;
}

static void *worker(void *arg)
{
    long id = (long)arg;
    pthread_barrier_wait(&all_alive);
    tls_value = id * 1000 + 7;
    sums[id] = checksum(id);
    sched_yield();
    tls_seen[id] = tls_value;
    cpu_of[id] = sched_getcpu();
    return (void *)(id + 1);
}

/* --- producer / consumer --- */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue[QSIZE], qhead, qcount, producers_left = PRODUCERS;
static unsigned char seen[ITEMS];
static long consumed, duplicates;

static void *producer(void *arg)
{
    long id = (long)arg;
    for (int i = (int)id; i < ITEMS; i += PRODUCERS) {
        pthread_mutex_lock(&qlock);
        while (qcount == QSIZE)
            pthread_cond_wait(&not_full, &qlock);
        queue[(qhead + qcount++) % QSIZE] = i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&qlock);
    }
    pthread_mutex_lock(&qlock);
    producers_left--;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&qlock);
    return 0;
}

static void *consumer(void *arg)
{
    for (;;) {
        pthread_mutex_lock(&qlock);
        while (qcount == 0 && producers_left)
            pthread_cond_wait(&not_empty, &qlock);
        if (qcount == 0) {
            pthread_mutex_unlock(&qlock);
            return 0;
        }
        int item = queue[qhead];
        qhead = (qhead + 1) % QSIZE;
        qcount--;
        if (seen[item]++)
            duplicates++;
        consumed++;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&qlock);
    }
}

/* --- blocking and exiting --- */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate = PTHREAD_COND_INITIALIZER;
static int gate_open;

static void *blocker(void *arg)
{
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static void *quick_exit_thread(void *arg) { return arg; }

static void *spinner(void *arg)
{
    volatile unsigned long n = 0;
    for (;;) {
        n++;
        if ((n & 0xfffff) == 0)
            sched_yield();
    }
    return 0;
}

static void *sleeper(void *arg)
{
    for (;;)
        sleep(1);
    return 0;
}

static int suite(void)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    printf("cpus: %d online, %ld by sysconf\n", CPU_COUNT(&set), sysconf(_SC_NPROCESSORS_ONLN));

    pthread_t t[WORKERS];
    pthread_barrier_init(&all_alive, 0, WORKERS);
    for (long i = 0; i < WORKERS; i++)
        if (pthread_create(&t[i], 0, worker, (void *)i) != 0)
            return printf("pthread_create failed\n"), 1;
    int ok = 1, tls_ok = 1;
    for (long i = 0; i < WORKERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        ok &= (long)r == i + 1 && sums[i] == checksum(i);
        tls_ok &= tls_seen[i] == i * 1000 + 7;
    }
    printf("checksums: %d threads %s\n", WORKERS, ok ? "ok" : "WRONG");
    printf("tls: %s (main %ld)\n", tls_ok && tls_value == 0 ? "distinct per thread" : "SHARED", tls_value);
    int cpus_used = 0;
    for (int c = 0; c < 64; c++) {
        int used = 0;
        for (int i = 0; i < WORKERS; i++)
            used |= cpu_of[i] == c;
        cpus_used += used;
    }
    printf("workers ran on %d cpus\n", cpus_used);

    pthread_t p[PRODUCERS], c[CONSUMERS];
    for (long i = 0; i < CONSUMERS; i++)
        pthread_create(&c[i], 0, consumer, 0);
    for (long i = 0; i < PRODUCERS; i++)
        pthread_create(&p[i], 0, producer, (void *)i);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], 0);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], 0);
    long missing = 0;
    for (int i = 0; i < ITEMS; i++)
        missing += !seen[i];
    printf("producer/consumer: %ld items, %ld missing, %ld duplicated\n", consumed, missing, duplicates);

    /* a timed wait that must time out */
    struct timespec t0, t1, dl;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 30 * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&gate_lock);
    int rc = pthread_cond_timedwait(&gate, &gate_lock, &dl);
    pthread_mutex_unlock(&gate_lock);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("timedwait: %s after >= 30 ms: %s\n", rc == ETIMEDOUT ? "ETIMEDOUT" : strerror(rc), ms >= 29 ? "yes" : "no");
    fprintf(stderr, "timedwait: waited %ld ms\n", ms); /* for a failing run's record */

    /* threads exit while others block in futex waits, then those are released */
    pthread_t b[4], q[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&b[i], 0, blocker, 0);
    for (long i = 0; i < 4; i++)
        pthread_create(&q[i], 0, quick_exit_thread, (void *)i);
    long qsum = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(q[i], &r);
        qsum += (long)r;
    }
    usleep(10000);
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate);
    pthread_mutex_unlock(&gate_lock);
    for (int i = 0; i < 4; i++)
        pthread_join(b[i], 0);
    printf("exit while blocked: %ld from the quick ones, blockers released\n", qsum);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "exit-running")) {
        pthread_t t;
        pthread_create(&t, 0, spinner, 0);
        pthread_create(&t, 0, spinner, 0);
        pthread_create(&t, 0, sleeper, 0);
        usleep(20000);
        printf("main returns while 3 threads run\n");
        return 7;
    }
    return suite();
}
