/* Host directories (run --mount HOSTDIR:/guest/path): each channel a 9P
 * device registered (hermit/p9.h) is a file system of its own, a 9P2000.L
 * client mounted at the path its tag names.
 *
 * An inode holds a fid walked to it from its parent's, one name at a time:
 * the VFS resolves paths (mounts, "..", symlinks), so the host only ever
 * sees single names and nothing climbs out of the exported directory. An
 * open file holds a fid of its own, cloned from the inode's and Tlopen'ed.
 *
 * One message is in flight per mount: each exchange takes the mount's
 * `busy` flag (guarded by the big kernel lock, which every file call holds;
 * a thread that finds it taken sleeps in io_wait, and so does the holder
 * while the host answers). Nothing here drops an inode reference with the
 * flag held: the eviction would clunk, and wait for itself. */
#include "vfs.h"
#include <hermit/heap.h>
#include <hermit/p9.h>


#define HDR 7     /* size[4] type[1] tag[2] */
#define IOHDR 24  /* Twrite's overhead: header, fid, offset, count (+1: Linux's P9_IOHDRSZ) */
#define NOTAG 0xffff
#define NOFID 0xffffffffu
#define FREE_FIDS 256
#define MAX_MOUNTS 16

enum {
    Rlerror = 7, Tstatfs = 8, Tlopen = 12, Tlcreate = 14, Tsymlink = 16, Tmknod = 18, Treadlink = 22, Tgetattr = 24,
    Tsetattr = 26, Treaddir = 40, Tfsync = 50, Tlink = 70, Tmkdir = 72, Trenameat = 74, Tunlinkat = 76,
    Tversion = 100, Tattach = 104, Twalk = 110, Tread = 116, Twrite = 118, Tclunk = 120,
};

#define QTDIR 0x80
#define QTSYMLINK 0x02
#define P9_GETATTR_BASIC 0x7ffull
#define AT_REMOVEDIR 0x200
/* Tlopen/Tlcreate flags are Linux's generic O_* numbering, which x86_64
 * and aarch64 share for everything passed here (not O_DIRECTORY/O_NOFOLLOW). */
#define P9_DSYNC 010000
#define P9_SYNC 04000000 /* __O_SYNC: O_SYNC is it | O_DSYNC */

struct qid {
    uint8_t type;
    uint64_t path;
};

/* zero copy (below) */
#define ZC_MIN (2 * PAGE_SIZE) /* below this a copy costs less than the pinning */
#define ZC_SEGS 128

struct zc {
    struct p9_seg seg[ZC_SEGS];
    uint64_t pin[ZC_SEGS];
    unsigned nseg, npin;
};

struct mount {
    struct superblock sb;
    struct p9_channel *ch;
    char path[256]; /* canonical: "/data" */
    uint32_t msize, iounit;
    int busy;
    uint64_t seq; /* exchanges so far: what a created file's spare fid is valid for */
    uint8_t *tx, *rx;
    size_t tx_len, rx_len, rx_off;
    /* Clunked fids, reused first: numbers stay small, and the counter
     * does not wrap into a fid still in use. */
    uint32_t next_fid, nfree, free_fids[FREE_FIDS];
    struct zc zc;                     /* the pages of the message in flight (zero copy) */
    struct p9_seg segs[ZC_SEGS + 2]; /* and its scatter list */
};

struct p9_file;
struct p9_inode {
    uint32_t fid;
    /* A file create() made: `fid` is the Tlcreate'd one, open O_RDWR, and
     * the first open takes it as is (no clone, no Tlopen) -- the create's
     * own open(O_CREAT), or O_TMPFILE's, whose name is gone by then. Not
     * with O_TRUNC (the VFS truncates itself today), unless no message came
     * since the create: the file is still empty then. */
    int spare;
    uint64_t spare_seq;
    struct p9_file *opens; /* open fids: fstat/ftruncate after unlink use one */
};

struct p9_file {
    struct mount *m;
    struct p9_inode *pi;
    uint32_t fid;
    int owned;    /* its own fid (clunked at release), not the inode's spare */
    int writable; /* opened for writing on the host */
    struct p9_file *next;
};

static struct mount *mount_of(struct inode *ino) { return ino->sb->priv; }
static struct p9_inode *pi_of(struct inode *ino) { return ino->priv; }

