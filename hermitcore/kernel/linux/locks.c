/* Advisory file locks with Linux's semantics: fcntl record locks -- classic
 * POSIX locks, owned by the process, and open-file-description (OFD) locks,
 * owned by the open file -- and flock(2) locks, owned by the open file.
 *
 * Record locks of both kinds live in one list, as in Linux, so they see and
 * conflict with each other; a process never conflicts with itself. The
 * list keeps each owner's locks of a file together, sorted by start and
 * merged with their same-type neighbours, and owners in the order they first
 * locked the file: F_GETLK reports the first conflicting lock in that order,
 * as Linux does. flock locks are a separate list (Linux keeps the two kinds
 * independent). Everything here runs under the big kernel lock; a blocked
 * F_SETLKW or flock waits for io_notify, which every unlock sends. */
#include "linux.h"
#include <hermit/heap.h>

#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8
#define LOCK_MAND 32

struct rlock {
    struct lock_key key;
    const void *owner;
    int ofd;  /* owned by an open file description, not the process */
    int type; /* F_RDLCK, F_WRLCK */
    uint64_t start, end; /* inclusive; end LOCK_EOF: to the end of any file */
    long pid;
    struct rlock *next;
};

struct flk {
    struct lock_key key;
    const void *file;
    int type; /* LOCK_SH, LOCK_EX */
    struct flk *next;
};

static struct rlock *rlocks;
static struct flk *flocks;

int locks_held(void) { return rlocks || flocks; }

static int same_key(struct lock_key a, struct lock_key b) { return a.kind == b.kind && a.id == b.id; }

static int conflicts(const struct rlock *l, struct lock_key key, const void *owner, int type, uint64_t s, uint64_t e)
{
    return same_key(l->key, key) && l->owner != owner && l->start <= e && s <= l->end &&
           (type == F_WRLCK || l->type == F_WRLCK);
}

static struct rlock *first_conflict(struct lock_key key, const void *owner, int type, uint64_t s, uint64_t e)
{
    for (struct rlock *l = rlocks; l; l = l->next)
        if (conflicts(l, key, owner, type, s, e))
            return l;
    return 0;
}

long rlock_test(struct lock_key key, const void *owner, int type, uint64_t *start, uint64_t *end, long *pid)
{
    struct rlock *l = first_conflict(key, owner, type, *start, *end);
    if (!l)
        return F_UNLCK;
    *start = l->start;
    *end = l->end;
    *pid = l->ofd ? -1 : l->pid;
    return l->type;
}

static struct rlock *new_rlock(const struct rlock *from, uint64_t s, uint64_t e)
{
    struct rlock *n = kmalloc(sizeof *n);
    if (n) {
        *n = *from;
        n->start = s;
        n->end = e;
    }
    return n;
}

/* Take [s, e] out of the owner's locks of the file, splitting one that
 * straddles it. Needs at most one new record: with no memory for it,
 * nothing changes and -ENOLCK is returned. */
static long cut(struct lock_key key, const void *owner, uint64_t s, uint64_t e)
{
    for (struct rlock **p = &rlocks; *p;) {
        struct rlock *l = *p;
        if (!same_key(l->key, key) || l->owner != owner || l->end < s || l->start > e) {
            p = &l->next;
            continue;
        }
        if (l->start < s && l->end > e) { /* a hole in the middle: two pieces */
            struct rlock *hi = new_rlock(l, e + 1, l->end);
            if (!hi)
                return -ENOLCK;
            l->end = s - 1;
            hi->next = l->next;
            l->next = hi;
            return 0;
        }
        if (l->start < s) {
            l->end = s - 1;
        } else if (l->end > e) {
            l->start = e + 1;
        } else {
            *p = l->next;
            kfree(l);
            continue;
        }
        p = &l->next;
    }
    return 0;
}

/* Put a lock in the owner's group for the file (sorted by start; a new
 * group goes last), then merge it with touching locks of the same type. */
