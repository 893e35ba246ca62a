/* Start the program: load the ELF embedded in the image (ET_EXEC at its
 * link address, static-pie at USER_PIE_BASE) and, for a dynamic one, the
 * interpreter it names (PT_INTERP, from the file tree, at a free place of
 * the mmap area), build the Linux initial stack (argc, argv, envp, auxv)
 * and enter it in ring 3 / EL0. execve (exec.c) loads through here too. */
#include "elf.h"
#include "vfs.h"
#include <hermit/vdso.h>
#include <hermit/heap.h>
#include <hermit/init.h>
#include <hermit/time.h>

/* As compose checks (hermitcore/program.py) and as Linux does: nothing below
 * 64 KiB (vm.mmap_min_addr), at most 64 KiB of program headers. */
#define MIN_VADDR 0x10000ul
#define MAX_PHDR_BYTES 0x10000ul
#define MAX_HEADERS (64u << 10) /* what execve reads first: the ELF header and program headers */

#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_BASE 7
#define AT_FLAGS 8
#define AT_ENTRY 9
#define AT_UID 11
#define AT_EUID 12
#define AT_GID 13
#define AT_EGID 14
#define AT_PLATFORM 15
#define AT_HWCAP 16
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_HWCAP2 26
#define AT_EXECFN 31
#define AT_IGNORE 1
#define AT_SYSINFO_EHDR 33
#define AT_MINSIGSTKSZ 51

#define MAX_ENV 256 /* as many as the command line has words */

/* app.S (generated): the program, the cpio archive of its files, and the
 * vDSO the architecture's plugin gave (empty: none). */
extern char app_elf[], app_elf_end[], app_files[], app_files_end[], vdso_image[], vdso_image_end[];

static char *envp_store[MAX_ENV + 1];
static int envc;

/* This layer runs the program: the core's system calls, program faults,
 * the program's end and terminal signals come here (hermit/user.h). */
static const struct program_layer linux_layer = {linux_syscall,    linux_fault,       linux_explain_fault,
                                                 linux_exit,       linux_tty_signal,  linux_user_return,
                                                 linux_fault_signal};

static void linux_layer_init(void) { program_layer_register(&linux_layer); }
HERMIT_INIT(HERMIT_INIT_ARCH, linux_layer_init);

/* hermit.env=KEY=VALUE (HERMIT_PARAM): the program's environment, in order. */
static int set_env(const char *value) /* one KEY=VALUE of the program's environment */
{
    if (envc >= MAX_ENV) {
        pr_info("more than %d environment variables; '%s' dropped\n", MAX_ENV, value);
        return 0;
    }
    envp_store[envc++] = (char *)value; /* in the kernel's copy of the command line */
    return 0;
}
HERMIT_PARAM("hermit.env=", set_env);