/* --- message building and parsing --- */
static void put(struct mount *m, const void *p, size_t n)
{
    if (m->tx_len + n <= m->msize)
        memcpy(m->tx + m->tx_len, p, n);
    m->tx_len += n; /* past msize: exchange() refuses it */
}
static void put8(struct mount *m, uint8_t v) { put(m, &v, 1); }
static void put16(struct mount *m, uint16_t v) { put(m, &v, 2); }
static void put32(struct mount *m, uint32_t v) { put(m, &v, 4); }
static void put64(struct mount *m, uint64_t v) { put(m, &v, 8); }
static void puts_(struct mount *m, const char *s, size_t n)
{
    put16(m, (uint16_t)n);
    put(m, s, n);
}
static void begin_tag(struct mount *m, uint8_t type, uint16_t tag)
{
    m->tx_len = 0;
    put32(m, 0);
    put8(m, type);
    put16(m, tag);
}
static void begin(struct mount *m, uint8_t type) { begin_tag(m, type, 1); }

static int get(struct mount *m, void *p, size_t n)
{
    if (m->rx_off + n > m->rx_len)
        return -1;
    memcpy(p, m->rx + m->rx_off, n);
    m->rx_off += n;
    return 0;
}
static uint8_t get8(struct mount *m) { uint8_t v = 0; get(m, &v, 1); return v; }
static uint16_t get16(struct mount *m) { uint16_t v = 0; get(m, &v, 2); return v; }
static uint32_t get32(struct mount *m) { uint32_t v = 0; get(m, &v, 4); return v; }
static uint64_t get64(struct mount *m) { uint64_t v = 0; get(m, &v, 8); return v; }
static struct qid getqid(struct mount *m)
{
    struct qid q = {get8(m), 0};
    get32(m); /* version */
    q.path = get64(m);
    return q;
}

static void lock(struct mount *m)
{
    while (m->busy)
        io_wait(io_seq(), 0); /* under the big lock: a release cannot slip in unseen */
    m->busy = 1;
}

static void unlock(struct mount *m)
{
    m->busy = 0;
    io_notify();
}

/* Send what begin()/put*() built; 0 with the reply ready to get*(), or -errno. */
static long exchange(struct mount *m)
{
    if (m->tx_len > m->msize)
        return -EINVAL;
    memcpy(m->tx, &(uint32_t){(uint32_t)m->tx_len}, 4);
    uint8_t type = m->tx[4];
    m->seq++;
    long n = m->ch->rpc(m->ch, m->tx, m->tx_len, m->rx, m->msize);
    if (n < HDR)
        return -EIO;
    m->rx_len = (size_t)n;
    m->rx_off = HDR;
    if (m->rx[4] == Rlerror) {
        long e = (long)get32(m);
        return e > 0 ? -e : -EIO;
    }
    return m->rx[4] == type + 1 ? 0 : -EIO;
}

/* --- fids (lock held by the caller) --- */
static uint32_t fid_new(struct mount *m)
{
    if (m->nfree)
        return m->free_fids[--m->nfree];
    if (m->next_fid == NOFID)
        m->next_fid = 0;
    return m->next_fid++;
}

static void fid_free(struct mount *m, uint32_t fid)
{
    if (m->nfree < FREE_FIDS)
        m->free_fids[m->nfree++] = fid;
}

/* The fid is gone whatever the reply: the server drops it even when the
 * clunk itself fails. */
static void p9_clunk(struct mount *m, uint32_t fid)
{
    begin(m, Tclunk);
    put32(m, fid);
    exchange(m);
    fid_free(m, fid);
}

/* A new fid for `name` in directory `from` (name NULL: a clone of from). A
 * walk that stops short makes no fid: the name is not there. */
static long p9_walk(struct mount *m, uint32_t from, const char *name, uint32_t *fid, struct qid *q)
{
    uint32_t nf = fid_new(m);
    begin(m, Twalk);
    put32(m, from);
    put32(m, nf);
    put16(m, name ? 1 : 0);
    if (name)
        puts_(m, name, strlen(name));
    long rc = exchange(m);
    if (!rc && get16(m) != (name ? 1 : 0))
        rc = -ENOENT;
    if (rc) {
        fid_free(m, nf);
        return rc;
    }
    if (name)
        *q = getqid(m);
    *fid = nf;
    return 0;
}

/* One name of a directory: the VFS never sends "." or ".." or a '/', and
 * the host must never see one (".." of the export's root, "a/../.."). */
static int bad_name(const char *name)
{
    return !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..");
}

/* --- inodes --- */
static const struct inode_ops p9_iops;
static const struct file_ops p9_file_ops, p9_dir_ops;

static const struct file_ops *fops_for(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return &p9_file_ops;
    case S_IFDIR: return &p9_dir_ops;
    }
    return 0; /* symlinks, and device nodes, FIFOs and sockets the VFS opens by their type */
}

/* What a walk tells of a file: its type (not a FIFO's, a socket's or a
 * device's, which are plain files to a qid). The permission bits are a
 * guess until getattr replaces the mode with the host's. */
