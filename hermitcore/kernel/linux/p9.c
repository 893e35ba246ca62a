/* Host directories (run --mount HOSTDIR:/guest/path): a 9P2000.L client over
 * the channels 9P devices registered (hermit/p9.h), serving the hostfs_*
 * calls fs.c makes for paths under a mount point.
 *
 * One message is in flight per mount: each exchange takes the mount's
 * `busy` flag (guarded by the big kernel lock, which every file call holds;
 * a thread that finds it taken sleeps in io_wait, and so does the holder
 * while the host answers). */
#include "linux.h"
#include <hermit/heap.h>
#include <hermit/p9.h>

#define MAX_MOUNTS 8
#define HDR 7 /* size[4] type[1] tag[2] */
#define IOHDR 24 /* Tread/Twrite overhead: header, fid, offset, count (+ slack) */

enum {
    Rlerror = 7, Tstatfs = 8, Tgetattr = 24, Tsetattr = 26, Treaddir = 40, Tfsync = 50, Tmkdir = 72, Trenameat = 74,
    Tunlinkat = 76, Tversion = 100, Tattach = 104, Twalk = 110, Tlopen = 12, Tlcreate = 14, Tread = 116,
    Twrite = 118, Tclunk = 120,
};

#define P9_GETATTR_BASIC 0x7ffull
#define P9_ATTR_SIZE 0x8
#define P9_NOFID 0xffffffffu
#define AT_REMOVEDIR 0x200

struct mount {
    struct p9_channel *ch;
    char at[256];  /* normalized, no leading '/' */
    size_t at_len;
    uint32_t msize, next_fid;
    int busy;
    uint8_t *tx, *rx;
    size_t tx_len, rx_len, rx_off;
};

struct hostfile {
    struct mount *m;
    uint32_t fid;
    int is_dir;
    uint64_t dir_off; /* 9P readdir cookie */
};

static struct mount mounts[MAX_MOUNTS];
static unsigned nmounts;
static int mounted;

/* --- message building and parsing --- */
static void put(struct mount *m, const void *p, size_t n)
{
    if (m->tx_len + n <= m->msize)
        memcpy(m->tx + m->tx_len, p, n);
    m->tx_len += n;
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
static void begin(struct mount *m, uint8_t type)
{
    m->tx_len = 0;
    put32(m, 0);
    put8(m, type);
    put16(m, 1);
}

static int get(struct mount *m, void *p, size_t n)
{
    if (m->rx_off + n > m->rx_len)
        return -1;
    memcpy(p, m->rx + m->rx_off, n);
    m->rx_off += n;
    return 0;
}
static uint32_t get32(struct mount *m) { uint32_t v = 0; get(m, &v, 4); return v; }
static uint64_t get64(struct mount *m) { uint64_t v = 0; get(m, &v, 8); return v; }

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
    long n = m->ch->rpc(m->ch, m->tx, m->tx_len, m->rx, m->msize);
    if (n < HDR)
        return -EIO;
    m->rx_len = (size_t)n;
    m->rx_off = HDR;
    if (m->rx[4] == Rlerror)
        return -(long)get32(m);
    return m->rx[4] == type + 1 ? 0 : -EIO;
}

/* --- one call each (lock held by the caller) --- */
static long p9_clunk(struct mount *m, uint32_t fid)
{
    begin(m, Tclunk);
    put32(m, fid);
    return exchange(m);
}

/* Walk from the root to `rel` ("" = the root itself) into a new fid.
 * `parent` set: walk to the parent and return the last name in *leaf. */
