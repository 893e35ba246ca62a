/* tmpfs: the file system in memory behind the writable root (filled from
 * the image's cpio archive), /tmp, /run, /dev/shm and /dev, with Linux
 * tmpfs's semantics down to what stat reports.
 *
 *   directories  entries in insertion order (a list, and a hash table once
 *                they are many); each entry's sequence number is its
 *                getdents cookie, so a listing survives unlinks under it.
 *                An entry holds a reference to its inode: an inode is
 *                evicted (and its data freed) once no entry and no open
 *                file or lookup holds it.
 *   files        4 KiB pages in a radix tree (holes are not allocated);
 *                a file from the archive reads the image's bytes until its
 *                first change copies them (the image is never written).
 *   symlinks     the target string; devices, fifos, sockets: rdev only
 *                (the VFS opens them by type).
 *
 * Everything runs under the big kernel lock. */
#include "vfs.h"
#include <hermit/heap.h>

#define S_ISUID 04000
#define S_ISGID 02000
#define S_IXGRP 00010
#define NAME_MAX 255
#define BOGO_DIRENT 20            /* Linux's tmpfs counts a directory entry 20 bytes of st_size */
#define SHORT_SYMLINK 128         /* a longer target takes a page on Linux: st_blocks 8 */
#define MAX_FILE_SIZE INT64_MAX   /* MAX_LFS_FILESIZE */
/* Pages an unbounded tmpfs leaves to the rest of the kernel (page tables,
 * heap, the program's memory), so filling /tmp gives ENOSPC, not a kernel
 * that cannot map a page. */
#define RESERVE_PAGES 1024
/* A radix-tree table: 64 pointers (a small heap block: a file of a few
 * pages does not pay for a page of table). */
#define FANOUT_SHIFT 6
#define FANOUT (1u << FANOUT_SHIFT)

struct tmpfs {
    struct superblock sb;
    uint64_t max_pages; /* 0: no bound but memory */
    uint64_t pages;     /* data pages allocated */
    uint64_t inodes, next_ino;
    size_t entries;     /* made from the archive */
    size_t offered;     /* the archive's entries */
    int nomem;          /* the archive did not fit in memory */
};

struct dent {
    struct dent *prev, *next; /* the directory's entries, in insertion order */
    struct dent *hnext;       /* the hash bucket's chain */
    struct inode *inode;      /* the entry's reference */
    uint64_t seq;             /* its getdents cookie: 2 + seq (0 and 1 are "." and "..") */
    uint32_t hash;
    uint16_t len;
    char name[];
};

struct tnode {
    uint64_t nlink, rdev, size; /* size: a file's bytes, a symlink's target length */
    uint32_t uid, gid;
    struct timespec_k atime, mtime, ctime;
    union {
        struct { /* S_IFREG */
            void *root;        /* depth 0: page 0 itself; depth d: a table over FANOUT^d pages */
            unsigned depth;
            uint64_t pages;    /* allocated: st_blocks */
            const char *image; /* the archive's `size` bytes, until the first change */
        } f;
        struct { /* S_IFDIR */
            struct dent *head, *tail, **buckets;
            size_t count, nbuckets;
            uint64_t seq;
            struct inode *parent; /* NULL: the root, or removed */
        } d;
        char *target; /* S_IFLNK */
    };
};

static const struct inode_ops tmpfs_iops;