static uint32_t qid_mode(uint8_t type)
{
    return type & QTDIR ? S_IFDIR | 0755 : type & QTSYMLINK ? S_IFLNK | 0777 : S_IFREG | 0644;
}

/* An inode for `fid` (its reference in *out); the fid is clunked on failure. */
static long make_inode(struct mount *m, uint32_t fid, uint64_t ino, uint32_t mode, int spare, struct inode **out)
{
    struct p9_inode *pi = kzalloc(sizeof *pi);
    struct inode *i = pi ? inode_new(&m->sb, &p9_iops, fops_for(mode), mode, ino, pi) : 0;
    if (!i) {
        kfree(pi);
        lock(m);
        p9_clunk(m, fid);
        unlock(m);
        return -ENOMEM;
    }
    pi->fid = fid;
    pi->spare = spare;
    pi->spare_seq = m->seq;
    *out = i;
    return 0;
}

static long p9_lookup(struct inode *dir, const char *name, struct inode **out)
{
    if (bad_name(name))
        return -ENOENT;
    struct mount *m = mount_of(dir);
    uint32_t fid;
    struct qid q;
    lock(m);
    long rc = p9_walk(m, pi_of(dir)->fid, name, &fid, &q);
    unlock(m);
    return rc ? rc : make_inode(m, fid, q.path, qid_mode(q.type), 0, out);
}

static void p9_evict(struct inode *ino)
{
    struct mount *m = mount_of(ino);
    lock(m);
    p9_clunk(m, pi_of(ino)->fid);
    unlock(m);
    kfree(ino->priv);
}

/* Files: Tlcreate on a clone of the directory's fid (which it turns into
 * the new file's, opened). The rest: one message in the directory, then a
 * walk to the new name for its inode -- if the caller wants one. */
static long p9_create(struct inode *dir, const char *name, unsigned mode, uint64_t rdev, const char *target,
                      struct inode **out)
{
    if (bad_name(name))
        return -EINVAL;
    struct mount *m = mount_of(dir);
    uint32_t dfid = pi_of(dir)->fid, fid = NOFID, type = mode & S_IFMT;
    size_t len = strlen(name);
    struct qid q;
    long rc;
    lock(m);
    if (type == S_IFREG) {
        if ((rc = p9_walk(m, dfid, 0, &fid, 0)) == 0) {
            begin(m, Tlcreate);
            put32(m, fid);
            puts_(m, name, len);
            put32(m, O_CREAT | O_EXCL | O_RDWR); /* -EEXIST if it is there; RDWR serves any later open */
            put32(m, mode & 07777);
            put32(m, 0); /* gid */
            if ((rc = exchange(m)) == 0) {
                q = getqid(m);
            } else {
                p9_clunk(m, fid); /* still the directory's clone */
                fid = NOFID;
            }
        }
    } else {
        if (type == S_IFDIR) {
            begin(m, Tmkdir);
            put32(m, dfid);
            puts_(m, name, len);
            put32(m, mode & 07777);
        } else if (type == S_IFLNK) {
            begin(m, Tsymlink);
            put32(m, dfid);
            puts_(m, name, len);
            puts_(m, target ? target : "", target ? strlen(target) : 0);
        } else { /* FIFO, socket, device: the type travels in the mode */
            begin(m, Tmknod);
            put32(m, dfid);
            puts_(m, name, len);
            put32(m, mode);
            put32(m, (uint32_t)(((rdev >> 32) & 0xfffff000) | ((rdev >> 8) & 0xfff))); /* Linux's dev_t */
            put32(m, (uint32_t)(((rdev >> 12) & 0xffffff00) | (rdev & 0xff)));
        }
        put32(m, 0); /* gid */
        rc = exchange(m);
        if (!rc && out)
            rc = p9_walk(m, dfid, name, &fid, &q);
    }
    if (!out && fid != NOFID) {
        p9_clunk(m, fid);
        fid = NOFID;
    }
    unlock(m);
    if (rc || !out)
        return rc;
    return make_inode(m, fid, q.path, type | (mode & 07777), type == S_IFREG, out);
}

static long p9_link(struct inode *dir, const char *name, struct inode *old)
{
    if (bad_name(name))
        return -EINVAL;
    if (old->sb != dir->sb)
        return -EXDEV;
    struct mount *m = mount_of(dir);
    lock(m);
    begin(m, Tlink);
    put32(m, pi_of(dir)->fid);
    put32(m, pi_of(old)->fid);
    puts_(m, name, strlen(name));
    long rc = exchange(m);
    unlock(m);
    return rc;
}

