/* /proc and /sys: file systems of generated files, as Linux lays them out
 * and formats them (programs parse these: glibc's CPU count, LTP's
 * meminfo, Go's huge page size, Python's /proc/self/...).
 *
 * Each is a table of { path, mode, generator }: directories are implied by
 * the paths, and a path component ending in a placeholder stands for a set
 * of numbered entries -- "$" the process ("/proc/1"), "cpu#" the online
 * CPUs, "%" the open descriptors. A node of the tree is (the first table
 * entry under it, its depth, the number of its placeholder), which is also
 * its inode number: stable, and nothing to keep in memory. A file's
 * contents are generated when it is opened (a struct seqbuf in f->priv),
 * so a reader sees one consistent snapshot, as with Linux's seq_file. */
#include "vfs.h"
#include <board.h>
#include <hermit/heap.h>
#include <hermit/sched.h>
#include <hermit/spinlock.h>
#include <hermit/time.h>

/* provided by loader.c: where the program's initial stack holds its
 * argument and environment strings (Linux's mm->arg_start...env_end), the
 * stack pointer it started with, and a copy of its auxiliary vector (with
 * the closing AT_NULL pair) */
/* what the loader recorded of the calling process's program */
#define linux_arg_start (current_process()->arg_start)
#define linux_arg_end (current_process()->arg_end)
#define linux_env_start (current_process()->env_start)
#define linux_env_end (current_process()->env_end)
#define linux_stack_start (current_process()->stack_start)
#define linux_auxv (current_process()->auxv)
#define linux_auxv_bytes (current_process()->auxv_bytes)
/* provided by sys.c */
const char *linux_comm(void);                                       /* the name prctl(PR_SET_NAME) sets */
void linux_rlimit(unsigned resource, uint64_t *cur, uint64_t *max); /* what getrlimit reports */
/* bit n-1 for signal n: the mask, SIG_IGN dispositions, handlers */
/* p's: its first thread's pending signals and mask (any thread's once that one
 * is gone), the process's pending ones, and its dispositions */
void linux_sigstate(struct process *p, struct thread *not, uint64_t *pending, uint64_t *shared, uint64_t *blocked,
                    uint64_t *ignored, uint64_t *caught);
long sys_getppid(void);
long sys_getuid(void);
long sys_geteuid(void);
long sys_getgid(void);
long sys_getegid(void);
long sys_getpgrp(void);
long sys_getsid(long pid);
/* provided by thread.c: the program's threads now */
unsigned linux_thread_count(void);
/* provided by sysfile.c: the process's umask */
unsigned vfs_umask(void);

#define USER_HZ 100 /* AT_CLKTCK: the unit of times in /proc */
#define RLIMIT_RSS 5
#define RLIMIT_SIGPENDING 11
#define RLIMITS 16
#define CAPS_ALL ((1ull << 41) - 1)
#if defined(__x86_64__)
#define O_LARGEFILE 0100000
#else
#define O_LARGEFILE 0400000
#endif
/* mountinfo's mount IDs: the table's index from here on; the root's parent
 * and the kernel's own mounts (pipes, sockets) are not in the table, as on
 * Linux. */
#define MNT_ID_FIRST 21
#define MNT_ID_ROOT_PARENT 1
#define MNT_ID_INTERNAL 15

/* --- the tables --- */
struct pfile {
    const char *path;  /* from the file system's root; a component ending in $, # or % is a placeholder */
    uint32_t mode;     /* S_IFREG/S_IFLNK/S_IFDIR and permissions */
    void (*show)(struct seqbuf *s, long arg);           /* the contents, or a symlink's target */
    const char *text;                                   /* or those, fixed */
    long (*store)(long arg, const char *buf, size_t n); /* writable files: take a write */
    struct file *(*magic)(long arg);                    /* magic links: the open file behind */
};

struct ptable {
    const struct pfile *files;
    unsigned count;
    uint64_t size; /* st_size of its files: procfs 0, sysfs a page (as Linux) */
};

#define R (S_IFREG | 0444)
#define L (S_IFLNK | 0777)
/* the common rows: generated, or fixed text */
#define F(path, mode, show) {path, mode, show, NULL, NULL, NULL}
#define T(path, mode, text) {path, mode, NULL, text, NULL, NULL}
#define STR(x) STR_(x)
#define STR_(x) #x

/* A placeholder's set: next(pid, n) is its least member >= n (of process
 * pid's, for the sets below "$"), or -1. */
struct pset {
    char c;
    long (*next)(long pid, long n);
};

/* --- acting as another process ---
 * The generators read "the process" as current_process() (its memory
 * through vm.c, its descriptors, its directory, its dispositions), as they
 * do for /proc/self. For /proc/<pid> of another process the reading thread
 * stands in for it meanwhile: its struct process and its address space, as
 * clone does for CLONE_CHILD_SETTID. All under the big kernel lock (nothing
 * that changes mappings, descriptor tables or the process list runs) and
 * with this CPU's interrupts off (no local timer or IPI sees the reader as
 * a thread of the other process, no switch away). A zombie has no memory,
 * descriptors, directory or dispositions: the generators check (alive()). */
struct stand_in {
    struct process *proc; /* the reader's own, to go back to */
    uint64_t root;
    unsigned long irq;
    int active;
};
struct thread *linux_stand_in; /* the reader while it stands in (not one of the process's threads) */

static struct process *stand_in(long pid, struct stand_in *s)
{
    struct process *me = current_process();
    s->active = 0;
    if (!pid || pid == me->pid)
        return me;
    struct process *p = process_find((int)pid);
    if (!p)
        return 0;
    struct thread *t = current_thread();
    s->irq = arch_irq_enabled();
    arch_irq_disable();
    s->proc = me;
    s->root = t->as_root;
    s->active = 1;
    linux_stand_in = t;
    t->proc = p;
    if (p->mm) {
        t->as_root = vm_root(p->mm);
        arch_as_switch(t->as_root);
    }
    return p;
}

static void stand_down(struct stand_in *s)
{
    if (!s->active)
        return;
    struct thread *t = current_thread();
    int switched = t->as_root != s->root;
    t->proc = s->proc;
    linux_stand_in = 0;
    t->as_root = s->root;
    if (switched)
        arch_as_switch(s->root);
    if (s->irq)
        arch_irq_enable();
    s->active = 0;
}

/* The process the generators read has its memory (and the rest): not a zombie. */
static int alive(void) { return current_process()->mm != 0; }

/* Live processes and zombies not yet collected, by pid. */
static long next_pid(long pid, long n)
{
    long best = -1;
    for (struct process *p = process_first(); p; p = p->next)
        if (p->pid >= n && (best < 0 || p->pid < best) && p->pid < (1l << 24))
            best = p->pid;
    return best;
}

static long next_cpu(long pid, long n) { return n < (long)cpus_online ? n : -1; }

static long next_fd(long pid, long n)
{
    struct stand_in in;
    long found = -1;
    if (!stand_in(pid, &in))
        return -1;
    for (; current_process()->files && n < MAX_FDS; n++) {
        struct file *f = fd_get_raw(n);
        if (f) {
            file_put(f);
            found = n;
            break;
        }
    }
    stand_down(&in);
    return found;
}

static const struct pset psets[] = {{'$', next_pid}, {'#', next_cpu}, {'%', next_fd}};

/* --- helpers for the generators --- */
static void show_cpu_list(struct seqbuf *s, long arg)
{
    if (cpus_online > 1)
        sb_printf(s, "0-%u\n", cpus_online - 1);
    else
        sb_printf(s, "0\n");
}

/* A CPU bitmap as Linux's "%*pb": hex digits for cpus_online bits, a comma
 * between groups of 32 bits. */
static void sb_cpumask(struct seqbuf *s, uint64_t mask)
{
    for (unsigned i = (cpus_online + 3) / 4; i-- > 0;)
        sb_printf(s, i && i % 8 == 0 ? "%x," : "%x", (unsigned)(mask >> (4 * i)) & 15);
}

static uint64_t all_cpus(void) { return cpus_online >= 64 ? ~0ull : (1ull << cpus_online) - 1; }

/* Octal escapes for what would break the space-separated fields of
 * /proc/mounts, as Linux's mangle(). */
static void sb_escaped(struct seqbuf *s, const char *p)
{
    for (; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
            sb_printf(s, "\\%03o", (unsigned)(unsigned char)*p);
        else
            sb_write(s, p, 1);
    }
}