static struct tnode *T(struct inode *i) { return i->priv; }
static struct tmpfs *FS(struct inode *i) { return i->sb->priv; }
static int is_dir(const struct inode *i) { return (i->mode & S_IFMT) == S_IFDIR; }
static int is_reg(const struct inode *i) { return (i->mode & S_IFMT) == S_IFREG; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static struct timespec_k now(void)
{
    struct timespec_k t = {0, 0};
    vfs_now(&t);
    return t;
}

static int ts_le(struct timespec_k a, struct timespec_k b)
{
    return a.sec < b.sec || (a.sec == b.sec && a.nsec <= b.nsec);
}

static void touch(struct inode *dir, struct timespec_k t) { T(dir)->mtime = T(dir)->ctime = t; }

/* relatime, Linux's default: atime moves when it is not newer than mtime
 * or ctime, or a day old -- what tells "read since it changed". */
static void accessed(struct tnode *t)
{
    struct timespec_k n = now();
    if (ts_le(t->atime, t->mtime) || ts_le(t->atime, t->ctime) || n.sec - t->atime.sec >= 86400)
        t->atime = n;
}

/* --- file data --- */
static void *page_get(struct tmpfs *fs, struct tnode *t, int zero)
{
    if ((fs->max_pages && fs->pages >= fs->max_pages) || pages_free() <= RESERVE_PAGES)
        return 0;
    void *p = page_alloc(1);
    if (!p)
        return 0;
    if (zero)
        memset(p, 0, PAGE_SIZE);
    fs->pages++;
    t->f.pages++;
    return p;
}

static void page_put(struct tmpfs *fs, struct tnode *t, void *p)
{
    page_free(p, 1);
    fs->pages--;
    t->f.pages--;
}

/* The slot of page `idx` in t's tree. With `make` the tree grows (and gets
 * its tables) to have one, NULL when out of memory; without, NULL where
 * there is none (a hole). */
static void **slot(struct tnode *t, uint64_t idx, int make)
{
    while (idx >> (FANOUT_SHIFT * t->f.depth)) { /* the tree so far becomes entry 0 of a new top */
        if (!make)
            return 0;
        if (t->f.root) {
            void **top = kzalloc(FANOUT * sizeof *top);
            if (!top)
                return 0;
            top[0] = t->f.root;
            t->f.root = top;
        }
        t->f.depth++;
    }
    void **s = &t->f.root;
    for (unsigned level = t->f.depth; level > 0; level--) {
        if (!*s && (!make || !(*s = kzalloc(FANOUT * sizeof(void *)))))
            return 0;
        s = (void **)*s + ((idx >> (FANOUT_SHIFT * (level - 1))) & (FANOUT - 1));
    }
    return s;
}

/* Free the pages at index >= from below *s, the table (level > 0) or page
 * (level 0) whose first index is `base`; tables left empty go too. */
static void trim_at(struct tmpfs *fs, struct tnode *t, void **s, unsigned level, uint64_t base, uint64_t from)
{
    if (!*s)
        return;
    if (!level) {
        if (base >= from) {
            page_put(fs, t, *s);
            *s = 0;
        }
        return;
    }
    uint64_t span = 1ull << (FANOUT_SHIFT * (level - 1));
    void **tab = *s;
    int used = 0;
    for (unsigned i = 0; i < FANOUT; i++) {
        if (base + (i + 1) * span > from)
            trim_at(fs, t, &tab[i], level - 1, base + i * span, from);
        used |= tab[i] != 0;
    }
    if (!used) {
        kfree(tab);
        *s = 0;
    }
}

static void trim(struct tmpfs *fs, struct tnode *t, uint64_t from)
{
    trim_at(fs, t, &t->f.root, t->f.depth, 0, from);
    if (!t->f.root)
        t->f.depth = 0;
}

/* An archive file gets pages of its own: its first `upto` bytes (a
 * truncation keeps no more). All or nothing. */
static long unshare(struct tmpfs *fs, struct tnode *t, uint64_t upto)
{
    uint64_t n = t->size < upto ? t->size : upto, need = (n + PAGE_SIZE - 1) / PAGE_SIZE;
    if (fs->max_pages && fs->pages + need > fs->max_pages)
        return -ENOSPC;
    for (uint64_t i = 0; i < need; i++) {
        size_t k = min_sz(n - i * PAGE_SIZE, PAGE_SIZE);
        void **s = slot(t, i, 1);
        char *p = s ? page_get(fs, t, k < PAGE_SIZE) : 0;
        if (!p) {
            trim(fs, t, 0);
            return -ENOSPC;
        }
        memcpy(p, t->f.image + i * PAGE_SIZE, k);
        *s = p;
    }
    t->f.image = 0;
    return 0;
}

/* truncate(2). Bytes past the end of a page are always zero (new pages
 * are zeroed, a shrink zeroes the last page's tail), so growing the file
 * again reads zeros there. */
static long resize(struct tmpfs *fs, struct tnode *t, uint64_t size)
{
    if (t->f.image) {
        long rc = unshare(fs, t, size);
        if (rc)
            return rc;
    }
    if (size < t->size) {
        trim(fs, t, (size + PAGE_SIZE - 1) / PAGE_SIZE);
        void **s = size % PAGE_SIZE ? slot(t, size / PAGE_SIZE, 0) : 0;
        if (s && *s)
            memset((char *)*s + size % PAGE_SIZE, 0, PAGE_SIZE - size % PAGE_SIZE);
    }
    t->size = size;
    return 0;
}

static long tmpfs_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    struct tnode *t = T(f->inode);
    if (!n)
        return 0;
    accessed(t);
    if (*off >= t->size)
        return 0;
    n = min_sz(n, t->size - *off);
    if (t->f.image) {
        memcpy(buf, t->f.image + *off, n);
    } else {
        for (size_t done = 0; done < n;) {
            uint64_t pos = *off + done;
            size_t in = pos % PAGE_SIZE, k = min_sz(PAGE_SIZE - in, n - done);
            void **s = slot(t, pos / PAGE_SIZE, 0);
            if (s && *s)
                memcpy(buf + done, (char *)*s + in, k);
            else
                memset(buf + done, 0, k); /* a hole */
            done += k;
        }
    }
    *off += n;
    return (long)n;
}

/* A write that runs out of space stops there: a short count, or ENOSPC
 * when nothing fit (as Linux's tmpfs). */
