/* CPUs, threads and the scheduler (sched.c). See docs/architecture.md,
 * "SMP and threads", for the policy and the lock order.
 *
 * - One run queue per CPU, FIFO, under that CPU's lock. A thread is placed
 *   once, when it is created, on the least loaded CPU (idle CPUs first) and
 *   never migrates: with threads <= CPUs every thread has a core to itself.
 * - Preemption by a per-CPU time slice, armed only while another thread
 *   waits on the same CPU: a CPU running one thread takes no tick at all.
 * - Idle CPUs halt (hlt / wfi) until an interrupt; a wake-up on another CPU
 *   sends it an IPI.
 * - The kernel is not preemptible: it runs with interrupts masked, so a
 *   thread leaves the CPU only on return to the program or when it blocks. */
#pragma once
#include <hermit/arch.h>
#include <hermit/boot.h>
#include <hermit/spinlock.h>
#include <hermit/time.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CPUS 64
#define KSTACK_SIZE (16u << 10) /* per-thread kernel stack, above a guard page (as Linux; measured: hermit.stack-usage) */

enum thread_state { THREAD_RUNNING, THREAD_RUNNABLE, THREAD_BLOCKED, THREAD_DEAD };

struct cpu;

struct thread {
    uintptr_t ksp;        /* saved kernel stack pointer while switched out */
    uintptr_t kstack_top; /* the program's entries land here */
    int kstack_slot;      /* -1: the boot stack */
    int tid;
    int user;             /* runs a program thread (has FP/TLS state to keep) */
    volatile int state;
    volatile int on_cpu;  /* its registers are live on (or being saved from) a CPU */
    struct cpu *cpu;      /* where it runs, for its whole life */
    struct thread *next;  /* run queue link */
    struct timer timer;   /* sleeps and timeouts */
    volatile int timed_out;
    /* The Linux layer's per-thread state. */
    struct process *proc; /* whose thread it is (process.c) */
    uint64_t as_root;     /* the address space it runs in (arch_as_*); 0: whichever is loaded */
    uintptr_t clear_child_tid;
    uintptr_t robust_list;
    uint64_t *uaccess_fixup; /* set while touching program memory: a bad address longjmps here */
    /* The system call in progress (trap.c), for restarting it after a signal. */
    long sys_nr, sys_a0, sys_rc;
    int in_syscall;
    int full_restore; /* every register of the program's frame changed: x86_64 returns through iretq */
    /* A signal may be deliverable to this thread: the return to the program
     * delivers it, and interruptible waits end early (io_wait_intr,
     * sched_sleep_until_intr). Set by the Linux layer's signal.c. */
    volatile int sig_wakeup;
    struct thread_signals {
        uint64_t blocked, pending, saved; /* mask; thread-directed pending; the mask sigsuspend replaced */
        struct sigqueue *queue;           /* siginfo of what is pending */
        uintptr_t ss_sp;                  /* sigaltstack */
        uint64_t ss_size;
        uint32_t ss_flags;
        int restore_saved;                /* put `saved` back once the handler's frame is built */
    } sig;
    /* CPU time (sched_account), in arch_counter() ticks (counter_ns): in
     * the program (user) and in the kernel (sys); the stretch running since
     * acct_stamp (0: not running) goes to acct_user's side. Only its own CPU
     * writes them, inside acct_seq (odd while it does): other CPUs read a
     * consistent pair. */
    uint64_t utime_ticks, stime_ticks, acct_stamp;
    volatile unsigned acct_seq;
    int acct_user;
    /* getrusage's counts: context switches it blocked for (voluntary) and
     * was preempted at (involuntary), page faults (the Linux layer's) */
    uint64_t nvcsw, nivcsw, minflt, majflt;
    /* Architecture state: TLS base, FP/SIMD registers (arch_switch). */
    _Alignas(64) uint8_t arch[640];
};