static void sb_uuid(struct seqbuf *s, uint8_t b[16])
{
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 (random), RFC 4122 variant */
    b[8] = (b[8] & 0x3f) | 0x80;
    for (int i = 0; i < 16; i++)
        sb_printf(s, i == 4 || i == 6 || i == 8 || i == 10 ? "-%02x" : "%02x", b[i]);
    sb_printf(s, "\n");
}

/* The program's memory [start, end): Linux reads cmdline and environ live
 * too, so a program that rewrites its argv shows it. */
static void user_bytes(struct seqbuf *s, uintptr_t start, uintptr_t end)
{
    if (end > start && user_ok(start, end - start, PROT_READ))
        sb_write(s, (const char *)start, end - start);
}

static uint64_t ticks(uint64_t ns) { return ns / (NSEC_PER_SEC / USER_HZ); }

/* Threads running or waiting for a CPU (the reader among them). */
static unsigned runnable(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < cpus_online; i++) {
        struct cpu *c = cpus[i];
        spin_lock(&c->lock);
        n += c->current != c->idle;
        for (struct thread *t = c->rq_head; t; t = t->next)
            n++;
        spin_unlock(&c->lock);
    }
    return n;
}

/* The index of sb in the mount table as a mount ID. */
static unsigned mount_id(const struct superblock *sb)
{
    const char *path;
    struct superblock *m;
    for (unsigned i = 0; sb && (m = vfs_mount_at(i, &path)); i++)
        if (m == sb)
            return MNT_ID_FIRST + i;
    return MNT_ID_INTERNAL;
}

/* --- the program's memory, from its mappings (vm.c) --- */
/* /proc/self/maps: vm_describe into ever larger buffers (it returns the
 * size it was given when the text did not fit). */
static void vm_text(struct seqbuf *s)
{
    for (size_t size = 4096; size <= (16u << 20); size *= 2) {
        char *buf = kmalloc(size);
        if (!buf)
            break;
        size_t n = vm_describe(buf, size);
        if (n < size)
            sb_write(s, buf, n);
        kfree(buf);
        if (n < size)
            return;
    }
    s->oom = 1;
}

static uint64_t hex(const char **p, const char *end)
{
    uint64_t v = 0;
    for (; *p < end; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v << 4 | (unsigned)d;
    }
    return v;
}

/* What status, stat, statm and meminfo say of the address space: bytes. */
struct vmstats {
    uint64_t size, rss, rss_file, data, stack, peak_size, peak_rss;
    uintptr_t start_code, end_code, start_data, end_data, start_brk;
};

/* From /proc/self/maps' lines ("start-end perms offset dev inode name");
 * resident pages are those mapped in the page tables. The program's own
 * segments count as file pages, as Linux counts an executable's. */
static void vm_stats(struct vmstats *v)
{
    struct process *proc = current_process();
    struct seqbuf s = {0};
    size_t exe_len = strlen(linux_exe_path);
    memset(v, 0, sizeof *v);
    if (!alive())
        return; /* a zombie's memory is gone */
    vm_text(&s);
    for (const char *p = s.buf, *end = s.buf + s.len; p && p < end;) {
        const char *eol = p;
        while (eol < end && *eol != '\n')
            eol++;
        uintptr_t start = hex(&p, eol);
        p++;
        uintptr_t stop = hex(&p, eol);
        const char *name = p;
        for (int spaces = 0; name < eol && spaces < 5; name++) /* past "perms offset dev inode " */
            spaces += *name == ' ';
        while (name < eol && *name == ' ') /* Linux pads names to a column */
            name++;
        size_t name_len = (size_t)(eol - name);
        int w = p + 3 < eol && p[2] == 'w', x = p + 3 < eol && p[3] == 'x';
        int exe = name_len == exe_len && !memcmp(name, linux_exe_path, exe_len);
        uint64_t pages = 0;
        for (uintptr_t va = arch_user_next(start, stop); va < stop; va = arch_user_next(va + PAGE_SIZE, stop))
            pages++;
        v->size += stop - start;
        v->rss += pages * PAGE_SIZE;
        if (name_len == 7 && !memcmp(name, "[stack]", 7))
            v->stack += stop - start;
        else if (w)
            v->data += stop - start;
        if (name_len == 6 && !memcmp(name, "[heap]", 6) && !v->start_brk)
            v->start_brk = start;
        if (exe) {
            v->rss_file += pages * PAGE_SIZE;
            if (x) {
                v->start_code = v->start_code ? v->start_code : start;
                v->end_code = stop;
            } else if (w) {
                v->start_data = v->start_data ? v->start_data : start;
                v->end_data = stop;
            }
        }
        p = eol + 1;
    }
    sb_free(&s);
    if (!v->start_brk)
        v->start_brk = v->end_data; /* brk starts after the last segment, not grown yet */
    /* the highs: the process's (VmPeak as seen here; VmHWM its resident high-water mark) */
    if (v->size / 1024 > proc->vm_peak_kb)
        proc->vm_peak_kb = v->size / 1024;
    uint64_t hwm = vm_hwm_kb() * 1024; /* its memory's, as Linux's hiwater_rss (a program before exec had its own) */
    v->peak_size = proc->vm_peak_kb * 1024;
    v->peak_rss = hwm > v->rss ? hwm : v->rss;
}

/* --- /proc/<pid> --- */
static void show_pid(struct seqbuf *s, long arg) { sb_printf(s, "%ld", sys_getpid()); }
/* (a zombie's exe and cwd are gone: no target, ENOENT; its cmdline, environ, auxv and maps empty) */
static void show_exe(struct seqbuf *s, long arg)
{
    if (alive())
        sb_printf(s, "%s", linux_exe_path);
}
static void show_cwd(struct seqbuf *s, long arg)
{
    if (current_process()->fs)
        sb_printf(s, "%s", vfs_cwd().path);
}
static void show_comm(struct seqbuf *s, long arg) { sb_printf(s, "%s\n", linux_comm()); }
static void show_cmdline(struct seqbuf *s, long arg)
{
    if (alive())
        user_bytes(s, linux_arg_start, linux_arg_end);
}
static void show_environ(struct seqbuf *s, long arg)
{
    if (alive())
        user_bytes(s, linux_env_start, linux_env_end);
}
static void show_auxv(struct seqbuf *s, long arg)
{
    if (alive())
        sb_write(s, (const char *)linux_auxv, linux_auxv_bytes);
}
static void show_maps(struct seqbuf *s, long arg)
{
    if (alive())
        vm_text(s);
}

/* proc(5)'s state of the process: Z ended and not collected, T stopped by
 * a signal (job control), R when a thread of it runs the program or waits
 * for a CPU to (or is the reader), else S: every thread is in a system
 * call, which here means waiting (a wait's loop runs briefly on each
 * wake-up: it is still S, as Linux's interruptible sleep). */
static char state_of(struct process *p)
{
    if (p->zombie)
        return 'Z';
    if (p->stop_sig)
        return 'T';
    struct thread *me = current_thread();
    int running = 0;
    linux_threads_lock();
    for (unsigned i = 0; linux_thread_at(i); i++) {
        struct thread *t = linux_thread_at(i);
        if (t->proc == p && t != linux_stand_in &&
            (t == me || (!t->in_syscall && (t->state == THREAD_RUNNING || t->state == THREAD_RUNNABLE))))
            running = 1;
    }
    linux_threads_unlock();
    return running ? 'R' : 'S';
}

/* getrusage's counts of p (process_counts) and of its first thread alone
 * (/proc/PID/status shows those). */
static void counts_of(struct process *p, struct rucount *all, struct rucount *first)
{
    process_counts(p, all);
    *first = (struct rucount){0};
    linux_threads_lock();
    for (unsigned i = 0; linux_thread_at(i); i++) {
        struct thread *t = linux_thread_at(i);
        if (t->proc == p && t != linux_stand_in && t->tid == p->pid)
            thread_counts(t, first);
    }
    linux_threads_unlock();
}

static const char *state_name(char c)
{
    return c == 'Z' ? "Z (zombie)" : c == 'T' ? "T (stopped)" : c == 'S' ? "S (sleeping)" : "R (running)";
}

static void kb_line(struct seqbuf *s, const char *name, uint64_t bytes)
{
    sb_printf(s, "%s:\t%8llu kB\n", name, (unsigned long long)(bytes >> 10));
}

