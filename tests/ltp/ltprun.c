/*
 * ltprun: run Linux Test Project tests one after another, the same way on
 * the host and in a hermitcore guest (tests/integration/test_ltp.py).
 *
 *     ltprun [-t SECONDS] [-s SKIP] [-q] BINDIR LIST
 *
 * LIST has one test a line, as LTP's runtest files: "NAME COMMAND ARGS...";
 * COMMAND is looked up in BINDIR.  Each test runs in a child of its own
 * (fork, then execve), in its own process group, with its stdout and stderr
 * in a log file, and is killed (the whole group, SIGKILL) when it runs over
 * its time limit (-t, default 120 s); -s skips the list's first SKIP tests.
 * For each test ltprun prints the test's output, each line
 * prefixed with "NAME| " (not with -q), then one summary line:
 *
 *     NAME exit=N TPASS=N TFAIL=N TBROK=N TCONF=N TWARN=N secs=S.SS
 *
 * where exit is the test's exit status, "sig<N>" when a signal ended it, or
 * "timeout".  The counts come from LTP's result lines: new-API tests print
 * "file.c:12: TPASS: ...", old ones "fork01    1  TPASS  :  ...".  The last
 * line is "ltprun done N".  Orphans are reaped too: in the guest, ltprun is
 * process 1, and at the end it names the processes the tests left behind
 * ("ltprun: left behind: ..." from /proc/PID/stat) and kills them all.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

enum { PASS, FAIL, BROK, CONF, WARN, NKINDS };
static const char *const KIND[NKINDS] = {"TPASS", "TFAIL", "TBROK", "TCONF", "TWARN"};

/* Which LTP result a line reports, or -1: "TPASS:" (new API) or a
 * whitespace-separated "TPASS" word followed by " :" (old API). */
static int kind_of(const char *line)
{
    for (int k = 0; k < NKINDS; k++) {
        const char *p = line;
        size_t n = strlen(KIND[k]);
        while ((p = strstr(p, KIND[k])) != NULL) {
            int word_start = p == line || p[-1] == ' ' || p[-1] == '\t';
            const char *q = p + n;
            if (word_start && *q == ':')
                return k;
            if (word_start && (*q == ' ' || *q == '\t')) {
                while (*q == ' ' || *q == '\t')
                    q++;
                if (*q == ':')
                    return k;
            }
            p = q;
        }
    }
    return -1;
}

static char *split_args(char *line, char **argv, int max)
{
    int n = 0;
    for (char *tok = strtok(line, " \t\n"); tok && n < max - 1; tok = strtok(NULL, " \t\n"))
        argv[n++] = tok;
    argv[n] = NULL;
    return n ? argv[0] : NULL;
}

static void run_one(const char *bindir, char *name, char **argv, double limit, int quiet, const char *logpath)
{
    char path[4096];
    int counts[NKINDS] = {0};
    char status[32];
    double start = now();

    snprintf(path, sizeof path, "%s/%s", bindir, argv[0]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("%s exit=forkfailed:%s TPASS=0 TFAIL=0 TBROK=1 TCONF=0 TWARN=0 secs=0\n", name, strerror(errno));
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2)
                close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0 && devnull != 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        for (int s = 1; s < NSIG; s++)
            signal(s, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, environ);
        fprintf(stderr, "ltprun: execve %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);

    int ws = 0, done = 0, timed_out = 0;
    long nap = 1;
    while (!done) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid) {
            done = 1;
            break;
        }
        if (r < 0 && errno != EINTR) {
            snprintf(status, sizeof status, "waitpid:%d", errno);
            ws = -1;
            break;
        }
        if (now() - start > limit) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        pause_ms(nap);
        if (nap < 50)
            nap *= 2;
    }
    /* whatever the test left behind in its group */
    kill(-pid, SIGKILL);
    reap_orphans();
    double secs = now() - start;

    if (timed_out)
        snprintf(status, sizeof status, "timeout");
    else if (done && WIFEXITED(ws))
        snprintf(status, sizeof status, "%d", WEXITSTATUS(ws));
    else if (done && WIFSIGNALED(ws))
        snprintf(status, sizeof status, "sig%d", WTERMSIG(ws));
    else if (done)
        snprintf(status, sizeof status, "status%#x", ws);

    FILE *log = fopen(logpath, "r");
    if (log) {
        char line[4096];
        while (fgets(line, sizeof line, log)) {
            size_t n = strlen(line);
            int k = kind_of(line);
            if (k >= 0)
                counts[k]++;
            if (!quiet)
                printf("%s| %s%s", name, line, n && line[n - 1] == '\n' ? "" : "\n");
        }
        fclose(log);
    }
    printf("%s exit=%s TPASS=%d TFAIL=%d TBROK=%d TCONF=%d TWARN=%d secs=%.2f\n", name, status, counts[PASS],
           counts[FAIL], counts[BROK], counts[CONF], counts[WARN], secs);
    fflush(stdout);
}

