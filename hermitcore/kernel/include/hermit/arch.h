/* The small set of names every architecture exports. Generic kernel code
 * calls the CPU only through these. */
#pragma once
#include <stdint.h>

/* Stop this CPU for good (interrupts off, halt/wfi loop). */
void arch_halt(void) __attribute__((noreturn));

/* Back-off hint inside spin loops. */
void arch_cpu_relax(void);

/* Name of the architecture, e.g. "x86_64". */
extern const char arch_name[];

/* Self-test support: execute an undefined instruction (ud2 / udf). */
void arch_undefined_instruction(void);

/* Whether integer division by zero traps on this architecture. */
extern const int arch_divide_by_zero_traps;

/* Lowest address of the boot stack's guard page (never mapped). */
extern char boot_stack_guard[];