static void show_status(struct seqbuf *s, long arg)
{
    struct process *p = current_process();
    struct vmstats v;
    vm_stats(&v);
    uint64_t pending, shared, blocked, ignored, caught, sigq, max;
    linux_sigstate(p, linux_stand_in, &pending, &shared, &blocked, &ignored, &caught);
    linux_rlimit(RLIMIT_SIGPENDING, &sigq, &max);
    long pid = sys_getpid();
    sb_printf(s, "Name:\t%s\nUmask:\t%04o\nState:\t%s\nTgid:\t%ld\nNgid:\t0\nPid:\t%ld\nPPid:\t%ld\n"
                 "TracerPid:\t0\n",
              linux_comm(), vfs_umask(), state_name(state_of(p)), pid, pid, sys_getppid());
    sb_printf(s, "Uid:\t%ld\t%ld\t%ld\t%ld\nGid:\t%ld\t%ld\t%ld\t%ld\nFDSize:\t%d\nGroups:\t \n", sys_getuid(),
              sys_geteuid(), sys_geteuid(), sys_geteuid(), sys_getgid(), sys_getegid(), sys_getegid(), sys_getegid(),
              p->files ? MAX_FDS : 0);
    sb_printf(s, "NStgid:\t%ld\nNSpid:\t%ld\nNSpgid:\t%ld\nNSsid:\t%ld\n", pid, pid, sys_getpgrp(), sys_getsid(0));
    if (!alive()) /* a zombie: no memory to speak of, as Linux leaves the Vm lines out */
        goto threads;
    kb_line(s, "VmPeak", v.peak_size);
    kb_line(s, "VmSize", v.size);
    kb_line(s, "VmLck", 0);
    kb_line(s, "VmPin", 0);
    kb_line(s, "VmHWM", v.peak_rss);
    kb_line(s, "VmRSS", v.rss);
    kb_line(s, "RssAnon", v.rss - v.rss_file);
    kb_line(s, "RssFile", v.rss_file);
    kb_line(s, "RssShmem", 0);
    kb_line(s, "VmData", v.data);
    kb_line(s, "VmStk", v.stack);
    kb_line(s, "VmExe", v.end_code - v.start_code);
    kb_line(s, "VmLib", 0);
    kb_line(s, "VmPTE", 0);
    kb_line(s, "VmSwap", 0);
    kb_line(s, "HugetlbPages", 0);
    sb_printf(s, "CoreDumping:\t0\nTHP_enabled:\t0\n");
threads:
    sb_printf(s, "Threads:\t%u\nSigQ:\t0/%llu\n", p->zombie ? 1 : p->threads, (unsigned long long)sigq);
    sb_printf(s, "SigPnd:\t%016llx\nShdPnd:\t%016llx\nSigBlk:\t%016llx\nSigIgn:\t%016llx\nSigCgt:\t%016llx\n",
              (unsigned long long)pending, (unsigned long long)shared, (unsigned long long)blocked,
              (unsigned long long)ignored, (unsigned long long)caught);
    /* root, with every capability (0 to CAP_LAST_CAP, 40) */
    sb_printf(s, "CapInh:\t%016llx\nCapPrm:\t%016llx\nCapEff:\t%016llx\nCapBnd:\t%016llx\nCapAmb:\t%016llx\n"
                 "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\nCpus_allowed:\t",
              0ull, CAPS_ALL, CAPS_ALL, CAPS_ALL, 0ull);
    sb_cpumask(s, all_cpus());
    sb_printf(s, "\nCpus_allowed_list:\t");
    show_cpu_list(s, 0);
    struct rucount all, first;
    counts_of(p, &all, &first);
    sb_printf(s, "Mems_allowed:\t1\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t%llu\n"
                 "nonvoluntary_ctxt_switches:\t%llu\n",
              (unsigned long long)first.nvcsw, (unsigned long long)first.nivcsw);
}

/* The 52 fields of proc(5): its state, family, terminal, CPU times (its
 * own and its collected children's), memory and signals; a zombie's memory
 * fields are 0, as Linux's. */
static void show_stat(struct seqbuf *s, long arg)
{
    struct process *p = current_process();
    struct vmstats v;
    vm_stats(&v);
    uint64_t pending, shared, blocked, ignored, caught, rsslim, max;
    uint64_t user = counter_ns(p->utime_ticks), sys = counter_ns(p->stime_ticks);
    linux_sigstate(p, linux_stand_in, &pending, &shared, &blocked, &ignored, &caught);
    linux_rlimit(RLIMIT_RSS, &rsslim, &max);
    if (!p->zombie)
        process_times(p, &user, &sys);
    int tty = linux_has_ctty(p); /* its controlling terminal: the console's foreground group */
    long pgrp = sys_getpgrp(), live = alive();
    struct rucount all, first;
    counts_of(p, &all, &first);
    sb_printf(s, "%ld (%s) %c %ld %ld %ld %d %ld 0 %llu %llu %llu %llu %llu %llu %llu %llu 20 0 %u 0 %llu %llu %llu %llu ",
              sys_getpid(), linux_comm(), state_of(p), sys_getppid(), pgrp, sys_getsid(0),
              tty ? 136 << 8 : 0 /* /dev/pts/0 */, tty ? linux_tty_pgrp() : -1L, (unsigned long long)all.minflt,
              (unsigned long long)p->cru.minflt, (unsigned long long)all.majflt, (unsigned long long)p->cru.majflt,
              (unsigned long long)ticks(user),
              (unsigned long long)ticks(sys), (unsigned long long)ticks(counter_ns(p->cutime_ticks)),
              (unsigned long long)ticks(counter_ns(p->cstime_ticks)), p->zombie ? 1 : p->threads,
              (unsigned long long)ticks(counter_ns(p->start_tick - boot_first_tick)), (unsigned long long)v.size,
              (unsigned long long)(v.rss / PAGE_SIZE), (unsigned long long)rsslim);
    sb_printf(s, "%llu %llu %llu 0 0 %llu %llu %llu %llu 0 0 0 %d %u 0 0 0 0 0 ", (unsigned long long)v.start_code,
              (unsigned long long)v.end_code, (unsigned long long)(live ? linux_stack_start : 0),
              (unsigned long long)((pending | shared) & 0x7fffffff), (unsigned long long)(blocked & 0x7fffffff),
              (unsigned long long)(ignored & 0x7fffffff), (unsigned long long)(caught & 0x7fffffff), p->exit_signal,
              this_cpu()->id);
    if (!live) {
        sb_printf(s, "0 0 0 0 0 0 0 %d\n", p->zombie ? p->status : 0);
        return;
    }
    sb_printf(s, "%llu %llu %llu %llu %llu %llu %llu 0\n", (unsigned long long)v.start_data,
              (unsigned long long)v.end_data, (unsigned long long)v.start_brk, (unsigned long long)linux_arg_start,
              (unsigned long long)linux_arg_end, (unsigned long long)linux_env_start,
              (unsigned long long)linux_env_end);
}

static void show_statm(struct seqbuf *s, long arg)
{
    struct vmstats v;
    vm_stats(&v);
    sb_printf(s, "%llu %llu %llu %llu 0 %llu 0\n", (unsigned long long)(v.size / PAGE_SIZE),
              (unsigned long long)(v.rss / PAGE_SIZE), (unsigned long long)(v.rss_file / PAGE_SIZE),
              (unsigned long long)((v.end_code - v.start_code) / PAGE_SIZE),
              (unsigned long long)((v.data + v.stack) / PAGE_SIZE));
}

