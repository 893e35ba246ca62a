/* Arm PL011 UART console; base address from board.h (device tree). */
#include <board.h>
#include <hermit/console.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/time.h>
#include <stdint.h>

#define UARTDR 0x00
#define UARTFR 0x18
#define UARTCR 0x30
#define FR_TXFF (1 << 5)
#define CR_UARTEN (1 << 0)
#define CR_TXE (1 << 8)
#define UARTIMSC 0x38
#define UARTICR 0x44
#define INT_TX (1 << 5)
#define INT_RX (1 << 4)
#define INT_RT (1 << 6) /* receive timeout */
#define FR_RXFE (1 << 4)
#define CR_RXE (1 << 9)

static inline volatile uint32_t *reg(unsigned off)
{
    return (volatile uint32_t *)(uintptr_t)(BOARD_PL011_0_BASE + off);
}

static void pl011_putc(char c)
{
    for (unsigned spin = 0; (*reg(UARTFR) & FR_TXFF) && spin < 100000; spin++)
        ;
    *reg(UARTDR) = (uint8_t)c;
}

static volatile unsigned irqs;

static void pl011_irq(unsigned irq, void *arg)
{
    if (*reg(UARTIMSC) & INT_TX) {
        *reg(UARTIMSC) &= ~INT_TX; /* one is enough */
        *reg(UARTICR) = INT_TX;
        irqs++;
    }
    /* acknowledge before draining: a byte that arrives after the drain raises
     * the interrupt anew (acknowledged after, it would sit unseen, and QEMU
     * sends nothing more while it does) */
    *reg(UARTICR) = INT_RX | INT_RT;
    while (!(*reg(UARTFR) & FR_RXFE) && console_input_room())
        console_input((char)*reg(UARTDR));
}

/* Input held off while the program is behind: the byte waits in the UART
 * (and QEMU stops taking more from the host). */
static void pl011_rx_enable(int on)
{
    if (on)
        *reg(UARTIMSC) |= INT_RX | INT_RT;
    else
        *reg(UARTIMSC) &= ~(INT_RX | INT_RT);
}

/* The transmit interrupt: raised once a character has gone out. */
static unsigned pl011_irq_selftest(void)
{
    /* (the handler was registered at boot, for input) */
    unsigned before = irqs;
    *reg(UARTICR) = INT_TX;
    *reg(UARTIMSC) |= INT_TX;
    pl011_putc('\r'); /* harmless on a terminal */
    uint64_t until = clock_ns() + 100 * NSEC_PER_MSEC;
    while (irqs == before && clock_ns() < until)
        arch_idle();
    *reg(UARTIMSC) &= ~INT_TX;
    return irqs - before;
}

static const struct console pl011_console = {"pl011", pl011_putc, pl011_irq_selftest, 0, pl011_rx_enable};

static void pl011_init(void)
{
    *reg(UARTCR) |= CR_UARTEN | CR_TXE | CR_RXE;
    console_register(&pl011_console);
}
HERMIT_INIT(HERMIT_INIT_CONSOLE, pl011_init);

/* The host's input comes over this UART (the program's stdin without a
 * stream device; the host's signals always): take its receive interrupt. */
static void pl011_input(void)
{
    if (irq_register(BOARD_PL011_0_IRQ, pl011_irq, 0) == 0) {
        pl011_rx_enable(1);
        console_input_ready();
    }
}
HERMIT_INIT(HERMIT_INIT_DEVICE, pl011_input);

