/* File pages shared, not copied (the kernel's page cache, vm.c), and still
 * right. Without arguments: what private mappings and exec show after
 * writes, truncation, rename-over, unlink and a shared mapping's write-back
 * -- the same bytes on Linux and in the guest. "mem": the memory a private
 * mapping of a 4 MiB file and an exec of this program add per process, from
 * /proc/meminfo's MemAvailable (numbers for the test to judge, in the guest).
 * "mark": print the marker (exec'd by the checks). "hold": an exec'd child
 * that says it is up and waits for its parent to go. "stress": mapping,
 * writing and reclaiming at once (in the guest only: see stress()). */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

/* A marker in the middle of three pages of read-only data: its page is a
 * whole page of the file, which the loader maps from the page cache. */
static const struct {
    char pad[PG + 1000];
    char mark[32];
    char pad2[PG + 1000];
} big __attribute__((aligned(PG))) = {{0}, "ORIGINAL-MARKER-0123456789", {0}};

static char dir[256], self[256];

static void die(const char *what)
{
    printf("FAIL %s: %s\n", what, strerror(errno));
    exit(1);
}

static char *path(const char *name)
{
    static char buf[4][300];
    static int i;
    char *b = buf[i++ & 3];
    snprintf(b, 300, "%s/%s", dir, name);
    return b;
}

/* A file of `pages` pages, page i filled with base + i. */
static void make_file(const char *p, int pages, char base)
{
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0)
        die("create");
    char b[PG];
    for (int i = 0; i < pages; i++) {
        memset(b, base + i % 26, PG);
        if (write(fd, b, PG) != PG)
            die("write");
    }
    close(fd);
}

static char *map(const char *p, size_t len, int prot, int flags)
{
    int fd = open(p, prot & PROT_WRITE && flags & MAP_SHARED ? O_RDWR : O_RDONLY);
    if (fd < 0)
        die("open");
    char *m = mmap(0, len, prot, flags, fd, 0);
    if (m == MAP_FAILED)
        die("mmap");
    close(fd);
    return m;
}

static void show(const char *what, const char *m, size_t at)
{
    printf("%s: %c\n", what, m[at] ? m[at] : '0');
}

static void run_child(char *const argv[])
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static long copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_CREAT | O_TRUNC | O_WRONLY, 0755);
    if (in < 0 || out < 0)
        die("copy open");
    char b[65536];
    long n, total = 0;
    while ((n = read(in, b, sizeof b)) > 0) {
        if (write(out, b, (size_t)n) != n)
            die("copy write");
        total += n;
    }
    close(in);
    close(out);
    return total;
}

