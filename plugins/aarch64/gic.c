/* Arm Generic Interrupt Controller, version chosen at compose time from the
 * board's device tree: GICv2 ("arm,cortex-a15-gic", "arm,gic-400"; memory-
 * mapped CPU interface) or GICv3 ("arm,gic-v3"; redistributor frames and
 * system-register CPU interface). Addresses come from board.h. */
#include <arch/aarch64.h>
#include <board.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/time.h>
#include <stdint.h>

#define GICD ((uintptr_t)BOARD_GIC_0_BASE)
#define GICD_CTLR 0x000
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800
#define GICD_IROUTER 0x6000
#define SPURIOUS 1020
#define PRIORITY 0xa0

static inline void w32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint32_t r32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void w8(uintptr_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void w64(uintptr_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

/* Both versions: INTIDs 1020-1023 are spurious (no EOI); the timer PPI goes
 * to the timer queue, everything else to the registered handler. Returns
 * whether the interrupt must be ended (EOI). */
static int dispatch(unsigned id)
{
    if (id >= SPURIOUS && id < 1024) {
        irq_spurious();
        return 0;
    }
    if (id == arch_timer_irq())
        timer_interrupt();
    else if (id == SGI_RESCHED)
        sched_ipi();
    else
        irq_handle(id);
    return 1;
}

#if GIC_VERSION == 3
#define GICR_BASE ((uintptr_t)BOARD_GIC_0_BASE_1) /* the first redistributor */
#define GICR_STRIDE 0x20000                          /* RD_base + SGI_base frames */
#define GICR_TYPER 0x8
#define GICR_WAKER 0x14
static uintptr_t gicr_of[MAX_CPUS];
#define GICR (gicr_of[this_cpu()->id])
#define GICR_SGI (GICR + 0x10000)
#define SYSREG_W(name, v) __asm__ volatile("msr " name ", %0" : : "r"((uint64_t)(v)))
#define SYSREG_R(name, v) __asm__ volatile("mrs %0, " name : "=r"(v))
#define ICC_SRE_EL1 "S3_0_C12_C12_5"
#define ICC_PMR_EL1 "S3_0_C4_C6_0"
#define ICC_IGRPEN1_EL1 "S3_0_C12_C12_7"
#define ICC_IAR1_EL1 "S3_0_C12_C12_0"
#define ICC_EOIR1_EL1 "S3_0_C12_C12_1"

static void wait_rwp(void)
{
    while (r32(GICD + GICD_CTLR) & (1u << 31))
        ;
}

int arch_msi_alloc(unsigned *irq, uint64_t *addr, uint32_t *data)
{
    return -1; /* no MSI controller (GICv2m / ITS) is driven yet */
}

void arch_irq_unmask(unsigned irq)
{
    uint32_t bit = 1u << (irq % 32);
    if (irq < 32) {
        w32(GICR_SGI + GICD_IGROUPR, r32(GICR_SGI + GICD_IGROUPR) | bit);
        w8(GICR_SGI + GICD_IPRIORITYR + irq, PRIORITY);
        w32(GICR_SGI + GICD_ISENABLER, bit);
    } else {
        w32(GICD + GICD_IGROUPR + 4 * (irq / 32), r32(GICD + GICD_IGROUPR + 4 * (irq / 32)) | bit);
        w8(GICD + GICD_IPRIORITYR + irq, PRIORITY);
        w64(GICD + GICD_IROUTER + 8 * irq, 0); /* affinity 0.0.0.0: the boot CPU */
        w32(GICD + GICD_ISENABLER + 4 * (irq / 32), bit);
        wait_rwp();
    }
}

void gic_handle_irq(void)
{
    uint64_t iar;
    SYSREG_R(ICC_IAR1_EL1, iar);
    if (dispatch(iar & 0xffffff))
        SYSREG_W(ICC_EOIR1_EL1, iar);
}

#define ICC_SGI1R_EL1 "S3_0_C12_C11_5"

/* This CPU's redistributor: the frame whose GICR_TYPER affinity is its MPIDR. */
static uintptr_t find_redistributor(uint32_t hwid)
{
    uintptr_t r = GICR_BASE;
    for (unsigned i = 0; i < MAX_CPUS; i++, r += GICR_STRIDE) {
        uint64_t typer = *(volatile uint64_t *)(r + GICR_TYPER);
        if ((uint32_t)(typer >> 32) == hwid)
            return r;
        if (typer & (1u << 4)) /* Last */
            break;
    }
    panic("GICv3: no redistributor for MPIDR %#x", hwid);
}

void gic_send_sgi(struct cpu *c, unsigned intid)
{
    uint64_t aff0 = c->hwid & 0xff, aff1 = (c->hwid >> 8) & 0xff, aff2 = (c->hwid >> 16) & 0xff,
             aff3 = c->hwid >> 24;
    __asm__ volatile("dsb ishst" ::: "memory");
    SYSREG_W(ICC_SGI1R_EL1, aff3 << 48 | aff2 << 32 | (uint64_t)intid << 24 | aff1 << 16 | (1ull << (aff0 & 15)));
    __asm__ volatile("isb");
}

/* Per CPU: wake its redistributor, enable the system-register interface. */
void gic_init_cpu(void)
{
    struct cpu *c = this_cpu();
    gicr_of[c->id] = find_redistributor(c->hwid);
    uint32_t waker = r32(GICR + GICR_WAKER);
    w32(GICR + GICR_WAKER, waker & ~(1u << 1)); /* ProcessorSleep = 0 */
    while (r32(GICR + GICR_WAKER) & (1u << 2))   /* ChildrenAsleep */
        ;
    uint64_t sre;
    SYSREG_R(ICC_SRE_EL1, sre);
    SYSREG_W(ICC_SRE_EL1, sre | 1);
    __asm__ volatile("isb");
    SYSREG_W(ICC_PMR_EL1, 0xff);
    SYSREG_W(ICC_IGRPEN1_EL1, 1);
    __asm__ volatile("isb");
    arch_irq_unmask(SGI_RESCHED);
}

static void gic_init(void)
{
    w32(GICD + GICD_CTLR, 0);
    wait_rwp();
    w32(GICD + GICD_CTLR, (1u << 4) | (1u << 1) | (1u << 0)); /* ARE, EnableGrp1, EnableGrp0 */
    wait_rwp();
    gic_init_cpu();
    pr_info("interrupts: GICv3 distributor %#lx, redistributor %#lx\n", (unsigned long)GICD, (unsigned long)GICR);
}
#else /* GICv2 */
#define GICC ((uintptr_t)BOARD_GIC_0_BASE_1)
#define GICC_CTLR 0x00
#define GICC_PMR 0x04
#define GICC_IAR 0x0c
#define GICC_EOIR 0x10
#define GICD_SGIR 0xf00
static uint8_t cpu_mask[MAX_CPUS]; /* each CPU's interface bit, from its banked ITARGETSR0 */

void arch_irq_unmask(unsigned irq)
{
    w8(GICD + GICD_IPRIORITYR + irq, PRIORITY);
    if (irq >= 32)
        w8(GICD + GICD_ITARGETSR + irq, 1); /* CPU interface 0 */
    w32(GICD + GICD_ISENABLER + 4 * (irq / 32), 1u << (irq % 32));
}

void gic_handle_irq(void)
{
    uint32_t iar = r32(GICC + GICC_IAR);
    if (dispatch(iar & 0x3ff))
        w32(GICC + GICC_EOIR, iar);
}

void gic_send_sgi(struct cpu *c, unsigned intid)
{
    __asm__ volatile("dsb ishst" ::: "memory");
    w32(GICD + GICD_SGIR, (uint32_t)cpu_mask[c->id] << 16 | intid);
}

/* Per CPU: the banked CPU interface. */
void gic_init_cpu(void)
{
    cpu_mask[this_cpu()->id] = (uint8_t)r32(GICD + GICD_ITARGETSR);
    w32(GICC + GICC_PMR, 0xff);
    w32(GICC + GICC_CTLR, 1);
    arch_irq_unmask(SGI_RESCHED);
}

static void gic_init(void)
{
    w32(GICD + GICD_CTLR, 1);
    gic_init_cpu();
    pr_info("interrupts: GICv2 distributor %#lx, CPU interface %#lx\n", (unsigned long)GICD, (unsigned long)GICC);
}
#endif

void arch_irq_enable(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
void arch_irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }

int arch_irq_enabled(void)
{
    uint64_t daif;
    __asm__ volatile("mrs %0, daif" : "=r"(daif));
    return !(daif & (1u << 7));
}

void arch_idle(void)
{
    /* wfi wakes on a pending interrupt even while masked; then let it in. */
    __asm__ volatile("wfi; msr daifclr, #2; isb; msr daifset, #2" ::: "memory");
}

HERMIT_INIT(HERMIT_INIT_CONSOLE + 1, gic_init);