static uintptr_t page_up(uintptr_t v) { return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

static __attribute__((noreturn)) void bad_program(const char *why)
{
    pr_warn("cannot start %s: %s\n", linux_exe_path, why);
    hermit_exit(127);
}

/* [off, off + len) lies in [0, size), without overflow. */
static int in_file(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

static int pow2_or_zero(uint64_t v) { return (v & (v - 1)) == 0; }

/* The program's address range of a header: [bias + vaddr, + len) below
 * USER_LIMIT, without overflow; 0 when it is not. */
static int user_range(uint64_t vaddr, uint64_t len, uintptr_t bias, uintptr_t *start, uintptr_t *end)
{
    if (vaddr >= USER_LIMIT || bias >= USER_LIMIT - vaddr)
        return 0;
    *start = bias + vaddr;
    if (len > USER_LIMIT - *start)
        return 0;
    *end = *start + len;
    return 1;
}

/* Every field the loader uses, checked before anything is mapped: the
 * embedded program was checked at compose time, but a program reached
 * another way (a file tree, a later execve) was not, and a bad one must be
 * refused, not take the kernel down. */
static const char *check_program(const char *elf, size_t elf_size, uintptr_t bias)
{
    const struct elf64_ehdr *eh = (const void *)elf;
    const struct elf64_phdr *ph = (const void *)(elf + eh->e_phoff);
    uintptr_t prev_end = 0, entry = 0, s, e;
    int loads = 0, entry_ok = 0;
    size_t pages = 0;

    if (eh->e_machine != ELF_MACHINE)
        return "built for another architecture";
    if (!user_range(eh->e_entry, 1, bias, &entry, &e))
        return "its entry point lies outside the program's address space (below 256 GiB)";
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const struct elf64_phdr *p = &ph[i];
        if (p->p_type == PT_INTERP && (!in_file(p->p_offset, p->p_filesz, elf_size) || p->p_filesz < 2 ||
                                       p->p_filesz > PATH_MAX))
            return "corrupt interpreter path (PT_INTERP)";
        if (p->p_type != PT_LOAD || !p->p_memsz)
            continue;
        if (!in_file(p->p_offset, p->p_filesz, elf_size))
            return "a segment lies outside the file (truncated or corrupt)";
        if (p->p_filesz > p->p_memsz || !pow2_or_zero(p->p_align))
            return "corrupt program headers (a segment's sizes or alignment)";
        if (!user_range(p->p_vaddr, p->p_memsz, bias, &s, &e))
            return "a segment lies outside the program's address space (below 256 GiB)";
        if (s < MIN_VADDR)
            return "a segment lies in the first 64 KiB, which stay unmapped";
        if (s < prev_end)
            return "corrupt program headers (segments overlap or are out of order)";
        prev_end = e;
        loads++;
        pages += (page_up(e) - (s & ~(PAGE_SIZE - 1))) / PAGE_SIZE;
        if (entry >= s && entry < e)
            entry_ok = 1;
    }
    if (!loads)
        return "no loadable segments";
    if (!entry_ok)
        return "its entry point is not in a loadable segment";
    if (pages > pages_free()) /* segments are loaded whole, now */
        return "its segments need more memory than there is (give it more with --mem)";
    /* What the C library reads through AT_PHDR: the TLS image and the
     * program headers themselves must be in loaded memory. */
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const struct elf64_phdr *p = &ph[i];
        uint64_t len;
        if (p->p_type == PT_TLS) {
            if (!in_file(p->p_offset, p->p_filesz, elf_size) || p->p_filesz > p->p_memsz || !pow2_or_zero(p->p_align))
                return "corrupt TLS segment";
            len = p->p_filesz;
        } else if (p->p_type == PT_PHDR) {
            len = (uint64_t)eh->e_phnum * sizeof *ph;
        } else {
            continue;
        }
        int inside = !len;
        if (!inside && user_range(p->p_vaddr, len, bias, &s, &e))
            for (unsigned j = 0; j < eh->e_phnum && !inside; j++) {
                const struct elf64_phdr *l = &ph[j];
                inside = l->p_type == PT_LOAD && l->p_memsz && s >= bias + l->p_vaddr && e <= bias + l->p_vaddr + l->p_memsz;
            }
        if (!inside)
            return (p->p_type == PT_TLS ? "corrupt TLS segment (not in a loadable segment)"
                                            : "corrupt program headers (PT_PHDR not in a loadable segment)");
    }
    return 0;
}

/* The pages [start, end) are free in the page tables. The vma list knows
 * only the program's mappings; the kernel's own in the lower half (x86_64:
 * its boot map from 0; aarch64: RAM's identity map and the device windows)
 * are not the program's to replace. arch_user_map answers -2 where
 * something is mapped; a page it did map is unmapped again at once. */
static int pages_unused(uintptr_t start, uintptr_t end)
{
    static uint64_t probe;
    if (!probe) {
        void *page = page_alloc(1);
        if (!page)
            return -1;
        probe = virt_to_phys(page);
    }
    for (uintptr_t va = start; va < end; va += PAGE_SIZE) {
        int rc = arch_user_map(va, probe, 0);
        if (rc)
            return rc;
        arch_user_unmap(va);
    }
    return 0;
}

/* The vDSO (AT_SYSINFO_EHDR) at USER_VDSO, its data page ([vvar]: the
 * clock's parameters, hermit/vdso.h) one page below, both the process's own
 * copies (they never change once the clock is calibrated: the wall clock is
 * set once). Made before that (x86 calibrates on the clock's first use),
 * the page says "make the system call", and the first clock system call
 * after the calibration fills it in (linux_vvar_refresh). 1 when mapped, 0
 * when there is none, -1 when it could not be. */
static struct vdso_data vvar_data;

static int vvar_ready(void)
{
    if (!vvar_data.usable) {
        vvar_data.usable = (uint32_t)arch_clock_user(&vvar_data.counter_boot, &vvar_data.mult);
        vvar_data.realtime_offset = realtime_offset_ns();
    }
    return (int)vvar_data.usable;
}

