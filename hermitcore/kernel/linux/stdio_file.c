/* The standard streams as open files: fds 0-2 at start, and /dev/tty and
 * /dev/console (the terminal: stdin's input, stdout's output). They are
 * the host command's own (hermit/stdio.h): a stream that is a terminal on
 * the host is one here (read and write, termios); otherwise it reads or
 * writes like the pipe, file or /dev/null it is on the host. */
#include "vfs.h"
#include <hermit/stdio.h>
#include <hermit/tty.h>
#include <hermit/printk.h>

#define TTY_STREAM 3

#define TCGETS 0x5401
#define TCSETS 0x5402
#define TCSETSW 0x5403
#define TCSETSF 0x5404
#define TIOCSCTTY 0x540e
#define TIOCGPGRP 0x540f
#define TIOCSPGRP 0x5410
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TIOCNOTTY 0x5422
#define TIOCGSID 0x5429


static struct file *files[4];

static int stream_of(const struct file *f) { return (int)(uintptr_t)f->priv; }
static int is_tty(const struct file *f) { return stream_of(f) == TTY_STREAM || stdio_is_tty((unsigned)stream_of(f)); }
static int out_stream(const struct file *f) { return stream_of(f) == STDIO_ERR ? STDIO_ERR : STDIO_OUT; }

/* --- the console as a controlling terminal (Linux's tty->ctrl) ---
 * When the host's streams are a terminal, the console is pid 1's
 * controlling terminal from the start (pid 1 leads session 1, its group is
 * the foreground one), as a shell's terminal is the shell's: the process
 * tree's job control works on it -- tcsetpgrp, and SIGTTIN/SIGTTOU for
 * background groups (signal_tty_check). Processes keep it across fork and
 * lose it with setsid or TIOCNOTTY; a session leader without one takes it
 * with TIOCSCTTY when no session has it (or steals it: arg 1, as root). */
static int tty_sid = -1; /* the session it is the controlling terminal of (0: none; -1: not set up yet) */
static long fg_pgrp;     /* its foreground process group (0: none) */

static void ctty_setup(void)
{
    if (tty_sid < 0) {
        int tty = stdio_file_has_tty();
        tty_sid = tty ? 1 : 0;
        fg_pgrp = tty ? 1 : 0;
    }
}

int linux_has_ctty(struct process *p)
{
    ctty_setup();
    return p->ctty && tty_sid && p->sid == tty_sid;
}

long linux_tty_pgrp(void)
{
    ctty_setup();
    return tty_sid ? fg_pgrp : 0;
}

/* The job-control check of a call on the terminal by the caller (its own
 * controlling terminal only, as Linux's). */
static long job_check(struct file *f, int sig)
{
    if (!is_tty(f) || !linux_has_ctty(current_process()))
        return 0;
    return signal_tty_check(sig, fg_pgrp);
}

/* The session of process group pgrp (Linux's session_of_pgrp: of a member,
 * else of the process with that id), or -1 when neither exists. */
static long session_of_pgrp(long pgrp)
{
    struct process *q = process_first();
    while (q && !(q->pgid == pgrp && !q->zombie))
        q = q->next;
    if (!q)
        q = process_find((int)pgrp);
    return q ? q->sid : -1;
}

static long tiocspgrp(struct file *f, long arg)
{
    struct process *me = current_process();
    long rc = job_check(f, SIGTTOU);
    if (rc == -EIO)
        return -ENOTTY;
    if (rc)
        return rc;
    if (!user_ok((uintptr_t)arg, 4, PROT_READ))
        return -EFAULT;
    long pgrp = *(const int *)arg;
    if (pgrp < 0)
        return -EINVAL;
    if (!linux_has_ctty(me))
        return -ENOTTY;
    long sid = session_of_pgrp(pgrp);
    if (sid < 0)
        return -ESRCH;
    if (sid != me->sid)
        return -EPERM;
    fg_pgrp = pgrp;
    return 0;
}

static long tiocsctty(struct file *f, long arg)
{
    struct process *me = current_process();
    ctty_setup();
    if (me->sid == me->pid && tty_sid == me->sid) {
        me->ctty = 1;
        return 0; /* already its session's */
    }
    if (me->sid != me->pid || linux_has_ctty(me))
        return -EPERM; /* only a session leader without a terminal */
    if (tty_sid) {
        if (arg != 1)
            return -EPERM; /* another session's */
        for (struct process *q = process_first(); q; q = q->next) /* stolen (every process is root) */
            if (q->sid == tty_sid)
                q->ctty = 0;
    }
    tty_sid = me->sid;
    fg_pgrp = me->pgid;
    me->ctty = 1;
    return 0;
}

/* The caller gives its controlling terminal up; a session leader's
 * session loses it, and its foreground group gets SIGHUP and SIGCONT (as
 * Linux's disassociate_ctty). */
static long tiocnotty(void)
{
    struct process *me = current_process();
    if (!linux_has_ctty(me))
        return -ENOTTY;
    if (me->sid != me->pid) {
        me->ctty = 0;
        return 0;
    }
    long fg = fg_pgrp;
    for (struct process *q = process_first(); q; q = q->next)
        if (q->sid == tty_sid)
            q->ctty = 0;
    tty_sid = 0;
    fg_pgrp = 0;
    union ksiginfo info = {0};
    info.code = SI_KERNEL;
    for (int k = 0; k < 2 && fg; k++)
        for (struct process *q = process_first(); q; q = q->next)
            if (q->pgid == fg)
                signal_to(q, k ? SIGCONT : SIGHUP, &info);
    return 0;
}

static long con_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    long rc = job_check(f, SIGTTIN);
    return rc ? rc : stdio_read(buf, n, f->flags & O_NONBLOCK);
}

