/* Waiting for descriptors: poll, ppoll, select, pselect6 and epoll
 * (level-triggered), on the kernel's I/O event counter (hermit/iowait.h). */
#include "vfs.h"
#include <hermit/heap.h>
#include <hermit/sched.h>
#include <hermit/spinlock.h>
#include <hermit/time.h>


static uint64_t deadline_after(int64_t ns) { return ns > 0 ? clock_ns() + (uint64_t)ns : 0; }


/* A user timespec as nanoseconds: -1 for none (wait forever). */
static long user_timeout(long uts, int64_t *ns)
{
    *ns = -1;
    if (!uts)
        return 0;
    if (!user_ok((uintptr_t)uts, sizeof(struct timespec_k), PROT_READ))
        return -EFAULT;
    const struct timespec_k *ts = (const struct timespec_k *)uts;
    if (ts->sec < 0 || ts->nsec < 0 || ts->nsec >= 1000000000)
        return -EINVAL;
    *ns = ts->sec * 1000000000ll + ts->nsec;
    return 0;
}

/* --- poll --- */
struct pollfd {
    int fd;
    short events, revents;
};

static long do_poll(long ufds, long nfds, int64_t timeout_ns)
{
    if (nfds < 0 || nfds > MAX_FDS)
        return -EINVAL;
    if (!user_ok((uintptr_t)ufds, (size_t)nfds * sizeof(struct pollfd), PROT_READ | PROT_WRITE))
        return -EFAULT;
    struct pollfd *p = (struct pollfd *)ufds;
    uint64_t deadline = deadline_after(timeout_ns);
    for (;;) {
        uint64_t s = io_seq();
        long n = 0;
        for (long i = 0; i < nfds; i++) {
            p[i].revents = p[i].fd < 0 ? 0 : fd_poll(p[i].fd) & (p[i].events | POLLERR | POLLHUP | POLLNVAL);
            n += p[i].revents != 0;
        }
        if (n || timeout_ns == 0)
            return n;
        int w = io_wait_intr(s, deadline);
        if (w == -EINTR)
            return -ERESTARTNOHAND;
        if (w)
            return 0;
    }
}

long sys_poll(long ufds, long nfds, long timeout_ms)
{
    return do_poll(ufds, nfds, timeout_ms < 0 ? -1 : timeout_ms * 1000000ll);
}

long sys_ppoll(long ufds, long nfds, long uts, long sigmask, long sigsetsize)
{
    int64_t t;
    long err = user_timeout(uts, &t);
    if (!err && sigmask)
        err = signal_mask_swap(sigmask, sigsetsize);
    if (err)
        return err;
    long rc = do_poll(ufds, nfds, t);
    if (sigmask)
        signal_mask_restore(rc == -ERESTARTNOHAND);
    return rc;
}

/* --- select --- */
static long do_select(long nfds, long ur, long uw, long ue, int64_t timeout_ns)
{
    if (nfds < 0 || nfds > MAX_FDS)
        return -EINVAL;
    size_t bytes = ((size_t)nfds + 63) / 64 * 8;
    uint64_t *sets[3] = {(uint64_t *)ur, (uint64_t *)uw, (uint64_t *)ue}, want[3][MAX_FDS / 64] = {{0}};
    for (int k = 0; k < 3; k++) {
        if (!sets[k])
            continue;
        if (!user_ok((uintptr_t)sets[k], bytes, PROT_READ | PROT_WRITE))
            return -EFAULT;
        memcpy(want[k], sets[k], bytes);
    }
    for (long fd = 0; fd < nfds; fd++)
        if (((want[0][fd / 64] | want[1][fd / 64] | want[2][fd / 64]) >> (fd % 64) & 1) && (fd_poll(fd) & POLLNVAL))
            return -EBADF;
    uint64_t deadline = deadline_after(timeout_ns);
    for (;;) {
        uint64_t s = io_seq();
        uint64_t got[3][MAX_FDS / 64] = {{0}};
        long n = 0;
        for (long fd = 0; fd < nfds; fd++) {
            uint64_t bit = 1ull << (fd % 64);
            if (!((want[0][fd / 64] | want[1][fd / 64] | want[2][fd / 64]) & bit))
                continue;
            short r = fd_poll(fd);
            const short masks[3] = {POLLIN | POLLHUP | POLLERR, POLLOUT | POLLERR, POLLPRI};
            for (int k = 0; k < 3; k++)
                if ((want[k][fd / 64] & bit) && (r & masks[k])) {
                    got[k][fd / 64] |= bit;
                    n++;
                }
        }
        if (n || timeout_ns == 0) {
            for (int k = 0; k < 3; k++)
                if (sets[k])
                    memcpy(sets[k], got[k], bytes);
            return n;
        }
        int w = io_wait_intr(s, deadline);
        if (w == -EINTR)
            return -ERESTARTNOHAND;
        if (w) {
            for (int k = 0; k < 3; k++)
                if (sets[k])
                    memset(sets[k], 0, bytes);
            return 0;
        }
    }
}


long sys_select(long nfds, long ur, long uw, long ue, long utv)
{
    int64_t t = -1;
    if (utv) {
        if (!user_ok((uintptr_t)utv, sizeof(struct timeval_k), PROT_READ))
            return -EFAULT;
        const struct timeval_k *tv = (const struct timeval_k *)utv;
        if (tv->sec < 0 || tv->usec < 0)
            return -EINVAL;
        t = tv->sec * 1000000000ll + tv->usec * 1000;
    }
    return do_select(nfds, ur, uw, ue, t);
}

