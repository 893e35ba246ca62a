/* Test program for test_oci.py: what a container's process sees.
 *   ocitool show             argv, the working directory, $GREETING, CPUs, memory, whether stdio is a terminal; exit 3
 *   ocitool write PATH TEXT  writes TEXT + "\n" to PATH (a bind mount), prints what it read back
 *   ocitool cat PATH         prints the file
 *   ocitool count ARGS...    how many arguments and environment variables (and their bytes) arrived
 *   ocitool wait             prints "ready", waits for SIGTERM, shuts down gracefully (exit 0);
 *                            without a handler it would end with 143
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_term(int sig) { got = sig; }

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "show";
    if (!strcmp(mode, "show")) {
        char cwd[256];
        for (int i = 1; i < argc; i++)
            printf("arg %d: %s\n", i, argv[i]);
        printf("cwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
        printf("GREETING=%s\n", getenv("GREETING") ? getenv("GREETING") : "(unset)");
        struct sysinfo si;
        sysinfo(&si);
        printf("cpus: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
        printf("memory: %lu MiB\n", (unsigned long)(si.totalram * si.mem_unit >> 20));
        printf("terminal: %s\n", isatty(0) && isatty(1) ? "yes" : "no");
        return 3;
    }
    if (!strcmp(mode, "write") && argc == 4) {
        FILE *f = fopen(argv[2], "w");
        if (!f || fprintf(f, "%s\n", argv[3]) < 0 || fclose(f)) {
            perror(argv[2]);
            return 1;
        }
        char buf[256] = "";
        f = fopen(argv[2], "r");
        if (!f || !fgets(buf, sizeof buf, f)) {
            perror(argv[2]);
            return 1;
        }
        printf("read back: %s", buf);
        return 0;
    }
    if (!strcmp(mode, "count")) {
        extern char **environ;
        size_t n = 0, bytes = 0;
        for (char **e = environ; *e; e++, n++)
            bytes += strlen(*e);
        printf("argc %d, last %s, env %zu, %zu bytes\n", argc, argv[argc - 1], n, bytes);
        return 0;
    }
    if (!strcmp(mode, "cat") && argc == 3) {
        FILE *f = fopen(argv[2], "r");
        int c;
        if (!f) {
            perror(argv[2]);
            return 1;
        }
        while ((c = getc(f)) != EOF)
            putchar(c);
        return 0;
    }
    if (!strcmp(mode, "wait")) {
        signal(SIGTERM, on_term);
        printf("ready\n");
        fflush(stdout);
        while (!got)
            pause();
        printf("graceful shutdown after signal %d\n", got);
        return 0;
    }
    fprintf(stderr, "usage: ocitool show|write PATH TEXT|wait\n");
    return 2;
}