void linux_vvar_refresh(void)
{
    struct process *p = current_process();
    if (!p->vvar_stale)
        return;
    (void)clock_ns(); /* the caller asks for the time: the clock is set up now, and the page can say so */
    if (!vvar_ready())
        return;
    p->vvar_stale = 0;
    struct vdso_data d = vvar_data;
    d.usable = 0; /* the parameters first, then the word that makes the vDSO use them */
    if (!vm_rewrite_named(USER_VDSO - PAGE_SIZE, "[vvar]", &d, sizeof d))
        vm_rewrite_named(USER_VDSO - PAGE_SIZE, "[vvar]", &vvar_data, sizeof vvar_data);
}

static int map_vdso(void)
{
    size_t size = (size_t)(vdso_image_end - vdso_image);
    if (!size)
        return 0;
    current_process()->vvar_stale = !vvar_ready();
    const struct vdso_data *data = &vvar_data;
    if (vm_add(USER_VDSO - PAGE_SIZE, USER_VDSO, PROT_READ, "[vvar]") ||
        vm_populate(USER_VDSO - PAGE_SIZE, USER_VDSO, data, sizeof *data) ||
        vm_add(USER_VDSO, USER_VDSO + page_up(size), PROT_READ | PROT_EXEC, "[vdso]") ||
        vm_populate(USER_VDSO, USER_VDSO + page_up(size), phys_to_virt((uintptr_t)vdso_image), size))
        return -1;
    return 1;
}

static uintptr_t push(uintptr_t sp, const void *data, size_t n)
{
    sp -= n;
    memcpy((void *)sp, data, n);
    return sp;
}

/* The ELF header and program headers: NULL, or what is wrong. */
const char *linux_elf_check(const char *elf, size_t elf_size)
{
    const struct elf64_ehdr *eh = (const void *)elf;
    if (elf_size < sizeof *eh || memcmp(eh->e_ident, "\177ELF", 4) || eh->e_ident[4] != 2 || eh->e_ident[5] != 1)
        return "not a 64-bit little-endian ELF file";
    if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
        return "not an executable";
    if (eh->e_phentsize != sizeof(struct elf64_phdr) || !eh->e_phnum || (eh->e_phoff & 7) ||
        (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr) > MAX_PHDR_BYTES ||
        !in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr), elf_size))
        return "corrupt program headers";
    return check_program(elf, elf_size, eh->e_type == ET_DYN ? USER_PIE_BASE : 0);
}

/* The PT_LOAD segments of a checked ELF at bias, named `name` in
 * /proc/self/maps, their bytes from `file` (when given: `elf` then holds
 * the headers only) or from `elf`. Out: where the program headers landed
 * (0 when in no segment) and the end of the highest segment. */
static const char *load_segments(const char *elf, void *file, uintptr_t bias, const char *name, uintptr_t *phdr_out,
                                 uintptr_t *top_out)
{
    const struct elf64_ehdr *eh = (const void *)elf;
    const struct elf64_phdr *ph = (const void *)(elf + eh->e_phoff);
    uintptr_t phdr_addr = 0, top = 0, mapped_to = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const struct elf64_phdr *p = &ph[i];
        if (p->p_type == PT_PHDR)
            phdr_addr = bias + p->p_vaddr;
        if (p->p_type != PT_LOAD || !p->p_memsz)
            continue;
        uintptr_t start = bias + p->p_vaddr, end = start + p->p_memsz; /* checked by check_program */
        unsigned prot = (p->p_flags & PF_R ? PROT_READ : 0) | (p->p_flags & PF_W ? PROT_WRITE : 0) |
                        (p->p_flags & PF_X ? PROT_EXEC : 0);
        uintptr_t vstart = start & ~(PAGE_SIZE - 1);
        if (vstart < mapped_to)
            vstart = mapped_to; /* shares a page with the previous segment */
        if (page_up(end) > vstart) {
            int rc = pages_unused(vstart, page_up(end));
            if (rc == -1)
                return "out of memory loading it (give it more with --mem)";
            if (rc || vm_add(vstart, page_up(end), prot, name) != 0) {
                static char why[96];
                snprintk(why, sizeof why, "its segment %#lx-%#lx collides with the kernel's memory",
                         (unsigned long)start, (unsigned long)end);
                return why;
            }
            vm_set_offset(vstart, p->p_offset + vstart - start); /* /proc/self/maps, core files */
        }
        int rc = file ? vm_populate_file(start, end, file, p->p_offset, p->p_filesz)
                      : vm_populate(start, end, elf + p->p_offset, p->p_filesz);
        if (rc == -EIO)
            return "reading it failed";
        if (rc)
            return "out of memory loading it (give it more with --mem)";
        if (!phdr_addr && p->p_offset == 0 && p->p_filesz >= eh->e_phoff + (uint64_t)eh->e_phnum * sizeof *ph)
            phdr_addr = start + eh->e_phoff;
        if (page_up(end) > mapped_to)
            mapped_to = page_up(end);
        if (end > top)
            top = end;
    }
    *phdr_out = phdr_addr;
    *top_out = top;
    return 0;
}