static void insert(struct rlock *n)
{
    struct rlock **p = &rlocks, **group_end = 0;
    while (*p) {
        struct rlock *l = *p;
        int mine = same_key(l->key, n->key) && l->owner == n->owner;
        if (mine && l->start > n->start)
            break;
        if (mine)
            group_end = &l->next;
        else if (group_end) {
            p = group_end; /* past the group: insert at its end */
            break;
        }
        p = &l->next;
    }
    n->next = *p;
    *p = n;
    for (struct rlock **q = &rlocks; *q;) {
        struct rlock *l = *q;
        if (l != n && same_key(l->key, n->key) && l->owner == n->owner && l->type == n->type &&
            (l->end == LOCK_EOF || l->end + 1 >= n->start) && (n->end == LOCK_EOF || n->end + 1 >= l->start)) {
            if (l->start < n->start)
                n->start = l->start;
            if (l->end > n->end)
                n->end = l->end;
            *q = l->next;
            kfree(l);
            continue;
        }
        q = &l->next;
    }
}

long rlock_set(struct lock_key key, const void *owner, int ofd, long pid, int type, uint64_t s, uint64_t e, int wait)
{
    if (type == F_UNLCK) {
        long rc = cut(key, owner, s, e);
        io_notify();
        return rc;
    }
    while (first_conflict(key, owner, type, s, e)) {
        if (!wait)
            return -EAGAIN;
        if (io_wait_intr(io_seq(), 0) == -EINTR) /* the big lock is dropped while asleep; check again after any unlock */
            return -ERESTARTSYS;
    }
    struct rlock proto = {.key = key, .owner = owner, .ofd = ofd, .type = type, .pid = pid};
    struct rlock *n = new_rlock(&proto, s, e);
    if (!n)
        return -ENOLCK;
    if (cut(key, owner, s, e)) {
        kfree(n);
        return -ENOLCK;
    }
    insert(n);
    io_notify(); /* a downgrade (write to read) may let readers in */
    return 0;
}

void rlock_release(struct lock_key key, const void *owner)
{
    int any = 0;
    for (struct rlock **p = &rlocks; *p;) {
        struct rlock *l = *p;
        if (l->owner == owner && (!key.kind || same_key(l->key, key))) {
            *p = l->next;
            kfree(l);
            any = 1;
            continue;
        }
        p = &l->next;
    }
    if (any)
        io_notify();
}

static struct flk **flock_of(const void *file)
{
    struct flk **p = &flocks;
    while (*p && (*p)->file != file)
        p = &(*p)->next;
    return p;
}

void flock_release(const void *file)
{
    struct flk **p = flock_of(file);
    if (*p) {
        struct flk *l = *p;
        *p = l->next;
        kfree(l);
        io_notify();
    }
}

long flock_op(struct lock_key key, const void *file, long op)
{
    if (op & LOCK_MAND)
        return 0; /* Linux ignores mandatory flock requests */
    int type = (int)(op & ~LOCK_NB);
    if (type != LOCK_SH && type != LOCK_EX && type != LOCK_UN)
        return -EINVAL;
    struct flk **mine = flock_of(file);
    if (*mine && (*mine)->type == type)
        return 0;
    /* A conversion unlocks first, as Linux does: if the new lock cannot be
     * had, the old one is gone too. */
    flock_release(file);
    if (type == LOCK_UN)
        return 0;
    for (;;) {
        int busy = 0;
        for (struct flk *l = flocks; l && !busy; l = l->next)
            busy = same_key(l->key, key) && l->file != file && (type == LOCK_EX || l->type == LOCK_EX);
        if (!busy)
            break;
        if (op & LOCK_NB)
            return -EAGAIN;
        if (io_wait_intr(io_seq(), 0) == -EINTR)
            return -ERESTARTSYS;
    }
    if (*(mine = flock_of(file))) { /* another thread on the same open file took one meanwhile */
        (*mine)->type = type;
        return 0;
    }
    struct flk *n = kmalloc(sizeof *n);
    if (!n)
        return -ENOLCK;
    n->key = key;
    n->file = file;
    n->type = type;
    n->next = flocks;
    flocks = n;
    return 0;
}