static long con_write(struct file *f, const char *buf, size_t n, uint64_t *off)
{
    long rc = tty_tostop() ? job_check(f, SIGTTOU) : 0;
    return rc ? rc : stdio_write(out_stream(f), buf, n, f->flags & O_NONBLOCK);
}

static short con_poll(struct file *f)
{
    int acc = f->flags & O_ACCMODE;
    short r = 0;
    if (acc != O_WRONLY)
        r |= stdio_poll(STDIO_IN);
    if (acc != O_RDONLY)
        r |= stdio_poll(out_stream(f)) & ~POLLHUP;
    return r;
}

static long con_ioctl(struct file *f, unsigned long cmd, long arg)
{
    if (cmd == FIONREAD) {
        if (!user_ok((uintptr_t)arg, 4, PROT_WRITE))
            return -EFAULT;
        *(int *)arg = (int)stdio_readable();
        return 0;
    }
    if (!is_tty(f))
        return -ENOTTY;
    switch (cmd) {
    case TCGETS:
        if (!user_ok((uintptr_t)arg, sizeof(struct kernel_termios), PROT_WRITE))
            return -EFAULT;
        tty_get((struct kernel_termios *)arg);
        return 0;
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
        long rc = job_check(f, SIGTTOU);
        if (rc)
            return rc;
        if (!user_ok((uintptr_t)arg, sizeof(struct kernel_termios), PROT_READ))
            return -EFAULT;
        tty_set((const struct kernel_termios *)arg);
        return 0;
    }
    case TIOCGWINSZ: {
        if (!user_ok((uintptr_t)arg, 8, PROT_WRITE))
            return -EFAULT;
        uint16_t *ws = (uint16_t *)arg;
        stdio_winsize(&ws[0], &ws[1]);
        ws[2] = ws[3] = 0;
        return 0;
    }
    case TIOCSWINSZ: {
        if (!user_ok((uintptr_t)arg, 8, PROT_READ))
            return -EFAULT;
        const uint16_t *ws = (const uint16_t *)arg;
        stdio_set_winsize(ws[0], ws[1]);
        return 0;
    }
    case TIOCGPGRP:
    case TIOCGSID:
        if (!linux_has_ctty(current_process()))
            return -ENOTTY; /* not the caller's controlling terminal */
        if (!user_ok((uintptr_t)arg, 4, PROT_WRITE))
            return -EFAULT;
        *(int *)arg = (int)(cmd == TIOCGSID ? tty_sid : fg_pgrp);
        return 0;
    case TIOCSPGRP:
        return tiocspgrp(f, arg);
    case TIOCSCTTY:
        return tiocsctty(f, arg);
    case TIOCNOTTY:
        return tiocnotty();
    }
    return -EINVAL;
}

/* fstat says what the host's stream is. */
static long con_stat(struct file *f, struct kstat *st)
{
    memset(st, 0, sizeof *st);
    st->dev = 5;
    st->nlink = 1;
    st->blksize = 4096;
    if (is_tty(f)) {
        st->mode = S_IFCHR | 0620;
        st->rdev = stream_of(f) == TTY_STREAM ? (5 << 8) | 1 : (136 << 8); /* /dev/console, /dev/pts/0 */
        st->blksize = 1024;
        return 0;
    }
    switch (stdio_kind((unsigned)stream_of(f))) {
    case 'c':
        st->mode = S_IFCHR | 0666;
        st->rdev = (1 << 8) | 3; /* /dev/null */
        break;
    case 'f':
        st->mode = S_IFREG | 0644;
        break;
    case 's':
        st->mode = S_IFSOCK | 0777;
        break;
    default:
        st->mode = S_IFIFO | 0600;
    }
    return 0;
}

static long con_statfs(struct file *f, struct kstatfs *s)
{
    char k = stream_of(f) == TTY_STREAM ? 't' : stdio_kind((unsigned)stream_of(f));
    memset(s, 0, sizeof *s);
    s->type = k == 't' ? DEVPTS_SUPER_MAGIC : k == 'c' ? TMPFS_MAGIC : k == 's' ? SOCKFS_MAGIC : PIPEFS_MAGIC;
    s->bsize = 4096;
    s->namelen = 255;
    return 0;
}

static const struct file_ops console_ops = {
    .kind = "console", .mode = S_IFCHR, .read = con_read, .write = con_write, .poll = con_poll,
    .ioctl = con_ioctl, .stat = con_stat, .statfs = con_statfs,
};

struct file *stdio_file(int stream)
{
    if (!files[stream]) {
        int acc = stream == TTY_STREAM ? O_RDWR : stream == STDIO_IN ? O_RDONLY : O_WRONLY;
        if (stream < STDIO_STREAMS && stdio_is_tty((unsigned)stream))
            acc = O_RDWR;
        files[stream] = file_new(&console_ops, 0, (void *)(uintptr_t)stream, acc);
        if (!files[stream])
            return 0;
        /* what /proc/self/fd/N names: as Linux would for the host's kind of stream */
        char k = stream == TTY_STREAM ? 'C' : stdio_is_tty((unsigned)stream) ? 't' : stdio_kind((unsigned)stream);
        char name[32];
        snprintk(name, sizeof name, "%s:[%d]", k == 's' ? "socket" : "pipe", 4026 + stream);
        files[stream]->path = kstrdup(k == 'C' ? "/dev/console" : k == 't' ? "/dev/pts/0" : k == 'c' ? "/dev/null" : name);
    }
    file_get(files[stream]);
    return files[stream];
}

int stdio_file_has_tty(void) { return stdio_is_tty(STDIO_IN) || stdio_is_tty(STDIO_OUT); }
