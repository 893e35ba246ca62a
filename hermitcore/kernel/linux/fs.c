/* Files: the descriptor table, the console (fds 0-2), the read-only tree
 * embedded at compose time (a cpio "newc" archive: `--files DIR` or
 * `--initrd`), a few device and /proc files, and pipes. */
#include "linux.h"
#include <hermit/console.h>
#include <hermit/stdio.h>
#include <hermit/heap.h>
#include <hermit/time.h>

#define PATH_MAX 4096
/* Path buffers come from the heap and go back at the end of their scope: a
 * path call nests several (user string, absolute path, resolved link...)
 * and 4 KiB each on a kernel stack adds up. */
static void path_release(char **p) { kfree(*p); }
#define PATHBUF(name) char *name __attribute__((cleanup(path_release))) = kmalloc(PATH_MAX)


#define AT_FDCWD -100
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_EMPTY_PATH 0x1000

#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2

#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC 1
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2

#define PIPE_SIZE 65536

/* --- the embedded tree --- */
struct node {
    const char *path; /* "dir/file", no leading '/'; "" is the root */
    size_t path_len;
    uint32_t mode;
    uint32_t ino;
    uint64_t mtime;
    const char *data;
    size_t size;
    uint32_t nlink; /* directories: 2 + their subdirectories */
};

static struct node *nodes;
static size_t node_count;
static struct node root_node = {"", 0, S_IFDIR | 0755, 1, 0, 0, 0, 2};
static char cwd[PATH_MAX] = "/";

enum ftype { F_CONSOLE, F_FILE, F_DIR, F_NULL, F_ZERO, F_RANDOM, F_MEM, F_PIPE, F_OBJ, F_HOST };

struct pipe {
    char *buf;
    size_t head, len;
    int readers, writers;
};

struct file {
    enum ftype type;
    int refs;
    int flags; /* O_* */
    uint64_t off;
    const struct node *node; /* F_FILE, F_DIR */
    char *path;              /* F_DIR: for *at() relative paths */
    char *mem;               /* F_MEM: generated contents (kmalloc) */
    size_t mem_size;
    struct pipe *pipe;
    int pipe_write;
    int stream;                 /* F_CONSOLE: STDIO_IN/OUT/ERR, or TTY_STREAM (/dev/tty, /dev/console) */
    const struct file_ops *ops; /* F_OBJ: a socket, an epoll instance */
    void *obj;
    struct hostfile *host;      /* F_HOST: a file or directory in a mounted host directory */
    int host_dir;
    struct lock_key lock_key;   /* the file its locks are on, once looked up */
};

struct fd {
    struct file *file;
    int cloexec;
};

static struct fd fds[MAX_FDS];
/* RLIMIT_NOFILE: descriptors are below it (sys.c's setrlimit lowers it). */
unsigned fd_limit = MAX_FDS;
/* The standard streams are the host command's (hermit/stdio.h): a stream
 * that is a terminal on the host is one here (read and write, termios);
 * otherwise it reads or writes like the pipe it most likely is. /dev/tty
 * and /dev/console are the terminal: stdin's input, stdout's output. */
#define TTY_STREAM 3
static struct file stdio_files[4] = {
    {.type = F_CONSOLE, .refs = 1, .flags = O_RDONLY, .stream = STDIO_IN},
    {.type = F_CONSOLE, .refs = 1, .flags = O_WRONLY, .stream = STDIO_OUT},
    {.type = F_CONSOLE, .refs = 1, .flags = O_WRONLY, .stream = STDIO_ERR},
    {.type = F_CONSOLE, .refs = 1, .flags = O_RDWR, .stream = TTY_STREAM},
};

static int is_stdio_file(const struct file *f) { return f >= stdio_files && f < stdio_files + 4; }

static int stream_is_tty(const struct file *f) { return f->stream == TTY_STREAM || stdio_is_tty((unsigned)f->stream); }

/* An 8-digit hexadecimal header field; ~0ul if it is not one. */
static unsigned long hex8(const char *p)
{
    unsigned long v = 0;
    for (int i = 0; i < 8; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return ~0ul;
        v = v * 16 + (unsigned long)d;
    }
    return v;
}

static size_t align4(size_t v) { return (v + 3) & ~(size_t)3; }

/* Walk the archive; with `out` NULL just count the entries. */
static size_t cpio_walk(const char *a, size_t size, struct node *out)
{
    size_t off = 0, n = 0;
    while (off + 110 <= size && !memcmp(a + off, "07070", 5)) {
        const char *h = a + off;
        unsigned long mode = hex8(h + 14), mtime = hex8(h + 46), filesize = hex8(h + 54), namesize = hex8(h + 94);
        const char *name = h + 110;
        /* an archive the host never checked (--initrd from anywhere) ends at
         * the first entry that does not hold together */
        if (mode == ~0ul || mtime == ~0ul || filesize == ~0ul || namesize == ~0ul || namesize == 0 ||
            namesize > size - off - 110 || name[namesize - 1] != 0)
            break;
        size_t data = align4(off + 110 + namesize);
        if (data > size || filesize > size - data)
            break;
        if (!strcmp(name, "TRAILER!!!"))
            break;
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        while (name[0] == '/')
            name++;
        if ((!name[0] || !strcmp(name, ".")) && (mode & S_IFMT) == S_IFDIR) { /* the root itself */
            root_node.mode = (uint32_t)mode;
            root_node.mtime = mtime;
        } else if (name[0]) {
            if (out) {
                struct node *nd = &out[n];
                nd->path = name;
                nd->path_len = strlen(name);
                while (nd->path_len && name[nd->path_len - 1] == '/')
                    nd->path_len--;
                nd->mode = (uint32_t)mode;
                nd->ino = (uint32_t)(n + 2);
                nd->mtime = mtime;
                nd->data = a + data;
                nd->size = filesize;
                nd->nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1;
            }
            n++;
        }
        off = align4(data + filesize);
    }
    return n;
}

void fs_init(const void *archive, size_t size, const char *exe_path)
{
    for (int s = 0; s < STDIO_STREAMS; s++) {
        if (stdio_is_tty((unsigned)s))
            stdio_files[s].flags = O_RDWR;
        fds[s].file = &stdio_files[s];
    }
    if (!size)
        return;
    node_count = cpio_walk(archive, size, 0);
    nodes = kzalloc(node_count * sizeof *nodes + 1);
    if (!nodes) {
        pr_warn("cannot start %s: no memory for its file tree (%zu entries; give it more with --mem)\n",
               exe_path, node_count);
        hermit_exit(127);
    }
    cpio_walk(archive, size, nodes);
    /* a directory's link count: "." and its entry in the parent, plus each
     * subdirectory's ".." */
    for (size_t i = 0; i < node_count; i++) {
        if ((nodes[i].mode & S_IFMT) != S_IFDIR)
            continue;
        size_t pl = nodes[i].path_len;
        while (pl && nodes[i].path[pl - 1] != '/')
            pl--;
        struct node *parent = pl ? 0 : &root_node;
        for (size_t j = 0; j < node_count && !parent; j++)
            if (nodes[j].path_len == pl - 1 && !memcmp(nodes[j].path, nodes[i].path, pl - 1))
                parent = &nodes[j];
        if (parent)
            parent->nlink++;
    }
    pr_info("files: %zu entries, %zu KiB, read-only\n", node_count, size / 1024);
}

/* Resolve `path` against `base` (absolute) into out: "a/b", no leading '/'. */
static int normalize(const char *base, const char *path, char *out)
{
    size_t n = 0;
    const char *parts[2] = {path[0] == '/' ? "" : base, path};
    for (int k = 0; k < 2; k++) {
        const char *s = parts[k];
        while (*s) {
            while (*s == '/')
                s++;
            if (!*s)
                break;
            const char *e = s;
            while (*e && *e != '/')
                e++;
            size_t len = (size_t)(e - s);
            if (len == 1 && s[0] == '.') {
            } else if (len == 2 && s[0] == '.' && s[1] == '.') {
                while (n > 0 && out[n - 1] != '/')
                    n--;
                if (n > 0)
                    n--;
            } else {
                if (n + len + 2 >= PATH_MAX)
                    return -ENAMETOOLONG;
                if (n)
                    out[n++] = '/';
                memcpy(out + n, s, len);
                n += len;
            }
            s = e;
        }
    }
    out[n] = 0;
    return 0;
}

