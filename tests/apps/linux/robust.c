/* Robustness probe: what a program does at the edges -- racing page faults,
 * exhausted memory, descriptors, threads and sockets, pipes without readers,
 * stack overflows, file locks, standard input with nothing behind it. The
 * test suite runs it in the guest and, where the output does not depend on
 * the machine, on the host too, and compares what both print.
 *   robust race ROUNDS      threads first-touch the same fresh pages at once
 *   robust stress ROUNDS    threads fault, map, unmap, mprotect, madvise the
 *                           same regions; futexes, pipes, sockets on every CPU
 *   robust oom              mmap beyond RAM, then touch memory until killed
 *   robust fds              descriptors past RLIMIT_NOFILE
 *   robust threads          threads until the kernel has no room for one more
 *   robust sockets N        N sockets opened, bound, closed
 *   robust sigpipe          a pipe writer without a reader
 *   robust stack | stack-thread   recursion until the stack ends
 *   robust stdin            poll/select/read on standard input
 *   robust locks DIR        fcntl record locks (POSIX and OFD) and flock
 *   robust calls DIR        getgroups, wait4, sendfile, chmod/chown/utimensat
 *   robust mmap DIR         shared and private file mappings: coherence between
 *                           mappings, msync, munmap, exit write-back
 *   robust mmap-coherent DIR  write()/pwrite()/ftruncate seen through shared
 *                           mappings and never undone by their write-back;
 *                           MAP_FIXED over a file's own shared mapping
 *   robust mmap-crash DIR   write through a shared mapping, then crash
 *   robust mmap-ro FILE     private and shared read-only mappings of a file
 *   robust kernel ADDR...   the guest kernel's own pages at ADDR are out of
 *                           the program's reach: no mapping over them, no
 *                           unmapping, no re-protecting, no system call I/O */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static const char *err(int e) { return e ? strerror(e) : "ok"; }

/* --- race: every thread writes every page of a fresh mapping at once --- */
#define RACE_THREADS 4
#define RACE_PAGES 64
static pthread_barrier_t race_start, race_done;
static volatile char *race_region;
static int race_rounds;

static void *race_worker(void *arg)
{
    long id = (long)arg;
    for (int r = 0; r < race_rounds; r++) {
        pthread_barrier_wait(&race_start);
        for (int p = 0; p < RACE_PAGES; p++)
            race_region[p * PAGE + id * 8] = (char)(r + id + 1);
        pthread_barrier_wait(&race_done);
    }
    return 0;
}

static int race(int rounds)
{
    pthread_t t[RACE_THREADS];
    race_rounds = rounds;
    pthread_barrier_init(&race_start, 0, RACE_THREADS + 1);
    pthread_barrier_init(&race_done, 0, RACE_THREADS + 1);
    for (long i = 0; i < RACE_THREADS; i++)
        pthread_create(&t[i], 0, race_worker, (void *)i);
    long bad = 0;
    for (int r = 0; r < rounds; r++) {
        race_region = mmap(0, RACE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (race_region == MAP_FAILED) {
            printf("race: mmap: %s\n", strerror(errno));
            return 1;
        }
        pthread_barrier_wait(&race_start);
        pthread_barrier_wait(&race_done);
        for (int p = 0; p < RACE_PAGES; p++)
            for (long id = 0; id < RACE_THREADS; id++)
                bad += race_region[p * PAGE + id * 8] != (char)(r + id + 1);
        munmap((void *)race_region, RACE_PAGES * PAGE);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], 0);
    printf("race: %d rounds x %d threads x %d pages, %ld lost writes\n", rounds, RACE_THREADS, RACE_PAGES, bad);
    return bad != 0;
}

/* --- stress: the memory, futex, pipe and socket paths under threads --- */
#define STRESS_THREADS 4
static int stress_rounds;
static char *shared_ro, *shared_dn; /* read while another thread mprotects / drops them */
static volatile int stop_readers;
static pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pc = PTHREAD_COND_INITIALIZER;
static long counter;
static long stress_errors;
static int pipefd[2];