static void show_limits(struct seqbuf *s, long arg)
{
    static const char *const limits[RLIMITS][2] = {
        {"Max cpu time", "seconds"},       {"Max file size", "bytes"},      {"Max data size", "bytes"},
        {"Max stack size", "bytes"},       {"Max core file size", "bytes"}, {"Max resident set", "bytes"},
        {"Max processes", "processes"},    {"Max open files", "files"},     {"Max locked memory", "bytes"},
        {"Max address space", "bytes"},    {"Max file locks", "locks"},     {"Max pending signals", "signals"},
        {"Max msgqueue size", "bytes"},    {"Max nice priority", 0},        {"Max realtime priority", 0},
        {"Max realtime timeout", "us"},
    };
    sb_printf(s, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    for (unsigned i = 0; i < RLIMITS; i++) {
        uint64_t v[2];
        linux_rlimit(i, &v[0], &v[1]);
        sb_printf(s, "%-25s ", limits[i][0]);
        for (int k = 0; k < 2; k++)
            if (v[k] == ~0ull)
                sb_printf(s, "%-20s ", "unlimited");
            else
                sb_printf(s, "%-20llu ", (unsigned long long)v[k]);
        if (limits[i][1])
            sb_printf(s, "%-10s\n", limits[i][1]);
        else
            sb_printf(s, "\n");
    }
}

static const char *mount_opts(const struct superblock *sb) { return sb->flags & SB_RDONLY ? "ro" : "rw"; }

static void show_mounts(struct seqbuf *s, long arg)
{
    const char *path;
    struct superblock *sb;
    for (unsigned i = 0; (sb = vfs_mount_at(i, &path)); i++) {
        sb_escaped(s, sb->source);
        sb_printf(s, " ");
        sb_escaped(s, path);
        sb_printf(s, " %s %s,relatime 0 0\n", sb->fstype, mount_opts(sb));
    }
}

/* a under b, or b itself: "/" holds everything, "/dev" holds "/dev/shm" */
static int path_within(const char *a, const char *b)
{
    size_t n = strlen(b);
    return n == 1 || (!strncmp(a, b, n) && (a[n] == '/' || !a[n]));
}

static void show_mountinfo(struct seqbuf *s, long arg)
{
    const char *path, *other;
    struct superblock *sb;
    for (unsigned i = 0; (sb = vfs_mount_at(i, &path)); i++) {
        /* the parent: the earlier mount holding the mount point most closely (the latest of equals) */
        unsigned parent = MNT_ID_ROOT_PARENT;
        size_t best = 0;
        for (unsigned k = 0; k < i; k++) {
            vfs_mount_at(k, &other);
            if (path_within(path, other) && strlen(other) >= best) {
                best = strlen(other);
                parent = MNT_ID_FIRST + k;
            }
        }
        sb_printf(s, "%u %u %u:%u / ", MNT_ID_FIRST + i, parent, (unsigned)(sb->dev >> 8), (unsigned)(sb->dev & 0xff));
        sb_escaped(s, path);
        sb_printf(s, " %s,relatime - %s ", mount_opts(sb), sb->fstype);
        sb_escaped(s, sb->source);
        sb_printf(s, " %s\n", mount_opts(sb));
    }
}

static int oom_score_adj;

static void show_oom_score_adj(struct seqbuf *s, long arg) { sb_printf(s, "%d\n", oom_score_adj); }

/* Kept, not used: there is no OOM killer to bias (Linux: -1000..1000). */
static long store_oom_score_adj(long arg, const char *buf, size_t n)
{
    char text[24];
    size_t len = n < sizeof text - 1 ? n : sizeof text - 1;
    memcpy(text, buf, len);
    text[len] = 0;
    const char *p = text;
    int neg = *p == '-';
    p += neg;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    uint64_t v = parse_u64(&p);
    while (*p == '\n' || *p == ' ')
        p++;
    if (*p || v > 1000)
        return -EINVAL;
    oom_score_adj = neg ? -(int)v : (int)v;
    return 0;
}

/* /proc/self/fd/N: the path it was opened by; files without one as Linux
 * names them (the standard streams have theirs: stdio_file.c). */
static void show_fd_link(struct seqbuf *s, long fd)
{
    struct file *f = current_process()->files ? fd_get_raw(fd) : NULL;
    if (!f)
        return; /* closed since: no target */
    struct kstat st = {0};
    uint32_t type = f->path || file_stat(f, &st) < 0 ? 0 : st.mode & S_IFMT;
    const char *kind = f->ops->kind ? f->ops->kind : "file";
    if (f->path)
        sb_printf(s, "%s", f->path);
    else if (type == S_IFIFO || type == S_IFSOCK) /* pipes and sockets by the st_ino fstat gives */
        sb_printf(s, "%s:[%llu]", type == S_IFIFO ? "pipe" : "socket", (unsigned long long)st.ino);
    else
        sb_printf(s, "anon_inode:[%s]", strcmp(kind, "epoll") ? kind : "eventpoll");
    file_put(f);
}

static struct file *fd_magic(long fd) { return fd_get_raw(fd); }

static void show_fdinfo(struct seqbuf *s, long fd)
{
    struct file *f = current_process()->files ? fd_get_raw(fd) : NULL;
    if (!f)
        return;
    struct kstat st = {0};
    file_stat(f, &st);
    /* as the file's f_flags: O_CLOEXEC from the descriptor, O_LARGEFILE on every open() of a 64-bit kernel */
    unsigned flags = (unsigned)f->flags | (fd_cloexec(fd, -1) > 0 ? O_CLOEXEC : 0) | (f->inode ? O_LARGEFILE : 0);
    sb_printf(s, "pos:\t%llu\nflags:\t0%o\nmnt_id:\t%u\nino:\t%llu\n", (unsigned long long)f->off, flags,
              mount_id(f->inode ? f->inode->sb : NULL), (unsigned long long)st.ino);
    file_put(f);
}

/* --- /proc --- */
#if defined(__x86_64__)
static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

enum { EAX, EBX, ECX, EDX };

/* Linux's names for the CPUID bits it shows, in its order
 * (arch/x86/include/asm/cpufeatures.h); its synthetic flags are left out. */
static const struct {
    uint32_t leaf, sub;
    int reg;
    const char *names[32];
} x86_flags[] = {
    {1, 0, EDX, {"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", 0, "sep", "mtrr", "pge", "mca",
                 "cmov", "pat", "pse36", "pn", "clflush", 0, "dts", "acpi", "mmx", "fxsr", "sse", "sse2", "ss", "ht",
                 "tm", "ia64", "pbe"}},
    {0x80000001, 0, EDX, {[11] = "syscall", [19] = "mp", [20] = "nx", [22] = "mmxext", [25] = "fxsr_opt",
                          [26] = "pdpe1gb", [27] = "rdtscp", [29] = "lm", [30] = "3dnowext", [31] = "3dnow"}},
    {1, 0, ECX, {"pni", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est", "tm2", "ssse3", "cid",
                 "sdbg", "fma", "cx16", "xtpr", "pdcm", 0, "pcid", "dca", "sse4_1", "sse4_2", "x2apic", "movbe",
                 "popcnt", "tsc_deadline_timer", "aes", "xsave", 0, "avx", "f16c", "rdrand", "hypervisor"}},
    {0x80000001, 0, ECX, {"lahf_lm", "cmp_legacy", "svm", "extapic", "cr8_legacy", "abm", "sse4a", "misalignsse",
                          "3dnowprefetch", "osvw", "ibs", "xop", "skinit", "wdt", 0, "lwp", "fma4", "tce", 0,
                          "nodeid_msr", 0, "tbm", "topoext", "perfctr_core", "perfctr_nb", 0, "bpext", "ptsc",
                          "perfctr_llc", "mwaitx"}},
    {7, 0, EBX, {"fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", 0, "smep", "bmi2", "erms", "invpcid", "rtm",
                 "cqm", 0, "mpx", "rdt_a", "avx512f", "avx512dq", "rdseed", "adx", "smap", "avx512ifma", 0,
                 "clflushopt", "clwb", "intel_pt", "avx512pf", "avx512er", "avx512cd", "sha_ni", "avx512bw",
                 "avx512vl"}},
    {0xd, 1, EAX, {"xsaveopt", "xsavec", "xgetbv1", "xsaves"}},
    {7, 0, ECX, {[1] = "avx512vbmi", [2] = "umip", [3] = "pku", [4] = "ospke", [5] = "waitpkg",
                 [6] = "avx512_vbmi2", [8] = "gfni", [9] = "vaes", [10] = "vpclmulqdq", [11] = "avx512_vnni",
                 [12] = "avx512_bitalg", [13] = "tme", [14] = "avx512_vpopcntdq", [16] = "la57", [22] = "rdpid",
                 [24] = "bus_lock_detect", [25] = "cldemote", [27] = "movdiri", [28] = "movdir64b",
                 [29] = "enqcmd", [30] = "sgx_lc"}},
    {7, 0, EDX, {[2] = "avx512_4vnniw", [3] = "avx512_4fmaps", [4] = "fsrm", [8] = "avx512_vp2intersect",
                 [10] = "md_clear", [14] = "serialize", [16] = "tsxldtrk", [18] = "pconfig", [19] = "arch_lbr",
                 [22] = "amx_bf16", [23] = "avx512_fp16", [24] = "amx_tile", [25] = "amx_int8", [28] = "flush_l1d",
                 [29] = "arch_capabilities"}},
};

/* Features a kernel must switch on (CR4) before a program may use them:
 * shown only when this one did, as Linux clears what it does not enable. */
static const struct {
    const char *prefix;
    unsigned cr4_bit;
} x86_enabled_by[] = {
    {"xsave", 18}, {"xgetbv1", 18}, {"avx", 18}, {"amx", 18}, {"fma", 18}, {"f16c", 18}, {"xop", 18}, {"vaes", 18},
    {"vpclmulqdq", 18}, {"mpx", 18}, {"pku", 22}, {"ospke", 22}, {"fsgsbase", 16}, {"la57", 12},
};

static int x86_usable(const char *name, uint64_t cr4)
{
    for (unsigned i = 0; i < sizeof x86_enabled_by / sizeof *x86_enabled_by; i++) {
        const char *p = x86_enabled_by[i].prefix;
        if (!strncmp(name, p, strlen(p)))
            return (cr4 >> x86_enabled_by[i].cr4_bit) & 1;
    }
    return 1;
}

static void show_cpuinfo(struct seqbuf *s, long arg)
{
    uint32_t r[4], sig[4], brand[13] = {0};
    char vendor[13];
    uint64_t cr4, hz = arch_clock_hz();
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cpuid(0, 0, r);
    uint32_t max = r[0];
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
    cpuid(0x80000000, 0, r);
    uint32_t max_ext = r[0];
    cpuid(1, 0, sig);
    unsigned family = (sig[0] >> 8) & 15, model = (sig[0] >> 4) & 15;
    if (family == 15)
        family += (sig[0] >> 20) & 0xff;
    if (family >= 6)
        model += ((sig[0] >> 16) & 15) << 4;
    if (max_ext >= 0x80000004)
        for (uint32_t i = 0; i < 3; i++)
            cpuid(0x80000002 + i, 0, &brand[4 * i]);
    const char *name = (const char *)brand;
    while (*name == ' ')
        name++;
    size_t name_len = strlen(name);
    while (name_len && name[name_len - 1] == ' ')
        name_len--;
    unsigned phys = 36, virt = 48;
    if (max_ext >= 0x80000008) {
        cpuid(0x80000008, 0, r);
        phys = r[0] & 0xff;
        virt = (r[0] >> 8) & 0xff;
    }
    struct seqbuf flags = {0};
    for (unsigned w = 0; w < sizeof x86_flags / sizeof *x86_flags; w++) {
        uint32_t leaf = x86_flags[w].leaf;
        if (leaf < 0x80000000 ? leaf > max : leaf > max_ext)
            continue;
        cpuid(leaf, x86_flags[w].sub, r);
        for (unsigned b = 0; b < 32; b++) {
            const char *f = x86_flags[w].names[b];
            if (f && (r[x86_flags[w].reg] >> b & 1) && x86_usable(f, cr4))
                sb_printf(&flags, " %s", f);
        }
    }
    unsigned clflush = ((sig[1] >> 8) & 0xff) * 8;
    for (unsigned i = 0; i < cpus_online; i++) {
        sb_printf(s, "processor\t: %u\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\nmodel name\t: %.*s\n"
                     "stepping\t: %u\n",
                  i, vendor, family, model, (int)name_len, name, sig[0] & 15);
        if (hz)
            sb_printf(s, "cpu MHz\t\t: %llu.%03llu\n", (unsigned long long)(hz / 1000000),
                      (unsigned long long)(hz / 1000 % 1000));
        sb_printf(s, "physical id\t: 0\nsiblings\t: %u\ncore id\t\t: %u\ncpu cores\t: %u\napicid\t\t: %u\n"
                     "initial apicid\t: %u\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: %u\nwp\t\t: yes\n"
                     "flags\t\t:%s\nbugs\t\t:\nbogomips\t: %llu.%02llu\nclflush size\t: %u\n"
                     "cache_alignment\t: %u\naddress sizes\t: %u bits physical, %u bits virtual\n"
                     "power management:\n\n",
                  cpus_online, i, cpus_online, cpus[i]->hwid, cpus[i]->hwid, max, flags.buf ? flags.buf : "",
                  (unsigned long long)(hz / 500000), (unsigned long long)(hz / 5000 % 100), clflush, clflush, phys,
                  virt);
    }
    sb_free(&flags);
}
#else
/* AT_HWCAP's bits by Linux's names: the Features line is what the
 * program's auxv says (arch_hwcap). */
static const char *const hwcap_names[32] = {
    "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp", "asimdhp",
    "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4", "asimddp", "sha512",
    "sve", "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb", "paca", "pacg",
};

static void show_cpuinfo(struct seqbuf *s, long arg)
{
    uint64_t midr, hz = arch_clock_hz();
    __asm__ volatile("mrs %0, midr_el1" : "=r"(midr));
    unsigned long hwcap = arch_hwcap();
    for (unsigned i = 0; i < cpus_online; i++) {
        /* BogoMIPS as Linux derives it from the timer: loops_per_jiffy = rate / HZ */
        sb_printf(s, "processor\t: %u\nBogoMIPS\t: %llu.%02llu\nFeatures\t:", i, (unsigned long long)(hz / 500000),
                  (unsigned long long)(hz / 5000 % 100));
        for (unsigned b = 0; b < 32; b++)
            if (hwcap >> b & 1)
                sb_printf(s, " %s", hwcap_names[b]);
        sb_printf(s, "\nCPU implementer\t: 0x%02x\nCPU architecture: 8\nCPU variant\t: 0x%x\nCPU part\t: 0x%03x\n"
                     "CPU revision\t: %u\n\n",
                  (unsigned)(midr >> 24) & 0xff, (unsigned)(midr >> 20) & 15, (unsigned)(midr >> 4) & 0xfff,
                  (unsigned)midr & 15);
    }
}
#endif

/* Pages in tmpfs files (the root, /tmp, /dev/shm...), from their statfs:
 * Linux's Shmem. */
static uint64_t tmpfs_bytes(void)
{
    const char *path;
    struct superblock *sb, *other;
    struct kstatfs st;
    uint64_t n = 0;
    for (unsigned i = 0; (sb = vfs_mount_at(i, &path)); i++) {
        unsigned k = 0;
        while ((other = vfs_mount_at(k, &path)) != sb) /* each instance once */
            k++;
        if (k == i && sb->magic == TMPFS_MAGIC && sb->statfs && sb->statfs(sb, &st) == 0)
            n += (st.blocks - st.bfree) * st.bsize;
    }
    return n;
}

/* Memory as Linux accounts it: the program's pages are anonymous but for
 * its own segments (file pages, as an executable's), tmpfs files are shmem
 * (in the page cache, not reclaimable), the kernel heap is slab; no swap.
 * vm.c's page cache (the file pages private mappings and execs map) is
 * Cached; its pages nothing maps are reclaimed on demand: available, not free. */
static void show_meminfo(struct seqbuf *s, long arg)
{
    struct vmstats v;
    vm_stats(&v);
    uint64_t total = pages_total() * PAGE_SIZE, avail = pages_free() * PAGE_SIZE, heap = heap_bytes_in_use();
    uint64_t free = avail - pages_reclaimable() * PAGE_SIZE; /* the page cache's unmapped pages are available */
    uint64_t anon = v.rss - v.rss_file, shmem = tmpfs_bytes(), cached = pages_cached() * PAGE_SIZE;
    uint64_t stacks = (uint64_t)(linux_thread_count() + cpus_online) * KSTACK_SIZE;
    const struct {
        const char *name;
        uint64_t bytes;
    } rows[] = {
        {"MemTotal:", total}, {"MemFree:", free}, {"MemAvailable:", avail}, {"Buffers:", 0},
        {"Cached:", shmem + cached}, {"SwapCached:", 0}, {"Active:", v.rss + shmem}, {"Inactive:", 0},
        {"Active(anon):", anon + shmem}, {"Inactive(anon):", 0}, {"Active(file):", v.rss_file},
        {"Inactive(file):", 0}, {"Unevictable:", 0}, {"Mlocked:", 0}, {"SwapTotal:", 0}, {"SwapFree:", 0},
        {"Dirty:", 0}, {"Writeback:", 0}, {"AnonPages:", anon}, {"Mapped:", v.rss_file}, {"Shmem:", shmem},
        {"KReclaimable:", 0}, {"Slab:", heap}, {"SReclaimable:", 0}, {"SUnreclaim:", heap},
        {"KernelStack:", stacks}, {"PageTables:", 0}, {"NFS_Unstable:", 0}, {"Bounce:", 0}, {"WritebackTmp:", 0},
        {"CommitLimit:", total / 2}, /* overcommit_ratio 50 of RAM, no swap */
        {"Committed_AS:", v.data + v.stack}, {"VmallocTotal:", 0}, {"VmallocUsed:", 0}, {"VmallocChunk:", 0},
        {"Percpu:", 0}, {"AnonHugePages:", 0}, {"ShmemHugePages:", 0}, {"ShmemPmdMapped:", 0},
        {"FileHugePages:", 0}, {"FilePmdMapped:", 0},
    };
    for (unsigned i = 0; i < sizeof rows / sizeof *rows; i++)
        sb_printf(s, "%-16s%8llu kB\n", rows[i].name, (unsigned long long)(rows[i].bytes >> 10));
    sb_printf(s, "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n"
                 "HugePages_Surp:        0\nHugepagesize:       2048 kB\nHugetlb:               0 kB\n");
}

/* CPU times: the program is taken to have had CPU 0 since boot (as
 * getrusage says) and the others to have idled; nothing counts more. */
static void show_proc_stat(struct seqbuf *s, long arg)
{
    uint64_t t = ticks(clock_ns()), switches = 0;
    sb_printf(s, "cpu  %llu 0 0 %llu 0 0 0 0 0 0\n", (unsigned long long)t,
              (unsigned long long)(t * (cpus_online - 1)));
    for (unsigned i = 0; i < cpus_online; i++) {
        sb_printf(s, "cpu%u %llu 0 0 %llu 0 0 0 0 0 0\n", i, (unsigned long long)(i ? 0 : t),
                  (unsigned long long)(i ? t : 0));
        switches += cpus[i]->switches;
    }
    sb_printf(s, "intr %llu\nctxt %llu\nbtime %llu\nprocesses %u\nprocs_running %u\nprocs_blocked 0\n"
                 "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
              (unsigned long long)timer_interrupts(), (unsigned long long)switches,
              (unsigned long long)(realtime_offset_ns() / NSEC_PER_SEC), linux_thread_count(), runnable());
}

static void show_uptime(struct seqbuf *s, long arg)
{
    uint64_t up = clock_ns(), idle = up * (cpus_online - 1); /* as /proc/stat */
    sb_printf(s, "%llu.%02llu %llu.%02llu\n", (unsigned long long)(up / NSEC_PER_SEC),
              (unsigned long long)(up % NSEC_PER_SEC / (NSEC_PER_SEC / 100)), (unsigned long long)(idle / NSEC_PER_SEC),
              (unsigned long long)(idle % NSEC_PER_SEC / (NSEC_PER_SEC / 100)));
}

/* No load average is kept (zero is what tools that throttle on it can
 * live with); the rest is true. */
static void show_loadavg(struct seqbuf *s, long arg)
{
    sb_printf(s, "0.00 0.00 0.00 %u/%u %ld\n", runnable(), linux_thread_count(), sys_getpid());
}

static void show_version(struct seqbuf *s, long arg)
{
    sb_printf(s, "Linux version %s (hermitcore@hermitcore) (clang version %s) %s\n", UTS_RELEASE, __clang_version__,
              UTS_VERSION);
}

static void show_filesystems(struct seqbuf *s, long arg)
{
    sb_printf(s, "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tpipefs\nnodev\tsockfs\n"
                 "nodev\t9p\n");
}


static void show_uuid(struct seqbuf *s, long arg)
{
    uint8_t b[16];
    random_bytes(b, sizeof b);
    sb_uuid(s, b);
}

static void show_boot_id(struct seqbuf *s, long arg)
{
    static uint8_t id[16];
    static int made;
    if (!made) {
        random_bytes(id, sizeof id);
        made = 1;
    }
    sb_uuid(s, id);
}

static const struct pfile proc_files[] = {
    F("cpuinfo", R, show_cpuinfo),
    F("meminfo", R, show_meminfo),
    F("stat", R, show_proc_stat),
    F("uptime", R, show_uptime),
    F("loadavg", R, show_loadavg),
    F("version", R, show_version),
    F("filesystems", R, show_filesystems),
    T("mounts", L, "self/mounts"),
    F("self", L, show_pid),
    T("sys/kernel/hostname", R, UTS_NODENAME "\n"),
    T("sys/kernel/domainname", R, UTS_DOMAINNAME "\n"),
    T("sys/kernel/ostype", R, UTS_SYSNAME "\n"),
    T("sys/kernel/osrelease", R, UTS_RELEASE "\n"),
    T("sys/kernel/version", R, UTS_VERSION "\n"),
    T("sys/kernel/pid_max", R, "4194304\n"), /* Linux's largest: thread ids here only grow (sched.c) */
    F("sys/kernel/random/boot_id", R, show_boot_id),
    F("sys/kernel/random/uuid", R, show_uuid),
    T("sys/kernel/random/entropy_avail", R, "256\n"), /* Linux's since 5.18: always full */
    T("sys/vm/overcommit_memory", R, "0\n"), /* vm.c's heuristic */
    T("sys/vm/overcommit_ratio", R, "50\n"),
    T("sys/net/core/somaxconn", R, "4096\n"),
    T("sys/fs/file-max", R, "9223372036854775807\n"), /* no system-wide bound (as systemd sets it) */
    T("sys/fs/nr_open", R, STR(MAX_FDS) "\n"), /* the bound of RLIMIT_NOFILE */
    F("$/status", R, show_status),
    F("$/stat", R, show_stat),
    F("$/statm", R, show_statm),
    F("$/comm", R, show_comm),
    F("$/cmdline", R, show_cmdline),
    F("$/environ", S_IFREG | 0400, show_environ),
    F("$/auxv", S_IFREG | 0400, show_auxv),
    F("$/maps", R, show_maps),
    F("$/limits", R, show_limits),
    F("$/mounts", R, show_mounts),
    F("$/mountinfo", R, show_mountinfo),
    {"$/oom_score_adj", S_IFREG | 0644, show_oom_score_adj, NULL, store_oom_score_adj, NULL},
    F("$/exe", L, show_exe),
    F("$/cwd", L, show_cwd),
    T("$/root", L, "/"),
    T("$/fd", S_IFDIR | 0500, NULL),
    {"$/fd/%", S_IFLNK | 0700, show_fd_link, NULL, NULL, fd_magic},
    F("$/fdinfo/%", R, show_fdinfo),
};

/* --- /sys --- */
static void show_arg(struct seqbuf *s, long arg) { sb_printf(s, "%ld\n", arg); }
static void show_kernel_max(struct seqbuf *s, long arg) { sb_printf(s, "%d\n", MAX_CPUS - 1); }

static void show_all_mask(struct seqbuf *s, long arg)
{
    sb_cpumask(s, all_cpus());
    sb_printf(s, "\n");
}

static void show_arg_mask(struct seqbuf *s, long arg)
{
    sb_cpumask(s, 1ull << arg);
    sb_printf(s, "\n");
}

/* Every CPU is its own core of one package; none comes or goes. */
static const struct pfile sys_files[] = {
    F("devices/system/cpu/online", R, show_cpu_list),
    F("devices/system/cpu/possible", R, show_cpu_list),
    F("devices/system/cpu/present", R, show_cpu_list),
    T("devices/system/cpu/offline", R, "\n"),
    F("devices/system/cpu/kernel_max", R, show_kernel_max),
    T("devices/system/cpu/cpu#/online", R, "1\n"),
    F("devices/system/cpu/cpu#/topology/core_id", R, show_arg),
    T("devices/system/cpu/cpu#/topology/physical_package_id", R, "0\n"),
    F("devices/system/cpu/cpu#/topology/core_siblings", R, show_all_mask),
    F("devices/system/cpu/cpu#/topology/core_siblings_list", R, show_cpu_list),
    F("devices/system/cpu/cpu#/topology/thread_siblings", R, show_arg_mask),
    F("devices/system/cpu/cpu#/topology/thread_siblings_list", R, show_arg),
    /* vm.c maps the program 4 KiB at a time: no transparent huge pages */
    T("kernel/mm/transparent_hugepage/enabled", R, "always madvise [never]\n"),
    T("kernel/mm/transparent_hugepage/defrag", R, "always defer defer+madvise madvise [never]\n"),
    T("kernel/mm/transparent_hugepage/hpage_pmd_size", R, "2097152\n"), /* 2 MiB: 4 KiB pages on both */
};

static const struct ptable proc_table = {proc_files, sizeof proc_files / sizeof *proc_files, 0};
static const struct ptable sys_table = {sys_files, sizeof sys_files / sizeof *sys_files, PAGE_SIZE};

/* --- the tree --- */
/* A node: the first d components of entry i's path (d 0: the root), the
 * process its "$" component stands for (0: none) and the number of its
 * other placeholder (both inherited below it). Its inode number packs
 * them: 12 bits of entry, 4 of depth, 24 of pid, 24 of number. */
struct node {
    unsigned i, d;
    long pid, arg;
};

static uint64_t node_ino(struct node n)
{
    return n.d ? (uint64_t)(n.i + 1) << 52 | (uint64_t)n.d << 48 | ((uint64_t)n.pid & 0xffffff) << 24 |
                     ((uint64_t)n.arg & 0xffffff)
               : 1;
}

static struct node node_of(const struct inode *ino)
{
    if (ino->ino == 1)
        return (struct node){0, 0, 0, 0};
    uint64_t v = ino->ino;
    return (struct node){(unsigned)(v >> 52) - 1, (unsigned)(v >> 48) & 0xf, (long)(v >> 24 & 0xffffff),
                         (long)(v & 0xffffff)};
}

/* Component k of a path (its length in *len), NULL past the last. */
static const char *component(const char *p, unsigned k, size_t *len)
{
    for (; k; k--) {
        if (!(p = strchr(p, '/')))
            return NULL;
        p++;
    }
    const char *e = strchr(p, '/');
    *len = e ? (size_t)(e - p) : strlen(p);
    return p;
}

static unsigned depth_of(const char *p)
{
    unsigned n = 1;
    for (; (p = strchr(p, '/')); p++)
        n++;
    return n;
}

/* Bytes of the first d components. */
static size_t prefix_len(const char *p, unsigned d)
{
    size_t len;
    const char *c = d ? component(p, d - 1, &len) : NULL;
    return c ? (size_t)(c - p) + len : 0;
}

/* Entry j lies below directory node dir. */
static int under(const struct ptable *t, struct node dir, unsigned j)
{
    const char *a = t->files[dir.i].path, *b = t->files[j].path;
    size_t n = prefix_len(a, dir.d);
    return !n || (!strncmp(a, b, n) && b[n] == '/');
}

static const struct pset *set_of(const char *c, size_t len)
{
    for (unsigned k = 0; len && k < sizeof psets / sizeof *psets; k++)
        if (c[len - 1] == psets[k].c)
            return &psets[k];
    return NULL;
}

/* The number `name` gives the placeholder component c ("cpu#": "cpu3") if
 * it is in the set, else -1. */
static long member(const struct pset *set, long pid, const char *c, size_t len, const char *name)
{
    if (strncmp(name, c, len - 1))
        return -1;
    const char *p = name + len - 1;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1]) || strlen(p) > 7)
        return -1;
    long v = (long)parse_u64(&p);
    return !*p && set->next(pid, v) == v ? v : -1;
}

