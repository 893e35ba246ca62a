/* Power-off with an exit status through QEMU's isa-debug-exit device.
 * isa-debug-exit makes QEMU exit with (value << 1) | 1, which can only be
 * odd; so the exact status byte goes first to an isa-debugcon port that the
 * host reads back (ISA_EXIT_STATUS_PORT, when the board has one). */
#include <arch/io.h>
#include <board.h>
#include <hermit/hermit.h>
#include <hermit/init.h>

static void isa_debug_exit(int status)
{
#ifdef ISA_EXIT_STATUS_PORT
    outb(ISA_EXIT_STATUS_PORT, (uint8_t)status);
#endif
    outl(BOARD_ISA_DEBUG_EXIT_0_BASE, (uint32_t)(status & 0x7f));
}

static void isa_debug_exit_init(void)
{
    poweroff_register("isa-debug-exit", isa_debug_exit);
}
HERMIT_INIT(HERMIT_INIT_ARCH, isa_debug_exit_init);
