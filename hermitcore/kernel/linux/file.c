/* Open files, inodes and the descriptor table: the lifetimes and the rules
 * every kind of file shares (access modes, O_APPEND, shared mappings told
 * of writes, SIGPIPE). What a read or a write does is the kind's own
 * (struct file_ops, vfs.h). */
#include "vfs.h"
#include <hermit/heap.h>
#include <hermit/printk.h>

struct fd {
    struct file *file;
    int cloexec;
};

/* A process's descriptors (fork copies them, CLONE_FILES shares them). */
struct fdtable {
    int refs;
    struct fd fd[MAX_FDS];
    struct fdtable *next; /* all of them */
};
static struct fdtable first_table = {1};
static struct fdtable *all_tables = &first_table;

void fdt_each_file(void (*fn)(struct file *f, void *arg), void *arg)
{
    for (struct fdtable *t = all_tables; t; t = t->next)
        for (int i = 0; i < MAX_FDS; i++)
            if (t->fd[i].file)
                fn(t->fd[i].file, arg);
}
#define fds (current_process()->files->fd) /* the calling process's */
/* RLIMIT_NOFILE: descriptors are below it (sys.c's setrlimit lowers it). */
unsigned fd_limit = MAX_FDS;

struct fdtable *fdt_first(void) { return &first_table; }

struct fdtable *fdt_fork(struct fdtable *t)
{
    struct fdtable *n = kzalloc(sizeof *n);
    if (!n)
        return 0;
    n->refs = 1;
    for (int i = 0; i < MAX_FDS; i++)
        if ((n->fd[i] = t->fd[i]).file)
            file_get(n->fd[i].file);
    n->next = all_tables;
    all_tables = n;
    return n;
}

struct fdtable *fdt_share(struct fdtable *t)
{
    t->refs++;
    return t;
}

