/* Generic interrupt API used by drivers. IRQ numbers are the platform's:
 * IOAPIC GSIs on x86_64 (plus ARCH_IRQ_* for local sources), GIC INTIDs on
 * aarch64 -- the numbers board.h gives as BOARD_<DRIVER>_<n>_IRQ. */
#pragma once
#include <hermit/arch.h>
#include <stdint.h>

#define IRQ_MAX 256

typedef void (*irq_handler_t)(unsigned irq, void *arg);

/* Install `handler` for `irq` and unmask it. Returns 0, or -1 if the number
 * is out of range or already taken. */
int irq_register(unsigned irq, irq_handler_t handler, void *arg);

/* Called by the arch layer for each interrupt taken (after acknowledging,
 * before EOI). Unhandled interrupts are counted and reported once. */
void irq_handle(unsigned irq);

/* Called by the arch layer for spurious interrupts (counted, never fatal). */
void irq_spurious(void);

struct irq_stats {
    uint64_t handled, unhandled, spurious;
};
void irq_get_stats(struct irq_stats *out);

