/* x86_64 interrupt controllers and timers:
 * - LAPIC in x2APIC mode when the CPU has it (MSRs), else xAPIC (MMIO at the
 *   DT's address); spurious vector 0xff; EOI after each interrupt.
 * - IOAPIC: every pin masked at boot; irq_register(gsi) routes GSI n to
 *   vector 32 + n on the boot CPU.
 * - Clock: the TSC, frequency from CPUID 0x15/0x16, the hypervisor leaf
 *   0x40000010, or calibrated against the i8254 PIT channel 0 -- lazily, on
 *   the first use of the clock or the timer, so programs that never ask
 *   for time do not wait for a calibration at boot.
 * - Timer: LAPIC in TSC-deadline mode when available, else one-shot with a
 *   count calibrated against the TSC. */
#include <arch/io.h>
#include <arch/x86.h>
#include <board.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/spinlock.h>
#include <hermit/time.h>
#include <stdint.h>

#define VECTOR_BASE 32
#define VECTOR_TIMER 0xee
#define VECTOR_SPURIOUS 0xff
#define IRQ_TIMER (VECTOR_TIMER - VECTOR_BASE)

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define APIC_ID 0x20
#define APIC_TPR 0x80
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310
#define LVT_MASKED (1u << 16)
#define LVT_TSC_DEADLINE (2u << 17)

static int x2apic, tsc_deadline;
static uint64_t tsc_hz, tsc_mult; /* ns = (tsc * tsc_mult) >> 32 */
static uint64_t tsc_boot;
extern uint64_t boot_first_tick; /* boot.S */
static uint64_t lapic_hz;          /* one-shot mode: timer ticks per second */
static const char *clock_source = "tsc";
static uint32_t bsp_apic_id;

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint32_t lapic_read(unsigned reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(0x800 + (reg >> 4));
    return *(volatile uint32_t *)(uintptr_t)(BOARD_X86_LAPIC_0_BASE + reg);
}

static void lapic_write(unsigned reg, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + (reg >> 4), v);
    else
        *(volatile uint32_t *)(uintptr_t)(BOARD_X86_LAPIC_0_BASE + reg) = v;
}

static uint32_t ioapic_read(unsigned reg)
{
    *(volatile uint32_t *)(uintptr_t)BOARD_X86_IOAPIC_0_BASE = reg;
    return *(volatile uint32_t *)(uintptr_t)(BOARD_X86_IOAPIC_0_BASE + 0x10);
}

static void ioapic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)BOARD_X86_IOAPIC_0_BASE = reg;
    *(volatile uint32_t *)(uintptr_t)(BOARD_X86_IOAPIC_0_BASE + 0x10) = v;
}

static unsigned ioapic_pins(void)
{
    return ((ioapic_read(1) >> 16) & 0xff) + 1;
}

void arch_irq_unmask(unsigned irq)
{
    if (irq < ioapic_pins()) {
        ioapic_write(0x11 + 2 * irq, bsp_apic_id << 24);
        ioapic_write(0x10 + 2 * irq, VECTOR_BASE + irq); /* fixed, physical, edge, active high */
    }
}

/* MSI: vectors 80..0xdf (IRQs 48..191), above every IOAPIC pin and below
 * the timer and IPI vectors; delivered to the boot CPU, edge, fixed. */
#define MSI_FIRST_IRQ 48
#define MSI_LAST_IRQ (0xdf - VECTOR_BASE)

int arch_msi_alloc(unsigned *irq, uint64_t *addr, uint32_t *data)
{
    static unsigned next = MSI_FIRST_IRQ;
    if (next > MSI_LAST_IRQ || bsp_apic_id > 255)
        return -1;
    *irq = next++;
    *addr = 0xfee00000u | bsp_apic_id << 12;
    *data = VECTOR_BASE + *irq;
    return 0;
}

void arch_irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
void arch_irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }

int arch_irq_enabled(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; pop %0" : "=r"(flags));
    return (flags >> 9) & 1;
}

void arch_idle(void)
{
    /* sti's one-instruction shadow makes "sti; hlt" free of lost wake-ups */
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}

void x86_ipi(void);

void x86_irq(unsigned vector)
{
    if (vector == VECTOR_SPURIOUS) {
        irq_spurious(); /* no EOI for spurious interrupts */
        return;
    }
    if (vector == VECTOR_TIMER)
        timer_interrupt();
    else if (vector == VECTOR_IPI)
        x86_ipi();
    else
        irq_handle(vector - VECTOR_BASE);
    lapic_write(APIC_EOI, 0);
}

static uint64_t tsc_to_ns(uint64_t delta)
{
    return (uint64_t)(((unsigned __int128)delta * tsc_mult) >> 32);
}

