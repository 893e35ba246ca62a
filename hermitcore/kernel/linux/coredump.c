/* Core dumps: a process that dies of a signal whose default action dumps
 * core (SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU,
 * SIGXFSZ, SIGSYS) leaves an ELF core file -- as Linux's fs/binfmt_elf.c
 * writes it -- on the host, when `hermitcore run` asked for one
 * (hermit.core=1: --core FILE, or `ulimit -c`) and the process's
 * RLIMIT_CORE is at least a page (it starts unlimited when the run asked,
 * else 0, as `ulimit -c`; fork passes it on). One per run: the first
 * process that dies so. Its parent's wait sees the core bit (0x80,
 * CLD_DUMPED) whenever RLIMIT_CORE allows a core, as Linux with a file
 * core_pattern -- sent to the host or not. It goes over the kernel log (hermit/blob.h):
 *
 *   ELF header (ET_CORE), program headers: PT_NOTE, then a PT_LOAD per
 *   mapping; the notes: per thread NT_PRSTATUS (the dying thread first)
 *   and NT_PRFPREG, NT_PRPSINFO, NT_SIGINFO (the siginfo the signal came
 *   with: si_code, a fault's si_addr, a sender's pid), NT_AUXV, NT_FILE (the
 *   mappings of files: the program, its interpreter and libraries); then each mapping's
 *   bytes at a page-aligned offset -- pages never touched are holes.
 *
 * RLIMIT_CORE bounds the bytes written, as Linux's dump_emit does: the
 * file goes out in Linux's pieces (the ELF header, each program header,
 * each note's header, name and description, each page) and stops before
 * the first piece that would take it past the limit; holes (untouched
 * pages, alignment) are skipped, not written, and do not count. The core
 * bit is set all the same (Linux's has_dumped).
 *
 * Other threads' registers are those they saved entering the kernel: exact
 * for threads asleep or preempted, their last entry's for one running on
 * another CPU at that moment. */
#include "elf.h"
#include "linux.h"
#include <hermit/blob.h>
#include <hermit/heap.h>
#include <hermit/init.h>

#define BLOB "core"
#define NT_PRSTATUS 1
#define NT_PRFPREG 2
#define NT_PRPSINFO 3
#define NT_AUXV 6
#define NT_SIGINFO 0x53494749
#define NT_FILE 0x46494c45
#define MAX_THREADS 64 /* the threads a core describes */

static int enabled, dumped;
static void write_core(struct process *p, int sig, const union ksiginfo *info);

static int set_core(const char *value)
{
    enabled = value[0] == '1';
    return value[0] == '0' || value[0] == '1' ? 0 : -1;
}
HERMIT_PARAM("hermit.core=", set_core);

/* struct elf_prstatus up to pr_reg (112 bytes on both architectures) */
struct prstatus_head {
    int32_t si_signo, si_code, si_errno;
    int16_t cursig, pad;
    uint64_t sigpend, sighold;
    int32_t pid, ppid, pgrp, sid;
    int64_t times[8]; /* utime, stime, cutime, cstime: timevals */
};
_Static_assert(sizeof(struct prstatus_head) == 112, "struct elf_prstatus up to pr_reg");

struct prpsinfo {
    char state, sname, zomb, nice;
    uint32_t pad;
    uint64_t flag;
    uint32_t uid, gid;
    int32_t pid, ppid, pgrp, sid;
    char fname[16];
    char psargs[80];
};
_Static_assert(sizeof(struct prpsinfo) == 136, "struct elf_prpsinfo");

static int dumps_core(int sig)
{
    switch (sig) {
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case 24 /* SIGXCPU */: case 25 /* SIGXFSZ */: case 31 /* SIGSYS */:
        return 1;
    default:
        return 0;
    }
}

static size_t align4(size_t n) { return (n + 3) & ~(size_t)3; }

/* One note ("CORE") at buf + *at (buf NULL: only counts). */
/* NT_FILE: the mappings of files (named by an absolute path): count, page
 * size, (start, end, offset in pages) each, then their names. */
struct files {
    char *buf; /* NULL: count only */
    uint64_t count;
    size_t names; /* bytes of the names */
    size_t at;    /* buf: the next triple; the names follow the triples */
};

static int add_file(uintptr_t start, uintptr_t end, unsigned prot, const char *name, uint64_t off, void *arg)
{
    struct files *f = arg;
    (void)prot;
    if (!name || name[0] != '/')
        return 0;
    size_t len = strlen(name) + 1;
    if (f->buf) {
        uint64_t triple[3] = {start, end, off / PAGE_SIZE};
        memcpy(f->buf + 16 + f->at * 24, triple, sizeof triple);
        memcpy(f->buf + 16 + f->count * 24 + f->names, name, len);
        f->at++;
    } else {
        f->count++;
    }
    f->names += len;
    return 0;
}

/* --- the file, bounded by RLIMIT_CORE --- */
struct out {
    uint64_t limit, written; /* bytes written (holes are not) */
    uint64_t pos, sent;      /* where the next piece goes; where the blob's bytes end */
    int full;                /* a piece did not fit: nothing more goes */
};