/* The first bytes of a file of the tree (its ELF header and program
 * headers, up to MAX_HEADERS: what the ELF header says they need) into a
 * kernel block, how many were read and the file's size. The segments are
 * read later, straight into their pages. */
long linux_read_headers(struct file *f, char **out, size_t *got, size_t *size)
{
    uint64_t sz;
    long rc = file_size(f, &sz);
    if (rc < 0)
        return rc;
    size_t want = sz < 4096 ? (size_t)sz : 4096;
    for (int pass = 0; pass < 2; pass++) {
        char *buf = kmalloc(want ? want : 1);
        if (!buf)
            return -ENOMEM;
        uint64_t off = 0;
        while (off < want) {
            long n = file_read(f, buf + off, want - (size_t)off, &off);
            if (n < 0) {
                kfree(buf);
                return n;
            }
            if (n == 0)
                break;
        }
        /* an ELF whose program headers lie beyond: read up to their end */
        uint64_t phend = off >= 64 && !memcmp(buf, "\177ELF", 4)
                             ? *(uint64_t *)(buf + 32) + (uint64_t) * (uint16_t *)(buf + 56) * 56
                             : 0;
        if (pass == 0 && phend > off && phend <= sz && phend <= MAX_HEADERS) {
            kfree(buf);
            want = (size_t)phend;
            continue;
        }
        *out = buf;
        *got = (size_t)off;
        *size = (size_t)sz;
        return 0;
    }
    return -ENOEXEC;
}

/* The program's PT_INTERP path into buf (PATH_MAX bytes): 1, 0 when it
 * has none, or an error. It is in `elf` when the first `got` bytes hold it,
 * else it is read from `file`. */
static long interp_path(const char *elf, size_t got, void *file, char *buf)
{
    const struct elf64_ehdr *eh = (const void *)elf;
    const struct elf64_phdr *ph = (const void *)(elf + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const struct elf64_phdr *p = &ph[i];
        if (p->p_type != PT_INTERP)
            continue;
        size_t n = (size_t)p->p_filesz; /* 2..PATH_MAX, in the file: check_program */
        if (in_file(p->p_offset, n, got))
            memcpy(buf, elf + p->p_offset, n);
        else if (!file || fs_file_pread(file, buf, n, p->p_offset) != (long)n)
            return -EIO;
        if (buf[n - 1] || strlen(buf) != n - 1)
            return -ENOEXEC;
        return 1;
    }
    return 0;
}

/* Before execve's point of no return: the interpreter a program names can
 * be opened (else -ENOENT, -EACCES... as Linux's execve answers). */
long linux_elf_interp_ok(const char *elf, size_t got, void *file)
{
    char *path = kmalloc(PATH_MAX), *abs = kmalloc(PATH_MAX);
    struct file *f = 0;
    long rc = path && abs ? interp_path(elf, got, file, path) : -ENOMEM;
    if (rc > 0 && (rc = vfs_open_exec(-100, path, 0, &f, abs)) == 0)
        file_put(f);
    kfree(path);
    kfree(abs);
    return rc < 0 ? rc : 0;
}

/* Load the interpreter at `path` (an ET_DYN without an interpreter of its
 * own) at a free, aligned place of the mmap area: its base and entry. */