static long p9_unlink(struct inode *dir, const char *name, int rmdir)
{
    if (bad_name(name))
        return -EINVAL;
    struct mount *m = mount_of(dir);
    lock(m);
    begin(m, Tunlinkat);
    put32(m, pi_of(dir)->fid);
    puts_(m, name, strlen(name));
    put32(m, rmdir ? AT_REMOVEDIR : 0);
    long rc = exchange(m);
    unlock(m);
    return rc;
}

/* The server re-points the fids under a renamed path, so inodes (and
 * open files) follow their files. */
static long p9_rename(struct inode *from_dir, const char *from, struct inode *to_dir, const char *to, unsigned flags)
{
    if (flags)
        return -EINVAL; /* RENAME_NOREPLACE/EXCHANGE: not over 9P2000.L's renameat (Linux's v9fs says the same) */
    if (bad_name(from) || bad_name(to))
        return -EINVAL;
    if (from_dir->sb != to_dir->sb)
        return -EXDEV;
    struct mount *m = mount_of(from_dir);
    lock(m);
    begin(m, Trenameat);
    put32(m, pi_of(from_dir)->fid);
    puts_(m, from, strlen(from));
    put32(m, pi_of(to_dir)->fid);
    puts_(m, to, strlen(to));
    long rc = exchange(m);
    unlock(m);
    return rc;
}

/* Attributes go through an open fid when there is one: a server that uses
 * its fd (newer QEMU; 7.2 stats the path either way) still answers for an
 * open file unlinked since, where the inode's fid says ENOENT. A size
 * change takes a writable one only (such a server ftruncates it), else the
 * inode's own. */
static uint32_t attr_fid(struct inode *ino, int write)
{
    struct p9_inode *pi = pi_of(ino);
    for (struct p9_file *pf = pi->opens; pf; pf = pf->next)
        if (!write || pf->writable)
            return pf->fid;
    return pi->fid;
}

static long p9_getattr(struct inode *ino, struct kstat *st)
{
    struct mount *m = mount_of(ino);
    lock(m);
    begin(m, Tgetattr);
    put32(m, attr_fid(ino, 0));
    put64(m, P9_GETATTR_BASIC);
    long rc = exchange(m);
    if (rc) {
        unlock(m);
        return rc;
    }
    get64(m); /* valid */
    struct qid q = getqid(m);
    memset(st, 0, sizeof *st);
    st->mode = get32(m);
    st->uid = get32(m);
    st->gid = get32(m);
    st->nlink = get64(m);
    st->rdev = get64(m);
    st->size = get64(m);
    uint64_t blksize = get64(m);
    st->blocks = get64(m); /* 512-byte units, as Linux's stat */
    struct timespec_k *times[3] = {&st->atime, &st->mtime, &st->ctime};
    for (int i = 0; i < 3; i++) {
        times[i]->sec = (int64_t)get64(m);
        times[i]->nsec = (int64_t)get64(m);
    }
    unlock(m);
    st->ino = q.path;
    st->dev = ino->sb->dev;
    st->blksize = (uint32_t)(blksize ? blksize : 4096);
    /* The host's word on the mode: a walk only guessed the permissions
     * (and took a FIFO, a socket or a device for a plain file). */
    if ((st->mode & S_IFMT) != (ino->mode & S_IFMT))
        ino->fops = fops_for(st->mode);
    ino->mode = st->mode;
    return 0;
}

/* ksetattr's valid bits and fields are 9P2000.L's, in its order. */
static long p9_setattr(struct inode *ino, const struct ksetattr *a)
{
    struct mount *m = mount_of(ino);
    lock(m);
    begin(m, Tsetattr);
    put32(m, attr_fid(ino, (a->valid & SETATTR_SIZE) != 0));
    put32(m, a->valid);
    put32(m, a->mode);
    put32(m, a->uid);
    put32(m, a->gid);
    put64(m, a->size);
    put64(m, (uint64_t)a->atime.sec);
    put64(m, (uint64_t)a->atime.nsec);
    put64(m, (uint64_t)a->mtime.sec);
    put64(m, (uint64_t)a->mtime.nsec);
    long rc = exchange(m);
    unlock(m);
    if (!rc && (a->valid & SETATTR_MODE))
        ino->mode = (ino->mode & S_IFMT) | (a->mode & 07777);
    return rc;
}

static long p9_readlink(struct inode *ino, char *buf, size_t size)
{
    struct mount *m = mount_of(ino);
    lock(m);
    begin(m, Treadlink);
    put32(m, pi_of(ino)->fid);
    long rc = exchange(m);
    if (!rc) {
        size_t n = get16(m);
        if (m->rx_off + n > m->rx_len)
            n = m->rx_len - m->rx_off;
        if (n > size)
            n = size;
        memcpy(buf, m->rx + m->rx_off, n);
        rc = (long)n;
    }
    unlock(m);
    return rc;
}

