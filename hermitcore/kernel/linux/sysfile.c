/* The file system calls: argument decoding and Linux's checks, then the
 * VFS (vfs.h). Names go through vfs_lookup*, I/O through file.c's
 * file_read/file_write, what a file is through its file system's ops. */
#include "vfs.h"
#include <hermit/heap.h>

/* Path buffers (path_get) go back at the end of their scope: a call nests
 * several (user string, canonical path, ...) and 4 KiB each on a kernel
 * stack adds up. */
static void path_release(char **p) { path_put(*p); }
#define PATHBUF(name) char *name __attribute__((cleanup(path_release))) = path_get()
static void inode_release(struct inode **i) { if (*i) inode_put(*i); }
#define INODE(name) struct inode *name __attribute__((cleanup(inode_release))) = 0
static void file_release(struct file **f) { if (*f) file_put(*f); }
#define FILE(name, fd) struct file *name __attribute__((cleanup(file_release))) = fd_get(fd)
#define FILE_RAW(name, fd) struct file *name __attribute__((cleanup(file_release))) = fd_get_raw(fd)
#define FILE_HOLD(name) struct file *name __attribute__((cleanup(file_release))) = 0

#define AT_FDCWD -100
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define AT_EMPTY_PATH 0x1000
#define O_NOCTTY 0400
#define O_TMPFILE (020000000 | O_DIRECTORY)

#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#define SEEK_DATA 3
#define SEEK_HOLE 4

#define umask_bits (current_process()->umask) /* the calling process's */
unsigned vfs_umask(void) { return umask_bits; }

static int is_dir(const struct inode *i) { return (i->mode & S_IFMT) == S_IFDIR; }
static int rdonly(const struct inode *i) { return i->sb && (i->sb->flags & SB_RDONLY); }

/* --- names --- */

/* A program's path into a PATHBUF: its length, or -ENOMEM (no buffer),
 * -EFAULT, -ENAMETOOLONG. */
static long user_path(long upath, char *path)
{
    return path ? user_str((uintptr_t)upath, path, PATH_MAX) : -ENOMEM;
}

/* The directory a relative path starts from: the working directory, or an
 * *at() call's dirfd (whose reference *hold keeps). */
static long base_of(long dirfd, const char *path, struct vpath *base, struct file **hold)
{
    *hold = 0;
    if (path[0] == '/' || (int)dirfd == AT_FDCWD) {
        *base = vfs_cwd();
        return 0;
    }
    struct file *d = fd_get_raw(dirfd);
    if (!d)
        return -EBADF;
    if (!d->inode || !is_dir(d->inode) || !d->path) {
        file_put(d);
        return -ENOTDIR;
    }
    *base = (struct vpath){d->inode, d->path};
    *hold = d;
    return 0;
}

/* Look a program's path up (relative to dirfd): the inode in *out, the
 * canonical path in abs (may be NULL). AT_EMPTY_PATH with "" gives dirfd's
 * own inode (-EBADF without one: a pipe's caller uses the file instead). */
static long lookup_at(long dirfd, long upath, unsigned flags, int at_flags, struct inode **out, char *abs)
{
    PATHBUF(path);
    long rc = user_path(upath, path);
    if (rc < 0)
        return rc;
    if (!path[0]) {
        if (!(at_flags & AT_EMPTY_PATH))
            return -ENOENT;
        if ((int)dirfd == AT_FDCWD) {
            struct vpath cwd = vfs_cwd();
            inode_get(cwd.inode);
            *out = cwd.inode;
            if (abs)
                memcpy(abs, cwd.path, strlen(cwd.path) + 1);
            return 0;
        }
        FILE_RAW(f, dirfd);
        if (!f)
            return -EBADF;
        if (!f->inode)
            return -EBADF;
        inode_get(f->inode);
        *out = f->inode;
        if (abs)
            memcpy(abs, f->path ? f->path : "", strlen(f->path ? f->path : "") + 1);
        return 0;
    }
    struct vpath base;
    FILE_HOLD(hold);
    if ((rc = base_of(dirfd, path, &base, &hold)) < 0)
        return rc;
    return vfs_lookup(base, path, flags, out, abs);
}

/* The parent directory of a program's path and its last name; *slash:
 * the path ends in "/" (its last name must be a directory). */
static long parent_at(long dirfd, long upath, struct inode **dir, char *abs, char *name, int *slash)
{
    PATHBUF(path);
    long rc = user_path(upath, path);
    if (rc < 0)
        return rc;
    if (!path[0])
        return -ENOENT;
    *slash = path[rc - 1] == '/';
    struct vpath base;
    FILE_HOLD(hold);
    if ((rc = base_of(dirfd, path, &base, &hold)) < 0)
        return rc;
    return vfs_lookup_parent(base, path, dir, abs, name);
}

static int dot_name(const char *name) { return !strcmp(name, ".") || !strcmp(name, ".."); }

/* --- open and close --- */

/* An open file for inode ino (flags from open(2)). */
static long open_inode(struct inode *ino, int flags, struct file **out)
{
    long rc = 0;
    struct file *f = 0;
    flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC); /* the open's, not the file's */
    switch (ino->mode & S_IFMT) {
    case S_IFCHR: {
        struct kstat st;
        if ((rc = vfs_getattr(ino, &st)) < 0)
            return rc;
        f = chrdev_open(ino, st.rdev, flags, &rc);
        break;
    }
    case S_IFIFO:
        f = fifo_open(ino, flags, &rc);
        break;
    case S_IFSOCK:
    case S_IFBLK:
        return -ENXIO;
    default:
        if (!ino->fops)
            return -ENXIO;
        f = file_new(ino->fops, ino, 0, flags);
        if (!f)
            return -ENOMEM;
        if (ino->ops->open && (rc = ino->ops->open(ino, f)) < 0) {
            f->ops = &(const struct file_ops){0}; /* never opened: nothing to release */
            file_put(f);
            return rc;
        }
    }
    if (!f)
        return rc ? rc : -ENOMEM;
    *out = f;
    return 0;
}

/* execve's open: the regular file at path (from dirfd; AT_EMPTY_PATH: dirfd
 * itself), executable by someone, read-only, its canonical path in abs. */