static long p9_walk(struct mount *m, const char *rel, int parent, uint32_t *fid, const char **leaf)
{
    const char *names[16];
    size_t lens[16];
    uint32_t from = 0, nf = m->next_fid++;
    const char *p = rel, *last = 0;
    size_t last_len = 0;
    int first = 1;
    for (;;) {
        unsigned n = 0;
        while (*p && n < 16) {
            const char *s = p;
            while (*p && *p != '/')
                p++;
            if (parent && !*p) { /* the leaf: not walked */
                last = s;
                last_len = (size_t)(p - s);
                break;
            }
            names[n] = s;
            lens[n++] = (size_t)(p - s);
            if (*p)
                p++;
        }
        begin(m, Twalk);
        put32(m, from);
        put32(m, nf);
        put16(m, (uint16_t)n);
        for (unsigned i = 0; i < n; i++)
            puts_(m, names[i], lens[i]);
        long rc = exchange(m);
        if (rc) {
            if (!first)
                p9_clunk(m, nf);
            return rc;
        }
        uint16_t got = 0;
        get(m, &got, 2);
        if (got != n) { /* a partial walk: a new fid is not made, an old one stays where it was */
            if (!first)
                p9_clunk(m, nf);
            return -ENOENT;
        }
        first = 0;
        from = nf;
        if (!*p || last)
            break;
    }
    *fid = nf;
    if (leaf)
        *leaf = last ? last : "";
    (void)last_len;
    return 0;
}

static long p9_getattr(struct mount *m, uint32_t fid, struct kstat *st)
{
    begin(m, Tgetattr);
    put32(m, fid);
    put64(m, P9_GETATTR_BASIC);
    long rc = exchange(m);
    if (rc)
        return rc;
    uint8_t qid[13];
    get64(m); /* valid */
    get(m, qid, 13);
    memset(st, 0, sizeof *st);
    st->mode = get32(m);
    st->uid = get32(m);
    st->gid = get32(m);
    st->nlink = get64(m);
    st->rdev = get64(m);
    st->size = get64(m);
    uint64_t blksize = get64(m);
    st->blocks = get64(m);
    struct timespec_k *times[3] = {&st->atime, &st->mtime, &st->ctime};
    for (int i = 0; i < 3; i++) {
        times[i]->sec = (int64_t)get64(m);
        times[i]->nsec = (int64_t)get64(m);
    }
    memcpy(&st->ino, qid + 5, 8);
    st->dev = 0x2000 + (uint64_t)(m - mounts); /* one device per mount, as Linux numbers 9p mounts */
    st->blksize = (uint32_t)(blksize ? blksize : 4096);
    return 0;
}

static long p9_setattr(struct mount *m, uint32_t fid, const struct ksetattr *a)
{
    begin(m, Tsetattr);
    put32(m, fid);
    put32(m, a->valid);
    put32(m, a->mode);
    put32(m, a->uid);
    put32(m, a->gid);
    put64(m, a->size);
    put64(m, (uint64_t)a->atime.sec);
    put64(m, (uint64_t)a->atime.nsec);
    put64(m, (uint64_t)a->mtime.sec);
    put64(m, (uint64_t)a->mtime.nsec);
    return exchange(m);
}

/* --- mounting --- */
static void mount_all(void)
{
    mounted = 1;
    for (unsigned i = 0; nmounts < MAX_MOUNTS; i++) {
        struct p9_channel *ch = p9_channel_get(i);
        if (!ch)
            break;
        struct mount *m = &mounts[nmounts];
        const char *t = ch->tag;
        while (*t == '/')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == '/')
            n--;
        if (!n || n >= sizeof m->at) {
            pr_info("hostfs: tag '%s' of %s is not a guest path; not mounted\n", ch->tag, ch->where);
            continue;
        }
        memcpy(m->at, t, n);
        m->at[n] = 0;
        m->at_len = n;
        m->ch = ch;
        m->msize = ch->max_msize;
        size_t pages = (m->msize + PAGE_SIZE - 1) / PAGE_SIZE;
        m->tx = page_alloc(pages);
        m->rx = page_alloc(pages);
        if (!m->tx || !m->rx)
            continue;
        m->next_fid = 1;
        begin(m, Tversion);
        put32(m, m->msize);
        puts_(m, "9P2000.L", 8);
        long rc = exchange(m);
        uint32_t msize = rc ? 0 : get32(m);
        if (!rc && msize >= 4096 && msize <= m->msize)
            m->msize = msize;
        if (!rc) {
            begin(m, Tattach);
            put32(m, 0);
            put32(m, P9_NOFID);
            puts_(m, "root", 4);
            puts_(m, "", 0);
            put32(m, 0);
            rc = exchange(m);
        }
        if (rc) {
            pr_info("hostfs: %s (tag '%s') did not answer 9P2000.L version/attach (%ld); not mounted\n", ch->where,
                    ch->tag, rc);
            continue;
        }
        pr_info("hostfs: host directory mounted at /%s (9P2000.L, %u-byte messages)\n", m->at, m->msize);
        nmounts++;
    }
}

