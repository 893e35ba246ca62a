/* POSIX file semantics probe for hermitcore's VFS: the same static binary
 * runs on the host and in the guest, and tests/integration/test_vfs.py
 * compares the two outputs byte for byte.
 *
 *     fsprobe DIR SEED [DIR SEED ...]
 *
 * For each pair: DIR must not exist (the probe makes it, works inside it,
 * and removes it again); SEED is an existing directory holding the files
 * the test put there (a.txt, big.bin, sub/c.txt, link -> a.txt) -- in the
 * guest, part of the image's tree, /tmp or a --mount directory -- which the
 * probe reads, changes and lists ("-": none). Each pair's output starts
 * with "== fsprobe", so the test can split a guest run over several
 * directories into the host runs of each.
 *
 * Every line is "check: result", with errno names (not strerror, not
 * numbers) for failures, and only what Linux gives alike on ext4, tmpfs
 * and a 9P host directory: no inode or device numbers, no times but those
 * set explicitly, no owners, no directory sizes or link counts (btrfs), no
 * st_blocks but "none" for a sparse file and "enough" for a written one.
 * Paths under DIR print as "$D/...". The umask is set to 022 first. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static char D[PATH_MAX]; /* the directory worked in, canonical */

static const char *ename(int e)
{
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case ENOEXEC: return "ENOEXEC";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN"; /* = EWOULDBLOCK */
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ETXTBSY: return "ETXTBSY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case EPIPE: return "EPIPE";
    case ERANGE: return "ERANGE";
    case EDEADLK: return "EDEADLK";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOLCK: return "ENOLCK";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case EOVERFLOW: return "EOVERFLOW";
    case EBADFD: return "EBADFD";
    case ENOTSOCK: return "ENOTSOCK";
    case EOPNOTSUPP: return "EOPNOTSUPP"; /* = ENOTSUP */
    case ESTALE: return "ESTALE";
    case EDQUOT: return "EDQUOT";
    }
    static char buf[24];
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* "$D/rel" in one of a few rotating buffers */
static const char *P(const char *rel)
{
    static char bufs[6][2 * PATH_MAX];
    static int i;
    char *b = bufs[i++ % 6];
    snprintf(b, 2 * PATH_MAX, "%s/%s", D, rel);
    return b;
}

/* an absolute path with the directory shown as $D */
static const char *shown(const char *abs)
{
    static char buf[PATH_MAX + 8];
    size_t n = strlen(D);
    if (!strncmp(abs, D, n) && (abs[n] == '/' || abs[n] == 0))
        snprintf(buf, sizeof buf, "$D%s", abs + n);
    else
        snprintf(buf, sizeof buf, "%s", abs);
    return buf;
}

/* name: ok, or the errno's name */
static void res(const char *name, long rc)
{
    int e = errno;
    if (rc < 0)
        printf("%s: %s\n", name, ename(e));
    else
        printf("%s: ok\n", name);
}
#define TRY(name, expr)          \
    do {                         \
        errno = 0;               \
        long rc_ = (long)(expr); \
        res(name, rc_);          \
    } while (0)

/* name: the value, or the errno's name */
static void val(const char *name, long rc)
{
    int e = errno;
    if (rc < 0)
        printf("%s: %s\n", name, ename(e));
    else
        printf("%s: %ld\n", name, rc);
}
#define VAL(name, expr)          \
    do {                         \
        errno = 0;               \
        long rc_ = (long)(expr); \
        val(name, rc_);          \
    } while (0)

static void yes(const char *name, int cond) { printf("%s: %s\n", name, cond ? "yes" : "no"); }

static const char *kind(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    }
    return "?";
}

/* what every file system agrees on: a directory's type and permissions, a
 * symlink's type and size, a file's type, permissions, size and links */
static void show_stat(const char *name, const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        printf("%s: dir %o\n", name, (unsigned)(st->st_mode & 07777));
    else if (S_ISLNK(st->st_mode))
        printf("%s: lnk size=%lld nlink=%lu\n", name, (long long)st->st_size, (unsigned long)st->st_nlink);
    else
        printf("%s: %s %o size=%lld nlink=%lu\n", name, kind(st->st_mode), (unsigned)(st->st_mode & 07777),
               (long long)st->st_size, (unsigned long)st->st_nlink);
}

static void STAT(const char *name, const char *rel)
{
    struct stat st;
    if (stat(P(rel), &st) < 0)
        printf("%s: %s\n", name, ename(errno));
    else
        show_stat(name, &st);
}

static void LSTAT(const char *name, const char *rel)
{
    struct stat st;
    if (lstat(P(rel), &st) < 0)
        printf("%s: %s\n", name, ename(errno));
    else
        show_stat(name, &st);
}

static void FSTAT(const char *name, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        printf("%s: %s\n", name, ename(errno));
    else
        show_stat(name, &st);
}

/* bytes as text: printable as is, others as \xNN */
static void show_bytes(const char *p, long n)
{
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
}

/* a short file's contents (at most 200 bytes shown) */
static void CAT(const char *name, const char *rel)
{
    char buf[256];
    int fd = open(P(rel), O_RDONLY);
    if (fd < 0) {
        printf("%s: %s\n", name, ename(errno));
        return;
    }
    long n = read(fd, buf, 200);
    if (n < 0) {
        printf("%s: %s\n", name, ename(errno));
    } else {
        printf("%s: \"", name);
        show_bytes(buf, n);
        printf("\"\n");
    }
    close(fd);
}

