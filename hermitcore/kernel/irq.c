#include <hermit/hermit.h>
#include <hermit/irq.h>

static struct {
    irq_handler_t handler;
    void *arg;
} handlers[IRQ_MAX];
static uint8_t reported[IRQ_MAX];
static struct irq_stats stats;

int irq_register(unsigned irq, irq_handler_t handler, void *arg)
{
    if (irq >= IRQ_MAX || handlers[irq].handler)
        return -1;
    handlers[irq].handler = handler;
    handlers[irq].arg = arg;
    arch_irq_unmask(irq);
    return 0;
}

void irq_handle(unsigned irq)
{
    if (irq < IRQ_MAX && handlers[irq].handler) {
        stats.handled++;
        handlers[irq].handler(irq, handlers[irq].arg);
        return;
    }
    stats.unhandled++;
    if (irq < IRQ_MAX && !reported[irq]) {
        reported[irq] = 1;
        pr_info("unhandled interrupt %u (reported once)\n", irq);
    }
}

void irq_spurious(void)
{
    stats.spurious++;
}

void irq_get_stats(struct irq_stats *out)
{
    *out = stats;
}
