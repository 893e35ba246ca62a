/* Test program for test_host_signals.py: prints "ready", then waits for
 * SIGTERM. `sigterm` keeps the default action (the signal ends it: 143);
 * `sigterm handle` shuts down gracefully in a handler (exit status 3);
 * `sigterm ignore` ignores it (only --stop-timeout ends the run). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_term(int sig, siginfo_t *si, void *uc)
{
    got = sig;
    (void)uc;
    if (si->si_code != SI_USER || si->si_pid != 0) /* from outside the guest, as docker kill sends it */
        got = -1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "default";
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
