/* /proc/PID of other processes, for tests/integration/test_processes.py
 * (the guest's output must be the host's): a parent forks a child that
 * stops itself (SIGSTOP, two threads, its own cwd, name and fd 7), one
 * that sleeps in its own process group and one left a zombie, and prints
 * what /proc/<child>/{status,stat,cmdline,comm,exe,cwd,fd} say of each
 * -- only what is the same on every run (no pid, no time) -- and which of
 * its children a listing of /proc shows, before and after they are
 * collected. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    ssize_t k;
    while (n < size - 1 && (k = read(fd, buf + n, size - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = 0;
    return (int)n;
}

static const char *err_name(int e)
{
    return e == ENOENT ? "ENOENT" : e == ESRCH ? "ESRCH" : e == EACCES ? "EACCES" : e == EPERM ? "EPERM" : "other";
}

/* "label: TARGET" of a symlink, or "label: ERRNO" */
static void show_link(const char *label, const char *path)
{
    char buf[512];
    ssize_t k = readlink(path, buf, sizeof buf - 1);
    if (k < 0)
        printf("%s: %s\n", label, err_name(errno));
    else
        printf("%s: %.*s\n", label, (int)k, buf);
}

/* The value of a "Key:\tvalue" line of status. */
static const char *field(const char *text, const char *key, char *out, size_t size)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, key, n) && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == '\t' || *v == ' ')
                v++;
            size_t k = strcspn(v, "\n");
            if (k >= size)
                k = size - 1;
            memcpy(out, v, k);
            out[k] = 0;
            return out;
        }
    }
    snprintf(out, size, "(none)");
    return out;
}

static void show(const char *what, pid_t pid)
{
    char path[64], buf[8192], v[256], self[8192];
    pid_t me = getpid();
    printf("== %s\n", what);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    int n = slurp(path, buf, sizeof buf);
    if (n < 0) {
        printf("status: %s\n", err_name(-n));
    } else {
        printf("status Name: %s\n", field(buf, "Name", v, sizeof v));
        printf("status State: %s\n", field(buf, "State", v, sizeof v));
        printf("status Tgid is the pid: %s\n", atoi(field(buf, "Tgid", v, sizeof v)) == pid ? "yes" : "no");
        printf("status Pid is the pid: %s\n", atoi(field(buf, "Pid", v, sizeof v)) == pid ? "yes" : "no");
        printf("status PPid is ours: %s\n", atoi(field(buf, "PPid", v, sizeof v)) == me ? "yes" : "no");
        printf("status Threads: %s\n", field(buf, "Threads", v, sizeof v));
        printf("status Uid: %s\n", field(buf, "Uid", v, sizeof v));
        printf("status Gid: %s\n", field(buf, "Gid", v, sizeof v));
        printf("status has VmRSS: %s\n", strcmp(field(buf, "VmRSS", v, sizeof v), "(none)") ? "yes" : "no");
        printf("status SigBlk: %s\n", field(buf, "SigBlk", v, sizeof v));
        printf("status SigCgt: %s\n", field(buf, "SigCgt", v, sizeof v));
    }
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    n = slurp(path, buf, sizeof buf);
    if (n < 0) {
        printf("stat: %s\n", err_name(-n));
    } else {
        /* pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ... */
        char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
        long spid = atol(buf);
        char comm[64] = "";
        if (open_paren && close_paren && close_paren > open_paren)
            snprintf(comm, sizeof comm, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
        char state = 0;
        long f[52] = {0};
        int count = 0;
        if (close_paren) {
            char *p = close_paren + 2;
            state = *p;
            p += 1;
            for (count = 4; count <= 52 && *p == ' '; count++)
                f[count - 1] = strtol(p + 1, &p, 10);
            count--;
        }
        printf("stat pid is the pid: %s, comm (%s), state %c, fields %d\n", spid == pid ? "yes" : "no", comm, state,
               count);
        printf("stat ppid is ours: %s, pgrp %s, session is ours: %s\n", f[3] == me ? "yes" : "no",
               f[4] == pid ? "its own" : f[4] == getpgrp() ? "ours" : "other", f[5] == getsid(0) ? "yes" : "no");
        printf("stat num_threads: %ld, utime+stime >= 0: %s\n", f[19], f[13] + f[14] >= 0 ? "yes" : "no");
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    n = slurp(path, buf, sizeof buf);
    int m = slurp("/proc/self/cmdline", self, sizeof self);
    if (n < 0)
        printf("cmdline: %s\n", err_name(-n));
    else
        printf("cmdline: %s\n", n == 0 ? "empty" : n == m && !memcmp(buf, self, (size_t)n) ? "ours" : "other");
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    n = slurp(path, buf, sizeof buf);
    printf("comm: %s", n < 0 ? err_name(-n) : buf);
    if (n < 0)
        printf("\n");
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t k = readlink(path, buf, sizeof buf - 1);
    ssize_t ks = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k < 0)
        printf("exe: %s\n", err_name(errno));
    else
        printf("exe: %s\n", k == ks && !memcmp(buf, self, (size_t)k) ? "ours" : "other");
    snprintf(path, sizeof path, "/proc/%d/cwd", pid);
    show_link("cwd", path);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d) {
        printf("fd: %s\n", err_name(errno));
    } else {
        int fds[64], nfd = 0;
        struct dirent *e;
        errno = 0;
        while ((e = readdir(d)) && nfd < 64)
            if (e->d_name[0] != '.')
                fds[nfd++] = atoi(e->d_name);
        int rerr = errno;
        closedir(d);
        for (int i = 1; i < nfd; i++) /* sorted */
            for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
                int t = fds[j];
                fds[j] = fds[j - 1];
                fds[j - 1] = t;
            }
        printf("fd:");
        for (int i = 0; i < nfd; i++)
            printf(" %d", fds[i]);
        printf("%s\n", rerr ? " (readdir error)" : "");
        snprintf(path, sizeof path, "/proc/%d/fd/7", pid);
        show_link("fd 7", path);
    }
}