static const char *load_interp(const char *path, uintptr_t *base_out, uintptr_t *entry_out)
{
    static char why[PATH_MAX + 96];
    struct file *f = 0;
    char *hdr = 0, *abs = kmalloc(PATH_MAX);
    size_t got = 0, size = 0;
    const char *err = 0;
    long rc = abs ? vfs_open_exec(-100, path, 0, &f, abs) : -ENOMEM;
    if (rc == 0)
        rc = linux_read_headers(f, &hdr, &got, &size);
    if (rc == -ENOENT || rc == -ENOTDIR)
        err = "not found in the file tree";
    else if (rc == -EACCES)
        err = "not an executable file";
    else if (rc)
        err = "cannot read it";
    const struct elf64_ehdr *eh = (const void *)hdr;
    /* its program headers must lie in what was read before anything reads them */
    if (!err && (got < sizeof *eh || !in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr), got)))
        err = "not a 64-bit ELF file with its program headers in its first 64 KiB";
    if (!err && ((err = linux_elf_check(hdr, size)) == 0) && eh->e_type != ET_DYN)
        err = "not a shared object (ET_DYN)";
    char *inner = 0;
    if (!err && (inner = kmalloc(PATH_MAX)) && interp_path(hdr, got, f, inner) != 0)
        err = "it names an interpreter itself";
    kfree(inner);
    if (!err) {
        const struct elf64_phdr *ph = (const void *)(hdr + eh->e_phoff);
        uintptr_t lo = ~0ul, hi = 0, align = PAGE_SIZE;
        for (unsigned i = 0; i < eh->e_phnum; i++) {
            if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
                continue;
            if (ph[i].p_vaddr < lo)
                lo = ph[i].p_vaddr;
            if (ph[i].p_vaddr + ph[i].p_memsz > hi)
                hi = ph[i].p_vaddr + ph[i].p_memsz;
            if (ph[i].p_align > align && ph[i].p_align <= (2ul << 20))
                align = ph[i].p_align;
        }
        lo &= ~(PAGE_SIZE - 1);
        uintptr_t at = vm_find_gap(page_up(hi - lo) + align);
        uintptr_t base = ((at + align - 1) & ~(align - 1)) - lo;
        if (!at)
            err = "no room for it in the address space";
        else if ((err = check_program(hdr, size, base)) == 0) {
            uintptr_t phdr, top;
            err = load_segments(hdr, f, base, abs, &phdr, &top);
            *base_out = base;
            *entry_out = base + eh->e_entry;
        }
    }
    if (err) {
        snprintk(why, sizeof why, "its interpreter %s: %s", path, err);
        err = why;
    }
    if (f)
        file_put(f);
    kfree(hdr);
    kfree(abs);
    return err;
}

/* Load a checked program into the calling process's empty memory (its
 * segments' bytes from `file` when given -- `elf` then holds the first
 * `got` bytes only -- else from `elf`), and its interpreter if it names
 * one, and build Linux's initial stack: the entry point and stack pointer,
 * or NULL with what went wrong (the memory is then half built: the caller
 * ends the process). */