static const struct node *lookup_exact(const char *p)
{
    if (!p[0])
        return &root_node;
    size_t len = strlen(p);
    for (size_t i = 0; i < node_count; i++)
        if (nodes[i].path_len == len && !memcmp(nodes[i].path, p, len))
            return &nodes[i];
    return 0;
}

/* A directory only implied by the paths under it (archives may omit it). */
static struct node implied_dir = {"", 0, S_IFDIR | 0755, 0, 0, 0, 0, 2};

static const struct node *lookup(const char *p, int follow, char *resolved)
{
    for (int depth = 0; depth < 8; depth++) {
        const struct node *nd = lookup_exact(p);
        if (!nd) {
            size_t len = strlen(p);
            for (size_t i = 0; i < node_count; i++)
                if (nodes[i].path_len > len && nodes[i].path[len] == '/' && !memcmp(nodes[i].path, p, len)) {
                    implied_dir.path = p;
                    implied_dir.path_len = len;
                    return &implied_dir;
                }
            return 0;
        }
        if ((nd->mode & S_IFMT) != S_IFLNK || !follow)
            return nd;
        PATHBUF(target);
        PATHBUF(dir);
        if (!target || !dir) return 0;
        size_t tl = nd->size < PATH_MAX - 1 ? nd->size : PATH_MAX - 1;
        memcpy(target, nd->data, tl);
        target[tl] = 0;
        size_t dl = 0;
        dir[dl++] = '/';
        memcpy(dir + dl, p, strlen(p) + 1);
        char *slash = dir + strlen(dir);
        while (slash > dir && *slash != '/')
            slash--;
        slash[slash == dir ? 1 : 0] = 0;
        if (normalize(dir, target, resolved) != 0)
            return 0;
        p = resolved;
    }
    return 0;
}

static int alloc_fd(struct file *f, int cloexec, int min)
{
    for (int i = min; i < (int)fd_limit; i++) {
        if (!fds[i].file) {
            fds[i].file = f;
            fds[i].cloexec = cloexec;
            return i;
        }
    }
    return -EMFILE;
}

static struct file *get(long lfd)
{
    int fd = (int)lfd; /* descriptors are C ints: the upper half of the register is not theirs */
    if (fd < 0 || fd >= MAX_FDS)
        return 0;
    return fds[fd].file;
}

/* The file f's locks are on (a tree node, a host inode, a pipe...). */
static long lock_key_of(struct file *f, struct lock_key *key)
{
    if (!f->lock_key.kind) {
        struct kstat st;
        switch (f->type) {
        case F_FILE:
        case F_DIR:
            f->lock_key = (struct lock_key){1, (uintptr_t)f->node};
            break;
        case F_HOST: {
            long rc = hostfs_fstat(f->host, &st);
            if (rc < 0)
                return rc;
            f->lock_key = (struct lock_key){st.dev, st.ino};
            break;
        }
        case F_PIPE:
            f->lock_key = (struct lock_key){2, (uintptr_t)f->pipe};
            break;
        case F_OBJ:
            f->lock_key = (struct lock_key){2, (uintptr_t)f->obj};
            break;
        default:
            f->lock_key = (struct lock_key){3, (uintptr_t)f->type};
        }
    }
    *key = f->lock_key;
    return 0;
}

static void put(struct file *f)
{
    if (--f->refs > 0 || is_stdio_file(f))
        return;
    if (locks_held()) { /* the open file's own locks: OFD record locks and flock */
        rlock_release((struct lock_key){0, 0}, f);
        flock_release(f);
    }
    if (f->pipe) {
        if (f->pipe_write)
            f->pipe->writers--;
        else
            f->pipe->readers--;
        io_notify(); /* a blocked reader sees end of file, a writer EPIPE */
        if (!f->pipe->readers && !f->pipe->writers) {
            kfree(f->pipe->buf);
            kfree(f->pipe);
        }
    }
    if (f->type == F_OBJ)
        f->ops->close(f->obj);
    if (f->type == F_HOST)
        hostfs_close(f->host);
    kfree(f->mem);
    kfree(f->path);
    kfree(f);
}

void *fd_object(long fd, const struct file_ops *ops, long wrong_kind, int *flags, long *err)
{
    struct file *f = get(fd);
    if (!f || f->type != F_OBJ || f->ops != ops) {
        *err = f ? wrong_kind : -EBADF;
        return 0;
    }
    if (flags)
        *flags = f->flags;
    return f->obj;
}

static struct file *new_file(enum ftype type, int flags)
{
    struct file *f = kzalloc(sizeof *f);
    if (f) {
        f->type = type;
        f->refs = 1;
        f->flags = flags;
    }
    return f;
}

long fd_install(const struct file_ops *ops, void *obj, int flags)
{
    struct file *f = new_file(F_OBJ, flags & O_NONBLOCK);
    if (!f)
        return -ENOMEM;
    f->ops = ops;
    f->obj = obj;
    long fd = alloc_fd(f, (flags & O_CLOEXEC) != 0, 0);
    if (fd < 0)
        kfree(f); /* the caller still owns obj */
    return fd;
}

/* The directory an *at() call is relative to, as an absolute path. */
static long at_base(long dirfd, const char *path, char *base)
{
    if (path[0] == '/' || (int)dirfd == AT_FDCWD) {
        memcpy(base, cwd, strlen(cwd) + 1);
        return 0;
    }
    struct file *d = get(dirfd);
    if (!d)
        return -EBADF;
    if (d->type != F_DIR && !(d->type == F_HOST && d->host_dir))
        return -ENOTDIR;
    base[0] = '/';
    memcpy(base + 1, d->path, strlen(d->path) + 1);
    return 0;
}

static long resolve_at(long dirfd, long upath, char *abs)
{
    PATHBUF(path);
    PATHBUF(base);
    if (!path || !base) return -ENOMEM;
    long rc = user_str((uintptr_t)upath, path, PATH_MAX);
    if (rc < 0)
        return rc;
    if ((rc = at_base(dirfd, path, base)) < 0)
        return rc;
    return normalize(base, path, abs);
}

static char *kstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = kmalloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static long open_special(const char *p, int flags)
{
    struct file *f = 0;
    if (!strcmp(p, "dev/null") || !strcmp(p, "dev/zero")) {
        f = new_file(p[4] == 'z' ? F_ZERO : F_NULL, flags);
    } else if (!strcmp(p, "dev/urandom") || !strcmp(p, "dev/random")) {
        f = new_file(F_RANDOM, flags);
    } else if (!strcmp(p, "dev/tty") || !strcmp(p, "dev/console")) {
        if (p[4] == 't' && !stdio_is_tty(STDIO_IN) && !stdio_is_tty(STDIO_OUT))
            return -ENXIO; /* no controlling terminal */
        stdio_files[TTY_STREAM].refs++;
        return alloc_fd(&stdio_files[TTY_STREAM], (flags & O_CLOEXEC) != 0, 0);
    } else if (!strcmp(p, "proc/self/maps")) {
        f = new_file(F_MEM, flags);
        if (f && (f->mem = kmalloc(16384)))
            f->mem_size = vm_describe(f->mem, 16384);
    } else {
        return -ENOENT;
    }
    if (!f)
        return -ENOMEM;
    long fd = alloc_fd(f, (flags & O_CLOEXEC) != 0, 0);
    if (fd < 0)
        put(f);
    return fd;
}

static long open_host(const char *abs, long flags, long mode)
{
    struct hostfile *h;
    int is_dir;
    long rc = hostfs_open(abs, (int)flags, (unsigned)mode, &h, &is_dir);
    if (rc < 0)
        return rc;
    struct file *f = new_file(F_HOST, (int)flags);
    if (!f || !(f->path = kstrdup(abs))) {
        kfree(f);
        hostfs_close(h);
        return -ENOMEM;
    }
    f->host = h;
    f->host_dir = is_dir;
    struct lock_key key;
    if (!is_dir)
        lock_key_of(f, &key); /* known from now on: writes tell shared mappings without another round trip */
    long fd = alloc_fd(f, (flags & O_CLOEXEC) != 0, 0);
    if (fd < 0)
        put(f);
    return fd;
}