static void *stress_mapper(void *arg)
{
    long id = (long)arg;
    for (int r = 0; r < stress_rounds; r++) {
        size_t len = (size_t)(1 + (r + id) % 16) * PAGE;
        char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            __atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        for (size_t o = 0; o < len; o += PAGE)
            p[o] = (char)id;
        mprotect(p, len, PROT_READ);
        for (size_t o = 0; o < len; o += PAGE)
            if (p[o] != (char)id)
                __atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
        munmap(p, len);
        pthread_mutex_lock(&pm); /* futexes: a contended counter and a condition */
        counter++;
        pthread_cond_broadcast(&pc);
        pthread_mutex_unlock(&pm);
    }
    return 0;
}

static void *stress_reader(void *arg)
{
    unsigned long sum = 0;
    while (!stop_readers)
        for (int p = 0; p < 16; p++)
            sum += (unsigned char)shared_ro[p * PAGE] + (unsigned char)shared_dn[p * PAGE];
    return (void *)sum;
}

static void *stress_pipe_writer(void *arg)
{
    unsigned char buf[1000];
    for (int r = 0; r < stress_rounds * 10; r++) {
        for (int i = 0; i < 1000; i++)
            buf[i] = (unsigned char)(r + i);
        size_t done = 0;
        while (done < sizeof buf) {
            ssize_t w = write(pipefd[1], buf + done, sizeof buf - done);
            if (w <= 0)
                return (void *)1;
            done += (size_t)w;
        }
    }
    close(pipefd[1]);
    return 0;
}

static void *stress_sockets(void *arg)
{
    for (int r = 0; r < stress_rounds; r++) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s < 0 || close(s) != 0)
            __atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

static int stress(int rounds)
{
    stress_rounds = rounds;
    shared_ro = mmap(0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    shared_dn = mmap(0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pipe(pipefd) != 0)
        return 1;
    pthread_t mappers[STRESS_THREADS], readers[2], writer, sockets;
    for (long i = 0; i < STRESS_THREADS; i++)
        pthread_create(&mappers[i], 0, stress_mapper, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_create(&readers[i], 0, stress_reader, 0);
    pthread_create(&writer, 0, stress_pipe_writer, 0);
    pthread_create(&sockets, 0, stress_sockets, 0);
    /* this thread: flip the read-mostly region's protection and drop the
     * other's pages under the readers, and read the pipe */
    unsigned char buf[4096];
    long got = 0, pipe_bad = 0;
    for (int r = 0; r < rounds; r++) {
        mprotect(shared_ro, 16 * PAGE, r & 1 ? PROT_READ : PROT_READ | PROT_WRITE);
        madvise(shared_dn, 16 * PAGE, MADV_DONTNEED);
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        for (ssize_t i = 0; i < n; i++, got++)
            pipe_bad += buf[i] != (unsigned char)(got / 1000 + got % 1000);
    }
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++, got++)
            pipe_bad += buf[i] != (unsigned char)(got / 1000 + got % 1000);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(mappers[i], 0);
    stop_readers = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(readers[i], 0);
    void *wrc;
    pthread_join(writer, &wrc);
    pthread_join(sockets, 0);
    printf("stress: %d rounds: counter %ld, pipe %ld bytes (%ld wrong), %ld errors\n", rounds, counter, got, pipe_bad,
           stress_errors + (wrc != 0));
    return counter != (long)rounds * STRESS_THREADS || got != rounds * 10000L || pipe_bad || stress_errors;
}

/* --- exhaustion --- */
static int oom(void)
{
    struct sysinfo si;
    sysinfo(&si);
    size_t ram = (size_t)si.totalram * si.mem_unit;
    void *p = mmap(0, ram * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("oom: mmap of twice the RAM: %s\n", p == MAP_FAILED ? strerror(errno) : "granted");
    void *b = sbrk((intptr_t)(ram * 2));
    printf("oom: sbrk of twice the RAM: %s\n", b == (void *)-1 ? strerror(errno) : "granted");
    fflush(stdout);
    for (size_t mib = 0;; mib++) { /* demand paging: the touch, not the mmap, runs out */
        char *c = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c == MAP_FAILED) {
            printf("oom: mmap failed after %zu MiB: %s\n", mib, strerror(errno));
            return 1;
        }
        memset(c, 1, 1 << 20);
    }
}

static int fds(void)
{
    struct rlimit rl = {64, 64};
    printf("fds: setrlimit(NOFILE, 64): %s\n", err(setrlimit(RLIMIT_NOFILE, &rl) ? errno : 0));
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("fds: limit %lu/%lu\n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
    int opened[64], n = 0, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0)
        opened[n++] = fd;
    int e = errno;
    printf("fds: opened %d more, then %s; highest %d\n", n, strerror(e), opened[n - 1]);
    int d = dup(0);
    printf("fds: dup: %s\n", d < 0 ? strerror(errno) : "granted");
    d = fcntl(0, F_DUPFD, 10);
    printf("fds: F_DUPFD: %s\n", d < 0 ? strerror(errno) : "granted");
    int p[2];
    printf("fds: pipe: %s\n", pipe(p) ? strerror(errno) : "granted");
    printf("fds: dup2 beyond the limit: %s\n", dup2(0, 64) < 0 ? strerror(errno) : "granted");
    close(opened[--n]);
    printf("fds: after a close, open gives %d\n", open("/dev/null", O_RDONLY));
    while (n)
        close(opened[--n]);
    return e != EMFILE;
}

static pthread_mutex_t hold = PTHREAD_MUTEX_INITIALIZER;
static void *held(void *arg)
{
    pthread_mutex_lock(&hold);
    pthread_mutex_unlock(&hold);
    return arg;
}

static int threads(void)
{
    static pthread_t t[100000];
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    pthread_mutex_lock(&hold);
    int n = 0, rc = 0;
    while (n < 100000 && !(rc = pthread_create(&t[n], &a, held, (void *)(long)n)))
        n++;
    printf("threads: %s after %d threads\n", rc ? strerror(rc) : "no failure", n);
    pthread_mutex_unlock(&hold);
    long bad = 0;
    for (int i = 0; i < n; i++) {
        void *v;
        pthread_join(t[i], &v);
        bad += (long)v != i;
    }
    int again = n ? pthread_create(&t[0], &a, held, 0) : -1;
    if (!again)
        pthread_join(t[0], 0);
    printf("threads: all joined (%ld wrong), one more: %s\n", bad, err(again));
    return rc != EAGAIN || bad || again;
}

static int sockets(int count)
{
    int bad = 0;
    for (int i = 0; i < count; i++) {
        int s = socket(AF_INET, i & 1 ? SOCK_DGRAM : SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_ANY)};
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || (!(i & 1) && listen(s, 4) != 0)) {
            if (bad++ < 3)
                printf("sockets: #%d: %s\n", i, strerror(errno));
        }
        if (s >= 0)
            close(s);
    }
    int last = socket(AF_INET, SOCK_STREAM, 0);
    printf("sockets: %d opened, bound and closed, %d failed; the next is fd %d\n", count, bad, last);
    return bad != 0;
}

