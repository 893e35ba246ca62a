/* The file layer's one model (docs/architecture.md draws it).
 *
 *   struct file   an open file description: offset, O_* flags and the
 *                 operations of its kind (struct file_ops) -- a tmpfs file, a
 *                 host file, a pipe end, a socket, the console...
 *   struct inode  an object in a file system (file, directory, symlink,
 *                 device node...), reference counted, with its file
 *                 system's operations (struct inode_ops) and the file_ops
 *                 an open of it gets.
 *   superblock    one file system instance; the mount table (namei.c)
 *                 attaches superblocks at directories of the tree.
 *
 * System-call files decode arguments and call these; each file system and
 * each kind of file is its own file: tmpfs.c (the writable root, /tmp,
 * /run, /dev/shm), p9.c (--mount), devfs.c (/dev), procfs.c (/proc, /sys),
 * pipe.c, stdio_file.c, net.c (sockets), poll.c (epoll).
 *
 * Everything here runs under the big kernel lock (it may sleep: 9P, pipes). */
#pragma once
#include "linux.h"

/* Linux's numbers the file systems share: statfs f_type (magic.h),
 * rename flags, the one ioctl every readable stream answers. */
#define TMPFS_MAGIC 0x01021994
#define V9FS_MAGIC 0x01021997
#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572
#define PIPEFS_MAGIC 0x50495045
#define SOCKFS_MAGIC 0x534f434b
#define DEVPTS_SUPER_MAGIC 0x1cd1
#define ANON_INODE_FS_MAGIC 0x09041934
#define RENAME_NOREPLACE 1u
#define RENAME_EXCHANGE 2u
#define FIONREAD 0x541b

struct file;
struct inode;
struct superblock;
struct dir_sink;

/* --- open files --- */
#define FOPS_SEEKABLE 1u /* lseek, pread and pwrite apply */
#define FOPS_MMAP 2u     /* mmap applies: read/write at any offset, a size */

struct socket_ops;

struct file_ops {
    const char *kind;   /* for messages: "socket", "pipe" */
    const struct socket_ops *sock; /* sockets: the calls beyond read and write (socket.c) */
    unsigned mode;      /* st_mode type bits of a file without an inode (S_IFSOCK...) */
    unsigned flags;     /* FOPS_* */
    /* `off` is the file's offset (read/write) or the caller's (pread/pwrite);
     * a call advances it by what it transferred. */
    long (*read)(struct file *f, char *buf, size_t n, uint64_t *off);
    long (*write)(struct file *f, const char *buf, size_t n, uint64_t *off);
    short (*poll)(struct file *f);                            /* POLL* ready now; NULL: always in and out */
    long (*ioctl)(struct file *f, unsigned long cmd, long arg); /* NULL: -ENOTTY */
    /* directories: entries from cookie f->off on, advancing it; the bytes
     * added, or -EINVAL when not even one entry fits */
    long (*getdents)(struct file *f, struct dir_sink *sink);
    long (*fsync)(struct file *f);                            /* NULL: nothing to do */
    long (*stat)(struct file *f, struct kstat *st);           /* NULL: the inode's getattr */
    long (*statfs)(struct file *f, struct kstatfs *s);        /* NULL: the inode's file system */
    void (*release)(struct file *f);                          /* the last reference went */
};

struct file {
    const struct file_ops *ops;
    struct inode *inode;   /* NULL for pipes, sockets, epoll, the standard streams */
    void *priv;            /* the kind's own state */
    int refs;
    int flags;             /* O_* (access mode, O_APPEND, O_NONBLOCK...) */
    uint64_t off;
    char *path;            /* absolute, canonical: follows renames (directories: the base of *at() calls) */
    struct lock_key lock_key; /* the file its locks are on, once looked up */
    uint64_t renamed;      /* the last rename that looked at its path (vfs_renamed) */
};

/* Every open file in a descriptor table of any process, once each time
 * per table it is in (file.c). */
void fdt_each_file(void (*fn)(struct file *f, void *arg), void *arg);

/* A new open file with one reference, or NULL. `inode` gains a reference. */
struct file *file_new(const struct file_ops *ops, struct inode *inode, void *priv, int flags);
void file_get(struct file *f);
void file_put(struct file *f);