/* The host opens with the access mode, O_TRUNC (should the VFS pass it:
 * one message opens and truncates), O_SYNC and O_DSYNC. Not O_APPEND: the
 * VFS places appends at the size itself, and a shared mapping's write-back
 * must land at its offset, which an append-mode host fd would not do. Not
 * O_DIRECTORY, whose number differs by architecture (the VFS checked it).
 * O_NONBLOCK always: an open must never wait on the host -- a FIFO without
 * a peer would hold the mount's one message slot for good -- and it means
 * nothing to a regular file. */
static long p9_open(struct inode *ino, struct file *f)
{
    struct mount *m = mount_of(ino);
    struct p9_inode *pi = pi_of(ino);
    struct p9_file *pf = kzalloc(sizeof *pf);
    if (!pf)
        return -ENOMEM;
    int dir = (ino->mode & S_IFMT) == S_IFDIR;
    uint32_t flags = dir ? O_RDONLY : ((uint32_t)f->flags & (O_ACCMODE | O_TRUNC | P9_DSYNC | P9_SYNC)) | O_NONBLOCK;
    long rc = 0;
    lock(m);
    if (pi->spare && !(flags & (P9_DSYNC | P9_SYNC)) && (!(flags & O_TRUNC) || pi->spare_seq == m->seq)) {
        pf->fid = pi->fid;
        pf->writable = 1;
    } else if ((rc = p9_walk(m, pi->fid, 0, &pf->fid, 0)) == 0) {
        pf->owned = 1;
        pf->writable = (flags & O_ACCMODE) != O_RDONLY;
        begin(m, Tlopen);
        put32(m, pf->fid);
        put32(m, flags);
        if ((rc = exchange(m)) != 0)
            p9_clunk(m, pf->fid);
    }
    pi->spare = 0;
    unlock(m);
    if (rc) {
        kfree(pf);
        return rc;
    }
    pf->m = m;
    pf->pi = pi;
    pf->next = pi->opens;
    pi->opens = pf;
    f->priv = pf;
    return 0;
}

/* --- open files --- */
static void p9_release(struct file *f)
{
    struct p9_file *pf = f->priv, **pp = &pf->pi->opens;
    while (*pp && *pp != pf)
        pp = &(*pp)->next;
    if (*pp)
        *pp = pf->next;
    if (pf->owned) {
        lock(pf->m);
        p9_clunk(pf->m, pf->fid);
        unlock(pf->m);
    }
    kfree(pf);
}

/* --- zero copy ---
 * A program's buffer goes to the device as it is, page by page (what
 * Linux's v9fs does for large reads and writes): each page faulted in
 * (written first when the host writes into it, so a copy-on-write page
 * becomes the program's own), then pinned -- one owner more in mm.c's
 * counts, so an munmap by another thread meanwhile leaves it to us -- and
 * named by its direct-map address. */

static void zc_unpin(struct zc *z)
{
    while (z->npin) {
        uint64_t pa = z->pin[--z->npin];
        if (!page_unshare(pa)) /* the program let it go meanwhile: ours was the last hold */
            page_free(phys_to_virt(pa), 1);
    }
    z->nseg = 0;
}

/* The segments for as much of [buf, buf + n) as `max` segments hold: the
 * bytes covered, or 0 (nothing pinned: copy instead). */
static size_t zc_map(struct zc *z, uintptr_t buf, size_t n, int host_writes, unsigned max)
{
    z->nseg = z->npin = 0;
    uintptr_t p = buf, end = buf + n;
    while (p < end && z->npin < max) {
        uintptr_t page = p & ~(uintptr_t)(PAGE_SIZE - 1);
        size_t len = (page + PAGE_SIZE < end ? page + PAGE_SIZE : end) - p;
        volatile char *c = (volatile char *)p;
        char x = *c; /* faults it in like any access of the kernel's to the program's memory */
        if (host_writes)
            *c = x;
        uint64_t pa;
        unsigned flags;
        if (arch_user_query(page, &pa, &flags) || (host_writes && !(flags & MAP_WRITE)) || page_share(pa)) {
            zc_unpin(z);
            return 0;
        }
        z->pin[z->npin++] = pa;
        const char *at = (const char *)phys_to_virt(pa) + (p - page);
        struct p9_seg *last = z->nseg ? &z->seg[z->nseg - 1] : 0;
        if (last && (const char *)last->addr + last->len == at)
            last->len += (uint32_t)len; /* physically next to the one before */
        else
            z->seg[z->nseg++] = (struct p9_seg){at, (uint32_t)len};
        p += len;
    }
    return p - buf;
}