static void clock_setup(void);
static int clock_ready; /* set last (release): tsc_hz, tsc_mult, tsc_boot are read after it */
static spinlock_t clock_lock = SPINLOCK_INIT;
static int ready(void) { return __atomic_load_n(&clock_ready, __ATOMIC_ACQUIRE); }

uint64_t arch_clock_ns(void)
{
    if (!ready())
        clock_setup();
    return tsc_to_ns(rdtsc() - tsc_boot);
}

uint64_t arch_clock_hz(void)
{
    if (!ready())
        clock_setup();
    return tsc_hz;
}
uint64_t arch_counter(void) { return rdtsc(); }

int arch_clock_user(uint64_t *counter_boot, uint64_t *mult)
{
    if (!ready())
        return 0; /* not yet: the vDSO makes the system call, which calibrates (linux_vvar_refresh) */
    *counter_boot = tsc_boot;
    *mult = tsc_mult;
    return 1; /* rdtsc works in ring 3 (CR4.TSD clear) */
}
const char *arch_clock_name(void) { return clock_source; }
unsigned arch_timer_irq(void) { return IRQ_TIMER; }

void arch_timer_arm(uint64_t deadline_ns)
{
    uint64_t now = arch_clock_ns(); /* sets the clock and timer up on first use */
    uint64_t delta = deadline_ns > now ? deadline_ns - now : 0;
    if (tsc_deadline) {
        /* ns -> TSC ticks: delta * hz / 1e9, split to avoid overflow */
        uint64_t ticks = (delta / NSEC_PER_SEC) * tsc_hz + (delta % NSEC_PER_SEC) * tsc_hz / NSEC_PER_SEC;
        wrmsr(MSR_TSC_DEADLINE, rdtsc() + (ticks ? ticks : 1));
    } else {
        uint64_t ticks = (delta / NSEC_PER_SEC) * lapic_hz + (delta % NSEC_PER_SEC) * lapic_hz / NSEC_PER_SEC;
        if (ticks == 0)
            ticks = 1;
        if (ticks > 0xffffffffu)
            ticks = 0xffffffffu; /* fires early; the queue re-arms */
        lapic_write(APIC_TIMER_INIT, (uint32_t)ticks);
    }
}

void arch_timer_disarm(void)
{
    if (tsc_deadline)
        wrmsr(MSR_TSC_DEADLINE, 0);
    else
        lapic_write(APIC_TIMER_INIT, 0);
}

/* PIT channel 0 counts down at 1.193182 MHz; wait `ticks` of it. */
static void pit_wait(uint32_t ticks)
{
    uint16_t port = BOARD_I8254_0_BASE;
    outb(port + 3, 0x34); /* channel 0, lo/hi byte, mode 2, binary */
    outb(port, 0xff);
    outb(port, 0xff);
    uint32_t elapsed = 0;
    outb(port + 3, 0x00);
    uint16_t prev = inb(port) | (uint16_t)inb(port) << 8;
    while (elapsed < ticks) {
        outb(port + 3, 0x00); /* latch channel 0 */
        uint16_t cur = inb(port) | (uint16_t)inb(port) << 8;
        elapsed += (uint16_t)(prev - cur);
        prev = cur;
    }
}

static uint64_t tsc_frequency(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max = r[0];
    if (max >= 0x15) {
        cpuid(0x15, 0, r); /* eax/ebx = TSC/crystal ratio, ecx = crystal Hz */
        if (r[0] && r[1] && r[2]) {
            clock_source = "tsc (cpuid 0x15)";
            return (uint64_t)r[2] * r[1] / r[0];
        }
    }
    cpuid(1, 0, r);
    if (r[2] & (1u << 31)) { /* hypervisor present */
        cpuid(0x40000000, 0, r);
        if (r[0] >= 0x40000010) {
            cpuid(0x40000010, 0, r); /* eax = TSC kHz */
            if (r[0]) {
                clock_source = "tsc (hypervisor leaf)";
                return (uint64_t)r[0] * 1000;
            }
        }
    }
    if (max >= 0x16) {
        cpuid(0x16, 0, r); /* eax = base MHz */
        if (r[0]) {
            clock_source = "tsc (cpuid 0x16)";
            return (uint64_t)r[0] * 1000000;
        }
    }
    /* Calibrate: 10 ms of PIT against the TSC (+-1 PIT tick: 1e-4). */
    const uint32_t pit_hz = 1193182, ticks = pit_hz / 100;
    uint64_t t0 = rdtsc();
    pit_wait(ticks);
    uint64_t t1 = rdtsc();
    clock_source = "tsc (calibrated against the i8254 PIT)";
    return (t1 - t0) * pit_hz / ticks;
}


/* The first use of the clock, which may come in the middle of a program
 * (interrupts on, devices running, other CPUs): interrupts off and one
 * calibration, published when complete. */
