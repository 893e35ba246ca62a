/* The guest's file tree, as a program finds it: tests/integration/test_vfs.py
 * runs this in the guest and checks the lines (these are facts of the
 * guest's tree -- /dev, /proc, /sys, /etc defaults, the tmpfs mounts --
 * not compared with the host's). Each argument is a command:
 *
 *   facts          the tree's standard parts, one "name: value" line each
 *   create:PATH    make a new file (O_EXCL) and write to it
 *   mkdir:PATH     make a directory
 *   read:PATH      the first line of a file
 *   write:PATH     create or truncate a file and write a line to it
 *   ls:PATH        a directory's names, sorted
 *   cwd:PATH       chdir there, then getcwd
 *   statfs:PATH    the file system's type name, ro or rw, and size
 *   fill:PATH      write a new file in 64 KiB pieces until a write fails,
 *                  then check that deleting it gives the space back
 *
 * Failures print errno names. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
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
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EDQUOT: return "EDQUOT";
    }
    static char buf[24];
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

static const char *fstype(long magic)
{
    switch ((unsigned long)magic) {
    case 0x01021994: return "tmpfs";
    case 0x9fa0: return "proc";
    case 0x62656572: return "sysfs";
    case 0x01021997: return "v9fs";
    case 0x858458f6: return "ramfs";
    case 0xef53: return "ext4";
    case 0x9123683e: return "btrfs";
    case 0x58465342: return "xfs";
    case 0x794c7630: return "overlayfs";
    }
    static char buf[24];
    snprintf(buf, sizeof buf, "%#lx", (unsigned long)magic);
    return buf;
}

/* a whole (small, generated) file, NUL-terminated; NULL with errno */
static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void link_of(const char *path)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0) {
        printf("readlink %s: %s\n", path, ename(errno));
        return;
    }
    buf[n] = 0;
    printf("readlink %s: %s\n", path, buf);
}

static void writable(const char *dir)
{
    char path[PATH_MAX], buf[128];
    snprintf(path, sizeof path, "%s/treeprobe.%d", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        printf("writable %s: %s\n", dir, ename(errno));
        return;
    }
    int ok = write(fd, "tree probe data\n", 16) == 16 && pread(fd, buf, sizeof buf, 0) == 16 &&
             !memcmp(buf, "tree probe data\n", 16);
    close(fd);
    ok &= unlink(path) == 0;
    snprintf(path, sizeof path, "%s/treeprobe.dir.%d", dir, (int)getpid());
    ok &= mkdir(path, 0755) == 0 && rmdir(path) == 0;
    printf("writable %s: %s\n", dir, ok ? "ok" : ename(errno));
}

static void stat_line(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        printf("stat %s: %s\n", path, ename(errno));
        return;
    }
    const char *t = S_ISDIR(st.st_mode) ? "dir" : S_ISCHR(st.st_mode) ? "chr" : S_ISREG(st.st_mode) ? "reg" : "other";
    if (S_ISCHR(st.st_mode))
        printf("stat %s: %s %o rdev %u:%u\n", path, t, (unsigned)(st.st_mode & 07777), major(st.st_rdev),
               minor(st.st_rdev));
    else
        printf("stat %s: %s %o\n", path, t, (unsigned)(st.st_mode & 07777));
}

static void fs_of(const char *path)
{
    struct statfs s;
    if (statfs(path, &s) < 0)
        printf("fstype %s: %s\n", path, ename(errno));
    else
        printf("fstype %s: %s\n", path, fstype((long)s.f_type));
}

static int all_same(const unsigned char *p, size_t n, unsigned char c)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