long sys_openat(long dirfd, long upath, long flags, long mode)
{
    PATHBUF(abs);
    PATHBUF(res);
    if (!abs || !res) return -ENOMEM;
    long rc = resolve_at(dirfd, upath, abs);
    if (rc < 0)
        return rc;
    if (hostfs_owns(abs))
        return open_host(abs, flags, mode);
    const struct node *nd = lookup(abs, !(flags & O_NOFOLLOW), res);
    if (!nd) {
        rc = open_special(abs, (int)flags);
        if (rc != -ENOENT)
            return rc;
        return flags & O_CREAT ? -EROFS : -ENOENT;
    }
    if ((flags & O_ACCMODE) != 0 || (flags & (O_CREAT | O_TRUNC)))
        return (nd->mode & S_IFMT) == S_IFDIR ? -EISDIR : -EROFS;
    int is_dir = (nd->mode & S_IFMT) == S_IFDIR;
    if ((flags & O_DIRECTORY) && !is_dir)
        return -ENOTDIR;
    struct file *f = new_file(is_dir ? F_DIR : F_FILE, (int)flags);
    if (!f)
        return -ENOMEM;
    f->node = nd;
    if (is_dir && !(f->path = kstrdup(nd == &implied_dir ? abs : nd->path))) {
        put(f);
        return -ENOMEM;
    }
    long fd = alloc_fd(f, (flags & O_CLOEXEC) != 0, 0);
    if (fd < 0)
        put(f);
    return fd;
}

long sys_open(long upath, long flags, long mode) { return sys_openat(AT_FDCWD, upath, flags, mode); }

long sys_close(long fd)
{
    fd = (int)fd;
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    fds[fd].file = 0;
    struct lock_key key;
    if (locks_held() && lock_key_of(f, &key) == 0)
        rlock_release(key, lock_process()); /* POSIX: any close of the file drops the process's locks */
    put(f);
    return 0;
}

/* --- files behind mmap (vm.c): a mapping holds a reference to its open file --- */
static long file_size(struct file *f, uint64_t *size);
static long do_read(struct file *f, char *buf, size_t n, uint64_t *off);

long fs_mmap_file(long fd, int shared, int write, void **file, struct lock_key *key)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type != F_FILE && f->type != F_MEM && !(f->type == F_HOST && !f->host_dir))
        return -ENODEV; /* pipes, sockets, devices, directories */
    int acc = f->flags & O_ACCMODE;
    if (acc == O_WRONLY || (shared && write && acc != O_RDWR))
        return -EACCES;
    f->refs++; /* first: lock_key_of may sleep (9P), and a close meanwhile must not free it */
    long rc = lock_key_of(f, key);
    if (rc < 0) {
        put(f);
        return rc;
    }
    *file = f;
    return 0;
}

int fs_file_writable(void *file) { return (((struct file *)file)->flags & O_ACCMODE) == O_RDWR; }

void fs_file_put(void *file) { put(file); }

long fs_file_pread(void *file, void *buf, size_t n, uint64_t off) { return do_read(file, buf, n, &off); }

long fs_file_pwrite(void *file, const void *buf, size_t n, uint64_t off)
{
    struct file *f = file;
    return f->type == F_HOST ? hostfs_pwrite(f->host, buf, n, off) : -EROFS;
}

long fs_file_size(void *file, uint64_t *size) { return file_size(file, size); }

/* Pipe state is guarded by the big kernel lock, which every pipe call
 * holds: a reader that finds it empty sleeps in io_wait (dropping the lock)
 * until a writer's io_notify. */
static long pipe_read(struct pipe *p, char *buf, size_t n, int flags)
{
    while (!p->len) {
        if (!p->writers)
            return 0;
        if (flags & O_NONBLOCK)
            return -EAGAIN;
        io_wait(io_seq(), 0);
    }
    size_t done = 0;
    while (done < n && p->len) {
        buf[done++] = p->buf[p->head];
        p->head = (p->head + 1) % PIPE_SIZE;
        p->len--;
    }
    io_notify();
    return (long)done;
}

static long pipe_write(struct pipe *p, const char *buf, size_t n, int flags)
{
    size_t done = 0;
    for (;;) {
        if (!p->readers)
            return done ? (long)done : -EPIPE;
        while (done < n && p->len < PIPE_SIZE) {
            p->buf[(p->head + p->len) % PIPE_SIZE] = buf[done++];
            p->len++;
        }
        io_notify();
        if (done == n || (flags & O_NONBLOCK))
            return done ? (long)done : -EAGAIN;
        io_wait(io_seq(), 0); /* full: wait for the reader */
    }
}

static long do_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    switch (f->type) {
    case F_CONSOLE:
        if ((f->flags & O_ACCMODE) == O_WRONLY)
            return -EBADF;
        return stdio_read(buf, n, f->flags & O_NONBLOCK);
    case F_NULL:
        return 0;
    case F_ZERO:
        memset(buf, 0, n);
        return (long)n;
    case F_RANDOM:
        random_bytes(buf, n);
        return (long)n;
    case F_DIR:
        return -EISDIR;
    case F_PIPE:
        return f->pipe_write ? -EBADF : pipe_read(f->pipe, buf, n, f->flags);
    case F_OBJ:
        return f->ops->read ? f->ops->read(f->obj, buf, n, f->flags) : -EINVAL;
    case F_HOST: {
        if (f->host_dir)
            return -EISDIR;
        if ((f->flags & O_ACCMODE) == O_WRONLY)
            return -EBADF;
        long r = hostfs_pread(f->host, buf, n, *off);
        if (r > 0)
            *off += (uint64_t)r;
        return r;
    }
    case F_FILE:
    case F_MEM: {
        const char *data = f->type == F_FILE ? f->node->data : f->mem;
        size_t size = f->type == F_FILE ? f->node->size : f->mem_size;
        if (*off >= size)
            return 0;
        if (n > size - *off)
            n = size - *off;
        memcpy(buf, data + *off, n);
        *off += n;
        return (long)n;
    }
    }
    return -EINVAL;
}

static long do_write_kind(struct file *f, const char *buf, size_t n, int user);

/* A write to a host file: its shared mapped pages (vm.c) get the bytes too,
 * so mappings see them and a later write-back cannot undo them. The file's
 * lock key is known from its open; a program buffer is checked again (the
 * write may have slept since the system call checked it). */
static long host_write(struct file *f, const char *buf, size_t n, uint64_t off, int user)
{
    if (vm_file_shared() && f->lock_key.kind && (!user || user_ok((uintptr_t)buf, n, PROT_READ)))
        vm_file_written(f->lock_key, off, buf, n);
    return hostfs_pwrite(f->host, buf, n, off);
}

/* A write to a pipe without readers, or a socket shut for writing, raises
 * SIGPIPE (its default action ends the program with 141); ignored, the
 * write fails with EPIPE. */
static long do_write(struct file *f, const char *buf, size_t n, int user)
{
    long r = do_write_kind(f, buf, n, user);
    if (r == -EPIPE)
        signal_self(13);
    return r;
}

static long do_write_kind(struct file *f, const char *buf, size_t n, int user)
{
    switch (f->type) {
    case F_CONSOLE:
        if ((f->flags & O_ACCMODE) == O_RDONLY)
            return -EBADF;
        return stdio_write(f->stream == STDIO_ERR ? STDIO_ERR : STDIO_OUT, buf, n, f->flags & O_NONBLOCK);
    case F_NULL:
    case F_ZERO:
        return (f->flags & O_ACCMODE) == O_RDONLY ? -EBADF : (long)n;
    case F_PIPE:
        return f->pipe_write ? pipe_write(f->pipe, buf, n, f->flags) : -EBADF;
    case F_OBJ:
        return f->ops->write ? f->ops->write(f->obj, buf, n, f->flags) : -EINVAL;
    case F_HOST: {
        if (f->host_dir || (f->flags & O_ACCMODE) == O_RDONLY)
            return -EBADF;
        if (f->flags & O_APPEND) {
            struct kstat st;
            long rc = hostfs_fstat(f->host, &st);
            if (rc < 0)
                return rc;
            f->off = st.size;
        }
        long r = host_write(f, buf, n, f->off, user);
        if (r > 0)
            f->off += (uint64_t)r;
        return r;
    }
    default:
        return -EBADF; /* read-only */
    }
}

long sys_read(long fd, long buf, long count)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_WRITE))
        return -EFAULT;
    return do_read(f, (char *)buf, (size_t)count, &f->off);
}

long sys_pread64(long fd, long buf, long count, long offset)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type != F_FILE && f->type != F_MEM && f->type != F_HOST)
        return -ESPIPE;
    if (offset < 0)
        return -EINVAL;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_WRITE))
        return -EFAULT;
    uint64_t off = (uint64_t)offset;
    return do_read(f, (char *)buf, (size_t)count, &off);
}

long sys_write(long fd, long buf, long count)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_READ))
        return -EFAULT;
    return do_write(f, (const char *)buf, (size_t)count, 1);
}

