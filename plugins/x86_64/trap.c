/* x86_64 descriptor tables and exception reports.
 * GDT: null, kernel code 0x08, kernel data 0x10, TSS 0x18. The TSS carries
 * IST stacks for #DF (IST1), NMI (IST2) and #MC (IST3), so a kernel stack
 * overflow into a guard page still gets reported. */
#include <arch/io.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/trap.h>
#include <stdint.h>

void x86_irq(unsigned vector);

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

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

extern char df_stack_top[], nmi_stack_top[], mc_stack_top[]; /* traps.S */
static struct tss tss;
static uint64_t gdt[5] __attribute__((aligned(16)));
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

void x86_trap(struct trap_frame *f)
{
    if (f->vector >= 32) {
        x86_irq((unsigned)f->vector);
        return;
    }
    struct fault_info fi = {0};
    fi.name = names[f->vector];
    fi.pc = f->rip;
    fi.code = f->error;
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
        break;
    }
    default:
        fi.kind = FAULT_OTHER;
    }
    hermit_fault(&fi, dump_regs, f, f->rbp);
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

static void x86_traps_init(void)
{
    tss.ist[0] = (uintptr_t)df_stack_top;
    tss.ist[1] = (uintptr_t)nmi_stack_top;
    tss.ist[2] = (uintptr_t)mc_stack_top;
    tss.iomap_base = sizeof tss;
    uintptr_t base = (uintptr_t)&tss;
    uint64_t limit = sizeof tss - 1;
    gdt[1] = 0x00af9b000000ffffull; /* kernel code (accessed) */
    gdt[2] = 0x00cf93000000ffffull; /* kernel data (accessed) */
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
             ((uint64_t)((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = {sizeof gdt - 1, (uintptr_t)gdt}, idtr = {sizeof idt - 1, (uintptr_t)idt};
    __asm__ volatile("lgdt %0\n"
                     "pushq $0x08\n"
                     "leaq 1f(%%rip), %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1: mov $0x10, %%eax\n"
                     "mov %%eax, %%ds\n"
                     "mov %%eax, %%es\n"
                     "mov %%eax, %%ss\n"
                     "mov $0x18, %%ax\n"
                     "ltr %%ax\n"
                     :
                     : "m"(gdtr)
                     : "rax", "memory");
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, v == 8 ? 1 : v == 2 ? 2 : v == 18 ? 3 : 0);
    __asm__ volatile("lidt %0" : : "m"(idtr));
    /* The legacy 8259 PICs stay masked: interrupts come through the APICs. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}
HERMIT_INIT(HERMIT_INIT_ARCH, x86_traps_init);
