/* Dies of a core-dumping signal for tests/integration/test_coredump.py:
 * "thread" dereferences NULL in a second thread (the faulting line is
 * marked), "abort" calls abort() in the main thread, "addr" writes to the
 * unmapped address 0x1238. "corebit" stays alive: its children die of
 * signals under RLIMIT_CORE 0 and then 1 MiB, and it prints what waitid
 * and wait4 say of each (the core bit). "limit N": a child with
 * RLIMIT_CORE N touches 300 000 bytes and aborts; its core bit is printed
 * (the core itself is the host's to measure). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void child_dies(const char *how)
{
    if (!strcmp(how, "segv"))
        *(volatile int *)0x1238 = 1; /* a real fault */
    else if (!strcmp(how, "trap"))
        __builtin_trap(); /* x86_64: ud2, SIGILL; arm64: brk, SIGTRAP */
    else if (!strcmp(how, "abort"))
        abort();
    else
        kill(getpid(), atoi(how));
    _exit(0);
}

static int corebit(void)
{
    const char *hows[] = {"segv", "trap", "abort", "3" /* SIGQUIT */, "4" /* SIGILL */, "7" /* SIGBUS */,
                          "8" /* SIGFPE */, "31" /* SIGSYS */, "15" /* SIGTERM */, "9" /* SIGKILL */,
                          "10" /* SIGUSR1 */};
    const rlim_t limits[] = {0, 1 << 20};
    for (unsigned l = 0; l < 2; l++) {
        struct rlimit rl;
        getrlimit(RLIMIT_CORE, &rl);
        rl.rlim_cur = limits[l];
        if (setrlimit(RLIMIT_CORE, &rl)) {
            perror("setrlimit");
            return 1;
        }
        getrlimit(RLIMIT_CORE, &rl);
        for (unsigned i = 0; i < sizeof hows / sizeof *hows; i++) {
            pid_t pid = fork();
            if (pid == 0)
                child_dies(hows[i]);
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT)) {
                perror("waitid");
                return 1;
            }
            int status;
            if (waitpid(pid, &status, 0) != pid) {
                perror("waitpid");
                return 1;
            }
            printf("limit=%lu %s: signaled=%d sig=%d core=%d waitid code=%s status=%d\n", (unsigned long)rl.rlim_cur,
                   hows[i], WIFSIGNALED(status), WTERMSIG(status), WCOREDUMP(status) ? 1 : 0,
                   si.si_code == CLD_DUMPED ? "CLD_DUMPED" : si.si_code == CLD_KILLED ? "CLD_KILLED" : "other",
                   si.si_status);
        }
    }
    return 0;
}

static int limited(const char *limit)
{
    struct rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = strtoul(limit, 0, 0);
    rl.rlim_max = RLIM_INFINITY;
    if (setrlimit(RLIMIT_CORE, &rl)) {
        perror("setrlimit");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char *m = malloc(300000);
        memset(m, 1, 300000);
        abort();
    }
    int status;
    waitpid(pid, &status, 0);
    printf("limit=%s: signaled=%d sig=%d core=%d\n", limit, WIFSIGNALED(status), WTERMSIG(status),
           WCOREDUMP(status) ? 1 : 0);
    return 0;
}

static int *volatile nothing;

static int deepest(int x)
{
    return *nothing + x; /* FAULT HERE */
}

static int deeper(int x) { return deepest(x + 1) * 2; }

static void *crasher(void *arg)
{
    int mark = 4242;
    return (void *)(long)deeper(mark + (int)(long)arg);
}

int main(int argc, char **argv)
{
    int local = 7;
    printf("pid %s, %s\n", getpid() == 1 ? "1" : "other", argc > 1 ? argv[1] : "-");
    fflush(stdout);
    if (argc > 1 && !strcmp(argv[1], "abort"))
        abort();
    if (argc > 1 && !strcmp(argv[1], "addr"))
        *(volatile int *)0x1238 = local; /* SIGSEGV, SEGV_MAPERR at 0x1238 */
    if (argc > 1 && !strcmp(argv[1], "corebit"))
        return corebit();
    if (argc > 2 && !strcmp(argv[1], "limit"))
        return limited(argv[2]);
    pthread_t t;
    pthread_create(&t, 0, crasher, (void *)(long)local);
    pthread_join(t, 0);
    return 0;
}