static const struct pfile *entry_of(const struct ptable *t, struct node n) { return &t->files[n.i]; }

/* The node of entry j's component below dir: a placeholder's member m
 * names a process ("$") or a number, the rest is inherited. */
static struct node below(struct node dir, unsigned j, const struct pset *set, long m)
{
    struct node n = {j, dir.d + 1, dir.pid, dir.arg};
    if (set && set->c == '$')
        n.pid = m;
    else if (set)
        n.arg = m;
    return n;
}

/* A magic link's open file, as process n.pid has it. */
static struct file *node_magic(const struct pfile *e, struct node n)
{
    struct stand_in in;
    if (!stand_in(n.pid, &in))
        return NULL;
    struct file *f = alive() ? e->magic(n.arg) : NULL;
    stand_down(&in);
    return f;
}
static int is_leaf(const struct ptable *t, struct node n) { return n.d && n.d == depth_of(t->files[n.i].path); }

static int node_is_dir(const struct ptable *t, struct node n)
{
    return !is_leaf(t, n) || (entry_of(t, n)->mode & S_IFMT) == S_IFDIR;
}

static uint32_t node_mode(const struct ptable *t, struct node n)
{
    if (!is_leaf(t, n))
        return S_IFDIR | 0555;
    const struct pfile *e = entry_of(t, n);
    struct file *f = e->magic ? node_magic(e, n) : NULL;
    if (!f)
        return e->mode;
    /* a magic link carries its file's access, as Linux's lr-x------ */
    int acc = f->flags & O_ACCMODE;
    file_put(f);
    return S_IFLNK | (acc != O_WRONLY ? 0500 : 0) | (acc != O_RDONLY ? 0300 : 0);
}

