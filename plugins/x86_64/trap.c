/* x86_64 descriptor tables, exception reports and the program's entry.
 * GDT: null, kernel code 0x08, kernel data 0x10, user data 0x18, user code
 * 0x20 (the order syscall/sysret require), TSS 0x28. The TSS carries IST
 * stacks for #DF (IST1), NMI (IST2) and #MC (IST3), so a kernel stack
 * overflow into a guard page still gets reported, and rsp0: the kernel stack
 * the CPU switches to when the program is interrupted. */
#include <arch/io.h>
#include <arch/x86.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/sched.h>
#include <hermit/trap.h>
#include <hermit/user.h>
#include <stdint.h>

void x86_irq(unsigned vector);


struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));

extern char df_stack_top[], nmi_stack_top[], mc_stack_top[], boot_stack_top[]; /* traps.S, boot.S */
/* One GDT and TSS per CPU (the TSS holds that CPU's stacks): the boot
 * CPU's are static, the others' come with their IST stacks (smp.c). The
 * kernel's GS base is the CPU's struct cpu (swapgs on every entry from
 * ring 3): syscall_entry reads arch_kernel_sp at offset 0 and parks the
 * program's rsp at offset 8; this_cpu() reads self at offset 16. */
struct cpu_tables {
    uint64_t gdt[7];
    struct tss tss;
} __attribute__((aligned(16)));
static struct cpu_tables boot_tables;
static struct cpu_tables *tables[MAX_CPUS] = {&boot_tables};
_Static_assert(__builtin_offsetof(struct cpu, arch_kernel_sp) == 0, "traps.S PERCPU_KERNEL_RSP");
_Static_assert(__builtin_offsetof(struct cpu, arch_scratch) == 8, "traps.S PERCPU_USER_RSP");
_Static_assert(__builtin_offsetof(struct cpu, self) == 16, "this_cpu()");

#define EFER_SCE 1u
#define wrmsr x86_wrmsr
#define rdmsr x86_rdmsr

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const char trap_stubs[];

static const char *const names[32] = {
    "divide error (#DE)", "debug (#DB)", "NMI", "breakpoint (#BP)", "overflow (#OF)",
    "bound range (#BR)", "invalid opcode (#UD)", "device not available (#NM)", "double fault (#DF)",
    "coprocessor segment overrun", "invalid TSS (#TS)", "segment not present (#NP)",
    "stack-segment fault (#SS)", "general protection (#GP)", "page fault (#PF)", "reserved",
    "x87 floating point (#MF)", "alignment check (#AC)", "machine check (#MC)", "SIMD floating point (#XM)",
    "virtualization (#VE)", "control protection (#CP)", "reserved", "reserved", "reserved", "reserved",
    "reserved", "reserved", "hypervisor injection (#HV)", "VMM communication (#VC)", "security (#SX)", "reserved",
};