long vfs_open_exec(long dirfd, const char *path, int at_flags, struct file **out, char *abs)
{
    struct vpath base;
    FILE_HOLD(hold);
    INODE(ino);
    long rc;
    if (!path[0]) {
        if (!(at_flags & AT_EMPTY_PATH))
            return -ENOENT;
        struct file *f = fd_get_raw(dirfd); /* (fexecve of an O_PATH descriptor) */
        if (!f)
            return -EBADF;
        hold = f;
        if (!f->inode)
            return -EACCES;
        ino = f->inode;
        inode_get(ino);
        snprintk(abs, PATH_MAX, "%s", f->path ? f->path : "");
    } else {
        if ((rc = base_of(dirfd, path, &base, &hold)) < 0)
            return rc;
        if ((rc = vfs_lookup(base, path, (at_flags & AT_SYMLINK_NOFOLLOW) ? 0 : LOOKUP_FOLLOW, &ino, abs)) < 0)
            return rc;
    }
    if ((ino->mode & S_IFMT) == S_IFLNK)
        return -ELOOP;
    struct kstat st; /* the file system's word on the mode (a --mount's walk only guessed it) */
    if ((rc = vfs_getattr(ino, &st)) < 0)
        return rc;
    if ((st.mode & S_IFMT) != S_IFREG || !(st.mode & 0111))
        return -EACCES;
    return open_inode(ino, O_RDONLY, out);
}

static long truncate_inode(struct inode *ino, uint64_t size)
{
    if (!ino->ops->setattr)
        return -EPERM;
    struct ksetattr a = {.valid = SETATTR_SIZE | SETATTR_MTIME | SETATTR_CTIME, .size = size};
    if (vm_file_shared())
        vm_file_truncated(inode_lock_key(ino), size);
    return ino->ops->setattr(ino, &a);
}

/* O_PATH: a descriptor that names a file (for *at(), fstat, fchdir) and
 * does no I/O. */
static const struct file_ops path_ops = {.kind = "path"};

static long open_path(struct vpath base, const char *path, int flags, unsigned mode, int depth);

/* O_CREAT at the parent's name: a new file, the existing one, or -- a
 * dangling symlink's name -- the link's target, made as Linux makes it. */
static long open_create(struct vpath base, const char *path, int flags, unsigned mode, int depth,
                        struct inode **ino, char *abs, int *created)
{
    INODE(dir);
    char name[256];
    long rc = vfs_lookup_parent(base, path, &dir, abs, name);
    if (rc < 0)
        return rc;
    size_t plen = strlen(path);
    if (!name[0] || dot_name(name) || path[plen - 1] == '/')
        return -EISDIR;
    if (!dir->ops->create)
        return -EACCES;
    if (!rdonly(dir))
        rc = dir->ops->create(dir, name, S_IFREG | (mode & 07777 & ~umask_bits), 0, 0, ino);
    else
        rc = dir->ops->lookup(dir, name, ino) == 0 ? -EEXIST : -EROFS;
    if (rc == -EEXIST && !(flags & O_EXCL)) { /* made meanwhile, or a dangling symlink */
        if ((rc = dir->ops->lookup(dir, name, ino)) < 0)
            return rc;
        if (((*ino)->mode & S_IFMT) == S_IFLNK && !(flags & O_NOFOLLOW) && (*ino)->ops->readlink) {
            PATHBUF(target);
            if (!target)
                return -ENOMEM;
            long n = (*ino)->ops->readlink(*ino, target, PATH_MAX - 1);
            inode_put(*ino);
            *ino = 0;
            if (n <= 0)
                return n < 0 ? n : -ENOENT;
            target[n] = 0;
            if (depth >= 40)
                return -ELOOP;
            return open_path((struct vpath){dir, abs}, target, flags, mode, depth + 1); /* an fd: done */
        }
        return 0;
    }
    if (rc < 0)
        return rc;
    *created = 1;
    size_t n = strlen(abs);
    if (n + 1 + strlen(name) + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    if (n > 1)
        abs[n++] = '/';
    memcpy(abs + n, name, strlen(name) + 1);
    return 0;
}

/* open(2) of a kernel path from base: the new fd. */
static long open_path(struct vpath base, const char *path, int flags, unsigned mode, int depth)
{
    int acc = flags & O_ACCMODE;
    PATHBUF(abs);
    if (!abs)
        return -ENOMEM;
    INODE(ino);
    long rc;
    int created = 0;
    if (!path[0])
        return -ENOENT;
    if ((flags & O_TMPFILE) == O_TMPFILE) {
        if (acc == O_RDONLY)
            return -EINVAL;
        INODE(dir);
        if ((rc = vfs_lookup(base, path, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &dir, abs)) < 0)
            return rc;
        if (rdonly(dir))
            return -EROFS;
        if (!dir->ops->create || !dir->ops->unlink || !dir->sb || strcmp(dir->sb->fstype, "tmpfs"))
            return -EOPNOTSUPP; /* an unnamed file needs a file system that keeps it: tmpfs (9P: as Linux's v9fs) */
        static unsigned seq;
        char name[32];
        snprintk(name, sizeof name, ".#tmpfile.%u", seq++);
        if ((rc = dir->ops->create(dir, name, S_IFREG | (mode & 07777 & ~umask_bits), 0, 0, &ino)) < 0)
            return rc;
        dir->ops->unlink(dir, name, 0); /* unnamed from the start: linkat may name it */
        if (!(flags & O_EXCL))
            ino->vflags |= I_LINKABLE;
        created = 1;
        flags &= ~O_TMPFILE;
    } else if (flags & O_CREAT) {
        rc = vfs_lookup(base, path, (flags & (O_NOFOLLOW | O_EXCL)) ? 0 : LOOKUP_FOLLOW, &ino, abs);
        if (rc == 0 && (flags & O_EXCL))
            return -EEXIST;
        if (rc == -ENOENT) {
            struct inode *made = 0;
            rc = open_create(base, path, flags, mode, depth, &made, abs, &created);
            if (rc != 0 || !made) /* an error, or the fd of a symlink's target */
                return rc;
            ino = made;
        } else if (rc < 0) {
            return rc;
        }
    } else {
        unsigned lf = (flags & O_NOFOLLOW) ? 0 : LOOKUP_FOLLOW;
        if ((flags & O_DIRECTORY))
            lf |= LOOKUP_DIRECTORY;
        if ((rc = vfs_lookup(base, path, lf, &ino, abs)) < 0)
            return rc;
    }
    struct file *f;
    uint32_t type = ino->mode & S_IFMT;
    if (flags & O_PATH) {
        if ((flags & O_DIRECTORY) && type != S_IFDIR)
            return -ENOTDIR;
        if (!(f = file_new(&path_ops, ino, 0, O_PATH | (flags & O_DIRECTORY))))
            return -ENOMEM;
        f->path = kstrdup(abs);
    } else if (ino->ops->magic) { /* /proc/self/fd/N: that very file again */
        if (!(f = ino->ops->magic(ino)))
            return -ENOENT;
    } else {
        if (type == S_IFLNK)
            return -ELOOP; /* O_NOFOLLOW on a symlink */
        if ((flags & O_DIRECTORY) && type != S_IFDIR)
            return -ENOTDIR;
        if (type == S_IFDIR && (acc != O_RDONLY || ((flags & O_CREAT) && !created)))
            return -EISDIR;
        int writes = acc != O_RDONLY || ((flags & O_TRUNC) && type == S_IFREG);
        if (writes && rdonly(ino) && (type == S_IFREG || type == S_IFDIR || type == S_IFLNK))
            return -EROFS;
        if ((rc = open_inode(ino, flags, &f)) < 0)
            return rc;
        if ((flags & O_TRUNC) && type == S_IFREG && acc != O_RDONLY && !created) {
            if ((rc = truncate_inode(ino, 0)) < 0) {
                file_put(f);
                return rc;
            }
        }
        if (!f->path)
            f->path = kstrdup(abs);
    }
    rc = fd_alloc(f, (flags & O_CLOEXEC) != 0, 0);
    if (rc < 0)
        file_put(f);
    return rc;
}

long sys_openat(long dirfd, long upath, long lflags, long mode)
{
    PATHBUF(path);
    long rc = user_path(upath, path);
    if (rc < 0)
        return rc;
    struct vpath base;
    FILE_HOLD(hold);
    if ((rc = base_of(dirfd, path, &base, &hold)) < 0)
        return rc;
    return open_path(base, path, (int)lflags, (unsigned)mode, 0);
}

long sys_open(long upath, long flags, long mode) { return sys_openat(AT_FDCWD, upath, flags, mode); }
long sys_creat(long upath, long mode) { return sys_openat(AT_FDCWD, upath, O_CREAT | O_WRONLY | O_TRUNC, mode); }
long sys_close(long fd) { return fd_close(fd); }

/* close_range(first, last, flags): close (or with CLOSE_RANGE_CLOEXEC mark
 * close-on-exec) every open descriptor in [first, last] (glibc's closefrom,
 * Python's subprocess). CLOSE_RANGE_UNSHARE (a table of the caller's own
 * first) is refused with -EINVAL: no caller we know uses it. */
long sys_close_range(long first, long last, long flags)
{
    unsigned lo = (unsigned)first, hi = (unsigned)last;
    if ((unsigned long)flags & ~4ul || lo > hi)
        return -EINVAL;
    for (unsigned fd = lo; fd < MAX_FDS && fd <= hi; fd++)
        if (flags & 4)
            fd_cloexec(fd, 1);
        else
            fd_close(fd);
    return 0;
}

/* --- reading and writing --- */
long sys_read(long fd, long buf, long count)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_WRITE))
        return -EFAULT;
    return file_read(f, (char *)buf, (size_t)count, &f->off);
}

