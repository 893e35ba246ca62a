/* 16550 UART console. Specialised at compose time: NS16550_PIO selects x86
 * port I/O or MMIO; the base address comes from the board's device tree
 * through board.h (BOARD_NS16550_0_BASE). */
#include <board.h>
#include <hermit/console.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/time.h>
#include <stdint.h>

#define THR 0 /* transmit holding */
#define RBR 0 /* receive buffer */
#define IER 1
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define LSR_THRE 0x20
#define LSR_DR 0x01
#define IIR 2
#define IER_THRI 0x02
#define IER_RDI 0x01
#define MCR_OUT2 0x08 /* gates the UART's interrupt line on PC hardware */

#if NS16550_PIO
#include <arch/io.h>
static inline void reg_write(unsigned r, uint8_t v) { outb(BOARD_NS16550_0_BASE + r, v); }
static inline uint8_t reg_read(unsigned r) { return inb(BOARD_NS16550_0_BASE + r); }
#else
static inline void reg_write(unsigned r, uint8_t v)
{
    *(volatile uint8_t *)(uintptr_t)(BOARD_NS16550_0_BASE + (r << NS16550_REG_SHIFT)) = v;
}
static inline uint8_t reg_read(unsigned r)
{
    return *(volatile uint8_t *)(uintptr_t)(BOARD_NS16550_0_BASE + (r << NS16550_REG_SHIFT));
}
#endif

static void ns16550_putc(char c)
{
    for (unsigned spin = 0; !(reg_read(LSR) & LSR_THRE) && spin < 100000; spin++)
        ;
    reg_write(THR, (uint8_t)c);
}

static volatile unsigned irqs;
static uint8_t ier_rx; /* IER_RDI while the streams take input (HERMIT_STDIO_MUX) */

static void ns16550_irq(unsigned irq, void *arg)
{
    (void)reg_read(IIR);   /* acknowledges "transmit empty" */
    reg_write(IER, ier_rx); /* one "transmit empty" is enough */
    irqs++;
    while ((reg_read(LSR) & LSR_DR) && console_input_room())
        console_input((char)reg_read(RBR));
}

/* Input held off while the program is behind: the byte waits in the UART
 * (and QEMU stops taking more from the host). */
static void ns16550_rx_enable(int on)
{
    ier_rx = on ? IER_RDI : 0;
    reg_write(IER, ier_rx);
}

/* "Transmit holding register empty" fires at once on an idle UART. */
static unsigned ns16550_irq_selftest(void)
{
    /* (the handler was registered at boot, for input) */
    unsigned before = irqs;
    reg_write(IER, ier_rx | IER_THRI);
    uint64_t until = clock_ns() + 100 * NSEC_PER_MSEC;
    while (irqs == before && clock_ns() < until)
        arch_idle();
    reg_write(IER, ier_rx);
    return irqs - before;
}

static const struct console ns16550_console = {"ns16550", ns16550_putc, ns16550_irq_selftest, 0, ns16550_rx_enable};

static void ns16550_init(void)
{
    reg_write(IER, 0x00); /* polled: no interrupts yet */
    reg_write(LCR, 0x03); /* 8N1 (QEMU ignores the divisor) */
    reg_write(FCR, 0x07); /* enable and clear FIFOs */
    reg_write(MCR, 0x03 | MCR_OUT2); /* DTR | RTS | OUT2 */
    console_register(&ns16550_console);
}
HERMIT_INIT(HERMIT_INIT_CONSOLE, ns16550_init);

/* The host's input comes over this UART (the program's stdin without a
 * stream device; the host's signals always): take its receive interrupt. */
static void ns16550_input(void)
{
    if (irq_register(BOARD_NS16550_0_IRQ, ns16550_irq, 0) == 0) {
        ns16550_rx_enable(1);
        console_input_ready();
    }
}
HERMIT_INIT(HERMIT_INIT_DEVICE, ns16550_input);

