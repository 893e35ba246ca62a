/* A program that spends nearly all its time in one system call: reads of
 * 4 MiB from /dev/zero (the kernel clears the buffer). test_profile.py
 * checks the profile puts that time in the kernel's sys_read. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    static char buf[4 << 20];
    int fd = open("/dev/zero", O_RDONLY);
    long total = 0;
    for (int i = 0; i < 300; i++)
        total += read(fd, buf, sizeof buf);
    printf("%ld\n", total);
    return 0;
}
