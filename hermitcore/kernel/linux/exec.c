/* execve and execveat: a program of the file tree replaces the calling
 * process's (static, static-pie and dynamic ELF, `#!` scripts up to 4 interpreters
 * deep). Its arguments and environment are copied into the kernel first
 * (at most 2 MiB, E2BIG past it), the file read whole; only then does the
 * old program go (its other threads, its memory -- or, after vfork, the
 * parent's memory is handed back --, close-on-exec descriptors, handlers,
 * POSIX timers), and the new one is loaded as loader.c loads the first. A
 * failure after that point ends the process (SIGKILL), as on Linux. */
#include "vfs.h"
#include <hermit/heap.h>

#define ARG_MAX_BYTES (2u << 20) /* a quarter of the 8 MiB stack, as Linux */
#define MAX_ARGS 65536
#define MAX_INTERP 4


/* Strings in one kernel block: argv then envp. */
struct strings {
    char **v;       /* argc + 1 + envc + 1 pointers, then the bytes */
    int argc, envc;
    size_t used, cap;
    char *bytes;
};

static void strings_free(struct strings *s)
{
    kfree(s->v);
    kfree(s->bytes);
}

static long add(struct strings *s, const char *str, size_t n)
{
    if (s->used + n + 1 > ARG_MAX_BYTES)
        return -E2BIG;
    if (s->used + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->used + n + 1)
            cap *= 2;
        char *b = kmalloc(cap);
        if (!b)
            return -ENOMEM;
        if (s->bytes)
            memcpy(b, s->bytes, s->used);
        kfree(s->bytes);
        s->bytes = b;
        s->cap = cap;
    }
    memcpy(s->bytes + s->used, str, n);
    s->bytes[s->used + n] = 0;
    s->used += n + 1;
    return 0;
}

/* A NULL-terminated array of the program's strings onto s (count in *n). */
static long copy_vector(struct strings *s, uintptr_t uvec, int *n)
{
    *n = 0;
    if (!uvec)
        return 0; /* Linux takes NULL as an empty array */
    char *buf = kmalloc(PATH_MAX);
    if (!buf)
        return -ENOMEM;
    long rc = 0;
    for (;;) {
        uintptr_t p;
        if (copy_from_user(&p, uvec + (size_t)*n * sizeof p, sizeof p)) {
            rc = -EFAULT;
            break;
        }
        if (!p)
            break;
        if (*n >= MAX_ARGS) {
            rc = -E2BIG;
            break;
        }
        long len = user_str(p, buf, PATH_MAX);
        if (len < 0) {
            rc = len == -ENAMETOOLONG ? -E2BIG : len;
            break;
        }
        if ((rc = add(s, buf, (size_t)len)) < 0)
            break;
        (*n)++;
    }
    kfree(buf);
    return rc;
}

/* s->v from the bytes: argc strings, NULL, envc strings, NULL. */
static long index_strings(struct strings *s)
{
    kfree(s->v);
    s->v = kmalloc(((size_t)s->argc + (size_t)s->envc + 2) * sizeof *s->v);
    if (!s->v)
        return -ENOMEM;
    char *p = s->bytes;
    int k = 0;
    for (int i = 0; i < s->argc; i++, p += strlen(p) + 1)
        s->v[k++] = p;
    s->v[k++] = 0;
    for (int i = 0; i < s->envc; i++, p += strlen(p) + 1)
        s->v[k++] = p;
    s->v[k] = 0;
    return 0;
}

/* "#!interp [arg]" (the first line, at most 255 bytes as Linux): the
 * interpreter and its one optional argument, 0 when it is not a script. */
static int shebang(const char *buf, size_t n, char *interp, char *arg)
{
    if (n < 2 || buf[0] != '#' || buf[1] != '!')
        return 0;
    size_t end = 2;
    while (end < n && end < 256 && buf[end] != '\n')
        end++;
    size_t i = 2;
    while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    size_t a = i;
    while (i < end && buf[i] != ' ' && buf[i] != '\t')
        i++;
    if (i == a)
        return -1; /* "#!" and nothing: ENOEXEC */
    memcpy(interp, buf + a, i - a);
    interp[i - a] = 0;
    while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    size_t b = end;
    while (b > i && (buf[b - 1] == ' ' || buf[b - 1] == '\t' || buf[b - 1] == '\r'))
        b--;
    memcpy(arg, buf + i, b - i);
    arg[b - i] = 0;
    return 1;
}

/* Every other thread of the process leaves (they notice at their next
 * return to the program; blocked ones are woken), then this one goes on. */
static void other_threads_leave(struct process *p)
{
    if (p->threads == 1)
        return;
    p->exec_thread = current_thread();
    process_stop_others(p);
    while (__atomic_load_n(&p->threads, __ATOMIC_ACQUIRE) > 1)
        io_wait(io_seq(), clock_ns() + NSEC_PER_MSEC);
    p->exec_thread = 0;
}

/* do_exec's buffers and the program's file, whichever way it ends. */
static void release(struct file *prog, char *image, char *path, char *abs, char *interp, struct strings *s)
{
    if (prog)
        file_put(prog);
    kfree(image);
    kfree(path);
    kfree(abs);
    kfree(interp);
    strings_free(s);
}