long sys_write(long fd, long buf, long count)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_READ))
        return -EFAULT;
    return file_write(f, (const char *)buf, (size_t)count, &f->off, 1);
}

/* pread/pwrite: at an offset of the caller's, for files that have them. */
static long positional(struct file *f, long offset)
{
    if (!f)
        return -EBADF;
    if (!(f->ops->flags & FOPS_SEEKABLE))
        return -ESPIPE;
    return offset < 0 ? -EINVAL : 0;
}

long sys_pread64(long fd, long buf, long count, long offset)
{
    FILE(f, fd);
    long rc = positional(f, offset);
    if (rc < 0)
        return rc;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_WRITE))
        return -EFAULT;
    uint64_t off = (uint64_t)offset;
    return file_read(f, (char *)buf, (size_t)count, &off);
}

long sys_pwrite64(long fd, long buf, long count, long offset)
{
    FILE(f, fd);
    long rc = positional(f, offset);
    if (rc < 0)
        return rc;
    if (!user_ok((uintptr_t)buf, (size_t)count, PROT_READ))
        return -EFAULT;
    uint64_t off = (uint64_t)offset; /* with O_APPEND, Linux writes at the end all the same */
    return file_write(f, (const char *)buf, (size_t)count, &off, 1);
}

#define UIO_MAXIOV 1024
#define MAX_RW_COUNT 0x7ffff000L /* INT_MAX rounded down to a page: the most one call moves */

/* Linux's import_iovec comes before any byte moves: the count (at most
 * UIO_MAXIOV), the array, every length (negative as an ssize_t: EINVAL),
 * then every range (beyond the program's half: EFAULT; an unmapped one is
 * found when its turn comes). The total is capped at MAX_RW_COUNT. */
static long do_iov(struct file *f, long uiov, long cnt, int write, uint64_t *off)
{
    if ((unsigned long)cnt > UIO_MAXIOV)
        return -EINVAL;
    if (!user_ok((uintptr_t)uiov, (size_t)cnt * sizeof(struct iovec_k), PROT_READ))
        return -EFAULT;
    const struct iovec_k *iov = (const struct iovec_k *)uiov;
    for (long i = 0; i < cnt; i++)
        if ((long)iov[i].len < 0)
            return -EINVAL;
    for (long i = 0; i < cnt; i++)
        if ((uintptr_t)iov[i].base + iov[i].len < (uintptr_t)iov[i].base ||
            (uintptr_t)iov[i].base + iov[i].len > USER_LIMIT)
            return -EFAULT;
    long total = 0;
    for (long i = 0; i < cnt && total < MAX_RW_COUNT; i++) {
        size_t len = iov[i].len < (size_t)(MAX_RW_COUNT - total) ? iov[i].len : (size_t)(MAX_RW_COUNT - total);
        if (!len)
            continue;
        if (!user_ok((uintptr_t)iov[i].base, len, write ? PROT_READ : PROT_WRITE))
            return total ? total : -EFAULT;
        long n = write ? file_write(f, iov[i].base, len, off, 1) : file_read(f, (char *)iov[i].base, len, off);
        if (n < 0)
            return total ? total : n;
        total += n;
        if ((size_t)n < len)
            break;
    }
    return total;
}

