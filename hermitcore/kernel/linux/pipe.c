/* Pipes: pipe2() and named pipes (FIFOs in any file system).
 *
 * Pipe state is guarded by the big kernel lock, which every pipe call
 * holds: a reader that finds it empty sleeps in io_wait (dropping the lock)
 * until a writer's io_notify, and the other way round. */
#include "vfs.h"
#include <hermit/heap.h>

#define PIPE_SIZE 65536

struct pipe {
    char *buf;
    size_t head, len;
    int readers, writers;
    struct inode *fifo; /* the FIFO's inode it belongs to, or NULL */
    struct pipe *next;  /* open FIFOs */
};

struct end {
    struct pipe *p;
    int write, read; /* which ends it holds (a FIFO opened O_RDWR: both) */
};

static struct pipe *fifos;

static long pipe_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    struct pipe *p = ((struct end *)f->priv)->p;
    while (!p->len) {
        if (!p->writers)
            return 0;
        if (f->flags & O_NONBLOCK)
            return -EAGAIN;
        if (io_wait_intr(io_seq(), 0) == -EINTR)
            return -ERESTARTSYS;
    }
    size_t done = 0;
    while (done < n && p->len) {
        size_t run = PIPE_SIZE - p->head < p->len ? PIPE_SIZE - p->head : p->len;
        if (run > n - done)
            run = n - done;
        memcpy(buf + done, p->buf + p->head, run);
        done += run;
        p->head = (p->head + run) % PIPE_SIZE;
        p->len -= run;
    }
    io_notify();
    return (long)done;
}

static long pipe_write(struct file *f, const char *buf, size_t n, uint64_t *off)
{
    struct pipe *p = ((struct end *)f->priv)->p;
    size_t done = 0;
    if (n == 0)
        return 0; /* as Linux: before any check, even on a full or widowed pipe */
    for (;;) {
        if (!p->readers)
            return done ? (long)done : -EPIPE;
        while (done < n && p->len < PIPE_SIZE) {
            size_t tail = (p->head + p->len) % PIPE_SIZE;
            size_t run = PIPE_SIZE - tail < PIPE_SIZE - p->len ? PIPE_SIZE - tail : PIPE_SIZE - p->len;
            if (run > n - done)
                run = n - done;
            memcpy(p->buf + tail, buf + done, run);
            done += run;
            p->len += run;
        }
        io_notify();
        if (done == n || (f->flags & O_NONBLOCK))
            return done ? (long)done : -EAGAIN;
        if (io_wait_intr(io_seq(), 0) == -EINTR) /* full: wait for the reader */
            return done ? (long)done : -ERESTARTSYS;
    }
}

static short pipe_poll(struct file *f)
{
    struct end *e = f->priv;
    struct pipe *p = e->p;
    short r = 0;
    if (e->write)
        r |= (short)((p->len < PIPE_SIZE ? POLLOUT : 0) | (p->readers ? 0 : POLLERR));
    if (e->read)
        r |= (short)((p->len ? POLLIN : 0) | (p->writers ? 0 : POLLHUP));
    return r;
}

static long pipe_ioctl(struct file *f, unsigned long cmd, long arg)
{
    if (cmd != FIONREAD)
        return -ENOTTY;
    if (!user_ok((uintptr_t)arg, 4, PROT_WRITE))
        return -EFAULT;
    *(int *)arg = (int)((struct end *)f->priv)->p->len;
    return 0;
}

static void pipe_unlink_fifo(struct pipe *p)
{
    for (struct pipe **q = &fifos; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            break;
        }
}

static void pipe_release(struct file *f)
{
    struct end *e = f->priv;
    struct pipe *p = e->p;
    p->writers -= e->write;
    p->readers -= e->read;
    kfree(e);
    io_notify(); /* a blocked reader sees end of file, a writer EPIPE */
    if (p->readers || p->writers)
        return;
    if (p->fifo) {
        pipe_unlink_fifo(p);
        inode_put(p->fifo);
    }
    kfree(p->buf);
    kfree(p);
}

static const struct file_ops pipe_ops = {
    .kind = "pipe", .mode = S_IFIFO, .read = pipe_read, .write = pipe_write, .poll = pipe_poll,
    .ioctl = pipe_ioctl, .release = pipe_release,
};

static struct pipe *pipe_alloc(void)
{
    struct pipe *p = kzalloc(sizeof *p);
    if (p && !(p->buf = kmalloc(PIPE_SIZE))) {
        kfree(p);
        return 0;
    }
    return p;
}

/* An end of p as an open file: O_RDONLY, O_WRONLY or (FIFOs) O_RDWR. */
static struct file *pipe_end(struct pipe *p, int acc, int flags, struct inode *ino)
{
    struct end *e = kzalloc(sizeof *e);
    struct file *f = e ? file_new(&pipe_ops, ino, e, acc | (flags & O_NONBLOCK)) : 0;
    if (!f) {
        kfree(e);
        return 0;
    }
    e->p = p;
    e->write = acc != O_RDONLY;
    e->read = acc != O_WRONLY;
    p->writers += e->write;
    p->readers += e->read;
    return f;
}

long pipe_new(int flags, struct file **r, struct file **w)
{
    struct pipe *p = pipe_alloc();
    if (!p)
        return -ENOMEM;
    *r = pipe_end(p, O_RDONLY, flags, 0);
    *w = *r ? pipe_end(p, O_WRONLY, flags, 0) : 0;
    if (!*w) {
        if (*r)
            file_put(*r); /* frees p with it */
        else {
            kfree(p->buf);
            kfree(p);
        }
        return -ENOMEM;
    }
    return 0;
}

/* open() of a FIFO: one pipe per FIFO while it is open anywhere. A reader
 * waits for a writer and a writer for a reader, unless O_NONBLOCK (then a
 * writer without readers gets ENXIO); O_RDWR opens at once. */
struct file *fifo_open(struct inode *ino, int flags, long *err)
{
    struct pipe *p = fifos;
    while (p && p->fifo != ino)
        p = p->next;
    int acc = flags & O_ACCMODE;
    if (!p) {
        if (acc == O_WRONLY && (flags & O_NONBLOCK)) {
            *err = -ENXIO;
            return 0;
        }
        if (!(p = pipe_alloc())) {
            *err = -ENOMEM;
            return 0;
        }
        p->fifo = ino;
        inode_get(ino);
        p->next = fifos;
        fifos = p;
    } else if (acc == O_WRONLY && (flags & O_NONBLOCK) && !p->readers) {
        *err = -ENXIO;
        return 0;
    }
    struct file *f = pipe_end(p, acc, flags, ino);
    if (!f) {
        *err = -ENOMEM;
        if (!p->readers && !p->writers) {
            pipe_unlink_fifo(p);
            inode_put(ino);
            kfree(p->buf);
            kfree(p);
        }
        return 0;
    }
    /* O_RDWR holds both ends: Linux opens it without waiting */
    while (acc != O_RDWR && !(flags & O_NONBLOCK) && !(acc == O_RDONLY ? p->writers : p->readers)) {
        io_notify(); /* the other side may be waiting for us */
        if (io_wait_intr(io_seq(), 0) == -EINTR) {
            file_put(f);
            *err = -ERESTARTSYS;
            return 0;
        }
    }
    io_notify();
    *err = 0;
    return f;
}
