/* The `fs` benchmark's program (benchmarks/fs.py): file-system operations
 * timed by the program itself. Static; the same binary runs in hermitcore
 * and as /init of the Linux guest.
 *
 *   fs NFILES MIB DIR...
 *       for each DIR, in order:
 *       small files: in DIR/fsbench-N (made first, N: the DIR's index; the
 *         program works in it, chdir'd, with relative names f00000...)
 *         creates NFILES files (open O_CREAT|O_WRONLY, write 100 bytes,
 *         close), then stats each (its size must be 100), then unlinks
 *         each: three phases, each timed as a whole;
 *       one big file: DIR/fsbench-N/big, MIB MiB in 1 MiB write()s, then
 *         fsync (timed apart), close; reopened and read back in 1 MiB
 *         read()s (every MiB's first 8 bytes are its index: checked),
 *         closed, unlinked (not timed); then the directory is removed.
 *       Prints one line per DIR on stdout:
 *         fs dir=DIR files=N create_ns=.. stat_ns=.. unlink_ns=.. bytes=B
 *           write_ns=.. fsync_ns=.. read_ns=.. create_ops_s=.. stat_ops_s=..
 *           unlink_ops_s=.. write_mb_s=.. read_mb_s=..
 *       (NS: CLOCK_MONOTONIC around the whole phase; write_mb_s counts the
 *       fsync: B / (write_ns + fsync_ns)), or on a failure
 *         fs dir=DIR error=STEP: strerror
 *       and goes on with the next DIR; exit status 0 when every DIR passed.
 *
 *   fs init MODULE.ko... NFILES MIB DIR...
 *       the Linux guest's /init first (no "--": Linux ends init's arguments
 *       at a second one): loads the modules in order (finit_module; Debian's
 *       kernel builds virtio-mmio, virtio-pci and 9P as modules), then per
 *       DIR: /tmp gets a fresh tmpfs, any other DIR the virtio-9p share
 *       whose mount tag is DIR itself (hermitcore run --mount's convention),
 *       mounted 9p2000.L over virtio with msize 512 KiB + 4 KiB, as hermitcore asks (Linux caps it at what its virtio transport takes); then as above. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SMALL 100
#define MIB (1 << 20)
#define P9_OPTIONS "trans=virtio,version=9p2000.L,msize=528384"

static char buf[MIB];

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int fail(const char *dir, const char *step, const char *name)
{
    printf("fs dir=%s error=%s%s%s: %s\n", dir, step, name ? " " : "", name ? name : "", strerror(errno));
    fflush(stdout);
    return -1;
}

static void name_of(char *name, int i)
{
    snprintf(name, 16, "f%05d", i);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* MiB, or -1 (errno set) on an error, -2 on short data */