/* --- directory listings: getdents writes linux_dirent64 records --- */
struct dir_sink {
    char *buf;
    size_t cap, used;
};
#define DT_UNKNOWN 0
#define DT_FIFO 1
#define DT_CHR 2
#define DT_DIR 4
#define DT_REG 8
#define DT_LNK 10
#define DT_SOCK 12
/* Append one entry whose successor is at cookie `next` (what f->off becomes
 * once it is consumed). Returns 0 when the buffer is full (the entry is not
 * written), 1 otherwise. */
int dir_emit(struct dir_sink *s, const char *name, size_t len, uint64_t ino, unsigned dtype, uint64_t next);
unsigned dtype_of(uint32_t mode);

/* --- file systems --- */
struct inode_ops {
    /* The entry `name` ("." and ".." never reach a file system) of a
     * directory: a new reference in *out, or -ENOENT. */
    long (*lookup)(struct inode *dir, const char *name, struct inode **out);
    /* Make `name` in dir: mode's S_IFMT says what (S_IFREG, S_IFDIR, S_IFLNK
     * with `target`, S_IFIFO, S_IFSOCK, S_IFCHR/S_IFBLK with rdev), its low
     * bits the permissions (umask applied). -EEXIST if the name exists. The
     * new inode's reference goes to *out (which may be NULL: not wanted). */
    long (*create)(struct inode *dir, const char *name, unsigned mode, uint64_t rdev, const char *target,
                   struct inode **out);
    long (*link)(struct inode *dir, const char *name, struct inode *old);           /* a hard link */
    long (*unlink)(struct inode *dir, const char *name, int rmdir);                  /* rmdir: a directory */
    /* rename(2) within one file system (flags: RENAME_NOREPLACE, RENAME_EXCHANGE) */
    long (*rename)(struct inode *from_dir, const char *from, struct inode *to_dir, const char *to, unsigned flags);
    long (*getattr)(struct inode *ino, struct kstat *st);
    long (*setattr)(struct inode *ino, const struct ksetattr *a);
    long (*readlink)(struct inode *ino, char *buf, size_t size); /* a symlink's target: its length */
    /* Ready f (f->ops is already the inode's fops, f->flags the open's)
     * for I/O: e.g. open a host fid. NULL: nothing to do. */
    long (*open)(struct inode *ino, struct file *f);
    /* A magic link (/proc/self/fd/N, /dev/stdin): the open file it stands
     * for, with a new reference; opening the link reopens that file. */
    struct file *(*magic)(struct inode *ino);
    void (*evict)(struct inode *ino); /* the last reference went */
};

#define SB_RDONLY 1u

struct superblock {
    const char *fstype;  /* "tmpfs", "9p", "proc": /proc/mounts */
    const char *source;  /* what /proc/mounts names as the device */
    uint64_t magic;      /* statfs f_type */
    uint64_t dev;        /* st_dev of its files */
    unsigned flags;      /* SB_RDONLY */
    struct inode *root;
    long (*statfs)(struct superblock *sb, struct kstatfs *s);
    void *priv;
};

struct inode {
    const struct inode_ops *ops;
    const struct file_ops *fops; /* what an open of it gets */
    struct superblock *sb;
    int refs;
    uint32_t mode;               /* S_IFMT type and permission bits */
    uint64_t ino;
    void *priv;
    unsigned vflags;             /* the VFS's own: I_LINKABLE */
};
#define I_LINKABLE 1u /* an O_TMPFILE file (not O_EXCL): linkat may give it a name */

/* A new inode with one reference, or NULL. */
struct inode *inode_new(struct superblock *sb, const struct inode_ops *ops, const struct file_ops *fops,
                        uint32_t mode, uint64_t ino, void *priv);
void inode_get(struct inode *ino);
void inode_put(struct inode *ino);
/* A fresh st_dev for a file system instance (anonymous block devices 0:N). */
uint64_t vfs_new_dev(void);

/* --- the tree: mounts and path lookup (namei.c) --- */
#define PATH_MAX 4096
/* A PATH_MAX buffer and its return: a path call nests several, so they are
 * kept on a free list (a kmalloc of 4 KiB is two pages from the page
 * allocator, poisoned on kfree). path_get is NULL when memory is out. */