const char *linux_elf_load(const char *elf, size_t got, void *file, int argc, char *const argv[], int nenv,
                           char *const envp[], uintptr_t *entry_out, uintptr_t *sp_out)
{
    struct process *proc = current_process();
    const struct elf64_ehdr *eh = (const void *)elf;
    const struct elf64_phdr *ph = (const void *)(elf + eh->e_phoff);
    uintptr_t bias = eh->e_type == ET_DYN ? USER_PIE_BASE : 0;
    uintptr_t phdr_addr = 0, top = 0, interp_base = 0, entry = bias + eh->e_entry;
    unsigned stack_prot = PROT_READ | PROT_WRITE;

    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_GNU_STACK && (ph[i].p_flags & PF_X))
            stack_prot |= PROT_EXEC;
    const char *why = load_segments(elf, file, bias, proc->exe, &phdr_addr, &top);
    if (why)
        return why;
    char *interp = kmalloc(PATH_MAX);
    long rc = interp ? interp_path(elf, got, file, interp) : -ENOMEM;
    if (rc < 0)
        why = rc == -ENOMEM ? "out of memory" : "cannot read its interpreter's path (PT_INTERP)";
    else if (rc > 0)
        why = load_interp(interp, &interp_base, &entry);
    kfree(interp);
    if (why)
        return why;
    vm_set_brk_base(top);

    if (vm_add(USER_STACK_TOP - USER_STACK_MAX, USER_STACK_TOP, stack_prot, "[stack]") != 0)
        return "cannot map the stack";
    if (arch_sigtramp_size && (vm_add(USER_SIGPAGE, USER_SIGPAGE + PAGE_SIZE, PROT_READ | PROT_EXEC, "[sigpage]") ||
                               vm_populate(USER_SIGPAGE, USER_SIGPAGE + PAGE_SIZE, arch_sigtramp, arch_sigtramp_size)))
        return "cannot map the signal trampoline";
    int vdso = map_vdso();
    if (vdso < 0)
        return "cannot map the vDSO";

    /* The initial stack, top down: strings, then (16-byte aligned) argc,
     * argv[], NULL, envp[], NULL, auxv pairs, AT_NULL. */
    uintptr_t sp = USER_STACK_TOP;
    uintptr_t execfn = sp = push(sp, proc->exe, strlen(proc->exe) + 1);
    uintptr_t platform = sp = push(sp, arch_platform, strlen(arch_platform) + 1);
    uint8_t rnd[16];
    random_bytes(rnd, sizeof rnd);
    uintptr_t random = sp = push(sp, rnd, sizeof rnd);
    uintptr_t *uargv = kmalloc(((size_t)argc + (size_t)nenv + 2) * sizeof *uargv), *uenvp = uargv + argc + 1;
    if (!uargv)
        return "out of memory for its arguments";
    for (int i = argc - 1; i >= 0; i--)
        uargv[i] = sp = push(sp, argv[i], strlen(argv[i]) + 1);
    for (int i = nenv - 1; i >= 0; i--)
        uenvp[i] = sp = push(sp, envp[i], strlen(envp[i]) + 1);
    proc->arg_end = random; /* argv's strings sit just below AT_RANDOM, envp's below them */
    proc->arg_start = argc ? uargv[0] : random;
    proc->env_end = proc->arg_start;
    proc->env_start = nenv ? uenvp[0] : proc->env_end;
    if (!phdr_addr) { /* program headers not in a loaded segment: give a copy */
        sp = push(sp & ~7ul, ph, eh->e_phnum * sizeof *ph);
        phdr_addr = sp;
    }
    uint64_t aux[] = {
        AT_PHDR, phdr_addr, AT_PHENT, sizeof *ph, AT_PHNUM, eh->e_phnum, AT_PAGESZ, PAGE_SIZE,
        AT_BASE, interp_base, AT_FLAGS, 0, AT_ENTRY, bias + eh->e_entry, AT_UID, 0, AT_EUID, 0, AT_GID, 0, AT_EGID, 0,
        AT_PLATFORM, platform, AT_HWCAP, arch_hwcap(), AT_HWCAP2, 0, AT_CLKTCK, 100, AT_SECURE, 0,
        AT_RANDOM, random, AT_EXECFN, execfn, AT_MINSIGSTKSZ, arch_minsigstksz,
        vdso ? AT_SYSINFO_EHDR : AT_IGNORE, vdso ? USER_VDSO : 0, AT_NULL, 0,
    };
    size_t words = 1 + (size_t)argc + 1 + (size_t)nenv + 1;
    sp = (sp - words * 8 - sizeof aux) & ~15ul;
    uint64_t *w = (uint64_t *)sp;
    *w++ = (uint64_t)argc;
    for (int i = 0; i < argc; i++)
        *w++ = uargv[i];
    *w++ = 0;
    for (int i = 0; i < nenv; i++)
        *w++ = uenvp[i];
    *w++ = 0;
    memcpy(w, aux, sizeof aux);
    kfree(uargv);
    _Static_assert(sizeof aux <= sizeof proc->auxv, "process auxv");
    memcpy(proc->auxv, aux, sizeof aux);
    proc->auxv_bytes = sizeof aux;
    proc->stack_start = sp;
    *entry_out = entry;
    *sp_out = sp;
    return 0;
}

int main(int argc, char **argv)
{
    arch_user_init();
    linux_threads_init();
    struct process *proc = current_process();
    snprintk(proc->exe, sizeof proc->exe, "/%s", argv[0]);
    vfs_init(phys_to_virt((uintptr_t)app_files), (size_t)(app_files_end - app_files), proc->exe,
             phys_to_virt((uintptr_t)app_elf), (size_t)(app_elf_end - app_elf));
    etc_network();
    const char *elf = phys_to_virt((uintptr_t)app_elf);
    size_t elf_size = (size_t)(app_elf_end - app_elf);
    const char *why = linux_elf_check(elf, elf_size);
    uintptr_t entry, sp;
    if (argc > 256) /* kernel_main's words: it never has more */
        argc = 256;
    if (!why)
        why = linux_elf_load(elf, elf_size, 0, argc, argv, envc, envp_store, &entry, &sp);
    if (why)
        bad_program(why);
    vfs_program_starts();
    arch_enter_user(entry, sp);
}
