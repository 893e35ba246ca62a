/* System-call round trip, as a static Linux program (the same binary runs
 * in hermitcore and on the host): a no-op call (getppid) and a small write
 * to /dev/null, each timed over many iterations with CLOCK_MONOTONIC. */
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double ns_per(struct timespec a, struct timespec b, long n)
{
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    char buf[64] = {0};
    int fd = open("/dev/null", O_WRONLY);
    struct timespec a, b;
    double best_noop = 1e30, best_write = 1e30;
    for (int round = 0; round < 3; round++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double t = ns_per(a, b, n);
        best_noop = t < best_noop ? t : best_noop;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++)
            write(fd, buf, sizeof buf);
        clock_gettime(CLOCK_MONOTONIC, &b);
        t = ns_per(a, b, n);
        best_write = t < best_write ? t : best_write;
    }
    printf("syscall_noop_ns=%.1f syscall_write64_ns=%.1f iterations=%ld\n", best_noop, best_write, n);
    return 0;
}
