#include <arch/aarch64.h>
#include <hermit/arch.h>
#include <hermit/fdt.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/mm.h>
#include <hermit/sched.h>
#include <hermit/string.h>
#include <hermit/trap.h>
#include <hermit/user.h>
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
    boot_stage("entry, MMU on");
    uint64_t mpidr;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
    uint32_t me = (uint32_t)(mpidr & 0xffffff) | (uint32_t)((mpidr >> 32) & 0xff) << 24;
    sched_early_init(me);
    bi->protocol = "dtb";
    int fdt = fdt_read_boot_info(dtb, bi);
    boot_stage("device tree");
    if (fdt != 0) {
        bi->cmdline = "";
        bi->cpus = 1;
    }
    for (unsigned i = 1; i < bi->cpus && i < BOOT_MAX_CPUS; i++) { /* the boot CPU first */
        if (bi->cpu_ids[i] == me) {
            bi->cpu_ids[i] = bi->cpu_ids[0];
            bi->cpu_ids[0] = me;
        }
    }
    aarch64_smp_method(bi->cpu_enable);
    kernel_main(bi);
}


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
    printk("[hermit]   x30=%016llx  sp =%016llx  sp_el0=%016llx\n", (unsigned long long)f->x[30],
           (unsigned long long)f->sp, (unsigned long long)f->sp_el0);
    printk("[hermit]   elr=%016llx  spsr=%08llx\n", (unsigned long long)f->elr, (unsigned long long)f->spsr);
}


void aarch64_exception(struct exception_frame *f, unsigned kind)
{
    if (kind == 8 || kind == 9)
        user_enter(); /* from the program: CPU time is the kernel's from here */
    if ((kind & 3) == 1) { /* IRQ */
        struct cpu *c = this_cpu();
        void *outer = c->irq_regs;
        c->irq_regs = f; /* the sampling profiler reads what was interrupted */
        gic_handle_irq();
        c->irq_regs = outer;
        if (kind == 9) { /* from the program: a reschedule or a signal may be due */
            sched_preempt();
            user_return(f);
        }
        return;
    }
    uint64_t esr, far;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(esr));
    __asm__ volatile("mrs %0, far_el1" : "=r"(far));
    unsigned ec = esr >> 26, fsc = esr & 0x3f;
    int from_user = kind == 8;
    if (from_user && ec == 0x15) { /* svc #0: number in x8, arguments x0-x5, result x0 */
        f->x[0] = syscall_dispatch(f->x[8], f->x[0], f->x[1], f->x[2], f->x[3], f->x[4], f->x[5]);
        user_return(f);
        return;
    }
    int paged = -1;
    if ((ec == 0x20 || ec == 0x24 || ec == 0x25) && far < USER_LIMIT &&
        ((fsc & 0x3c) == 0x04 || (fsc & 0x3c) == 0x0c) && /* translation or permission fault */
        (paged = vm_fault(far, ec != 0x20 && ((esr >> 6) & 1), ec == 0x20)) == 0) {
        if (from_user) /* demand paging */
            user_leave();
        return;
    }
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
    case 0x18:
        fi.name = "trapped system register access";
        break;
    case 0x2c:
        fi.name = "floating-point exception";
        break;
    }
    if (from_user) {
        switch (ec) {
        case 0x00:
        case 0x18:
            fi.signal = 4; /* SIGILL */
            break;
        case 0x22:
        case 0x26:
            fi.signal = 7; /* SIGBUS */
            break;
        case 0x2c:
            fi.signal = 8; /* SIGFPE */
            break;
        case 0x3c:
            fi.signal = 5; /* SIGTRAP */
            break;
        default:
            fi.signal = paged == -2 ? 7 : 11; /* SIGBUS past the end of a mapped file, else SIGSEGV */
        }
        user_fault(&fi, dump_regs, f, f->x[29]); /* returns when the program's handler takes it */
        user_return(f);
        return;
    }
    hermit_fault(&fi, dump_regs, f, f->x[29]);
}

const char arch_platform[] = "aarch64";

#define HWCAP_FP (1ul << 0)
#define HWCAP_ASIMD (1ul << 1)
#define HWCAP_AES (1ul << 3)
#define HWCAP_PMULL (1ul << 4)
#define HWCAP_SHA1 (1ul << 5)
#define HWCAP_SHA2 (1ul << 6)
#define HWCAP_CRC32 (1ul << 7)
#define HWCAP_ATOMICS (1ul << 8)

/* AT_HWCAP as Linux computes it from ID_AA64ISAR0_EL1, without HWCAP_CPUID:
 * EL0 reads of the ID registers would trap, and nothing here emulates them. */
unsigned long arch_hwcap(void)
{
    uint64_t isar0;
    __asm__ volatile("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
    unsigned long hw = HWCAP_FP | HWCAP_ASIMD;
    unsigned aes = (isar0 >> 4) & 15, sha1 = (isar0 >> 8) & 15, sha2 = (isar0 >> 12) & 15;
    unsigned crc = (isar0 >> 16) & 15, atomic = (isar0 >> 20) & 15;
    if (aes >= 1)
        hw |= HWCAP_AES;
    if (aes >= 2)
        hw |= HWCAP_PMULL;
    if (sha1 >= 1)
        hw |= HWCAP_SHA1;
    if (sha2 >= 1)
        hw |= HWCAP_SHA2;
    if (crc >= 1)
        hw |= HWCAP_CRC32;
    if (atomic >= 2)
        hw |= HWCAP_ATOMICS;
    return hw;
}

/* EL0 may read the virtual counter (CNTKCTL_EL1.EL0VCTEN), as on Linux. FP
 * and SIMD are already enabled for both ELs at boot (CPACR_EL1.FPEN). */
void arch_user_init(void)
{
    uint64_t k;
    __asm__ volatile("mrs %0, cntkctl_el1" : "=r"(k));
    __asm__ volatile("msr cntkctl_el1, %0; isb" : : "r"(k | 2));
}

void aarch64_enter_user(uintptr_t entry, uintptr_t sp, uintptr_t frame) __attribute__((noreturn));

/* The frame is made by aarch64_enter_user once on its stack: written from
 * here, it could cover this function's own frame (thread 1 runs on the boot
 * stack, which is its kernel stack, a few hundred bytes below the top). */
void arch_enter_user(uintptr_t entry, uintptr_t sp)
{
    __asm__ volatile("msr tpidr_el0, xzr");
    aarch64_enter_user(entry, sp, current_thread()->kstack_top - sizeof(struct exception_frame));
}

const int arch_divide_by_zero_traps = 0; /* sdiv/udiv by zero yield 0 */

void arch_undefined_instruction(void)
{
    __asm__ volatile("udf #0");
}
