/* The CPU this code runs on, inline (hermit/arch.h includes it): every
 * current_thread() on every system call is one system-register read, not
 * a call -- under TCG a call's return is a translation-block lookup. */
#pragma once
struct cpu;
static inline struct cpu *arch_this_cpu(void)
{
    struct cpu *c;
    __asm__ volatile("mrs %0, tpidr_el1" : "=r"(c));
    return c;
}