long sys_pwrite64(long fd, long buf, long count, long offset)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type != F_HOST)
        return f->type == F_FILE ? -EBADF : -ESPIPE;
    if (f->host_dir || (f->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    if (offset < 0)
        return -EINVAL;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_READ))
        return -EFAULT;
    return host_write(f, (const char *)buf, (size_t)count, (uint64_t)offset, 1);
}

static long do_iov(long fd, long uiov, long cnt, int write)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (cnt < 0 || cnt > 1024)
        return -EINVAL;
    if (!user_ok((uintptr_t)uiov, (size_t)cnt * sizeof(struct iovec_k), PROT_READ))
        return -EFAULT;
    const struct iovec_k *iov = (const struct iovec_k *)uiov;
    long total = 0;
    for (long i = 0; i < cnt; i++) {
        if (!iov[i].len)
            continue;
        if (!user_ok((uintptr_t)iov[i].base, iov[i].len, write ? PROT_READ : PROT_WRITE))
            return total ? total : -EFAULT;
        long n = write ? do_write(f, (const char *)iov[i].base, iov[i].len, 1)
                       : do_read(f, (char *)iov[i].base, iov[i].len, &f->off);
        if (n < 0)
            return total ? total : n;
        total += n;
        if ((size_t)n < iov[i].len)
            break;
    }
    return total;
}

long sys_readv(long fd, long iov, long cnt) { return do_iov(fd, iov, cnt, 0); }
long sys_writev(long fd, long iov, long cnt) { return do_iov(fd, iov, cnt, 1); }

long sys_lseek(long fd, long offset, long whence)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type == F_CONSOLE || f->type == F_PIPE || f->type == F_OBJ)
        return -ESPIPE;
    int64_t size = f->type == F_FILE ? (int64_t)f->node->size : f->type == F_MEM ? (int64_t)f->mem_size : 0;
    if (f->type == F_HOST && whence == SEEK_END) {
        struct kstat st;
        long rc = hostfs_fstat(f->host, &st);
        if (rc < 0)
            return rc;
        size = (int64_t)st.size;
    }
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)f->off : whence == SEEK_END ? size : -1;
    if (base < 0 || base + offset < 0)
        return -EINVAL;
    f->off = (uint64_t)(base + offset);
    return (long)f->off;
}

/* --- stat --- */

/* The embedded tree as ext4 or tmpfs would show it: directories 4 KiB,
 * space allocated in whole 4 KiB blocks (none for a symlink's target or an
 * empty file), every time the archive's mtime. */
static void stat_node(const struct node *nd, struct kstat *st)
{
    memset(st, 0, sizeof *st);
    st->dev = 0x0801;
    st->ino = nd->ino ? nd->ino : 1;
    st->mode = nd->mode;
    uint32_t fmt = nd->mode & S_IFMT;
    st->size = fmt == S_IFDIR ? 4096 : nd->size;
    st->nlink = nd->nlink ? nd->nlink : fmt == S_IFDIR ? 2 : 1;
    st->blocks = fmt == S_IFLNK ? 0 : (st->size + 4095) / 4096 * 8;
    st->blksize = 4096;
    st->atime.sec = st->mtime.sec = st->ctime.sec = (int64_t)nd->mtime;
}

static void stat_file(const struct file *f, struct kstat *st)
{
    memset(st, 0, sizeof *st);
    st->dev = 5; /* devtmpfs, pipefs, sockfs: anonymous devices */
    st->nlink = 1;
    st->blksize = 4096;
    switch (f->type) {
    case F_FILE:
    case F_DIR:
        stat_node(f->node, st);
        break;
    case F_CONSOLE:
        if (stream_is_tty(f)) {
            st->mode = S_IFCHR | 0620;
            st->rdev = f->stream == TTY_STREAM ? (5 << 8) | 1 : (136 << 8); /* /dev/console, /dev/pts/0 */
            st->blksize = 1024;
        } else {
            switch (stdio_kind((unsigned)f->stream)) { /* what the host's stream is */
            case 'c':
                st->mode = S_IFCHR | 0666;
                st->rdev = (1 << 8) | 3; /* /dev/null */
                break;
            case 'f':
                st->mode = S_IFREG | 0644;
                break;
            case 's':
                st->mode = S_IFSOCK | 0777;
                break;
            default:
                st->mode = S_IFIFO | 0600;
            }
        }
        break;
    case F_NULL:
    case F_ZERO:
    case F_RANDOM:
        st->mode = S_IFCHR | 0666;
        st->rdev = (1 << 8) | (f->type == F_NULL ? 3 : f->type == F_ZERO ? 5 : 9);
        break;
    case F_MEM:
        st->mode = S_IFREG | 0444;
        break;
    case F_PIPE:
        st->mode = S_IFIFO | 0600;
        break;
    case F_OBJ:
        st->mode = f->ops->mode | 0600;
        break;
    case F_HOST:
        hostfs_fstat(f->host, st);
        break;
    }
}

#if defined(__x86_64__)
struct linux_stat {
    uint64_t st_dev, st_ino, st_nlink;
    uint32_t st_mode, st_uid, st_gid, pad0;
    uint64_t st_rdev;
    int64_t st_size, st_blksize, st_blocks;
    int64_t st_atime, st_atime_nsec, st_mtime, st_mtime_nsec, st_ctime, st_ctime_nsec;
    int64_t reserved[3];
};
#else /* asm-generic (aarch64) */
struct linux_stat {
    uint64_t st_dev, st_ino;
    uint32_t st_mode, st_nlink, st_uid, st_gid;
    uint64_t st_rdev, pad1;
    int64_t st_size;
    int32_t st_blksize, pad2;
    int64_t st_blocks;
    int64_t st_atime, st_atime_nsec, st_mtime, st_mtime_nsec, st_ctime, st_ctime_nsec;
    uint32_t unused[2];
};
#endif

static long put_stat(long ubuf, const struct kstat *k)
{
    if (!user_ok((uintptr_t)ubuf, sizeof(struct linux_stat), PROT_WRITE))
        return -EFAULT;
    struct linux_stat *s = (struct linux_stat *)ubuf;
    memset(s, 0, sizeof *s);
    s->st_dev = k->dev;
    s->st_ino = k->ino;
    s->st_nlink = (uint32_t)k->nlink;
    s->st_mode = k->mode;
    s->st_uid = k->uid;
    s->st_gid = k->gid;
    s->st_rdev = k->rdev;
    s->st_size = (int64_t)k->size;
    s->st_blksize = k->blksize;
    s->st_blocks = (int64_t)k->blocks;
    s->st_atime = k->atime.sec;
    s->st_atime_nsec = k->atime.nsec;
    s->st_mtime = k->mtime.sec;
    s->st_mtime_nsec = k->mtime.nsec;
    s->st_ctime = k->ctime.sec;
    s->st_ctime_nsec = k->ctime.nsec;
    return 0;
}

static long stat_at(long dirfd, long upath, struct kstat *k, long flags)
{
    PATHBUF(path);
    if (!path) return -ENOMEM;
    long rc = user_str((uintptr_t)upath, path, PATH_MAX);
    if (rc < 0)
        return rc;
    if (!path[0] && (flags & AT_EMPTY_PATH)) {
        struct file *f = (int)dirfd == AT_FDCWD ? 0 : get(dirfd);
        if ((int)dirfd == AT_FDCWD) {
            PATHBUF(abs);
            PATHBUF(res);
            if (!abs || !res) return -ENOMEM;
            normalize(cwd, ".", abs);
            const struct node *nd = lookup(abs, 1, res);
            if (!nd)
                return -ENOENT;
            stat_node(nd, k);
            return 0;
        }
        if (!f)
            return -EBADF;
        stat_file(f, k);
        return 0;
    }
    PATHBUF(abs);
    PATHBUF(res);
    PATHBUF(base);
    if (!abs || !res || !base) return -ENOMEM;
    if ((rc = at_base(dirfd, path, base)) < 0 || (rc = normalize(base, path, abs)) < 0)
        return rc;
    if (hostfs_owns(abs))
        return hostfs_stat(abs, k);
    const struct node *nd = lookup(abs, !(flags & AT_SYMLINK_NOFOLLOW), res);
    if (!nd) {
        long fd = open_special(abs, 0);
        if (fd < 0)
            return fd;
        stat_file(get(fd), k);
        sys_close(fd);
        return 0;
    }
    stat_node(nd, k);
    return 0;
}

long sys_fstat(long fd, long ubuf)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    struct kstat k;
    stat_file(f, &k);
    return put_stat(ubuf, &k);
}