/* One Tread or Twrite of up to `want` bytes at the program's `buf` without
 * a copy (*asked: how many it asked for, as many as the scatter list
 * holds): the bytes moved, -errno, or -EAGAIN (not possible: copy). */
static long zc_io(struct mount *m, int write, uint32_t fid, uint64_t off, char *buf, uint32_t want, uint32_t *asked)
{
    struct zc *z = &m->zc; /* the mount's: one message in flight (its busy flag) */
    unsigned max = m->ch->max_segs - 2 < ZC_SEGS ? m->ch->max_segs - 2 : ZC_SEGS;
    size_t covered = zc_map(z, (uintptr_t)buf, want, !write, max);
    if (!covered)
        return -EAGAIN;
    *asked = want = (uint32_t)covered;
    begin(m, write ? Twrite : Tread);
    put32(m, fid);
    put64(m, off);
    put32(m, want);
    struct p9_seg *segs = m->segs;
    unsigned k = 0;
    segs[k++] = (struct p9_seg){m->tx, (uint32_t)m->tx_len};
    if (!write)
        segs[k++] = (struct p9_seg){m->rx, 11}; /* Rread's size, type, tag, count (Rlerror fits too) */
    for (unsigned i = 0; i < z->nseg; i++)
        segs[k++] = z->seg[i];
    if (write)
        segs[k++] = (struct p9_seg){m->rx, m->msize};
    memcpy(m->tx, &(uint32_t){(uint32_t)m->tx_len + (write ? want : 0)}, 4);
    m->seq++;
    long n = m->ch->rpcv(m->ch, segs, write ? 1 + z->nseg : 1, write ? 1 : 1 + z->nseg);
    zc_unpin(z);
    if (n < 11)
        return -EIO;
    uint32_t count;
    memcpy(&count, m->rx + 7, 4);
    if (m->rx[4] == Rlerror)
        return count ? -(long)count : -EIO;
    if (m->rx[4] != (write ? Twrite : Tread) + 1 || count > want)
        return -EIO;
    return count;
}

/* Data moves in iounit pieces (as much as a message holds, in whole pages);
 * a short reply ends the call (the end of the file, a full disk). */
static long p9_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    struct p9_file *pf = f->priv;
    struct mount *m = pf->m;
    size_t done = 0;
    long rc = 0;
    int zc = m->ch->rpcv && (uintptr_t)buf < USER_LIMIT && n >= ZC_MIN;
    lock(m);
    while (done < n) {
        uint32_t want = (uint32_t)(n - done < m->iounit ? n - done : m->iounit);
        uint32_t asked;
        if (zc && (rc = zc_io(m, 0, pf->fid, *off + done, buf + done, want, &asked)) != -EAGAIN) {
            if (rc < 0)
                break;
            done += (size_t)rc;
            if ((uint32_t)rc < asked)
                break; /* the end of the file */
            continue;
        }
        rc = 0;
        zc = 0;
        begin(m, Tread);
        put32(m, pf->fid);
        put64(m, *off + done);
        put32(m, want);
        if ((rc = exchange(m)) != 0)
            break;
        uint32_t got = get32(m);
        if (got > want || m->rx_off + got > m->rx_len) {
            rc = -EIO;
            break;
        }
        memcpy(buf + done, m->rx + m->rx_off, got);
        done += got;
        if (got < want)
            break;
    }
    unlock(m);
    *off += done;
    return done ? (long)done : rc;
}

static long p9_write(struct file *f, const char *buf, size_t n, uint64_t *off)
{
    struct p9_file *pf = f->priv;
    struct mount *m = pf->m;
    size_t done = 0;
    long rc = 0;
    int zc = m->ch->rpcv && (uintptr_t)buf < USER_LIMIT && n >= ZC_MIN;
    lock(m);
    while (done < n) {
        uint32_t want = (uint32_t)(n - done < m->iounit ? n - done : m->iounit);
        uint32_t asked;
        if (zc && (rc = zc_io(m, 1, pf->fid, *off + done, (char *)buf + done, want, &asked)) != -EAGAIN) {
            if (rc < 0)
                break;
            if (rc == 0 && !done) {
                rc = -EIO; /* nothing written and no error: a write must not return 0 */
                break;
            }
            done += (size_t)rc;
            if ((uint32_t)rc < asked)
                break;
            continue;
        }
        rc = 0;
        zc = 0;
        begin(m, Twrite);
        put32(m, pf->fid);
        put64(m, *off + done);
        put32(m, want);
        put(m, buf + done, want);
        if ((rc = exchange(m)) != 0)
            break;
        uint32_t wrote = get32(m);
        if (wrote > want || (!wrote && !done)) {
            rc = -EIO; /* nothing written and no error: a write must not return 0 */
            break;
        }
        done += wrote;
        if (wrote < want)
            break;
    }
    unlock(m);
    *off += done;
    return done ? (long)done : rc;
}

