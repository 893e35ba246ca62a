#include <hermit/arch.h>

const char arch_name[] = "x86_64";

void arch_halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

void arch_cpu_relax(void)
{
    __asm__ volatile("pause");
}

uintptr_t arch_frame_pointer(void)
{
    return (uintptr_t)__builtin_frame_address(0);
}