/* As process 1: name what the tests left running (before the last line),
 * then end it all (after). */
static void list_leftovers(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == getpid())
            continue;
        char path[300], stat[256] = "";
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(stat, sizeof stat, f))
                stat[0] = 0;
            fclose(f);
        }
        stat[strcspn(stat, "\n")] = 0;
        printf("ltprun: left behind: %s\n", stat[0] ? stat : e->d_name);
    }
    if (d)
        closedir(d);
}

static void kill_leftovers(void)
{
    kill(-1, SIGKILL);
    for (int i = 0; i < 100; i++) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD)
            break;
        if (r <= 0)
            pause_ms(20);
    }
}

int main(int argc, char **argv)
{
    double limit = 120;
    int quiet = 0, skip = 0, opt;
    while ((opt = getopt(argc, argv, "t:s:q")) != -1) {
        if (opt == 't')
            limit = atof(optarg);
        else if (opt == 's')
            skip = atoi(optarg);
        else if (opt == 'q')
            quiet = 1;
        else {
            fprintf(stderr, "usage: ltprun [-t SECONDS] [-s SKIP] [-q] BINDIR LIST\n");
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: ltprun [-t SECONDS] [-s SKIP] [-q] BINDIR LIST\n");
        return 2;
    }
    const char *bindir = argv[optind];
    FILE *list = fopen(argv[optind + 1], "r");
    if (!list) {
        fprintf(stderr, "ltprun: %s: %s\n", argv[optind + 1], strerror(errno));
        return 2;
    }
    /* the tests' environment: the caller's, and LTP's usual variables */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        setenv("TMPDIR", "/tmp", 1);
    char buf[8192];
    const char *path = getenv("PATH");
    snprintf(buf, sizeof buf, "%s:%s", bindir, path && *path ? path : "/bin:/usr/bin");
    setenv("PATH", buf, 1);
    if (!getenv("LTPROOT")) {
        snprintf(buf, sizeof buf, "%s/../..", bindir);
        setenv("LTPROOT", buf, 1);
    }
    char logpath[4096];
    snprintf(logpath, sizeof logpath, "%s/ltprun-%d.log", getenv("TMPDIR"), (int)getpid());
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int ran = 0, seen = 0;
    char line[4096];
    while (fgets(line, sizeof line, list)) {
        char *args[64];
        if (line[0] == '#')
            continue;
        if (!split_args(line, args, 64) || !args[1])
            continue;
        if (seen++ < skip)
            continue;
        run_one(bindir, args[0], args + 1, limit, quiet, logpath);
        ran++;
    }
    fclose(list);
    unlink(logpath);
    if (getpid() == 1)
        list_leftovers();
    printf("ltprun done %d\n", ran);
    fflush(stdout);
    if (getpid() == 1)
        kill_leftovers();
    return 0;
}
