/* The tree: the mount table and path lookup, in one place.
 *
 * A lookup walks a path one component at a time from the root or a base
 * directory, asking each directory's file system for the next name. It
 * keeps the canonical absolute path of where it is, which is how mounts
 * are found (a mount point is a canonical path) and how ".." works: the
 * parent of "/a/b" is "/a" looked up again from the root, so ".." crosses
 * mount points both ways and never climbs above "/" -- nor out of a
 * --mount directory, whose host side only ever sees single names.
 * Symlinks are expanded into the remaining path, at most 40 per lookup. */
#include "vfs.h"
#include <hermit/heap.h>
#include <hermit/spinlock.h>

#define MAX_MOUNTS 16
#define MAX_LINKS 40
#define PATHBUF_CACHE 32

static char *pathbufs[PATHBUF_CACHE];
static unsigned npathbufs;
static spinlock_t pathbuf_lock = SPINLOCK_INIT;

char *path_get(void)
{
    char *p = 0;
    unsigned long f = spin_lock_irqsave(&pathbuf_lock);
    if (npathbufs)
        p = pathbufs[--npathbufs];
    spin_unlock_irqrestore(&pathbuf_lock, f);
    return p ? p : kmalloc(PATH_MAX);
}

void path_put(char *p)
{
    if (!p)
        return;
    unsigned long f = spin_lock_irqsave(&pathbuf_lock);
    if (npathbufs < PATHBUF_CACHE) {
        pathbufs[npathbufs++] = p;
        p = 0;
    }
    spin_unlock_irqrestore(&pathbuf_lock, f);
    kfree(p);
}

static struct {
    char *path; /* canonical: "/", "/tmp" */
    struct superblock *sb;
} mounts[MAX_MOUNTS];
static unsigned nmounts;

static struct inode *root;

/* A process's working directory (fork copies it, CLONE_FS shares it). Its
 * path is kept canonical across renames of it or of a parent (vfs_renamed),
 * so getcwd and ".." see the new names, as on Linux. */
struct fs_ctx {
    int refs;
    struct inode *cwd; /* NULL: the root */
    char path[PATH_MAX];
    struct fs_ctx *next; /* all of them */
};
static struct fs_ctx first_fs = {1, 0, "/", 0};
static struct fs_ctx *all_fs = &first_fs;
#define cwd_inode (current_process()->fs->cwd) /* the calling process's */
#define cwd_path (current_process()->fs->path)

struct fs_ctx *fs_first(void) { return &first_fs; }

struct fs_ctx *fs_fork(struct fs_ctx *f)
{
    struct fs_ctx *n = kmalloc(sizeof *n);
    if (n) {
        *n = *f;
        n->refs = 1;
        if (n->cwd)
            inode_get(n->cwd);
        n->next = all_fs;
        all_fs = n;
    }
    return n;
}

struct fs_ctx *fs_share(struct fs_ctx *f)
{
    f->refs++;
    return f;
}

