#include <hermit/arch.h>

const char arch_name[] = "x86_64";

void arch_halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

void x86_tlb_flush_if_asked(void);

/* Every spin loop also answers TLB shoot-downs: a CPU spinning for a lock
 * with interrupts masked would otherwise stall the CPU that asked (which
 * may hold the lock the spinner's lock holder waits for). */
void arch_cpu_relax(void)
{
    __asm__ volatile("pause");
    x86_tlb_flush_if_asked();
}

const int arch_divide_by_zero_traps = 1;

void arch_undefined_instruction(void)
{
    __asm__ volatile("ud2");
}
