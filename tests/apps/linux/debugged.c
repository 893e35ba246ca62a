/* A program to step through in gdb (tests/integration/test_debug.py, built
 * with -g -O0): main calls square three times, prints the sum and exits 7.
 * With an argument it first reads stdin to its end (a guest that stays up
 * while the test talks to QEMU's monitor). */
#include <stdio.h>
#include <unistd.h>

static int square(int x)
{
    int y = x * x;
    return y;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 1; i <= 3; i++)
        total += square(i);
    if (argc > 1) {
        char buf[256];
        while (read(0, buf, sizeof buf) > 0)
            ;
    }
    printf("total %d\n", total);
    return total == 14 ? 7 : 1;
}