long sys_newfstatat(long dirfd, long upath, long ubuf, long flags)
{
    struct kstat k;
    long rc = stat_at(dirfd, upath, &k, flags);
    return rc < 0 ? rc : put_stat(ubuf, &k);
}

long sys_stat(long upath, long ubuf) { return sys_newfstatat(AT_FDCWD, upath, ubuf, 0); }

/* --- statfs: what file system a file is on --- */

#define RAMFS_MAGIC 0x858458f6 /* the embedded tree: an initramfs, read-only */
#define TMPFS_MAGIC 0x01021994 /* /dev (devtmpfs) */
#define PROC_SUPER_MAGIC 0x9fa0
#define PIPEFS_MAGIC 0x50495045
#define SOCKFS_MAGIC 0x534f434b
#define DEVPTS_SUPER_MAGIC 0x1cd1
#define ST_RDONLY 1

/* Linux's struct statfs on 64-bit (x86_64 and asm-generic alike). */
struct linux_statfs {
    int64_t f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};

static void statfs_of(uint64_t type, struct kstatfs *s)
{
    memset(s, 0, sizeof *s);
    s->type = type;
    s->bsize = 4096;
    s->namelen = 255;
    if (type == RAMFS_MAGIC) { /* the tree's size, all of it in use */
        for (size_t i = 0; i < node_count; i++)
            s->blocks += (nodes[i].size + 4095) / 4096;
        s->files = node_count + 1;
        s->flags = ST_RDONLY;
    }
}

static void statfs_file(const struct file *f, struct kstatfs *s)
{
    switch (f->type) {
    case F_FILE:
    case F_DIR:
        statfs_of(RAMFS_MAGIC, s);
        return;
    case F_PIPE:
        statfs_of(PIPEFS_MAGIC, s);
        return;
    case F_OBJ:
        statfs_of(f->ops->mode == S_IFSOCK ? SOCKFS_MAGIC : 0x09041934 /* anon_inodefs */, s);
        return;
    case F_MEM:
        statfs_of(PROC_SUPER_MAGIC, s);
        return;
    case F_CONSOLE: { /* as what the host's stream is */
        char k = f->stream == TTY_STREAM ? 't' : stdio_kind((unsigned)f->stream);
        statfs_of(k == 't' ? DEVPTS_SUPER_MAGIC : k == 'c' ? TMPFS_MAGIC : k == 's' ? SOCKFS_MAGIC : PIPEFS_MAGIC, s);
        return;
    }
    default:
        statfs_of(TMPFS_MAGIC, s);
    }
}

static long put_statfs(long ubuf, const struct kstatfs *s)
{
    if (!user_ok((uintptr_t)ubuf, sizeof(struct linux_statfs), PROT_WRITE))
        return -EFAULT;
    struct linux_statfs *u = (struct linux_statfs *)ubuf;
    memset(u, 0, sizeof *u);
    u->f_type = (int64_t)s->type;
    u->f_bsize = u->f_frsize = (int64_t)s->bsize;
    u->f_blocks = (int64_t)s->blocks;
    u->f_bfree = (int64_t)s->bfree;
    u->f_bavail = (int64_t)s->bavail;
    u->f_files = (int64_t)s->files;
    u->f_ffree = (int64_t)s->ffree;
    u->f_fsid[0] = (int32_t)s->fsid;
    u->f_fsid[1] = (int32_t)(s->fsid >> 32);
    u->f_namelen = (int64_t)s->namelen;
    u->f_flags = (int64_t)s->flags;
    return 0;
}

long sys_statfs(long upath, long ubuf)
{
    struct kstat k;
    long rc = stat_at(AT_FDCWD, upath, &k, 0); /* it exists (and the errors stat gives) */
    if (rc < 0)
        return rc;
    PATHBUF(abs);
    if (!abs) return -ENOMEM;
    if ((rc = resolve_at(AT_FDCWD, upath, abs)) < 0)
        return rc;
    struct kstatfs s;
    if (hostfs_owns(abs)) {
        if ((rc = hostfs_statfs(abs, &s)) < 0)
            return rc;
    } else if (!strncmp(abs, "dev/", 4) || !strncmp(abs, "proc/", 5)) { /* (paths here have no leading '/') */
        statfs_of(abs[0] == 'd' ? TMPFS_MAGIC : PROC_SUPER_MAGIC, &s);
    } else {
        statfs_of(RAMFS_MAGIC, &s);
    }
    return put_statfs(ubuf, &s);
}

long sys_fstatfs(long fd, long ubuf)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    struct kstatfs s;
    if (f->type == F_HOST) {
        long rc = hostfs_fstatfs(f->host, &s);
        if (rc < 0)
            return rc;
    } else {
        statfs_file(f, &s);
    }
    return put_statfs(ubuf, &s);
}
long sys_lstat(long upath, long ubuf) { return sys_newfstatat(AT_FDCWD, upath, ubuf, AT_SYMLINK_NOFOLLOW); }

struct statx_timestamp {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};
struct linux_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};

long sys_statx(long dirfd, long upath, long flags, long mask, long ubuf)
{
    struct kstat k;
    long rc = stat_at(dirfd, upath, &k, flags);
    if (rc < 0)
        return rc;
    if (!user_ok((uintptr_t)ubuf, sizeof(struct linux_statx), PROT_WRITE))
        return -EFAULT;
    struct linux_statx *s = (struct linux_statx *)ubuf;
    memset(s, 0, sizeof *s);
    s->stx_mask = 0x7ff; /* STATX_BASIC_STATS */
    s->stx_blksize = k.blksize;
    s->stx_nlink = (uint32_t)k.nlink;
    s->stx_uid = k.uid;
    s->stx_gid = k.gid;
    s->stx_mode = (uint16_t)k.mode;
    s->stx_ino = k.ino;
    s->stx_size = k.size;
    s->stx_blocks = k.blocks;
    struct statx_timestamp *to[3] = {&s->stx_atime, &s->stx_mtime, &s->stx_ctime};
    const struct timespec_k *from[3] = {&k.atime, &k.mtime, &k.ctime};
    for (int i = 0; i < 3; i++) {
        to[i]->tv_sec = from[i]->sec;
        to[i]->tv_nsec = (uint32_t)from[i]->nsec;
    }
    s->stx_rdev_major = (uint32_t)(k.rdev >> 8);
    s->stx_rdev_minor = (uint32_t)(k.rdev & 0xff);
    s->stx_dev_major = (uint32_t)(k.dev >> 8);
    s->stx_dev_minor = (uint32_t)(k.dev & 0xff);
    return 0;
}

long sys_faccessat(long dirfd, long upath, long mode)
{
    struct kstat k;
    long rc = stat_at(dirfd, upath, &k, 0);
    if (rc < 0)
        return rc;
    PATHBUF(path);
    PATHBUF(base);
    PATHBUF(abs);
    if (!path || !base || !abs) return -ENOMEM;
    if (user_str((uintptr_t)upath, path, PATH_MAX) >= 0 && at_base(dirfd, path, base) >= 0 &&
        normalize(base, path, abs) >= 0 && hostfs_owns(abs))
        return 0; /* the host decides when the file is opened */
    return (mode & 2) && (k.mode & S_IFMT) != S_IFCHR ? -EROFS : 0; /* W_OK */
}

long sys_faccessat2(long dirfd, long upath, long mode, long flags) { return sys_faccessat(dirfd, upath, mode); }
long sys_access(long upath, long mode) { return sys_faccessat(AT_FDCWD, upath, mode); }

/* --- directories --- */

/* The i-th entry of directory `dir` ("." and ".." first, then each child
 * once, explicit or implied). Returns 0 at the end. */