static long tmpfs_write(struct file *f, const char *buf, size_t n, uint64_t *off)
{
    struct tnode *t = T(f->inode);
    struct tmpfs *fs = FS(f->inode);
    if (!n)
        return 0;
    if (*off >= MAX_FILE_SIZE)
        return -EFBIG;
    n = min_sz(n, MAX_FILE_SIZE - *off);
    t->mtime = t->ctime = now(); /* Linux stamps before copying, whatever the copy's fate */
    if (t->f.image) {
        long rc = unshare(fs, t, UINT64_MAX);
        if (rc)
            return rc;
    }
    size_t done = 0;
    while (done < n) {
        uint64_t pos = *off + done;
        size_t in = pos % PAGE_SIZE, k = min_sz(PAGE_SIZE - in, n - done);
        void **s = slot(t, pos / PAGE_SIZE, 1);
        if (!s || (!*s && !(*s = page_get(fs, t, k < PAGE_SIZE)))) /* a page written whole needs no zeroing */
            break;
        memcpy((char *)*s + in, buf + done, k);
        done += k;
    }
    if (!done)
        return -ENOSPC;
    *off += done;
    if (*off > t->size)
        t->size = *off;
    return (long)done;
}

/* --- directory entries --- */
static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    while (n--)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static struct dent *dent_find(struct tnode *d, const char *name, size_t len)
{
    uint32_t h = name_hash(name, len);
    int hashed = d->d.buckets != 0;
    for (struct dent *e = hashed ? d->d.buckets[h & (d->d.nbuckets - 1)] : d->d.head; e;
         e = hashed ? e->hnext : e->next)
        if (e->hash == h && e->len == len && !memcmp(e->name, name, len))
            return e;
    return 0;
}

/* The hash table doubles past two entries a bucket; small directories
 * (and any that found no memory for one) are searched along the list. */
static void rehash(struct tnode *d)
{
    size_t n = d->d.nbuckets ? d->d.nbuckets * 2 : 16;
    struct dent **b = kzalloc(n * sizeof *b);
    if (!b)
        return;
    for (struct dent *e = d->d.head; e; e = e->next) {
        e->hnext = b[e->hash & (n - 1)];
        b[e->hash & (n - 1)] = e;
    }
    kfree(d->d.buckets);
    d->d.buckets = b;
    d->d.nbuckets = n;
}

static struct dent *dent_new(const char *name, size_t len)
{
    struct dent *e = kmalloc(sizeof *e + len + 1);
    if (e) {
        memcpy(e->name, name, len);
        e->name[len] = 0;
        e->len = (uint16_t)len;
        e->hash = name_hash(name, len);
    }
    return e;
}

/* Append e, naming ino (whose reference it takes), to directory d. */
static void dent_add(struct tnode *d, struct dent *e, struct inode *ino)
{
    e->inode = ino;
    e->seq = ++d->d.seq;
    e->prev = d->d.tail;
    e->next = 0;
    *(d->d.tail ? &d->d.tail->next : &d->d.head) = e;
    d->d.tail = e;
    if (d->d.buckets) {
        size_t b = e->hash & (d->d.nbuckets - 1);
        e->hnext = d->d.buckets[b];
        d->d.buckets[b] = e;
    }
    if (++d->d.count > (d->d.nbuckets ? 2 * d->d.nbuckets : 8))
        rehash(d);
}

static void dent_del(struct tnode *d, struct dent *e)
{
    *(e->prev ? &e->prev->next : &d->d.head) = e->next;
    *(e->next ? &e->next->prev : &d->d.tail) = e->prev;
    if (d->d.buckets) {
        struct dent **p = &d->d.buckets[e->hash & (d->d.nbuckets - 1)];
        while (*p != e)
            p = &(*p)->hnext;
        *p = e->hnext;
    }
    d->d.count--;
}

/* The link `e` in dir goes (unlink, rmdir, a rename's target): the caller
 * puts the inode's reference once done with it. */
static void unlink_entry(struct inode *dir, struct dent *e, struct timespec_k t)
{
    struct inode *v = e->inode;
    dent_del(T(dir), e);
    kfree(e);
    T(v)->ctime = t;
    if (is_dir(v)) { /* its "." and its ".." in dir */
        T(v)->nlink = 0;
        T(v)->d.parent = 0;
        T(dir)->nlink--;
    } else {
        T(v)->nlink--;
    }
}

/* Directory `v` (or not a directory: nothing to do) moved from one parent to another. */
static void reparent(struct inode *v, struct inode *from, struct inode *to)
{
    if (!is_dir(v))
        return;
    T(v)->d.parent = to;
    T(from)->nlink--;
    T(to)->nlink++;
}

/* Whether dir is `anc` or below it. */
static int within(struct inode *dir, struct inode *anc)
{
    for (; dir; dir = T(dir)->d.parent)
        if (dir == anc)
            return 1;
    return 0;
}

