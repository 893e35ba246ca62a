/* The clock read 1002 times through the vDSO (and time() once): what the
 * kernel sees of it is checked with --strace (test_dynamic.py). */
#include <stdio.h>
#include <time.h>

int main(void)
{
    struct timespec a, b, r;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 1000; i++)
        clock_gettime(CLOCK_MONOTONIC, &b);
    clock_gettime(CLOCK_REALTIME, &r);
    printf("monotonic clock never goes back: %s\n",
           b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec) ? "yes" : "no");
    printf("realtime after 2020: %s, time() agrees: %s\n", r.tv_sec > 1577836800 ? "yes" : "no",
           time(0) - r.tv_sec <= 1 ? "yes" : "no");
    return 0;
}