/* The child `name` of dir: the first entry below it with that component. */
static long child_of(const struct ptable *t, struct node dir, const char *name, struct node *out)
{
    for (unsigned j = 0; j < t->count; j++) {
        if (!under(t, dir, j))
            continue;
        size_t len;
        const char *c = component(t->files[j].path, dir.d, &len);
        const struct pset *set = set_of(c, len);
        long m = set ? member(set, dir.pid, c, len, name) : -1;
        if (set ? m < 0 : strlen(name) != len || strncmp(c, name, len))
            continue;
        *out = below(dir, j, set, m);
        return 0;
    }
    return -ENOENT;
}

/* Entry j is the first below dir with its component there. */
static int first_below(const struct ptable *t, struct node dir, unsigned j, const char *c, size_t len)
{
    for (unsigned k = 0; k < j; k++) {
        size_t l;
        const char *o = under(t, dir, k) ? component(t->files[k].path, dir.d, &l) : NULL;
        if (o && l == len && !strncmp(o, c, len))
            return 0;
    }
    return 1;
}

typedef int (*child_fn)(void *ctx, const char *name, size_t len, struct node n, uint64_t cookie);

/* fn for each child of dir whose cookie is >= from, in cookie order, until
 * it returns 0. A child's cookie is its first entry's index + 1 in the high
 * half and its number in the low: stable while the table is. */
