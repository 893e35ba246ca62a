/* x86_64 plugin internals shared by its C files. */
#pragma once
#include <hermit/sched.h>
#include <stdint.h>

/* What traps.S pushes: general registers (r15 lowest), vector, error code,
 * then the CPU's interrupt frame. System calls build the same (vector 256). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* A thread's architecture state (struct thread.arch). */
struct x86_thread {
    uint8_t fxsave[512]; /* x87/SSE registers, FXSAVE64 layout (16-byte aligned) */
    uint64_t fs, gs;     /* the program's FS base and GS base */
};
_Static_assert(sizeof(struct x86_thread) <= sizeof(((struct thread *)0)->arch), "fits struct thread");

static inline struct x86_thread *x86_thread(struct thread *t) { return (struct x86_thread *)t->arch; }

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_SFMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

static inline void x86_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t x86_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

/* trap.c */
extern const size_t x86_cpu_tables_size;
void x86_cpu_tables_init(struct cpu *c, const uintptr_t ist_top[3], void *tables);
void x86_cpu_user_init(void);
void x86_set_kernel_stack(unsigned cpu, uintptr_t top);
/* apic.c */
void x86_lapic_init_ap(void);
void x86_lapic_icr(uint32_t dest, uint32_t low);
#define VECTOR_IPI 0xf0
