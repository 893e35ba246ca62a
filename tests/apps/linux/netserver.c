/* Network test server for hermitcore (built static with the ordinary
 * compilers). One epoll loop serves:
 *   TCP 8080  HTTP/1.1 with keep-alive: GET /<file> returns the file from the
 *             image's embedded tree (open/read); GET /meminfo answers
 *             "freeram=F totalram=T\n", sysinfo()'s free and total memory in
 *             bytes (the soak benchmark reads it); GET /quit ends the program
 *             with exit status 0 after answering.
 *   UDP 9007  echo: every datagram back to its sender.
 *   TCP 9000  bulk, each connection served by a thread of its own (so with
 *             --cpus 2 it runs on the other CPU, beside the epoll loop):
 *             "SEND n\n" -> n bytes of a fixed pseudo-random stream,
 *             then its sha256 as 64 hex digits + "\n";
 *             "RECV n\n" -> reads n bytes, answers their sha256 + "\n".
 * It prints "netserver: ready" once every socket listens. An argument N adds
 * N to every port (for a run on the host next to other services). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <unistd.h>

/* --- sha256 (FIPS 180-4) --- */
struct sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t n;
};
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};
#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))
static void sha_block(struct sha256 *s, const uint8_t *p)
{
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 | p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, s->h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) + K[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof a[0]);
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += a[i];
}
static void sha_init(struct sha256 *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
    s->n = 0;
}
static void sha_update(struct sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->len += len;
    while (len) {
        size_t k = 64 - s->n < len ? 64 - s->n : len;
        memcpy(s->buf + s->n, p, k);
        s->n += k;
        p += k;
        len -= k;
        if (s->n == 64) {
            sha_block(s, s->buf);
            s->n = 0;
        }
    }
}
static void sha_hex(struct sha256 *s, char out[65])
{
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80, zero = 0;
    sha_update(s, &pad, 1);
    while (s->n != 56)
        sha_update(s, &zero, 1);
    uint8_t l[8];
    for (int i = 0; i < 8; i++)
        l[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_update(s, l, 8);
    for (int i = 0; i < 8; i++)
        sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* The bulk stream: xorshift64 bytes from a fixed seed (the host makes the same). */
static void stream_fill(uint64_t *state, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        for (size_t k = 0; k < 8 && i + k < n; k++)
            buf[i + k] = (uint8_t)(x >> (8 * k));
    }
}

static int listen_on(int type, int port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        printf("netserver: socket: %s\n", strerror(errno));
        exit(2);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || (type == SOCK_STREAM && listen(fd, 64))) {
        printf("netserver: bind/listen %d: %s\n", port, strerror(errno));
        exit(3);
    }
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void bulk(int fd)
{
    char line[64];
    size_t n = 0;
    while (n < sizeof line - 1) { /* one command line, byte by byte */
        if (read(fd, line + n, 1) != 1)
            return;
        if (line[n++] == '\n')
            break;
    }
    line[n] = 0;
    unsigned long long len;
    char cmd[8];
    if (sscanf(line, "%7s %llu", cmd, &len) != 2)
        return;
    static __thread uint8_t buf[65536];
    struct sha256 s;
    sha_init(&s);
    char hex[66];
    if (!strcmp(cmd, "SEND")) {
        uint64_t st = 0x9e3779b97f4a7c15ull;
        for (unsigned long long done = 0; done < len;) {
            size_t k = len - done < sizeof buf ? (size_t)(len - done) : sizeof buf;
            stream_fill(&st, buf, k);
            sha_update(&s, buf, k);
            if (write_all(fd, buf, k))
                return;
            done += k;
        }
    } else {
        for (unsigned long long done = 0; done < len;) {
            ssize_t r = read(fd, buf, len - done < sizeof buf ? (size_t)(len - done) : sizeof buf);
            if (r <= 0) {
                printf("netserver: bulk read: %s after %llu bytes\n", r ? strerror(errno) : "end of stream", done);
                return;
            }
            sha_update(&s, buf, (size_t)r);
            done += (unsigned long long)r;
        }
    }
    sha_hex(&s, hex);
    strcat(hex, "\n");
    write_all(fd, hex, 65);
    printf("netserver: bulk %s %llu bytes sha256 %.16s...\n", cmd, len, hex);
}

static void *bulk_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    bulk(fd);
    close(fd);
    return 0;
}