long sys_readv(long fd, long iov, long cnt)
{
    FILE(f, fd);
    return f ? do_iov(f, iov, cnt, 0, &f->off) : -EBADF;
}

long sys_writev(long fd, long iov, long cnt)
{
    FILE(f, fd);
    return f ? do_iov(f, iov, cnt, 1, &f->off) : -EBADF;
}

long sys_preadv(long fd, long iov, long cnt, long offset)
{
    FILE(f, fd);
    long rc = positional(f, offset);
    uint64_t off = (uint64_t)offset;
    return rc < 0 ? rc : do_iov(f, iov, cnt, 0, &off);
}

long sys_pwritev(long fd, long iov, long cnt, long offset)
{
    FILE(f, fd);
    long rc = positional(f, offset);
    uint64_t off = (uint64_t)offset;
    return rc < 0 ? rc : do_iov(f, iov, cnt, 1, &off);
}

long sys_lseek(long fd, long offset, long whence)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if (!(f->ops->flags & FOPS_SEEKABLE))
        return -ESPIPE;
    uint64_t size = 0;
    if (whence == SEEK_END || whence == SEEK_DATA || whence == SEEK_HOLE) {
        long rc = file_size(f, &size);
        if (rc < 0)
            return rc;
    }
    int64_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)f->off; break;
    case SEEK_END: base = (int64_t)size; break;
    case SEEK_DATA: /* no holes are reported: data everywhere before the end */
    case SEEK_HOLE:
        if (offset < 0 || (uint64_t)offset >= size)
            return -ENXIO;
        f->off = whence == SEEK_DATA ? (uint64_t)offset : size;
        return (long)f->off;
    default: return -EINVAL;
    }
    if (base + offset < 0)
        return -EINVAL;
    f->off = (uint64_t)(base + offset);
    return (long)f->off;
}

/* --- stat --- */
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
    if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800 /* AT_NO_AUTOMOUNT */ | 0x6000 /* AT_STATX_* */))
        return -EINVAL;
    INODE(ino);
    long rc = lookup_at(dirfd, upath, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : LOOKUP_FOLLOW, (int)flags, &ino, 0);
    if (rc == -EBADF && (flags & AT_EMPTY_PATH)) { /* "" on a pipe, a socket, a standard stream */
        FILE_RAW(f, dirfd);
        return f ? file_stat(f, k) : -EBADF;
    }
    if (rc < 0)
        return rc;
    if (ino->ops->magic && !(flags & AT_SYMLINK_NOFOLLOW)) { /* stat follows /proc/self/fd/N to its file */
        struct file *f = ino->ops->magic(ino);
        if (!f)
            return -ENOENT;
        rc = file_stat(f, k);
        file_put(f);
        return rc;
    }
    return vfs_getattr(ino, k);
}

long sys_fstat(long fd, long ubuf)
{
    FILE_RAW(f, fd);
    if (!f)
        return -EBADF;
    struct kstat k;
    long rc = file_stat(f, &k);
    return rc < 0 ? rc : put_stat(ubuf, &k);
}

long sys_newfstatat(long dirfd, long upath, long ubuf, long flags)
{
    struct kstat k;
    long rc = stat_at(dirfd, upath, &k, flags);
    return rc < 0 ? rc : put_stat(ubuf, &k);
}

long sys_stat(long upath, long ubuf) { return sys_newfstatat(AT_FDCWD, upath, ubuf, 0); }
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

/* glibc's gnu_dev_major/minor: what a dev_t means */
static uint32_t dev_major(uint64_t d) { return (uint32_t)(((d >> 8) & 0xfff) | ((d >> 32) & ~0xfffull)); }
static uint32_t dev_minor(uint64_t d) { return (uint32_t)((d & 0xff) | ((d >> 12) & ~0xffull)); }

long sys_statx(long dirfd, long upath, long flags, long mask, long ubuf)
{
    struct kstat k;
    /* before the path: a reserved mask bit, both AT_STATX_FORCE_SYNC and _DONT_SYNC */
    if (((uint32_t)mask & 0x80000000u /* STATX__RESERVED */) || (flags & 0x6000) == 0x6000)
        return -EINVAL;
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
    s->stx_rdev_major = dev_major(k.rdev);
    s->stx_rdev_minor = dev_minor(k.rdev);
    s->stx_dev_major = dev_major(k.dev);
    s->stx_dev_minor = dev_minor(k.dev);
    return 0;
}

/* --- statfs: what file system a file is on --- */
#define ST_RDONLY 1

struct linux_statfs { /* on 64-bit: x86_64 and asm-generic alike */
    int64_t f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};

static long statfs_sb(struct superblock *sb, struct kstatfs *s)
{
    memset(s, 0, sizeof *s);
    s->bsize = 4096;
    s->namelen = 255;
    long rc = sb->statfs ? sb->statfs(sb, s) : 0;
    s->type = s->type ? s->type : sb->magic;
    if (sb->flags & SB_RDONLY)
        s->flags |= ST_RDONLY;
    if (!s->fsid)
        s->fsid = sb->dev;
    return rc;
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
    INODE(ino);
    long rc = lookup_at(AT_FDCWD, upath, LOOKUP_FOLLOW, 0, &ino, 0);
    if (rc < 0)
        return rc;
    struct kstatfs s;
    if (!ino->sb)
        return -ENOSYS;
    if ((rc = statfs_sb(ino->sb, &s)) < 0)
        return rc;
    return put_statfs(ubuf, &s);
}