static void each_child(const struct ptable *t, struct node dir, uint64_t from, child_fn fn, void *ctx)
{
    for (unsigned j = 0; j < t->count; j++) {
        uint64_t base = (uint64_t)(j + 1) << 32;
        size_t len;
        const char *c;
        if (base + UINT32_MAX < from || !under(t, dir, j))
            continue;
        c = component(t->files[j].path, dir.d, &len);
        if (!first_below(t, dir, j, c, len))
            continue;
        const struct pset *set = set_of(c, len);
        if (!set) {
            if (base >= from && !fn(ctx, c, len, below(dir, j, NULL, 0), base))
                return;
            continue;
        }
        for (long m = set->next(dir.pid, from > base ? (long)(from - base) : 0); m >= 0;
             m = set->next(dir.pid, m + 1)) {
            char name[40];
            int n = snprintk(name, sizeof name, "%.*s%ld", (int)len - 1, c, m);
            struct node child = below(dir, j, set, m);
            if (!fn(ctx, name, (size_t)n, child, base + (uint64_t)m))
                return;
        }
    }
}

/* The directory above node dir (the root's is itself). */
static struct node parent_of(const struct ptable *t, struct node dir)
{
    if (dir.d <= 1)
        return (struct node){0, 0, 0, 0};
    const char *p = t->files[dir.i].path;
    size_t n = prefix_len(p, dir.d - 1), len;
    const char *last = component(p, dir.d - 1, &len);
    const struct pset *set = set_of(last, len);
    unsigned k = 0;
    while (strncmp(t->files[k].path, p, n) || t->files[k].path[n] != '/')
        k++;
    return (struct node){k, dir.d - 1, set && set->c == '$' ? 0 : dir.pid, set && set->c != '$' ? 0 : dir.arg};
}

/* --- inode and file operations --- */
static const struct inode_ops pfs_iops, pfs_magic_iops;
static const struct file_ops pfs_file_fops, pfs_dir_fops;

static struct inode *node_inode(struct superblock *sb, struct node n)
{
    const struct ptable *t = sb->priv;
    int magic = is_leaf(t, n) && entry_of(t, n)->magic;
    return inode_new(sb, magic ? &pfs_magic_iops : &pfs_iops, node_is_dir(t, n) ? &pfs_dir_fops : &pfs_file_fops,
                     node_mode(t, n), node_ino(n), NULL);
}

