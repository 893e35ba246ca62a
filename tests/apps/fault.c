/* Writes through a wild pointer: the kernel must report the page fault with
 * registers and a backtrace, then exit 139. */
#include <hermit/app.h>

__attribute__((noinline)) void scribble(volatile unsigned long *p)
{
    *p = 0x1234;
    __asm__ volatile("");
}

int main(int argc, char **argv)
{
    printf("about to fault\n");
    scribble((volatile unsigned long *)0x10);
    return 0;
}