/* dir can hold or find `name`: a directory, not removed (Linux: ENOENT in
 * a removed one), the name at most NAME_MAX bytes. */
static long dir_check(struct inode *dir, const char *name, size_t *len)
{
    if (!is_dir(dir))
        return -ENOTDIR;
    *len = strlen(name);
    if (*len > NAME_MAX)
        return -ENAMETOOLONG;
    return T(dir)->nlink ? 0 : -ENOENT;
}

static long dir_read(struct file *f, char *buf, size_t n, uint64_t *off) { return -EISDIR; }

/* Cookies: 0 the start, 1 after ".", 2 after "..", 2 + seq after an entry:
 * a listing resumes at the first entry newer than its cookie, so entries
 * unlinked meanwhile are neither skipped over nor repeated. Returns the
 * bytes added (0: at the end), -EINVAL if not even one entry fits. */
static long tmpfs_getdents(struct file *f, struct dir_sink *s)
{
    struct inode *dir = f->inode;
    struct tnode *d = T(dir);
    size_t start = s->used;
    if (!d->nlink)
        return -ENOENT; /* removed: Linux lists nothing, not even "." */
    accessed(d);
    if (f->off == 0) {
        if (!dir_emit(s, ".", 1, dir->ino, DT_DIR, 1))
            goto full;
        f->off = 1;
    }
    if (f->off == 1) {
        if (!dir_emit(s, "..", 2, (d->d.parent ? d->d.parent : dir)->ino, DT_DIR, 2))
            goto full;
        f->off = 2;
    }
    for (struct dent *e = d->d.head; e; e = e->next) {
        if (e->seq + 2 <= f->off)
            continue;
        if (!dir_emit(s, e->name, e->len, e->inode->ino, dtype_of(e->inode->mode), e->seq + 2))
            goto full;
        f->off = e->seq + 2;
    }
    return (long)(s->used - start);
full:
    return s->used == start ? -EINVAL : (long)(s->used - start);
}

static const struct file_ops file_fops = {
    .kind = "file",
    .mode = S_IFREG,
    .flags = FOPS_SEEKABLE | FOPS_MMAP,
    .read = tmpfs_read,
    .write = tmpfs_write,
};

static const struct file_ops dir_fops = {
    .kind = "directory",
    .mode = S_IFDIR,
    .flags = FOPS_SEEKABLE,
    .read = dir_read,
    .getdents = tmpfs_getdents,
};

/* --- inodes --- */
static struct inode *inode_make(struct tmpfs *fs, uint32_t mode, struct timespec_k t)
{
    struct tnode *n = kzalloc(sizeof *n);
    if (!n)
        return 0;
    uint32_t type = mode & S_IFMT;
    struct inode *ino = inode_new(&fs->sb, &tmpfs_iops, type == S_IFREG ? &file_fops : type == S_IFDIR ? &dir_fops : 0,
                                  mode, fs->next_ino, n);
    if (!ino) {
        kfree(n);
        return 0;
    }
    fs->next_ino++;
    fs->inodes++;
    n->nlink = type == S_IFDIR ? 2 : 1;
    n->atime = n->mtime = n->ctime = t;
    return ino;
}

/* A new inode as name[0, len) in dir, which the caller checked (a live
 * directory without that name); the entry holds its one reference. The
 * directory's times are the caller's (the archive sets its own). */
static struct inode *make(struct inode *dir, const char *name, size_t len, uint32_t mode, uint64_t rdev,
                          const char *target, size_t tlen, struct timespec_k t)
{
    int lnk = (mode & S_IFMT) == S_IFLNK;
    struct dent *e = dent_new(name, len);
    char *tg = lnk ? kmalloc(tlen + 1) : 0;
    struct inode *ino = e && (tg || !lnk) ? inode_make(FS(dir), mode, t) : 0;
    if (!ino) {
        kfree(e);
        kfree(tg);
        return 0;
    }
    struct tnode *n = T(ino), *pd = T(dir);
    n->rdev = rdev;
    if (dir->mode & S_ISGID) { /* a set-group-ID directory hands its group down (and the bit, to directories) */
        n->gid = pd->gid;
        if (is_dir(ino))
            ino->mode |= S_ISGID;
    }
    if (lnk) {
        memcpy(tg, target, tlen);
        tg[tlen] = 0;
        n->target = tg;
        n->size = tlen;
    }
    if (is_dir(ino)) {
        n->d.parent = dir;
        pd->nlink++;
    }
    dent_add(pd, e, ino);
    return ino;
}

/* The entry `name` of dir, after dir_check's checks. */
static long entry_of(struct inode *dir, const char *name, struct dent **e)
{
    size_t len;
    long rc = dir_check(dir, name, &len);
    if (rc)
        return rc;
    *e = dent_find(T(dir), name, len);
    return *e ? 0 : -ENOENT;
}

