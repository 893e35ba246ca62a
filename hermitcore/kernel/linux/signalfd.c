/* signalfd: a descriptor that reads the reader's pending signals of a
 * mask as struct signalfd_siginfo records, and polls readable while one is
 * pending -- signals the program blocks and takes here instead of in a
 * handler. Sending a signal notifies I/O waiters (signal.c), so a blocked
 * read, poll or epoll_wait on it wakes. */
#include "vfs.h"
#include <hermit/heap.h>

#define SFD_NONBLOCK O_NONBLOCK
#define SFD_CLOEXEC O_CLOEXEC

struct sigfd {
    uint64_t mask;
};

struct signalfd_siginfo {
    uint32_t signo;
    int32_t errno_, code;
    uint32_t pid, uid;
    int32_t fd;
    uint32_t tid, band, overrun, trapno;
    int32_t status, int_;
    uint64_t ptr, utime, stime, addr;
    uint16_t addr_lsb, pad2;
    int32_t syscall;
    uint64_t call_addr;
    uint32_t arch;
    uint8_t pad[28];
};
_Static_assert(sizeof(struct signalfd_siginfo) == 128, "Linux's struct signalfd_siginfo");

static void convert(const union ksiginfo *in, struct signalfd_siginfo *out)
{
    memset(out, 0, sizeof *out);
    out->signo = (uint32_t)in->signo;
    out->errno_ = in->errno_;
    out->code = in->code;
    if (in->signo == SIGCHLD && in->code > 0) {
        out->pid = (uint32_t)in->chld.pid;
        out->uid = in->chld.uid;
        out->status = in->chld.status;
        out->utime = (uint64_t)in->chld.utime;
        out->stime = (uint64_t)in->chld.stime;
    } else if (in->code == SI_TIMER) {
        out->tid = (uint32_t)in->timer.tid;
        out->overrun = (uint32_t)in->timer.overrun;
        out->int_ = (int32_t)in->timer.value;
        out->ptr = in->timer.value;
    } else if (in->code > 0 && in->code != SI_KERNEL) { /* a fault's */
        out->addr = in->fault.addr;
    } else {
        out->pid = (uint32_t)in->kill.pid;
        out->uid = in->kill.uid;
        out->int_ = (int32_t)in->kill.value;
        out->ptr = in->kill.value;
    }
}

static long sigfd_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    struct sigfd *s = f->priv;
    if (n < sizeof(struct signalfd_siginfo))
        return -EINVAL;
    size_t done = 0;
    for (;;) {
        uint64_t seq = io_seq();
        union ksiginfo info;
        while (done + sizeof(struct signalfd_siginfo) <= n && signal_dequeue(s->mask, &info)) {
            struct signalfd_siginfo out;
            convert(&info, &out);
            memcpy(buf + done, &out, sizeof out);
            done += sizeof out;
        }
        if (done)
            return (long)done;
        if (f->flags & O_NONBLOCK)
            return -EAGAIN;
        if (io_wait_intr(seq, 0) == -EINTR)
            return -ERESTARTSYS;
    }
}

static short sigfd_poll(struct file *f)
{
    struct sigfd *s = f->priv;
    return signal_pending_set() & s->mask ? POLLIN : 0;
}

static void sigfd_release(struct file *f) { kfree(f->priv); }

static const struct file_ops sigfd_ops = {
    .kind = "signalfd", .read = sigfd_read, .poll = sigfd_poll, .release = sigfd_release,
};

long sys_signalfd4(long fd, long umask, long size, long flags)
{
    if (size != 8 || (flags & ~(long)(SFD_NONBLOCK | SFD_CLOEXEC)))
        return -EINVAL;
    uint64_t mask;
    if (copy_from_user(&mask, (uintptr_t)umask, 8))
        return -EFAULT;
    mask &= ~(SIG_BIT(SIGKILL) | SIG_BIT(SIGSTOP));
    if ((int)fd != -1) {
        long err;
        struct sigfd *s = fd_object(fd, &sigfd_ops, -EINVAL, 0, &err);
        if (!s)
            return err;
        s->mask = mask;
        io_notify();
        return (int)fd;
    }
    struct sigfd *s = kzalloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    s->mask = mask;
    long nfd = fd_install(&sigfd_ops, s, (int)flags);
    if (nfd < 0)
        kfree(s);
    return nfd;
}

long sys_signalfd(long fd, long umask, long size) { return sys_signalfd4(fd, umask, size, 0); }
