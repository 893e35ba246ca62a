/* Arm generic timer: CNTVCT_EL0 as the clock (frequency from CNTFRQ_EL0),
 * the EL1 virtual timer (CNTV_CVAL_EL0) as the one-shot event, its PPI from
 * the board's "arm,armv8-timer" node (third interrupt: virtual timer). */
#include <board.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/time.h>
#include <stdint.h>

static uint64_t freq, mult, boot_count; /* ns = (ticks * mult) >> 32 */
extern uint64_t boot_first_tick; /* boot.S */

static inline uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

uint64_t arch_clock_ns(void) { return (uint64_t)(((unsigned __int128)(counter() - boot_count) * mult) >> 32); }
uint64_t arch_clock_hz(void) { return freq; }
uint64_t arch_counter(void) { return counter(); }

int arch_clock_user(uint64_t *counter_boot, uint64_t *mult_out)
{
    *counter_boot = boot_count;
    *mult_out = mult;
    return 1; /* CNTKCTL_EL1.EL0VCTEN is set (cpu.c): cntvct_el0 reads at EL0 */
}
const char *arch_clock_name(void) { return "arm generic timer (cntvct)"; }
unsigned arch_timer_irq(void) { return BOARD_ARMV8_TIMER_0_IRQ_2; }

void arch_timer_arm(uint64_t deadline_ns)
{
    uint64_t ticks = (deadline_ns / NSEC_PER_SEC) * freq + (deadline_ns % NSEC_PER_SEC) * freq / NSEC_PER_SEC;
    __asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" : : "r"(boot_count + ticks), "r"(1ull));
}

void arch_timer_disarm(void)
{
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" : : "r"(0ull));
}

static void generic_timer_init(void)
{
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    mult = (NSEC_PER_SEC << 32) / freq;
    boot_count = boot_first_tick; /* clock_ns() counts from the first instruction */
    arch_timer_disarm();
    arch_irq_unmask(arch_timer_irq());
    pr_info("clock: %s, %llu Hz; timer: virtual timer, PPI %u\n", arch_clock_name(), (unsigned long long)freq,
            arch_timer_irq());
}
HERMIT_INIT(HERMIT_INIT_CONSOLE + 2, generic_timer_init);
