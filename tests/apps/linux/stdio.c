/* Standard-stream probe: the same static binary runs on the host and in the
 * guest (tests/integration/test_stdio.py) and the outputs are compared.
 *   cat          stdin to stdout, any bytes, 64 KiB reads
 *   streams N    N numbered lines alternating stdout/stderr, with NUL and
 *                \r inside, the last without a newline
 *   yes          "y\n" until stdout fails (SIGPIPE ends it, as `yes`)
 *   yes-ignore   the same with SIGPIPE ignored: prints the errno to stderr
 *   poll         poll(stdin, 0 ms) before input, says so, then poll/read
 *                until end of file: the bytes and the lines seen
 *   select       the same wait with select()
 *   tty          which fds are terminals, the window size, termios basics
 *   repl         "> " prompt, echoes each line back, "bye" at end of file */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

static void put(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k <= 0)
            exit(100 + errno);
        s += k;
        n -= (size_t)k;
    }
}

static void say(int fd, const char *s) { put(fd, s, strlen(s)); }

static int do_cat(void)
{
    static char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        put(1, buf, (size_t)n);
    return n < 0 ? 1 : 0;
}

static int do_streams(int n)
{
    char line[64];
    for (int i = 0; i < n; i++) {
        int fd = i % 3 == 2 ? 2 : 1;
        int len = snprintf(line, sizeof line, "%s %d:\r\x01", fd == 1 ? "out" : "err", i);
        line[len++] = 0; /* a NUL inside */
        if (i < n - 1)
            line[len++] = '\n';
        put(fd, line, (size_t)len);
    }
    return 0;
}

static int do_yes(int ignore)
{
    static char buf[8192];
    for (size_t i = 0; i < sizeof buf; i += 2)
        buf[i] = 'y', buf[i + 1] = '\n';
    if (ignore)
        signal(SIGPIPE, SIG_IGN);
    for (;;) {
        ssize_t k = write(1, buf, sizeof buf);
        if (k < 0) {
            fprintf(stderr, "write: %s\n", strerror(errno));
            return 7;
        }
    }
}

static int do_wait(int use_select)
{
    struct pollfd p = {0, POLLIN, 0};
    int r = poll(&p, 1, 0);
    printf("before input: poll=%d\n", r);
    fflush(stdout);
    static char buf[4096];
    long bytes = 0, lines = 0, waits = 0;
    for (;;) {
        if (use_select) {
            fd_set rd;
            FD_ZERO(&rd);
            FD_SET(0, &rd);
            r = select(1, &rd, 0, 0, 0);
            if (r != 1 || !FD_ISSET(0, &rd))
                return 2;
        } else {
            p.revents = 0;
            r = poll(&p, 1, -1);
            if (r != 1 || !(p.revents & (POLLIN | POLLHUP)))
                return 2;
        }
        waits++;
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0)
            return 3;
        if (n == 0)
            break;
        bytes += n;
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    }
    printf("end of file: %ld bytes, %ld lines\n", bytes, lines);
    return 0;
}

static int do_tty(void)
{
    struct winsize ws = {0};
    struct termios t;
    printf("isatty %d %d %d\n", isatty(0), isatty(1), isatty(2));
    if (ioctl(1, TIOCGWINSZ, &ws) == 0)
        printf("winsize %d %d\n", ws.ws_row, ws.ws_col);
    else
        printf("winsize: %s\n", strerror(errno));
    if (tcgetattr(0, &t) == 0)
        printf("icanon %d echo %d isig %d\n", !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO), !!(t.c_lflag & ISIG));
    else
        printf("tcgetattr: %s\n", strerror(errno));
    return 0;
}

static int do_repl(void)
{
    char buf[512];
    for (;;) {
        say(1, "> ");
        ssize_t n = read(0, buf, sizeof buf - 1);
        if (n <= 0)
            break;
        buf[n] = 0;
        say(1, "got: ");
        put(1, buf, (size_t)n);
    }
    say(1, "bye\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "cat"))
        return do_cat();
    if (!strcmp(cmd, "streams"))
        return do_streams(argc > 2 ? atoi(argv[2]) : 100);
    if (!strcmp(cmd, "yes"))
        return do_yes(0);
    if (!strcmp(cmd, "yes-ignore"))
        return do_yes(1);
    if (!strcmp(cmd, "poll"))
        return do_wait(0);
    if (!strcmp(cmd, "select"))
        return do_wait(1);
    if (!strcmp(cmd, "tty"))
        return do_tty();
    if (!strcmp(cmd, "repl"))
        return do_repl();
    fprintf(stderr, "usage: stdio cat|streams N|yes|yes-ignore|poll|select|tty|repl\n");
    return 64;
}