/* The last process using it is done: every descriptor closes. */
void fdt_put(struct fdtable *t)
{
    if (!t || --t->refs > 0)
        return;
    for (int i = 0; i < MAX_FDS; i++) {
        struct file *f = t->fd[i].file;
        if (f) {
            t->fd[i].file = 0;
            file_put(f);
        }
    }
    for (struct fdtable **p = &all_tables; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    if (t != &first_table)
        kfree(t);
}

/* exec: O_CLOEXEC descriptors close (a table shared with a vfork parent is
 * copied first: the parent keeps its own). */
void fdt_close_on_exec(void)
{
    struct process *p = current_process();
    if (p->files->refs > 1) {
        struct fdtable *n = fdt_fork(p->files);
        if (n) {
            p->files->refs--;
            p->files = n;
        }
    }
    for (int i = 0; i < MAX_FDS; i++)
        if (fds[i].file && fds[i].cloexec)
            fd_close(i);
}

/* --- inodes --- */
struct inode *inode_new(struct superblock *sb, const struct inode_ops *ops, const struct file_ops *fops,
                        uint32_t mode, uint64_t ino, void *priv)
{
    struct inode *i = kzalloc(sizeof *i);
    if (i)
        *i = (struct inode){ops, fops, sb, 1, mode, ino, priv};
    return i;
}

void inode_get(struct inode *ino) { ino->refs++; }

void inode_put(struct inode *ino)
{
    if (--ino->refs > 0)
        return;
    if ((ino->mode & S_IFMT) == S_IFREG && vm_file_shared())
        vm_file_evicted(inode_lock_key(ino)); /* (vm.c's page cache) */
    if (ino->ops->evict)
        ino->ops->evict(ino);
    kfree(ino);
}

uint64_t vfs_new_dev(void)
{
    static uint64_t next = 0x20; /* anonymous block devices 0:32 on, as Linux numbers tmpfs instances */
    return next++;
}

long vfs_getattr(struct inode *ino, struct kstat *st)
{
    memset(st, 0, sizeof *st);
    long rc = ino->ops->getattr ? ino->ops->getattr(ino, st) : 0;
    if (!ino->ops->getattr) {
        st->mode = ino->mode;
        st->nlink = 1;
        st->blksize = 4096;
    }
    st->dev = ino->sb ? ino->sb->dev : st->dev;
    if (!st->ino)
        st->ino = ino->ino;
    return rc;
}

/* --- open files --- */
struct file *file_new(const struct file_ops *ops, struct inode *inode, void *priv, int flags)
{
    struct file *f = kzalloc(sizeof *f);
    if (!f)
        return 0;
    f->ops = ops;
    f->inode = inode;
    f->priv = priv;
    f->refs = 1;
    f->flags = flags;
    if (inode)
        inode_get(inode);
    return f;
}

void file_get(struct file *f) { f->refs++; }

void file_put(struct file *f)
{
    if (--f->refs > 0)
        return;
    if (locks_held()) { /* the open file's own locks: OFD record locks and flock */
        rlock_release((struct lock_key){0, 0}, f);
        flock_release(f);
    }
    if (f->ops->release)
        f->ops->release(f);
    if (f->inode)
        inode_put(f->inode);
    kfree(f->path);
    kfree(f);
}

/* A file system's inode: its device (above the small kinds locks.c keeps
 * for anonymous objects) and its number. */
struct lock_key inode_lock_key(struct inode *ino)
{
    return (struct lock_key){ino->sb ? ino->sb->dev + 16 : 4, ino->ino};
}

long file_lock_key(struct file *f, struct lock_key *key)
{
    if (!f->lock_key.kind)
        f->lock_key = f->inode ? inode_lock_key(f->inode) : (struct lock_key){2, (uintptr_t)(f->priv ? f->priv : f)};
    *key = f->lock_key;
    return 0;
}

long file_stat(struct file *f, struct kstat *st)
{
    if (f->ops->stat)
        return f->ops->stat(f, st);
    if (f->inode)
        return vfs_getattr(f->inode, st);
    /* pipes, sockets, epoll: in-memory inodes of anonymous file systems */
    memset(st, 0, sizeof *st);
    st->dev = 0x0c;
    st->ino = ((uintptr_t)(f->priv ? f->priv : f) >> 4) & 0xffffff;
    st->mode = f->ops->mode | 0600;
    st->nlink = 1;
    st->blksize = 4096;
    return 0;
}

long file_size(struct file *f, uint64_t *size)
{
    struct kstat st;
    long rc = file_stat(f, &st);
    *size = rc < 0 ? 0 : st.size;
    return rc < 0 ? rc : 0;
}

long file_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    if ((f->flags & O_ACCMODE) == O_WRONLY)
        return -EBADF;
    if (!f->ops->read)
        return f->ops->getdents ? -EISDIR : -EINVAL;
    return f->ops->read(f, buf, n, off);
}

/* A write to a pipe without readers, or a socket shut for writing, raises
 * SIGPIPE (its default action ends the program with 141); ignored, the
 * write fails with EPIPE. A write to a file mapped shared reaches the
 * mapped pages too, so mappings see it and a later write-back cannot undo
 * it; `user` says buf is the program's (checked again: the write may have
 * slept since the system call checked it). */
long file_write(struct file *f, const char *buf, size_t n, uint64_t *off, int user)
{
    if ((f->flags & O_ACCMODE) == O_RDONLY || !f->ops->write)
        return f->ops->getdents ? -EISDIR : -EBADF;
    if ((f->flags & O_APPEND) && (f->ops->flags & FOPS_SEEKABLE)) {
        long rc = file_size(f, off);
        if (rc < 0)
            return rc;
    }
    if ((f->ops->flags & FOPS_MMAP) && vm_file_shared()) {
        struct lock_key key;
        file_lock_key(f, &key);
        vm_file_written(key, *off, !user || user_ok((uintptr_t)buf, n, PROT_READ) ? buf : 0, n);
    }
    long r = f->ops->write(f, buf, n, off);
    if (r == -EPIPE)
        signal_self(13);
    return r;
}

/* --- the descriptor table --- */
struct file *fd_get_raw(long lfd)
{
    int fd = (int)lfd; /* descriptors are C ints: the upper half of the register is not theirs */
    if (fd < 0 || fd >= MAX_FDS || !fds[fd].file)
        return 0;
    file_get(fds[fd].file);
    return fds[fd].file;
}

