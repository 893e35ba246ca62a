/* Host-directory test for hermitcore (run --mount HOST:/host): writes a
 * 10 MiB file and 1000 small files, reads what the host put there, and
 * exercises the calls programs use on files. Prints one line per check. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG (10u << 20)

static int fails;
#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (cond) {                                                                      \
            printf("ok: " __VA_ARGS__);                                                  \
        } else {                                                                         \
            printf("FAIL (%s): ", strerror(errno));                                      \
            printf(__VA_ARGS__);                                                         \
            fails++;                                                                     \
        }                                                                                \
        printf("\n");                                                                    \
    } while (0)

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + (i >> 12)); }

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/host";
    char path[512];
    static uint8_t buf[BIG];

    /* a host-created file, read back */
    snprintf(path, sizeof path, "%s/from-host.txt", dir);
    FILE *f = fopen(path, "r");
    char line[256] = "";
    CHECK(f && fgets(line, sizeof line, f), "read host file: %s", line[0] ? strtok(line, "\n") : "(nothing)");
    if (f)
        fclose(f);

    /* 10 MiB written in odd-sized pieces, then read back and compared */
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pattern(i);
    snprintf(path, sizeof path, "%s/big.bin", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < BIG) {
        size_t n = BIG - done < 100003 ? BIG - done : 100003;
        ssize_t w = write(fd, buf + done, n);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    CHECK(fd >= 0 && done == BIG && fsync(fd) == 0 && close(fd) == 0, "wrote big.bin: %zu bytes", done);
    memset(buf, 0, BIG);
    fd = open(path, O_RDONLY);
    done = 0;
    ssize_t r;
    while (fd >= 0 && (r = read(fd, buf + done, BIG - done)) > 0)
        done += (size_t)r;
    int same = done == BIG;
    for (size_t i = 0; same && i < BIG; i++)
        same = buf[i] == pattern(i);
    struct stat st;
    CHECK(same && fstat(fd, &st) == 0 && st.st_size == BIG && S_ISREG(st.st_mode), "read big.bin back: %zu bytes, identical", done);
    close(fd);

    /* 1000 small files in a new directory */
    snprintf(path, sizeof path, "%s/many", dir);
    CHECK(mkdir(path, 0755) == 0, "mkdir many");
    int made = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(path, sizeof path, "%s/many/f%04d.txt", dir, i);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            break;
        int n = dprintf(fd, "file %d\n", i);
        if (close(fd) == 0 && n > 0)
            made++;
    }
    CHECK(made == 1000, "created %d small files", made);
    snprintf(path, sizeof path, "%s/many", dir);
    DIR *d = opendir(path);
    int listed = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        listed += e->d_name[0] == 'f';
    if (d)
        closedir(d);
    CHECK(listed == 1000, "listed %d entries", listed);

    /* O_EXCL on an existing file, pread/pwrite, lseek, O_APPEND, ftruncate */
    snprintf(path, sizeof path, "%s/many/f0000.txt", dir);
    CHECK(open(path, O_WRONLY | O_CREAT | O_EXCL, 0644) < 0 && errno == EEXIST, "O_EXCL: EEXIST");
    snprintf(path, sizeof path, "%s/edit.txt", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char got[32] = "";
    int ok = fd >= 0 && write(fd, "hello world", 11) == 11 && pwrite(fd, "HELLO", 5, 0) == 5 &&
             lseek(fd, 0, SEEK_END) == 11 && pread(fd, got, 11, 0) == 11;
    CHECK(ok && !memcmp(got, "HELLO world", 11), "pwrite/pread/lseek: %.11s", got);
    CHECK(ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "ftruncate to 5");
    close(fd);
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "!", 1) == 1 && close(fd) == 0 && stat(path, &st) == 0 && st.st_size == 6, "O_APPEND");

    /* rename, unlink, rmdir */
    char to[512];
    snprintf(to, sizeof to, "%s/renamed.txt", dir);
    CHECK(rename(path, to) == 0 && access(path, F_OK) != 0 && stat(to, &st) == 0, "rename");
    snprintf(path, sizeof path, "%s/gone", dir);
    CHECK(mkdir(path, 0700) == 0 && rmdir(path) == 0 && stat(path, &st) != 0 && errno == ENOENT, "mkdir + rmdir");
    snprintf(path, sizeof path, "%s/delete-me", dir);
    CHECK(unlink(path) == 0, "unlink a host file");
    CHECK(open("/host-missing/x", O_RDONLY) < 0 && errno == ENOENT, "outside the mount: ENOENT");
    CHECK(chdir(dir) == 0 && open("renamed.txt", O_RDONLY) >= 0, "chdir into the mount, relative open");
    printf("files: %d failed\n", fails);
    return fails ? 1 : 0;
}