long sys_fstatfs(long fd, long ubuf)
{
    FILE_RAW(f, fd);
    if (!f)
        return -EBADF;
    struct kstatfs s;
    long rc = 0;
    if (f->ops->statfs) {
        rc = f->ops->statfs(f, &s);
    } else if (f->inode && f->inode->sb) {
        rc = statfs_sb(f->inode->sb, &s);
    } else {
        memset(&s, 0, sizeof s);
        s.type = f->ops->mode == S_IFSOCK ? SOCKFS_MAGIC : f->ops->mode == S_IFIFO ? PIPEFS_MAGIC : ANON_INODE_FS_MAGIC;
        s.bsize = 4096;
        s.namelen = 255;
    }
    return rc < 0 ? rc : put_statfs(ubuf, &s);
}

/* --- access --- */
#define X_OK 1
#define W_OK 2

long sys_faccessat2(long dirfd, long upath, long mode, long flags)
{
    if (mode & ~7l)
        return -EINVAL;
    INODE(ino);
    long rc = lookup_at(dirfd, upath, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : LOOKUP_FOLLOW, (int)flags, &ino, 0);
    if (rc < 0)
        return rc;
    uint32_t type = ino->mode & S_IFMT;
    if ((mode & W_OK) && rdonly(ino) && (type == S_IFREG || type == S_IFDIR || type == S_IFLNK))
        return -EROFS;
    if (mode & X_OK) { /* root may execute what anyone may, and search any directory */
        struct kstat st;
        if ((rc = vfs_getattr(ino, &st)) < 0)
            return rc;
        if (type != S_IFDIR && !(st.mode & 0111))
            return -EACCES;
    }
    return 0;
}

long sys_faccessat(long dirfd, long upath, long mode) { return sys_faccessat2(dirfd, upath, mode, 0); }
long sys_access(long upath, long mode) { return sys_faccessat2(AT_FDCWD, upath, mode, 0); }

/* --- directories --- */
long sys_getdents64(long fd, long ubuf, long count)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if (!f->ops->getdents)
        return -ENOTDIR;
    if (!user_ok((uintptr_t)ubuf, (size_t)count, PROT_WRITE))
        return -EFAULT;
    struct dir_sink sink = {(char *)ubuf, (size_t)count, 0};
    long rc = f->ops->getdents(f, &sink);
    if (rc < 0)
        return sink.used ? (long)sink.used : rc;
    return (long)sink.used; /* (a file system says -EINVAL when not one entry fits) */
}

/* An empty path is dirfd itself (Linux >= 2.6.39): an O_PATH|O_NOFOLLOW
 * descriptor of a symlink reads that link; anything else is -ENOENT then. */
long sys_readlinkat(long dirfd, long upath, long ubuf, long size)
{
    INODE(ino);
    if (size <= 0)
        return -EINVAL;
    long rc = lookup_at(dirfd, upath, 0, AT_EMPTY_PATH, &ino, 0);
    if (rc < 0)
        return rc;
    if ((ino->mode & S_IFMT) != S_IFLNK || !ino->ops->readlink)
        return user_ok((uintptr_t)upath, 1, PROT_READ) && *(const char *)upath ? -EINVAL : -ENOENT;
    if (!user_ok((uintptr_t)ubuf, (size_t)size, PROT_WRITE))
        return -EFAULT;
    PATHBUF(target);
    if (!target)
        return -ENOMEM;
    long n = ino->ops->readlink(ino, target, PATH_MAX);
    if (n < 0)
        return n;
    if (n > size)
        n = size;
    memcpy((char *)ubuf, target, (size_t)n);
    return n;
}

long sys_readlink(long upath, long ubuf, long size) { return sys_readlinkat(AT_FDCWD, upath, ubuf, size); }

long sys_getcwd(long ubuf, long size)
{
    struct kstat st;
    long rc = vfs_getattr(vfs_cwd().inode, &st);
    if (rc == -ENOENT || (rc == 0 && st.nlink == 0))
        return -ENOENT; /* removed (a host says so by not knowing it) */
    const char *cwd = vfs_cwd().path;
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
    INODE(ino);
    if (!abs)
        return -ENOMEM;
    long rc = lookup_at(AT_FDCWD, upath, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, 0, &ino, abs);
    if (rc < 0)
        return rc;
    vfs_set_cwd(ino, abs);
    return 0;
}

long sys_fchdir(long fd)
{
    FILE_RAW(f, fd);
    if (!f)
        return -EBADF;
    if (!f->inode || !is_dir(f->inode) || !f->path)
        return -ENOTDIR;
    vfs_set_cwd(f->inode, f->path);
    return 0;
}

long sys_chroot(long upath) { return -EPERM; }

/* --- descriptors --- */
long sys_dup(long fd)
{
    FILE_RAW(f, fd);
    if (!f)
        return -EBADF;
    long n = fd_alloc(f, 0, 0);
    if (n >= 0)
        file_get(f);
    return n;
}

long sys_dup3(long oldfd, long newfd, long flags)
{
    if (flags & ~(long)O_CLOEXEC)
        return -EINVAL;
    FILE_RAW(f, oldfd);
    if (!f)
        return -EBADF;
    if ((int)oldfd == (int)newfd)
        return -EINVAL;
    return fd_replace((int)newfd, f, (flags & O_CLOEXEC) != 0);
}

long sys_dup2(long oldfd, long newfd)
{
    if ((int)oldfd == (int)newfd) {
        FILE_RAW(f, oldfd);
        return f ? newfd : -EBADF;
    }
    return sys_dup3(oldfd, newfd, 0);
}

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
#define F_GETPIPE_SZ 1032
#define FD_CLOEXEC 1
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#define O_NOATIME 01000000

static long record_lock(struct file *f, int cmd, long uarg);

long sys_fcntl(long fd, long cmd, long arg)
{
    FILE_RAW(f, fd);
    if (!f)
        return -EBADF;
    if ((f->flags & O_PATH) && cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC && cmd != F_GETFD && cmd != F_SETFD &&
        cmd != F_GETFL)
        return -EBADF; /* an O_PATH descriptor: only these (Linux's check_fcntl_cmd) */
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        if (arg < 0 || arg >= fd_limit)
            return -EINVAL;
        long n = fd_alloc(f, cmd == F_DUPFD_CLOEXEC, (int)arg);
        if (n >= 0)
            file_get(f);
        return n;
    }
    case F_GETFD:
        return fd_cloexec(fd, -1) ? FD_CLOEXEC : 0;
    case F_SETFD:
        fd_cloexec(fd, (arg & FD_CLOEXEC) != 0);
        return 0;
    case F_GETFL:
        return f->flags & ~O_CLOEXEC;
    case F_SETFL: {
        int settable = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | 020000 /* O_ASYNC */;
        f->flags = (f->flags & ~settable) | ((int)arg & settable);
        return 0;
    }
    case F_GETPIPE_SZ:
        return f->ops->mode == S_IFIFO ? 65536 : -EBADF;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
        return record_lock(f, (int)cmd, arg); /* f's reference holds it while the lock sleeps */
    }
    return -EINVAL;
}