void fs_put(struct fs_ctx *f)
{
    if (!f || --f->refs > 0)
        return;
    if (f->cwd)
        inode_put(f->cwd);
    f->cwd = 0;
    for (struct fs_ctx **p = &all_fs; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    if (f != &first_fs)
        kfree(f);
}

/* dir + "/" + name, canonical, in out[PATH_MAX]; 0 if it does not fit. */
static int join(char *out, const char *dir, const char *name)
{
    size_t d = strlen(dir), n = strlen(name);
    if (!strcmp(dir, "/"))
        d = 0;
    if (d + 1 + n >= PATH_MAX)
        return 0;
    memcpy(out, dir, d);
    out[d] = '/';
    memcpy(out + d + 1, name, n + 1);
    return 1;
}

/* path at or under from: rewritten under to, in place (0: unchanged). */
static int rebase(char *path, const char *from, const char *to)
{
    size_t f = strlen(from), t = strlen(to), p = strlen(path);
    if (strncmp(path, from, f) || (path[f] && path[f] != '/') || p - f + t >= PATH_MAX)
        return 0;
    memmove(path + t, path + f, p - f + 1);
    memcpy(path, to, t);
    return 1;
}

struct renaming {
    const char *old, *new;
    int exchange;
    char *buf; /* PATH_MAX */
    uint64_t gen;
};

/* An open file's path: rebased once per rename, however many tables hold it. */
static void rename_file(struct file *f, void *arg)
{
    struct renaming *r = arg;
    if (!f->path || f->renamed == r->gen)
        return;
    f->renamed = r->gen;
    size_t n = strlen(f->path);
    if (n >= PATH_MAX)
        return;
    memcpy(r->buf, f->path, n + 1);
    if (!rebase(r->buf, r->old, r->new) && !(r->exchange && rebase(r->buf, r->new, r->old)))
        return;
    char *copy = kstrdup(r->buf);
    if (copy) { /* (no memory: the old name stays, as it always did) */
        kfree(f->path);
        f->path = copy;
    }
}

void vfs_renamed(const char *dir_a, const char *a, const char *dir_b, const char *b, int exchange)
{
    static uint64_t renames;
    char *old = kmalloc(PATH_MAX), *new = kmalloc(PATH_MAX), *buf = kmalloc(PATH_MAX);
    if (old && new && buf && join(old, dir_a, a) && join(new, dir_b, b)) {
        for (struct fs_ctx *f = all_fs; f; f = f->next)
            if (!rebase(f->path, old, new) && exchange)
                rebase(f->path, new, old);
        struct renaming r = {old, new, exchange, buf, ++renames};
        fdt_each_file(rename_file, &r);
    }
    kfree(old);
    kfree(new);
    kfree(buf);
}

struct inode *vfs_root(void) { return root; }

struct vpath vfs_cwd(void) { return (struct vpath){cwd_inode ? cwd_inode : root, cwd_path}; }

void vfs_set_cwd(struct inode *dir, const char *path)
{
    inode_get(dir);
    if (cwd_inode)
        inode_put(cwd_inode);
    cwd_inode = dir;
    size_t n = strlen(path);
    memcpy(cwd_path, path, n < PATH_MAX ? n + 1 : PATH_MAX);
    cwd_path[PATH_MAX - 1] = 0;
}

static struct superblock *mounted_at(const char *abs)
{
    for (unsigned i = nmounts; i-- > 0;) /* the latest mount on a path wins */
        if (!strcmp(mounts[i].path, abs))
            return mounts[i].sb;
    return 0;
}

long vfs_mount(const char *path, struct superblock *sb)
{
    if (nmounts == MAX_MOUNTS)
        return -ENOMEM;
    if (strcmp(path, "/")) { /* anything but the root: an existing directory */
        struct inode *dir;
        long rc = vfs_lookup((struct vpath){root, "/"}, path, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &dir, 0);
        if (rc < 0)
            return rc;
        inode_put(dir);
    } else {
        if (root)
            inode_put(root);
        root = sb->root;
        inode_get(root);
    }
    char *p = kstrdup(path);
    if (!p)
        return -ENOMEM;
    mounts[nmounts].path = p;
    mounts[nmounts++].sb = sb;
    return 0;
}

struct superblock *vfs_mount_at(unsigned i, const char **path)
{
    if (i >= nmounts)
        return 0;
    *path = mounts[i].path;
    return mounts[i].sb;
}

/* abs += "/" name (abs is canonical, "/" for the root). */
static long path_push(char *abs, const char *name, size_t len)
{
    size_t n = strlen(abs);
    if (n == 1)
        n = 0;
    if (n + 1 + len + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    abs[n] = '/';
    memcpy(abs + n + 1, name, len);
    abs[n + 1 + len] = 0;
    return 0;
}

static void path_pop(char *abs)
{
    char *slash = abs + strlen(abs);
    while (slash > abs && *slash != '/')
        slash--;
    slash[slash == abs ? 1 : 0] = 0;
}

static int is_dir(const struct inode *ino) { return (ino->mode & S_IFMT) == S_IFDIR; }

/* The walk behind vfs_lookup and vfs_lookup_parent: `name` non-NULL asks
 * for the parent of the last component. */
static long walk(struct vpath base, const char *path, unsigned flags, struct inode **out, char *abs_out, char *name)
{
    size_t plen = strlen(path);
    if (!plen && !name)
        return -ENOENT;
    if (plen >= PATH_MAX)
        return -ENAMETOOLONG;
    char *rem = path_get(), *abs = path_get(), *target = path_get();
    long rc = 0;
    if (!rem || !abs || !target) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(rem, path, plen + 1);
    struct inode *cur = path[0] == '/' ? root : base.inode;
    if (path[0] == '/')
        memcpy(abs, "/", 2);
    else
        memcpy(abs, base.path, strlen(base.path) + 1);
    inode_get(cur);
    int links = 0;
    size_t i = 0;
    for (;;) {
        while (rem[i] == '/')
            i++;
        if (!rem[i]) { /* the path named a directory itself: "/", "a/" */
            if (name)
                name[0] = 0;
            break;
        }
        size_t s = i;
        while (rem[i] && rem[i] != '/')
            i++;
        size_t len = i - s, j = i;
        while (rem[j] == '/')
            j++;
        int last = !rem[j], trailing = last && j > i;
        if (len > 255) {
            rc = -ENAMETOOLONG;
            break;
        }
        if (!is_dir(cur)) {
            rc = -ENOTDIR;
            break;
        }
        if (last && name) { /* the parent is where we are */
            memcpy(name, rem + s, len);
            name[len] = 0;
            break;
        }
        char comp[256];
        memcpy(comp, rem + s, len);
        comp[len] = 0;
        if (!strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            if (!strcmp(abs, "/"))
                continue;
            path_pop(abs);
            struct inode *up;
            /* canonical, so no links: the walk cannot recurse further */
            if ((rc = walk((struct vpath){root, "/"}, abs, 0, &up, 0, 0)) < 0)
                break;
            inode_put(cur);
            cur = up;
            continue;
        }
        struct inode *next;
        if (!cur->ops->lookup) {
            rc = -ENOTDIR;
            break;
        }
        if ((rc = cur->ops->lookup(cur, comp, &next)) < 0)
            break;
        if ((next->mode & S_IFMT) == S_IFLNK && !next->ops->magic && (!last || trailing || (flags & LOOKUP_FOLLOW))) {
            if (++links > MAX_LINKS) {
                inode_put(next);
                rc = -ELOOP;
                break;
            }
            long n = next->ops->readlink ? next->ops->readlink(next, target, PATH_MAX - 1) : -EINVAL;
            inode_put(next);
            if (n <= 0) {
                rc = n < 0 ? n : -ENOENT;
                break;
            }
            size_t rest = strlen(rem + i);
            if ((size_t)n + 1 + rest + 1 > PATH_MAX) {
                rc = -ENAMETOOLONG;
                break;
            }
            /* the target, then what was left of the path */
            memmove(rem + n + 1, rem + i, rest + 1);
            memcpy(rem, target, (size_t)n);
            rem[n] = rest ? '/' : 0;
            i = 0;
            if (target[0] == '/') {
                inode_put(cur);
                cur = root;
                inode_get(cur);
                memcpy(abs, "/", 2);
            }
            continue;
        }
        if ((rc = path_push(abs, comp, len)) < 0) {
            inode_put(next);
            break;
        }
        struct superblock *sb = is_dir(next) ? mounted_at(abs) : 0;
        if (sb && sb->root != next) {
            inode_put(next);
            next = sb->root;
            inode_get(next);
        }
        inode_put(cur);
        cur = next;
        if (last) {
            if (trailing && !is_dir(cur) && !cur->ops->magic)
                rc = -ENOTDIR;
            break;
        }
    }
    if (rc == 0 && !name && (flags & LOOKUP_DIRECTORY) && !is_dir(cur))
        rc = -ENOTDIR;
    if (rc < 0) {
        inode_put(cur);
    } else {
        *out = cur;
        if (abs_out)
            memcpy(abs_out, abs, strlen(abs) + 1);
    }
out:
    path_put(rem);
    path_put(abs);
    path_put(target);
    return rc;
}

long vfs_lookup(struct vpath base, const char *path, unsigned flags, struct inode **out, char *abs)
{
    return walk(base, path, flags, out, abs, 0);
}

long vfs_lookup_parent(struct vpath base, const char *path, struct inode **dir, char *abs, char *name)
{
    return walk(base, path, 0, dir, abs, name);
}

/* mkdir -p (mount points: p9.c, vfs_init): each missing directory of the
 * absolute `path` is made, 0755, on whatever file system holds its parent. */
long vfs_mkdir_p(const char *path)
{
    struct vpath top = {root, "/"};
    char *prefix = kmalloc(PATH_MAX);
    if (!prefix)
        return -ENOMEM;
    long rc = 0;
    size_t n = strlen(path);
    for (size_t i = 1; i <= n && rc >= 0; i++) {
        if (i < n && path[i] != '/')
            continue;
        memcpy(prefix, path, i);
        prefix[i] = 0;
        struct inode *ino, *dir;
        char name[256];
        if ((rc = vfs_lookup(top, prefix, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &ino, 0)) == 0) {
            inode_put(ino);
        } else if (rc == -ENOENT && (rc = vfs_lookup_parent(top, prefix, &dir, 0, name)) == 0) {
            rc = dir->ops->create ? dir->ops->create(dir, name, S_IFDIR | 0755, 0, 0, 0) : -EROFS;
            inode_put(dir);
        }
    }
    kfree(prefix);
    return rc;
}
