/* The one door to the architecture: every name an architecture plugin
 * exports (plugins/x86_64, plugins/aarch64), and the only way generic kernel
 * code reaches the CPU, its MMU, interrupt controller and timer. "Adding an
 * architecture" in docs/architecture.md lists them with their files. */
#pragma once
#include <stdint.h>

struct thread;
struct cpu;

/* --- the CPU --- */

/* Stop this CPU for good (interrupts off, halt/wfi loop). */
void arch_halt(void) __attribute__((noreturn));

/* Back-off hint inside spin loops. */
void arch_cpu_relax(void);

/* Name of the architecture, e.g. "x86_64". */
extern const char arch_name[];

/* Self-test support: execute an undefined instruction (ud2 / udf). */
void arch_undefined_instruction(void);

/* Whether integer division by zero traps on this architecture. */
extern const int arch_divide_by_zero_traps;

/* Lowest address of the boot stack's guard page (never mapped). */
extern char boot_stack_guard[];

/* --- interrupts --- */
void arch_irq_unmask(unsigned irq);
void arch_irq_enable(void); /* let interrupts in on this CPU */
void arch_irq_disable(void);
int arch_irq_enabled(void);
/* Message-signalled interrupts (PCI MSI-X): a fresh IRQ number for
 * irq_register and the address/data the device writes to raise it. 0, or -1
 * when the platform has none (aarch64 GICv2) or the numbers ran out. */
int arch_msi_alloc(unsigned *irq, uint64_t *addr, uint32_t *data);

/* --- clock and timer --- */
uint64_t arch_clock_ns(void);
uint64_t arch_clock_hz(void);    /* counter frequency */
uint64_t arch_counter(void);     /* raw counter (TSC, CNTVCT) */
extern uint64_t boot_first_tick; /* raw counter at the first instruction */
const char *arch_clock_name(void);
void arch_timer_arm(uint64_t deadline_ns); /* interrupt at deadline (in clock_ns time) */
void arch_timer_disarm(void);
unsigned arch_timer_irq(void);
void arch_idle(void); /* wait for an interrupt; returns with interrupts as they were (off) */

/* --- memory --- */
/* Map [va, va+size) to pa with `flags` (hermit/mm.h); existing mappings
 * (the compose-time boot tables) are kept. Returns 0 or -1 (no memory). */
int arch_map(uintptr_t va, uint64_t pa, uint64_t size, unsigned flags);
const char *arch_page_sizes(void); /* e.g. "4K 2M 1G" */
/* Single 4 KiB pages of the program's address space: MAP_USER in flags
 * gives the program access; without it only the kernel reaches the page.
 * arch_user_map: 0, -1 (no memory for tables) or -2 (va is already mapped,
 * e.g. by the kernel's boot map or an MMIO window). arch_user_unmap returns
 * the physical page that was mapped there, or 0. arch_user_protect changes a
 * mapped page's flags (0 or -1 if unmapped). TLBs are kept coherent. */
int arch_user_map(uintptr_t va, uint64_t pa, unsigned flags);
uint64_t arch_user_unmap(uintptr_t va);
int arch_user_protect(uintptr_t va, unsigned flags);
/* Program pages carry a mark of their own: arch_user_unmap and
 * arch_user_protect leave every other page alone (0 / -1), so no program
 * call can unmap or re-protect the kernel's pages in the lower half (its
 * boot map, aarch64's RAM identity map, device windows). 1 when the kernel
 * maps something in [va, end) (then no program mapping may go there). */
int arch_user_kernel_mapped(uintptr_t va, uintptr_t end);
/* The first program page mapped in [va, end), or end: a walk that skips
 * empty tables, so unmapping or re-protecting a large, mostly untouched
 * reservation costs what is mapped in it, not its size. */
uintptr_t arch_user_next(uintptr_t va, uintptr_t end);
/* The program page at va: its physical page and MAP_* flags (MAP_USER,
 * MAP_WRITE, MAP_EXEC, MAP_COW). 0, or -1 when none is mapped there. */
int arch_user_query(uintptr_t va, uint64_t *pa, unsigned *flags);
/* Address spaces (arch_as_fork flushes this CPU's TLB; other CPUs running
 * the parent's threads are the caller's to sync): one root table per process, the kernel's mappings in
 * every one (its top-level entries above the program's range shared, its
 * leaves below copied: the kernel adds no mapping there once programs run).
 * arch_as_fork copies the current one; each program page goes through
 * `page`, which returns the flags both copies get (the parent's entry is
 * rewritten too), or ~0u to leave it out (exec: none at all). 0 when out of
 * memory. arch_as_switch loads one (and drops the old one's translations);
 * arch_as_free frees one's tables (its program pages unmapped already; not
 * the current one). */
uint64_t arch_as_current(void);
uint64_t arch_as_fork(unsigned (*page)(uintptr_t va, uint64_t pa, unsigned flags, void *arg), void *arg);
void arch_as_switch(uint64_t root);
void arch_as_free(uint64_t root);
/* After unmapping or re-protecting program pages: every other CPU has
 * dropped the old translations when this returns (x86_64: an IPI
 * shoot-down; aarch64: the broadcast TLBIs already did it). */
void arch_tlb_sync(void);