static int sigpipe(void)
{
    int p[2];
    pipe(p);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    ssize_t w = write(p[1], "x", 1);
    printf("sigpipe: ignored: write %zd (%s)\n", w, strerror(errno));
    signal(SIGPIPE, SIG_DFL);
    printf("sigpipe: default: writing\n");
    fflush(stdout);
    write(p[1], "x", 1);
    printf("sigpipe: still alive\n");
    return 1;
}

static int deep(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    return n ? deep(n - 1) + pad[0] : 0;
}

static void *deep_thread(void *arg) { return (void *)(long)deep(1 << 30); }

static int stack(int in_thread)
{
    printf("stack: recursing%s\n", in_thread ? " in a thread" : "");
    fflush(stdout);
    if (in_thread) {
        pthread_t t;
        pthread_create(&t, 0, deep_thread, 0);
        pthread_join(t, 0);
    } else {
        deep(1 << 30);
    }
    printf("stack: still alive\n");
    return 1;
}

/* --- standard input: with nothing behind it (/dev/null), readable and EOF --- */
static int stdin_probe(void)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int n = poll(&p, 1, 5000);
    printf("stdin: poll %d revents%s%s\n", n, p.revents & POLLIN ? " IN" : "", p.revents & POLLHUP ? " HUP" : "");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(0, &r);
    struct timeval tv = {5, 0};
    n = select(1, &r, 0, 0, &tv);
    printf("stdin: select %d readable %d\n", n, FD_ISSET(0, &r) != 0);
    char c;
    printf("stdin: read %zd\n", read(0, &c, 1));
    struct stat st;
    fstat(0, &st);
    printf("stdin: a terminal: %s; a character device: %s\n", isatty(0) ? "yes" : "no",
           S_ISCHR(st.st_mode) ? "yes" : "no");
    return 0;
}