static void dump_regs(const void *p)
{
    const struct trap_frame *f = p;
    printk("[hermit]   rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n", (unsigned long long)f->rax,
           (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    printk("[hermit]   rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n", (unsigned long long)f->rsi,
           (unsigned long long)f->rdi, (unsigned long long)f->rbp, (unsigned long long)f->rsp);
    printk("[hermit]   r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n", (unsigned long long)f->r8,
           (unsigned long long)f->r9, (unsigned long long)f->r10, (unsigned long long)f->r11);
    printk("[hermit]   r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n", (unsigned long long)f->r12,
           (unsigned long long)f->r13, (unsigned long long)f->r14, (unsigned long long)f->r15);
    printk("[hermit]   rip=%016llx rflags=%08llx cs=%04llx ss=%04llx\n", (unsigned long long)f->rip,
           (unsigned long long)f->rflags, (unsigned long long)f->cs, (unsigned long long)f->ss);
}

static const int fault_signal[32] = {
    [0] = 8, [1] = 5, [3] = 5, [4] = 11, [5] = 11, [6] = 4, [7] = 8, [13] = 11, [14] = 11,
    [16] = 8, [17] = 7, [19] = 8,
};

void x86_trap(struct trap_frame *f)
{
    int from_user = (f->cs & 3) == 3;
    if (from_user)
        user_enter(); /* CPU time: the kernel's from here */
    if (f->vector >= 32) {
        struct cpu *c = this_cpu();
        void *outer = c->irq_regs;
        c->irq_regs = f; /* the sampling profiler reads what was interrupted */
        x86_irq((unsigned)f->vector);
        c->irq_regs = outer;
        if (from_user) {
            sched_preempt();
            user_return(f);
        }
        return;
    }
    struct fault_info fi = {0};
    fi.name = names[f->vector];
    fi.pc = f->rip;
    fi.code = f->error;
    fi.trapno = (int)f->vector;
    switch (f->vector) {
    case 0:
        fi.kind = FAULT_DIVIDE;
        break;
    case 6:
        fi.kind = FAULT_UNDEFINED;
        break;
    case 13:
        fi.kind = FAULT_PROTECTION;
        break;
    case 14: {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        fi.kind = FAULT_PAGE;
        fi.addr = cr2;
        fi.present = f->error & 1;
        fi.write = (f->error >> 1) & 1;
        fi.exec = (f->error >> 4) & 1;
        int r = cr2 < USER_LIMIT ? vm_fault(cr2, fi.write, fi.exec) : -1;
        if (r == 0) { /* demand paging */
            if (from_user)
                user_leave();
            return;
        }
        if (r == -2)
            fi.signal = 7; /* past the end of a mapped file: SIGBUS */
        break;
    }
    default:
        fi.kind = FAULT_OTHER;
    }
    if (from_user) {
        if (!fi.signal)
            fi.signal = fault_signal[f->vector] ? fault_signal[f->vector] : 11;
        user_fault(&fi, dump_regs, f, f->rbp); /* returns when the program's handler takes it */
        user_return(f);
        return;
    }
    hermit_fault(&fi, dump_regs, f, f->rbp);
}

/* The system call ABI: number in rax, arguments in rdi rsi rdx r10 r8 r9,
 * result in rax. Nonzero: return with iretq (a signal frame or sigreturn
 * set registers sysretq does not restore: rcx, r11, any rip). */
int x86_syscall(struct trap_frame *f)
{
    user_enter();
    f->rax = syscall_dispatch(f->rax, f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9);
    return user_return(f);
}

const char arch_platform[] = "x86_64";

unsigned long arch_hwcap(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    return d; /* what Linux reports: CPUID.1:EDX */
}

void x86_enter_user(uintptr_t entry, uintptr_t sp) __attribute__((noreturn));

void arch_enter_user(uintptr_t entry, uintptr_t sp)
{
    wrmsr(MSR_KERNEL_GS_BASE, 0); /* the program's GS after swapgs */
    x86_enter_user(entry, sp);
}

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

/* arch_prctl(2): the program's TLS base (kept per thread, x86_thread()). */
long sys_arch_prctl(long code, long addr)
{
    if (addr < 0 || (uint64_t)addr >= USER_LIMIT)
        return code == ARCH_SET_FS || code == ARCH_SET_GS ? -1 /* EPERM */ : -14 /* EFAULT */;
    switch (code) {
    case ARCH_SET_FS:
        wrmsr(MSR_FS_BASE, addr);
        x86_thread(current_thread())->fs = addr;
        return 0;
    case ARCH_GET_FS:
        *(uint64_t *)addr = rdmsr(MSR_FS_BASE);
        return 0;
    case ARCH_SET_GS:
        wrmsr(MSR_KERNEL_GS_BASE, addr); /* the program's GS while in the kernel */
        x86_thread(current_thread())->gs = addr;
        return 0;
    case ARCH_GET_GS:
        *(uint64_t *)addr = rdmsr(MSR_KERNEL_GS_BASE);
        return 0;
    }
    return -22; /* EINVAL */
}

void syscall_entry(void);

/* syscall/sysret, and FP/SSE for the program: x87 and SSE state owned by the
 * program alone (the kernel is built without them); no XSAVE/AVX yet. Every
 * CPU runs this. */
void x86_cpu_user_init(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(MSR_STAR, (0x10ull << 48) | (0x08ull << 32)); /* sysret: cs 0x23, ss 0x1b */
    wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
    wrmsr(MSR_SFMASK, 0x47700); /* TF DF IF IOPL NT AC cleared on entry */
    uint64_t cr0, cr4;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~((1ull << 2) | (1ull << 3))) | (1ull << 1) | (1ull << 5); /* -EM -TS +MP +NE */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= (1ull << 9) | (1ull << 10); /* OSFXSR, OSXMMEXCPT */
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
    __asm__ volatile("fninit");
}

void arch_user_init(void)
{
    x86_cpu_user_init();
}

static void set_gate(unsigned vector, unsigned ist)
{
    uintptr_t addr = (uintptr_t)trap_stubs + 16 * vector;
    idt[vector] = (struct idt_gate){
        .offset_low = addr & 0xffff,
        .selector = 0x08,
        .ist = ist,
        .type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
        .offset_mid = (addr >> 16) & 0xffff,
        .offset_high = addr >> 32,
    };
}

void arch_set_this_cpu(struct cpu *c)
{
    wrmsr(MSR_GS_BASE, (uintptr_t)c);
}

void x86_set_kernel_stack(unsigned cpu, uintptr_t top)
{
    tables[cpu]->tss.rsp[0] = top;
}

/* This CPU's GDT, TSS (IST stacks: ist_top[0..2] for #DF, NMI, #MC) and the
 * shared IDT. ``mem``: room for the tables (x86_cpu_tables_size bytes,
 * 16-aligned); the boot CPU passes 0 and uses static ones. */
const size_t x86_cpu_tables_size = sizeof(struct cpu_tables);

void x86_cpu_tables_init(struct cpu *c, const uintptr_t ist_top[3], void *mem)
{
    if (mem)
        tables[c->id] = mem;
    struct tss *t = &tables[c->id]->tss;
    uint64_t *g = tables[c->id]->gdt;
    t->ist[0] = ist_top[0];
    t->ist[1] = ist_top[1];
    t->ist[2] = ist_top[2];
    t->rsp[0] = c->arch_kernel_sp;
    t->iomap_base = sizeof *t;
    uintptr_t base = (uintptr_t)t;
    uint64_t limit = sizeof *t - 1;
    g[1] = 0x00af9b000000ffffull; /* kernel code (accessed) */
    g[2] = 0x00cf93000000ffffull; /* kernel data (accessed) */
    g[3] = 0x00cff3000000ffffull; /* user data, DPL 3 (accessed) */
    g[4] = 0x00affb000000ffffull; /* user 64-bit code, DPL 3 (accessed) */
    g[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
           ((uint64_t)((base >> 24) & 0xff) << 56);
    g[6] = base >> 32;
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = {sizeof tables[0]->gdt - 1, (uintptr_t)g}, idtr = {sizeof idt - 1, (uintptr_t)idt};
    __asm__ volatile("lgdt %0\n"
                     "pushq $0x08\n"
                     "leaq 1f(%%rip), %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1: mov $0x10, %%eax\n"
                     "mov %%eax, %%ds\n"
                     "mov %%eax, %%es\n"
                     "mov %%eax, %%ss\n"
                     "mov $0x28, %%ax\n"
                     "ltr %%ax\n"
                     :
                     : "m"(gdtr)
                     : "rax", "memory");
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

static void x86_traps_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, v == 8 ? 1 : v == 2 ? 2 : v == 18 ? 3 : 0);
    struct cpu *c = this_cpu();
    c->arch_kernel_sp = (uintptr_t)boot_stack_top; /* thread 1's kernel stack */
    const uintptr_t ist[3] = {(uintptr_t)df_stack_top, (uintptr_t)nmi_stack_top, (uintptr_t)mc_stack_top};
    x86_cpu_tables_init(c, ist, 0);
    /* The legacy 8259 PICs stay masked: interrupts come through the APICs. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}
HERMIT_INIT(HERMIT_INIT_ARCH, x86_traps_init);
