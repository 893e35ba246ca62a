/* CPU exceptions, as the generic kernel sees them. */
#pragma once
#include <hermit/arch.h>
#include <stdint.h>

enum fault_kind {
    FAULT_OTHER,
    FAULT_PAGE,        /* #PF / data or instruction abort */
    FAULT_UNDEFINED,   /* #UD / udf, unknown instruction */
    FAULT_DIVIDE,      /* #DE */
    FAULT_PROTECTION,  /* #GP and friends */
};

struct fault_info {
    enum fault_kind kind;
    const char *name;   /* "page fault", "data abort", ... */
    uintptr_t pc;       /* faulting instruction */
    uintptr_t addr;     /* CR2 / FAR_EL1 where meaningful, else 0 */
    uint64_t code;      /* error code / ESR */
    int write;          /* page faults: the access was a write */
    int exec;           /* page faults: the access was an instruction fetch */
    int present;        /* page faults: the page was mapped (permission fault) */
    int signal;         /* faults in the program: the Linux signal (SIGSEGV...) */
    int trapno;         /* x86_64: the vector (sigcontext.trapno) */
};

/* Exit status when the kernel dies of a CPU exception (128 + SIGSEGV). */
#define HERMIT_FAULT_STATUS 139

/* A recovery point: hermit_catch() returns 0 when set, and returns 1 again
 * (with `fault` filled in) if a CPU exception happens before
 * hermit_uncatch(). Used by the in-guest self-tests; not nestable. */
struct hermit_catch {
    uint64_t regs[14];
    struct fault_info fault;
};

/* Print "[hermit] backtrace: ..." from frame pointer `fp` (`first`: the
 * faulting pc, or 0), for the host to symbolise. */
void hermit_backtrace(uintptr_t fp, uintptr_t first);

void hermit_catch_arm(struct hermit_catch *c);
void hermit_uncatch(void);
/* A macro, not a function: setjmp must run in the frame that stays alive
 * until the fault (a wrapper's frame is gone by then). */
#define hermit_catch(c) (hermit_catch_arm(c), arch_setjmp((c)->regs))

/* Arch trap handlers call this for every exception they cannot handle.
 * `regs_dump` prints the architecture's registers; `fp` is the frame pointer
 * at the fault, for the backtrace. Does not return. */
void hermit_fault(const struct fault_info *f, void (*regs_dump)(const void *frame), const void *frame,
                  uintptr_t fp) __attribute__((noreturn));