/* --- locks: every outcome a single process can observe --- */
static const char *lk(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock f = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &f) ? strerror(errno) : "ok";
}

static void show(const char *what, int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock f = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &f)) {
        printf("locks: %s: %s\n", what, strerror(errno));
        return;
    }
    printf("locks: %s: %s", what, f.l_type == F_UNLCK ? "unlocked" : f.l_type == F_WRLCK ? "write" : "read");
    if (f.l_type != F_UNLCK)
        printf(" %ld+%ld pid %s", (long)f.l_start, (long)f.l_len,
               f.l_pid == getpid() ? "self" : f.l_pid == -1 ? "-1" : "other");
    printf("\n");
}

static int ofd_fd;
static volatile int ofd_waiting;
static void *ofd_blocker(void *arg)
{
    ofd_waiting = 1;
    const char *r = lk(ofd_fd, F_OFD_SETLKW, F_WRLCK, 0, 10);
    ofd_waiting = 2;
    return (void *)r;
}

static void *flock_blocker(void *arg)
{
    int fd = (int)(long)arg;
    ofd_waiting = 1;
    int rc = flock(fd, LOCK_EX);
    ofd_waiting = 2;
    return (void *)(long)rc;
}

static int locks(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/lockfile", dir);
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), b = open(path, O_RDWR), ro = open(path, O_RDONLY);
    printf("locks: open: %s\n", a >= 0 && b >= 0 && ro >= 0 ? "ok" : strerror(errno));
    /* POSIX locks belong to the process: its own never conflict */
    printf("locks: setlk write 0+100: %s\n", lk(a, F_SETLK, F_WRLCK, 0, 100));
    printf("locks: setlk write 50+10 on another fd: %s\n", lk(b, F_SETLK, F_WRLCK, 50, 10));
    show("getlk from the owner", a, F_GETLK, F_WRLCK, 0, 0);
    printf("locks: setlk write on a read-only fd: %s\n", lk(ro, F_SETLK, F_WRLCK, 0, 1));
    printf("locks: setlk read on a read-only fd: %s\n", lk(ro, F_SETLK, F_RDLCK, 200, 1));
    printf("locks: setlk bad type: %s\n", lk(a, F_SETLK, 42, 0, 1));
    printf("locks: setlk negative start: %s\n", lk(a, F_SETLK, F_WRLCK, -5, 1));
    /* OFD locks belong to the open file description: they see the POSIX ones */
    show("ofd getlk sees posix", b, F_OFD_GETLK, F_WRLCK, 60, 1);
    printf("locks: unlock 40+20: %s\n", lk(a, F_SETLK, F_UNLCK, 40, 20));
    show("ofd getlk in the hole", b, F_OFD_GETLK, F_WRLCK, 50, 1);
    show("ofd getlk below the hole", b, F_OFD_GETLK, F_WRLCK, 10, 1);
    show("ofd getlk above the hole", b, F_OFD_GETLK, F_RDLCK, 90, 20);
    printf("locks: ofd setlk write over posix: %s\n", lk(b, F_OFD_SETLK, F_WRLCK, 0, 10));
    printf("locks: ofd setlk write in the hole: %s\n", lk(b, F_OFD_SETLK, F_WRLCK, 45, 5));
    show("posix getlk sees ofd", a, F_GETLK, F_WRLCK, 40, 100);
    printf("locks: posix setlk over ofd: %s\n", lk(a, F_SETLK, F_WRLCK, 46, 1));
    printf("locks: ofd with l_pid set: %s\n", ({
               struct flock f = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
               fcntl(b, F_OFD_SETLK, &f) ? strerror(errno) : "ok";
           }));
    /* closing any fd of the file drops the process's POSIX locks */
    int c = open(path, O_RDONLY);
    close(c);
    show("after closing another fd, posix lock", b, F_OFD_GETLK, F_WRLCK, 0, 40);
    show("the ofd lock stays", a, F_GETLK, F_WRLCK, 0, 0);
    /* read locks share */
    printf("locks: ofd read 200+10 on a: %s\n", lk(a, F_OFD_SETLK, F_RDLCK, 200, 10));
    printf("locks: ofd read 205+10 on b: %s\n", lk(b, F_OFD_SETLK, F_RDLCK, 205, 10));
    show("read over reads", ro, F_OFD_GETLK, F_RDLCK, 200, 20);
    show("write over reads", ro, F_OFD_GETLK, F_WRLCK, 200, 20);
    /* a whole-file lock to EOF and beyond (l_len 0), SEEK_END */
    printf("locks: ofd write to EOF from 1000: %s\n", lk(a, F_OFD_SETLK, F_WRLCK, 1000, 0));
    show("far beyond EOF", b, F_OFD_GETLK, F_RDLCK, 1 << 30, 1);
    /* a blocked F_OFD_SETLKW waits until the holder unlocks */
    ofd_fd = b;
    printf("locks: unlock a's ofd locks: %s\n", lk(a, F_OFD_SETLK, F_UNLCK, 0, 0));
    printf("locks: a takes 0+10: %s\n", lk(a, F_OFD_SETLK, F_WRLCK, 0, 10));
    printf("locks: b unlocks: %s\n", lk(b, F_OFD_SETLK, F_UNLCK, 0, 0));
    pthread_t t;
    pthread_create(&t, 0, ofd_blocker, 0);
    struct timespec ms50 = {0, 50000000};
    nanosleep(&ms50, 0);
    printf("locks: b's setlkw still waiting: %s\n", ofd_waiting == 1 ? "yes" : "no");
    printf("locks: a unlocks: %s\n", lk(a, F_OFD_SETLK, F_UNLCK, 0, 10));
    void *r;
    pthread_join(t, &r);
    printf("locks: b's setlkw: %s\n", (const char *)r);
    show("a sees b's lock", a, F_OFD_GETLK, F_WRLCK, 0, 1);
    close(b); /* the last fd of b's description: its lock goes */
    show("after b closed", a, F_OFD_GETLK, F_WRLCK, 0, 1);
    /* flock: per open file description, independent of record locks */
    b = open(path, O_RDWR);
    printf("locks: flock ex a: %s\n", err(flock(a, LOCK_EX) ? errno : 0));
    printf("locks: flock ex|nb b: %s\n", err(flock(b, LOCK_EX | LOCK_NB) ? errno : 0));
    printf("locks: flock sh|nb b: %s\n", err(flock(b, LOCK_SH | LOCK_NB) ? errno : 0));
    printf("locks: record lock beside flock: %s\n", lk(b, F_OFD_SETLK, F_WRLCK, 0, 0));
    printf("locks: flock sh a (convert): %s\n", err(flock(a, LOCK_SH) ? errno : 0));
    printf("locks: flock sh|nb b: %s\n", err(flock(b, LOCK_SH | LOCK_NB) ? errno : 0));
    printf("locks: flock ex|nb a: %s\n", err(flock(a, LOCK_EX | LOCK_NB) ? errno : 0));
    /* a failed conversion has dropped a's shared lock (Linux unlocks first) */
    printf("locks: flock ex|nb b while a converted: %s\n", err(flock(b, LOCK_EX | LOCK_NB) ? errno : 0));
    printf("locks: flock un b: %s\n", err(flock(b, LOCK_UN) ? errno : 0));
    printf("locks: flock ex|nb b after its unlock: %s\n", err(flock(b, LOCK_EX | LOCK_NB) ? errno : 0));
    printf("locks: flock un b: %s\n", err(flock(b, LOCK_UN) ? errno : 0));
    printf("locks: flock ex a: %s\n", err(flock(a, LOCK_EX) ? errno : 0));
    int d = dup(a);
    close(a); /* the description lives on in d: so does its flock */
    printf("locks: flock ex|nb b after closing a dup: %s\n", err(flock(b, LOCK_EX | LOCK_NB) ? errno : 0));
    ofd_waiting = 0;
    pthread_create(&t, 0, flock_blocker, (void *)(long)b);
    nanosleep(&ms50, 0);
    printf("locks: b's flock still waiting: %s\n", ofd_waiting == 1 ? "yes" : "no");
    close(d); /* the last fd: the lock goes, b gets it */
    pthread_join(t, &r);
    printf("locks: b's flock: %s\n", err(r ? errno : 0));
    printf("locks: flock bad op: %s\n", err(flock(b, 0) ? errno : 0));
    printf("locks: flock on a bad fd: %s\n", err(flock(999, LOCK_SH) ? errno : 0));
    struct flock f = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    printf("locks: fcntl lock on a bad fd: %s\n", err(fcntl(999, F_SETLK, &f) ? errno : 0));
    printf("locks: fcntl lock with a bad pointer: %s\n", err(fcntl(b, F_SETLK, (void *)8) ? errno : 0));
    close(b);
    close(ro);
    unlink(path);
    return 0;
}

