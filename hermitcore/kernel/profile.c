/* The sampling profiler (hermit.profile=HZ: `hermitcore run --profile
 * FILE`). Every CPU that runs the program samples HZ times a second from
 * its own timer (armed the first time it returns to the program): the
 * interrupted PC and its frame-pointer chain -- the kernel's, when it was
 * in the kernel, then the program's from its last entry (a system call, a
 * fault) -- into one buffer. At the end of the run the buffer goes to the
 * host as the blob "profile" (hermit/blob.h), which names the addresses
 * from the image's and the program's symbols (hermitcore/profile.py).
 *
 * The buffer: words "hermprof", HZ, samples, samples dropped (the buffer
 * was full), then per sample a header word (frames | kernel frames << 8 |
 * tid << 32) and the frames' addresses, innermost first; and between them
 * the program's executable file mappings (0 | 0xff << 8 | path length << 16,
 * start, end, file offset, the path's bytes in words), noted when they go
 * (exec, exit) and at the end, so the host can name the addresses of
 * shared libraries. */
#include <hermit/arch.h>
#include <hermit/blob.h>
#include <hermit/hermit.h>
#include <hermit/mm.h>
#include <hermit/heap.h>
#include <hermit/init.h>
#include <hermit/profile.h>
#include <hermit/sched.h>
#include <hermit/spinlock.h>
#include <hermit/string.h>
#include <hermit/time.h>
#include <hermit/user.h>

#define MAX_FRAMES 64
#define BUF_WORDS ((8u << 20) / 8)
#define HEADER 4

unsigned profile_hz;
static uint64_t period;   /* ns between samples: fixed once the rate is set */
static volatile int off; /* no buffer could be had: sampling stopped */
static struct timer timers[MAX_CPUS];
static volatile int armed[MAX_CPUS];
static uint64_t *buf;
static size_t used = HEADER, samples, dropped;
static spinlock_t lock = SPINLOCK_INIT;

static int set_profile(const char *value)
{
    unsigned hz = 0;
    for (; *value >= '0' && *value <= '9'; value++)
        hz = hz * 10 + (unsigned)(*value - '0');
    if (*value || !hz || hz > 10000)
        return -1;
    profile_hz = hz;
    period = NSEC_PER_SEC / hz;
    return 0;
}
HERMIT_PARAM("hermit.profile=", set_profile);

/* A word of the program's memory at va, read through its page tables
 * (an interrupt may not fault): 0 when the page is not there. */
static int user_word(uintptr_t va, uint64_t *out)
{
    uint64_t pa;
    unsigned flags;
    if ((va & 7) || va >= USER_LIMIT || arch_user_query(va, &pa, &flags) != 0)
        return 0;
    *out = *(const uint64_t *)phys_to_virt((pa & ~(uint64_t)(PAGE_SIZE - 1)) + (va & (PAGE_SIZE - 1)));
    return 1;
}

static void (*maps_hook)(void);

void profile_set_maps_hook(void (*fn)(void)) { maps_hook = fn; }

int profile_active(void) { return profile_hz && __atomic_load_n(&buf, __ATOMIC_ACQUIRE) != 0; }

void profile_mapping(uintptr_t start, uintptr_t end, uint64_t offset, const char *path)
{
    size_t len = strlen(path);
    if (len > 4095)
        return;
    size_t words = 4 + (len + 7) / 8;
    unsigned long f = spin_lock_irqsave(&lock);
    if (buf && used + words <= BUF_WORDS) {
        buf[used] = 0xffull << 8 | (uint64_t)len << 16;
        buf[used + 1] = start;
        buf[used + 2] = end;
        buf[used + 3] = offset;
        buf[used + words - 1] = 0;
        memcpy(&buf[used + 4], path, len);
        used += words;
    }
    spin_unlock_irqrestore(&lock, f);
}

static uint64_t covered[MAX_CPUS]; /* samples due up to here were taken at a system call's end */