/* --- threads and CPUs (hermit/sched.h) --- */
void arch_switch(struct thread *prev, struct thread *next); /* save prev, run next */
void arch_thread_init_kernel(struct thread *t, void (*fn)(void *), void *arg);
void arch_thread_init_user(struct thread *t, uintptr_t sp, uintptr_t tls, int set_tls);
int arch_cpu_start(struct cpu *c, uintptr_t stack_top); /* 0 once it is running, or -1 */
void arch_send_ipi(struct cpu *c);
void arch_set_this_cpu(struct cpu *c);
/* The one inline name: arch_this_cpu(), the block arch_set_this_cpu set for
 * this CPU, from the architecture's <arch/percpu.h> (a register read on the
 * path of every system call; this_cpu() in hermit/sched.h). */
#include <arch/percpu.h>
/* Kernel virtual window for kernel stacks (each slot: guard + stack). */
extern const uintptr_t arch_kstack_base;

/* --- traps: setjmp/longjmp over callee-saved registers --- */
int arch_setjmp(uint64_t *regs) __attribute__((returns_twice));
void arch_longjmp(uint64_t *regs, int value) __attribute__((noreturn));

/* --- the program (hermit/user.h) --- */
void arch_user_init(void); /* syscall entry, FP/SIMD on */
void arch_enter_user(uintptr_t entry, uintptr_t sp) __attribute__((noreturn));
extern const char arch_platform[]; /* AT_PLATFORM */
unsigned long arch_hwcap(void);    /* AT_HWCAP */
/* --- signals: Linux's signal frames (the Linux layer's signal.c decides,
 * these lay out and read back the architecture's rt_sigframe) --- */
struct fault_info;
/* The program's registers as it last entered the kernel: the frame at the
 * top of t's kernel stack (struct trap_frame / struct exception_frame). */
void *arch_user_regs(struct thread *t);
uintptr_t arch_user_sp(const void *regs);
/* The system call that entered with `nr` and first argument `a0` runs again
 * when the program resumes (pc back over the syscall instruction). */
void arch_syscall_restart(void *regs, long nr, long a0);
void arch_syscall_set_result(void *regs, long rc);
struct signal_frame {
    int sig;
    const void *siginfo;     /* Linux's siginfo_t, 128 bytes */
    uintptr_t handler, restorer;
    unsigned long flags;     /* sa_flags (SA_SIGINFO, SA_RESTORER...) */
    uint64_t mask;           /* uc_sigmask: the mask sigreturn puts back */
    uintptr_t top, limit;    /* build it below top (the alternate stack's end, or the sp less the red zone); fail below limit */
    uintptr_t ss_sp;         /* uc_stack: the alternate stack as the handler finds it */
    uint64_t ss_size;
    int ss_flags;
    const struct fault_info *fault; /* a CPU exception's details, or NULL */
};
/* Write the frame on the program's stack (program memory: the caller holds
 * the big lock) and point the registers at the handler. 0, or -EFAULT (the
 * stack is not writable there, or the frame would cross `limit`). */
int arch_signal_frame(void *regs, const struct signal_frame *s);
/* rt_sigreturn: read back the frame the handler returns on; the registers
 * become the interrupted ones. Fills the mask and the uc_stack (sp, flags,
 * size) to restore; returns the value the system call returns (the
 * restored rax / x0) via *rc. 0, or -EFAULT for a frame that is not one. */
int arch_sigreturn(void *regs, uint64_t *mask, uint64_t ss[3], long *rc);
/* execve: the registers a new program starts with (Linux's: all zero but
 * pc and sp; TLS base and FP/SIMD state reset). */
void arch_exec_regs(void *regs, uintptr_t entry, uintptr_t sp);
extern const unsigned long arch_minsigstksz;  /* MINSIGSTKSZ */
extern const unsigned long arch_red_zone;     /* bytes below sp a handler must not touch (x86_64: 128) */
/* The code a handler returns to without SA_RESTORER, mapped read-only at
 * USER_SIGPAGE (aarch64: Linux's vDSO __kernel_rt_sigreturn); size 0: none. */
extern const uint32_t arch_sigtramp[];
extern const unsigned arch_sigtramp_size;
/* Core dumps (kernel/linux/coredump.c): thread t's registers as Linux's
 * NT_PRSTATUS pr_reg (arch_core_nregs words: user_regs_struct /
 * user_pt_regs) and its FP/SIMD registers as NT_PRFPREG (arch_core_fp_size
 * bytes: FXSAVE / user_fpsimd_state), from the state it saved entering the
 * kernel (the calling thread's FP registers: the live ones). */
extern const unsigned arch_core_nregs, arch_core_fp_size;
void arch_core_regs(struct thread *t, uint64_t *regs, uint8_t *fp);
/* The sampling profiler (kernel/profile.c): an interrupt's or entry's saved
 * registers: their PC and frame pointer; 1 when they are the program's. */
int arch_sample_regs(const void *regs, uintptr_t *pc, uintptr_t *fp);
/* The clock's parameters as a program's vDSO may use them (hermit/vdso.h):
 * 1 when the counter can be read in user mode, 0 when it cannot -- or not
 * yet: a clock calibrated on first use is not calibrated for this (the
 * vDSO makes the system call; ask again after a clock read). */
int arch_clock_user(uint64_t *counter_boot, uint64_t *mult);

/* Which clone() argument is the TLS pointer: 3 (flags, sp, ptid, tls, ctid:
 * x86_64) or 4 (flags, sp, ptid, ctid, tls: aarch64). */
extern const int arch_clone_tls_arg;