/* Which of pids a listing of /proc shows; and that its other numeric
 * entries are directories. */
static void listing(const char *what, pid_t *pids, const char **names, int n)
{
    DIR *d = opendir("/proc");
    int seen[8] = {0}, self_seen = 0, nondir = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (e->d_type != DT_DIR)
            nondir++;
        pid_t p = atoi(e->d_name);
        if (p == getpid())
            self_seen = 1;
        for (int i = 0; i < n; i++)
            if (p == pids[i])
                seen[i] = 1;
    }
    closedir(d);
    printf("== /proc %s: ours %s;", what, self_seen ? "listed" : "missing");
    for (int i = 0; i < n; i++)
        printf(" %s %s;", names[i], seen[i] ? "listed" : "not listed");
    printf(" numeric entries that are not directories: %d\n", nondir);
}

static void on_usr2(int sig) {}

static void *forever(void *arg)
{
    for (;;)
        pause();
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (chdir("/")) /* the same everywhere */
        return 1;
    for (int fd = 3; fd < 1024; fd++) /* only our own descriptors, wherever it runs */
        close(fd);
    char buf[64];
    ssize_t k = readlink("/proc/self", buf, sizeof buf - 1);
    buf[k > 0 ? k : 0] = 0;
    printf("/proc/self is our pid: %s\n", atoi(buf) == getpid() ? "yes" : "no");
    int ready[2];
    if (pipe(ready))
        return 1;

    /* a child that stops itself: two threads, its own name, cwd and fd 7 */
    pid_t stopper = fork();
    if (stopper == 0) {
        prctl(PR_SET_NAME, "stopper");
        if (chdir("/tmp"))
            _exit(1);
        int fd = open("/dev/null", O_RDONLY);
        dup2(fd, 7);
        close(fd);
        close(ready[0]);
        close(ready[1]);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGUSR2, on_usr2);
        pthread_t t;
        pthread_create(&t, NULL, forever, NULL);
        raise(SIGSTOP);
        for (;;)
            pause();
    }
    int st;
    if (waitpid(stopper, &st, WUNTRACED) != stopper || !WIFSTOPPED(st))
        printf("the stopper did not stop\n");

    /* one that sleeps in a process group of its own */
    pid_t sleeper = fork();
    if (sleeper == 0) {
        prctl(PR_SET_NAME, "sleeper");
        close(ready[0]);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    setpgid(sleeper, sleeper);
    close(ready[1]);
    if (read(ready[0], buf, 1) != 1)
        printf("the sleeper did not start\n");
    close(ready[0]);

    /* one that ends and is not collected */
    pid_t zombie = fork();
    if (zombie == 0) {
        prctl(PR_SET_NAME, "zombie");
        _exit(3);
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, zombie, &si, WEXITED | WNOWAIT) || si.si_pid != zombie)
        printf("the zombie did not end\n");
    usleep(300 * 1000); /* the sleeper is in pause() by now */

    pid_t pids[3] = {stopper, sleeper, zombie};
    const char *names[3] = {"stopper", "sleeper", "zombie"};
    listing("with three children", pids, names, 3);
    show("stopped child", stopper);
    show("sleeping child", sleeper);
    show("zombie child", zombie);

    /* collected: gone from /proc */
    waitpid(zombie, &st, 0);
    printf("zombie collected: exited %d\n", WEXITSTATUS(st));
    listing("after collecting the zombie", pids, names, 3);
    show("collected child", zombie);

    /* continued: sleeping again */
    kill(stopper, SIGCONT);
    waitpid(stopper, &st, WCONTINUED);
    usleep(300 * 1000);
    snprintf(buf, sizeof buf, "/proc/%d/status", stopper);
    char text[8192], v[64];
    if (slurp(buf, text, sizeof text) > 0)
        printf("continued child State: %s\n", field(text, "State", v, sizeof v));

    kill(stopper, SIGKILL);
    kill(sleeper, SIGKILL);
    waitpid(stopper, &st, 0);
    waitpid(sleeper, &st, 0);
    listing("after collecting all", pids, names, 3);
    printf("== done\n");
    return 0;
}
