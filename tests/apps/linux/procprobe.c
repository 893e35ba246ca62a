/* Processes, compared byte for byte between the host and the guest
 * (test_processes.py): fork's copy-on-write memory against MAP_SHARED,
 * pipes between parent and child, fork+exec, posix_spawn, vfork, many
 * short-lived children, wait statuses and SIGCHLD, kill between
 * processes, process groups and sessions, close-on-exec and `#!` scripts.
 * Prints only what is the same on every run and machine: no pids. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t chld_count, usr1_from_child;
static volatile int chld_code, chld_status;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
}
static void on_usr1(int sig) { usr1_from_child = 1; }

static void section(const char *name)
{
    printf("== %s\n", name);
    fflush(stdout);
}

static const char *status_text(int st)
{
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s", strsignal(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

static int wait_for(pid_t pid)
{
    int st = -1;
    if (waitpid(pid, &st, 0) != pid)
        printf("waitpid: %s\n", strerror(errno));
    return st;
}

static void memory(void)
{
    section("memory");
    static int global = 1;
    size_t big = 8 << 20;
    char *heap = malloc(big);
    memset(heap, 'p', big);
    int *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int *private = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *shared = 5;
    *private = 5;
    int ready[2], done[2];
    pipe(ready);
    pipe(done);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        global = 2;
        heap[0] = heap[big - 1] = 'c';
        *shared = 7;
        *private = 7;
        write(ready[1], "x", 1);
        read(done[0], &c, 1); /* the parent writes its copy meanwhile */
        printf("child: global %d heap %c%c shared %d private %d\n", global, heap[0], heap[big - 1], *shared,
               *private);
        fflush(stdout);
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    printf("parent after the child wrote: global %d heap %c%c shared %d private %d\n", global, heap[0],
           heap[big - 1], *shared, *private);
    heap[1] = 'P';
    *private = 9;
    fflush(stdout);
    write(done[1], "x", 1);
    printf("child %s\n", status_text(wait_for(pid)));
    printf("parent's own writes kept: %c %d\n", heap[1], *private);
    free(heap);
}

static void pipes(void)
{
    section("pipes");
    int to_child[2], to_parent[2];
    pipe(to_child);
    pipe(to_parent);
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        char buf[256];
        ssize_t n, total = 0;
        while ((n = read(to_child[0], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] >= 'a' && buf[i] <= 'z')
                    buf[i] -= 32;
            write(to_parent[1], buf, (size_t)n);
            total += n;
        }
        _exit(total == 100000 ? 0 : 1);
    }
    close(to_child[0]);
    close(to_parent[1]);
    char *msg = malloc(100000), *back = malloc(100001);
    for (int i = 0; i < 100000; i++)
        msg[i] = "abcdefghijklmnopqrstuvwxyz\n"[i % 27];
    size_t got = 0;
    for (size_t sent = 0; sent < 100000;) { /* interleaved: neither side's pipe fills for good */
        ssize_t n = write(to_child[1], msg + sent, 100000 - sent > 4096 ? 4096 : 100000 - sent);
        if (n > 0)
            sent += (size_t)n;
        ssize_t r = read(to_parent[0], back + got, 100000 - got);
        if (r > 0)
            got += (size_t)r;
    }
    close(to_child[1]); /* EOF for the child when the last writer goes */
    ssize_t r;
    while ((r = read(to_parent[0], back + got, 100000 - got)) > 0)
        got += (size_t)r;
    int same = got == 100000;
    for (size_t i = 0; same && i < got; i++)
        same = back[i] == (msg[i] >= 'a' && msg[i] <= 'z' ? msg[i] - 32 : msg[i]);
    printf("100000 bytes there and back, upper-cased: %s; then EOF\n", same ? "yes" : "no");
    printf("child %s\n", status_text(wait_for(pid)));
    /* a writer whose reader went: SIGPIPE */
    int p[2];
    pipe(p);
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        usleep(20000);
        write(p[1], "x", 1);
        _exit(0);
    }
    close(p[0]);
    close(p[1]);
    printf("writer to a pipe without readers: %s\n", status_text(wait_for(pid)));
    free(msg);
    free(back);
}

