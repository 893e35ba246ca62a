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

const int arch_divide_by_zero_traps = 1;

void arch_undefined_instruction(void)
{
    __asm__ volatile("ud2");
}
