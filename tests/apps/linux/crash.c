/* Writes through a wild pointer: the kernel must report it and survive. */
#include <stdio.h>
int main(void)
{
    printf("about to crash\n");
    fflush(stdout);
    *(volatile int *)0x10 = 42;
    printf("still alive?!\n");
    return 0;
}
