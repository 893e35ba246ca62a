/* Arm PL011 UART console; base address from board.h (device tree). */
#include <board.h>
#include <hermit/console.h>
#include <hermit/init.h>
#include <stdint.h>

#define UARTDR 0x00
#define UARTFR 0x18
#define UARTCR 0x30
#define FR_TXFF (1 << 5)
#define CR_UARTEN (1 << 0)
#define CR_TXE (1 << 8)

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

static const struct console pl011_console = {"pl011", pl011_putc};

static void pl011_init(void)
{
    *reg(UARTCR) |= CR_UARTEN | CR_TXE;
    console_register(&pl011_console);
}
HERMIT_INIT(HERMIT_INIT_CONSOLE, pl011_init);