static void devices(void)
{
    unsigned char buf[4096];
    int fd = open("/dev/null", O_RDWR);
    printf("dev null write: %ld\n", fd < 0 ? -1L : (long)write(fd, "hello", 5));
    printf("dev null read: %ld\n", fd < 0 ? -1L : (long)read(fd, buf, sizeof buf));
    close(fd);
    fd = open("/dev/zero", O_RDWR);
    memset(buf, 0xaa, sizeof buf);
    long n = fd < 0 ? -1 : (long)read(fd, buf, sizeof buf);
    printf("dev zero read: %ld zeros %s\n", n, n == (long)sizeof buf && all_same(buf, sizeof buf, 0) ? "yes" : "no");
    printf("dev zero write: %ld\n", fd < 0 ? -1L : (long)write(fd, "x", 1));
    close(fd);
    fd = open("/dev/full", O_RDWR);
    errno = 0;
    n = fd < 0 ? -1 : (long)write(fd, "x", 1);
    printf("dev full write: %s\n", n < 0 ? ename(errno) : "no error");
    memset(buf, 0xaa, 16);
    n = fd < 0 ? -1 : (long)read(fd, buf, 16);
    printf("dev full read: %ld zeros %s\n", n, n == 16 && all_same(buf, 16, 0) ? "yes" : "no");
    close(fd);
    const char *rnd[] = {"/dev/urandom", "/dev/random"};
    for (int i = 0; i < 2; i++) {
        fd = open(rnd[i], O_RDONLY);
        unsigned char a[32] = {0}, b[32] = {0};
        long na = fd < 0 ? -1 : (long)read(fd, a, 32), nb = fd < 0 ? -1 : (long)read(fd, b, 32);
        printf("dev %s read: %ld varied %s\n", rnd[i] + 5, na,
               na == 32 && nb == 32 && !all_same(a, 32, a[0]) && memcmp(a, b, 32) ? "yes" : "no");
        close(fd);
    }
    unsigned char g[32] = {0};
    printf("getrandom: %ld\n", (long)getrandom(g, sizeof g, 0));
    const char *nodes[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/shm"};
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++)
        stat_line(nodes[i]);
    link_of("/dev/stdin");
    link_of("/dev/stdout");
    link_of("/dev/stderr");
    link_of("/dev/fd");
    struct stat a, b;
    printf("dev fd/1 is stdout: %s\n",
           stat("/dev/fd/1", &a) == 0 && fstat(1, &b) == 0 && a.st_mode == b.st_mode ? "yes" : "no");
    fd = open("/dev/stdout", O_WRONLY);
    printf("open dev stdout: %s\n", fd < 0 ? ename(errno) : "ok");
    close(fd);
}

static int count_cpu_list(const char *s)
{
    /* "0", "0-3", "0-1,4,6-7" */
    int n = 0;
    while (*s && *s != '\n') {
        char *end;
        long a = strtol(s, &end, 10);
        if (end == s)
            return -1;
        long b = a;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1)
                return -1;
            s = end;
        }
        n += (int)(b - a + 1);
        if (*s == ',')
            s++;
    }
    return n;
}

static void procfs(char **argv)
{
    link_of("/proc/self/exe");
    int fd = open("/proc/self/exe", O_RDONLY);
    char magic[4] = {0};
    printf("exe is ELF: %s\n", fd >= 0 && read(fd, magic, 4) == 4 && !memcmp(magic, "\177ELF", 4) ? "yes" : "no");
    close(fd);
    size_t len;
    char *s = slurp("/proc/self/cmdline", &len);
    if (!s) {
        printf("cmdline: %s\n", ename(errno));
    } else {
        for (size_t i = 0; i + 1 < len; i++)
            if (!s[i])
                s[i] = ' ';
        printf("cmdline: %s\n", s);
        free(s);
    }
    printf("cmdline argv[0]: %s\n", argv[0]);

    s = slurp("/proc/meminfo", NULL);
    long total = -1, avail = -1;
    if (s) {
        char *p = strstr(s, "MemTotal:");
        if (p)
            total = strtol(p + 9, NULL, 10);
        p = strstr(s, "MemAvailable:");
        if (p)
            avail = strtol(p + 13, NULL, 10);
        free(s);
    }
    printf("meminfo MemTotal: %s\n", total > 0 ? "yes" : "no");
    printf("meminfo MemAvailable: %s\n", avail > 0 ? "yes" : "no");
    struct sysinfo si;
    printf("sysinfo totalram matches: %s\n",
           sysinfo(&si) == 0 && total > 0 && (long)((unsigned long long)si.totalram * si.mem_unit / 1024) == total
               ? "yes" : "no");

    s = slurp("/proc/cpuinfo", NULL);
    int procs = -1;
    if (s) {
        procs = 0;
        for (char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            if (!strncmp(line, "processor", 9))
                procs++;
        free(s);
    }
    printf("cpuinfo processors: %d\n", procs);
    printf("nprocs onln: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("get_nprocs: %d\n", get_nprocs());
    printf("nprocs conf: %ld\n", sysconf(_SC_NPROCESSORS_CONF));
    cpu_set_t set;
    CPU_ZERO(&set);
    printf("sched_getaffinity: %d\n", sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1);
    s = slurp("/sys/devices/system/cpu/online", NULL);
    if (!s) {
        printf("sys cpu online: %s\n", ename(errno));
    } else {
        printf("sys cpu online: %d\n", count_cpu_list(s));
        free(s);
    }
    s = slurp("/proc/uptime", NULL);
    double up = -1;
    if (s) {
        up = strtod(s, NULL);
        free(s);
    }
    printf("uptime parses: %s\n", up > 0 ? "yes" : "no");
    s = slurp("/proc/self/maps", NULL);
    printf("self maps: %s\n", s && strchr(s, '\n') ? "yes" : "no");
    free(s);
    s = slurp("/proc/self/status", NULL);
    printf("self status Pid: %s\n", s && strstr(s, "\nPid:\t") ? "yes" : "no");
    free(s);

    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("self fd: %s\n", ename(errno));
    } else {
        int fds[64], n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < 64)
            if (e->d_name[0] != '.')
                fds[n++] = atoi(e->d_name);
        for (int i = 0; i < n; i++) /* sort */
            for (int j = i + 1; j < n; j++)
                if (fds[j] < fds[i]) {
                    int t = fds[i];
                    fds[i] = fds[j];
                    fds[j] = t;
                }
        printf("self fd:");
        for (int i = 0; i < n; i++)
            printf(" %d", fds[i]);
        printf("\n");
        closedir(d);
    }

    s = slurp("/proc/mounts", NULL);
    if (!s) {
        printf("mounts: %s\n", ename(errno));
    } else {
        char *lines[64];
        int n = 0;
        for (char *save, *line = strtok_r(s, "\n", &save); line && n < 64; line = strtok_r(NULL, "\n", &save)) {
            char dev[256], dir[256], type[64];
            if (sscanf(line, "%255s %255s %63s", dev, dir, type) == 3 && asprintf(&lines[n], "%s %s", dir, type) > 0)
                n++;
        }
        qsort(lines, (size_t)n, sizeof *lines, cmpstr);
        for (int i = 0; i < n; i++) {
            printf("mount: %s\n", lines[i]);
            free(lines[i]);
        }
        free(s);
    }
}