struct flock_k {
    int16_t type, whence;
    int64_t start, len;
    int32_t pid;
};

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
    long rc = file_lock_key(f, &key);
    if (rc < 0)
        return rc;
    const void *owner = ofd ? (const void *)f : lock_process();
    if (get) {
        long pid = 0;
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
    FILE(f, fd);
    if (!f)
        return -EBADF;
    struct lock_key key;
    long rc = file_lock_key(f, &key);
    return rc < 0 ? rc : flock_op(key, f, op);
}

long sys_pipe2(long ufds, long flags)
{
    if (flags & ~(long)(O_NONBLOCK | O_CLOEXEC | O_DIRECT)) /* (O_DIRECT's number is the architecture's) */
        return -EINVAL;
    if (!user_ok((uintptr_t)ufds, 2 * sizeof(int), PROT_WRITE))
        return -EFAULT;
    struct file *r, *w;
    long rc = pipe_new((int)flags, &r, &w);
    if (rc < 0)
        return rc;
    long a = fd_alloc(r, (flags & O_CLOEXEC) != 0, 0);
    long b = a < 0 ? a : fd_alloc(w, (flags & O_CLOEXEC) != 0, 0);
    if (b < 0) {
        if (a >= 0)
            fd_close(a); /* drops r */
        else
            file_put(r);
        file_put(w);
        return b;
    }
    ((int *)ufds)[0] = (int)a;
    ((int *)ufds)[1] = (int)b;
    return 0;
}

long sys_pipe(long ufds) { return sys_pipe2(ufds, 0); }

#define FIONBIO 0x5421
#define FIOCLEX 0x5451
#define FIONCLEX 0x5450

long sys_ioctl(long fd, long cmd, long arg)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    switch ((unsigned long)cmd & 0xffffffffu) {
    case FIONBIO:
        if (!user_ok((uintptr_t)arg, 4, PROT_READ))
            return -EFAULT;
        f->flags = *(int *)arg ? f->flags | O_NONBLOCK : f->flags & ~O_NONBLOCK;
        return 0;
    case FIOCLEX:
    case FIONCLEX:
        return fd_cloexec(fd, cmd == FIOCLEX) < 0 ? -EBADF : 0;
    }
    return f->ops->ioctl ? f->ops->ioctl(f, (unsigned long)cmd & 0xffffffffu, arg) : -ENOTTY;
}

long sys_fsync(long fd)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if ((f->ops->flags & FOPS_MMAP) && vm_file_shared()) { /* the file's writable shared mappings first */
        struct lock_key key;
        file_lock_key(f, &key);
        vm_file_sync(key);
    }
    return f->ops->fsync ? f->ops->fsync(f) : 0;
}

long sys_fdatasync(long fd) { return sys_fsync(fd); }
long sys_sync(void) { return 0; }

long sys_syncfs(long fd)
{
    FILE(f, fd);
    return f ? 0 : -EBADF;
}

long sys_fadvise64(long fd, long off, long len, long advice)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if (f->ops->mode == S_IFIFO)
        return -ESPIPE;
    return advice < 0 || advice > 5 ? -EINVAL : 0;
}

long sys_umask(long mask)
{
    long old = umask_bits;
    umask_bits = (unsigned)mask & 0777;
    return old;
}

/* --- names: make, link, remove, rename --- */

/* Create `name` of type mode (mkdir, mknod, symlink) at a program's path. */
static long make_at(long dirfd, long upath, unsigned mode, uint64_t rdev, const char *target)
{
    INODE(dir);
    char name[256];
    int slash;
    long rc = parent_at(dirfd, upath, &dir, 0, name, &slash);
    if (rc < 0)
        return rc;
    if (!name[0] || dot_name(name))
        return -EEXIST;
    struct inode *old;
    if (dir->ops->lookup && dir->ops->lookup(dir, name, &old) == 0) {
        inode_put(old);
        return -EEXIST;
    }
    if (slash && (mode & S_IFMT) != S_IFDIR)
        return -ENOENT;
    if (rdonly(dir))
        return -EROFS;
    if (!dir->ops->create)
        return -EPERM;
    return dir->ops->create(dir, name, mode, rdev, target, 0);
}

long sys_mkdirat(long dirfd, long upath, long mode)
{
    return make_at(dirfd, upath, S_IFDIR | ((unsigned)mode & 07777 & ~umask_bits), 0, 0);
}

long sys_mkdir(long upath, long mode) { return sys_mkdirat(AT_FDCWD, upath, mode); }

long sys_mknodat(long dirfd, long upath, long mode, long dev)
{
    unsigned type = (unsigned)mode & S_IFMT;
    if (!type)
        type = S_IFREG;
    if (type == S_IFDIR || type == S_IFLNK || (type != S_IFREG && type != S_IFCHR && type != S_IFBLK &&
                                              type != S_IFIFO && type != S_IFSOCK))
        return -EINVAL;
    /* st_rdev is glibc's makedev() encoding throughout, which is what dev is */
    return make_at(dirfd, upath, type | ((unsigned)mode & 07777 & ~umask_bits), (uint64_t)dev, 0);
}

long sys_mknod(long upath, long mode, long dev) { return sys_mknodat(AT_FDCWD, upath, mode, dev); }

long sys_symlinkat(long utarget, long dirfd, long upath)
{
    PATHBUF(target);
    long rc = user_path(utarget, target);
    if (rc < 0)
        return rc;
    if (!target[0])
        return -ENOENT;
    return make_at(dirfd, upath, S_IFLNK | 0777, 0, target);
}

long sys_symlink(long utarget, long upath) { return sys_symlinkat(utarget, AT_FDCWD, upath); }