static int dir_entry(const char *dir, uint64_t i, const char **name, size_t *len, unsigned *type, uint64_t *ino)
{
    if (i < 2) {
        *name = i ? ".." : ".";
        *len = i + 1;
        *type = 4; /* DT_DIR */
        *ino = 1;
        return 1;
    }
    size_t dl = strlen(dir), seen = 2;
    for (size_t k = 0; k < node_count; k++) {
        const struct node *nd = &nodes[k];
        const char *p = nd->path;
        if (dl) {
            if (nd->path_len <= dl || p[dl] != '/' || memcmp(p, dir, dl))
                continue;
            p += dl + 1;
        }
        size_t cl = 0;
        while (p + cl < nd->path + nd->path_len && p[cl] != '/')
            cl++;
        if (!cl)
            continue;
        int direct = p + cl == nd->path + nd->path_len;
        /* skip a child already produced by an earlier node */
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++) {
            const char *q = nodes[j].path;
            if (dl) {
                if (nodes[j].path_len <= dl || q[dl] != '/' || memcmp(q, dir, dl))
                    continue;
                q += dl + 1;
            }
            if (!memcmp(q, p, cl) && (q[cl] == '/' || q + cl == nodes[j].path + nodes[j].path_len))
                dup = 1;
        }
        if (dup)
            continue;
        if (seen++ == i) {
            *name = p;
            *len = cl;
            uint32_t fmt = direct ? nd->mode & S_IFMT : S_IFDIR;
            *type = fmt == S_IFDIR ? 4 : fmt == S_IFLNK ? 10 : fmt == S_IFCHR ? 2 : 8;
            *ino = direct ? nd->ino : 1000 + k;
            return 1;
        }
    }
    return 0;
}

long sys_getdents64(long fd, long ubuf, long count)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type == F_HOST) {
        if (!user_ok((uintptr_t)ubuf, (size_t)count, PROT_WRITE))
            return -EFAULT;
        return hostfs_getdents(f->host, (char *)ubuf, (size_t)count);
    }
    if (f->type != F_DIR)
        return -ENOTDIR;
    if (!user_ok((uintptr_t)ubuf, (size_t)count, PROT_WRITE))
        return -EFAULT;
    char *out = (char *)ubuf;
    long used = 0;
    const char *name;
    size_t len;
    unsigned type;
    uint64_t ino;
    while (dir_entry(f->path, f->off, &name, &len, &type, &ino)) {
        size_t reclen = (sizeof(struct linux_dirent64) + len + 1 + 7) & ~(size_t)7;
        if ((size_t)used + reclen > (size_t)count)
            return used ? used : -EINVAL;
        struct linux_dirent64 *d = (struct linux_dirent64 *)(out + used);
        d->d_ino = ino;
        d->d_off = (int64_t)f->off + 1;
        d->d_reclen = (uint16_t)reclen;
        d->d_type = (uint8_t)type;
        memcpy(d->d_name, name, len);
        d->d_name[len] = 0;
        used += (long)reclen;
        f->off++;
    }
    return used;
}

long sys_readlinkat(long dirfd, long upath, long ubuf, long size)
{
    PATHBUF(abs);
    if (!abs) return -ENOMEM;
    long rc = resolve_at(dirfd, upath, abs);
    if (rc < 0)
        return rc;
    if (size <= 0)
        return -EINVAL;
    if (!user_ok((uintptr_t)ubuf, (size_t)size, PROT_WRITE))
        return -EFAULT;
    const char *target;
    size_t n;
    const struct node *nd = lookup_exact(abs);
    if (!strcmp(abs, "proc/self/exe")) {
        target = linux_exe_path;
        n = strlen(target);
    } else if (nd && (nd->mode & S_IFMT) == S_IFLNK) {
        target = nd->data;
        n = nd->size;
    } else {
        return nd || lookup(abs, 0, abs) ? -EINVAL : -ENOENT;
    }
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy((char *)ubuf, target, n);
    return (long)n;
}

long sys_readlink(long upath, long ubuf, long size) { return sys_readlinkat(AT_FDCWD, upath, ubuf, size); }

long sys_getcwd(long ubuf, long size)
{
    size_t n = strlen(cwd) + 1;
    if ((size_t)size < n)
        return -ERANGE;
    if (!user_ok((uintptr_t)ubuf, n, PROT_WRITE))
        return -EFAULT;
    memcpy((char *)ubuf, cwd, n);
    return (long)n;
}

long sys_chdir(long upath)
{
    PATHBUF(abs);
    PATHBUF(res);
    if (!abs || !res) return -ENOMEM;
    long rc = resolve_at(AT_FDCWD, upath, abs);
    if (rc < 0)
        return rc;
    if (hostfs_owns(abs)) {
        struct kstat st;
        if ((rc = hostfs_stat(abs, &st)) < 0)
            return rc;
        if ((st.mode & S_IFMT) != S_IFDIR)
            return -ENOTDIR;
        cwd[0] = '/';
        memcpy(cwd + 1, abs, strlen(abs) + 1);
        return 0;
    }
    const struct node *nd = lookup(abs, 1, res);
    if (!nd)
        return -ENOENT;
    if ((nd->mode & S_IFMT) != S_IFDIR)
        return -ENOTDIR;
    cwd[0] = '/';
    memcpy(cwd + 1, abs, strlen(abs) + 1);
    return 0;
}

long sys_fchdir(long fd)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type != F_DIR && !(f->type == F_HOST && f->host_dir))
        return -ENOTDIR;
    cwd[0] = '/';
    memcpy(cwd + 1, f->path, strlen(f->path) + 1);
    return 0;
}

/* --- descriptors --- */
long sys_dup(long fd)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    long n = alloc_fd(f, 0, 0);
    if (n >= 0)
        f->refs++;
    return n;
}

long sys_dup3(long oldfd, long newfd, long flags)
{
    struct file *f = get(oldfd);
    if (!f)
        return -EBADF;
    if (oldfd == newfd)
        return -EINVAL;
    if (newfd < 0 || newfd >= fd_limit)
        return -EBADF;
    f->refs++; /* the new descriptor's reference, taken first: closing newfd may sleep */
    while (fds[newfd].file)
        sys_close(newfd);
    fds[newfd].file = f;
    fds[newfd].cloexec = (flags & O_CLOEXEC) != 0;
    return newfd;
}

long sys_dup2(long oldfd, long newfd)
{
    if (oldfd == newfd)
        return get(oldfd) ? newfd : -EBADF;
    return sys_dup3(oldfd, newfd, 0);
}

static long record_lock(struct file *f, int cmd, long uarg);

long sys_fcntl(long fd, long cmd, long arg)
{
    fd = (int)fd;
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        if (arg < 0 || arg >= fd_limit)
            return -EINVAL;
        long n = alloc_fd(f, cmd == F_DUPFD_CLOEXEC, (int)arg);
        if (n >= 0)
            f->refs++;
        return n;
    }
    case F_GETFD:
        return fds[fd].cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
        fds[fd].cloexec = (arg & FD_CLOEXEC) != 0;
        return 0;
    case F_GETFL:
        return f->flags & ~O_CLOEXEC;
    case F_SETFL:
        f->flags = (f->flags & ~(O_APPEND | O_NONBLOCK)) | ((int)arg & (O_APPEND | O_NONBLOCK));
        return 0;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
        f->refs++; /* it may sleep (9P, F_SETLKW): a close meanwhile must not free f */
        long rc = record_lock(f, (int)cmd, arg);
        put(f);
        return rc;
    }
    }
    return -EINVAL;
}

struct flock_k {
    int16_t type, whence;
    int64_t start, len;
    int32_t pid;
};

static long file_size(struct file *f, uint64_t *size)
{
    struct kstat st;
    if (f->type == F_HOST) {
        long rc = hostfs_fstat(f->host, &st);
        if (rc < 0)
            return rc;
        *size = st.size;
        return 0;
    }
    stat_file(f, &st);
    *size = st.size;
    return 0;
}

/* fcntl's record locks: decode struct flock into a byte range, check it as
 * Linux does, and hand it to locks.c. */