static int put(const char *rel, const char *s)
{
    int fd = open(P(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    size_t n = strlen(s);
    int ok = write(fd, s, n) == (ssize_t)n;
    return close(fd) == 0 && ok ? 0 : -1;
}

static int exists(const char *rel)
{
    struct stat st;
    return lstat(P(rel), &st) == 0;
}

static long renameat2_(const char *a, const char *b, unsigned flags)
{
    return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 16777619u;
    return h;
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 13 + (i >> 9)); }

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* a directory's entries "name:type", sorted, on one line */
static void LIST(const char *name, const char *abs)
{
    DIR *d = opendir(abs);
    if (!d) {
        printf("%s: %s\n", name, ename(errno));
        return;
    }
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        const char *t = e->d_type == DT_DIR ? "dir" : e->d_type == DT_REG ? "reg" : e->d_type == DT_LNK ? "lnk"
                      : e->d_type == DT_FIFO ? "fifo" : e->d_type == DT_UNKNOWN ? "unknown" : "other";
        if (asprintf(&names[n], "%s:%s", e->d_name, t) > 0)
            n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmpstr);
    printf("%s:", name);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static int remove_tree(const char *abs)
{
    struct stat st;
    if (lstat(abs, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(abs);
    DIR *d = opendir(abs);
    if (!d)
        return -1;
    char *names[1024];
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++) {
        char *sub;
        if (asprintf(&sub, "%s/%s", abs, names[i]) > 0) {
            if (remove_tree(sub) < 0)
                rc = -1;
            free(sub);
        }
        free(names[i]);
    }
    return rmdir(abs) < 0 ? -1 : rc;
}

/* ------------------------------------------------------------------ */

static void basic_io(void)
{
    char buf[512];
    int fd = open(P("f"), O_RDWR | O_CREAT | O_EXCL, 0666);
    res("create O_EXCL", fd);
    VAL("write", write(fd, "hello world\n", 12));
    VAL("offset after write", lseek(fd, 0, SEEK_CUR));
    lseek(fd, 0, SEEK_SET);
    long n = read(fd, buf, sizeof buf);
    printf("read: %ld \"", n);
    show_bytes(buf, n > 0 ? n : 0);
    printf("\"\n");
    VAL("read at end of file", read(fd, buf, sizeof buf));
    VAL("pwrite at 0", pwrite(fd, "HELLO", 5, 0));
    VAL("offset after pwrite", lseek(fd, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    n = pread(fd, buf, 5, 6);
    printf("pread at 6: %ld \"%s\"\n", n, buf);
    VAL("lseek past end", lseek(fd, 100, SEEK_SET));
    VAL("write past end", write(fd, "x", 1));
    memset(buf, 1, sizeof buf);
    n = pread(fd, buf, 200, 12);
    int zeros = 1;
    for (long i = 0; i < 88 && i < n; i++)
        zeros &= buf[i] == 0;
    printf("read across the gap: %ld bytes, gap zeros %s\n", n, zeros ? "yes" : "no");
    VAL("lseek negative", lseek(fd, -1, SEEK_SET));
    VAL("lseek bad whence", lseek(fd, 0, 77));
    VAL("lseek end", lseek(fd, 0, SEEK_END));
    VAL("lseek end-1", lseek(fd, -1, SEEK_END));
    VAL("SEEK_DATA 0", lseek(fd, 0, SEEK_DATA));
    VAL("SEEK_HOLE 0", lseek(fd, 0, SEEK_HOLE));
    VAL("SEEK_DATA at size", lseek(fd, 101, SEEK_DATA));
    FSTAT("fstat", fd);
    TRY("fsync", fsync(fd));
    TRY("fdatasync", fdatasync(fd));
    TRY("close", close(fd));
    STAT("stat", "f");
    TRY("access F_OK", access(P("f"), F_OK));
    TRY("access missing", access(P("nope"), F_OK));

    TRY("O_CREAT|O_EXCL existing", open(P("f"), O_RDWR | O_CREAT | O_EXCL, 0644));
    fd = open(P("f"), O_WRONLY | O_TRUNC);
    res("open O_TRUNC", fd);
    FSTAT("after O_TRUNC", fd);
    close(fd);

    put("ap", "ab");
    fd = open(P("ap"), O_WRONLY | O_APPEND);
    res("open O_APPEND", fd);
    lseek(fd, 0, SEEK_SET);
    VAL("append write", write(fd, "cd", 2));
    VAL("offset after append", lseek(fd, 0, SEEK_CUR));
    VAL("pwrite on O_APPEND", pwrite(fd, "EF", 2, 0)); /* Linux appends, whatever the offset */
    close(fd);
    CAT("appended", "ap");
    fd = open(P("ap"), O_RDWR | O_APPEND);
    lseek(fd, 1, SEEK_SET);
    n = read(fd, buf, 2);
    printf("read on O_APPEND at 1: %ld \"", n);
    show_bytes(buf, n > 0 ? n : 0);
    printf("\"\n");
    close(fd);

    TRY("open missing", open(P("nope"), O_RDONLY));
    TRY("open file/", open(P("f/"), O_RDONLY));
    TRY("create file/x", open(P("f/x"), O_WRONLY | O_CREAT, 0644));
    TRY("create nodir/x", open(P("nodir/x"), O_WRONLY | O_CREAT, 0644));
    TRY("O_DIRECTORY on a file", open(P("f"), O_RDONLY | O_DIRECTORY));
    TRY("open dir O_RDWR", open(D, O_RDWR));
    TRY("open dir O_WRONLY", open(D, O_WRONLY));
    TRY("create existing dir", open(D, O_WRONLY | O_CREAT, 0644));
    fd = open(D, O_RDONLY);
    res("open dir O_RDONLY", fd);
    VAL("read a dir", read(fd, buf, sizeof buf));
    TRY("fsync a dir", fsync(fd));
    close(fd);
    fd = open(P("f"), O_RDONLY);
    VAL("write on O_RDONLY", write(fd, "x", 1));
    close(fd);
    fd = open(P("f"), O_WRONLY);
    VAL("read on O_WRONLY", read(fd, buf, 1));
    close(fd);
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = 0;
    TRY("create a 256-byte name", open(P(longname), O_WRONLY | O_CREAT, 0644));
    longname[255] = 0;
    fd = open(P(longname), O_WRONLY | O_CREAT, 0644);
    res("create a 255-byte name", fd);
    close(fd);
    TRY("unlink a 255-byte name", unlink(P(longname)));
    fd = open(P("f"), O_RDONLY);
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof target - 1);
    if (n < 0) {
        printf("readlink /proc/self/fd: %s\n", ename(errno));
    } else {
        target[n] = 0;
        printf("readlink /proc/self/fd: %s\n", shown(target));
    }
    rename(P("f"), P("f-renamed"));
    n = readlink(link, target, sizeof target - 1);
    if (n < 0) {
        printf("readlink /proc/self/fd after rename: %s\n", ename(errno));
    } else {
        target[n] = 0;
        printf("readlink /proc/self/fd after rename: %s\n", shown(target));
    }
    close(fd);
    unlink(P("f-renamed"));
    unlink(P("ap"));

    /* 300000 bytes in odd-sized pieces, read back in other pieces */
    static unsigned char big[300000], back[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = pattern(i);
    fd = open(P("big"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < sizeof big) {
        size_t k = sizeof big - done < 4099 ? sizeof big - done : 4099;
        ssize_t w = write(fd, big + done, k);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    size_t got = 0;
    lseek(fd, 0, SEEK_SET);
    while (fd >= 0 && got < sizeof back) {
        ssize_t r = read(fd, back + got, sizeof back - got < 7919 ? sizeof back - got : 7919);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    printf("big file: wrote %zu read %zu same %s\n", done, got, got == done && !memcmp(big, back, got) ? "yes" : "no");
    memset(back, 0, 10000);
    n = pread(fd, back, 10000, 123457);
    printf("big pread across pages: %ld same %s\n", n, n == 10000 && !memcmp(back, big + 123457, 10000) ? "yes" : "no");
    struct stat st;
    fsync(fd);
    fstat(fd, &st);
    printf("big file blocks enough: %s\n", (long long)st.st_blocks * 512 >= (long long)sizeof big ? "yes" : "no");
    close(fd);
    unlink(P("big"));
}

static void renames(void)
{
    put("r1", "one");
    put("r2", "two");
    int fd = open(P("r2"), O_RDONLY);
    TRY("rename over a file", rename(P("r1"), P("r2")));
    CAT("renamed file", "r2");
    TRY("old name gone", access(P("r1"), F_OK));
    char buf[16] = "";
    long n = read(fd, buf, sizeof buf - 1);
    printf("replaced file still open: %ld \"%s\"\n", n, n > 0 ? buf : "");
    close(fd);
    TRY("rename to itself", rename(P("r2"), P("r2")));
    CAT("after rename to itself", "r2");
    link(P("r2"), P("r3"));
    TRY("rename onto a hard link of itself", rename(P("r2"), P("r3")));
    yes("both names still there", exists("r2") && exists("r3"));
    unlink(P("r2"));
    unlink(P("r3"));
    TRY("rename missing", rename(P("nope"), P("r4")));
    TRY("rename into a missing dir", rename(P("r3"), P("nodir/r3")));

    mkdir(P("d1"), 0755);
    put("d1/f", "in d1");
    TRY("rename dir", rename(P("d1"), P("d2")));
    CAT("file in renamed dir", "d2/f");
    STAT("old dir name", "d1");
    mkdir(P("d3"), 0755);
    TRY("rename dir over an empty dir", rename(P("d2"), P("d3")));
    CAT("file after replacing dir", "d3/f");
    STAT("replaced dir's old name", "d2");
    mkdir(P("d4"), 0755);
    put("d4/x", "x");
    TRY("rename dir over a non-empty dir", rename(P("d3"), P("d4")));
    put("rf", "rf");
    TRY("rename dir over a file", rename(P("d3"), P("rf")));
    TRY("rename file over a dir", rename(P("rf"), P("d4")));
    mkdir(P("d3/sub"), 0755);
    TRY("rename dir into its own subdir", rename(P("d3"), P("d3/sub/inner")));
    TRY("rename dir onto itself/sub", rename(P("d3"), P("d3/sub")));
    TRY("rename dir onto its parent", rename(P("d3/sub"), P("d3")));
    TRY("rename file/ (trailing slash)", rename(P("rf/"), P("rg")));
    TRY("rename dir/ (trailing slash)", rename(P("d3/"), P("d5/")));
    TRY("rename file into a subdir", rename(P("rf"), P("d4/rf")));
    int dfd = open(D, O_RDONLY | O_DIRECTORY);
    TRY("renameat with dirfds", renameat(dfd, "d4/rf", dfd, "rf2"));
    close(dfd);
    CAT("renameat result", "rf2");
    LIST("after renames", D);
    remove_tree(P("d4"));
    remove_tree(P("d5"));
    unlink(P("rf2"));

    /* renameat2's flags (a 9P host directory: EINVAL, as Linux's v9fs) */
    put("x1", "A");
    put("x2", "B");
    TRY("renameat2 noreplace existing", renameat2_(P("x1"), P("x2"), RENAME_NOREPLACE));
    TRY("renameat2 noreplace new", renameat2_(P("x1"), P("x3"), RENAME_NOREPLACE));
    if (exists("x3"))
        rename(P("x3"), P("x1"));
    TRY("renameat2 exchange", renameat2_(P("x1"), P("x2"), RENAME_EXCHANGE));
    char a[8] = "", b[8] = "";
    int fa = open(P("x1"), O_RDONLY), fb = open(P("x2"), O_RDONLY);
    if (fa >= 0 && read(fa, a, 7) < 0)
        a[0] = 0;
    if (fb >= 0 && read(fb, b, 7) < 0)
        b[0] = 0;
    close(fa);
    close(fb);
    printf("renameat2 exchanged contents: x1=%s x2=%s\n", a, b);
    TRY("renameat2 exchange with a missing name", renameat2_(P("x1"), P("x9"), RENAME_EXCHANGE));
    TRY("renameat2 noreplace|exchange", renameat2_(P("x1"), P("x2"), RENAME_NOREPLACE | RENAME_EXCHANGE));
    TRY("renameat2 unknown flag", renameat2_(P("x1"), P("x2"), 1u << 30));
    mkdir(P("xd"), 0755);
    TRY("renameat2 exchange dir and file", renameat2_(P("xd"), P("x1"), RENAME_EXCHANGE));
    struct stat s1, s2;
    int r1 = lstat(P("xd"), &s1), r2 = lstat(P("x1"), &s2);
    printf("renameat2 exchanged types: xd=%s x1=%s\n", r1 ? "-" : kind(s1.st_mode), r2 ? "-" : kind(s2.st_mode));
    remove_tree(P("xd"));
    remove_tree(P("x1"));
    unlink(P("x2"));
}

static void unlinks(void)
{
    put("u", "still here");
    int fd = open(P("u"), O_RDWR);
    TRY("unlink an open file", unlink(P("u")));
    STAT("unlinked name", "u");
    FSTAT("unlinked open file", fd);
    char buf[32] = "";
    long n = pread(fd, buf, sizeof buf - 1, 0);
    printf("unlinked file reads: %ld \"%s\"\n", n, n > 0 ? buf : "");
    VAL("unlinked file writes", pwrite(fd, "!", 1, 10));
    FSTAT("unlinked file after write", fd);
    close(fd);
    TRY("unlink missing", unlink(P("u")));
    mkdir(P("ud"), 0755);
    TRY("unlink a dir", unlink(P("ud")));
    TRY("unlink dir/.", unlink(P("ud/.")));
    rmdir(P("ud"));
}

static void hardlinks(void)
{
    put("h1", "hard");
    TRY("link", link(P("h1"), P("h2")));
    STAT("link source", "h1");
    STAT("link", "h2");
    struct stat a, b;
    yes("same file", stat(P("h1"), &a) == 0 && stat(P("h2"), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    TRY("third link", link(P("h1"), P("h3")));
    STAT("three links", "h3");
    TRY("unlink the first name", unlink(P("h1")));
    STAT("after unlinking one", "h2");
    int fd = open(P("h2"), O_WRONLY | O_APPEND);
    write(fd, "-more", 5);
    close(fd);
    CAT("written through one name, read through another", "h3");
    TRY("link onto an existing name", link(P("h2"), P("h3")));
    mkdir(P("hd"), 0755);
    TRY("link a dir", link(P("hd"), P("hd2")));
    TRY("link missing", link(P("nope"), P("h4")));
    TRY("link into a missing dir", link(P("h2"), P("nodir/h4")));
    symlink("h2", P("hs"));
    TRY("link a symlink", link(P("hs"), P("hl")));
    LSTAT("hard link of a symlink", "hl");
    TRY("linkat AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, P("hs"), AT_FDCWD, P("hf"), AT_SYMLINK_FOLLOW));
    LSTAT("followed link", "hf");
    rmdir(P("hd"));
    unlink(P("h2"));
    unlink(P("h3"));
    unlink(P("hs"));
    unlink(P("hl"));
    unlink(P("hf"));
}

static void symlinks(void)
{
    char buf[PATH_MAX];
    put("target", "target data\n");
    TRY("symlink", symlink("target", P("sl")));
    long n = readlink(P("sl"), buf, sizeof buf - 1);
    if (n >= 0)
        buf[n] = 0;
    printf("readlink: %s\n", n < 0 ? ename(errno) : buf);
    n = readlink(P("sl"), buf, 4);
    printf("readlink into 4 bytes: %ld \"%.*s\"\n", n, n > 0 ? (int)n : 0, buf);
    LSTAT("lstat symlink", "sl");
    STAT("stat symlink", "sl");
    CAT("read through symlink", "sl");
    TRY("symlink onto an existing name", symlink("x", P("sl")));
    TRY("readlink of a file", readlink(P("target"), buf, sizeof buf));
    TRY("readlink missing", readlink(P("nope"), buf, sizeof buf));
    TRY("open O_NOFOLLOW of a symlink", open(P("sl"), O_RDONLY | O_NOFOLLOW));
    int fd = open(P("sl"), O_RDONLY | O_NOFOLLOW | O_PATH);
    res("open O_PATH|O_NOFOLLOW of a symlink", fd);
    if (fd >= 0) {
        FSTAT("fstat of O_PATH symlink", fd);
        close(fd);
    }

    symlink("missing-target", P("dangling"));
    STAT("stat dangling", "dangling");
    LSTAT("lstat dangling", "dangling");
    TRY("open dangling", open(P("dangling"), O_RDONLY));
    TRY("O_CREAT|O_EXCL on dangling", open(P("dangling"), O_WRONLY | O_CREAT | O_EXCL, 0644));
    fd = open(P("dangling"), O_WRONLY | O_CREAT, 0600);
    res("O_CREAT through dangling", fd);
    if (fd >= 0) {
        write(fd, "made", 4);
        close(fd);
    }
    STAT("target made through dangling", "missing-target");

    symlink("loop", P("loop"));
    STAT("stat self-loop", "loop");
    TRY("open self-loop", open(P("loop"), O_RDONLY));
    LSTAT("lstat self-loop", "loop");
    symlink("pong", P("ping"));
    symlink("ping", P("pong"));
    TRY("open a two-link loop", open(P("ping"), O_RDONLY));
    TRY("create through self-loop", open(P("loop"), O_WRONLY | O_CREAT, 0644));

    /* a chain of 30 links resolves; the limit is 40 */
    char from[32], to[32];
    for (int i = 0; i < 30; i++) {
        snprintf(from, sizeof from, "c%02d", i);
        snprintf(to, sizeof to, i == 29 ? "target" : "c%02d", i + 1);
        symlink(to, P(from));
    }
    CAT("30 links in a row", "c00");
    for (int i = 0; i < 30; i++) {
        snprintf(from, sizeof from, "c%02d", i);
        unlink(P(from));
    }

    mkdir(P("sd"), 0755);
    mkdir(P("sd/inner"), 0755);
    put("sd/file", "in sd\n");
    put("sd/inner/deep", "deep\n");
    symlink("sd", P("sld"));
    symlink("sd/inner", P("sli"));
    CAT("through a dir symlink", "sld/file");
    CAT("dotdot after a dir symlink", "sli/../file");
    STAT("stat dir symlink", "sld");
    LSTAT("lstat dir symlink", "sld");
    STAT("stat dir symlink/", "sld/");
    TRY("rmdir a dir symlink", rmdir(P("sld")));
    TRY("rmdir a dir symlink/", rmdir(P("sld/")));
    TRY("unlink a dir symlink/", unlink(P("sld/")));
    symlink("..", P("sd/inner/up"));
    CAT("relative .. symlink", "sd/inner/up/file");
    symlink(P("sd/inner"), P("abs"));
    n = readlink(P("abs"), buf, sizeof buf - 1);
    if (n >= 0)
        buf[n] = 0;
    printf("absolute symlink: %s\n", n < 0 ? ename(errno) : shown(buf));
    CAT("through an absolute symlink", "abs/deep");
    TRY("chdir through a symlink", chdir(P("sli")));
    if (getcwd(buf, sizeof buf))
        printf("getcwd after a symlink: %s\n", shown(buf));
    else
        printf("getcwd after a symlink: %s\n", ename(errno));
    chdir("/");
    TRY("mkdir through a symlink to a dir", mkdir(P("sld/made"), 0755));
    STAT("made through symlink", "sd/made");
    TRY("unlink a symlink", unlink(P("sl")));
    STAT("target after unlinking symlink", "target");
    TRY("chmod through a symlink", chmod(P("sli"), 0700));
    STAT("dir chmodded through symlink", "sd/inner");
    TRY("symlinkat", symlinkat("target", AT_FDCWD, P("sat")));
    n = readlinkat(AT_FDCWD, P("sat"), buf, sizeof buf - 1);
    printf("readlinkat: %ld\n", n);
    TRY("symlink to an empty target", symlink("", P("empty")));
    remove_tree(P("sd"));
    unlink(P("sld"));
    unlink(P("sli"));
    unlink(P("abs"));
    unlink(P("dangling"));
    unlink(P("missing-target"));
    unlink(P("loop"));
    unlink(P("ping"));
    unlink(P("pong"));
    unlink(P("target"));
    unlink(P("sat"));
    unlink(P("empty"));
}

static void dirs(void)
{
    TRY("mkdir", mkdir(P("m"), 0777));
    STAT("mkdir mode", "m");
    TRY("mkdir existing", mkdir(P("m"), 0755));
    TRY("mkdir over a file", (put("mf", "f"), mkdir(P("mf"), 0755)));
    TRY("mkdir under a file", mkdir(P("mf/x"), 0755));
    TRY("mkdir in a missing dir", mkdir(P("nodir/x"), 0755));
    TRY("mkdir with a trailing slash", mkdir(P("m2/"), 0750));
    STAT("mkdir 0750", "m2");
    TRY("mkdir .", mkdir(P("m/."), 0755));
    TRY("mkdir ..", mkdir(P("m/.."), 0755));
    put("m/inside", "x");
    TRY("rmdir non-empty", rmdir(P("m")));
    TRY("rmdir a file", rmdir(P("mf")));
    TRY("rmdir missing", rmdir(P("nope")));
    TRY("rmdir .", rmdir(P("m2/.")));
    TRY("rmdir ..", rmdir(P("m2/..")));
    TRY("rmdir empty", rmdir(P("m2")));
    STAT("rmdir'd", "m2");
    TRY("rmdir with a trailing slash", (mkdir(P("m3"), 0755), rmdir(P("m3/"))));
    int dfd = open(D, O_RDONLY | O_DIRECTORY);
    TRY("mkdirat", mkdirat(dfd, "at", 0755));
    int fd = openat(dfd, "at/f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    res("openat create", fd);
    write(fd, "at", 2);
    close(fd);
    struct stat st;
    if (fstatat(dfd, "at/f", &st, 0) < 0)
        printf("fstatat: %s\n", ename(errno));
    else
        show_stat("fstatat", &st);
    TRY("faccessat R_OK|W_OK", faccessat(dfd, "at/f", R_OK | W_OK, 0));
    TRY("unlinkat a dir without AT_REMOVEDIR", unlinkat(dfd, "at", 0));
    TRY("unlinkat AT_REMOVEDIR a file", unlinkat(dfd, "at/f", AT_REMOVEDIR));
    TRY("unlinkat AT_REMOVEDIR non-empty", unlinkat(dfd, "at", AT_REMOVEDIR));
    TRY("openat on a file fd", openat(open(P("at/f"), O_RDONLY), "x", O_RDONLY));
    char buf[PATH_MAX];
    TRY("chdir", chdir(P("at")));
    printf("getcwd: %s\n", getcwd(buf, sizeof buf) ? shown(buf) : ename(errno));
    CAT("relative open", "at/f");
    fd = open("f", O_RDONLY);
    res("open relative to cwd", fd);
    close(fd);
    TRY("chdir ..", chdir(".."));
    printf("getcwd after ..: %s\n", getcwd(buf, sizeof buf) ? shown(buf) : ename(errno));
    TRY("chdir to a file", chdir(P("mf")));
    TRY("fchdir", fchdir(dfd));
    printf("getcwd after fchdir: %s\n", getcwd(buf, sizeof buf) ? shown(buf) : ename(errno));
    char *rp = realpath(P("at/../at/./f"), NULL);
    printf("realpath: %s\n", rp ? shown(rp) : ename(errno));
    free(rp);
    /* the working directory's parent is renamed: getcwd and ".." follow */
    mkdir(P("cw"), 0755);
    mkdir(P("cw/in"), 0755);
    put("cw/sibling", "sibling\n");
    chdir(P("cw/in"));
    TRY("rename the cwd's parent", rename(P("cw"), P("cw2")));
    printf("getcwd after rename: %s\n", getcwd(buf, sizeof buf) ? shown(buf) : ename(errno));
    fd = open("../sibling", O_RDONLY);
    res("open ../ after rename", fd);
    close(fd);
    /* the working directory removed */
    chdir(P("cw2"));
    rmdir(P("cw2/in"));
    mkdir(P("gone"), 0755);
    chdir(P("gone"));
    TRY("rmdir the cwd", rmdir(P("gone")));
    TRY("create in a removed cwd", open("x", O_WRONLY | O_CREAT, 0644));
    printf("getcwd in a removed dir: %s\n", getcwd(buf, sizeof buf) ? "ok" : ename(errno));
    chdir("/");
    close(dfd);
    remove_tree(P("m"));
    remove_tree(P("at"));
    remove_tree(P("cw2"));
    unlink(P("mf"));
}

static void attrs(void)
{
    put("c", "chmod me");
    TRY("chmod 0640", chmod(P("c"), 0640));
    STAT("after chmod", "c");
    int fd = open(P("c"), O_RDONLY);
    TRY("fchmod 0604", fchmod(fd, 0604));
    FSTAT("after fchmod", fd);
    close(fd);
    mkdir(P("cd"), 0755);
    TRY("chmod dir 01777", chmod(P("cd"), 01777));
    STAT("sticky dir", "cd");
    TRY("chmod missing", chmod(P("nope"), 0644));
    TRY("fchmodat", fchmodat(AT_FDCWD, P("c"), 0600, 0));
    STAT("after fchmodat", "c");

    struct timespec ts[2] = {{1000000000, 111111111}, {1234567890, 987654321}};
    struct stat st;
    TRY("utimensat", utimensat(AT_FDCWD, P("c"), ts, 0));
    stat(P("c"), &st);
    printf("times: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1500000000, 0}};
    TRY("utimensat UTIME_OMIT atime", utimensat(AT_FDCWD, P("c"), omit, 0));
    stat(P("c"), &st);
    printf("times: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    fd = open(P("c"), O_WRONLY);
    struct timespec f[2] = {{1600000000, 5}, {1600000001, 6}};
    TRY("futimens", futimens(fd, f));
    fstat(fd, &st);
    printf("times: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    close(fd);
    TRY("utimensat UTIME_NOW", utimensat(AT_FDCWD, P("c"), NULL, 0));
    stat(P("c"), &st);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int recent = st.st_mtim.tv_sec > now.tv_sec - 3600 && st.st_mtim.tv_sec <= now.tv_sec + 1;
    printf("mtime now: %s\n", recent ? "yes" : "no");
    /* writing moves mtime on */
    utimensat(AT_FDCWD, P("c"), ts, 0);
    fd = open(P("c"), O_WRONLY | O_APPEND);
    write(fd, "!", 1);
    fstat(fd, &st);
    close(fd);
    printf("write updates mtime: %s\n", st.st_mtim.tv_sec > 1234567890 ? "yes" : "no");
    symlink("c", P("cl"));
    struct timespec lt[2] = {{1100000000, 0}, {1100000000, 0}};
    TRY("utimensat AT_SYMLINK_NOFOLLOW", utimensat(AT_FDCWD, P("cl"), lt, AT_SYMLINK_NOFOLLOW));
    lstat(P("cl"), &st);
    printf("symlink mtime: %lld\n", (long long)st.st_mtim.tv_sec);
    stat(P("c"), &st);
    printf("target mtime untouched: %s\n", st.st_mtim.tv_sec != 1100000000 ? "yes" : "no");
    TRY("utimensat missing", utimensat(AT_FDCWD, P("nope"), ts, 0));
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    TRY("utimensat bad nsec", utimensat(AT_FDCWD, P("c"), bad, 0));
    unlink(P("cl"));
    unlink(P("c"));
    rmdir(P("cd"));
}

/* its lines all start with "tmpfile" (a 9P host directory: EOPNOTSUPP, as Linux's v9fs) */
static void tmpfiles(void)
{
    TRY("tmpfile O_RDONLY", open(D, O_TMPFILE | O_RDONLY, 0600));
    int fd = open(D, O_TMPFILE | O_RDWR, 0600);
    res("tmpfile open", fd);
    if (fd < 0)
        return;
    write(fd, "tmp data", 8);
    FSTAT("tmpfile fstat", fd);
    LIST("tmpfile dir listing", D);
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    TRY("tmpfile linkat", linkat(AT_FDCWD, link, AT_FDCWD, P("tnamed"), AT_SYMLINK_FOLLOW));
    FSTAT("tmpfile fstat after linkat", fd);
    CAT("tmpfile named", "tnamed");
    TRY("tmpfile linkat again", linkat(AT_FDCWD, link, AT_FDCWD, P("tnamed"), AT_SYMLINK_FOLLOW));
    close(fd);
    fd = open(D, O_TMPFILE | O_RDWR | O_EXCL, 0600);
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    TRY("tmpfile O_EXCL linkat", linkat(AT_FDCWD, link, AT_FDCWD, P("tnamed2"), AT_SYMLINK_FOLLOW));
    close(fd);
    unlink(P("tnamed"));
}

static void sizes(void)
{
    put("t", "0123456789");
    TRY("truncate to 4", truncate(P("t"), 4));
    CAT("truncated", "t");
    TRY("truncate to 8", truncate(P("t"), 8));
    CAT("grown", "t");
    TRY("truncate negative", truncate(P("t"), -1));
    TRY("truncate a dir", truncate(D, 0));
    TRY("truncate missing", truncate(P("nope"), 0));
    int fd = open(P("t"), O_RDWR);
    TRY("ftruncate to 2", ftruncate(fd, 2));
    FSTAT("ftruncated", fd);
    VAL("offset kept by ftruncate", lseek(fd, 0, SEEK_CUR));
    close(fd);
    fd = open(P("t"), O_RDONLY);
    TRY("ftruncate on O_RDONLY", ftruncate(fd, 0));
    close(fd);
    fd = open(P("sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    TRY("ftruncate to 1 MiB", ftruncate(fd, 1 << 20));
    struct stat st;
    fstat(fd, &st);
    printf("sparse: size=%lld blocks %s\n", (long long)st.st_size, st.st_blocks == 0 ? "none" : "some");
    char buf[4096];
    memset(buf, 7, sizeof buf);
    long n = pread(fd, buf, sizeof buf, 500000);
    int z = 1;
    for (long i = 0; i < n; i++)
        z &= buf[i] == 0;
    printf("sparse reads zeros: %ld %s\n", n, z ? "yes" : "no");
    close(fd);
    unlink(P("sparse"));

    /* its lines all start with "fallocate" (a 9P host directory: EOPNOTSUPP, as Linux's v9fs) */
    fd = open(P("fa"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    TRY("fallocate", fallocate(fd, 0, 0, 12288));
    FSTAT("fallocate then fstat", fd);
    TRY("fallocate KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536));
    FSTAT("fallocate KEEP_SIZE then fstat", fd);
    TRY("fallocate inside", fallocate(fd, 0, 100, 100));
    FSTAT("fallocate inside then fstat", fd);
    TRY("fallocate length 0", fallocate(fd, 0, 0, 0));
    TRY("fallocate negative offset", fallocate(fd, 0, -1, 10));
    memset(buf, 7, sizeof buf);
    n = pread(fd, buf, sizeof buf, 4096);
    z = 1;
    for (long i = 0; i < n; i++)
        z &= buf[i] == 0;
    printf("fallocate reads zeros: %ld %s\n", n, z ? "yes" : "no");
    close(fd);
    fd = open(P("fa"), O_RDONLY);
    TRY("fallocate on O_RDONLY", fallocate(fd, 0, 0, 10));
    close(fd);
    unlink(P("fa"));
    unlink(P("t"));
}

/* "nofifo:DIR": a directory whose server cannot make FIFOs (QEMU 7.2's 9P
 * server with security_model=none makes one, then fails to chmod it through
 * O_PATH and removes it: ENXIO -- to a Linux guest's v9fs as to ours). */
static int no_fifos;

static void listings(void)
{
    mkdir(P("ls"), 0755);
    put("ls/b", "b");
    put("ls/a", "a");
    mkdir(P("ls/c"), 0755);
    symlink("a", P("ls/d"));
    if (!no_fifos)
        mkfifo(P("ls/e"), 0644);
    LIST("readdir", P("ls"));
    int fd = open(P("ls"), O_RDONLY | O_DIRECTORY);
    char tiny[8];
    VAL("getdents64 with 8 bytes", syscall(SYS_getdents64, fd, tiny, sizeof tiny));
    VAL("getdents64 on a file", syscall(SYS_getdents64, open(P("ls/a"), O_RDONLY), tiny, sizeof tiny));
    close(fd);
    remove_tree(P("ls"));

    /* 300 files through a small buffer: every name exactly once */
    mkdir(P("many"), 0755);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "many/n%03d", i);
        put(name, "");
    }
    fd = open(P("many"), O_RDONLY | O_DIRECTORY);
    for (int pass = 0; pass < 2; pass++) {
        static char seen[300];
        memset(seen, 0, sizeof seen);
        int entries = 0, dups = 0, bad = 0, calls = 0;
        char buf[200] __attribute__((aligned(8)));
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (n <= 0) {
                if (n < 0)
                    bad++;
                break;
            }
            calls++;
            for (long off = 0; off < n;) {
                struct {
                    uint64_t ino;
                    int64_t off;
                    unsigned short reclen;
                    unsigned char type;
                    char name[];
                } *e = (void *)(buf + off);
                entries++;
                int k;
                if (e->name[0] == 'n' && sscanf(e->name + 1, "%d", &k) == 1 && k >= 0 && k < 300)
                    dups += seen[k]++ > 0;
                else if (strcmp(e->name, ".") && strcmp(e->name, ".."))
                    bad++;
                off += e->reclen;
            }
        }
        int all = 1;
        for (int i = 0; i < 300; i++)
            all &= seen[i] == 1;
        printf("getdents64 of 300 files, pass %d: %d entries, all once %s, duplicates %d, errors %d, "
               "several calls %s\n", pass + 1, entries, all ? "yes" : "no", dups, bad, calls > 10 ? "yes" : "no");
        lseek(fd, 0, SEEK_SET);
    }
    close(fd);
    for (int i = 0; i < 300; i += 2) {
        snprintf(name, sizeof name, "many/n%03d", i);
        unlink(P(name));
    }
    DIR *d = opendir(P("many"));
    int left = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        left++;
    if (d)
        closedir(d);
    printf("after unlinking half: %d entries\n", left);
    TRY("rmdir non-empty many", rmdir(P("many")));
    TRY("remove many", remove_tree(P("many")));
}

static void mappings(void)
{
    int fd = open(P("mm"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[8192];
    memset(buf, 'a', sizeof buf);
    write(fd, buf, 8192);
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("mmap shared: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    if (p != MAP_FAILED) {
        memcpy(p + 100, "MAPPED", 6);
        memcpy(p + 5000, "PAGE2", 5);
        TRY("msync", msync(p, 8192, MS_SYNC));
        memset(buf, 0, sizeof buf);
        pread(fd, buf, 6, 100);
        pread(fd, buf + 10, 5, 5000);
        printf("read after msync: %s %s\n", buf, buf + 10);
        pwrite(fd, "WRITTEN", 7, 200);
        printf("mapping sees pwrite: %s\n", !memcmp(p + 200, "WRITTEN", 7) ? "yes" : "no");
        TRY("munmap", munmap(p, 8192));
    }
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 6, 100);
    printf("file after munmap: %s\n", buf);
    char *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("mmap private: %s\n", q == MAP_FAILED ? ename(errno) : "ok");
    if (q != MAP_FAILED) {
        printf("private mapping reads the file: %s\n", !memcmp(q + 100, "MAPPED", 6) ? "yes" : "no");
        q[0] = 'Z';
        char c = 0;
        pread(fd, &c, 1, 0);
        printf("private write stays private: %s\n", c == 'a' ? "yes" : "no");
        munmap(q, 4096);
    }
    close(fd);
    fd = open(P("mm"), O_RDONLY);
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("mmap shared writable of O_RDONLY: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    if (p != MAP_FAILED)
        munmap(p, 4096);
    close(fd);
    fd = open(P("mm"), O_WRONLY);
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("mmap of O_WRONLY: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    if (p != MAP_FAILED)
        munmap(p, 4096);
    close(fd);
    unlink(P("mm"));
}

static void copies(void)
{
    put("s1", "0123456789abcdef");
    int in = open(P("s1"), O_RDONLY), out = open(P("s2"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    off_t o = 4;
    VAL("sendfile with offset", sendfile(out, in, &o, 6));
    printf("sendfile offset now: %lld, file offset %lld\n", (long long)o, (long long)lseek(in, 0, SEEK_CUR));
    CAT("sendfile copy", "s2");
    VAL("sendfile without offset", sendfile(out, in, NULL, 3));
    printf("sendfile file offset now: %lld\n", (long long)lseek(in, 0, SEEK_CUR));
    CAT("sendfile copy 2", "s2");
    o = 16;
    VAL("sendfile at end", sendfile(out, in, &o, 5));
    loff_t io = 10, oo = 0;
    VAL("copy_file_range", syscall(SYS_copy_file_range, in, &io, out, &oo, 6, 0));
    printf("copy_file_range offsets: %lld %lld, file offsets %lld %lld\n", (long long)io, (long long)oo,
           (long long)lseek(in, 0, SEEK_CUR), (long long)lseek(out, 0, SEEK_CUR));
    CAT("copy_file_range copy", "s2");
    io = 16;
    VAL("copy_file_range at end", syscall(SYS_copy_file_range, in, &io, out, &oo, 6, 0));
    VAL("copy_file_range flags", syscall(SYS_copy_file_range, in, NULL, out, NULL, 6, 1));
    VAL("copy_file_range into O_RDONLY", syscall(SYS_copy_file_range, in, NULL, in, NULL, 6, 0));
    close(out);
    out = open(P("s2"), O_WRONLY | O_APPEND);
    VAL("copy_file_range into O_APPEND", syscall(SYS_copy_file_range, in, NULL, out, NULL, 6, 0));
    close(out);
    close(in);
    unlink(P("s1"));
    unlink(P("s2"));
}

static void show_lock(const char *name, int rc, const struct flock *l)
{
    if (rc < 0) {
        printf("%s: %s\n", name, ename(errno));
        return;
    }
    const char *t = l->l_type == F_UNLCK ? "F_UNLCK" : l->l_type == F_RDLCK ? "F_RDLCK" : "F_WRLCK";
    if (l->l_type == F_UNLCK)
        printf("%s: %s\n", name, t);
    else
        printf("%s: %s start=%lld len=%lld pid=%s\n", name, t, (long long)l->l_start, (long long)l->l_len,
               l->l_pid == getpid() ? "self" : l->l_pid == -1 ? "-1" : "other");
}

static void locks(void)
{
    put("lk", "0123456789");
    int fd1 = open(P("lk"), O_RDWR), fd2 = open(P("lk"), O_RDWR), fd3 = open(P("lk"), O_RDONLY);
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    TRY("F_SETLK write lock", fcntl(fd1, F_SETLK, &l));
    l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    show_lock("F_GETLK from the same process", fcntl(fd2, F_GETLK, &l), &l);
    l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    show_lock("F_OFD_GETLK sees the process's lock", fcntl(fd2, F_OFD_GETLK, &l), &l);
    l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
    TRY("F_OFD_SETLK overlapping", fcntl(fd2, F_OFD_SETLK, &l));
    l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 5};
    TRY("F_OFD_SETLK beside", fcntl(fd2, F_OFD_SETLK, &l));
    l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    show_lock("F_GETLK sees the OFD lock", fcntl(fd1, F_GETLK, &l), &l);
    l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    TRY("F_SETLK over the OFD lock", fcntl(fd1, F_SETLK, &l));
    close(fd3); /* any close of the file drops the process's POSIX locks */
    l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    show_lock("F_OFD_GETLK after closing another fd", fcntl(fd2, F_OFD_GETLK, &l), &l);
    l = (struct flock){.l_type = 99, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    TRY("F_SETLK bad type", fcntl(fd1, F_SETLK, &l));
    fd3 = open(P("lk"), O_RDONLY);
    l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    TRY("F_SETLK write lock on O_RDONLY", fcntl(fd3, F_SETLK, &l));
    l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_END, .l_start = -20, .l_len = 1};
    TRY("F_SETLK before the start", fcntl(fd3, F_SETLK, &l));
    close(fd1);
    close(fd2);
    close(fd3);

    int a = open(P("lk"), O_RDONLY), b = open(P("lk"), O_RDONLY);
    TRY("flock LOCK_EX", flock(a, LOCK_EX));
    TRY("flock LOCK_EX|LOCK_NB from another open", flock(b, LOCK_EX | LOCK_NB));
    TRY("flock LOCK_SH|LOCK_NB from another open", flock(b, LOCK_SH | LOCK_NB));
    int c = dup(a);
    TRY("flock again through a dup", flock(c, LOCK_EX | LOCK_NB));
    close(a);
    TRY("flock while the dup holds it", flock(b, LOCK_SH | LOCK_NB));
    close(c);
    TRY("flock after the last close", flock(b, LOCK_EX | LOCK_NB));
    TRY("flock LOCK_UN", flock(b, LOCK_UN));
    TRY("flock bad operation", flock(b, 0));
    close(b);
    unlink(P("lk"));
}

static void fifos(void)
{
    if (no_fifos) {
        printf("fifos: not tried\n");
        return;
    }
    TRY("mkfifo", mkfifo(P("ff"), 0644));
    STAT("fifo", "ff");
    TRY("mkfifo existing", mkfifo(P("ff"), 0644));
    TRY("mknod S_IFIFO", mknod(P("ff2"), S_IFIFO | 0600, 0));
    STAT("mknod fifo", "ff2");
    TRY("O_WRONLY|O_NONBLOCK without a reader", open(P("ff"), O_WRONLY | O_NONBLOCK));
    int fd = open(P("ff"), O_RDWR);
    res("open fifo O_RDWR", fd);
    VAL("fifo write", write(fd, "hello", 5));
    char buf[16] = "";
    long n = read(fd, buf, sizeof buf - 1);
    printf("fifo read: %ld \"%s\"\n", n, n > 0 ? buf : "");
    VAL("fifo lseek", lseek(fd, 0, SEEK_CUR));
    VAL("fifo pread", pread(fd, buf, 1, 0));
    FSTAT("fifo fstat", fd);
    int w = open(P("ff"), O_WRONLY | O_NONBLOCK);
    res("O_WRONLY|O_NONBLOCK with a reader", w);
    close(w);
    close(fd);
    int r = open(P("ff"), O_RDONLY | O_NONBLOCK);
    res("O_RDONLY|O_NONBLOCK", r);
    VAL("read with no writer", read(r, buf, 1));
    close(r);
    unlink(P("ff"));
    unlink(P("ff2"));
}

static void fs_stats(void)
{
    struct statfs s;
    if (statfs(D, &s) < 0)
        printf("statfs: %s\n", ename(errno));
    else
        printf("statfs: ok namelen=%ld\n", (long)s.f_namelen); /* an unbounded tmpfs has no f_blocks */
    int fd = open(D, O_RDONLY);
    TRY("fstatfs", fstatfs(fd, &s));
    close(fd);
    TRY("statfs missing", statfs(P("nope"), &s));
}

/* the test's files: a.txt, big.bin, sub/c.txt, link -> a.txt */
static void seeded(const char *seed)
{
    char path[PATH_MAX], buf[4096];
#define S(rel) (snprintf(path, sizeof path, "%s/%s", seed, rel), path)
    LIST("seed listing", seed);
    int fd = open(S("big.bin"), O_RDONLY);
    uint32_t h = 2166136261u;
    long n, total = 0;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0) {
        h = fnv(h, buf, (size_t)n);
        total += n;
    }
    close(fd);
    printf("seed big.bin: %ld bytes fnv %08x\n", total, h);
    fd = open(S("a.txt"), O_WRONLY | O_APPEND);
    res("seed append", fd);
    write(fd, "appended\n", 9);
    close(fd);
    fd = open(S("link"), O_RDONLY);
    n = read(fd, buf, sizeof buf);
    printf("seed a.txt through link: %ld \"", n);
    show_bytes(buf, n > 0 ? n : 0);
    printf("\"\n");
    close(fd);
    fd = open(S("big.bin"), O_RDWR);
    VAL("seed pwrite in the middle", pwrite(fd, "MIDDLE", 6, 50000));
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 65536);
    if (p != MAP_FAILED) {
        memcpy(p + 10, "MAPPED", 6);
        msync(p, 8192, MS_SYNC);
        munmap(p, 8192);
    }
    lseek(fd, 0, SEEK_SET);
    h = 2166136261u;
    total = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        h = fnv(h, buf, (size_t)n);
        total += n;
    }
    printf("seed big.bin changed: %ld bytes fnv %08x\n", total, h);
    TRY("seed ftruncate", ftruncate(fd, 70000));
    FSTAT("seed big.bin truncated", fd);
    close(fd);
    fd = open(S("new.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644);
    res("seed create", fd);
    close(fd);
    TRY("seed create existing", open(S("a.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644));
    TRY("seed rename dir", rename(S("sub"), (snprintf(buf, sizeof buf, "%s/sub2", seed), buf)));
    fd = open(S("sub2/c.txt"), O_RDONLY);
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    printf("seed renamed dir's file: %ld \"", n);
    show_bytes(buf, n > 0 ? n : 0);
    printf("\"\n");
    close(fd);
    TRY("seed rmdir non-empty", rmdir(S("sub2")));
    TRY("seed unlink symlink", unlink(S("link")));
    TRY("seed chmod", chmod(S("a.txt"), 0600));
    struct timespec ts[2] = {{1300000000, 0}, {1300000000, 500}};
    TRY("seed utimensat", utimensat(AT_FDCWD, S("a.txt"), ts, 0));
    struct stat st;
    if (stat(S("a.txt"), &st) < 0)
        printf("seed a.txt: %s\n", ename(errno));
    else
        printf("seed a.txt: %o size=%lld mtime %lld.%09ld\n", (unsigned)(st.st_mode & 07777), (long long)st.st_size,
               (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    TRY("seed unlink", unlink(S("sub2/c.txt")));
    TRY("seed rmdir", rmdir(S("sub2")));
    LIST("seed listing after", seed);
#undef S
}

static void probe(const char *dir, const char *seed_arg)
{
    char seed[PATH_MAX] = "-";
    printf("== fsprobe\n");
    if (strcmp(seed_arg, "-") && !realpath(seed_arg, seed)) {
        printf("realpath seed: %s\n", ename(errno));
        return;
    }
    TRY("mkdir base", mkdir(dir, 0755));
    if (!realpath(dir, D)) {
        printf("realpath base: %s\n", ename(errno));
        return;
    }
    basic_io();
    renames();
    unlinks();
    hardlinks();
    symlinks();
    dirs();
    attrs();
    tmpfiles();
    sizes();
    listings();
    mappings();
    copies();
    locks();
    fifos();
    fs_stats();
    if (strcmp(seed, "-"))
        seeded(seed);
    LIST("left over", D);
    TRY("cleanup", remove_tree(D));
    struct stat st;
    TRY("base gone", stat(D, &st));
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    if (argc < 3 || argc % 2 == 0) {
        fprintf(stderr, "usage: fsprobe DIR SEED [DIR SEED ...] (SEED: a directory, or -)\n");
        return 2;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        no_fifos = !strncmp(argv[i], "nofifo:", 7);
        probe(argv[i] + (no_fifos ? 7 : 0), argv[i + 1]);
    }
    printf("== done\n");
    return 0;
}