static void programs(const char *self)
{
    section("exec");
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, "procprobe", "child-exec", "one", "two", (char *)0);
        _exit(99);
    }
    printf("fork+exec: %s\n", status_text(wait_for(pid)));
    char *argv[] = {"procprobe", "child-exec", "spawned", NULL};
    if (posix_spawn(&pid, self, 0, 0, argv, environ) == 0)
        printf("posix_spawn: %s\n", status_text(wait_for(pid)));
    pid = vfork();
    if (pid == 0) {
        execl(self, "procprobe", "child-exec", "vforked", (char *)0);
        _exit(98);
    }
    printf("vfork+exec: %s\n", status_text(wait_for(pid)));
    pid = fork();
    if (pid == 0) {
        execl("/nonexistent/program", "x", (char *)0);
        _exit(errno == ENOENT ? 3 : 4);
    }
    printf("exec of a missing file: %s (ENOENT)\n", status_text(wait_for(pid)));
    int fd = open(self, O_RDONLY);
    int keep = dup(fd), drop = dup(fd);
    fcntl(drop, F_SETFD, FD_CLOEXEC);
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", keep);
    snprintf(b, sizeof b, "%d", drop);
    pid = fork();
    if (pid == 0) {
        execl(self, "procprobe", "child-fds", a, b, (char *)0);
        _exit(97);
    }
    printf("descriptors across exec: %s\n", status_text(wait_for(pid)));
    close(fd);
    close(keep);
    close(drop);
    /* a #! script: the interpreter gets the script's path, then the arguments */
    char script[64];
    snprintf(script, sizeof script, "/tmp/procprobe-script-%d", (int)getpid());
    FILE *f = fopen(script, "w");
    fprintf(f, "#!%s child-script\nnot read\n", self);
    fclose(f);
    chmod(script, 0755);
    pid = fork();
    if (pid == 0) {
        execl(script, script, "arg", (char *)0);
        _exit(96);
    }
    printf("#! script: %s\n", status_text(wait_for(pid)));
    unlink(script);
}

static void many(void)
{
    section("many children");
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(i % 200);
        int st = wait_for(pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != i % 200)
            bad++;
    }
    printf("1000 children, one at a time: %d wrong statuses\n", bad);
    pid_t pids[20];
    for (int i = 0; i < 20; i++)
        if ((pids[i] = fork()) == 0) {
            usleep((useconds_t)(20 - i) * 1000);
            _exit(i);
        }
    int seen = 0, sum = 0, st;
    pid_t w;
    while ((w = wait(&st)) > 0) {
        seen++;
        sum += WEXITSTATUS(st);
    }
    printf("20 at once, collected by wait(-1): %d, exit codes sum %d, then %s\n", seen, sum,
           errno == ECHILD ? "ECHILD" : "?");
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        _exit(5);
    }
    printf("WNOHANG before it ends: %d\n", waitpid(pid, &st, WNOHANG));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
    printf("waitid WNOWAIT: CLD_EXITED %d status %d\n", si.si_code == CLD_EXITED, si.si_status);
    printf("then waitpid: %s\n", status_text(wait_for(pid)));
}

static void signals(void)
{
    section("signals between processes");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, 0);
    signal(SIGUSR1, on_usr1);
    pid_t pid = fork();
    if (pid == 0) {
        kill(getppid(), SIGUSR1);
        _exit(4);
    }
    int st = wait_for(pid);
    printf("child %s; SIGUSR1 from it: %d; SIGCHLD %d (CLD_EXITED %d, status %d)\n", status_text(st),
           (int)usr1_from_child, (int)chld_count, chld_code == CLD_EXITED, chld_status);
    int go[2];
    pipe(go);
    pid = fork();
    if (pid == 0) {
        close(go[1]);
        char c;
        read(go[0], &c, 1); /* blocks until killed */
        _exit(0);
    }
    close(go[0]);
    usleep(20000);
    kill(pid, SIGTERM);
    st = wait_for(pid);
    close(go[1]);
    printf("child blocked in read, sent SIGTERM: %s; SIGCHLD CLD_KILLED %d\n", status_text(st),
           chld_code == CLD_KILLED);
    pid = fork();
    if (pid == 0) {
        struct sigaction h;
        memset(&h, 0, sizeof h);
        h.sa_handler = on_usr1;
        sigaction(SIGUSR2, &h, 0);
        pause();
        _exit(usr1_from_child ? 6 : 7);
    }
    usleep(20000);
    kill(pid, SIGUSR2);
    printf("child in pause, handled SIGUSR2: %s\n", status_text(wait_for(pid)));
    printf("kill of a reaped pid: %s\n", kill(pid, 0) ? strerror(errno) : "ok");
    /* prctl(PR_SET_PDEATHSIG): a grandchild hears of its parent's end */
    int pd[2];
    pipe(pd);
    pid = fork();
    if (pid == 0) {
        pid_t gc = fork();
        if (gc == 0) {
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGUSR1);
            sigprocmask(SIG_BLOCK, &set, 0);
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            write(pd[1], "r", 1);
            int sig = 0;
            sigwait(&set, &sig);
            write(pd[1], sig == SIGUSR1 ? "y" : "n", 1);
            _exit(0);
        }
        char c;
        read(pd[0], &c, 1); /* the grandchild is set up: end */
        _exit(0);
    }
    wait_for(pid);
    char heard = 0;
    read(pd[0], &heard, 1);
    printf("PR_SET_PDEATHSIG: the orphaned grandchild got its signal: %c\n", heard);
    signal(SIGCHLD, SIG_IGN);
    pid = fork();
    if (pid == 0)
        _exit(0);
    usleep(20000);
    printf("SIGCHLD ignored: waitpid %s\n", waitpid(pid, &st, 0) < 0 && errno == ECHILD ? "ECHILD (reaped)" : "?");
    signal(SIGCHLD, SIG_DFL);
}

