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
#define USER_LIMIT 0x4000000000ull     /* nothing of the program's above 256 GiB */


/* The layer that runs the program (the Linux layer, kernel/linux/): it
 * registers itself at init; a kernel-only image (a built-in C application)
 * has none, and then system calls fail with ENOSYS, program faults are
 * fatal and the run's end is the machine's. */
struct program_layer {
    long (*syscall)(unsigned long nr, long a0, long a1, long a2, long a3, long a4, long a5);
    /* A page fault at `addr` (the program's, or the kernel touching program
     * memory in a system call): map it if a mapping allows the access
     * (demand paging). 0 when the access may be retried. */
    int (*fault)(uintptr_t addr, int write, int exec);
    /* Say what a fatal fault's address was when there is more to say than
     * "not mapped" (a stack overflow into a guard page). */
    void (*explain_fault)(uintptr_t addr);
    /* The program ends: what it left in shared file mappings and socket
     * buffers goes out, then the machine stops (does not return). */
    void (*exit)(int status);
    /* A signal from the terminal (tty.c): delivered, or the program ends. */
    void (*signal)(int sig);
};
void program_layer_register(const struct program_layer *layer);

/* Called from the arch entry code; they go to the registered layer. */
long syscall_dispatch(unsigned long nr, long a0, long a1, long a2, long a3, long a4, long a5);
int vm_fault(uintptr_t addr, int write, int exec);
/* The program ends with `status` (exit_group, a fatal signal or fault). */
void program_exit(int status) __attribute__((noreturn));
/* The program died of a CPU exception: report it like a crash report and end
 * the run with 128 + the signal Linux would have sent. */
void user_fault(const struct fault_info *f, void (*regs_dump)(const void *frame), const void *frame,
                uintptr_t fp) __attribute__((noreturn));