struct file *fd_get(long lfd)
{
    struct file *f = fd_get_raw(lfd);
    if (f && (f->flags & O_PATH)) { /* EBADF to the calls that would use it */
        file_put(f);
        return 0;
    }
    return f;
}

long fd_alloc(struct file *f, int cloexec, int min)
{
    for (int i = min < 0 ? 0 : min; i < (int)fd_limit; i++) {
        if (!fds[i].file) {
            fds[i].file = f;
            fds[i].cloexec = cloexec;
            return i;
        }
    }
    return -EMFILE;
}

/* Put f at newfd (closing what was there); the table takes a new reference. */
long fd_replace(long newfd, struct file *f, int cloexec)
{
    if (newfd < 0 || newfd >= fd_limit)
        return -EBADF;
    file_get(f); /* the new descriptor's reference, taken first: closing newfd may sleep */
    while (fds[newfd].file)
        fd_close(newfd);
    fds[newfd].file = f;
    fds[newfd].cloexec = cloexec;
    return newfd;
}

long fd_close(long lfd)
{
    int fd = (int)lfd;
    if (fd < 0 || fd >= MAX_FDS || !fds[fd].file)
        return -EBADF;
    struct file *f = fds[fd].file;
    fds[fd].file = 0;
    struct lock_key key;
    if (locks_held() && file_lock_key(f, &key) == 0)
        rlock_release(key, lock_process()); /* POSIX: any close of the file drops the process's locks */
    file_put(f);
    return 0;
}

int fd_cloexec(long fd, int set)
{
    if (fd < 0 || fd >= MAX_FDS || !fds[fd].file)
        return -EBADF;
    if (set >= 0)
        fds[fd].cloexec = set;
    return fds[fd].cloexec;
}

long fd_install(const struct file_ops *ops, void *obj, int flags)
{
    struct file *f = file_new(ops, 0, obj, O_RDWR | (flags & O_NONBLOCK));
    if (!f)
        return -ENOMEM;
    long fd = fd_alloc(f, (flags & O_CLOEXEC) != 0, 0);
    if (fd < 0) {
        f->ops = &(const struct file_ops){0}; /* the caller still owns obj: no release */
        file_put(f);
    }
    return fd;
}

void *fd_object(long lfd, const struct file_ops *ops, long wrong_kind, int *flags, long *err)
{
    int fd = (int)lfd;
    struct file *f = fd >= 0 && fd < MAX_FDS ? fds[fd].file : 0;
    if (!f || f->ops != ops) {
        *err = f ? wrong_kind : -EBADF;
        return 0;
    }
    if (flags)
        *flags = f->flags;
    return f->priv;
}

short fd_poll(long lfd)
{
    int fd = (int)lfd;
    struct file *f = fd >= 0 && fd < MAX_FDS ? fds[fd].file : 0;
    if (!f || (f->flags & O_PATH))
        return POLLNVAL;
    return f->ops->poll ? f->ops->poll(f) : POLLIN | POLLOUT;
}

/* --- files behind mmap (vm.c): a mapping holds a reference to its open file --- */
/* Whether fd is open (not O_PATH): mmap's first check (Linux's fget), before
 * it looks at the length, the address or what the file allows. */
int fs_fd_valid(long fd)
{
    struct file *f = fd_get(fd);
    if (f)
        file_put(f);
    return f != 0;
}

const char *fs_file_path(void *file) { return ((struct file *)file)->path; }

long fs_mmap_file(long fd, int shared, int write, void **file, struct lock_key *key)
{
    struct file *f = fd_get(fd);
    if (!f)
        return -EBADF;
    long rc = 0;
    int acc = f->flags & O_ACCMODE;
    if (!(f->ops->flags & FOPS_MMAP))
        rc = -ENODEV; /* pipes, sockets, devices, directories */
    else if (acc == O_WRONLY || (shared && write && acc != O_RDWR))
        rc = -EACCES;
    if (rc < 0) {
        file_put(f);
        return rc;
    }
    file_lock_key(f, key);
    *file = f;
    return 0;
}