long sys_pselect6(long nfds, long ur, long uw, long ue, long uts, long usig)
{
    int64_t t;
    long err = user_timeout(uts, &t);
    uint64_t sig[2] = {0, 0}; /* {const sigset_t *ss; size_t ss_len} */
    if (!err && usig && copy_from_user(sig, (uintptr_t)usig, sizeof sig))
        err = -EFAULT;
    if (!err && sig[0])
        err = signal_mask_swap((long)sig[0], (long)sig[1]);
    if (err)
        return err;
    long rc = do_select(nfds, ur, uw, ue, t);
    if (sig[0])
        signal_mask_restore(rc == -ERESTARTNOHAND);
    return rc;
}

/* --- epoll --- */
#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
#define EPOLLONESHOT (1u << 30)
#define EPOLLET (1u << 31)

/* x86_64 packs struct epoll_event (12 bytes); aarch64 does not (16). */
#if defined(__x86_64__)
struct epoll_event {
    uint32_t events;
    uint64_t data;
} __attribute__((packed));
#else
struct epoll_event {
    uint32_t events;
    uint64_t data;
};
#endif

struct epitem {
    int fd;
    uint32_t events;
    uint64_t data;
    struct epitem *next;
};

struct epoll {
    struct epitem *items;
};

static uint32_t epitem_ready(const struct epitem *it)
{
    short r = fd_poll(it->fd);
    if (r & POLLNVAL) /* closed since: Linux drops it with the file */
        return 0;
    return (uint32_t)r & ((it->events & 0xffff) | POLLERR | POLLHUP);
}

static short epoll_poll(struct file *f)
{
    for (struct epitem *it = ((struct epoll *)f->priv)->items; it; it = it->next)
        if (epitem_ready(it))
            return POLLIN;
    return 0;
}

static void epoll_release(struct file *f)
{
    struct epoll *ep = f->priv;
    while (ep->items) {
        struct epitem *it = ep->items;
        ep->items = it->next;
        kfree(it);
    }
    kfree(ep);
}

static const struct file_ops epoll_ops = {.kind = "epoll", .poll = epoll_poll, .release = epoll_release};

long sys_epoll_create1(long flags)
{
    if (flags & ~(long)O_CLOEXEC)
        return -EINVAL;
    struct epoll *ep = kzalloc(sizeof *ep);
    if (!ep)
        return -ENOMEM;
    long fd = fd_install(&epoll_ops, ep, (int)flags);
    if (fd < 0)
        kfree(ep);
    return fd;
}

long sys_epoll_create(long size) { return size <= 0 ? -EINVAL : sys_epoll_create1(0); }

long sys_epoll_ctl(long epfd, long op, long fd, long uevent)
{
    long err;
    struct epoll *ep = fd_object(epfd, &epoll_ops, -EINVAL, 0, &err);
    if (!ep)
        return err;
    if (fd == epfd)
        return -EINVAL;
    if (fd_poll(fd) & POLLNVAL)
        return -EBADF;
    struct epoll_event ev = {0, 0};
    if (op != EPOLL_CTL_DEL) {
        if (!user_ok((uintptr_t)uevent, sizeof ev, PROT_READ))
            return -EFAULT;
        memcpy(&ev, (const void *)uevent, sizeof ev);
    }
    struct epitem **pp = &ep->items;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    switch (op) {
    case EPOLL_CTL_ADD: {
        if (*pp)
            return -EEXIST;
        struct epitem *it = kzalloc(sizeof *it);
        if (!it)
            return -ENOMEM;
        *it = (struct epitem){(int)fd, ev.events, ev.data, 0};
        *pp = it;
        break;
    }
    case EPOLL_CTL_MOD:
        if (!*pp)
            return -ENOENT;
        (*pp)->events = ev.events;
        (*pp)->data = ev.data;
        break;
    case EPOLL_CTL_DEL: {
        if (!*pp)
            return -ENOENT;
        struct epitem *it = *pp;
        *pp = it->next;
        kfree(it);
        break;
    }
    default:
        return -EINVAL;
    }
    io_notify(); /* a waiter on this epoll rescans */
    return 0;
}

long sys_epoll_pwait(long epfd, long uevents, long maxevents, long timeout_ms, long sigmask, long sigsetsize)
{
    long err;
    struct epoll *ep = fd_object(epfd, &epoll_ops, -EINVAL, 0, &err);
    if (!ep)
        return err;
    if (maxevents <= 0)
        return -EINVAL;
    if (!user_ok((uintptr_t)uevents, (size_t)maxevents * sizeof(struct epoll_event), PROT_WRITE))
        return -EFAULT;
    struct epoll_event *out = (struct epoll_event *)uevents;
    if (sigmask) {
        long rc = signal_mask_swap(sigmask, sigsetsize);
        if (rc)
            return rc;
        rc = sys_epoll_pwait(epfd, uevents, maxevents, timeout_ms, 0, 8);
        signal_mask_restore(rc == -EINTR);
        return rc;
    }
    uint64_t deadline = deadline_after(timeout_ms < 0 ? -1 : timeout_ms * 1000000ll);
    for (;;) {
        uint64_t s = io_seq();
        long n = 0;
        for (struct epitem *it = ep->items; it && n < maxevents; it = it->next) {
            uint32_t r = epitem_ready(it);
            if (!r)
                continue;
            struct epoll_event ev = {r, it->data};
            memcpy(&out[n++], &ev, sizeof ev);
            if (it->events & EPOLLONESHOT)
                it->events = 0;
        }
        if (n || timeout_ms == 0)
            return n;
        int w = io_wait_intr(s, deadline);
        if (w)
            return w == -EINTR ? -EINTR : 0;
    }
}

long sys_epoll_wait(long epfd, long uevents, long maxevents, long timeout_ms)
{
    return sys_epoll_pwait(epfd, uevents, maxevents, timeout_ms, 0, 8);
}
