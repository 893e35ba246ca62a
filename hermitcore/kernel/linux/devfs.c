/* /dev: a tmpfs (devtmpfs, as a Linux guest mounts it) holding the device
 * nodes, links and directories programs expect, and the character devices
 * themselves: whatever file system a node lives in, opening it reaches
 * chrdev_open by its rdev. */
#include "vfs.h"

/* Linux's numbers: new_encode_dev for majors and minors below 256. */
#define MKDEV(major, minor) (((uint64_t)(major) << 8) | (minor))
#define DEV_NULL MKDEV(1, 3)
#define DEV_ZERO MKDEV(1, 5)
#define DEV_FULL MKDEV(1, 7)
#define DEV_RANDOM MKDEV(1, 8)
#define DEV_URANDOM MKDEV(1, 9)
#define DEV_TTY MKDEV(5, 0)
#define DEV_CONSOLE MKDEV(5, 1)

/* --- the memory devices (major 1) --- */
/* A device has no position: like Linux's, reads and writes leave the
 * offset where it is (0 unless lseek moved it). */
static long zero_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    memset(buf, 0, n);
    return (long)n;
}

static long null_read(struct file *f, char *buf, size_t n, uint64_t *off) { return 0; }
static long null_write(struct file *f, const char *buf, size_t n, uint64_t *off) { return (long)n; }
static long full_write(struct file *f, const char *buf, size_t n, uint64_t *off) { return -ENOSPC; }

static long random_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    random_bytes(buf, n);
    return (long)n;
}

/* An fd's stat is its node's (fstat then agrees with stat on st_dev and
 * st_ino: programs compare the two to recognise /dev/null); without one,
 * what the device is. */
static long mem_stat(struct file *f, struct kstat *st)
{
    if (f->inode)
        return vfs_getattr(f->inode, st);
    memset(st, 0, sizeof *st);
    st->mode = S_IFCHR | 0666;
    st->rdev = (uint64_t)(uintptr_t)f->priv;
    st->nlink = 1;
    st->blksize = 4096;
    return 0;
}

/* lseek and pread are allowed (and do nothing), as on Linux; writes to
 * /dev/random succeed (Linux mixes them into its pool; ours takes no input). */
#define MEM_OPS(name, rd, wr) \
    {.kind = name, .mode = S_IFCHR, .flags = FOPS_SEEKABLE, .read = rd, .write = wr, .stat = mem_stat}
static const struct file_ops null_ops = MEM_OPS("null", null_read, null_write);
static const struct file_ops zero_ops = MEM_OPS("zero", zero_read, null_write);
static const struct file_ops full_ops = MEM_OPS("full", zero_read, full_write);
static const struct file_ops random_ops = MEM_OPS("random", random_read, null_write);

struct file *chrdev_open(struct inode *ino, uint64_t rdev, int flags, long *err)
{
    const struct file_ops *ops;
    switch (rdev) {
    case DEV_NULL:
        ops = &null_ops;
        break;
    case DEV_ZERO:
        ops = &zero_ops;
        break;
    case DEV_FULL:
        ops = &full_ops;
        break;
    case DEV_RANDOM:
    case DEV_URANDOM: /* one pool, never blocking: what getrandom gives */
        ops = &random_ops;
        break;
    case DEV_TTY:
        if (!stdio_file_has_tty()) {
            *err = -ENXIO; /* no controlling terminal */
            return NULL;
        }
        /* fallthrough */
    case DEV_CONSOLE: { /* the terminal (or whatever the host's streams are) */
        struct file *f = stdio_file(3);
        if (!f)
            *err = -ENOMEM;
        return f;
    }
    default:
        *err = -ENXIO;
        return NULL;
    }
    struct file *f = file_new(ops, ino, (void *)(uintptr_t)rdev, flags); /* fstat: the node's inode */
    if (!f)
        *err = -ENOMEM;
    return f;
}

/* --- the /dev tree --- */
static const struct {
    const char *name;
    unsigned mode;
    uint64_t rdev;
    const char *target; /* symlinks */
} nodes[] = {
    {"null", S_IFCHR | 0666, DEV_NULL, NULL},
    {"zero", S_IFCHR | 0666, DEV_ZERO, NULL},
    {"full", S_IFCHR | 0666, DEV_FULL, NULL},
    {"random", S_IFCHR | 0666, DEV_RANDOM, NULL},
    {"urandom", S_IFCHR | 0666, DEV_URANDOM, NULL},
    {"tty", S_IFCHR | 0666, DEV_TTY, NULL},
    {"console", S_IFCHR | 0600, DEV_CONSOLE, NULL},
    {"stdin", S_IFLNK | 0777, 0, "/proc/self/fd/0"},
    {"stdout", S_IFLNK | 0777, 0, "/proc/self/fd/1"},
    {"stderr", S_IFLNK | 0777, 0, "/proc/self/fd/2"},
    {"fd", S_IFLNK | 0777, 0, "/proc/self/fd"},
    {"shm", S_IFDIR | 01777, 0, NULL}, /* the VFS mounts a tmpfs on it */
    {"pts", S_IFDIR | 0755, 0, NULL},
};

struct superblock *devfs_new(void)
{
    struct superblock *sb = tmpfs_new("devtmpfs", 0, S_IFDIR | 0755, NULL, 0);
    if (!sb)
        return NULL;
    sb->fstype = "devtmpfs";
    struct inode *root = sb->root;
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        long rc = root->ops->create(root, nodes[i].name, nodes[i].mode, nodes[i].rdev, nodes[i].target, NULL);
        if (rc < 0) /* a /dev short of a node beats none */
            pr_warn("devfs: /dev/%s: error %ld\n", nodes[i].name, -rc);
    }
    return sb;
}