/* The program's frames from its user registers into frames[n...]. */
static unsigned user_chain(uint64_t *frames, unsigned n, uintptr_t pc, uintptr_t fp)
{
    frames[n++] = pc;
    while (n < MAX_FRAMES) { /* the program's chain: [fp] the caller's fp, [fp + 8] the return address */
        uint64_t next, ret;
        if (!user_word(fp, &next) || !user_word(fp + 8, &ret) || !ret)
            break;
        frames[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

static void record(struct thread *th, const uint64_t *frames, unsigned n, unsigned kernel, unsigned times)
{
    unsigned long f = spin_lock_irqsave(&lock);
    while (times--) {
        if (buf && used + 1 + n <= BUF_WORDS) {
            buf[used++] = n | kernel << 8 | (uint64_t)(uint32_t)th->tid << 32;
            for (unsigned i = 0; i < n; i++)
                buf[used++] = frames[i];
            samples++;
        } else {
            dropped++;
        }
    }
    spin_unlock_irqrestore(&lock, f);
}

/* A system call runs with interrupts off: the samples that fell due while
 * it ran would land on its return address in the program. Taken here
 * instead, at its end, one per period it spent: the handler (`handler`,
 * named from the kernel's symbols) over the program's chain. */
void profile_syscall_done(uintptr_t handler)
{
    struct cpu *c = this_cpu();
    struct thread *th = c->current;
    if (!profile_hz || off || !armed[c->id] || !th || !th->user)
        return;
    uint64_t now = clock_ns(), due = timers[c->id].deadline;
    if (!due || due > now || due <= covered[c->id])
        return;
    unsigned times = (unsigned)((now - due) / period) + 1;
    if (times > 1000)
        times = 1000;
    uintptr_t pc, fp;
    if (!arch_sample_regs(arch_user_regs(th), &pc, &fp))
        return;
    uint64_t frames[MAX_FRAMES];
    frames[0] = handler;
    unsigned n = user_chain(frames, 1, pc, fp);
    covered[c->id] = due + (uint64_t)(times - 1) * period;
    record(th, frames, n, 1, times);
}

static void sample(struct timer *t, void *arg)
{
    struct cpu *c = this_cpu();
    uint64_t now = clock_ns();
    if (off)
        return;
    uint64_t due = t->deadline;
    timer_add(t, t->deadline + period > now ? t->deadline + period : now + period, sample, arg);
    if (due <= covered[c->id])
        return; /* taken at the end of the system call it fell in */
    struct thread *th = c->current;
    void *regs = c->irq_regs;
    if (!th || th == c->idle || !th->user || !regs)
        return;
    uint64_t frames[MAX_FRAMES];
    unsigned n = 0, kernel = 0;
    uintptr_t pc, fp;
    if (!arch_sample_regs(regs, &pc, &fp)) { /* in the kernel: its frames, on this thread's stack */
        uintptr_t lo = th->kstack_top - KSTACK_SIZE;
        frames[n++] = pc;
        while (n < MAX_FRAMES / 2 && fp >= lo && fp + 16 <= th->kstack_top && !(fp & 7)) {
            uintptr_t next = ((const uintptr_t *)fp)[0], ret = ((const uintptr_t *)fp)[1];
            if (!ret)
                break;
            frames[n++] = ret;
            if (next <= fp)
                break;
            fp = next;
        }
        kernel = n;
        if (!arch_sample_regs(arch_user_regs(th), &pc, &fp))
            return; /* no program frame under it */
    }
    n = user_chain(frames, n, pc, fp);
    record(th, frames, n, kernel, 1);
}

void profile_arm(void)
{
    struct cpu *c = this_cpu();
    if (armed[c->id] || off)
        return;
    armed[c->id] = 1;
    if (!__atomic_load_n(&buf, __ATOMIC_ACQUIRE)) {
        uint64_t *b = kzalloc(BUF_WORDS * 8);
        if (!b) {
            pr_warn("profile: no memory for its 8 MiB buffer: no profile\n");
            off = 1;
            return;
        }
        uint64_t *none = 0;
        if (!__atomic_compare_exchange_n(&buf, &none, b, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            kfree(b);
    }
    timer_add(&timers[c->id], clock_ns() + period, sample, 0);
}

void profile_flush(void)
{
    if (!profile_hz || !buf)
        return;
    if (maps_hook)
        maps_hook(); /* the mappings of the process ending the run */
    unsigned long f = spin_lock_irqsave(&lock);
    uint64_t *b = buf;
    size_t words = used;
    buf = 0; /* no sample after this */
    spin_unlock_irqrestore(&lock, f);
    b[0] = 0x666f72706d726568ull; /* "hermprof" */
    b[1] = profile_hz;
    b[2] = samples;
    b[3] = dropped;
    blob_seek("profile", 0);
    blob_write("profile", b, words * 8);
    blob_end("profile", words * 8);
}