static struct mount *mount_of(const char *abs, const char **rel)
{
    if (!mounted)
        mount_all();
    for (unsigned i = 0; i < nmounts; i++) {
        struct mount *m = &mounts[i];
        if (!strncmp(abs, m->at, m->at_len) && (abs[m->at_len] == 0 || abs[m->at_len] == '/')) {
            *rel = abs + m->at_len + (abs[m->at_len] == '/');
            return m;
        }
    }
    return 0;
}

int hostfs_owns(const char *abs)
{
    const char *rel;
    return mount_of(abs, &rel) != 0;
}

/* --- the calls fs.c makes --- */
long hostfs_open(const char *abs, int flags, unsigned mode, struct hostfile **out, int *is_dir)
{
    const char *rel, *leaf;
    struct mount *m = mount_of(abs, &rel);
    if (!m)
        return -ENOENT;
    uint32_t lflags = (uint32_t)flags & (O_ACCMODE | O_TRUNC | O_APPEND);
    struct kstat st;
    uint32_t fid;
    lock(m);
    long rc = p9_walk(m, rel, 0, &fid, 0);
    if (rc == -ENOENT && (flags & O_CREAT) && *rel) {
        rc = p9_walk(m, rel, 1, &fid, &leaf); /* the parent; the leaf is created in it */
        if (!rc) {
            begin(m, Tlcreate);
            put32(m, fid);
            puts_(m, leaf, strlen(leaf));
            put32(m, lflags | O_CREAT);
            put32(m, mode & 07777);
            put32(m, 0);
            rc = exchange(m);
            if (rc)
                p9_clunk(m, fid);
            else
                *is_dir = 0;
        }
        if (!rc)
            goto done;
        unlock(m);
        return rc;
    }
    if (rc) {
        unlock(m);
        return rc;
    }
    if ((flags & O_CREAT) && (flags & O_EXCL)) {
        p9_clunk(m, fid);
        unlock(m);
        return -EEXIST;
    }
    rc = p9_getattr(m, fid, &st);
    *is_dir = !rc && (st.mode & 0170000) == 0040000;
    if (!rc && *is_dir && (flags & O_ACCMODE))
        rc = -EISDIR;
    if (!rc && !*is_dir && (flags & O_DIRECTORY))
        rc = -ENOTDIR;
    if (!rc) {
        begin(m, Tlopen);
        put32(m, fid);
        put32(m, *is_dir ? 0 : lflags);
        rc = exchange(m);
    }
    if (rc) {
        p9_clunk(m, fid);
        unlock(m);
        return rc;
    }
done:
    unlock(m);
    struct hostfile *h = kzalloc(sizeof *h);
    if (!h) {
        lock(m);
        p9_clunk(m, fid);
        unlock(m);
        return -ENOMEM;
    }
    h->m = m;
    h->fid = fid;
    h->is_dir = *is_dir;
    *out = h;
    return 0;
}

void hostfs_close(struct hostfile *h)
{
    lock(h->m);
    p9_clunk(h->m, h->fid);
    unlock(h->m);
    kfree(h);
}