long sys_linkat(long olddirfd, long uold, long newdirfd, long unew, long flags)
{
    if (flags & ~(long)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    INODE(old);
    INODE(dir);
    long rc = lookup_at(olddirfd, uold, (flags & AT_SYMLINK_FOLLOW) ? LOOKUP_FOLLOW : 0, (int)flags, &old, 0);
    if (rc < 0)
        return rc;
    if (old->ops->magic && (flags & AT_SYMLINK_FOLLOW)) { /* /proc/self/fd/N: that file (an O_TMPFILE gets its name) */
        struct file *f = old->ops->magic(old);
        if (!f || !f->inode) {
            if (f)
                file_put(f);
            return -ENOENT;
        }
        inode_put(old);
        old = f->inode;
        inode_get(old);
        file_put(f);
    }
    if (is_dir(old))
        return -EPERM;
    struct kstat st;
    if ((rc = vfs_getattr(old, &st)) < 0)
        return rc;
    if (st.nlink == 0 && !(old->vflags & I_LINKABLE))
        return -ENOENT; /* unlinked: only an O_TMPFILE may come back */
    char name[256];
    int slash;
    if ((rc = parent_at(newdirfd, unew, &dir, 0, name, &slash)) < 0)
        return rc;
    if (!name[0] || dot_name(name))
        return -EEXIST;
    if (slash)
        return -ENOENT;
    if (dir->sb != old->sb)
        return -EXDEV;
    if (rdonly(dir))
        return -EROFS;
    if (!dir->ops->link)
        return -EPERM;
    if ((rc = dir->ops->link(dir, name, old)) == 0)
        old->vflags &= ~I_LINKABLE;
    return rc;
}

long sys_link(long uold, long unew) { return sys_linkat(AT_FDCWD, uold, AT_FDCWD, unew, 0); }

long sys_unlinkat(long dirfd, long upath, long flags)
{
    if (flags & ~(long)AT_REMOVEDIR)
        return -EINVAL;
    int rmdir = (flags & AT_REMOVEDIR) != 0;
    INODE(dir);
    INODE(victim);
    char name[256];
    PATHBUF(abs);
    if (!abs)
        return -ENOMEM;
    int slash;
    long rc = parent_at(dirfd, upath, &dir, abs, name, &slash);
    if (rc < 0)
        return rc;
    if (!name[0])
        return rmdir ? -EBUSY : -EISDIR; /* "/" */
    if (!strcmp(name, "."))
        return rmdir ? -EINVAL : -EISDIR;
    if (!strcmp(name, ".."))
        return rmdir ? -ENOTEMPTY : -EISDIR;
    if (!dir->ops->lookup || (rc = dir->ops->lookup(dir, name, &victim)) < 0)
        return rc < 0 ? rc : -ENOTDIR;
    if (rmdir && !is_dir(victim))
        return -ENOTDIR;
    if (!rmdir && (is_dir(victim) || slash)) /* "link/": the link itself is no directory */
        return is_dir(victim) ? -EISDIR : -ENOTDIR;
    const char *mp;
    struct superblock *sb;
    for (unsigned i = 0; rmdir && (sb = vfs_mount_at(i, &mp)); i++) { /* a mount point is busy */
        size_t n = strlen(abs);
        if (!strncmp(mp, abs, n) && mp[n] == (n > 1 ? '/' : mp[n]) && !strcmp(mp + n + (n > 1), name))
            return -EBUSY;
    }
    if (rdonly(dir))
        return -EROFS;
    return dir->ops->unlink ? dir->ops->unlink(dir, name, rmdir) : -EPERM;
}

long sys_unlink(long upath) { return sys_unlinkat(AT_FDCWD, upath, 0); }
long sys_rmdir(long upath) { return sys_unlinkat(AT_FDCWD, upath, AT_REMOVEDIR); }


long sys_renameat2(long olddirfd, long uold, long newdirfd, long unew, long flags)
{
    if (flags & ~(long)(RENAME_NOREPLACE | RENAME_EXCHANGE) || flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
        return -EINVAL;
    INODE(from);
    INODE(to);
    PATHBUF(pa);
    PATHBUF(pb);
    if (!pa || !pb)
        return -ENOMEM;
    char a[256], b[256];
    int slash_a, slash_b;
    long rc = parent_at(olddirfd, uold, &from, pa, a, &slash_a);
    if (rc < 0 || (rc = parent_at(newdirfd, unew, &to, pb, b, &slash_b)) < 0)
        return rc;
    if (!a[0] || !b[0] || dot_name(a) || dot_name(b))
        return -EBUSY;
    if (slash_a || slash_b) { /* "x/": x must be a directory (the target too, if it exists) */
        INODE(src);
        INODE(dst);
        if ((rc = from->ops->lookup(from, a, &src)) < 0)
            return rc;
        if (!is_dir(src))
            return -ENOTDIR;
        if (to->ops->lookup(to, b, &dst) == 0 && !is_dir(dst))
            return -ENOTDIR;
    }
    if (flags) { /* what the flags promise is checked here, before a file system that cannot keep it says EINVAL */
        INODE(src);
        INODE(dst);
        if ((rc = from->ops->lookup(from, a, &src)) < 0)
            return rc;
        rc = to->ops->lookup(to, b, &dst);
        if ((flags & RENAME_NOREPLACE) && rc == 0)
            return -EEXIST;
        if ((flags & RENAME_EXCHANGE) && rc < 0)
            return rc;
    }
    if (from->sb != to->sb)
        return -EXDEV;
    if (rdonly(from))
        return -EROFS;
    rc = from->ops->rename ? from->ops->rename(from, a, to, b, (unsigned)flags) : -EPERM;
    if (rc == 0) /* working directories and open files under the old name follow it */
        vfs_renamed(pa, a, pb, b, (flags & RENAME_EXCHANGE) != 0);
    return rc;
}

long sys_renameat(long olddirfd, long uold, long newdirfd, long unew) { return sys_renameat2(olddirfd, uold, newdirfd, unew, 0); }
long sys_rename(long uold, long unew) { return sys_renameat2(AT_FDCWD, uold, AT_FDCWD, unew, 0); }

/* --- metadata: truncate, chmod, chown, utimensat, fallocate --- */
long sys_ftruncate(long fd, long len)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if (len < 0 || !f->inode || (f->inode->mode & S_IFMT) != S_IFREG || (f->flags & O_ACCMODE) == O_RDONLY)
        return -EINVAL;
    if (rdonly(f->inode))
        return -EROFS;
    return truncate_inode(f->inode, (uint64_t)len);
}

long sys_truncate(long upath, long len)
{
    if (len < 0)
        return -EINVAL;
    INODE(ino);
    long rc = lookup_at(AT_FDCWD, upath, LOOKUP_FOLLOW, 0, &ino, 0);
    if (rc < 0)
        return rc;
    if (is_dir(ino))
        return -EISDIR;
    if ((ino->mode & S_IFMT) != S_IFREG)
        return -EINVAL;
    if (rdonly(ino))
        return -EROFS;
    return truncate_inode(ino, (uint64_t)len);
}

static long setattr_inode(struct inode *ino, const struct ksetattr *a)
{
    uint32_t type = ino->mode & S_IFMT;
    if (rdonly(ino) && (type == S_IFREG || type == S_IFDIR || type == S_IFLNK))
        return -EROFS;
    if (!a->valid)
        return 0;
    return ino->ops->setattr ? ino->ops->setattr(ino, a) : 0; /* generated files: not kept */
}

static long setattr_fd(long fd, const struct ksetattr *a)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    return f->inode ? setattr_inode(f->inode, a) : 0; /* pipes, sockets: in-memory inodes, not kept */
}

