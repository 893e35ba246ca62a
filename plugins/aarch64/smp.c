/* aarch64 threads and SMP: the thread switch (FP/SIMD registers, TPIDR_EL0),
 * new threads' first frames, secondary CPUs through PSCI CPU_ON (conduit
 * and MPIDRs from the device tree), IPIs as GIC SGIs. TLB maintenance is
 * broadcast (TLBI ...IS), so there is nothing to shoot down. */
#include <arch/aarch64.h>
#include <hermit/hermit.h>
#include <hermit/irq.h>
#include <hermit/mm.h>
#include <hermit/sched.h>
#include <hermit/string.h>
#include <hermit/time.h>
#include <hermit/user.h>

#define PSCI_CPU_ON 0xc4000003u

const uintptr_t arch_kstack_base = 0x7000000000ul; /* 448 GiB: above the program, inside the 39-bit space */
const int arch_clone_tls_arg = 3; /* clone(flags, sp, ptid, tls, ctid) */

void aarch64_switch(uintptr_t *prev_ksp, uintptr_t next_ksp);
void aarch64_thread_start(void);
void aarch64_fp_save(uint8_t *area);
void aarch64_fp_restore(const uint8_t *area);
void secondary_entry(void);
static const char *conduit;

void arch_set_this_cpu(struct cpu *c)
{
    __asm__ volatile("msr tpidr_el1, %0" : : "r"(c));
}

void arch_switch(struct thread *prev, struct thread *next)
{
    struct cpu *c = this_cpu();
    if (prev->state == THREAD_DEAD) {
        c->fpu_owner = 0;
    } else if (prev->user) {
        struct aarch64_thread *p = aarch64_thread(prev);
        aarch64_fp_save(p->fp);
        __asm__ volatile("mrs %0, tpidr_el0" : "=r"(p->tpidr));
        c->fpu_owner = prev;
    }
    if (next->user) {
        struct aarch64_thread *n = aarch64_thread(next);
        if (c->fpu_owner != next)
            aarch64_fp_restore(n->fp);
        c->fpu_owner = next;
        __asm__ volatile("msr tpidr_el0, %0" : : "r"(n->tpidr));
    }
    aarch64_switch(&prev->ksp, next->ksp);
}

/* The switch frame aarch64_switch pops: x19..x30 (12 words). */
static void switch_frame(struct thread *t, uintptr_t at, void (*fn)(void *), void *arg)
{
    uint64_t *s = (uint64_t *)at - 12;
    memset(s, 0, 12 * 8);
    s[0] = (uintptr_t)fn;  /* x19 */
    s[1] = (uintptr_t)arg; /* x20 */
    s[11] = (uintptr_t)aarch64_thread_start; /* x30 */
    t->ksp = (uintptr_t)s;
}

void arch_thread_init_kernel(struct thread *t, void (*fn)(void *), void *arg)
{
    switch_frame(t, t->kstack_top - 16, fn, arg);
}

void arch_thread_init_user(struct thread *t, uintptr_t sp, uintptr_t tls, int set_tls)
{
    struct thread *parent = current_thread();
    const struct exception_frame *pf = (const struct exception_frame *)(parent->kstack_top - sizeof *pf);
    struct exception_frame *f = (struct exception_frame *)(t->kstack_top - sizeof *f);
    *f = *pf;
    f->x[0] = 0; /* clone() returns 0 in the child */
    if (sp)
        f->sp_el0 = sp;
    struct aarch64_thread *a = aarch64_thread(t);
    aarch64_fp_save(a->fp); /* the parent's live registers */
    if (set_tls)
        a->tpidr = tls;
    else
        __asm__ volatile("mrs %0, tpidr_el0" : "=r"(a->tpidr));
    switch_frame(t, (uintptr_t)f, 0, 0);
}

void arch_send_ipi(struct cpu *c)
{
    gic_send_sgi(c, SGI_RESCHED);
}

void arch_tlb_sync(void)
{
    __asm__ volatile("dsb ish" ::: "memory"); /* the TLBIs were broadcast; wait for them */
}

void aarch64_secondary_start(struct cpu *c)
{
    gic_init_cpu();
    arch_irq_unmask(arch_timer_irq());
    arch_user_init();
    smp_secondary_main(c);
}

static long psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
    register uint64_t x0 __asm__("x0") = fn, x1 __asm__("x1") = a1, x2 __asm__("x2") = a2, x3 __asm__("x3") = a3;
    if (conduit[5] == 's')
        __asm__ volatile("smc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
    else
        __asm__ volatile("hvc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
    return (long)x0;
}

void aarch64_smp_method(const char *method) { conduit = method; }

int arch_cpu_start(struct cpu *c, uintptr_t stack_top)
{
    if (!conduit || strncmp(conduit, "psci-", 5) != 0) {
        pr_info("smp: the device tree has no PSCI node: cannot start CPU %u\n", c->id);
        return -1;
    }
    uint64_t mpidr = (c->hwid & 0xffffff) | ((uint64_t)(c->hwid >> 24) << 32);
    __asm__ volatile("dsb ish" ::: "memory");
    long rc = psci_call(PSCI_CPU_ON, mpidr, (uintptr_t)secondary_entry, (uintptr_t)c);
    if (rc != 0) {
        pr_info("smp: PSCI CPU_ON for MPIDR %#llx failed (%ld)\n", (unsigned long long)mpidr, rc);
        return -1;
    }
    uint64_t end = arch_clock_ns() + 2 * NSEC_PER_SEC;
    while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
        if (arch_clock_ns() > end)
            return -1;
    return 0;
}