static long long read_mib(int fd, long long index)
{
    size_t got = 0;
    while (got < MIB) {
        ssize_t r = read(fd, buf + got, MIB - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got == 0)
        return 0;
    long long at;
    memcpy(&at, buf, sizeof at);
    return got == MIB && at == index ? 1 : -2;
}

static int bench(const char *dir, int index, int nfiles, long long mib)
{
    char sub[4096], name[16];
    snprintf(sub, sizeof sub, "%s/fsbench-%d", dir, index);
    if (mkdir(sub, 0755) != 0 && errno != EEXIST)
        return fail(dir, "mkdir", sub);
    if (chdir(sub) != 0)
        return fail(dir, "chdir", sub);
    for (int i = 0; i < SMALL; i++)
        buf[i] = (char)('a' + i % 26);

    long long t0 = now_ns();
    for (int i = 0; i < nfiles; i++) {
        name_of(name, i);
        int fd = open(name, O_CREAT | O_WRONLY, 0644);
        if (fd < 0)
            return fail(dir, "create", name);
        if (write_all(fd, buf, SMALL) != 0)
            return fail(dir, "write", name);
        if (close(fd) != 0)
            return fail(dir, "close", name);
    }
    long long t1 = now_ns();
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        name_of(name, i);
        if (stat(name, &st) != 0)
            return fail(dir, "stat", name);
        if (st.st_size != SMALL || !S_ISREG(st.st_mode)) {
            errno = EIO;
            return fail(dir, "stat (not a regular file of 100 bytes)", name);
        }
    }
    long long t2 = now_ns();
    for (int i = 0; i < nfiles; i++) {
        name_of(name, i);
        if (unlink(name) != 0)
            return fail(dir, "unlink", name);
    }
    long long t3 = now_ns();

    memset(buf, 0x5a, sizeof buf);
    int fd = open("big", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return fail(dir, "create", "big");
    long long t4 = now_ns();
    for (long long i = 0; i < mib; i++) {
        memcpy(buf, &i, sizeof i);
        if (write_all(fd, buf, MIB) != 0)
            return fail(dir, "write", "big");
    }
    long long t5 = now_ns();
    if (fsync(fd) != 0)
        return fail(dir, "fsync", "big");
    long long t6 = now_ns();
    if (close(fd) != 0)
        return fail(dir, "close", "big");
    fd = open("big", O_RDONLY);
    if (fd < 0)
        return fail(dir, "open", "big");
    long long t7 = now_ns(), n = 0, r;
    while ((r = read_mib(fd, n)) == 1)
        n++;
    long long t8 = now_ns();
    if (r == -1)
        return fail(dir, "read", "big");
    if (r == -2 || n != mib) {
        errno = EIO;
        printf("fs dir=%s error=read back big: MiB %lld of %lld is not what was written\n", dir, n, mib);
        fflush(stdout);
        return -1;
    }
    close(fd);
    if (unlink("big") != 0)
        return fail(dir, "unlink", "big");
    if (chdir("/") != 0 || rmdir(sub) != 0)
        return fail(dir, "rmdir", sub);

    long long bytes = mib * MIB;
    double c = t1 - t0, s = t2 - t1, u = t3 - t2, w = t6 - t4, rd = t8 - t7;
    printf("fs dir=%s files=%d create_ns=%lld stat_ns=%lld unlink_ns=%lld bytes=%lld write_ns=%lld fsync_ns=%lld "
           "read_ns=%lld create_ops_s=%.0f stat_ops_s=%.0f unlink_ops_s=%.0f write_mb_s=%.1f read_mb_s=%.1f\n",
           dir, nfiles, t1 - t0, t2 - t1, t3 - t2, bytes, t5 - t4, t6 - t5, t8 - t7,
           c > 0 ? nfiles / c * 1e9 : 0, s > 0 ? nfiles / s * 1e9 : 0, u > 0 ? nfiles / u * 1e9 : 0,
           w > 0 ? bytes / w * 1e3 : 0, rd > 0 ? bytes / rd * 1e3 : 0);
    fflush(stdout);
    return 0;
}

/* /init: the modules, then a tmpfs on /tmp or the 9P share tagged DIR on DIR */
static int init(char **mods, int nmods, char **dirs, int ndirs)
{
    for (int i = 0; i < nmods; i++) {
        int fd = open(mods[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
            printf("fs: loading %s: %s\n", mods[i], strerror(errno));
            return -1;
        }
        close(fd);
    }
    for (int i = 0; i < ndirs; i++) {
        int p9 = strcmp(dirs[i], "/tmp") != 0, rc = -1;
        mkdir(dirs[i], 01777);
        /* the device may bind a moment after its module loaded: up to 10 s */
        for (int tries = 0; rc != 0 && tries < 1000; tries++) {
            rc = p9 ? mount(dirs[i], dirs[i], "9p", 0, P9_OPTIONS) : mount("tmpfs", dirs[i], "tmpfs", 0, "mode=1777");
            if (rc != 0 && (!p9 || errno != ENOENT))
                break;
            if (rc != 0)
                nanosleep(&(struct timespec){0, 10000000}, 0);
        }
        if (rc != 0) {
            printf("fs: mount %s %s: %s\n", p9 ? "9p" : "tmpfs", dirs[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int first = 1, nmods = 0;
    if (argc > 1 && !strcmp(argv[1], "init")) {
        while (2 + nmods < argc && strlen(argv[2 + nmods]) > 3 &&
               !strcmp(argv[2 + nmods] + strlen(argv[2 + nmods]) - 3, ".ko"))
            nmods++;
        first = 2 + nmods;
    }
    if (argc - first < 3 || atoi(argv[first]) <= 0 || atoll(argv[first + 1]) <= 0) {
        fprintf(stderr, "usage: fs [init MODULE.ko...] NFILES MIB DIR...\n");
        return 2;
    }
    int nfiles = atoi(argv[first]);
    long long mib = atoll(argv[first + 1]);
    char **dirs = argv + first + 2;
    int ndirs = argc - first - 2, rc = 0;
    if (first > 1 && init(argv + 2, nmods, dirs, ndirs) != 0)
        return 1;
    for (int i = 0; i < ndirs; i++)
        if (bench(dirs[i], i, nfiles, mib) != 0) {
            rc = 1;
            chdir("/");
        }
    return rc;
}