int fs_file_writable(void *file) { return (((struct file *)file)->flags & O_ACCMODE) == O_RDWR; }
void fs_file_put(void *file) { file_put(file); }
long fs_file_size(void *file, uint64_t *size) { return file_size(file, size); }

/* A tmpfs file's pages may be cached (vm.c): every change to its bytes
 * passes file_write, truncate_inode or the eviction above. A 9P file may
 * change on the host: it is read afresh. */
int fs_file_cacheable(void *file, struct lock_key *key)
{
    struct file *f = file;
    if (!f->inode || !f->inode->sb || f->inode->sb->magic != TMPFS_MAGIC || (f->inode->mode & S_IFMT) != S_IFREG)
        return 0;
    file_lock_key(f, key);
    return 1;
}

long fs_file_pread(void *file, void *buf, size_t n, uint64_t off)
{
    struct file *f = file;
    return f->ops->read(f, buf, n, &off);
}

long fs_file_pwrite(void *file, const void *buf, size_t n, uint64_t off)
{
    struct file *f = file; /* the write-back of a shared mapping: the pages already have it */
    return f->ops->write ? f->ops->write(f, buf, n, &off) : -EROFS;
}

/* --- helpers for file systems --- */
unsigned dtype_of(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return DT_DIR;
    case S_IFREG: return DT_REG;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    case S_IFBLK: return 6; /* DT_BLK */
    }
    return DT_UNKNOWN;
}

int dir_emit(struct dir_sink *s, const char *name, size_t len, uint64_t ino, unsigned dtype, uint64_t next)
{
    size_t head = __builtin_offsetof(struct linux_dirent64, d_name); /* 19, as Linux counts */
    size_t reclen = (head + len + 1 + 7) & ~(size_t)7;
    if (s->used + reclen > s->cap)
        return 0;
    struct linux_dirent64 *d = (struct linux_dirent64 *)(s->buf + s->used);
    d->d_ino = ino ? ino : 1;
    d->d_off = (int64_t)next;
    d->d_reclen = (uint16_t)reclen;
    d->d_type = (uint8_t)dtype;
    memcpy(d->d_name, name, len);
    memset(d->d_name + len, 0, reclen - head - len);
    s->used += reclen;
    return 1;
}

static void sb_grow(struct seqbuf *s, size_t need)
{
    if (s->oom || s->len + need + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + need + 1)
        cap *= 2;
    char *b = kmalloc(cap);
    if (!b) {
        s->oom = 1;
        return;
    }
    if (s->buf) {
        memcpy(b, s->buf, s->len);
        kfree(s->buf);
    }
    s->buf = b;
    s->cap = cap;
}

void sb_write(struct seqbuf *s, const char *p, size_t n)
{
    sb_grow(s, n);
    if (s->oom)
        return;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = 0;
}

void sb_printf(struct seqbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintk(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sb_write(s, small, (size_t)n);
        return;
    }
    sb_grow(s, (size_t)n);
    if (s->oom)
        return;
    va_start(ap, fmt);
    vsnprintk(s->buf + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

void sb_free(struct seqbuf *s)
{
    kfree(s->buf);
    *s = (struct seqbuf){0};
}

char *kstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = kmalloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Files the kernel makes while it sets up (the tree, /tmp, /dev, /etc...)
 * take the host's time at launch, as hermit.epoch gave it: asking the clock
 * would calibrate it (x86 with no TSC frequency in CPUID: 10 ms of the
 * PIT), and a program that never asks for time should not wait for that.
 * From the program's first instruction on, the clock. */
static int setting_up = 1;
void vfs_program_starts(void) { setting_up = 0; }

long vfs_now(struct timespec_k *t)
{
    uint64_t ns = setting_up ? realtime_offset_ns() : realtime_ns();
    t->sec = (int64_t)(ns / 1000000000u);
    t->nsec = (int64_t)(ns % 1000000000u);
    return 0;
}