static long do_exec(long dirfd, uintptr_t upath, uintptr_t uargv, uintptr_t uenvp, int at_flags)
{
    struct process *p = current_process();
    struct strings s = {0};
    char *path = kmalloc(PATH_MAX), *abs = kmalloc(PATH_MAX), *image = 0;
    char *interp = kmalloc(512), *iarg = interp ? interp + 256 : 0;
    size_t size = 0;
    long rc = path && abs && interp ? 0 : -ENOMEM;
    if (!rc) {
        long n = user_str(upath, path, PATH_MAX);
        rc = n < 0 ? n : 0;
    }
    /* argv and envp first, into the kernel: the program's memory goes below */
    struct strings args = {0}, env = {0};
    if (!rc)
        rc = copy_vector(&args, uargv, &args.argc);
    if (!rc)
        rc = copy_vector(&env, uenvp, &env.envc);
    if (!rc && args.argc == 0 && !(rc = add(&args, "", 0)))
        args.argc = 1; /* an empty argv gets "" as argv[0], as Linux since 5.18 */
    struct file *prog = 0;
    size_t got = 0;
    for (int depth = 0; !rc; depth++) {
        if ((rc = vfs_open_exec(dirfd, path, at_flags, &prog, abs)) < 0)
            break;
        if ((rc = linux_read_headers(prog, &image, &got, &size)) < 0)
            break;
        int script = shebang(image, got, interp, iarg);
        if (script < 0) {
            rc = -ENOEXEC;
            break;
        }
        if (!script)
            break;
        if (depth == MAX_INTERP) {
            rc = -ELOOP;
            break;
        }
        /* argv becomes interp [arg] path argv[1..] */
        struct strings na = {0};
        const char *old = args.bytes;
        rc = add(&na, interp, strlen(interp));
        if (!rc && iarg[0])
            rc = add(&na, iarg, strlen(iarg));
        if (!rc)
            rc = add(&na, path, strlen(path));
        na.argc = iarg[0] ? 3 : 2;
        for (int i = 0; !rc && i < args.argc; i++, old += strlen(old) + 1)
            if (i > 0 && !(rc = add(&na, old, strlen(old))))
                na.argc++;
        if (rc) {
            strings_free(&na);
            break;
        }
        strings_free(&args);
        args = na;
        snprintk(path, PATH_MAX, "%s", interp);
        dirfd = -100; /* AT_FDCWD */
        at_flags = 0;
        kfree(image);
        image = 0;
        file_put(prog);
        prog = 0;
    }
    if (!rc) {
        const struct { uint8_t ident[16]; uint16_t type, machine; uint32_t version; uint64_t entry, phoff; } *eh =
            (const void *)image;
        if (got < 64 || eh->phoff + (uint64_t) * (const uint16_t *)(image + 56) * 56 > got ||
            linux_elf_check(image, size))
            rc = -ENOEXEC; /* not a program this kernel runs (or a corrupt one) */
        else
            rc = linux_elf_interp_ok(image, got, prog);
    }
    if (!rc) { /* argv then envp in one block */
        s.argc = args.argc;
        s.envc = env.envc;
        if ((rc = add(&s, "", 0)) == 0) {
            s.used = 0;
            if (args.used && (rc = add(&s, args.bytes, args.used - 1)) == 0 && env.used)
                rc = add(&s, env.bytes, env.used - 1);
            else if (!args.used && env.used)
                rc = add(&s, env.bytes, env.used - 1);
        }
        if (!rc)
            rc = index_strings(&s);
    }
    strings_free(&args);
    strings_free(&env);
    if (rc) {
        release(prog, image, path, abs, interp, &s);
        return rc;
    }

    /* --- the point of no return: the old program goes --- */
    other_threads_leave(p);
    struct thread *t = current_thread();
    if (vm_exec(p) < 0) {
        pr_warn("execve %s: out of memory for a new address space: the process is killed\n", abs);
        process_exit(SIGKILL);
    }
    process_vfork_release(p);
    fdt_close_on_exec();
    signal_exec();
    sigtimer_release(p, 1);
    t->robust_list = 0;
    t->clear_child_tid = 0;
    snprintk(p->exe, sizeof p->exe, "%s", abs[0] ? abs : path);
    const char *base = path;
    for (const char *q = path; *q; q++)
        if (*q == '/' && q[1])
            base = q + 1;
    snprintk(p->comm, sizeof p->comm, "%s", base);
    uintptr_t entry, sp;
    const char *why = linux_elf_load(image, got, prog, s.argc, s.v, s.envc, s.v + s.argc + 1, &entry, &sp);
    release(prog, image, path, abs, interp, &s);
    if (why) {
        pr_warn("execve %s: %s: the process is killed\n", p->exe, why);
        process_exit(SIGKILL);
    }
    arch_exec_regs(arch_user_regs(t), entry, sp);
    t->full_restore = 1;
    return 0;
}

long sys_execve(long upath, long uargv, long uenvp)
{
    return do_exec(-100, (uintptr_t)upath, (uintptr_t)uargv, (uintptr_t)uenvp, 0);
}

long sys_execveat(long dirfd, long upath, long uargv, long uenvp, long flags)
{
    if (flags & ~(long)(0x100 /* AT_SYMLINK_NOFOLLOW */ | 0x1000 /* AT_EMPTY_PATH */))
        return -EINVAL;
    return do_exec((int)dirfd, (uintptr_t)upath, (uintptr_t)uargv, (uintptr_t)uenvp, (int)flags);
}