static long p9_fsync(struct file *f)
{
    struct p9_file *pf = f->priv;
    lock(pf->m);
    begin(pf->m, Tfsync);
    put32(pf->m, pf->fid);
    put32(pf->m, 0); /* datasync: no, all of it */
    long rc = exchange(pf->m);
    unlock(pf->m);
    return rc;
}

static unsigned dtype_of_qid(uint8_t type)
{
    return type & QTDIR ? DT_DIR : type & QTSYMLINK ? DT_LNK : DT_UNKNOWN;
}

/* One Treaddir from the cookie in f->off. Each entry carries the cookie of
 * the one after it; f->off takes it as the entry is consumed, so when the
 * caller's buffer fills mid-reply the rest is read again next time. We ask
 * for a little more than the buffer holds: a 9P entry is at most 4 bytes
 * longer than its linux_dirent64, so whatever fits arrives, and at most a
 * few entries are read twice. "." and ".." come from the host, as they do
 * on Linux's v9fs. */
static long p9_getdents(struct file *f, struct dir_sink *s)
{
    struct p9_file *pf = f->priv;
    struct mount *m = pf->m;
    size_t room = s->cap - s->used, before = s->used;
    uint32_t want = (uint32_t)(room + 24 + 256 < m->msize - IOHDR ? room + 24 + 256 : m->msize - IOHDR);
    int full = 0;
    lock(m);
    begin(m, Treaddir);
    put32(m, pf->fid);
    put64(m, f->off);
    put32(m, want);
    long rc = exchange(m);
    if (rc) {
        unlock(m);
        return rc;
    }
    size_t count = get32(m), end = m->rx_off + count;
    if (end > m->rx_len)
        end = m->rx_len;
    while (m->rx_off + 24 <= end) { /* qid[13] offset[8] type[1] name[s] */
        struct qid q = getqid(m);
        uint64_t next = get64(m);
        uint8_t type = get8(m);
        uint16_t len = get16(m);
        if (m->rx_off + len > end)
            break;
        if (!dir_emit(s, (const char *)m->rx + m->rx_off, len, q.path, type ? type : dtype_of_qid(q.type), next)) {
            full = 1;
            break;
        }
        m->rx_off += len;
        f->off = next;
    }
    unlock(m);
    if (full && s->used == before)
        return -EINVAL; /* the buffer cannot hold the next entry */
    return (long)(s->used - before);
}

static const struct file_ops p9_file_ops = {
    .kind = "file", .mode = S_IFREG, .flags = FOPS_SEEKABLE | FOPS_MMAP, .read = p9_read, .write = p9_write,
    .fsync = p9_fsync, .release = p9_release,
};
static const struct file_ops p9_dir_ops = {
    .kind = "directory", .mode = S_IFDIR, .flags = FOPS_SEEKABLE, .getdents = p9_getdents, .fsync = p9_fsync,
    .release = p9_release,
};
static const struct inode_ops p9_iops = {
    .lookup = p9_lookup, .create = p9_create, .link = p9_link, .unlink = p9_unlink, .rename = p9_rename,
    .getattr = p9_getattr, .setattr = p9_setattr, .readlink = p9_readlink, .open = p9_open, .evict = p9_evict,
};

/* The host's file system, as Linux's v9fs reports it (its type too: ext4's
 * magic, say); if the host cannot tell, a 9p file system with nothing known. */
static long p9_statfs(struct superblock *sb, struct kstatfs *s)
{
    struct mount *m = sb->priv;
    memset(s, 0, sizeof *s);
    lock(m);
    begin(m, Tstatfs);
    put32(m, pi_of(sb->root)->fid);
    long rc = exchange(m);
    if (!rc) { /* type[4] bsize[4] blocks bfree bavail files ffree fsid[8 each] namelen[4] */
        s->type = get32(m);
        s->bsize = get32(m);
        uint64_t *counts[] = {&s->blocks, &s->bfree, &s->bavail, &s->files, &s->ffree, &s->fsid};
        for (unsigned i = 0; i < sizeof counts / sizeof *counts; i++)
            *counts[i] = get64(m);
        s->namelen = get32(m);
    }
    unlock(m);
    if (rc) {
        s->type = V9FS_MAGIC;
        s->bsize = 4096;
        s->namelen = 255;
    }
    return 0;
}

/* --- mounting --- */
/* The tag as a canonical absolute path ("data/", "//data" -> "/data");
 * -1 for the root or anything with "." or "..". */
