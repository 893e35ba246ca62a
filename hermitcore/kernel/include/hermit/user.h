/* The program: a static Linux executable running in ring 3 / EL0 in the
 * lower half of the single address space, entering the kernel only through
 * system calls, interrupts and faults. */
#pragma once
#include <hermit/arch.h>
#include <hermit/trap.h>
#include <stdint.h>

/* Its address space (both architectures; see docs/linux-abi.md). */
#define USER_PIE_BASE 0x800000000ull   /* static-pie load address: 32 GiB */
#define USER_MMAP_BASE 0x1000000000ull /* mmap() from 64 GiB up */
#define USER_STACK_TOP 0x3f00000000ull /* the initial stack grows down from here */
#define USER_STACK_MAX (8ull << 20)    /* RLIMIT_STACK */
#define USER_SIGPAGE 0x3f80000000ull   /* [sigpage]: the signal return trampoline (arch_sigtramp) */
#define USER_VDSO 0x3f80010000ull      /* [vdso] (AT_SYSINFO_EHDR); its [vvar] page just below */
#define USER_LIMIT 0x4000000000ull     /* nothing of the program's above 256 GiB */


/* The layer that runs the program (the Linux layer, kernel/linux/): it
 * registers itself at init; a kernel-only image (a built-in C application)
 * has none, and then system calls fail with ENOSYS, program faults are
 * fatal and the run's end is the machine's. */
struct program_layer {
    long (*syscall)(unsigned long nr, long a0, long a1, long a2, long a3, long a4, long a5);
    /* A page fault at `addr` (the program's, or the kernel touching program
     * memory in a system call): map it if a mapping allows the access
     * (demand paging). 0 when the access may be retried; -2 past the end
     * of a mapped file (SIGBUS), -1 otherwise (SIGSEGV). */
    int (*fault)(uintptr_t addr, int write, int exec);
    /* Say what a fatal fault's address was when there is more to say than
     * "not mapped" (a stack overflow into a guard page). */
    void (*explain_fault)(uintptr_t addr);
    /* The program ends: what it left in shared file mappings and socket
     * buffers goes out, then the machine stops (does not return). */
    void (*exit)(int status);
    /* A signal from the terminal (tty.c) or from the host (`hermitcore run`
     * got it: host_signal), to the program. */
    void (*signal)(int sig, int from_host);
    /* The thread returns to the program with a signal to take (struct
     * thread.sig_wakeup): run its handlers (frames on its stack) or its
     * default action. 1 when every register of `regs` may have changed. */
    int (*user_return)(void *regs);
    /* A CPU exception in the program: 1 when its signal handler takes it
     * (the registers now enter the handler), 0 for the default: death. */
    int (*fault_signal)(const struct fault_info *f, void *regs);
};
void program_layer_register(const struct program_layer *layer);

/* A signal the host sent (console.c: `hermitcore run` got it); kernel-only
 * images end with 128 + sig. */
void host_signal(int sig);

/* Copy to and from program memory, pages faulted in as the program's
 * would be: 0, or -EFAULT where the program could not have done it. */
int copy_to_user(uintptr_t dst, const void *src, size_t n);
int copy_from_user(void *dst, uintptr_t src, size_t n);

/* Called from the arch entry code; they go to the registered layer. */
long syscall_dispatch(unsigned long nr, long a0, long a1, long a2, long a3, long a4, long a5);
int vm_fault(uintptr_t addr, int write, int exec);
/* The program ends with `status` (exit_group, a fatal signal or fault). */
void program_exit(int status) __attribute__((noreturn));
/* A CPU exception in the program: its signal handler runs (this returns,
 * `frame` now enters the handler), or it dies like Linux's default action,
 * reported like a crash report, the run ending with 128 + the signal. */
void user_fault(const struct fault_info *f, void (*regs_dump)(const void *frame), void *frame, uintptr_t fp);
/* Every return to the program (system call, interrupt, exception) once the
 * kernel is done: pending signals are delivered. 1 when every register of
 * `regs` may have changed (x86_64: return with iretq, not sysretq). */
int user_return(void *regs);
/* CPU time: the program entered the kernel (every system call, interrupt
 * and exception from it, first thing), or goes back to it without
 * user_return (a page fault paged in). */
void user_enter(void);
void user_leave(void);
