/* aarch64 plugin internals shared by its C files. */
#pragma once
#include <hermit/sched.h>
#include <stdint.h>

/* What vectors.S saves on SP_EL1 for every exception. */
struct exception_frame {
    uint64_t x[31];
    uint64_t sp; /* SP_EL1 before the exception */
    uint64_t elr;
    uint64_t spsr;
    uint64_t sp_el0; /* the program's stack pointer */
    uint64_t pad;
};
_Static_assert(sizeof(struct exception_frame) == 36 * 8, "matches FRAME_SIZE in vectors.S");

/* A thread's architecture state (struct thread.arch). */
struct aarch64_thread {
    uint8_t fp[528]; /* q0-q31, fpcr, fpsr (aarch64_fp_save) */
    uint64_t tpidr;  /* the program's TLS base, TPIDR_EL0 */
};
_Static_assert(sizeof(struct aarch64_thread) <= sizeof(((struct thread *)0)->arch), "fits struct thread");

static inline struct aarch64_thread *aarch64_thread(struct thread *t) { return (struct aarch64_thread *)t->arch; }

/* gic.c */
void gic_handle_irq(void); /* an IRQ exception: acknowledge, dispatch, end */
void gic_init_cpu(void);
void gic_send_sgi(struct cpu *c, unsigned intid);
#define SGI_RESCHED 0

/* smp.c: how secondary CPUs are started (the DT's enable-method/PSCI conduit). */
void aarch64_smp_method(const char *method);