static int guest_path(const char *tag, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = tag;;) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (!len)
            break;
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.') || n + 1 + len + 1 > cap)
            return -1;
        out[n++] = '/';
        memcpy(out + n, s, len);
        n += len;
    }
    out[n] = 0;
    return n ? 0 : -1;
}

/* Tversion and Tattach on a channel: the mount with its superblock and
 * root inode, or NULL (said why). */
static struct mount *attach(struct p9_channel *ch)
{
    struct mount *m = kzalloc(sizeof *m);
    if (!m)
        return 0;
    if (guest_path(ch->tag, m->path, sizeof m->path) < 0) {
        pr_info("hostfs: tag '%s' of %s is not a guest path; not mounted\n", ch->tag, ch->where);
        kfree(m);
        return 0;
    }
    m->ch = ch;
    m->msize = ch->max_msize;
    size_t pages = (m->msize + PAGE_SIZE - 1) / PAGE_SIZE;
    m->tx = page_alloc(pages);
    m->rx = page_alloc(pages);
    if (!m->tx || !m->rx) {
        pr_info("hostfs: no memory for %s's messages; not mounted\n", ch->where);
        return 0; /* once, at start: not worth unwinding */
    }
    begin_tag(m, Tversion, NOTAG);
    put32(m, m->msize);
    puts_(m, "9P2000.L", 8);
    long rc = exchange(m);
    if (!rc) {
        uint32_t msize = get32(m);
        char version[9] = {0};
        if (get16(m) != 8 || get(m, version, 8) || memcmp(version, "9P2000.L", 8))
            rc = -EPROTONOSUPPORT;
        else if (msize >= 4096 && msize <= m->msize)
            m->msize = msize;
    }
    /* Whole pages per Tread/Twrite, so host I/O stays block-aligned (QEMU's
     * own iounit is whole host blocks too). With 128 KiB messages that is 124
     * KiB: 128 KiB pieces would take msize = 128 KiB + IOHDR. */
    m->iounit = (m->msize - IOHDR) & ~(uint32_t)(PAGE_SIZE - 1);
    if (!m->iounit)
        m->iounit = m->msize - IOHDR;
    uint32_t fid = fid_new(m);
    struct qid q = {0};
    struct kstat st = {0};
    if (!rc) {
        begin(m, Tattach);
        put32(m, fid);
        put32(m, NOFID); /* no afid: no authentication */
        puts_(m, "root", 4);
        puts_(m, "", 0);
        put32(m, 0);
        if ((rc = exchange(m)) == 0)
            q = getqid(m);
    }
    if (rc) {
        pr_info("hostfs: %s (tag '%s') did not answer 9P2000.L version/attach (%ld); not mounted\n", ch->where,
                ch->tag, rc);
        return 0;
    }
    struct p9_inode *pi = kzalloc(sizeof *pi);
    struct inode *root = pi ? inode_new(&m->sb, &p9_iops, &p9_dir_ops, S_IFDIR | 0755, q.path, pi) : 0;
    if (!root)
        return 0;
    pi->fid = fid;
    m->sb = (struct superblock){
        .fstype = "9p", .source = ch->tag, .magic = V9FS_MAGIC, .dev = vfs_new_dev(), .root = root,
        .statfs = p9_statfs, .priv = m,
    };
    if (p9_getattr(root, &st) == 0 && (st.mode & S_IFMT) != S_IFDIR) {
        pr_info("hostfs: %s (tag '%s') exports no directory; not mounted\n", ch->where, ch->tag);
        return 0;
    }
    return m;
}

/* Each channel mounted at its tag's path, made if missing (on whatever
 * file system holds it: the root's tmpfs, or the host directory of an
 * enclosing mount -- mounted first, parents before children). */
void p9_mount_all(void)
{
    struct mount *ms[MAX_MOUNTS];
    unsigned n = 0;
    for (unsigned i = 0; n < MAX_MOUNTS; i++) {
        struct p9_channel *ch = p9_channel_get(i);
        if (!ch)
            break;
        struct mount *m = attach(ch);
        if (!m)
            continue;
        unsigned j = n++;
        for (; j > 0 && strlen(ms[j - 1]->path) > strlen(m->path); j--)
            ms[j] = ms[j - 1];
        ms[j] = m;
    }
    for (unsigned i = 0; i < n; i++) {
        struct mount *m = ms[i];
        long rc = vfs_mkdir_p(m->path);
        if (rc >= 0)
            rc = vfs_mount(m->path, &m->sb);
        if (rc < 0)
            pr_info("hostfs: cannot mount %s at %s (%ld)\n", m->ch->where, m->path, rc);
        else
            pr_info("hostfs: host directory mounted at %s (9P2000.L, %u-byte messages)\n", m->path, m->msize);
    }
}