char *path_get(void);
void path_put(char *p);
/* Attach sb's root at `path` (absolute, an existing directory; "/" for the root). */
long vfs_mount(const char *path, struct superblock *sb);
/* The mount table, in mount order: for /proc/mounts. i from 0; NULL at the end. */
struct superblock *vfs_mount_at(unsigned i, const char **path);

#define LOOKUP_FOLLOW 1u    /* follow a symlink in the last component */
#define LOOKUP_DIRECTORY 2u /* the last component must be a directory */

/* Where a relative path starts: the working directory or an *at() dirfd. */
struct vpath {
    struct inode *inode;
    const char *path; /* absolute, normalised ("/", "/a/b") */
};
/* The working directory (the root until chdir). */
struct vpath vfs_cwd(void);
void vfs_set_cwd(struct inode *dir, const char *path);
/* A rename of dir_a/a to dir_b/b (canonical parent paths) succeeded, or an
 * exchange of the two: working directories and open files' paths at or
 * under the old name(s) take the new. */
void vfs_renamed(const char *dir_a, const char *a, const char *dir_b, const char *b, int exchange);
struct inode *vfs_root(void);

/* Resolve `path` from `base`: a new reference in *out, and (if `abs` is
 * not NULL) the canonical absolute path in abs[PATH_MAX]. Mount points are
 * crossed both ways, ".." stops at the root, symlinks are followed (at most
 * 40: -ELOOP). A magic link is returned itself, not followed. */
long vfs_lookup(struct vpath base, const char *path, unsigned flags, struct inode **out, char *abs);
/* Resolve all but the last component: the parent directory (a reference
 * in *dir; abs as above, of the parent) and the last name in name[256].
 * A path ending in "/" names its last directory ("a/b/"); "/" itself and
 * names "." and ".." are -EINVAL for the callers that create or remove
 * (-EEXIST for mkdir is theirs to decide: *name is "" then). */
long vfs_lookup_parent(struct vpath base, const char *path, struct inode **dir, char *abs, char *name);

/* mkdir -p of an absolute path (mount points). */
long vfs_mkdir_p(const char *path);

/* The stat of an inode, with the file system's dev filled in. */
long vfs_getattr(struct inode *ino, struct kstat *st);