static void etc(void)
{
    const char *files[] = {"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
                           "/etc/hostname"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct stat st;
        printf("exists %s: %s\n", files[i], stat(files[i], &st) == 0 && S_ISREG(st.st_mode) ? "yes" : "no");
    }
    char *rc = slurp("/etc/resolv.conf", NULL);
    if (rc && strchr(rc, '\n'))
        *strchr(rc, '\n') = 0;
    printf("resolv.conf: %s\n", rc ? rc : "none");
    free(rc);
    /* /etc/passwd by hand: the name of uid 0 */
    char *s = slurp("/etc/passwd", NULL), *root = NULL;
    for (char *save, *line = s ? strtok_r(s, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        char *name = line, *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 && !strncmp(c2 + 1, "0:", 2)) {
            *c1 = 0;
            root = name;
            break;
        }
    }
    printf("passwd uid 0: %s\n", root ? root : "none");
    free(s);
    struct passwd *pw = getpwuid(0);
    printf("getpwuid(0): %s\n", pw ? pw->pw_name : "NULL");
    if (pw) {
        struct stat st;
        printf("root's home is a dir: %s\n", stat(pw->pw_dir, &st) == 0 && S_ISDIR(st.st_mode) ? "yes" : "no");
    }
    struct group *gr = getgrgid(0);
    printf("getgrgid(0): %s\n", gr ? gr->gr_name : "NULL");
    s = slurp("/etc/hosts", NULL);
    int localhost = 0;
    for (char *save, *line = s ? strtok_r(s, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        char addr[64], rest[512];
        if (sscanf(line, "%63s %511[^\n]", addr, rest) == 2 && !strcmp(addr, "127.0.0.1")) {
            for (char *sv, *tok = strtok_r(rest, " \t", &sv); tok; tok = strtok_r(NULL, " \t", &sv))
                localhost |= !strcmp(tok, "localhost");
        }
    }
    free(s);
    printf("hosts 127.0.0.1 localhost: %s\n", localhost ? "yes" : "no");
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int e = getaddrinfo("localhost", NULL, &hints, &res);
    if (e) {
        printf("getaddrinfo localhost: %s\n", gai_strerror(e));
    } else {
        char b[64];
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, b, sizeof b);
        printf("getaddrinfo localhost: %s\n", b);
        freeaddrinfo(res);
    }
    char host[256] = "";
    gethostname(host, sizeof host);
    s = slurp("/etc/hostname", NULL);
    if (s)
        s[strcspn(s, "\n")] = 0;
    printf("hostname: %s /etc/hostname: %s\n", host, s ? s : ename(errno));
    free(s);
}

static void facts(char **argv)
{
    writable("/tmp");
    writable("/run");
    writable("/dev/shm");
    stat_line("/tmp");
    stat_line("/run");
    fs_of("/tmp");
    fs_of("/run");
    fs_of("/dev/shm");
    fs_of("/dev");
    fs_of("/proc");
    fs_of("/sys");
    devices();
    procfs(argv);
    etc();
}