static void clock_setup(void)
{
    unsigned long f = spin_lock_irqsave(&clock_lock);
    if (clock_ready) {
        spin_unlock_irqrestore(&clock_lock, f);
        return;
    }
    tsc_hz = tsc_frequency();
    tsc_mult = (NSEC_PER_SEC << 32) / tsc_hz;
    tsc_boot = boot_first_tick; /* clock_ns() counts from the first instruction */
    if (tsc_deadline) {
        lapic_write(APIC_LVT_TIMER, LVT_TSC_DEADLINE | VECTOR_TIMER);
    } else {
        /* 2 ms is plenty: a timer that fires a little early re-arms itself */
        lapic_write(APIC_TIMER_DIV, 0x3); /* divide by 16 */
        lapic_write(APIC_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
        lapic_write(APIC_TIMER_INIT, 0xffffffffu);
        uint64_t t0 = rdtsc();
        while (rdtsc() - t0 < tsc_hz / 500)
            ;
        uint32_t counted = 0xffffffffu - lapic_read(APIC_TIMER_CUR);
        lapic_hz = (uint64_t)counted * 500;
        lapic_write(APIC_TIMER_INIT, 0);
        lapic_write(APIC_LVT_TIMER, VECTOR_TIMER); /* one-shot */
    }
    __atomic_store_n(&clock_ready, 1, __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&clock_lock, f);
    pr_info("clock: %s, %llu.%03llu MHz; timer: LAPIC %s; %s\n", clock_source,
            (unsigned long long)(tsc_hz / 1000000), (unsigned long long)(tsc_hz / 1000 % 1000),
            tsc_deadline ? "TSC-deadline" : "one-shot", x2apic ? "x2APIC" : "xAPIC");
}

static int icr_busy(void)
{
    return !x2apic && (lapic_read(APIC_ICR_LOW) & (1u << 12)); /* delivery status */
}

/* Send an interprocessor interrupt: `low` is the ICR's low word (vector,
 * delivery mode), `dest` the APIC ID. */
void x86_lapic_icr(uint32_t dest, uint32_t low)
{
    if (x2apic) {
        __asm__ volatile("mfence" ::: "memory"); /* x2APIC ICR writes are not serialising */
        wrmsr(0x830, (uint64_t)dest << 32 | low);
        return;
    }
    /* Two writes make one IPI: an interrupt between them whose handler sends
     * an IPI of its own (a wake-up) would leave its destination in ICR_HIGH
     * and this IPI would go there -- a TLB shoot-down lost, its sender
     * waiting forever. */
    int was = arch_irq_enabled();
    arch_irq_disable();
    while (icr_busy())
        __asm__ volatile("pause");
    lapic_write(APIC_ICR_HIGH, dest << 24);
    lapic_write(APIC_ICR_LOW, low);
    if (was)
        arch_irq_enable();
}

/* An AP's own local APIC: the same mode and timer set-up as the boot CPU's. */
void x86_lapic_init_ap(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE) | (1u << 11);
    if (x2apic)
        base |= 1u << 10;
    wrmsr(MSR_APIC_BASE, base);
    lapic_write(APIC_TPR, 0);
    lapic_write(APIC_SVR, (1u << 8) | VECTOR_SPURIOUS);
    if (tsc_deadline) {
        lapic_write(APIC_LVT_TIMER, LVT_TSC_DEADLINE | VECTOR_TIMER);
    } else {
        lapic_write(APIC_TIMER_DIV, 0x3);
        lapic_write(APIC_TIMER_INIT, 0);
        lapic_write(APIC_LVT_TIMER, VECTOR_TIMER); /* one-shot, lapic_hz from the boot CPU */
    }
}

static void x86_apic_init(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    x2apic = (r[2] >> 21) & 1;
    tsc_deadline = (r[2] >> 24) & 1;

    uint64_t base = rdmsr(MSR_APIC_BASE);
    base |= 1u << 11; /* global enable */
    if (x2apic)
        base |= 1u << 10;
    wrmsr(MSR_APIC_BASE, base);
    bsp_apic_id = x2apic ? lapic_read(APIC_ID) : lapic_read(APIC_ID) >> 24;
    lapic_write(APIC_TPR, 0);
    lapic_write(APIC_SVR, (1u << 8) | VECTOR_SPURIOUS);
    lapic_write(APIC_LVT_TIMER, LVT_MASKED | VECTOR_TIMER); /* until clock_setup */

    for (unsigned pin = 0; pin < ioapic_pins(); pin++)
        ioapic_write(0x10 + 2 * pin, 1u << 16); /* masked */
}
HERMIT_INIT(HERMIT_INIT_CONSOLE + 1, x86_apic_init);