static int semantics(void)
{
    /* private mappings in two processes: a write is the writer's alone */
    make_file(path("f"), 8, 'a');
    char *p = map(path("f"), 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *c = map(path("f"), 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
        c[0] = 'X';
        p[PG] = 'Y';
        show("child's own mapping, written", c, 0);
        show("child's own mapping, page 1", c, PG);
        show("inherited mapping, written", p, PG);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    show("parent after the child wrote, page 0", p, 0);
    show("parent after the child wrote, page 1", p, PG);
    p[2 * PG] = 'P';
    show("parent's write", p, 2 * PG);
    /* the kernel writing into the mapping (read() into it) is a write too */
    int zf = open("/dev/zero", O_RDONLY);
    if (zf < 0 || read(zf, p + 4 * PG + 10, 20) != 20)
        die("read into the mapping");
    close(zf);
    show("read() into the mapping", p, 4 * PG + 10);
    char *q = map(path("f"), 8 * PG, PROT_READ, MAP_PRIVATE);
    show("a new mapping does not see the parent's write", q, 2 * PG);
    show("nor what read() put in the parent's", q, 4 * PG + 10);
    char c;
    pread(open(path("f"), O_RDONLY), &c, 1, 2 * PG);
    printf("the file does not either: %c\n", c);

    /* write() then a new mapping: the new bytes */
    int fd = open(path("f"), O_WRONLY);
    pwrite(fd, "Z", 1, 3 * PG + 7);
    char *r = map(path("f"), 8 * PG, PROT_READ, MAP_PRIVATE);
    show("after pwrite, a new mapping", r, 3 * PG + 7);
    show("after pwrite, a new mapping, next byte", r, 3 * PG + 8);
    lseek(fd, 5 * PG, SEEK_SET);
    write(fd, "WW", 2);
    char *r2 = map(path("f"), 8 * PG, PROT_READ, MAP_PRIVATE);
    show("after write, a new mapping", r2, 5 * PG + 1);

    /* truncate: the last page's tail reads zeros */
    ftruncate(fd, 2 * PG + 100);
    char *t = map(path("f"), 3 * PG, PROT_READ, MAP_PRIVATE);
    show("truncated, last page before the end", t, 2 * PG + 99);
    show("truncated, last page past the end", t, 2 * PG + 100);
    ftruncate(fd, 4 * PG);
    char *t2 = map(path("f"), 4 * PG, PROT_READ, MAP_PRIVATE);
    show("extended again, old tail", t2, 2 * PG + 200);
    show("extended again, new page", t2, 3 * PG + 7);
    close(fd);

    /* rename over: the new file's bytes; a mapping of the old keeps the old */
    char *old = map(path("f"), 2 * PG, PROT_READ, MAP_PRIVATE);
    make_file(path("g"), 2, 'm');
    rename(path("g"), path("f"));
    char *n = map(path("f"), 2 * PG, PROT_READ, MAP_PRIVATE);
    show("renamed over, new mapping", n, 10);
    show("renamed over, old mapping", old, 10);

    /* unlink and create again */
    unlink(path("f"));
    make_file(path("f"), 2, 'q');
    char *u = map(path("f"), 2 * PG, PROT_READ, MAP_PRIVATE);
    show("unlinked and made again", u, PG + 5);

    /* a shared mapping's write, written back, reaches later private mappings */
    char *s = map(path("f"), 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED);
    s[PG + 5] = 'S';
    msync(s, 2 * PG, MS_SYNC);
    char *v = map(path("f"), 2 * PG, PROT_READ, MAP_PRIVATE);
    show("after a shared mapping's msync, a private mapping", v, PG + 5);
    munmap(s, 2 * PG);

    /* exec of a program file, patched between two runs */
    char exe[300];
    snprintf(exe, sizeof exe, "%s", path("prog"));
    long size = copy_file(self, exe);
    char *argv[] = {exe, "mark", 0};
    run_child(argv);
    int pf = open(exe, O_RDWR);
    char *img = malloc((size_t)size);
    if (pf < 0 || !img || pread(pf, img, (size_t)size, 0) != size)
        die("read the program");
    static const volatile char enc[] = "PSJHJOBM.NBSLFS"; /* the marker + 1: not itself in the program */
    char needle[16];
    for (int i = 0; i < 15; i++)
        needle[i] = (char)(enc[i] - 1);
    char *at = memmem(img, (size_t)size, needle, 15);
    if (!at || memmem(at + 1, (size_t)(size - (at + 1 - img)), needle, 15))
        die("the marker is not in the program once");
    pwrite(pf, "PATCHED!", 8, at - img);
    close(pf);
    run_child(argv);
    unlink(exe);
    copy_file(self, exe); /* a new file of the same name */
    run_child(argv);
    unlink(exe);
    unlink(path("f"));
    printf("== done\n");
    return 0;
}

/* /proc/meminfo's line, kB. */
static long meminfo(const char *name)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, name, n) && line[n] == ':')
            v = strtol(line + n + 1, 0, 10);
    if (f)
        fclose(f);
    return v;
}

/* The bytes of this program's PT_LOAD segments in its file. */
static long loadable(void)
{
    int fd = open(self, O_RDONLY);
    Elf64_Ehdr eh;
    long total = 0;
    if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != sizeof eh)
        return -1;
    for (int i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) != sizeof ph)
            return -1;
        if (ph.p_type == PT_LOAD)
            total += (long)ph.p_filesz;
    }
    close(fd);
    return total;
}