static void fill(const char *path)
{
    static char chunk[65536];
    memset(chunk, 'f', sizeof chunk);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        printf("fill %s: %s\n", path, ename(errno));
        return;
    }
    long long total = 0;
    int err = 0;
    for (;;) {
        ssize_t w = write(fd, chunk, sizeof chunk);
        if (w < 0) {
            err = errno;
            break;
        }
        if (w == 0) /* no progress and no error: stop rather than spin */
            break;
        total += w;
        if (total > (8LL << 30))
            break;
    }
    printf("fill %s: %s after %lld KiB\n", path, err ? ename(err) : "no error", total / 1024);
    errno = 0;
    printf("fill %s fsync: %s\n", path, fsync(fd) == 0 ? "ok" : ename(errno));
    printf("fill %s close: %s\n", path, close(fd) == 0 ? "ok" : ename(errno));
    struct stat st;
    printf("fill %s size KiB: %lld\n", path, stat(path, &st) == 0 ? (long long)st.st_size / 1024 : -1LL);
    /* a second file cannot grow either, then the space comes back */
    char other[PATH_MAX];
    snprintf(other, sizeof other, "%s.more", path);
    errno = 0;
    fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t w = fd < 0 ? -1 : write(fd, chunk, sizeof chunk);
    printf("fill %s another write: %s\n", path, w == (ssize_t)sizeof chunk ? "ok" : w >= 0 ? "short" : ename(errno));
    if (fd >= 0)
        close(fd);
    unlink(other);
    printf("fill %s unlink: %s\n", path, unlink(path) == 0 ? "ok" : ename(errno));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    long long again = 0;
    while (fd >= 0 && again < (1 << 20)) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n <= 0)
            break;
        again += n;
    }
    printf("fill %s after unlink: %lld KiB written\n", path, again / 1024);
    if (fd >= 0)
        close(fd);
    unlink(path);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *path = strchr(arg, ':');
        if (!strcmp(arg, "facts")) {
            facts(argv);
            continue;
        }
        if (!path) {
            printf("bad command: %s\n", arg);
            return 2;
        }
        *path++ = 0;
        errno = 0;
        if (!strcmp(arg, "create")) {
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
            int ok = fd >= 0 && write(fd, "created\n", 8) == 8;
            printf("create %s: %s\n", path, ok ? "ok" : ename(errno));
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(arg, "mkdir")) {
            printf("mkdir %s: %s\n", path, mkdir(path, 0755) == 0 ? "ok" : ename(errno));
        } else if (!strcmp(arg, "write")) {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int ok = fd >= 0 && write(fd, "written by the guest\n", 21) == 21;
            printf("write %s: %s\n", path, ok ? "ok" : ename(errno));
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(arg, "read")) {
            char buf[256] = "";
            int fd = open(path, O_RDONLY);
            long n = fd < 0 ? -1 : (long)read(fd, buf, sizeof buf - 1);
            if (n < 0) {
                printf("read %s: %s\n", path, ename(errno));
            } else {
                buf[n] = 0;
                buf[strcspn(buf, "\n")] = 0;
                printf("read %s: \"%s\"\n", path, buf);
            }
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(arg, "ls")) {
            DIR *d = opendir(path);
            if (!d) {
                printf("ls %s: %s\n", path, ename(errno));
                continue;
            }
            char *names[1024];
            int n = 0;
            struct dirent *e;
            while ((e = readdir(d)) && n < 1024)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                    names[n++] = strdup(e->d_name);
            closedir(d);
            qsort(names, (size_t)n, sizeof *names, cmpstr);
            printf("ls %s:", path);
            for (int k = 0; k < n; k++) {
                printf(" %s", names[k]);
                free(names[k]);
            }
            printf("\n");
        } else if (!strcmp(arg, "cwd")) {
            char buf[PATH_MAX];
            if (chdir(path) < 0)
                printf("cwd %s: %s\n", path, ename(errno));
            else
                printf("cwd %s: %s\n", path, getcwd(buf, sizeof buf) ? buf : ename(errno));
        } else if (!strcmp(arg, "statfs")) {
            struct statfs s;
            if (statfs(path, &s) < 0)
                printf("statfs %s: %s\n", path, ename(errno));
            else
                printf("statfs %s: %s %s size KiB %llu\n", path, fstype((long)s.f_type),
                       s.f_flags & ST_RDONLY ? "ro" : "rw",
                       (unsigned long long)s.f_blocks * (unsigned long long)s.f_bsize / 1024);
        } else if (!strcmp(arg, "fill")) {
            fill(path);
        } else {
            printf("bad command: %s\n", arg);
            return 2;
        }
    }
    printf("treeprobe: done\n");
    return 0;
}
