/* Exit through Arm semihosting SYS_EXIT (QEMU -semihosting): with the
 * ADP_Stopped_ApplicationExit reason, QEMU exits with the status. The status
 * byte goes first to the semihosting console (SYS_WRITEC), which the run
 * sends to a file: QEMU also exits 0 when the guest resets or powers off, and
 * the byte tells the host that this 0 is the program's. */
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <stdint.h>

#define SYS_WRITEC 0x03
#define SYS_EXIT 0x18
#define ADP_Stopped_ApplicationExit 0x20026

static void semihosting_exit(int status)
{
    static uint64_t block[2];
    static char byte;
    byte = (char)status;
    register uint64_t c0 __asm__("x0") = SYS_WRITEC;
    register uint64_t c1 __asm__("x1") = (uint64_t)&byte;
    __asm__ volatile("hlt #0xf000" : "+r"(c0) : "r"(c1) : "memory");
    block[0] = ADP_Stopped_ApplicationExit;
    block[1] = (uint64_t)status;
    register uint64_t x0 __asm__("x0") = SYS_EXIT;
    register uint64_t x1 __asm__("x1") = (uint64_t)block;
    __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
}

static void semihosting_init(void)
{
    poweroff_register("semihosting", semihosting_exit);
}
HERMIT_INIT(HERMIT_INIT_ARCH, semihosting_init);
