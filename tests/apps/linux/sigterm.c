/* Test program for test_host_signals.py: prints "ready", then waits for
 * SIGTERM. `sigterm` keeps the default action (the signal ends it: 143);
 * `sigterm handle` shuts down gracefully in a handler (exit status 3);
 * `sigterm ignore` ignores it (only --stop-timeout ends the run).
 * `sigterm stop` stops itself (SIGSTOP) after "ready", `sigterm
 * stop-by-child` is stopped by a child's kill(getppid(), SIGSTOP): the
 * host's SIGCONT resumes it; it says what its SIGCONT handler saw. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_term(int sig, siginfo_t *si, void *uc)
{
    got = sig;
    (void)uc;
    if (si->si_code != SI_USER || si->si_pid != 0) /* from outside the guest, as docker kill sends it */
        got = -1;
}

static volatile sig_atomic_t conts, cont_code, cont_pid;

static void on_cont(int sig, siginfo_t *si, void *uc)
{
    conts++;
    cont_code = si->si_code;
    cont_pid = si->si_pid;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Stopped by SIGSTOP (its own or a child's) until SIGCONT comes from outside. */
static int stopped(int by_child)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_cont;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCONT, &sa, 0);
    printf("ready\n");
    fflush(stdout);
    double t0 = now();
    pid_t child = 0;
    if (by_child) {
        child = fork();
        if (child == 0) {
            kill(getppid(), SIGSTOP);
            _exit(0);
        }
        while (!conts) /* stopped in here until the SIGCONT */
            pause();
    } else {
        raise(SIGSTOP);
    }
    double t1 = now();
    int status = 0;
    if (child)
        waitpid(child, &status, 0);
    printf("resumed after %s: stopped for a second or more: %s; SIGCONT handler: %s, si_code %s, from %s\n",
           by_child ? "a child's SIGSTOP" : "raise(SIGSTOP)", t1 - t0 >= 1.0 ? "yes" : "no",
           conts ? "ran" : "did not run", cont_code == SI_USER ? "SI_USER" : "other",
           cont_pid != getpid() && (!child || cont_pid != child) ? "outside" : "inside");
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "default";
    if (!strcmp(mode, "stop") || !strcmp(mode, "stop-by-child"))
        return stopped(!strcmp(mode, "stop-by-child"));
    if (!strcmp(mode, "handle")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_term;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGTERM, &sa, 0);
    } else if (!strcmp(mode, "ignore")) {
        signal(SIGTERM, SIG_IGN);
    }
    printf("ready\n");
    fflush(stdout);
    while (!got)
        pause();
    printf(got > 0 ? "graceful shutdown after signal %d from the host\n" : "signal %d with the wrong siginfo\n", got);
    return 3;
}
