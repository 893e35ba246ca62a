/* Spends about 70% of its time in hot() and 30% in warm() (the same loop,
 * 7 and 3 rounds of it), for tests/integration/test_profile.py; with
 * "kernel", most of it in read() of /dev/zero. Built with -O0
 * -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer so that every
 * function, leaves too, has a frame to walk. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void spin(unsigned long n)
{
    unsigned long x = 1;
    for (unsigned long i = 0; i < n; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    sink = x;
}

__attribute__((noinline)) void hot(unsigned long n) { for (int r = 0; r < 7; r++) spin(n); }
__attribute__((noinline)) void warm(unsigned long n) { for (int r = 0; r < 3; r++) spin(n); }

__attribute__((noinline)) void zeroes(void)
{
    static char buf[1 << 20];
    int fd = open("/dev/zero", O_RDONLY);
    for (int i = 0; i < 400; i++)
        if (read(fd, buf, sizeof buf) != sizeof buf)
            exit(1);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "kernel")) {
        zeroes();
        printf("done\n");
        return 0;
    }
    for (int round = 0; round < 10; round++) {
        hot(2000000);
        warm(2000000);
    }
    printf("done %lu\n", sink & 1);
    return 0;
}