static long record_lock(struct file *f, int cmd, long uarg)
{
    int ofd = cmd >= F_OFD_GETLK, get = cmd == F_GETLK || cmd == F_OFD_GETLK;
    if (!user_ok((uintptr_t)uarg, sizeof(struct flock_k), get ? PROT_READ | PROT_WRITE : PROT_READ))
        return -EFAULT;
    struct flock_k *u = (struct flock_k *)uarg, fl = *u;
    if (fl.type != F_RDLCK && fl.type != F_WRLCK && (fl.type != F_UNLCK || get))
        return -EINVAL;
    if (ofd && fl.pid)
        return -EINVAL;
    int64_t base = 0;
    if (fl.whence == SEEK_CUR) {
        base = (int64_t)f->off;
    } else if (fl.whence == SEEK_END) {
        uint64_t size;
        long rc = file_size(f, &size);
        if (rc < 0)
            return rc;
        base = (int64_t)size;
    } else if (fl.whence != SEEK_SET) {
        return -EINVAL;
    }
    int64_t start, end;
    if (__builtin_add_overflow(base, fl.start, &start))
        return -EOVERFLOW;
    if (fl.len > 0) {
        if (__builtin_add_overflow(start, fl.len - 1, &end))
            return -EOVERFLOW;
    } else if (fl.len < 0) {
        end = start - 1;
        if (__builtin_add_overflow(start, fl.len, &start))
            return -EINVAL;
    } else {
        end = -1; /* to the end of the file, however far it grows */
    }
    if (start < 0)
        return -EINVAL;
    uint64_t s = (uint64_t)start, e = end < 0 ? LOCK_EOF : (uint64_t)end;
    int acc = f->flags & O_ACCMODE;
    if (!get && ((fl.type == F_RDLCK && acc == O_WRONLY) || (fl.type == F_WRLCK && acc == O_RDONLY)))
        return -EBADF;
    struct lock_key key;
    long rc = lock_key_of(f, &key);
    if (rc < 0)
        return rc;
    const void *owner = ofd ? (const void *)f : lock_process();
    if (get) {
        long pid = 0;
        if (!user_ok((uintptr_t)uarg, sizeof(struct flock_k), PROT_READ | PROT_WRITE))
            return -EFAULT; /* again: lock_key_of may have slept while another thread unmapped it */
        u->type = (int16_t)rlock_test(key, owner, fl.type, &s, &e, &pid);
        if (u->type != F_UNLCK) {
            u->whence = SEEK_SET;
            u->start = (int64_t)s;
            u->len = e == LOCK_EOF ? 0 : (int64_t)(e - s + 1);
            u->pid = (int32_t)pid;
        }
        return 0;
    }
    return rlock_set(key, owner, ofd, sys_getpid(), fl.type, s, e, cmd == F_SETLKW || cmd == F_OFD_SETLKW);
}

long sys_flock(long fd, long op)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    struct lock_key key;
    f->refs++; /* it may sleep: a close meanwhile must not free f */
    long rc = lock_key_of(f, &key);
    if (rc >= 0)
        rc = flock_op(key, f, op);
    put(f);
    return rc;
}

long sys_pipe2(long ufds, long flags)
{
    if (!user_ok((uintptr_t)ufds, 2 * sizeof(int), PROT_WRITE))
        return -EFAULT;
    struct pipe *p = kzalloc(sizeof *p);
    struct file *r = new_file(F_PIPE, (int)flags & O_NONBLOCK), *w = new_file(F_PIPE, 1 | ((int)flags & O_NONBLOCK));
    char *buf = kmalloc(PIPE_SIZE);
    if (!p || !r || !w || !buf) {
        kfree(p);
        kfree(r);
        kfree(w);
        kfree(buf);
        return -ENOMEM;
    }
    p->buf = buf;
    p->readers = p->writers = 1;
    r->pipe = w->pipe = p;
    w->pipe_write = 1;
    long a = alloc_fd(r, (flags & O_CLOEXEC) != 0, 0);
    long b = a < 0 ? a : alloc_fd(w, (flags & O_CLOEXEC) != 0, 0);
    if (b < 0) {
        if (a >= 0)
            fds[a].file = 0;
        put(r);
        put(w);
        return b;
    }
    ((int *)ufds)[0] = (int)a;
    ((int *)ufds)[1] = (int)b;
    return 0;
}

long sys_pipe(long ufds) { return sys_pipe2(ufds, 0); }

#define TCGETS 0x5401
#define TCSETS 0x5402
#define TCSETSW 0x5403
#define TCSETSF 0x5404
#define TIOCSCTTY 0x540e
#define TIOCGPGRP 0x540f
#define TIOCSPGRP 0x5410
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define FIONREAD 0x541b
#define FIONBIO 0x5421

long sys_ioctl(long fd, long cmd, long arg)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (cmd == FIONBIO) {
        if (!user_ok((uintptr_t)arg, 4, PROT_READ))
            return -EFAULT;
        f->flags = *(int *)arg ? f->flags | O_NONBLOCK : f->flags & ~O_NONBLOCK;
        return 0;
    }
    if (cmd == FIONREAD && (f->type == F_CONSOLE || f->type == F_PIPE)) {
        if (!user_ok((uintptr_t)arg, 4, PROT_WRITE))
            return -EFAULT;
        *(int *)arg = f->type == F_PIPE ? (int)f->pipe->len : (int)stdio_readable();
        return 0;
    }
    if (f->type != F_CONSOLE || !stream_is_tty(f))
        return -ENOTTY;
    switch (cmd) {
    case TCGETS:
        if (!user_ok((uintptr_t)arg, sizeof(struct kernel_termios), PROT_WRITE))
            return -EFAULT;
        tty_get((struct kernel_termios *)arg);
        return 0;
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
        if (!user_ok((uintptr_t)arg, sizeof(struct kernel_termios), PROT_READ))
            return -EFAULT;
        tty_set((const struct kernel_termios *)arg);
        return 0;
    case TIOCGWINSZ: {
        if (!user_ok((uintptr_t)arg, 8, PROT_WRITE))
            return -EFAULT;
        uint16_t *ws = (uint16_t *)arg;
        stdio_winsize(&ws[0], &ws[1]);
        ws[2] = ws[3] = 0;
        return 0;
    }
    case TIOCSWINSZ: {
        if (!user_ok((uintptr_t)arg, 8, PROT_READ))
            return -EFAULT;
        const uint16_t *ws = (const uint16_t *)arg;
        stdio_set_winsize(ws[0], ws[1]);
        return 0;
    }
    case TIOCGPGRP:
        if (!user_ok((uintptr_t)arg, 4, PROT_WRITE))
            return -EFAULT;
        *(int *)arg = 1;
        return 0;
    case TIOCSPGRP:
    case TIOCSCTTY:
        return 0;
    }
    return -EINVAL;
}

short fd_poll(long fd)
{
    struct file *f = get(fd);
    if (!f)
        return POLLNVAL;
    switch (f->type) {
    case F_CONSOLE: {
        int acc = f->flags & O_ACCMODE;
        short r = 0;
        if (acc != O_WRONLY)
            r |= stdio_poll(STDIO_IN);
        if (acc != O_RDONLY)
            r |= stdio_poll(f->stream == STDIO_ERR ? STDIO_ERR : STDIO_OUT) & ~POLLHUP;
        return r;
    }
    case F_PIPE:
        if (f->pipe_write)
            return (short)((f->pipe->len < PIPE_SIZE ? POLLOUT : 0) | (f->pipe->readers ? 0 : POLLERR));
        return (short)((f->pipe->len ? POLLIN : 0) | (f->pipe->writers ? 0 : POLLHUP));
    case F_OBJ:
        return f->ops->poll ? f->ops->poll(f->obj) : 0;
    default:
        return POLLIN | POLLOUT;
    }
}

long sys_fsync(long fd)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type != F_HOST)
        return 0;
    f->refs++; /* write-back and the host's fsync sleep: a close meanwhile must not free f */
    if (vm_file_shared() && f->lock_key.kind)
        vm_file_sync(f->lock_key);
    long rc = hostfs_fsync(f->host);
    put(f);
    return rc;
}
long sys_fdatasync(long fd) { return sys_fsync(fd); }
long sys_fadvise64(long fd, long off, long len, long advice) { return get(fd) ? 0 : -EBADF; }
long sys_umask(long mask) { return 022; }

/* Name operations: in a mounted host directory they go to the host; the
 * embedded tree is read-only. */
long sys_mkdirat(long dirfd, long upath, long mode)
{
    PATHBUF(abs);
    if (!abs) return -ENOMEM;
    long rc = resolve_at(dirfd, upath, abs);
    return rc < 0 ? rc : hostfs_owns(abs) ? hostfs_mkdir(abs, (unsigned)mode) : -EROFS;
}

long sys_mkdir(long upath, long mode) { return sys_mkdirat(AT_FDCWD, upath, mode); }

#define AT_REMOVEDIR 0x200

long sys_unlinkat(long dirfd, long upath, long flags)
{
    PATHBUF(abs);
    if (!abs) return -ENOMEM;
    long rc = resolve_at(dirfd, upath, abs);
    if (rc < 0)
        return rc;
    if (flags & ~(long)AT_REMOVEDIR)
        return -EINVAL;
    return hostfs_owns(abs) ? hostfs_unlink(abs, (flags & AT_REMOVEDIR) != 0) : -EROFS;
}

long sys_unlink(long upath) { return sys_unlinkat(AT_FDCWD, upath, 0); }
long sys_rmdir(long upath) { return sys_unlinkat(AT_FDCWD, upath, AT_REMOVEDIR); }

