/* The small set of names every architecture exports. Generic kernel code
 * calls the CPU only through these. */
#pragma once
#include <stdint.h>

/* Stop this CPU for good (interrupts off, halt/wfi loop). */
void arch_halt(void) __attribute__((noreturn));

/* Back-off hint inside spin loops. */
void arch_cpu_relax(void);

/* Return address of a frame, for backtraces: walks frame pointers. */
uintptr_t arch_frame_pointer(void);

/* Name of the architecture, e.g. "x86_64". */
extern const char arch_name[];
