#include <hermit/arch.h>
#include <hermit/fdt.h>
#include <hermit/hermit.h>
#include <hermit/trap.h>
#include <stdint.h>

const char arch_name[] = "aarch64";

void arch_halt(void)
{
    for (;;)
        __asm__ volatile("msr daifset, #0xf; wfi");
}

void arch_cpu_relax(void)
{
    __asm__ volatile("yield");
}

static struct boot_info boot_info;

void aarch64_start(const void *dtb)
{
    struct boot_info *bi = &boot_info;
    bi->protocol = "dtb";
    if (fdt_read_boot_info(dtb, bi) != 0) {
        bi->cmdline = "";
        bi->cpus = 1;
    }
    kernel_main(bi);
}

struct exception_frame {
    uint64_t x[31];
    uint64_t sp;
    uint64_t elr;
    uint64_t spsr;
};

static const char *const kinds[16] = {
    "synchronous (EL1t)", "IRQ (EL1t)", "FIQ (EL1t)", "SError (EL1t)",
    "synchronous", "IRQ", "FIQ", "SError",
    "synchronous from EL0", "IRQ from EL0", "FIQ from EL0", "SError from EL0",
    "synchronous from AArch32", "IRQ from AArch32", "FIQ from AArch32", "SError from AArch32",
};

static void dump_regs(const void *p)
{
    const struct exception_frame *f = p;
    uint64_t esr, far;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(esr));
    __asm__ volatile("mrs %0, far_el1" : "=r"(far));
    printk("[hermit]   ESR_EL1=%016llx (EC %#llx)  FAR_EL1=%016llx\n", (unsigned long long)esr,
           (unsigned long long)(esr >> 26), (unsigned long long)far);
    for (int i = 0; i < 30; i += 2)
        printk("[hermit]   x%-2d=%016llx  x%-2d=%016llx\n", i, (unsigned long long)f->x[i], i + 1,
               (unsigned long long)f->x[i + 1]);
    printk("[hermit]   x30=%016llx  sp =%016llx\n", (unsigned long long)f->x[30], (unsigned long long)f->sp);
    printk("[hermit]   elr=%016llx  spsr=%08llx\n", (unsigned long long)f->elr, (unsigned long long)f->spsr);
}

void gic_handle_irq(void);

void aarch64_exception(struct exception_frame *f, unsigned kind)
{
    if ((kind & 3) == 1) { /* IRQ */
        gic_handle_irq();
        return;
    }
    uint64_t esr, far;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(esr));
    __asm__ volatile("mrs %0, far_el1" : "=r"(far));
    unsigned ec = esr >> 26, fsc = esr & 0x3f;
    struct fault_info fi = {0};
    fi.pc = f->elr;
    fi.code = esr;
    fi.kind = FAULT_OTHER;
    fi.name = kinds[kind & 15];
    switch (ec) {
    case 0x00:
        fi.kind = FAULT_UNDEFINED;
        fi.name = "undefined instruction";
        break;
    case 0x20:
    case 0x21:
    case 0x24:
    case 0x25:
        fi.kind = FAULT_PAGE;
        fi.exec = ec <= 0x21;
        fi.name = fi.exec ? "instruction abort" : "data abort";
        fi.addr = far;
        fi.write = !fi.exec && ((esr >> 6) & 1);
        fi.present = (fsc & 0x3c) == 0x0c || (fsc & 0x3c) == 0x08; /* permission / access flag */
        break;
    case 0x22:
        fi.name = "PC alignment fault";
        break;
    case 0x26:
        fi.name = "SP alignment fault";
        break;
    case 0x3c:
        fi.name = "breakpoint (brk)";
        break;
    }
    hermit_fault(&fi, dump_regs, f, f->x[29]);
}

const int arch_divide_by_zero_traps = 0; /* sdiv/udiv by zero yield 0 */

void arch_undefined_instruction(void)
{
    __asm__ volatile("udf #0");
}
