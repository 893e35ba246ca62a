/* The CPU this code runs on, inline (hermit/arch.h includes it): every
 * current_thread() on every system call is one register-relative load, not
 * a call -- under TCG a call's return is a translation-block lookup. */
#pragma once
struct cpu;
static inline struct cpu *arch_this_cpu(void)
{
    struct cpu *c;
    __asm__ volatile("mov %%gs:16, %0" : "=r"(c)); /* the per-CPU block's own address (struct cpu.self) */
    return c;
}
