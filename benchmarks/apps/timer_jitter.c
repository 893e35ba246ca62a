/* 1000 one-shot timers, each 1 ms ahead: how late does each fire? */
#include <hermit/app.h>
#include <hermit/arch.h>
#include <hermit/time.h>

#define SHOTS 1000
static uint64_t late[SHOTS];
static volatile uint64_t fired;

static void on_timer(struct timer *t, void *arg) { fired = clock_ns(); }

static void sort(uint64_t *v, int n)
{
    for (int i = 1; i < n; i++) { /* insertion sort: n is small */
        uint64_t x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

int main(int argc, char **argv)
{
    struct timer t = {0};
    for (int i = 0; i < SHOTS; i++) {
        fired = 0;
        uint64_t deadline = clock_ns() + NSEC_PER_MSEC;
        timer_add(&t, deadline, on_timer, 0);
        while (!fired)
            arch_idle();
        late[i] = fired - deadline;
    }
    sort(late, SHOTS);
    printf("[bench] timer_1ms_lateness_ns min=%llu median=%llu p99=%llu max=%llu\n", (unsigned long long)late[0],
           (unsigned long long)late[SHOTS / 2], (unsigned long long)late[SHOTS * 99 / 100],
           (unsigned long long)late[SHOTS - 1]);
    return 0;
}