static long tmpfs_lookup(struct inode *dir, const char *name, struct inode **out)
{
    struct dent *e;
    long rc = entry_of(dir, name, &e);
    if (rc)
        return rc;
    inode_get(e->inode);
    *out = e->inode;
    return 0;
}

static long tmpfs_create(struct inode *dir, const char *name, unsigned mode, uint64_t rdev, const char *target,
                         struct inode **out)
{
    size_t len, tlen = 0;
    long rc = dir_check(dir, name, &len);
    if (rc)
        return rc;
    if (dent_find(T(dir), name, len))
        return -EEXIST;
    switch (mode & S_IFMT) {
    case 0: /* mknod's "regular file" */
        mode |= S_IFREG;
        break;
    case S_IFREG:
    case S_IFDIR:
    case S_IFIFO:
    case S_IFSOCK:
    case S_IFCHR:
    case S_IFBLK:
        break;
    case S_IFLNK:
        if (!target)
            return -EINVAL;
        tlen = strlen(target);
        if (!tlen)
            return -ENOENT;
        if (tlen >= PAGE_SIZE)
            return -ENAMETOOLONG;
        mode = S_IFLNK | 0777; /* a symlink's permissions are always these */
        break;
    default:
        return -EINVAL;
    }
    if ((mode & S_IFMT) != S_IFCHR && (mode & S_IFMT) != S_IFBLK)
        rdev = 0;
    struct timespec_k t = now();
    struct inode *ino = make(dir, name, len, mode & (S_IFMT | 07777), rdev, target, tlen, t);
    if (!ino)
        return -ENOSPC;
    touch(dir, t);
    if (out) {
        inode_get(ino);
        *out = ino;
    }
    return 0;
}

/* An inode without links (nlink 0) may get one: O_TMPFILE files are made
 * and unlinked, then named by linkat. (Linux refuses other unlinked files
 * with ENOENT; nothing here tells the two apart.) */
static long tmpfs_link(struct inode *dir, const char *name, struct inode *old)
{
    size_t len;
    long rc = dir_check(dir, name, &len);
    if (rc)
        return rc;
    if (dent_find(T(dir), name, len))
        return -EEXIST;
    if (is_dir(old))
        return -EPERM;
    if (old->sb != dir->sb)
        return -EXDEV;
    struct dent *e = dent_new(name, len);
    if (!e)
        return -ENOSPC;
    inode_get(old);
    dent_add(T(dir), e, old);
    struct timespec_k t = now();
    T(old)->nlink++;
    T(old)->ctime = t;
    touch(dir, t);
    return 0;
}

static long tmpfs_unlink(struct inode *dir, const char *name, int rmdir)
{
    struct dent *e;
    long rc = entry_of(dir, name, &e);
    if (rc)
        return rc;
    struct inode *v = e->inode;
    if (rmdir != is_dir(v))
        return rmdir ? -ENOTDIR : -EISDIR;
    if (rmdir && T(v)->d.count)
        return -ENOTEMPTY;
    struct timespec_k t = now();
    unlink_entry(dir, e, t);
    touch(dir, t);
    inode_put(v);
    return 0;
}

/* Checks in Linux's order (do_renameat2, vfs_rename, shmem_rename2). A
 * moved entry goes to the end of its new directory's listing, with a new
 * cookie; an exchange swaps the inodes under the two names in place. */
static long tmpfs_rename(struct inode *fdir, const char *from, struct inode *tdir, const char *to, unsigned flags)
{
    size_t flen, tlen;
    long rc;
    if ((rc = dir_check(fdir, from, &flen)) || (rc = dir_check(tdir, to, &tlen)))
        return rc;
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) || flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
        return -EINVAL;
    struct dent *se = dent_find(T(fdir), from, flen), *te = dent_find(T(tdir), to, tlen);
    if (!se)
        return -ENOENT;
    if (te && (flags & RENAME_NOREPLACE))
        return -EEXIST;
    if (!te && (flags & RENAME_EXCHANGE))
        return -ENOENT;
    struct inode *s = se->inode, *v = te ? te->inode : 0;
    if (is_dir(s) && within(tdir, s))
        return -EINVAL; /* into its own subtree */
    if (v && is_dir(v) && within(fdir, v))
        return flags & RENAME_EXCHANGE ? -EINVAL : -ENOTEMPTY;
    if (s == v)
        return 0; /* two names of one inode: both stay */
    struct timespec_k t = now();
    if (flags & RENAME_EXCHANGE) {
        se->inode = v;
        te->inode = s;
        if (fdir != tdir) {
            reparent(s, fdir, tdir);
            reparent(v, tdir, fdir);
        }
        T(v)->ctime = t;
    } else {
        if (v && is_dir(s) != is_dir(v))
            return is_dir(s) ? -ENOTDIR : -EISDIR;
        if (v && is_dir(v) && T(v)->d.count)
            return -ENOTEMPTY;
        struct dent *ne = dent_new(to, tlen); /* first: failing, nothing has changed */
        if (!ne)
            return -ENOSPC;
        if (v)
            unlink_entry(tdir, te, t);
        dent_del(T(fdir), se);
        kfree(se);
        dent_add(T(tdir), ne, s); /* the reference moves with the name */
        if (fdir != tdir)
            reparent(s, fdir, tdir);
        if (v)
            inode_put(v);
    }
    T(s)->ctime = t;
    touch(fdir, t);
    touch(tdir, t);
    return 0;
}