long hostfs_pread(struct hostfile *h, char *buf, size_t n, uint64_t off)
{
    struct mount *m = h->m;
    size_t done = 0;
    lock(m);
    while (done < n) {
        uint32_t chunk = (uint32_t)(n - done < m->msize - IOHDR ? n - done : m->msize - IOHDR);
        begin(m, Tread);
        put32(m, h->fid);
        put64(m, off + done);
        put32(m, chunk);
        long rc = exchange(m);
        if (rc) {
            unlock(m);
            return done ? (long)done : rc;
        }
        uint32_t got = get32(m);
        if (got > chunk || m->rx_off + got > m->rx_len)
            got = 0;
        memcpy(buf + done, m->rx + m->rx_off, got);
        done += got;
        if (got < chunk)
            break;
    }
    unlock(m);
    return (long)done;
}

long hostfs_pwrite(struct hostfile *h, const char *buf, size_t n, uint64_t off)
{
    struct mount *m = h->m;
    size_t done = 0;
    lock(m);
    while (done < n) {
        uint32_t chunk = (uint32_t)(n - done < m->msize - IOHDR ? n - done : m->msize - IOHDR);
        begin(m, Twrite);
        put32(m, h->fid);
        put64(m, off + done);
        put32(m, chunk);
        put(m, buf + done, chunk);
        long rc = exchange(m);
        if (rc) {
            unlock(m);
            return done ? (long)done : rc;
        }
        uint32_t wrote = get32(m);
        done += wrote;
        if (wrote < chunk)
            break;
    }
    unlock(m);
    return (long)done;
}

static long p9_statfs(struct mount *m, uint32_t fid, struct kstatfs *s)
{
    begin(m, Tstatfs);
    put32(m, fid);
    long rc = exchange(m);
    if (rc)
        return rc;
    /* Rstatfs: type[4] bsize[4] blocks bfree bavail files ffree fsid[8 each] namelen[4] */
    memset(s, 0, sizeof *s);
    s->type = get32(m);
    s->bsize = get32(m);
    uint64_t *counts[] = {&s->blocks, &s->bfree, &s->bavail, &s->files, &s->ffree, &s->fsid};
    for (unsigned i = 0; i < sizeof counts / sizeof *counts; i++)
        *counts[i] = get64(m);
    s->namelen = get32(m);
    return 0;
}

/* One request on an open file's fid, or on a path's (walked to, then
 * clunked): getattr, setattr, statfs. */
typedef long (*fid_op)(struct mount *m, uint32_t fid, void *arg);

static long on_file(struct hostfile *h, fid_op op, void *arg)
{
    lock(h->m);
    long rc = op(h->m, h->fid, arg);
    unlock(h->m);
    return rc;
}

static long on_path(const char *abs, fid_op op, void *arg)
{
    const char *rel;
    struct mount *m = mount_of(abs, &rel);
    if (!m)
        return -ENOENT;
    uint32_t fid;
    lock(m);
    long rc = p9_walk(m, rel, 0, &fid, 0);
    if (!rc) {
        rc = op(m, fid, arg);
        p9_clunk(m, fid);
    }
    unlock(m);
    return rc;
}

static long op_getattr(struct mount *m, uint32_t fid, void *st) { return p9_getattr(m, fid, st); }
static long op_setattr(struct mount *m, uint32_t fid, void *a) { return p9_setattr(m, fid, a); }
static long op_statfs(struct mount *m, uint32_t fid, void *s) { return p9_statfs(m, fid, s); }

long hostfs_fstatfs(struct hostfile *h, struct kstatfs *s) { return on_file(h, op_statfs, s); }
long hostfs_statfs(const char *abs, struct kstatfs *s) { return on_path(abs, op_statfs, s); }
long hostfs_fstat(struct hostfile *h, struct kstat *st) { return on_file(h, op_getattr, st); }
long hostfs_stat(const char *abs, struct kstat *st) { return on_path(abs, op_getattr, st); }
long hostfs_setattr(struct hostfile *h, const struct ksetattr *a) { return on_file(h, op_setattr, (void *)a); }
long hostfs_setattr_path(const char *abs, const struct ksetattr *a) { return on_path(abs, op_setattr, (void *)a); }