#define KIDS 6
#define FILE_PAGES 1024

/* Children that each map the 4 MiB file privately, read all of it and
 * write one page (fork), or exec this program (exec): MemAvailable with
 * one of them up, then with 1 + KIDS; the difference / KIDS is what one
 * more costs. */
static long per_process(int exec)
{
    int up[2], go[2];
    pid_t kids[KIDS + 1];
    long with_one = 0;
    if (pipe(up) || pipe(go))
        die("pipe");
    fflush(stdout);
    for (int k = 0; k <= KIDS; k++) {
        if ((kids[k] = fork()) < 0)
            die("fork");
        if (kids[k] == 0) {
            close(go[1]);
            close(up[0]);
            if (exec) {
                char fds[32];
                snprintf(fds, sizeof fds, "%d,%d", up[1], go[0]);
                execl(self, "pagecache", "hold", fds, (char *)0);
                _exit(127);
            }
            char *m = map(path("big"), FILE_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
            m[7 * PG] = '!';
            char ok = 1;
            for (int i = 0; i < FILE_PAGES; i++)
                if (m[i * PG + 1] != 'a' + i % 26)
                    ok = 0;
            write(up[1], &ok, 1);
            char c;
            read(go[0], &c, 1);
            _exit(m[7 * PG] == '!' ? 0 : 3);
        }
        char ok;
        if (read(up[0], &ok, 1) != 1 || !ok)
            printf("FAIL child %d did not see the file's bytes\n", k);
        if (k == 0)
            with_one = meminfo("MemAvailable");
    }
    long with_all = meminfo("MemAvailable");
    close(go[1]);
    for (int k = 0; k <= KIDS; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            printf("FAIL child %d ended %#x\n", k, st);
    }
    close(up[0]);
    close(up[1]);
    close(go[0]);
    return (with_one - with_all) / KIDS;
}

static int memory(void)
{
    make_file(path("big"), FILE_PAGES, 'a');
    long avail0 = meminfo("MemAvailable"), cached0 = meminfo("Cached");
    char *m = map(path("big"), FILE_PAGES * PG, PROT_READ, MAP_PRIVATE);
    long sum = 0;
    for (int i = 0; i < FILE_PAGES; i++)
        sum += m[i * PG];
    long avail1 = meminfo("MemAvailable");
    printf("file KiB %d\n", FILE_PAGES * PG / 1024);
    printf("first mapping KiB %ld\n", avail0 - avail1);
    long cached1 = meminfo("Cached");
    printf("first mapping, cached KiB %ld\n", cached1 - cached0);
    printf("fork+map KiB per process %ld\n", per_process(0));
    printf("parent's page 7 %c\n", m[7 * PG + 1]);
    munmap(m, FILE_PAGES * PG);
    long avail2 = meminfo("MemAvailable");
    printf("unmapped, available again KiB %ld\n", avail2 - avail1);
    long cached2 = meminfo("Cached");
    printf("unmapped, cached KiB %ld\n", cached2 - cached1);
    /* Memory past the free pages: the cache's pages nobody maps give way
     * (else the child dies of the OOM killer's SIGKILL). */
    long free_kib = meminfo("MemFree"), fill_kib = meminfo("MemAvailable") - 1536;
    printf("reclaimable over the fill KiB %ld\n", fill_kib - free_kib);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *a = mmap(0, (size_t)fill_kib * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED)
            _exit(2);
        for (long i = 0; i < fill_kib * 1024; i += PG)
            a[i] = 1;
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("filled memory past the free pages: %s\n", WIFEXITED(st) && !WEXITSTATUS(st) ? "ok" : "killed");
    unlink(path("big"));
    printf("unlinked, cached KiB %ld\n", cached2 - meminfo("Cached"));
    printf("loadable KiB %ld\n", loadable() / 1024);
    per_process(1); /* the first exec fills the cache with the program's pages */
    printf("exec KiB per process %ld\n", per_process(1));
    printf("== done\n");
    return 0;
}

/* Processes at once on every CPU: one maps the file privately again and
 * again and checks every page is whole (each write is one whole page, and
 * a mapping keeps the pages it mapped: on Linux a private mapping shows
 * writes as they come, so this holds in the guest only), one rewrites
 * pages, one takes memory past the free pages (the cache gives way under
 * them). */
static int stress(void)
{
    enum { PAGES = 64, ROUNDS = 200 };
    make_file(path("s"), PAGES, 'a');
    make_file(path("r"), 4096, 'a'); /* 16 MiB in the cache, mapped by nothing once read */
    char *r = map(path("r"), 4096 * PG, PROT_READ, MAP_PRIVATE);
    munmap(r, 4096 * PG);
    long fill_kib = meminfo("MemFree") + 8192, cached = meminfo("Cached"); /* half of it must give way */
    pid_t kids[3];
    fflush(stdout);
    for (int k = 0; k < 3; k++) {
        if ((kids[k] = fork()) < 0)
            die("fork");
        if (kids[k])
            continue;
        if (k == 0) {
            for (int r = 0; r < ROUNDS; r++) {
                char *m = map(path("s"), PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
                for (int i = 0; i < PAGES; i++)
                    for (int b = 1; b < PG; b++)
                        if (m[i * PG + b] != m[i * PG])
                            _exit(10);
                m[(r % PAGES) * PG] ^= 1; /* a private copy, not the file's */
                munmap(m, PAGES * PG);
            }
            _exit(0);
        }
        if (k == 1) {
            int fd = open(path("s"), O_WRONLY);
            char b[PG];
            for (int r = 0; r < ROUNDS * 4; r++) {
                memset(b, 'a' + r % 26, PG);
                if (pwrite(fd, b, PG, (off_t)(r % PAGES) * PG) != PG)
                    _exit(11);
            }
            _exit(0);
        }
        for (int r = 0; r < 4; r++) {
            char *a = mmap(0, (size_t)fill_kib * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (a == MAP_FAILED)
                _exit(12);
            for (long i = 0; i < fill_kib * 1024; i += PG)
                a[i] = 1;
            munmap(a, (size_t)fill_kib * 1024);
        }
        _exit(0);
    }
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) {
            printf("FAIL stress child %d ended %#x\n", k, st);
            bad = 1;
        }
    }
    long gone = cached - meminfo("Cached");
    printf("the cache gave way: %s\n", gone >= 8192 ? "yes" : "no");
    char *m = map(path("s"), PAGES * PG, PROT_READ, MAP_PRIVATE);
    int fd = open(path("s"), O_RDONLY);
    char b[PG];
    for (int i = 0; i < PAGES; i++)
        if (pread(fd, b, PG, (off_t)i * PG) != PG || memcmp(b, m + i * PG, PG)) {
            printf("FAIL page %d of a new mapping is not the file's\n", i);
            bad = 1;
        }
    close(fd);
    unlink(path("s"));
    unlink(path("r"));
    printf("stress %s\n== done\n", bad ? "failed" : "ok");
    return bad;
}

static int hold(const char *fds)
{
    int up = atoi(fds), go = atoi(strchr(fds, ',') + 1);
    char ok = 1, c;
    write(up, &ok, 1);
    read(go, &c, 1);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "mark")) {
        const char *volatile mark = big.mark;
        printf("marker %s\n", mark);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "hold"))
        return hold(argv[2]);
    setvbuf(stdout, 0, _IOLBF, 0);
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        die("readlink /proc/self/exe");
    self[sl] = 0;
    snprintf(dir, sizeof dir, "/tmp/pagecache-%d", (int)getpid());
    if (mkdir(dir, 0755))
        die("mkdir");
    int rc = argc > 1 && !strcmp(argv[1], "mem")      ? memory()
             : argc > 1 && !strcmp(argv[1], "stress") ? stress()
                                                      : semantics();
    if (rmdir(dir))
        printf("FAIL rmdir: %s\n", strerror(errno));
    return rc;
}