static long tmpfs_getattr(struct inode *ino, struct kstat *st)
{
    struct tnode *t = T(ino);
    memset(st, 0, sizeof *st);
    st->dev = ino->sb->dev;
    st->ino = ino->ino;
    st->mode = ino->mode;
    st->nlink = t->nlink;
    st->uid = t->uid;
    st->gid = t->gid;
    st->rdev = t->rdev;
    st->blksize = PAGE_SIZE;
    st->atime = t->atime;
    st->mtime = t->mtime;
    st->ctime = t->ctime;
    switch (ino->mode & S_IFMT) {
    case S_IFDIR:
        st->size = (t->d.count + 2) * BOGO_DIRENT;
        break;
    case S_IFREG:
        st->size = t->size;
        st->blocks = (t->f.image ? (t->size + PAGE_SIZE - 1) / PAGE_SIZE : t->f.pages) * (PAGE_SIZE / 512);
        break;
    case S_IFLNK:
        st->size = t->size;
        st->blocks = t->size >= SHORT_SYMLINK ? PAGE_SIZE / 512 : 0;
        break;
    }
    return 0;
}

static long tmpfs_setattr(struct inode *ino, const struct ksetattr *a)
{
    struct tnode *t = T(ino);
    struct timespec_k n = now();
    if (a->valid & SETATTR_SIZE) {
        if (!is_reg(ino))
            return is_dir(ino) ? -EISDIR : -EINVAL;
        if (a->size > MAX_FILE_SIZE)
            return -EFBIG;
        if (a->size != t->size) {
            long rc = resize(FS(ino), t, a->size);
            if (rc)
                return rc;
            t->mtime = n;
        }
    }
    if (a->valid & SETATTR_MODE)
        ino->mode = (ino->mode & S_IFMT) | (a->mode & 07777);
    if (a->valid & SETATTR_UID)
        t->uid = a->uid;
    if (a->valid & SETATTR_GID)
        t->gid = a->gid;
    /* chown drops set-user-ID, and set-group-ID with group execute, even
     * for root (Linux's chown_common), unless it sets the mode itself */
    if ((a->valid & (SETATTR_UID | SETATTR_GID)) && !(a->valid & SETATTR_MODE) && !is_dir(ino)) {
        ino->mode &= ~(uint32_t)S_ISUID;
        if ((ino->mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
            ino->mode &= ~(uint32_t)S_ISGID;
    }
    if (a->valid & (SETATTR_ATIME | SETATTR_ATIME_SET))
        t->atime = a->valid & SETATTR_ATIME_SET ? a->atime : n;
    if (a->valid & (SETATTR_MTIME | SETATTR_MTIME_SET))
        t->mtime = a->valid & SETATTR_MTIME_SET ? a->mtime : n;
    t->ctime = n;
    return 0;
}

static long tmpfs_readlink(struct inode *ino, char *buf, size_t size)
{
    if ((ino->mode & S_IFMT) != S_IFLNK)
        return -EINVAL;
    struct tnode *t = T(ino);
    size_t n = min_sz(t->size, size);
    memcpy(buf, t->target, n);
    accessed(t); /* Linux touches a link's atime on readlink and on following it */
    return (long)n;
}

/* The last reference went: no entry names the inode (entries hold
 * references), so its data goes too. */
static void tmpfs_evict(struct inode *ino)
{
    struct tnode *t = T(ino);
    switch (ino->mode & S_IFMT) {
    case S_IFREG:
        trim(FS(ino), t, 0);
        break;
    case S_IFDIR:
        while (t->d.head) { /* only a root whose superblock goes still has entries */
            struct dent *e = t->d.head;
            struct inode *v = e->inode;
            dent_del(t, e);
            kfree(e);
            inode_put(v);
        }
        kfree(t->d.buckets);
        break;
    case S_IFLNK:
        kfree(t->target);
        break;
    }
    FS(ino)->inodes--;
    kfree(t);
    ino->priv = 0;
}

static const struct inode_ops tmpfs_iops = {
    .lookup = tmpfs_lookup,
    .create = tmpfs_create,
    .link = tmpfs_link,
    .unlink = tmpfs_unlink,
    .rename = tmpfs_rename,
    .getattr = tmpfs_getattr,
    .setattr = tmpfs_setattr,
    .readlink = tmpfs_readlink,
    .evict = tmpfs_evict,
};

/* Blocks: the bound, or all of RAM for an unbounded instance; files:
 * Linux's default bound, half the RAM pages (not enforced here). */
static long tmpfs_statfs(struct superblock *sb, struct kstatfs *s)
{
    struct tmpfs *fs = sb->priv;
    uint64_t blocks = fs->max_pages ? fs->max_pages : pages_total(), files = pages_total() / 2;
    memset(s, 0, sizeof *s);
    s->type = TMPFS_MAGIC;
    s->bsize = PAGE_SIZE;
    s->blocks = blocks;
    s->bfree = s->bavail = blocks > fs->pages ? blocks - fs->pages : 0;
    s->files = files;
    s->ffree = files > fs->inodes ? files - fs->inodes : 0;
    s->namelen = NAME_MAX;
    return 0;
}

/* --- the archive (cpio "newc") --- */
enum { C_INO, C_MODE, C_UID, C_GID, C_NLINK, C_MTIME, C_FILESIZE, C_DEVMAJOR, C_DEVMINOR, C_RDEVMAJOR,
       C_RDEVMINOR, C_NAMESIZE, C_FIELDS };

/* Files archived as hard links to one another: newc stores the data with
 * one of them (GNU cpio: the last), so they become one inode, as Linux's
 * initramfs makes them. */
struct hardlink {
    struct hardlink *next;
    unsigned long ino, major, minor;
    struct inode *inode; /* a reference */
};

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

/* Userspace's dev_t encoding (glibc's makedev), what st_rdev reports. */
static uint64_t make_dev(uint64_t major, uint64_t minor)
{
    return (minor & 0xff) | (major & 0xfff) << 8 | (minor & ~0xfful) << 12 | (major & ~0xffful) << 32;
}

static void set_attrs(struct inode *ino, uint32_t mode, const unsigned long *h, struct timespec_k t)
{
    if ((ino->mode & S_IFMT) != S_IFLNK)
        ino->mode = (ino->mode & S_IFMT) | (mode & 07777);
    T(ino)->uid = (uint32_t)h[C_UID];
    T(ino)->gid = (uint32_t)h[C_GID];
    T(ino)->atime = T(ino)->mtime = T(ino)->ctime = t;
}

/* One entry at its path ("./a/b", "a/b", "." the root), missing parents
 * made as 0755 directories. Returns whether it made something (the root's
 * own entry only sets its attributes). Directories keep the archive's
 * times: entries made in them do not touch those. */
static int add_entry(struct tmpfs *fs, const char *path, const unsigned long *h, const char *data,
                     struct hardlink **links)
{
    uint32_t mode = (uint32_t)h[C_MODE], type = mode & S_IFMT;
    unsigned long size = h[C_FILESIZE];
    struct timespec_k t = {(int64_t)h[C_MTIME], 0};
    const char *last = 0;
    size_t last_len = 0;
    for (const char *p = path; *p;) { /* the last component is the entry's name */
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t len = (size_t)(e - p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        if (len > NAME_MAX)
            return 0;
        if (len && !(len == 1 && p[0] == '.')) {
            last = p;
            last_len = len;
        }
        p = e;
    }
    struct inode *dir = fs->sb.root;
    if (!last) {
        if (type == S_IFDIR)
            set_attrs(dir, mode, h, t);
        return 0;
    }
    for (const char *p = path;;) {
        while (*p == '/')
            p++;
        if (p == last)
            break;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t len = (size_t)(e - p);
        if (len && !(len == 1 && p[0] == '.')) {
            struct dent *d = dent_find(T(dir), p, len);
            struct inode *next = d ? d->inode : make(dir, p, len, S_IFDIR | 0755, 0, 0, 0, t);
            if (!next || !is_dir(next))
                return 0;
            dir = next;
        }
        p = e;
    }

    struct dent *old = dent_find(T(dir), last, last_len);
    if (old && is_dir(old->inode) && type == S_IFDIR) { /* made as a parent before its own entry */
        set_attrs(old->inode, mode, h, t);
        return 1;
    }
    if (old) { /* a later entry of one name wins */
        struct inode *v = old->inode;
        if (is_dir(v) && T(v)->d.count)
            return 0;
        unlink_entry(dir, old, t);
        inode_put(v);
    }
    struct inode *ino;
    uint64_t rdev = 0;
    switch (type) {
    case S_IFREG:
        if (h[C_NLINK] >= 2) {
            struct hardlink *l = *links;
            while (l && (l->ino != h[C_INO] || l->major != h[C_DEVMAJOR] || l->minor != h[C_DEVMINOR]))
                l = l->next;
            if (l) {
                struct dent *e = dent_new(last, last_len);
                if (!e)
                    return 0;
                inode_get(l->inode);
                dent_add(T(dir), e, l->inode);
                T(l->inode)->nlink++;
                if (size) {
                    T(l->inode)->f.image = data;
                    T(l->inode)->size = size;
                }
                return 1;
            }
        }
        if (!(ino = make(dir, last, last_len, S_IFREG, 0, 0, 0, t)))
            return 0;
        T(ino)->f.image = size ? data : 0;
        T(ino)->size = size;
        struct hardlink *l = h[C_NLINK] >= 2 ? kmalloc(sizeof *l) : 0;
        if (l) {
            *l = (struct hardlink){*links, h[C_INO], h[C_DEVMAJOR], h[C_DEVMINOR], ino};
            inode_get(ino);
            *links = l;
        }
        break;
    case S_IFLNK:
        if (!size || size >= PAGE_SIZE || !(ino = make(dir, last, last_len, S_IFLNK | 0777, 0, data, size, t)))
            return 0;
        break;
    case S_IFCHR:
    case S_IFBLK:
        rdev = make_dev(h[C_RDEVMAJOR], h[C_RDEVMINOR]);
        /* fall through */
    case S_IFDIR:
    case S_IFIFO:
    case S_IFSOCK:
        if (!(ino = make(dir, last, last_len, type, rdev, 0, 0, t)))
            return 0;
        break;
    default:
        return 0;
    }
    set_attrs(ino, mode, h, t);
    return 1;
}

/* Entries until the trailer or the first one that does not hold together
 * (an --initrd the host never checked ends there, as fs.c's walk did). */
static void populate(struct tmpfs *fs, const char *a, size_t size)
{
    struct hardlink *links = 0;
    size_t off = 0;
    while (off + 110 <= size && !memcmp(a + off, "07070", 5)) {
        const char *hdr = a + off, *name = hdr + 110;
        unsigned long h[C_FIELDS];
        int bad = 0;
        for (int i = 0; i < C_FIELDS; i++)
            bad |= (h[i] = hex8(hdr + 6 + 8 * i)) == ~0ul;
        unsigned long namesize = h[C_NAMESIZE];
        if (bad || namesize == 0 || namesize > size - off - 110 || name[namesize - 1] != 0)
            break;
        size_t data = align4(off + 110 + namesize);
        if (data > size || h[C_FILESIZE] > size - data || !strcmp(name, "TRAILER!!!"))
            break;
        fs->offered++;
        if (!fs->nomem) {
            int added = add_entry(fs, name, h, a + data, &links);
            fs->entries += (size_t)added;
            void *probe = added ? 0 : kmalloc(256); /* not added: a bad entry, or no memory left? */
            if (!added && !probe)
                fs->nomem = 1; /* count the rest: the message says how many there were */
            kfree(probe);
        }
        off = align4(data + h[C_FILESIZE]);
    }
    while (links) {
        struct hardlink *l = links;
        links = l->next;
        inode_put(l->inode);
        kfree(l);
    }
}

struct superblock *tmpfs_new(const char *source, unsigned long max_bytes, unsigned mode, const void *archive,
                             size_t archive_size)
{
    struct tmpfs *fs = kzalloc(sizeof *fs);
    if (!fs)
        return 0;
    fs->sb.fstype = "tmpfs";
    fs->sb.source = source;
    fs->sb.magic = TMPFS_MAGIC;
    fs->sb.dev = vfs_new_dev();
    fs->sb.statfs = tmpfs_statfs;
    fs->sb.priv = fs;
    fs->max_pages = max_bytes / PAGE_SIZE + (max_bytes % PAGE_SIZE != 0); /* Linux rounds size= up to pages */
    fs->next_ino = 1;                                                     /* the root's, as on Linux */
    if (!(fs->sb.root = inode_make(fs, S_IFDIR | (mode & 07777), now()))) {
        kfree(fs);
        return 0;
    }
    if (archive)
        populate(fs, archive, archive_size);
    return &fs->sb;
}

long tmpfs_add_image_file(struct superblock *sb, const char *name, const void *data, size_t size, unsigned mode)
{
    struct inode *dir = sb->root, *old;
    size_t len = strlen(name);
    if (!len || len > NAME_MAX || strchr(name, '/'))
        return -EINVAL;
    if (dir->ops->lookup(dir, name, &old) == 0) { /* the tree's own file of that name wins */
        inode_put(old);
        return -EEXIST;
    }
    struct inode *ino = make(dir, name, len, S_IFREG | (mode & 07777), 0, 0, 0, now());
    if (!ino)
        return -ENOMEM;
    T(ino)->f.image = size ? data : 0;
    T(ino)->size = size;
    return 0;
}

size_t tmpfs_entries(struct superblock *sb, size_t *offered, int *nomem)
{
    struct tmpfs *fs = sb->priv;
    *offered = fs->offered;
    *nomem = fs->nomem;
    return fs->entries;
}