/* One piece at the current position, whole or not at all. */
static int emit(struct out *o, const void *data, size_t n)
{
    if (o->full || o->written + n > o->limit) {
        o->full = 1;
        return 0;
    }
    if (o->pos != o->sent)
        blob_seek(BLOB, o->pos);
    blob_write(BLOB, data, n);
    o->written += n;
    o->pos += n;
    o->sent = o->pos;
    return 1;
}

static void skip(struct out *o, uint64_t n) { o->pos += n; }

/* A note as Linux's writenote emits it: header, name, description, each
 * padded to 4 bytes by skipping. */
static void emit_note(struct out *o, const char *buf)
{
    const uint32_t *h = (const uint32_t *)buf;
    emit(o, buf, 12);
    emit(o, buf + 12, h[0]);
    skip(o, align4(h[0]) - h[0]);
    emit(o, buf + 12 + align4(h[0]), h[1]);
    skip(o, align4(h[1]) - h[1]);
}

static void note(char *buf, size_t *at, uint32_t type, const void *desc, size_t size)
{
    if (buf) {
        uint32_t h[3] = {5, (uint32_t)size, type};
        memcpy(buf + *at, h, sizeof h);
        memcpy(buf + *at + 12, "CORE\0\0\0", 8);
        memcpy(buf + *at + 20, desc, size);
    }
    *at += 20 + align4(size);
}

struct segs {
    struct elf64_phdr *ph; /* NULL: count only */
    unsigned n;
    uint64_t offset; /* where the next segment's bytes go */
};

static int add_seg(uintptr_t start, uintptr_t end, unsigned prot, const char *name, uint64_t off, void *arg)
{
    (void)name, (void)off;
    struct segs *s = arg;
    if (s->ph) {
        uint64_t size = prot & PROT_READ ? end - start : 0;
        s->ph[s->n] = (struct elf64_phdr){PT_LOAD, (prot & PROT_READ ? 4u : 0) | (prot & PROT_WRITE ? 2u : 0) |
                                                 (prot & PROT_EXEC ? 1u : 0),
                                    s->offset, start, 0, size, end - start, PAGE_SIZE};
        s->offset += size;
    }
    s->n++;
    return 0;
}

static int send_seg(uintptr_t start, uintptr_t end, unsigned prot, const char *name, uint64_t off, void *arg)
{
    (void)name, (void)off;
    struct out *o = arg;
    if (!(prot & PROT_READ))
        return 0;
    for (uintptr_t va = start; va < end && !o->full; va += PAGE_SIZE) {
        uint64_t pa;
        unsigned flags;
        if (arch_user_query(va, &pa, &flags) != 0) /* never touched: a hole */
            skip(o, PAGE_SIZE);
        else
            emit(o, phys_to_virt(pa), PAGE_SIZE);
    }
    return o->full; /* (a piece did not fit: the rest is not looked at) */
}

int linux_core_wanted(void) { return enabled; }

int linux_core_dump(int sig, const union ksiginfo *info)
{
    struct process *p = current_process();
    /* Linux's do_coredump: no core below the format's minimum, a page */
    if (!dumps_core(sig) || p->core_limit[0] < PAGE_SIZE)
        return 0;
    if (enabled && !__atomic_exchange_n(&dumped, 1, __ATOMIC_ACQ_REL))
        write_core(p, sig, info);
    return 0x80;
}

