/* Job control as a program sees it, for tests/integration/test_signals.py
 * (the guest's output must be the host's): SIGSTOP and SIGCONT, wait's
 * WUNTRACED/WCONTINUED and waitid's WSTOPPED/WCONTINUED, SIGCHLD's
 * CLD_STOPPED/CLD_CONTINUED (and SA_NOCLDSTOP), a stopped process that
 * does not run (every thread of it), SIGKILL of a stopped process,
 * SIGTSTP in an orphaned process group (discarded) and in one that is not
 * (stops), stop signals with a handler or ignored, and a pending stop
 * signal dropped by SIGCONT. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int chld_code, chld_status, chld_count;
static void on_chld(int sig, siginfo_t *si, void *uc)
{
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_count++;
}
static const char *code_name(int c)
{
    return c == CLD_STOPPED ? "CLD_STOPPED" : c == CLD_CONTINUED ? "CLD_CONTINUED" : c == CLD_EXITED ? "CLD_EXITED"
         : c == CLD_KILLED ? "CLD_KILLED" : "other";
}
static void ms(int n) { usleep(n * 1000); }
static void status(const char *what, int st)
{
    if (WIFSTOPPED(st))
        printf("%s: stopped by %s\n", what, strsignal(WSTOPSIG(st)));
    else if (WIFCONTINUED(st))
        printf("%s: continued\n", what);
    else if (WIFSIGNALED(st))
        printf("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
    else
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
}
static void chld_seen(const char *what)
{
    for (int i = 0; i < 200 && !chld_count; i++)
        ms(5);
    printf("%s: SIGCHLD %s status %d\n", what, chld_count ? code_name(chld_code) : "none", chld_count ? chld_status : 0);
    chld_count = 0;
}

static volatile unsigned long *counters; /* shared with the children */
static void *count_thread(void *arg)
{
    for (;;)
        counters[(long)arg]++;
    return 0;
}

/* A child that counts (two threads) until killed */
static pid_t counting_child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t;
        pthread_create(&t, 0, count_thread, (void *)1);
        count_thread((void *)0);
    }
    while (!counters[0] || !counters[1])
        ms(1);
    return pid;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    counters = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa = {0};
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, 0);
    int st;

    /* 1: a child stops itself, is continued, exits (when told: its end
     * would hide its continue from a later wait) */
    int go[2], ready[2];
    pipe(go);
    pipe(ready);
    char c;
    pid_t pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGSTOP);
        read(go[0], &c, 1);
        _exit(7);
    }
    printf("waitpid WUNTRACED: %s\n", waitpid(pid, &st, WUNTRACED) == pid ? "the child" : "other");
    status("  status", st);
    chld_seen("  stop");
    printf("waitpid WUNTRACED again, WNOHANG: %d\n", waitpid(pid, &st, WUNTRACED | WNOHANG));
    kill(pid, SIGCONT);
    chld_seen("  continue");
    pid_t w = waitpid(pid, &st, WCONTINUED);
    printf("waitpid WCONTINUED: %s\n", w == pid && WIFCONTINUED(st) ? "continued" : "did not report it");
    write(go[1], "x", 1);
    w = waitpid(pid, &st, 0);
    status("  the end", st);
    chld_seen("  exit");

    /* 2: a stopped process does not run, none of its threads; waitid */
    pid = counting_child();
    kill(pid, SIGSTOP);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc = waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT);
    printf("waitid WSTOPPED|WNOWAIT: %d, %s, status %s\n", rc, code_name(si.si_code), strsignal(si.si_status));
    memset(&si, 0, sizeof si);
    waitid(P_PID, pid, &si, WSTOPPED);
    printf("waitid WSTOPPED again (WNOWAIT kept it): %s, pid is the child: %s\n", code_name(si.si_code),
           si.si_pid == pid ? "yes" : "no");
    chld_seen("  stop");
    ms(20); /* the other thread is stopped too by now */
    unsigned long a0 = counters[0], a1 = counters[1];
    ms(150);
    printf("stopped: its threads counted meanwhile: %s\n", counters[0] != a0 || counters[1] != a1 ? "yes" : "no");
    kill(pid, SIGCONT);
    memset(&si, 0, sizeof si);
    waitid(P_PID, pid, &si, WCONTINUED);
    printf("waitid WCONTINUED: %s, status %s\n", code_name(si.si_code), strsignal(si.si_status));
    chld_seen("  continue");
    a0 = counters[0], a1 = counters[1];
    ms(150);
    printf("continued: both threads count: %s\n", counters[0] != a0 && counters[1] != a1 ? "yes" : "no");
    kill(pid, SIGSTOP);
    waitpid(pid, &st, WUNTRACED);
    chld_count = 0;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    status("SIGKILL while stopped", st);
    chld_seen("  kill");

    /* 3: SA_NOCLDSTOP: no SIGCHLD for stops, wait still sees them */
    sa.sa_flags |= SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, 0);
    pid = counting_child();
    kill(pid, SIGSTOP);
    waitpid(pid, &st, WUNTRACED);
    status("SA_NOCLDSTOP: waitpid WUNTRACED", st);
    chld_seen("  stop");
    kill(pid, SIGCONT);
    chld_seen("  continue");
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    chld_count = 0;
    sa.sa_flags &= ~SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, 0);

    /* 4: SIGTSTP at its default action: stops in a group with a parent
     * outside it, is discarded in an orphaned one (a new session) */
    for (int orphaned = 0; orphaned < 2; orphaned++) {
        pid = fork();
        if (pid == 0) {
            if (orphaned)
                setsid();
            else
                setpgid(0, 0);
            raise(SIGTSTP);
            _exit(3);
        }
        w = waitpid(pid, &st, WUNTRACED);
        status(orphaned ? "SIGTSTP in an orphaned group" : "SIGTSTP in its own group", st);
        if (WIFSTOPPED(st)) {
            kill(pid, SIGCONT);
            waitpid(pid, &st, 0);
            status("  then", st);
        }
        chld_count = 0;
    }

    /* 5: a stop signal with a handler or ignored does not stop; SIGCONT's handler runs */
    pid = fork();
    if (pid == 0) {
        signal(SIGTSTP, SIG_IGN);
        raise(SIGTSTP);
        struct sigaction h = {0};
        h.sa_handler = (void (*)(int))on_chld; /* any handler */
        sigaction(SIGTTIN, &h, 0);
        setpgid(0, 0);
        raise(SIGTTIN);
        _exit(4);
    }
    waitpid(pid, &st, WUNTRACED);
    status("SIGTSTP ignored, SIGTTIN handled", st);
    chld_count = 0;

    /* 6: SIGCONT drops a pending stop signal */
    pid = fork();
    if (pid == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTSTP);
        sigprocmask(SIG_BLOCK, &set, 0);
        setpgid(0, 0);
        write(ready[1], "r", 1);
        read(go[0], &c, 1);
        sigpending(&set);
        printf("  SIGTSTP still pending after SIGCONT: %s\n", sigismember(&set, SIGTSTP) ? "yes" : "no");
        _exit(5);
    }
    read(ready[0], &c, 1);
    kill(pid, SIGTSTP);
    kill(pid, SIGCONT);
    write(go[1], "g", 1);
    waitpid(pid, &st, WUNTRACED);
    status("a blocked SIGTSTP, then SIGCONT", st);
    printf("done\n");
    return 0;
}
