/* Ticket spinlocks. The kernel runs with interrupts masked (system calls,
 * exceptions and interrupt handlers all do), so a plain spin_lock is safe
 * there; code that may run with interrupts on (built-in C applications,
 * the idle loop) uses the _irqsave forms. Lock order: docs/architecture.md. */
#pragma once
#include <hermit/arch.h>
#include <hermit/irq.h>
#include <stdint.h>

typedef struct {
    uint32_t next, owner;
} spinlock_t;

#define SPINLOCK_INIT {0, 0}

static inline void spin_lock(spinlock_t *l)
{
    uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
        arch_cpu_relax();
}

static inline int spin_trylock(spinlock_t *l)
{
    uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
    uint32_t expect = owner;
    return __atomic_compare_exchange_n(&l->next, &expect, owner + 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void spin_unlock(spinlock_t *l)
{
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

static inline unsigned long spin_lock_irqsave(spinlock_t *l)
{
    unsigned long flags = arch_irq_enabled();
    arch_irq_disable();
    spin_lock(l);
    return flags;
}

static inline void spin_unlock_irqrestore(spinlock_t *l, unsigned long flags)
{
    spin_unlock(l);
    if (flags)
        arch_irq_enable();
}