struct conn {
    int fd;
    char req[4096];
    size_t n;
};

/* Answer every complete request in c->req; returns 1 to quit, -1 to drop. */
static int http(struct conn *c)
{
    for (;;) {
        char *end = memmem(c->req, c->n, "\r\n\r\n", 4);
        if (!end)
            return c->n == sizeof c->req ? -1 : 0;
        size_t used = (size_t)(end + 4 - c->req);
        char path[256] = "";
        sscanf(c->req, "GET /%255s HTTP/1.1", path);
        int quit = !strcmp(path, "quit"), meminfo = !strcmp(path, "meminfo");
        int close_after = memmem(c->req, used, "Connection: close", 17) != 0;
        memmove(c->req, c->req + used, c->n - used);
        c->n -= used;
        static char body[1 << 20];
        ssize_t len = -1;
        int f = quit || meminfo ? -1 : open(path, O_RDONLY);
        if (f >= 0) {
            len = read(f, body, sizeof body);
            close(f);
        }
        struct sysinfo si;
        if (meminfo && sysinfo(&si) == 0)
            len = snprintf(body, sizeof body, "freeram=%llu totalram=%llu\n",
                           (unsigned long long)si.freeram * si.mem_unit, (unsigned long long)si.totalram * si.mem_unit);
        char head[256];
        int hn;
        if (quit)
            hn = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye");
        else if (len < 0)
            hn = snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        else
            hn = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %zd\r\n%s\r\n", len, close_after ? "Connection: close\r\n" : "");
        if (write_all(c->fd, head, (size_t)hn) || (len > 0 && !quit && write_all(c->fd, body, (size_t)len)))
            return -1;
        if (quit)
            return 1;
        if (close_after)
            return -1;
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up mid-answer (wrk at its deadline) is not fatal */
    int off = argc > 1 ? atoi(argv[1]) : 0;
    int web = listen_on(SOCK_STREAM, 8080 + off), echo = listen_on(SOCK_DGRAM, 9007 + off),
        bulkfd = listen_on(SOCK_STREAM, 9000 + off);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = web;
    epoll_ctl(ep, EPOLL_CTL_ADD, web, &ev);
    ev.data.fd = echo;
    epoll_ctl(ep, EPOLL_CTL_ADD, echo, &ev);
    ev.data.fd = bulkfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, bulkfd, &ev);
    static struct conn *conns[1024];
    unsigned long requests = 0, accepted = 0, datagrams = 0;
    printf("netserver: ready\n");
    for (;;) {
        struct epoll_event evs[32];
        int n = epoll_wait(ep, evs, 32, -1);
        if (n < 0) {
            printf("netserver: epoll_wait: %s\n", strerror(errno));
            return 4;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == web) {
                int c = accept4(web, 0, 0, SOCK_CLOEXEC);
                if (c < 0 || c >= 1024)
                    continue;
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[c] = calloc(1, sizeof(struct conn));
                conns[c]->fd = c;
                ev.events = EPOLLIN;
                ev.data.fd = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                accepted++;
            } else if (fd == echo) {
                char buf[2048];
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                ssize_t r = recvfrom(echo, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
                if (r >= 0) {
                    sendto(echo, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
                    datagrams++;
                }
            } else if (fd == bulkfd) {
                int c = accept(bulkfd, 0, 0);
                pthread_t t;
                if (c >= 0 && pthread_create(&t, 0, bulk_thread, (void *)(intptr_t)c) == 0)
                    pthread_detach(t);
                else if (c >= 0)
                    close(c);
            } else {
                struct conn *c = conns[fd];
                ssize_t r = read(fd, c->req + c->n, sizeof c->req - c->n);
                int verdict = r <= 0 ? -1 : (c->n += (size_t)r, http(c));
                if (r > 0)
                    requests++;
                if (verdict) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0);
                    close(fd);
                    free(c);
                    conns[fd] = 0;
                }
                if (verdict == 1) {
                    printf("netserver: quit after %lu reads on %lu connections, %lu datagrams\n", requests, accepted,
                           datagrams);
                    return 0;
                }
            }
        }
    }
}