/* --- calls that were missing --- */
static int calls(const char *dir)
{
    gid_t g[8];
    int n = getgroups(8, g);
    printf("calls: getgroups: %d%s\n", n, n < 0 ? strerror(errno) : "");
    printf("calls: getgroups(0) counts: %d\n", getgroups(0, 0));
    int status;
    int w = wait4(-1, &status, WNOHANG, 0);
    printf("calls: wait4 without children: %d %s\n", w, strerror(errno));
    w = waitpid(-1, &status, 0);
    printf("calls: waitpid without children: %d %s\n", w, strerror(errno));
    char path[512], copy[512];
    snprintf(path, sizeof path, "%s/calls.txt", dir);
    snprintf(copy, sizeof copy, "%s/calls.copy", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    for (int i = 0; i < 1000; i++)
        dprintf(fd, "line %d\n", i);
    off_t off = 100;
    int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t s = sendfile(out, fd, &off, 5000);
    printf("calls: sendfile with offset: %zd, offset now %ld, file offset %ld\n", s, (long)off,
           (long)lseek(fd, 0, SEEK_CUR));
    lseek(fd, 0, SEEK_SET);
    s = sendfile(out, fd, 0, 1 << 20);
    printf("calls: sendfile to EOF: %zd, file offset %ld\n", s, (long)lseek(fd, 0, SEEK_CUR));
    struct stat st;
    fstat(out, &st);
    printf("calls: copy size %ld\n", (long)st.st_size);
    printf("calls: sendfile from a pipe: %s\n", ({
               int p[2];
               pipe(p);
               sendfile(out, p[0], 0, 1) < 0 ? strerror(errno) : "ok";
           }));
    close(out);
    printf("calls: chmod 0640: %s\n", err(chmod(path, 0640) ? errno : 0));
    stat(path, &st);
    printf("calls: mode %o\n", st.st_mode & 07777);
    printf("calls: fchmod 0604: %s\n", err(fchmod(fd, 0604) ? errno : 0));
    fstat(fd, &st);
    printf("calls: mode %o\n", st.st_mode & 07777);
    printf("calls: fchmodat 0755: %s\n", err(fchmodat(AT_FDCWD, path, 0755, 0) ? errno : 0));
    stat(path, &st);
    printf("calls: mode %o\n", st.st_mode & 07777);
    printf("calls: chown to self: %s\n", err(chown(path, getuid(), getgid()) ? errno : 0));
    printf("calls: fchown to self: %s\n", err(fchown(fd, -1, getgid()) ? errno : 0));
    printf("calls: lchown to self: %s\n", err(lchown(path, getuid(), -1) ? errno : 0));
    stat(path, &st);
    printf("calls: owner is self: %s\n", st.st_uid == getuid() && st.st_gid == getgid() ? "yes" : "no");
    struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
    printf("calls: utimensat: %s\n", err(utimensat(AT_FDCWD, path, ts, 0) ? errno : 0));
    stat(path, &st);
    printf("calls: atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {2000000000, 5}};
    printf("calls: futimens (atime omitted): %s\n", err(futimens(fd, omit) ? errno : 0));
    fstat(fd, &st);
    printf("calls: atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    time_t before = time(0);
    printf("calls: utimensat now: %s\n", err(utimensat(AT_FDCWD, path, 0, 0) ? errno : 0));
    stat(path, &st);
    printf("calls: mtime is now: %s\n", st.st_mtim.tv_sec >= before - 2 && st.st_mtim.tv_sec <= time(0) + 2 ? "yes" : "no");
    printf("calls: utimensat bad nsec: %s\n", ({
               struct timespec bad[2] = {{0, 2000000000}, {0, 0}};
               err(utimensat(AT_FDCWD, path, bad, 0) ? errno : 0);
           }));
    printf("calls: chmod missing: %s\n", err(chmod("/no/such/file", 0600) ? errno : 0));
    close(fd);
    unlink(path);
    unlink(copy);
    return 0;
}

/* --- file mappings --- */
static int mmap_probe(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/mapped.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[3 * PAGE];
    for (int i = 0; i < 3 * PAGE; i++)
        buf[i] = (char)('a' + i % 26);
    write(fd, buf, sizeof buf - 100); /* the last page partly past the end */
    char *a = mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *b = mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
    char *p = mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("mmap: shared, shared at an offset, private: %s\n", a != MAP_FAILED && b != MAP_FAILED && p != MAP_FAILED ? "ok" : strerror(errno));
    printf("mmap: contents %c%c%c, at the offset %c, private %c, past the end %d\n", a[0], a[1], a[PAGE], b[0], p[2], a[3 * PAGE - 50]);
    memcpy(a + PAGE, "SHARED", 6);
    printf("mmap: another shared mapping sees a write: %.6s\n", b);
    p[0] = 'P';
    printf("mmap: a private write stays private: %c %c\n", a[0], p[0]);
    printf("mmap: msync: %s\n", err(msync(a, 3 * PAGE, MS_SYNC) ? errno : 0));
    char back[8] = {0};
    pread(fd, back, 6, PAGE);
    printf("mmap: read() after msync: %s\n", back);
    memcpy(a + 2 * PAGE, "UNMAPPED", 8);
    munmap(a, 3 * PAGE);
    munmap(b, 2 * PAGE);
    pread(fd, back, 8, 2 * PAGE);
    printf("mmap: read() after munmap: %.8s\n", back);
    printf("mmap: size %ld\n", (long)lseek(fd, 0, SEEK_END));
    printf("mmap: shared writable on a read-only fd: %s\n", ({
               int ro = open(path, O_RDONLY);
               mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED ? strerror(errno) : "granted";
           }));
    printf("mmap: a pipe: %s\n", ({
               int pp[2];
               pipe(pp);
               mmap(0, PAGE, PROT_READ, MAP_PRIVATE, pp[0], 0) == MAP_FAILED ? strerror(errno) : "granted";
           }));
    /* left mapped at exit: the write reaches the file all the same */
    char *c = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(c, "AT-EXIT", 7);
    close(fd);
    printf("mmap: exiting with a dirty mapping\n");
    return 0;
}

static int mmap_coherent(const char *dir)
{
    char path[512], buf[2 * PAGE];
    snprintf(path, sizeof path, "%s/coherent.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    memset(buf, 'o', sizeof buf);
    write(fd, buf, sizeof buf);
    char *r = mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    char *w = mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    pwrite(fd, "NEW", 3, 0);
    printf("coherent: pwrite seen by mappings: %.3s %.3s\n", r, w);
    memcpy(w + PAGE, "MAPPED", 6);
    lseek(fd, 10, SEEK_SET);
    write(fd, "WRITE", 5);
    printf("coherent: write seen: %.5s\n", r + 10);
    munmap(w, 2 * PAGE); /* writes back: must not undo the pwrite and the write */
    char back[16] = {0};
    pread(fd, back, 15, 0);
    printf("coherent: file after munmap: %.15s\n", back);
    pread(fd, back, 6, PAGE);
    printf("coherent: mapped write in the file: %.6s\n", back);
    /* MAP_FIXED over the file's own shared mapping: the same bytes */
    char *q = mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    q[100] = 'Q';
    char *q2 = mmap(q, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    printf("coherent: MAP_FIXED again: %s, byte %c, %.3s\n", q2 == q ? "same place" : "moved", q2[100], q2);
    q2[101] = 'F';
    printf("coherent: fsync: %s\n", err(fsync(fd) ? errno : 0));
    pread(fd, back, 2, 100);
    printf("coherent: read() after fsync: %.2s\n", back);
    munmap(q2, 2 * PAGE);
    pread(fd, back, 1, 100);
    printf("coherent: file byte %c\n", back[0]);
    ftruncate(fd, 50);
    printf("coherent: past a truncation: %d\n", r[60]);
    printf("coherent: mprotect writable on a read-only open: %s\n", ({
               int ro = open(path, O_RDONLY);
               char *m = mmap(0, PAGE, PROT_READ, MAP_SHARED, ro, 0);
               mprotect(m, PAGE, PROT_READ | PROT_WRITE) ? strerror(errno) : "granted";
           }));
    munmap(r, 2 * PAGE);
    struct stat st;
    fstat(fd, &st);
    printf("coherent: size %ld\n", (long)st.st_size);
    return 0;
}

static int mmap_crash(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/crash.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ftruncate(fd, PAGE);
    char *a = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(a, "WRITTEN BEFORE THE CRASH", 24);
    printf("mmap-crash: crashing\n");
    fflush(stdout);
    *(volatile int *)16 = 1;
    return 0;
}

static int mmap_ro(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st))
        return printf("mmap-ro: %s\n", strerror(errno)), 1;
    const unsigned char *p = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    const unsigned char *q = mmap(0, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    const unsigned char *w = mmap(0, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED || q == MAP_FAILED || w == MAP_FAILED)
        return printf("mmap-ro: %s\n", strerror(errno)), 1;
    unsigned long sum = 0;
    for (off_t i = 0; i < st.st_size; i++)
        sum = sum * 31 + p[i] + q[i] * 7;
    ((unsigned char *)w)[0] ^= 0xff; /* a private copy: the file and the other mappings keep theirs */
    printf("mmap-ro: %ld bytes, checksum %lu, private write %s, shared writable: %s\n", (long)st.st_size, sum,
           p[0] == q[0] && w[0] != p[0] ? "stays private" : "leaked",
           mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? strerror(errno) : "granted");
    return 0;
}

/* --- the kernel's pages in the lower half (guest only: on a host these
 * addresses are ordinary free space) --- */
static int kernel_pages(int argc, char **argv)
{
    int bad = 0;
    for (int i = 2; i < argc; i++) {
        char *a = (char *)strtoul(argv[i], 0, 0);
        void *m = mmap(a, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        printf("kernel %s: mmap fixed: %s\n", argv[i], m == MAP_FAILED ? strerror(errno) : "granted");
        m = mmap(a, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        printf("kernel %s: mmap hint: %s\n", argv[i], m == MAP_FAILED ? "failed" : m == a ? "granted there" : "elsewhere");
        printf("kernel %s: mprotect: %s\n", argv[i], err(mprotect(a, PAGE, PROT_READ) ? errno : 0));
        printf("kernel %s: madvise: %s\n", argv[i], err(madvise(a, PAGE, MADV_DONTNEED) ? errno : 0));
        printf("kernel %s: munmap: %s\n", argv[i], err(munmap(a, 1 << 20) ? errno : 0));
        ssize_t w = write(1, a, 16);
        printf("\nkernel %s: write from it: %s\n", argv[i], w < 0 ? strerror(errno) : "wrote");
        bad += m == a;
    }
    void *p = malloc(1 << 20); /* the kernel still works */
    memset(p, 1, 1 << 20);
    printf("kernel: still running\n");
    return bad;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IOLBF, 0);
    const char *what = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(what, "race"))
        return race(atoi(arg));
    if (!strcmp(what, "stress"))
        return stress(atoi(arg));
    if (!strcmp(what, "oom"))
        return oom();
    if (!strcmp(what, "fds"))
        return fds();
    if (!strcmp(what, "threads"))
        return threads();
    if (!strcmp(what, "sockets"))
        return sockets(atoi(arg));
    if (!strcmp(what, "sigpipe"))
        return sigpipe();
    if (!strcmp(what, "stack") || !strcmp(what, "stack-thread"))
        return stack(what[5] != 0);
    if (!strcmp(what, "stdin"))
        return stdin_probe();
    if (!strcmp(what, "locks"))
        return locks(arg);
    if (!strcmp(what, "calls"))
        return calls(arg);
    if (!strcmp(what, "mmap"))
        return mmap_probe(arg);
    if (!strcmp(what, "mmap-coherent"))
        return mmap_coherent(arg);
    if (!strcmp(what, "mmap-crash"))
        return mmap_crash(arg);
    if (!strcmp(what, "mmap-ro"))
        return mmap_ro(arg);
    if (!strcmp(what, "kernel"))
        return kernel_pages(argc, argv);
    fprintf(stderr, "usage: robust race|stress|oom|fds|threads|sockets|sigpipe|stack|stack-thread|stdin|locks|calls\n");
    return 2;
}