static long pfs_lookup(struct inode *dir, const char *name, struct inode **out)
{
    const struct ptable *t = dir->sb->priv;
    struct node n;
    if (!node_is_dir(t, node_of(dir)))
        return -ENOTDIR;
    long rc = child_of(t, node_of(dir), name, &n);
    if (rc < 0)
        return rc;
    return (*out = node_inode(dir->sb, n)) ? 0 : -ENOMEM;
}

struct count_ctx {
    const struct ptable *t;
    unsigned dirs;
};

static int count_dir(void *ctx, const char *name, size_t len, struct node n, uint64_t cookie)
{
    struct count_ctx *c = ctx;
    c->dirs += node_is_dir(c->t, n);
    return 1;
}

static long pfs_getattr(struct inode *ino, struct kstat *st)
{
    const struct ptable *t = ino->sb->priv;
    struct node n = node_of(ino);
    uint64_t boot = realtime_offset_ns(); /* the wall clock at boot */
    struct timespec_k at = {(int64_t)(boot / NSEC_PER_SEC), (int64_t)(boot % NSEC_PER_SEC)};
    memset(st, 0, sizeof *st);
    st->ino = ino->ino;
    st->mode = ino->mode;
    st->nlink = 1;
    st->blksize = 1024;
    st->atime = st->mtime = st->ctime = at;
    if ((ino->mode & S_IFMT) == S_IFREG)
        st->size = t->size;
    if ((ino->mode & S_IFMT) == S_IFDIR) { /* 2 + its subdirectories, which find(1) relies on */
        struct count_ctx c = {t, 0};
        each_child(t, n, 0, count_dir, &c);
        st->nlink = 2 + c.dirs;
    }
    return 0;
}

/* Truncation is what a shell's `echo 5 > oom_score_adj` does first. */
static long pfs_setattr(struct inode *ino, const struct ksetattr *a)
{
    const struct ptable *t = ino->sb->priv;
    struct node n = node_of(ino);
    if ((a->valid & (SETATTR_MODE | SETATTR_UID | SETATTR_GID)) || !is_leaf(t, n) || !entry_of(t, n)->store)
        return -EPERM;
    return 0;
}

/* Generate a node's contents (or a link's target) into s. */
static long generate(struct inode *ino, struct seqbuf *s)
{
    const struct ptable *t = ino->sb->priv;
    struct node n = node_of(ino);
    *s = (struct seqbuf){0};
    const struct pfile *e = entry_of(t, n);
    if (is_leaf(t, n) && e->show) {
        struct stand_in in;
        if (!stand_in(n.pid, &in))
            return -ENOENT; /* collected since */
        e->show(s, n.arg);
        stand_down(&in);
    } else if (is_leaf(t, n) && e->text) {
        sb_write(s, e->text, strlen(e->text));
    }
    if (s->oom) {
        sb_free(s);
        return -ENOMEM;
    }
    return 0;
}

static long pfs_readlink(struct inode *ino, char *buf, size_t size)
{
    struct seqbuf s;
    long rc = generate(ino, &s);
    if (rc < 0)
        return rc;
    size_t n = s.len < size ? s.len : size;
    memcpy(buf, s.buf, n);
    sb_free(&s);
    return n ? (long)n : -ENOENT; /* an fd closed since the lookup */
}

static long pfs_open(struct inode *ino, struct file *f)
{
    const struct ptable *t = ino->sb->priv;
    struct node n = node_of(ino);
    if ((ino->mode & S_IFMT) != S_IFREG)
        return 0;
    if ((f->flags & O_ACCMODE) != O_RDONLY && !entry_of(t, n)->store)
        return -EACCES; /* root included: nothing here takes writes */
    struct seqbuf *s = kmalloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    long rc = generate(ino, s);
    if (rc < 0) {
        kfree(s);
        return rc;
    }
    f->priv = s;
    return 0;
}

static struct file *pfs_magic(struct inode *ino)
{
    const struct ptable *t = ino->sb->priv;
    struct node n = node_of(ino);
    return node_magic(entry_of(t, n), n);
}

static long pfs_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    const struct seqbuf *s = f->priv;
    if (!s || *off >= s->len)
        return 0;
    size_t k = s->len - *off < n ? s->len - *off : n;
    memcpy(buf, s->buf + *off, k);
    *off += k;
    return (long)k;
}

/* A write is one value, whatever the offset (as Linux's proc files). */
static long pfs_write(struct file *f, const char *buf, size_t n, uint64_t *off)
{
    const struct ptable *t = f->inode->sb->priv;
    struct node nd = node_of(f->inode);
    const struct pfile *e = entry_of(t, nd);
    if (!is_leaf(t, nd) || !e->store)
        return -EACCES;
    long rc = e->store(nd.arg, buf, n);
    if (rc < 0)
        return rc;
    *off += n;
    return (long)n;
}

static void pfs_release(struct file *f)
{
    struct seqbuf *s = f->priv;
    if (s) {
        sb_free(s);
        kfree(s);
    }
}

struct emit_ctx {
    struct file *f;
    struct dir_sink *sink;
    const struct ptable *t;
    int full;
};

static int emit_child(void *ctx, const char *name, size_t len, struct node n, uint64_t cookie)
{
    struct emit_ctx *e = ctx;
    uint32_t mode = node_is_dir(e->t, n) ? S_IFDIR : entry_of(e->t, n)->mode;
    if (!dir_emit(e->sink, name, len, node_ino(n), dtype_of(mode), cookie + 1))
        return e->full = 1, 0;
    e->f->off = cookie + 1;
    return 1;
}

/* Cookies: 0 the start, 1 after ".", 2 after "..", then one past each
 * child's (each_child). Returns the bytes added, -EINVAL if not even one
 * entry fits. */
static long pfs_getdents(struct file *f, struct dir_sink *sink)
{
    const struct ptable *t = f->inode->sb->priv;
    struct node dir = node_of(f->inode);
    size_t start = sink->used;
    if (f->off == 0) {
        if (!dir_emit(sink, ".", 1, f->inode->ino, DT_DIR, 1))
            goto full;
        f->off = 1;
    }
    if (f->off == 1) {
        if (!dir_emit(sink, "..", 2, node_ino(parent_of(t, dir)), DT_DIR, 2))
            goto full;
        f->off = 2;
    }
    struct emit_ctx ctx = {f, sink, t, 0};
    each_child(t, dir, f->off, emit_child, &ctx);
    if (!ctx.full)
        return (long)(sink->used - start); /* 0: at the end */
full:
    return sink->used == start ? -EINVAL : (long)(sink->used - start);
}

static long pfs_dir_read(struct file *f, char *buf, size_t n, uint64_t *off) { return -EISDIR; }

static const struct inode_ops pfs_iops = {
    .lookup = pfs_lookup,
    .getattr = pfs_getattr,
    .setattr = pfs_setattr,
    .readlink = pfs_readlink,
    .open = pfs_open,
};

static const struct inode_ops pfs_magic_iops = {
    .getattr = pfs_getattr,
    .readlink = pfs_readlink,
    .magic = pfs_magic,
};

static const struct file_ops pfs_file_fops = {
    .kind = "file",
    .mode = S_IFREG,
    .flags = FOPS_SEEKABLE,
    .read = pfs_read,
    .write = pfs_write,
    .release = pfs_release,
};

static const struct file_ops pfs_dir_fops = {
    .kind = "directory",
    .mode = S_IFDIR,
    .flags = FOPS_SEEKABLE,
    .read = pfs_dir_read,
    .getdents = pfs_getdents,
};

static struct superblock *pfs_new(const char *fstype, uint64_t magic, const struct ptable *t)
{
    struct superblock *sb = kzalloc(sizeof *sb);
    if (!sb)
        return NULL;
    sb->fstype = sb->source = fstype;
    sb->magic = magic; /* statfs: the rest is the VFS's defaults (no blocks, 255-byte names) */
    sb->dev = vfs_new_dev();
    sb->priv = (void *)t;
    if (!(sb->root = inode_new(sb, &pfs_iops, &pfs_dir_fops, S_IFDIR | 0555, 1, NULL))) {
        kfree(sb);
        return NULL;
    }
    return sb;
}

struct superblock *procfs_new(void) { return pfs_new("proc", PROC_SUPER_MAGIC, &proc_table); }
struct superblock *sysfs_new(void) { return pfs_new("sysfs", SYSFS_MAGIC, &sys_table); }
