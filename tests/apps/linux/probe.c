/* A static Linux program for the binary-compatibility tests: reports what
 * it received and did, one fact per line, and exits with argv[1]. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long elapsed_us(struct timespec a, struct timespec b)
{
    return (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
}

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        printf("env %s\n", *e);

    /* the embedded tree */
    int fd = open("/data/hello.txt", O_RDONLY);
    if (fd >= 0) {
        char buf[256];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        struct stat st;
        fstat(fd, &st);
        printf("file /data/hello.txt size=%lld: %s", (long long)st.st_size, buf);
        close(fd);
        DIR *d = opendir("/data");
        int entries = 0;
        struct dirent *de;
        while (d && (de = readdir(d)))
            entries += de->d_name[0] != '.';
        if (d)
            closedir(d);
        printf("dir /data: %d entries\n", entries);
    } else {
        printf("file /data/hello.txt: errno %d (%s)\n", errno, strerror(errno));
    }
    {   /* the tree is writable (in memory): a new file next to the image's */
        int fd = open("/data/new", O_RDWR | O_CREAT | O_EXCL, 0644);
        char back[8] = {0};
        if (fd < 0 || write(fd, "written", 7) != 7 || pread(fd, back, 7, 0) != 7)
            printf("write to a file: %s\n", strerror(errno));
        else
            printf("write to a file: %s\n", back);
        if (fd >= 0)
            close(fd);
    }

    /* malloc-heavy work: 100k allocations of varying size, all checked */
    enum { N = 100000 };
    unsigned char **p = malloc(N * sizeof *p);
    unsigned long sum = 0;
    for (int i = 0; i < N; i++) {
        size_t sz = 16 + (size_t)(i * 7919) % 2000;
        p[i] = malloc(sz);
        memset(p[i], i & 0xff, sz);
    }
    for (int i = 0; i < N; i++) {
        sum += p[i][0];
        free(p[i]);
    }
    free(p);
    void *big = malloc(8 << 20); /* mmap-backed in both libcs */
    memset(big, 1, 8 << 20);
    free(big);
    printf("malloc: %d allocations, checksum %lu\n", N, sum);

    /* anonymous mappings: PROT_NONE round trip keeps contents */
    char *m = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(m + 4096, "kept");
    mprotect(m, 3 * 4096, PROT_NONE);
    mprotect(m, 3 * 4096, PROT_READ);
    printf("mmap: %s\n", m + 4096);
    munmap(m, 3 * 4096);

    struct timespec a, b, d = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &a);
    nanosleep(&d, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long us = elapsed_us(a, b);
    printf("nanosleep 20 ms: %s\n", us >= 20000 && us < 2000000 ? "ok" : "WRONG");
    printf("realtime: %s\n", time(0) > 1700000000 ? "plausible" : "WRONG");

    struct utsname u;
    uname(&u);
    printf("uname: %s %s\n", u.sysname, u.machine);
    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    printf("exe: %s\n", exe);
    printf("isatty(1): %d\n", isatty(1));
    errno = 0;
    long r = syscall(SYS_acct, 0); /* not implemented: -ENOSYS, reported once */
    printf("acct: %ld %s\n", r, strerror(errno));
    fflush(stdout);
    return argc > 1 ? atoi(argv[1]) : 0;
}
