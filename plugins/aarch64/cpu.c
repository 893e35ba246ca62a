#include <hermit/arch.h>
#include <hermit/fdt.h>
#include <hermit/hermit.h>
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

uintptr_t arch_frame_pointer(void)
{
    return (uintptr_t)__builtin_frame_address(0);
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

void aarch64_exception(struct exception_frame *f, unsigned kind)
{
    uint64_t esr, far;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(esr));
    __asm__ volatile("mrs %0, far_el1" : "=r"(far));
    printk("\n[hermit] exception: %s, ESR_EL1=%#llx (EC=%#llx) FAR_EL1=%#llx ELR_EL1=%#llx\n",
           kinds[kind & 15], (unsigned long long)esr, (unsigned long long)(esr >> 26),
           (unsigned long long)far, (unsigned long long)f->elr);
    for (int i = 0; i < 31; i += 2) {
        if (i == 30)
            printk("[hermit]   x30=%016llx  sp=%016llx\n", (unsigned long long)f->x[30],
                   (unsigned long long)f->sp);
        else
            printk("[hermit]   x%-2d=%016llx  x%-2d=%016llx\n", i, (unsigned long long)f->x[i], i + 1,
                   (unsigned long long)f->x[i + 1]);
    }
    panic("unhandled %s exception at %#llx", kinds[kind & 15], (unsigned long long)f->elr);
}