static void groups(void)
{
    section("groups and sessions");
    pid_t pid = fork();
    if (pid == 0) {
        int was_leader = getpgrp() == getpid();
        pid_t sid = setsid();
        int sid_ok = sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid();
        int again = setsid() < 0 && errno == EPERM;
        int pg = setpgid(0, 0) < 0 ? errno : 0; /* a session leader: its group stays */
        pid_t grandchild = fork();
        if (grandchild == 0) {
            int rc = setpgid(0, 0);
            _exit(rc == 0 && getpgrp() == getpid() && getsid(0) == getppid() ? 0 : 1);
        }
        int st;
        waitpid(grandchild, &st, 0);
        printf("child: group leader at start %d, setsid %s, again %s, setpgid as session leader %s, "
               "a grandchild's own group in the session: %s\n",
               was_leader, sid_ok ? "ok" : "wrong", again ? "EPERM" : "?", pg == EPERM ? "EPERM" : "?",
               WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "wrong");
        fflush(stdout);
        _exit(0);
    }
    wait_for(pid);
    int go[2];
    pipe(go);
    pid_t kids[3];
    for (int i = 0; i < 3; i++)
        if ((kids[i] = fork()) == 0) {
            char c;
            close(go[1]);
            setpgid(0, i == 0 ? 0 : kids[0]);
            read(go[0], &c, 1);
            _exit(0);
        } else {
            setpgid(kids[i], kids[0]);
        }
    close(go[0]);
    usleep(20000);
    printf("kill(-group, SIGKILL): %d\n", kill(-kids[0], SIGKILL));
    int killed = 0;
    for (int i = 0; i < 3; i++) {
        int st = wait_for(kids[i]);
        killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    }
    close(go[1]);
    printf("killed in the group: %d of 3\n", killed);
    printf("setpgid of a reaped child: %s\n", setpgid(kids[1], kids[1]) < 0 ? strerror(errno) : "ok");
}

static int child_mode(int argc, char **argv)
{
    if (!strcmp(argv[1], "child-exec"))
        return argc; /* exit status: how many arguments arrived */
    if (!strcmp(argv[1], "child-fds")) { /* exit 0: the kept one is open, the O_CLOEXEC one is not */
        int keep = atoi(argv[2]), drop = atoi(argv[3]);
        return (fcntl(keep, F_GETFD) >= 0 ? 0 : 1) | (fcntl(drop, F_GETFD) < 0 && errno == EBADF ? 0 : 2);
    }
    if (!strcmp(argv[1], "child-script")) /* argv: interp, its argument, the script, "arg" */
        return argc == 4 && !strncmp(argv[2], "/tmp/procprobe-script-", 22) && !strcmp(argv[3], "arg") ? 42 : 1;
    return 100;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return child_mode(argc, argv);
    setvbuf(stdout, 0, _IOLBF, 0);
    char self[256];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    section("procprobe");
    memory();
    pipes();
    programs(self);
    many();
    signals();
    groups();
    section("done");
    return 0;
}