struct cpu {
    /* x86_64 reads these three at fixed offsets from its GS base. */
    uintptr_t arch_kernel_sp; /* kernel stack top of the running thread */
    uintptr_t arch_scratch;
    struct cpu *self;
    unsigned id;          /* 0 .. cpus-1 */
    uint32_t hwid;        /* APIC ID / MPIDR affinity */
    volatile int online;
    struct thread *current, *idle;
    struct thread *switch_from; /* the thread being switched out */
    spinlock_t lock;            /* run queue */
    struct thread *rq_head, *rq_tail;
    volatile unsigned load;     /* threads placed here and not yet dead (placement) */
    volatile int need_resched;
    uint64_t slice_deadline;    /* 0: no time slice running */
    struct timer *timers;       /* this CPU's timer queue, sorted */
    spinlock_t timer_lock;      /* it: taken by this CPU, and by others cancelling one of its timers */
    uint64_t timer_interrupts;
    uint64_t switches;
    void *fpu_owner;            /* whose FP/SIMD registers are live here */
    void *irq_regs;             /* the interrupted registers while an interrupt is handled (profile.c) */
};

/* CPU i's block: the boot CPU's is static, the others' are allocated when
 * smp_boot starts them (an image pays for the CPUs it runs on). */
extern struct cpu *cpus[MAX_CPUS];
extern unsigned cpus_online;
extern uint64_t sched_slice_ns;

/* The CPU this code runs on (x86_64: GS base; aarch64: TPIDR_EL1). */
static inline struct cpu *this_cpu(void) { return arch_this_cpu(); }
static inline struct thread *current_thread(void) { return this_cpu()->current; }

/* Boot: the boot CPU's per-CPU block, before anything else. */
void sched_early_init(uint32_t boot_hwid);
/* The running boot context becomes thread 1 of CPU 0. */
void sched_init(void);
/* Start the other CPUs the VMM gave (bi->cpu_ids), wait for them. */
void smp_boot(const struct boot_info *bi);
/* An application processor's C entry: set up, then idle forever. */
void smp_secondary_main(struct cpu *c) __attribute__((noreturn));

/* Switch to the next runnable thread (interrupts off). Returns when this
 * thread runs again (at once if nothing else is runnable). */
void schedule(void);
/* Return to the program: take the CPU from it if a reschedule is due. */
void sched_preempt(void);
/* An IPI arrived: another CPU queued work here. */
void sched_ipi(void);
/* Block the current thread until sched_wake (its state must have been set
 * to THREAD_BLOCKED under the lock the waker takes). */
void sched_wake(struct thread *t);
/* A timer callback for timed blocks: sets arg's (a struct thread) timed_out
 * and wakes it. Arm it with timer_add(&t->timer, deadline, ..., t). */
void sched_timeout_wake(struct timer *tm, void *arg);
/* Sleep until clock_ns() >= deadline. */
void sched_sleep_until(uint64_t deadline);
/* The same, ended early by a signal (thread.sig_wakeup): 0 at the deadline,
 * -EINTR (-4) when interrupted. */
int sched_sleep_until_intr(uint64_t deadline);
/* Mark t (the current thread) blocked for an interruptible wait: 1 when a
 * signal is already pending (then it stays running), else 0 and it is
 * THREAD_BLOCKED -- woken at once if a signal arrives before schedule().
 * A sender sets sig_wakeup, then wakes a blocked thread (signal.c). */
int sched_block_intr(struct thread *t);
/* CPU time: the current thread's time goes to the program's side (user 1:
 * it returns to the program) or the kernel's (0: it entered the kernel). */
void sched_account(int user);
/* t's CPU time so far, the stretch it is running included (any CPU). */
void sched_thread_ticks(struct thread *t, uint64_t *user, uint64_t *sys); /* arch_counter() ticks */
/* Called by timer_interrupt when the slice ran out. */
void sched_slice_expired(void);

/* Threads. A new user thread returns to the program with the current
 * thread's registers, except: return value 0, stack `sp`, TLS `tls` (when
 * set_tls). */
struct thread *thread_create_user(uintptr_t sp, uintptr_t tls, int set_tls);
/* Queue it on the least loaded CPU. */
void thread_start(struct thread *t);
/* The current thread ends; never returns. */
void thread_exit(void) __attribute__((noreturn));

/* The address space of kernel threads (the idle threads): the one the
 * kernel booted in. No process's that could be freed under them. */
extern uint64_t kernel_as;

/* The big lock of the Linux layer: system calls that touch shared process
 * state (files, the address space) hold it; it is recursive per CPU and is
 * dropped while its holder blocks. Spinning for it lets interrupts in, so
 * TLB shoot-downs and wake-ups reach a waiting CPU. */
void kernel_lock(void);
void kernel_unlock(void);

