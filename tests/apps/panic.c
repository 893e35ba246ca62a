/* Panics two calls deep, so the backtrace has frames to symbolise. */
#include <hermit/app.h>

__attribute__((noinline)) void deliberate_fault(int depth)
{
    if (depth == 0)
        panic("deliberate panic from the test app");
    deliberate_fault(depth - 1);
    __asm__ volatile(""); /* keep the frame: no tail call */
}

int main(int argc, char **argv)
{
    printf("about to panic\n");
    deliberate_fault(2);
    return 0;
}