static long setattr_at(long dirfd, long upath, long flags, const struct ksetattr *a)
{
    INODE(ino);
    long rc = lookup_at(dirfd, upath, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : LOOKUP_FOLLOW, (int)flags, &ino, 0);
    if (rc == -EBADF && (flags & AT_EMPTY_PATH))
        return setattr_fd(dirfd, a);
    return rc < 0 ? rc : setattr_inode(ino, a);
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
            a.valid = 0; /* both omitted: only the checks */
    }
    if (!upath)
        return setattr_fd(dirfd, &a); /* futimens */
    return setattr_at(dirfd, upath, flags, &a);
}

#define FALLOC_FL_KEEP_SIZE 1

long sys_fallocate(long fd, long mode, long off, long len)
{
    FILE(f, fd);
    if (!f)
        return -EBADF;
    if (off < 0 || len <= 0)
        return -EINVAL;
    if ((f->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    if (!f->inode)
        return -ESPIPE;
    if ((f->inode->mode & S_IFMT) != S_IFREG)
        return is_dir(f->inode) ? -EISDIR : -ENODEV;
    if (mode & ~(long)FALLOC_FL_KEEP_SIZE)
        return -EOPNOTSUPP;
    uint64_t size;
    long rc = file_size(f, &size);
    if (rc < 0 || (mode & FALLOC_FL_KEEP_SIZE) || (uint64_t)off + (uint64_t)len <= size)
        return rc; /* space is not reserved ahead: tmpfs and 9P allocate on write */
    return truncate_inode(f->inode, (uint64_t)off + (uint64_t)len);
}

/* --- sendfile and copy_file_range: through a kernel buffer --- */
static long copy_between(struct file *in, uint64_t *in_off, struct file *out, uint64_t *out_off, size_t count)
{
    size_t chunk = count < 65536 ? count : 65536;
    char *buf = chunk ? kmalloc(chunk) : 0;
    if (chunk && !buf)
        return -ENOMEM;
    long done = 0, rc = 0;
    while ((size_t)done < count) {
        size_t want = count - (size_t)done < chunk ? count - (size_t)done : chunk;
        uint64_t at = *in_off;
        long n = file_read(in, buf, want, &at);
        if (n <= 0) {
            rc = n;
            break;
        }
        long w = file_write(out, buf, (size_t)n, out_off, 0);
        if (w <= 0) {
            rc = w;
            break;
        }
        *in_off += (uint64_t)w;
        done += w;
        if (w < n)
            break;
    }
    kfree(buf);
    return done ? done : rc;
}

static long get_off(long uoff, uint64_t *off)
{
    if (!user_ok((uintptr_t)uoff, 8, PROT_READ | PROT_WRITE))
        return -EFAULT;
    if (*(int64_t *)uoff < 0)
        return -EINVAL;
    *off = *(uint64_t *)uoff;
    return 0;
}

long sys_sendfile(long out_fd, long in_fd, long uoff, long count)
{
    FILE(in, in_fd);
    FILE(out, out_fd);
    if (!in || !out)
        return -EBADF;
    if ((in->flags & O_ACCMODE) == O_WRONLY || (out->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    if (!(in->ops->flags & FOPS_MMAP) || (out->flags & O_APPEND) || count < 0)
        return -EINVAL; /* the source must be a file one can mmap */
    uint64_t off = in->off;
    long rc;
    if (uoff && (rc = get_off(uoff, &off)) < 0)
        return rc;
    rc = copy_between(in, &off, out, &out->off, (size_t)count);
    if (!uoff)
        in->off = off;
    else if (user_ok((uintptr_t)uoff, 8, PROT_WRITE))
        *(uint64_t *)uoff = off;
    return rc;
}

long sys_copy_file_range(long in_fd, long uin_off, long out_fd, long uout_off, long count, long flags)
{
    FILE(in, in_fd);
    FILE(out, out_fd);
    if (!in || !out)
        return -EBADF;
    if (flags)
        return -EINVAL;
    if ((in->flags & O_ACCMODE) == O_WRONLY || (out->flags & O_ACCMODE) == O_RDONLY || (out->flags & O_APPEND))
        return -EBADF;
    if (!in->inode || !out->inode || !(in->ops->flags & FOPS_MMAP) || !(out->ops->flags & FOPS_MMAP))
        return is_dir(in->inode ? in->inode : out->inode) ? -EISDIR : -EINVAL;
    if (count < 0)
        return -EINVAL;
    uint64_t ioff = in->off, ooff = out->off;
    long rc;
    if ((uin_off && (rc = get_off(uin_off, &ioff)) < 0) || (uout_off && (rc = get_off(uout_off, &ooff)) < 0))
        return rc;
    rc = copy_between(in, &ioff, out, &ooff, (size_t)count);
    if (uin_off)
        *(uint64_t *)uin_off = ioff;
    else
        in->off = ioff;
    if (uout_off)
        *(uint64_t *)uout_off = ooff;
    else
        out->off = ooff;
    return rc;
}
