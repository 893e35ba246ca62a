/* Bulk reads and writes of a --mount file from and into every kind of
 * program memory (test_hostfs.py): the kernel hands these pages to the
 * 9P device as they are (zero copy), so each kind must come out right --
 * an unaligned heap buffer, untouched anonymous memory, a copy-on-write
 * page after fork, a private mapping of a file, the stack, a buffer that
 * another thread unmaps while the read is in flight. Prints one line per
 * case with a checksum; the host runs the same binary on a host directory.
 * usage: zcprobe DIR */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (3 << 20) /* several messages' worth */

static uint32_t sum(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31 + (i >> 9) + seed) & 0xff);
}

static long read_all(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
        if (r <= 0)
            return r < 0 ? -1 : (long)done;
        done += (size_t)r;
    }
    return (long)done;
}

struct unmapper {
    void *p;
    size_t n;
};

static void *unmap_soon(void *arg)
{
    struct unmapper *u = arg;
    usleep(200);
    munmap(u->p, u->n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    char path[512], mpath[512];
    snprintf(path, sizeof path, "%s/zc.bin", argv[1]);
    snprintf(mpath, sizeof mpath, "%s/map.bin", argv[1]);

    /* write from an unaligned heap buffer */
    unsigned char *heap = malloc(SIZE + 64);
    unsigned char *src = heap + 13;
    fill(src, SIZE, 1);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, src, SIZE) != SIZE) {
        perror("write");
        return 1;
    }
    printf("write unaligned heap: %08x\n", sum(src, SIZE));

    /* read into untouched anonymous memory, at an unaligned offset */
    unsigned char *anon = mmap(0, SIZE + 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long n = read_all(fd, anon + 100, SIZE - 5000, 4000);
    printf("read into untouched memory: %ld %08x, before it %02x%02x\n", n, sum(anon + 100, (size_t)n), anon[0],
           anon[99]);

    /* read into copy-on-write pages: the child's copy gets the bytes, the parent's stays */
    unsigned char *cow = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill(cow, SIZE, 7);
    uint32_t before = sum(cow, SIZE);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long r = read_all(fd, cow, SIZE, 0);
        printf("child read into cow pages: %ld %s\n", r, sum(cow, SIZE) == sum(src, SIZE) ? "file's bytes" : "WRONG");
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("parent's pages after the child's read: %s\n", sum(cow, SIZE) == before ? "unchanged" : "CHANGED");

    /* read into a private mapping of another file of the mount, and write from one */
    int mfd = open(mpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    fill(src, SIZE, 3);
    if (mfd < 0 || write(mfd, src, SIZE) != SIZE)
        return 1;
    unsigned char *map = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
    n = read_all(fd, map + 4096, 65536, 0);
    fill(src, SIZE, 1);
    int got = sum(map + 4096, 65536) == sum(src, 65536);
    unsigned char *chk = malloc(65536);
    read_all(mfd, chk, 65536, 4096);
    fill(src, SIZE, 3);
    int file_kept = sum(chk, 65536) == sum(src + 4096, 65536);
    printf("read into a private file mapping: %ld %s, the file %s\n", n, got ? "file's bytes" : "WRONG",
           file_kept ? "unchanged" : "CHANGED");
    if (pwrite(fd, map, 3 * 4096 + 77, 100) != 3 * 4096 + 77)
        return 1;
    n = read_all(fd, heap, 3 * 4096 + 77, 100);
    printf("write from a private file mapping: %s\n", sum(heap, (size_t)n) == sum(map, 3 * 4096 + 77) ? "ok" : "WRONG");

    /* the stack */
    unsigned char stack[20000];
    n = read_all(fd, stack + 1, sizeof stack - 1, 12345);
    printf("read into the stack: %ld %08x\n", n, sum(stack + 1, (size_t)n));

    /* a buffer another thread unmaps during the read: the read finishes or fails, the kernel stays up */
    struct unmapper u = {mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), SIZE};
    pthread_t t;
    pthread_create(&t, 0, unmap_soon, &u);
    ssize_t r = pread(fd, u.p, 4096 * 8, 0); /* small enough to be one message either way */
    pthread_join(t, 0);
    printf("read while unmapped: %s\n", r == 4096 * 8 || r < 0 ? "done" : "odd");
    unsigned char *again = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("fresh memory after it is zero: %s\n", sum(again, SIZE) == sum(memset(heap, 0, SIZE), SIZE) ? "yes" : "NO");
    close(fd);
    close(mfd);
    return 0;
}