long hostfs_fsync(struct hostfile *h)
{
    struct mount *m = h->m;
    lock(m);
    begin(m, Tfsync);
    put32(m, h->fid);
    put32(m, 0);
    long rc = exchange(m);
    unlock(m);
    return rc;
}

long hostfs_getdents(struct hostfile *h, char *buf, size_t n)
{
    struct mount *m = h->m;
    if (!h->is_dir)
        return -ENOTDIR;
    lock(m);
    begin(m, Treaddir);
    put32(m, h->fid);
    put64(m, h->dir_off);
    uint32_t want = (uint32_t)(n < m->msize - IOHDR ? n : m->msize - IOHDR);
    put32(m, want);
    long rc = exchange(m);
    if (rc) {
        unlock(m);
        return rc;
    }
    uint32_t count = get32(m);
    size_t end = m->rx_off + count, used = 0;
    if (end > m->rx_len)
        end = m->rx_len;
    while (m->rx_off + 24 <= end) {
        uint8_t qid[13], type;
        uint64_t ino, off;
        uint16_t len;
        get(m, qid, 13);
        off = get64(m);
        get(m, &type, 1);
        get(m, &len, 2);
        if (m->rx_off + len > end)
            break;
        size_t reclen = (sizeof(struct linux_dirent64) + len + 1 + 7) & ~(size_t)7;
        if (used + reclen > n) {
            if (!used) {
                unlock(m);
                return -EINVAL;
            }
            break;
        }
        memcpy(&ino, qid + 5, 8);
        struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + used);
        d->d_ino = ino;
        d->d_off = (int64_t)off;
        d->d_reclen = (uint16_t)reclen;
        d->d_type = type;
        memcpy(d->d_name, m->rx + m->rx_off, len);
        d->d_name[len] = 0;
        m->rx_off += len;
        used += reclen;
        h->dir_off = off;
    }
    unlock(m);
    return (long)used;
}

/* A name operation in the parent directory of `abs`. */
static long in_parent(const char *abs, uint8_t type, uint32_t arg)
{
    const char *rel, *leaf;
    struct mount *m = mount_of(abs, &rel);
    if (!m)
        return -ENOENT;
    if (!*rel)
        return -EBUSY; /* the mount point itself */
    uint32_t dfid;
    lock(m);
    long rc = p9_walk(m, rel, 1, &dfid, &leaf);
    if (!rc) {
        begin(m, type);
        put32(m, dfid);
        puts_(m, leaf, strlen(leaf));
        put32(m, arg);
        if (type == Tmkdir)
            put32(m, 0); /* gid */
        rc = exchange(m);
        p9_clunk(m, dfid);
    }
    unlock(m);
    return rc;
}

long hostfs_mkdir(const char *abs, unsigned mode) { return in_parent(abs, Tmkdir, mode & 07777); }
long hostfs_unlink(const char *abs, int rmdir) { return in_parent(abs, Tunlinkat, rmdir ? AT_REMOVEDIR : 0); }

long hostfs_rename(const char *from, const char *to)
{
    const char *rf, *rt, *lf, *lt;
    struct mount *m = mount_of(from, &rf), *m2 = mount_of(to, &rt);
    if (!m || !m2)
        return -ENOENT;
    if (m != m2)
        return -EXDEV;
    if (!*rf || !*rt)
        return -EBUSY;
    uint32_t df, dt;
    lock(m);
    long rc = p9_walk(m, rf, 1, &df, &lf);
    if (!rc) {
        rc = p9_walk(m, rt, 1, &dt, &lt);
        if (!rc) {
            begin(m, Trenameat);
            put32(m, df);
            puts_(m, lf, strlen(lf));
            put32(m, dt);
            puts_(m, lt, strlen(lt));
            rc = exchange(m);
            p9_clunk(m, dt);
        }
        p9_clunk(m, df);
    }
    unlock(m);
    return rc;
}