/* --- helpers every file system uses --- */
/* A generated file's contents (procfs, /etc defaults): a growable buffer. */
struct seqbuf {
    char *buf;
    size_t len, cap;
    int oom;
};
void sb_printf(struct seqbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_write(struct seqbuf *s, const char *p, size_t n);
void sb_free(struct seqbuf *s);

char *kstrdup(const char *s);
long vfs_now(struct timespec_k *t); /* the wall clock, for file times */
void vfs_program_starts(void);      /* file times from the clock (before: the launch time) */

/* --- file systems' set-up (called once by vfs_init) --- */
/* tmpfs.c: a tmpfs instance; max_bytes 0 = no bound but memory. The root
 * directory's mode is mode. With `archive`, its entries (cpio newc) are
 * the initial contents; their data stays in the image until written. */
struct superblock *tmpfs_new(const char *source, unsigned long max_bytes, unsigned mode, const void *archive,
                             size_t archive_size);
/* A file in the root directory whose bytes stay in the image until written
 * (the program itself, for /proc/self/exe and execve): -EEXIST if the tree
 * has one of that name. */
long tmpfs_add_image_file(struct superblock *sb, const char *name, const void *data, size_t size, unsigned mode);
/* Files made from the archive; *offered: its entries, *nomem: they did not fit in memory. */
size_t tmpfs_entries(struct superblock *sb, size_t *offered, int *nomem);
struct superblock *devfs_new(void);          /* devfs.c: /dev */
struct superblock *procfs_new(void);         /* procfs.c: /proc */
struct superblock *sysfs_new(void);          /* procfs.c: /sys */
void etc_defaults(struct inode *root);       /* etc.c: /etc files the tree lacks */
void etc_nameservers(const char *csv);       /* etc.c: DHCP's name servers, for resolv.conf */
void etc_network(void);                      /* etc.c: the network up before the program, if asked */
void p9_mount_all(void);                     /* p9.c: the --mount directories */

/* devfs.c: the open file for a character device node wherever it lives
 * (null, zero, full, random, urandom, tty, console): NULL with *err set
 * (-ENXIO: no such device). */
struct file *chrdev_open(struct inode *ino, uint64_t rdev, int flags, long *err);
/* pipe.c: a new pipe's two ends (O_NONBLOCK in flags); named pipes (FIFOs)
 * open through fifo_open. */
long pipe_new(int flags, struct file **r, struct file **w);
struct file *fifo_open(struct inode *ino, int flags, long *err);

/* The stdio files (stdio_file.c) for fds 0-2 and /dev/tty, /dev/console. */
struct file *stdio_file(int stream); /* STDIO_IN/OUT/ERR or 3 for the terminal; a new reference */
int stdio_file_has_tty(void);        /* a controlling terminal exists (/dev/tty opens) */

/* --- sockets (socket.c): families register themselves --- */
/* A socket's calls, given its descriptor (the family checks it is its own). */
struct socket_ops {
    long (*bind)(long fd, long addr, long len);
    long (*listen)(long fd, long backlog);
    long (*accept4)(long fd, long addr, long ulen, long flags);
    long (*connect)(long fd, long addr, long len);
    long (*shutdown)(long fd, long how);
    long (*getsockname)(long fd, long addr, long ulen);
    long (*getpeername)(long fd, long addr, long ulen);
    long (*setsockopt)(long fd, long level, long name, long val, long len);
    long (*getsockopt)(long fd, long level, long name, long val, long ulen);
    long (*sendto)(long fd, long buf, long len, long flags, long addr, long alen);
    long (*recvfrom)(long fd, long buf, long len, long flags, long addr, long ulen);
    long (*sendmsg)(long fd, long msg, long flags);
    long (*recvmsg)(long fd, long msg, long flags);
};
struct socket_family {
    long domain;                               /* AF_INET... */
    long (*create)(long type, long protocol);  /* socket(2): the new fd */
    void (*flush_at_exit)(void);               /* deliver what is queued before power-off; may be NULL */
};
#define SOCKET_FAMILY(name, ...)                                                                  \
    static const struct socket_family name __attribute__((used, aligned(8), section(".hermit_socket_family"))) = \
        __VA_ARGS__

/* --- descriptors (file.c) --- */
/* The open file behind fd with a new reference (file_put it), or NULL --
 * NULL for an O_PATH descriptor too, which does no I/O: the calls that take
 * one only to name a file (fstat, fstatfs, fchdir, dup, some of fcntl, an
 * *at() dirfd, /proc/self/fd) use fd_get_raw (Linux's fdget_raw). */
struct file *fd_get(long fd);
struct file *fd_get_raw(long fd);
/* Install f (the table takes the caller's reference) at the lowest free fd
 * >= min: the fd or -EMFILE (the reference stays the caller's then). */
long fd_alloc(struct file *f, int cloexec, int min);
/* Put f at newfd, closing what was there (dup2); the table takes a new reference. */
long fd_replace(long newfd, struct file *f, int cloexec);
long fd_close(long fd);
/* FD_CLOEXEC of fd: set it (set >= 0) and/or return it; -EBADF. */
int fd_cloexec(long fd, int set);
/* File I/O with the layer's common rules (access mode, O_APPEND, shared
 * mappings told of writes); `user`: buf is the program's memory. */
long file_read(struct file *f, char *buf, size_t n, uint64_t *off);
long vfs_open_exec(long dirfd, const char *path, int at_flags, struct file **out, char *abs); /* sysfile.c */
/* loader.c: ELF programs (exec.c and the first program) */
const char *linux_elf_check(const char *elf, size_t elf_size);
const char *linux_elf_load(const char *elf, size_t got, void *file, int argc, char *const argv[], int nenv,
                           char *const envp[], uintptr_t *entry, uintptr_t *sp);
long linux_read_headers(struct file *f, char **out, size_t *got, size_t *size);
long linux_elf_interp_ok(const char *elf, size_t got, void *file);
long file_write(struct file *f, const char *buf, size_t n, uint64_t *off, int user);
long file_stat(struct file *f, struct kstat *st);
long file_size(struct file *f, uint64_t *size);
long file_lock_key(struct file *f, struct lock_key *key);
struct lock_key inode_lock_key(struct inode *ino); /* the key of a file system's file */