static void write_core(struct process *p, int sig, const union ksiginfo *info)
{
    kernel_lock();
    size_t regs_size = arch_core_nregs * 8, prstatus_size = sizeof(struct prstatus_head) + regs_size + 8;
    size_t one = prstatus_size + arch_core_fp_size; /* a thread's NT_PRSTATUS and NT_PRFPREG */
    uint8_t *regs = kzalloc(MAX_THREADS * one);
    if (!regs) {
        kernel_unlock();
        pr_warn("core dump: out of memory\n");
        return;
    }
    /* Every thread's registers, read while none can leave (a thread's
     * struct goes when it exits); the dying thread first. */
    unsigned nt = 0;
    linux_threads_lock();
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; linux_thread_at(i) && nt < MAX_THREADS; i++) {
            struct thread *t = linux_thread_at(i);
            if (t->proc != p || (t == current_thread()) != (pass == 0))
                continue;
            uint8_t *r = regs + nt++ * one;
            struct prstatus_head *ps = (struct prstatus_head *)r;
            ps->si_signo = sig;
            ps->cursig = (int16_t)sig; /* every thread's, as Linux (gdb reads the last) */
            ps->sighold = t->sig.blocked;
            ps->pid = t->tid;
            ps->ppid = p->parent ? p->parent->pid : 0;
            ps->pgrp = p->pgid;
            ps->sid = p->sid;
            arch_core_regs(t, (uint64_t *)(r + sizeof *ps), r + prstatus_size);
            *(int32_t *)(r + sizeof *ps + regs_size) = 1; /* pr_fpvalid */
        }
    linux_threads_unlock();

    struct segs count = {0};
    vm_each(add_seg, &count);
    size_t notes = 0;
    for (unsigned i = 0; i < nt; i++) {
        note(0, &notes, NT_PRSTATUS, 0, prstatus_size);
        note(0, &notes, NT_PRFPREG, 0, arch_core_fp_size);
    }
    note(0, &notes, NT_PRPSINFO, 0, sizeof(struct prpsinfo));
    note(0, &notes, NT_SIGINFO, 0, 128);
    note(0, &notes, NT_AUXV, 0, p->auxv_bytes);
    struct files files = {0};
    vm_each(add_file, &files);
    size_t files_size = 16 + files.count * 24 + files.names;
    note(0, &notes, NT_FILE, 0, files_size);

    size_t head = sizeof(struct elf64_ehdr) + (1 + count.n) * sizeof(struct elf64_phdr);
    char *buf = kzalloc(head + notes);
    char *fbuf = kzalloc(files_size);
    if (!buf || !fbuf) {
        kfree(buf);
        kfree(regs);
        kfree(fbuf);
        kernel_unlock();
        pr_warn("core dump: out of memory\n");
        return;
    }
    struct elf64_ehdr *eh = (struct elf64_ehdr *)buf;
    *eh = (struct elf64_ehdr){.e_type = ET_CORE, .e_machine = ELF_MACHINE, .e_version = 1,
                              .e_phoff = sizeof(struct elf64_ehdr), .e_ehsize = sizeof(struct elf64_ehdr),
                              .e_phentsize = sizeof(struct elf64_phdr), .e_phnum = (uint16_t)(1 + count.n)};
    memcpy(eh->e_ident, "\177ELF\2\1\1", 7);
    struct elf64_phdr *ph = (struct elf64_phdr *)(buf + sizeof *eh);
    uint64_t data_at = (head + notes + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    ph[0] = (struct elf64_phdr){PT_NOTE, 4, head, 0, 0, notes, 0, 4};
    struct segs segs = {ph + 1, 0, data_at};
    vm_each(add_seg, &segs);

    size_t at = head;
    for (unsigned i = 0; i < nt; i++) {
        note(buf, &at, NT_PRSTATUS, regs + i * one, prstatus_size);
        note(buf, &at, NT_PRFPREG, regs + i * one + prstatus_size, arch_core_fp_size);
    }
    struct prpsinfo ps = {.state = 0, .sname = 'R', .pid = p->pid, .ppid = p->parent ? p->parent->pid : 0,
                          .pgrp = p->pgid, .sid = p->sid};
    memcpy(ps.fname, p->comm, sizeof ps.fname);
    /* psargs: the command line, its NULs as spaces (Linux's) */
    size_t args = p->arg_end > p->arg_start ? p->arg_end - p->arg_start : 0;
    if (args > sizeof ps.psargs - 1)
        args = sizeof ps.psargs - 1;
    if (args && copy_from_user(ps.psargs, p->arg_start, args) == 0)
        for (size_t i = 0; i < args; i++)
            if (!ps.psargs[i])
                ps.psargs[i] = ' ';
    note(buf, &at, NT_PRPSINFO, &ps, sizeof ps);
    union ksiginfo siginfo = {0}; /* what the signal came with (si_code, si_addr of a fault, the sender) */
    if (info)
        siginfo = *info;
    siginfo.signo = sig;
    note(buf, &at, NT_SIGINFO, &siginfo, sizeof siginfo);
    note(buf, &at, NT_AUXV, p->auxv, p->auxv_bytes);
    uint64_t head2[2] = {files.count, PAGE_SIZE};
    memcpy(fbuf, head2, sizeof head2);
    struct files fill = {fbuf, files.count, 0, 0};
    vm_each(add_file, &fill);
    note(buf, &at, NT_FILE, fbuf, files_size);

    /* out in Linux's pieces, within RLIMIT_CORE */
    struct out o = {p->core_limit[0], 0, 0, 0, 0};
    emit(&o, buf, sizeof *eh);
    for (unsigned i = 0; i < 1 + count.n; i++)
        emit(&o, ph + i, sizeof *ph);
    for (size_t n = head; n < head + notes && !o.full;) {
        const uint32_t *h = (const uint32_t *)(buf + n);
        emit_note(&o, buf + n);
        n += 12 + align4(h[0]) + align4(h[1]);
    }
    skip(&o, data_at - o.pos);
    vm_each(send_seg, &o);
    /* the size: all of it (its last pages may be holes), or where the writing stopped */
    blob_end(BLOB, o.full ? o.sent : o.pos);
    kfree(buf);
    kfree(regs);
    kfree(fbuf);
    kernel_unlock();
    pr_info("core dumped: %s (pid %d), %s, %u thread(s)\n", p->comm, p->pid,
            sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT" : sig == SIGBUS ? "SIGBUS" : "a signal", nt);
}
