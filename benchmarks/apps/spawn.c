/* Exec-to-exit latency of programs (the `dynamic` metric): posix_spawn +
 * waitpid of each program given, once to warm up and then N times, their
 * output to /dev/null; prints LABEL_us=AVERAGE for each. Static itself, so
 * the same binary measures hermitcore, the Linux guest and the host.
 *
 *     spawn N LABEL PROG [ARG...] -- LABEL PROG [ARG...] -- ... */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int once(char **argv)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, 0, argv, environ), status = 0;
    posix_spawn_file_actions_destroy(&fa);
    if (rc || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "spawn: %s failed (error %d, status %#x)\n", argv[0], rc, status);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: spawn N LABEL PROG [ARG...] [-- LABEL PROG ...]\n");
        return 2;
    }
    if (access("/dev/null", W_OK)) { /* /init of the Linux guest's bare initramfs: /dev first */
        mkdir("/dev", 0755);
        mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
    }
    int n = atoi(argv[1]);
    for (int i = 2; i < argc;) {
        const char *label = argv[i++];
        int end = i;
        while (end < argc && strcmp(argv[end], "--"))
            end++;
        argv[end] = 0; /* this program's argv ends here */
        if (once(&argv[i]))
            return 1;
        double t0 = now_us();
        for (int k = 0; k < n; k++)
            if (once(&argv[i]))
                return 1;
        printf("%s_us=%.0f\n", label, (now_us() - t0) / n);
        i = end + 1;
    }
    return 0;
}
