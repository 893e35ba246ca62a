/* The `stdio` benchmark's program (benchmarks/stdio.py): a cat-like pump
 * through the standard streams. Static; the same binary runs on the host,
 * in hermitcore and as /init of the Linux guest.
 *
 *   stdio out N   writes N bytes of the pattern 0, 1, ..., 250, 0, 1, ...
 *                 (NUL, \n, \r and high bytes; a prime period, so a lost or
 *                 repeated block shows) to fd 1 in 64 KiB write()s
 *   stdio in N    reads fd 0 until N bytes or EOF, prints "in BYTES NS" to
 *                 fd 2 (NS: CLOCK_MONOTONIC from the first byte read to the
 *                 last); exit status 0 when BYTES == N
 *
 *   stdio hvc MODULE.ko... out|in N
 *                 the Linux guest's /init first (no "--": Linux ends init's
 *                 arguments at a second one): loads the modules in order
 *                 (finit_module; Debian's cloud kernel builds virtio-mmio,
 *                 virtio-pci and virtio_console as modules), mounts devtmpfs,
 *                 waits for /dev/hvc0, puts it in raw mode (no echo, no
 *                 CR/NL translation, no signal or flow-control characters)
 *                 and makes it fds 0, 1 and 2. Before `in` it prints
 *                 "stdio: ready" to fd 2: the host sends nothing until then
 *                 (bytes arriving before raw mode would be echoed and
 *                 translated). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define PERIOD 251
static unsigned char buf[CHUNK + PERIOD];

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int hvc(char **mods, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = open(mods[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
            fprintf(stderr, "stdio: loading %s: %s\n", mods[i], strerror(errno));
            return -1;
        }
        close(fd);
    }
    mkdir("/dev", 0755);
    if (mount("devtmpfs", "/dev", "devtmpfs", 0, 0) != 0 && errno != EBUSY)
        perror("stdio: mount devtmpfs");
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 1000; tries++) { /* the port appears asynchronously: 10 s */
        fd = open("/dev/hvc0", O_RDWR | O_NOCTTY);
        if (fd < 0)
            nanosleep(&(struct timespec){0, 10000000}, 0);
    }
    struct termios t;
    if (fd < 0 || tcgetattr(fd, &t) != 0) {
        perror("stdio: /dev/hvc0");
        return -1;
    }
    cfmakeraw(&t);
    if (tcsetattr(fd, TCSANOW, &t) != 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
        perror("stdio: hvc0 raw");
        return -1;
    }
    return fd > 2 ? close(fd) : 0;
}

int main(int argc, char **argv)
{
    int init = argc > 1 && !strcmp(argv[1], "hvc");
    if (init) {
        int n = 0;
        while (2 + n < argc && strlen(argv[2 + n]) > 3 && !strcmp(argv[2 + n] + strlen(argv[2 + n]) - 3, ".ko"))
            n++;
        if (hvc(argv + 2, n) < 0)
            return 1;
        argv += 1 + n;
        argc -= 1 + n;
        if (argc == 3 && !strcmp(argv[1], "in"))
            dprintf(2, "stdio: ready\n");
    }
    if (argc != 3 || (strcmp(argv[1], "out") && strcmp(argv[1], "in"))) {
        fprintf(stderr, "usage: stdio [hvc MODULE.ko...] out|in BYTES\n");
        return 2;
    }
    long long n = atoll(argv[2]), done = 0, first = 0, last = 0;
    int rc = 0;
    if (argv[1][0] == 'o') {
        for (int i = 0; i < (int)sizeof buf; i++)
            buf[i] = (unsigned char)(i % PERIOD);
        while (done < n) { /* from buf + done % PERIOD: a short write keeps the pattern going */
            ssize_t w = write(1, buf + done % PERIOD, n - done < CHUNK ? n - done : CHUNK);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = 1;
                break;
            }
            done += w;
        }
    } else {
        while (done < n) {
            ssize_t r = read(0, buf, n - done < CHUNK ? n - done : CHUNK);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            if (!done)
                first = now_ns();
            done += r;
            last = now_ns();
        }
        dprintf(2, "in %lld %lld\n", done, last - first);
        rc = done != n;
    }
    if (init) /* what is still in the tty goes out before init's exit panics the kernel */
        tcdrain(1);
    return rc;
}