long sys_renameat2(long olddirfd, long uold, long newdirfd, long unew, long flags)
{
    PATHBUF(from);
    PATHBUF(to);
    if (!from || !to) return -ENOMEM;
    long rc = resolve_at(olddirfd, uold, from);
    if (rc < 0 || (rc = resolve_at(newdirfd, unew, to)) < 0)
        return rc;
    if (flags)
        return -EINVAL; /* RENAME_NOREPLACE/EXCHANGE: not over 9P2000.L's renameat */
    if (hostfs_owns(from) != hostfs_owns(to))
        return -EXDEV;
    return hostfs_owns(from) ? hostfs_rename(from, to) : -EROFS;
}

long sys_renameat(long olddirfd, long uold, long newdirfd, long unew) { return sys_renameat2(olddirfd, uold, newdirfd, unew, 0); }
long sys_rename(long uold, long unew) { return sys_renameat2(AT_FDCWD, uold, AT_FDCWD, unew, 0); }

long sys_ftruncate(long fd, long len)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    if (f->type != F_HOST || f->host_dir || (f->flags & O_ACCMODE) == O_RDONLY)
        return -EINVAL;
    struct ksetattr a = {.valid = SETATTR_SIZE, .size = (uint64_t)len};
    if (len < 0)
        return -EINVAL;
    if (vm_file_shared() && f->lock_key.kind)
        vm_file_truncated(f->lock_key, (uint64_t)len);
    return hostfs_setattr(f->host, &a);
}

/* --- metadata: chmod, chown, utimensat, truncate --- */

static long setattr_fd(long fd, const struct ksetattr *a);

/* Change what `a` says of a file named by path: a host file's attributes go
 * to the host; the embedded tree is read-only. */
static long setattr_at(long dirfd, long upath, long flags, const struct ksetattr *a)
{
    PATHBUF(abs);
    PATHBUF(res);
    if (!abs || !res)
        return -ENOMEM;
    long rc;
    if (flags & AT_EMPTY_PATH) {
        PATHBUF(path);
        if (!path)
            return -ENOMEM;
        if ((rc = user_str((uintptr_t)upath, path, PATH_MAX)) < 0)
            return rc;
        if (!path[0])
            return setattr_fd(dirfd, a);
    }
    if ((rc = resolve_at(dirfd, upath, abs)) < 0)
        return rc;
    if (hostfs_owns(abs))
        return hostfs_setattr_path(abs, a);
    if (lookup(abs, !(flags & AT_SYMLINK_NOFOLLOW), res))
        return -EROFS;
    long fd = open_special(abs, 0);
    if (fd < 0)
        return fd;
    sys_close(fd);
    return 0; /* a device file: its attributes are not kept */
}

static long setattr_fd(long fd, const struct ksetattr *a)
{
    struct file *f = get(fd);
    if (!f)
        return -EBADF;
    switch (f->type) {
    case F_HOST:
        return hostfs_setattr(f->host, a);
    case F_FILE:
    case F_DIR:
        return -EROFS;
    default:
        return 0; /* pipes, sockets, devices: in-memory inodes whose attributes are not kept */
    }
}

long sys_fchmodat(long dirfd, long upath, long mode)
{
    struct ksetattr a = {.valid = SETATTR_MODE | SETATTR_CTIME, .mode = (uint32_t)mode & 07777};
    return setattr_at(dirfd, upath, 0, &a);
}

long sys_chmod(long upath, long mode) { return sys_fchmodat(AT_FDCWD, upath, mode); }

long sys_fchmod(long fd, long mode)
{
    struct ksetattr a = {.valid = SETATTR_MODE | SETATTR_CTIME, .mode = (uint32_t)mode & 07777};
    return setattr_fd(fd, &a);
}

static void owner_attr(long uid, long gid, struct ksetattr *a)
{
    memset(a, 0, sizeof *a);
    a->valid = SETATTR_CTIME;
    if ((uint32_t)uid != (uint32_t)-1) {
        a->valid |= SETATTR_UID;
        a->uid = (uint32_t)uid;
    }
    if ((uint32_t)gid != (uint32_t)-1) {
        a->valid |= SETATTR_GID;
        a->gid = (uint32_t)gid;
    }
}

long sys_fchownat(long dirfd, long upath, long uid, long gid, long flags)
{
    if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct ksetattr a;
    owner_attr(uid, gid, &a);
    return setattr_at(dirfd, upath, flags, &a);
}

long sys_chown(long upath, long uid, long gid) { return sys_fchownat(AT_FDCWD, upath, uid, gid, 0); }
long sys_lchown(long upath, long uid, long gid) { return sys_fchownat(AT_FDCWD, upath, uid, gid, AT_SYMLINK_NOFOLLOW); }

long sys_fchown(long fd, long uid, long gid)
{
    struct ksetattr a;
    owner_attr(uid, gid, &a);
    return setattr_fd(fd, &a);
}

#define UTIME_NOW ((1l << 30) - 1)
#define UTIME_OMIT ((1l << 30) - 2)

long sys_utimensat(long dirfd, long upath, long utimes, long flags)
{
    if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct ksetattr a = {.valid = SETATTR_ATIME | SETATTR_MTIME | SETATTR_CTIME};
    if (utimes) {
        if (!user_ok((uintptr_t)utimes, 2 * sizeof(struct timespec_k), PROT_READ))
            return -EFAULT;
        const struct timespec_k *t = (const struct timespec_k *)utimes;
        struct timespec_k *to[2] = {&a.atime, &a.mtime};
        for (int i = 0; i < 2; i++) {
            if (t[i].nsec == UTIME_OMIT) {
                a.valid &= ~(unsigned)(i ? SETATTR_MTIME : SETATTR_ATIME);
            } else if (t[i].nsec != UTIME_NOW) {
                if (t[i].nsec < 0 || t[i].nsec >= 1000000000)
                    return -EINVAL;
                *to[i] = t[i];
                a.valid |= i ? SETATTR_MTIME_SET : SETATTR_ATIME_SET;
            }
        }
        if (!(a.valid & (SETATTR_ATIME | SETATTR_MTIME)))
            a.valid = 0; /* both omitted: only the checks below */
    }
    if (!upath)
        return setattr_fd(dirfd, &a); /* futimens */
    return setattr_at(dirfd, upath, flags, &a);
}

long sys_truncate(long upath, long len)
{
    if (len < 0)
        return -EINVAL;
    struct ksetattr a = {.valid = SETATTR_SIZE, .size = (uint64_t)len};
    return setattr_at(AT_FDCWD, upath, 0, &a);
}

/* --- sendfile: file to anything, through a kernel buffer --- */
long sys_sendfile(long out_fd, long in_fd, long uoff, long count)
{
    struct file *in = get(in_fd), *out = get(out_fd);
    if (!in || !out)
        return -EBADF;
    if ((in->flags & O_ACCMODE) == O_WRONLY || (out->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    if (in->type != F_FILE && in->type != F_MEM && !(in->type == F_HOST && !in->host_dir))
        return -EINVAL; /* the source must be a file one can mmap or seek */
    if (out->flags & O_APPEND)
        return -EINVAL;
    if (count < 0)
        return -EINVAL;
    uint64_t off = in->off;
    if (uoff) {
        if (!user_ok((uintptr_t)uoff, 8, PROT_READ | PROT_WRITE))
            return -EFAULT;
        if (*(int64_t *)uoff < 0)
            return -EINVAL;
        off = *(uint64_t *)uoff;
    }
    size_t chunk = count < 65536 ? (size_t)count : 65536;
    char *buf = chunk ? kmalloc(chunk) : 0;
    if (chunk && !buf)
        return -ENOMEM;
    in->refs++; /* reads and writes may sleep: a close meanwhile must not free them */
    out->refs++;
    long done = 0, rc = 0;
    while (done < count) {
        size_t want = (size_t)(count - done) < chunk ? (size_t)(count - done) : chunk;
        uint64_t at = off;
        long n = do_read(in, buf, want, &at);
        if (n <= 0) {
            rc = n;
            break;
        }
        long w = do_write(out, buf, (size_t)n, 0);
        if (w <= 0) {
            rc = w;
            break;
        }
        off += (uint64_t)w;
        done += w;
        if (w < n)
            break;
    }
    kfree(buf);
    if (!uoff)
        in->off = off;
    else if (user_ok((uintptr_t)uoff, 8, PROT_READ | PROT_WRITE))
        *(uint64_t *)uoff = off;
    else if (!done)
        rc = -EFAULT;
    put(in);
    put(out);
    return done ? done : rc;
}
