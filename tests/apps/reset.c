/* Resets the machine without an exit status (x86_64: a triple fault through
 * an empty IDT; aarch64: PSCI SYSTEM_RESET): the host must say what
 * happened, not hang and not report success. */
#include <hermit/app.h>

int main(int argc, char **argv)
{
    printf("about to reset\n");
#if defined(__x86_64__)
    struct {
        unsigned short limit;
        unsigned long base;
    } __attribute__((packed)) none = {0, 0};
    __asm__ volatile("lidt %0; int3" : : "m"(none));
#else
    register unsigned long x0 __asm__("x0") = 0x84000009; /* PSCI SYSTEM_RESET */
    __asm__ volatile("hvc #0" : "+r"(x0) : : "memory");
#endif
    for (;;)
        ;
}
