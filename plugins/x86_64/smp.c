/* x86_64 threads and SMP: the thread switch (FXSAVE state, FS/GS bases,
 * the TSS stack), new threads' first frames, AP start-up through
 * INIT-SIPI-SIPI with the APIC IDs from the MADT, IPIs and TLB
 * shoot-downs. */
#include <arch/x86.h>
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/mm.h>
#include <hermit/sched.h>
#include <hermit/string.h>
#include <hermit/time.h>
#include <hermit/user.h>

#define AP_BASE 0x8000ul
#define MB_STACK 0x8fe8ul
#define MB_CPU 0x8ff0ul

const uintptr_t arch_kstack_base = 0xffffc90000000000ul; /* PML4 slot 402, like Linux's vmalloc area */
const int arch_clone_tls_arg = 4; /* clone(flags, sp, ptid, ctid, tls) */

extern char ap_trampoline[], ap_trampoline_end[];
extern uint64_t boot_pt0[]; /* pagetables.S: the first 2 MiB, 4 KiB pages */
#define NX (1ull << 63)
void x86_switch(uintptr_t *prev_ksp, uintptr_t next_ksp);
void x86_thread_start(void);

void arch_switch(struct thread *prev, struct thread *next)
{
    struct cpu *c = this_cpu();
    if (prev->state == THREAD_DEAD) {
        c->fpu_owner = 0;
    } else if (prev->user) {
        __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])x86_thread(prev)->fxsave));
        c->fpu_owner = prev;
    }
    if (next->user) {
        struct x86_thread *n = x86_thread(next);
        if (c->fpu_owner != next)
            __asm__ volatile("fxrstor64 %0" : : "m"(*(uint8_t(*)[512])n->fxsave));
        c->fpu_owner = next;
        x86_wrmsr(MSR_FS_BASE, n->fs);
        x86_wrmsr(MSR_KERNEL_GS_BASE, n->gs); /* the program's GS while in the kernel */
    }
    x86_set_kernel_stack(c->id, next->kstack_top);
    x86_switch(&prev->ksp, next->ksp);
}

/* The switch frame x86_switch pops: r15 r14 r13 r12 rbx rbp, return. */
static void switch_frame(struct thread *t, uintptr_t at, void (*fn)(void *), void *arg)
{
    uint64_t *s = (uint64_t *)at - 7;
    memset(s, 0, 7 * 8);
    s[2] = (uintptr_t)arg; /* r13 */
    s[3] = (uintptr_t)fn;  /* r12 */
    s[6] = (uintptr_t)x86_thread_start;
    t->ksp = (uintptr_t)s;
}

void arch_thread_init_kernel(struct thread *t, void (*fn)(void *), void *arg)
{
    switch_frame(t, t->kstack_top - 16, fn, arg);
}

void arch_thread_init_user(struct thread *t, uintptr_t sp, uintptr_t tls, int set_tls)
{
    struct thread *parent = current_thread();
    const struct trap_frame *pf = (const struct trap_frame *)(parent->kstack_top - sizeof *pf);
    struct trap_frame *f = (struct trap_frame *)(t->kstack_top - sizeof *f);
    *f = *pf;
    f->rax = 0; /* clone() returns 0 in the child */
    if (sp)
        f->rsp = sp;
    struct x86_thread *a = x86_thread(t), *p = x86_thread(parent);
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])a->fxsave)); /* the parent's live registers */
    a->fs = set_tls ? tls : p->fs;
    a->gs = p->gs;
    switch_frame(t, (uintptr_t)f, 0, 0);
}

/* --- IPIs and TLB shoot-downs --- */
static volatile int flush_request[MAX_CPUS];

static void flush_local(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

void arch_send_ipi(struct cpu *c)
{
    x86_lapic_icr(c->hwid, VECTOR_IPI);
}

void x86_tlb_flush_if_asked(void)
{
    unsigned id = this_cpu()->id;
    if (__atomic_load_n(&flush_request[id], __ATOMIC_ACQUIRE)) {
        flush_local();
        __atomic_store_n(&flush_request[id], 0, __ATOMIC_RELEASE);
    }
}

/* The IPI vector: a shoot-down request and/or queued work. */
void x86_ipi(void)
{
    x86_tlb_flush_if_asked();
    sched_ipi();
}

/* Every other online CPU drops its TLB (non-global entries: the program's)
 * before this returns. Called after the program's mappings shrank or
 * changed protection. */
void arch_tlb_sync(void)
{
    if (cpus_online < 2)
        return;
    struct cpu *me = this_cpu();
    for (unsigned i = 0; i < cpus_online; i++) {
        if (i == me->id || !cpus[i]->online)
            continue;
        __atomic_store_n(&flush_request[i], 1, __ATOMIC_RELEASE);
        arch_send_ipi(cpus[i]);
    }
    for (unsigned i = 0; i < cpus_online; i++) {
        while (i != me->id && __atomic_load_n(&flush_request[i], __ATOMIC_ACQUIRE))
            arch_cpu_relax(); /* also answers a request aimed at us meanwhile */
    }
}

/* --- AP start-up --- */
void x86_ap_entry(struct cpu *c)
{
    arch_set_this_cpu(c);
    /* IST stacks (#DF, NMI, #MC: 4 KiB each, as the boot CPU's), its GDT
     * and TSS. */
    uint8_t *ist = page_alloc(3);
    void *tables = kzalloc(x86_cpu_tables_size);
    if (!ist || !tables)
        panic("CPU %u: out of memory for its IST stacks and descriptor tables", c->id);
    const uintptr_t tops[3] = {(uintptr_t)ist + 3 * PAGE_SIZE, (uintptr_t)ist + 2 * PAGE_SIZE,
                               (uintptr_t)ist + 1 * PAGE_SIZE};
    x86_cpu_tables_init(c, tops, tables);
    x86_cpu_user_init();
    x86_lapic_init_ap();
    smp_secondary_main(c);
}

static int wait_online(struct cpu *c, uint64_t ns)
{
    uint64_t end = arch_clock_ns() + ns;
    while (arch_clock_ns() < end)
        if (__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
            return 1;
    return __atomic_load_n(&c->online, __ATOMIC_ACQUIRE);
}

static void udelay(uint64_t us)
{
    uint64_t end = arch_clock_ns() + us * NSEC_PER_USEC;
    while (arch_clock_ns() < end)
        __asm__ volatile("pause");
}

int arch_cpu_start(struct cpu *c, uintptr_t stack_top)
{
    static int copied;
    if (!copied) {
        memcpy((void *)AP_BASE, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
        copied = 1;
    }
    *(volatile uint64_t *)MB_STACK = stack_top;
    *(volatile uint64_t *)MB_CPU = (uintptr_t)c;
    /* The trampoline's far jump into long mode is fetched with paging on:
     * its page is executable only while an AP starts. */
    uint64_t *pte = &boot_pt0[AP_BASE >> 12];
    *pte &= ~NX;
    __asm__ volatile("invlpg (%0); mfence" : : "r"(AP_BASE) : "memory");
    int rc = -1;
    x86_lapic_icr(c->hwid, 0x4500); /* INIT, assert */
    udelay(10);
    for (int attempt = 0; attempt < 2 && rc; attempt++) {
        x86_lapic_icr(c->hwid, 0x4600 | (AP_BASE >> 12)); /* STARTUP at AP_BASE */
        if (wait_online(c, (attempt ? 2000 : 10) * NSEC_PER_MSEC))
            rc = 0;
    }
    *pte |= NX;
    __asm__ volatile("invlpg (%0)" : : "r"(AP_BASE) : "memory");
    return rc;
}
