/* Job control on the controlling terminal, for
 * tests/integration/test_signals.py (run on a pseudo-terminal; the
 * guest's output must be the host's): tcgetpgrp/tcsetpgrp, tcgetsid,
 * TIOCSCTTY and TIOCNOTTY, and Linux's rules for background process
 * groups -- a read raises SIGTTIN (EIO when it is ignored or blocked, EINTR
 * after a handler), a write under TOSTOP, tcsetattr and tcsetpgrp raise
 * SIGTTOU (done anyway when it is ignored or blocked), and in an orphaned
 * group they fail with EIO (tcsetpgrp: ENOTTY) instead. Prints only what
 * is the same on every run (no pids). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const char *err_name(int e)
{
    return e == 0 ? "ok" : e == EIO ? "EIO" : e == EINTR ? "EINTR" : e == ENOTTY ? "ENOTTY" : e == EPERM ? "EPERM"
         : e == ESRCH ? "ESRCH" : e == EINVAL ? "EINVAL" : e == ENXIO ? "ENXIO" : "other";
}

static const char *status_text(int st)
{
    static char buf[64];
    if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped by %s", sigabbrev_np(WSTOPSIG(st)));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s", sigabbrev_np(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
    return buf;
}

static volatile int caught, caught_code;
static void on_sig(int sig, siginfo_t *si, void *uc)
{
    caught = sig;
    caught_code = si->si_code;
}

enum disp { DEFAULT, IGNORED, BLOCKED, HANDLED };
static const char *disp_name[] = {"default", "ignored", "blocked", "handled"};

static void dispose(int sig, enum disp d)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = d == IGNORED ? SIG_IGN : SIG_DFL;
    if (d == HANDLED) {
        sa.sa_sigaction = on_sig;
        sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: the call ends with EINTR */
    }
    sigaction(sig, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(d == BLOCKED ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static void set_tostop(int on)
{
    struct termios t;
    tcgetattr(0, &t);
    if (on)
        t.c_lflag |= TOSTOP;
    else
        t.c_lflag &= ~TOSTOP;
    tcsetattr(0, TCSANOW, &t);
}

enum op { READ, WRITE, TCSETATTR, TCSETPGRP };
static const char *op_name[] = {"read", "write", "tcsetattr", "tcsetpgrp"};

/* In a child: the operation from a background group (its own). */
static int do_op(enum op op)
{
    char c;
    struct termios t;
    errno = 0;
    switch (op) {
    case READ:
        return read(0, &c, 1) < 0 ? errno : 0;
    case WRITE:
        return write(1, "  (a background write)\n", 23) < 0 ? errno : 0;
    case TCSETATTR:
        tcgetattr(0, &t);
        return tcsetattr(0, TCSANOW, &t) < 0 ? errno : 0;
    case TCSETPGRP:
        return tcsetpgrp(0, getpgrp()) < 0 ? errno : 0;
    }
    return 0;
}

/* A child in a process group of its own (the background) does op with the
 * signal's disposition d; the parent reports what happened to it: stopped
 * (then continued: it stops again, as the call restarts), or what the
 * call returned. */
static void background(enum op op, enum disp d)
{
    int sig = op == READ ? SIGTTIN : SIGTTOU;
    int report[2];
    if (pipe(report))
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        setpgid(0, 0);
        dispose(sig, d);
        caught = 0;
        int e = do_op(op);
        int fg = tcgetpgrp(0) == getpgrp();
        if (op == TCSETPGRP && fg)
            tcsetpgrp(0, getppid()); /* it became the foreground: give it back (it is the foreground now) */
        char msg[128];
        int n = snprintf(msg, sizeof msg, "%s, caught %s si_code %s%s", err_name(e),
                         caught ? sigabbrev_np(caught) : "nothing",
                         !caught ? "-" : caught_code == SI_KERNEL ? "SI_KERNEL" : "other",
                         fg ? ", the child's group was the foreground" : "");
        if (write(report[1], msg, (size_t)n) != n)
            _exit(2);
        _exit(0);
    }
    close(report[1]);
    setpgid(pid, pid);
    int st;
    waitpid(pid, &st, WUNTRACED);
    printf("background %s, SIG%s %s: %s", op_name[op], sigabbrev_np(sig), disp_name[d], status_text(st));
    if (WIFSTOPPED(st)) {
        kill(pid, SIGCONT); /* the call restarts: stopped again */
        waitpid(pid, &st, WUNTRACED);
        printf("; continued: %s", status_text(st));
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        printf("; %s\n", status_text(st));
    } else {
        char msg[128] = "";
        ssize_t n = read(report[0], msg, sizeof msg - 1);
        msg[n > 0 ? n : 0] = 0;
        printf(", the call: %s\n", msg);
    }
    close(report[0]);
    if (tcgetpgrp(0) != getpgrp())
        printf("the foreground group is not ours any more\n");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getsid(0) != getpid() && setsid() < 0)
        printf("setsid failed\n");
    printf("isatty: %d %d\n", isatty(0), isatty(1));
    printf("TIOCSCTTY: %s\n", ioctl(0, TIOCSCTTY, 0) ? err_name(errno) : "ok");
    pid_t sid;
    printf("tcgetsid is our session: %s\n", tcgetsid(0) == getsid(0) ? "yes" : "no");
    printf("TIOCGSID: %s\n", ioctl(0, TIOCGSID, &sid) ? err_name(errno) : sid == getpid() ? "ours" : "other");
    printf("tcgetpgrp is our group: %s\n", tcgetpgrp(0) == getpgrp() ? "yes" : "no");

    /* /proc/self/stat's tty_nr is set, tpgid the foreground group */
    char stat[1024];
    int fd = open("/proc/self/stat", O_RDONLY);
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    stat[n > 0 ? n : 0] = 0;
    long f[8] = {0};
    char *p = strrchr(stat, ')');
    if (p) {
        p += 3; /* past ") S" */
        for (int i = 0; i < 5; i++)
            f[i] = strtol(p, &p, 10);
    }
    printf("stat: tty_nr set %s, tpgid is the foreground group %s\n", f[3] ? "yes" : "no",
           f[4] == tcgetpgrp(0) ? "yes" : "no");

    for (enum disp d = DEFAULT; d <= HANDLED; d++)
        background(READ, d);
    background(WRITE, DEFAULT); /* without TOSTOP: written */
    set_tostop(1);
    for (enum disp d = DEFAULT; d <= HANDLED; d++)
        background(WRITE, d);
    set_tostop(0);
    for (enum disp d = DEFAULT; d <= BLOCKED; d++)
        background(TCSETATTR, d);
    for (enum disp d = DEFAULT; d <= HANDLED; d++)
        background(TCSETPGRP, d);

    /* tcsetpgrp's own errors */
    int ready[2];
    if (pipe(ready))
        return 1;
    pid_t other = fork();
    if (other == 0) {
        setsid();
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    if (read(ready[0], &sid, 1) != 1)
        printf("the other session did not start\n");
    errno = 0;
    printf("tcsetpgrp to a group of another session: %s\n", err_name(tcsetpgrp(0, other) ? errno : 0));
    printf("tcsetpgrp to a group that does not exist: %s\n", err_name(tcsetpgrp(0, 0x3fffff) ? errno : 0));
    printf("tcsetpgrp to -1: %s\n", err_name(tcsetpgrp(0, -1) ? errno : 0));

    /* the other session's process has no controlling terminal, and may not take ours */
    pid_t probe = fork();
    if (probe == 0) {
        setsid();
        printf("after setsid: tcgetpgrp %s", err_name(tcgetpgrp(0) < 0 ? errno : 0));
        printf(", TIOCSCTTY %s\n", err_name(ioctl(0, TIOCSCTTY, 0) ? errno : 0));
        _exit(0);
    }
    int st;
    waitpid(probe, &st, 0);
    kill(other, SIGKILL);
    waitpid(other, &st, 0);

    /* not a session leader: TIOCSCTTY EPERM; TIOCNOTTY lets it go (for it alone) */
    pid_t child = fork();
    if (child == 0) {
        printf("a child: TIOCSCTTY %s", err_name(ioctl(0, TIOCSCTTY, 0) ? errno : 0));
        printf(", TIOCNOTTY %s", err_name(ioctl(0, TIOCNOTTY) ? errno : 0));
        printf(", then tcgetpgrp %s", err_name(tcgetpgrp(0) < 0 ? errno : 0));
        printf(", TIOCNOTTY again %s\n", err_name(ioctl(0, TIOCNOTTY) ? errno : 0));
        _exit(0);
    }
    waitpid(child, &st, 0);
    printf("the parent still has it: %s\n", tcgetpgrp(0) == getpgrp() ? "yes" : "no");

    /* the parent's group in the background: orphaned (its parent is outside the session) */
    child = fork();
    if (child == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    setpgid(child, child);
    printf("tcsetpgrp to the child's group: %s\n", err_name(tcsetpgrp(0, child) ? errno : 0));
    char c;
    errno = 0;
    printf("an orphaned background group: read %s", err_name(read(0, &c, 1) < 0 ? errno : 0));
    struct termios t;
    tcgetattr(0, &t);
    printf(", tcsetattr %s", err_name(tcsetattr(0, TCSANOW, &t) ? errno : 0));
    printf(", tcsetpgrp %s\n", err_name(tcsetpgrp(0, getpgrp()) ? errno : 0));
    dispose(SIGTTOU, BLOCKED);
    printf("with SIGTTOU blocked: tcsetpgrp back %s", err_name(tcsetpgrp(0, getpgrp()) ? errno : 0));
    dispose(SIGTTOU, DEFAULT);
    printf(", the foreground again: %s\n", tcgetpgrp(0) == getpgrp() ? "yes" : "no");
    kill(child, SIGKILL);
    waitpid(child, &st, 0);
    printf("done\n");
    return 0;
}
