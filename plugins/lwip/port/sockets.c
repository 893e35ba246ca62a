/* Linux sockets (AF_INET: SOCK_STREAM, SOCK_DGRAM) over lwIP's raw API.
 *
 * Every lwIP call holds net_lock; lwIP's callbacks (run from the NIC
 * interrupt, the stack's timer or a system call) queue data and state on the
 * struct sock and call io_notify(), which wakes threads blocked in
 * read/accept/connect/poll/epoll. A blocked thread drops the big kernel lock
 * while it sleeps (schedule does). */
#include "vfs.h"
#include "net.h"
#include <hermit/heap.h>
#include <hermit/time.h>
#include <lwip/ip_addr.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/udp.h>

#define AF_INET 2
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_TYPE_MASK 0xf
#define SOCK_NONBLOCK O_NONBLOCK
#define SOCK_CLOEXEC O_CLOEXEC
#define IPPROTO_IP 0
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SO_TYPE 3
#define SO_ERROR 4
#define SO_BROADCAST 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_LINGER 13
#define SO_REUSEPORT 15
#define SO_RCVTIMEO 20
#define SO_SNDTIMEO 21
#define SO_ACCEPTCONN 30
#define SO_PROTOCOL 38
#define SO_DOMAIN 39
#define TCP_NODELAY 1
#define TCP_MAXSEG 2

#define MSG_PEEK 0x2
#define MSG_TRUNC 0x20
#define MSG_DONTWAIT 0x40
#define MSG_WAITALL 0x100
#define MSG_NOSIGNAL 0x4000

#define SHUT_RD 0
#define SHUT_WR 1
#define SHUT_RDWR 2

#define ACCEPT_QUEUE 128
#define UDP_RCVBUF 212992

struct sockaddr_in {
    uint16_t family;
    uint16_t port; /* network order */
    uint32_t addr; /* network order */
    uint8_t zero[8];
};

struct dgram {
    struct dgram *next;
    struct pbuf *p;
    ip_addr_t addr;
    u16_t port;
};

struct sock {
    int type;
    struct tcp_pcb *tcp;
    struct udp_pcb *udp;
    /* TCP */
    struct pbuf *rx;       /* received, not yet read (at most one window) */
    int rx_eof, err, connecting, connected, listening, shut_wr;
    struct sock *accq[ACCEPT_QUEUE];
    unsigned acc_head, acc_n, acc_max;
    /* UDP */
    struct dgram *dq_head, *dq_tail;
    size_t dq_bytes;
    /* options */
    int reuse, keepalive, broadcast;
    int rcvbuf, sndbuf;
    uint64_t rcvtimeo, sndtimeo; /* ns, 0: none */
};

static const struct file_ops sock_ops;
static const struct socket_ops inet_ops;

static long lwip_errno(err_t e)
{
    switch (e) {
    case ERR_OK: return 0;
    case ERR_MEM: return -ENOMEM;
    case ERR_BUF: return -ENOBUFS;
    case ERR_TIMEOUT: return -ETIMEDOUT;
    case ERR_RTE: return -EHOSTUNREACH;
    case ERR_INPROGRESS: return -EINPROGRESS;
    case ERR_VAL: return -EINVAL;
    case ERR_WOULDBLOCK: return -EAGAIN;
    case ERR_USE: return -EADDRINUSE;
    case ERR_ALREADY: return -EALREADY;
    case ERR_ISCONN: return -EISCONN;
    case ERR_CONN: return -ENOTCONN;
    case ERR_IF: return -ENETDOWN;
    case ERR_ABRT: return -ECONNABORTED;
    case ERR_RST: return -ECONNRESET;
    case ERR_CLSD: return -ENOTCONN;
    default: return -EIO;
    }
}

/* --- lwIP callbacks (net_lock held) --- */
static err_t tcp_recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct sock *s = arg;
    if (!p)
        s->rx_eof = 1;
    else if (s->rx)
        pbuf_cat(s->rx, p);
    else
        s->rx = p;
    io_notify();
    return ERR_OK;
}

static err_t tcp_sent_cb(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    io_notify();
    return ERR_OK;
}

static void tcp_err_cb(void *arg, err_t err)
{
    struct sock *s = arg; /* lwIP has freed the pcb */
    s->tcp = 0;
    s->err = s->connecting && err == ERR_RST ? ECONNREFUSED : (int)-lwip_errno(err);
    s->connecting = 0;
    s->rx_eof = 1;
    io_notify();
}

static err_t tcp_connected_cb(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct sock *s = arg;
    s->connecting = 0;
    s->connected = 1;
    io_notify();
    return ERR_OK;
}

static void tcp_hook(struct sock *s, struct tcp_pcb *pcb)
{
    s->tcp = pcb;
    tcp_arg(pcb, s);
    tcp_recv(pcb, tcp_recv_cb);
    tcp_sent(pcb, tcp_sent_cb);
    tcp_err(pcb, tcp_err_cb);
}

static err_t tcp_accept_cb(void *arg, struct tcp_pcb *newpcb, err_t err)
{
    struct sock *l = arg;
    if (err != ERR_OK || !newpcb)
        return ERR_VAL;
    struct sock *s = l->acc_n < l->acc_max ? kzalloc(sizeof *s) : 0;
    if (!s) {
        tcp_abort(newpcb);
        return ERR_ABRT;
    }
    s->type = SOCK_STREAM;
    s->connected = 1;
    s->rcvbuf = l->rcvbuf;
    s->sndbuf = l->sndbuf;
    tcp_hook(s, newpcb);
    if (tcp_nagle_disabled(l->tcp))
        tcp_nagle_disable(newpcb);
    l->accq[(l->acc_head + l->acc_n++) % ACCEPT_QUEUE] = s;
    io_notify();
    return ERR_OK;
}

static void udp_recv_cb(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct sock *s = arg;
    struct dgram *d = s->dq_bytes + p->tot_len <= (size_t)s->rcvbuf ? kmalloc(sizeof *d) : 0;
    if (!d) { /* receive buffer full: dropped, as Linux does */
        pbuf_free(p);
        return;
    }
    *d = (struct dgram){0, p, *addr, port};
    if (s->dq_tail)
        s->dq_tail->next = d;
    else
        s->dq_head = d;
    s->dq_tail = d;
    s->dq_bytes += p->tot_len;
    io_notify();
}

/* --- helpers --- */
static struct sock *sock_get(long fd, int *flags, long *err)
{
    return fd_object(fd, &sock_ops, -ENOTSOCK, flags, err);
}

static long get_addr(long uaddr, long len, ip_addr_t *ip, u16_t *port)
{
    if (len < (long)sizeof(struct sockaddr_in))
        return -EINVAL;
    if (!user_ok((uintptr_t)uaddr, sizeof(struct sockaddr_in), PROT_READ))
        return -EFAULT;
    const struct sockaddr_in *sa = (const struct sockaddr_in *)uaddr;
    if (sa->family != AF_INET)
        return -EAFNOSUPPORT;
    ip_addr_set_ip4_u32(ip, sa->addr);
    *port = lwip_ntohs(sa->port);
    return 0;
}

static long put_addr(long uaddr, long ulen, const ip_addr_t *ip, u16_t port)
{
    if (!uaddr)
        return 0;
    if (!user_ok((uintptr_t)ulen, 4, PROT_READ | PROT_WRITE))
        return -EFAULT;
    uint32_t len = *(uint32_t *)ulen;
    struct sockaddr_in sa = {AF_INET, lwip_htons(port), ip ? ip4_addr_get_u32(ip_2_ip4(ip)) : 0, {0}};
    size_t n = len < sizeof sa ? len : sizeof sa;
    if (!user_ok((uintptr_t)uaddr, n, PROT_WRITE))
        return -EFAULT;
    memcpy((void *)uaddr, &sa, n);
    *(uint32_t *)ulen = sizeof sa;
    return 0;
}

/* Sleep until something happens or the timeout (ns, 0: none) passes. Called
 * and returns with net_lock held. */
static long wait_io(uint64_t seq, uint64_t deadline)
{
    net_unlock();
    int r = io_wait_intr(seq, deadline);
    net_lock();
    if (r == -EINTR) /* a signal: restarted as Linux does, unless a timeout was set */
        return deadline ? -EINTR : -ERESTARTSYS;
    return r ? -EAGAIN : 0;
}

static uint64_t deadline_of(uint64_t timeout) { return timeout ? clock_ns() + timeout : 0; }

/* --- receiving and sending --- */
static long tcp_recv_into(struct sock *s, char *buf, size_t n, int flags, int nonblock)
{
    uint64_t deadline = deadline_of(s->rcvtimeo);
    size_t done = 0;
    net_lock();
    for (;;) {
        while (s->rx && done < n) {
            u16_t chunk = (u16_t)(n - done < s->rx->tot_len ? n - done : s->rx->tot_len);
            pbuf_copy_partial(s->rx, buf + done, chunk, (u16_t)(flags & MSG_PEEK ? done : 0));
            done += chunk;
            if (flags & MSG_PEEK)
                break;
            s->rx = pbuf_free_header(s->rx, chunk);
            if (s->tcp)
                tcp_recved(s->tcp, chunk);
        }
        if (done == n || (done && !(flags & MSG_WAITALL)) || (flags & MSG_PEEK && done))
            break;
        if (s->rx_eof || s->err || (!s->connected && !s->connecting)) {
            long e = s->err && !done ? -s->err : 0;
            if (!s->connected && !s->connecting && !s->err && !done)
                e = -ENOTCONN;
            net_unlock();
            return done ? (long)done : e;
        }
        if (nonblock) {
            net_unlock();
            return done ? (long)done : -EAGAIN;
        }
        long w = wait_io(io_seq(), deadline);
        if (w) {
            net_unlock();
            return done ? (long)done : w;
        }
    }
    net_unlock();
    return (long)done;
}

static long tcp_send_from(struct sock *s, const char *buf, size_t n, int nonblock)
{
    uint64_t deadline = deadline_of(s->sndtimeo);
    size_t done = 0;
    long r = 0;
    net_lock();
    while (done < n) {
        if (s->err) {
            r = -s->err;
            break;
        }
        if (!s->tcp || !s->connected || s->shut_wr) {
            r = s->connected || s->shut_wr ? -EPIPE : -ENOTCONN;
            break;
        }
        size_t room = tcp_sndbuf(s->tcp);
        if (tcp_sndqueuelen(s->tcp) >= TCP_SND_QUEUELEN - 2)
            room = 0;
        err_t e = ERR_MEM;
        size_t chunk = n - done < room ? n - done : room;
        if (chunk > 0xffff)
            chunk = 0xffff;
        if (chunk)
            e = tcp_write(s->tcp, buf + done, (u16_t)chunk,
                          TCP_WRITE_FLAG_COPY | (done + chunk < n ? TCP_WRITE_FLAG_MORE : 0));
        if (e == ERR_OK) {
            done += chunk;
            continue;
        }
        if (e != ERR_MEM) {
            r = lwip_errno(e);
            break;
        }
        tcp_output(s->tcp); /* full: push what is queued, then wait for acks */
        long w = nonblock ? -EAGAIN : wait_io(io_seq(), deadline);
        if (w) {
            r = w;
            break;
        }
    }
    if (s->tcp)
        tcp_output(s->tcp);
    net_unlock();
    return done ? (long)done : r;
}


static long udp_send_from(struct sock *s, const struct iovec_k *iov, int niov, const ip_addr_t *ip, u16_t port)
{
    size_t total = 0;
    for (int i = 0; i < niov; i++)
        total += iov[i].len;
    if (total > 65507)
        return -EMSGSIZE;
    if (!ip && !s->connected)
        return -EDESTADDRREQ;
    net_lock();
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)total, PBUF_RAM);
    if (!p) {
        net_unlock();
        return -ENOBUFS;
    }
    size_t off = 0;
    for (int i = 0; i < niov; i++) {
        memcpy((char *)p->payload + off, iov[i].base, iov[i].len);
        off += iov[i].len;
    }
    err_t e = ip ? udp_sendto(s->udp, p, ip, port) : udp_send(s->udp, p);
    pbuf_free(p);
    net_unlock();
    return e == ERR_OK ? (long)total : lwip_errno(e);
}

/* One datagram into the iovecs; its sender in *from. */
static long udp_recv_into(struct sock *s, const struct iovec_k *iov, int niov, int flags, int nonblock,
                          ip_addr_t *from, u16_t *port, int *truncated)
{
    uint64_t deadline = deadline_of(s->rcvtimeo);
    net_lock();
    while (!s->dq_head) {
        long w = nonblock ? -EAGAIN : wait_io(io_seq(), deadline);
        if (w) {
            net_unlock();
            return w;
        }
    }
    struct dgram *d = s->dq_head;
    size_t off = 0;
    for (int i = 0; i < niov && off < d->p->tot_len; i++) {
        size_t n = d->p->tot_len - off < iov[i].len ? d->p->tot_len - off : iov[i].len;
        pbuf_copy_partial(d->p, (void *)iov[i].base, (u16_t)n, (u16_t)off);
        off += n;
    }
    long len = d->p->tot_len;
    *truncated = off < (size_t)len;
    *from = d->addr;
    *port = d->port;
    if (!(flags & MSG_PEEK)) {
        s->dq_head = d->next;
        if (!s->dq_head)
            s->dq_tail = 0;
        s->dq_bytes -= d->p->tot_len;
        pbuf_free(d->p);
        kfree(d);
    }
    net_unlock();
    return (flags & MSG_TRUNC) ? len : (long)off;
}

/* --- file operations --- */
static long sock_read(struct file *f, char *buf, size_t n, uint64_t *off)
{
    struct sock *s = f->priv;
    int flags = f->flags;
    if (s->type == SOCK_STREAM)
        return tcp_recv_into(s, buf, n, 0, flags & O_NONBLOCK);
    struct iovec_k iov = {buf, n};
    ip_addr_t from;
    u16_t port;
    int trunc;
    return udp_recv_into(s, &iov, 1, 0, flags & O_NONBLOCK, &from, &port, &trunc);
}

static long sock_write(struct file *f, const char *buf, size_t n, uint64_t *off)
{
    struct sock *s = f->priv;
    int flags = f->flags;
    if (s->type == SOCK_STREAM)
        return tcp_send_from(s, buf, n, flags & O_NONBLOCK);
    struct iovec_k iov = {buf, n};
    return udp_send_from(s, &iov, 1, 0, 0);
}

static short sock_poll(struct file *f)
{
    struct sock *s = f->priv;
    short r = 0;
    net_lock();
    if (s->type == SOCK_DGRAM) {
        r = (short)(POLLOUT | (s->dq_head ? POLLIN : 0));
    } else if (s->listening) {
        r = s->acc_n ? POLLIN : 0;
    } else {
        if (s->rx || s->rx_eof)
            r |= POLLIN;
        if (s->rx_eof)
            r |= POLLRDHUP;
        if (s->err)
            r |= POLLERR | POLLHUP;
        if (s->connected && s->tcp && !s->shut_wr && tcp_sndbuf(s->tcp) > 0 &&
            tcp_sndqueuelen(s->tcp) < TCP_SND_QUEUELEN - 2)
            r |= POLLOUT;
        if (!s->connected && !s->connecting && !s->err)
            r |= POLLOUT | POLLHUP;
    }
    net_unlock();
    return r;
}

static void sock_free(struct sock *s)
{
    if (s->tcp) {
        struct tcp_pcb *pcb = s->tcp;
        tcp_arg(pcb, 0);
        if (s->listening) {
            tcp_accept(pcb, 0);
            tcp_close(pcb);
        } else {
            tcp_recv(pcb, 0);
            tcp_sent(pcb, 0);
            tcp_err(pcb, 0);
            if (s->rx || tcp_close(pcb) != ERR_OK)
                tcp_abort(pcb); /* unread data: reset, as Linux does */
        }
    }
    while (s->acc_n) {
        struct sock *a = s->accq[s->acc_head++ % ACCEPT_QUEUE];
        s->acc_n--;
        sock_free(a);
    }
    if (s->rx)
        pbuf_free(s->rx);
    if (s->udp)
        udp_remove(s->udp);
    while (s->dq_head) {
        struct dgram *d = s->dq_head;
        s->dq_head = d->next;
        pbuf_free(d->p);
        kfree(d);
    }
    kfree(s);
}

static void sock_close(void *obj)
{
    net_lock();
    sock_free(obj);
    net_unlock();
    io_notify();
}

static void sock_release(struct file *f) { sock_close(f->priv); }

static const struct file_ops sock_ops = {
    .kind = "socket", .sock = &inet_ops, .mode = S_IFSOCK, .read = sock_read, .write = sock_write, .poll = sock_poll,
    .release = sock_release,
};

/* --- system calls --- */
static long inet_socket(long type, long protocol)
{
    int kind = (int)(type & SOCK_TYPE_MASK);
    if (type & ~(long)(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    if (kind != SOCK_STREAM && kind != SOCK_DGRAM)
        return -EPROTONOSUPPORT;
    if (protocol && protocol != (kind == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP))
        return -EPROTONOSUPPORT;
    long r = net_up();
    if (r)
        return r;
    struct sock *s = kzalloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    s->type = kind;
    s->rcvbuf = kind == SOCK_STREAM ? TCP_WND : UDP_RCVBUF;
    s->sndbuf = kind == SOCK_STREAM ? TCP_SND_BUF : UDP_RCVBUF;
    net_lock();
    if (kind == SOCK_STREAM) {
        struct tcp_pcb *pcb = tcp_new();
        if (pcb)
            tcp_hook(s, pcb);
    } else {
        s->udp = udp_new();
        if (s->udp)
            udp_recv(s->udp, udp_recv_cb, s);
    }
    net_unlock();
    if (!s->tcp && !s->udp) {
        kfree(s);
        return -ENOBUFS;
    }
    long fd = fd_install(&sock_ops, s, (int)type & (O_NONBLOCK | O_CLOEXEC));
    if (fd < 0)
        sock_close(s);
    return fd;
}

static long inet_bind(long fd, long uaddr, long len)
{
    long err;
    struct sock *s = sock_get(fd, 0, &err);
    if (!s)
        return err;
    ip_addr_t ip;
    u16_t port;
    if ((err = get_addr(uaddr, len, &ip, &port)))
        return err;
    net_lock();
    err_t e = ERR_VAL;
    if (s->tcp && !s->listening) {
        if (s->reuse)
            ip_set_option(s->tcp, SOF_REUSEADDR);
        e = tcp_bind(s->tcp, &ip, port);
    } else if (s->udp) {
        if (s->reuse)
            ip_set_option(s->udp, SOF_REUSEADDR);
        e = udp_bind(s->udp, &ip, port);
    }
    net_unlock();
    return e == ERR_VAL ? -EINVAL : lwip_errno(e);
}

static long inet_listen(long fd, long backlog)
{
    long err;
    struct sock *s = sock_get(fd, 0, &err);
    if (!s)
        return err;
    if (s->type != SOCK_STREAM)
        return -EOPNOTSUPP;
    if (backlog < 1)
        backlog = 1;
    if (backlog > ACCEPT_QUEUE)
        backlog = ACCEPT_QUEUE;
    net_lock();
    if (s->listening) {
        s->acc_max = (unsigned)backlog;
        net_unlock();
        return 0;
    }
    if (!s->tcp || s->connected || s->connecting) {
        net_unlock();
        return -EINVAL;
    }
    if (!s->tcp->local_port)
        tcp_bind(s->tcp, IP_ADDR_ANY, 0); /* Linux binds an ephemeral port */
    err_t e;
    struct tcp_pcb *l = tcp_listen_with_backlog_and_err(s->tcp, (u8_t)(backlog > 255 ? 255 : backlog), &e);
    if (!l) {
        net_unlock();
        return lwip_errno(e);
    }
    s->tcp = l;
    s->listening = 1;
    s->acc_max = (unsigned)backlog;
    tcp_arg(l, s);
    tcp_accept(l, tcp_accept_cb);
    net_unlock();
    return 0;
}

static long inet_accept4(long fd, long uaddr, long ulen, long flags)
{
    long err;
    int fflags;
    struct sock *l = sock_get(fd, &fflags, &err);
    if (!l)
        return err;
    if (flags & ~(long)(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    if (!l->listening)
        return -EINVAL;
    uint64_t deadline = deadline_of(l->rcvtimeo);
    net_lock();
    while (!l->acc_n) {
        long w = (fflags & O_NONBLOCK) ? -EAGAIN : wait_io(io_seq(), deadline);
        if (w) {
            net_unlock();
            return w;
        }
        if (!l->listening) { /* closed meanwhile */
            net_unlock();
            return -EBADF;
        }
    }
    struct sock *s = l->accq[l->acc_head++ % ACCEPT_QUEUE];
    l->acc_n--;
    ip_addr_t peer = s->tcp ? s->tcp->remote_ip : *IP_ADDR_ANY;
    u16_t port = s->tcp ? s->tcp->remote_port : 0;
    net_unlock();
    long nfd = fd_install(&sock_ops, s, (int)flags);
    if (nfd < 0) {
        sock_close(s);
        return nfd;
    }
    if ((err = put_addr(uaddr, ulen, &peer, port)))
        return err;
    return nfd;
}


static long inet_connect(long fd, long uaddr, long len)
{
    long err;
    int fflags;
    struct sock *s = sock_get(fd, &fflags, &err);
    if (!s)
        return err;
    ip_addr_t ip;
    u16_t port;
    if ((err = get_addr(uaddr, len, &ip, &port)))
        return err;
    net_lock();
    if (s->type == SOCK_DGRAM) {
        err_t e = udp_connect(s->udp, &ip, port);
        s->connected = e == ERR_OK;
        net_unlock();
        return lwip_errno(e);
    }
    if (s->connected || s->listening) {
        net_unlock();
        return s->listening ? -EINVAL : -EISCONN;
    }
    if (!s->connecting) {
        if (!s->tcp) {
            net_unlock();
            return s->err ? -s->err : -EINVAL;
        }
        err_t e = tcp_connect(s->tcp, &ip, port, tcp_connected_cb);
        if (e != ERR_OK) {
            net_unlock();
            return lwip_errno(e);
        }
        s->connecting = 1;
        s->err = 0;
    } else if (fflags & O_NONBLOCK) {
        net_unlock();
        return -EALREADY;
    }
    if (fflags & O_NONBLOCK) {
        net_unlock();
        return -EINPROGRESS;
    }
    while (s->connecting) {
        long w = wait_io(io_seq(), deadline_of(s->sndtimeo));
        if (w) {
            net_unlock();
            return w == -EAGAIN ? -EINPROGRESS : w;
        }
    }
    long r = s->connected ? 0 : -(s->err ? s->err : ECONNREFUSED);
    net_unlock();
    return r;
}

static long inet_shutdown(long fd, long how)
{
    long err;
    struct sock *s = sock_get(fd, 0, &err);
    if (!s)
        return err;
    if (how < SHUT_RD || how > SHUT_RDWR)
        return -EINVAL;
    if (s->type == SOCK_DGRAM)
        return s->connected ? 0 : -ENOTCONN;
    net_lock();
    long r = 0;
    if (!s->connected || !s->tcp) {
        r = -ENOTCONN;
    } else {
        if (how != SHUT_RD)
            s->shut_wr = 1;
        if (how != SHUT_RD)
            r = lwip_errno(tcp_shutdown(s->tcp, 0, 1)); /* FIN after queued data */
        if (how != SHUT_WR)
            s->rx_eof = 1;
    }
    net_unlock();
    io_notify();
    return r;
}

static long name_of(long fd, long uaddr, long ulen, int peer)
{
    long err;
    struct sock *s = sock_get(fd, 0, &err);
    if (!s)
        return err;
    ip_addr_t ip = *IP_ADDR_ANY;
    u16_t port = 0;
    net_lock();
    if (s->tcp) {
        ip = peer ? s->tcp->remote_ip : s->tcp->local_ip;
        port = peer ? s->tcp->remote_port : s->tcp->local_port;
    } else if (s->udp) {
        ip = peer ? s->udp->remote_ip : s->udp->local_ip;
        port = peer ? s->udp->remote_port : s->udp->local_port;
    }
    int connected = s->connected && (s->tcp || s->udp);
    net_unlock();
    if (peer && !connected)
        return -ENOTCONN;
    return put_addr(uaddr, ulen, &ip, port);
}

static long inet_getsockname(long fd, long uaddr, long ulen) { return name_of(fd, uaddr, ulen, 0); }
static long inet_getpeername(long fd, long uaddr, long ulen) { return name_of(fd, uaddr, ulen, 1); }


static long inet_setsockopt(long fd, long level, long name, long uval, long len)
{
    long err;
    struct sock *s = sock_get(fd, 0, &err);
    if (!s)
        return err;
    int v = 0;
    if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
        if (len < (long)sizeof(struct timeval_k) || !user_ok((uintptr_t)uval, sizeof(struct timeval_k), PROT_READ))
            return -EINVAL;
        const struct timeval_k *tv = (const struct timeval_k *)uval;
        uint64_t ns = (uint64_t)tv->sec * NSEC_PER_SEC + (uint64_t)tv->usec * NSEC_PER_USEC;
        *(name == SO_RCVTIMEO ? &s->rcvtimeo : &s->sndtimeo) = ns;
        return 0;
    }
    if (len >= 4) {
        if (!user_ok((uintptr_t)uval, 4, PROT_READ))
            return -EFAULT;
        v = *(const int *)uval;
    } else if (level != SOL_SOCKET || name != SO_LINGER) {
        return -EINVAL;
    }
    net_lock();
    long r = 0;
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_REUSEADDR:
        case SO_REUSEPORT:
            s->reuse = v != 0;
            break;
        case SO_KEEPALIVE:
            s->keepalive = v != 0;
            if (s->tcp && v)
                ip_set_option(s->tcp, SOF_KEEPALIVE);
            else if (s->tcp)
                ip_reset_option(s->tcp, SOF_KEEPALIVE);
            break;
        case SO_BROADCAST:
            s->broadcast = v != 0;
            if (s->udp && v)
                ip_set_option(s->udp, SOF_BROADCAST);
            break;
        case SO_RCVBUF:
        case SO_SNDBUF:
            *(name == SO_RCVBUF ? &s->rcvbuf : &s->sndbuf) = v < 256 ? 256 : v; /* recorded; TCP keeps lwIP's window */
            break;
        case SO_LINGER:
            break; /* accepted: close never blocks */
        default:
            r = -ENOPROTOOPT;
        }
    } else if (level == IPPROTO_TCP && s->type == SOCK_STREAM) {
        switch (name) {
        case TCP_NODELAY:
            if (s->tcp && v)
                tcp_nagle_disable(s->tcp);
            else if (s->tcp)
                tcp_nagle_enable(s->tcp);
            break;
        case TCP_MAXSEG:
            break; /* accepted */
        default:
            r = 0; /* keep-alive tuning and the like: accepted */
        }
    } else if (level == IPPROTO_IP) {
        r = 0; /* IP_TOS and the like: accepted */
    } else {
        r = -ENOPROTOOPT;
    }
    net_unlock();
    return r;
}

static long inet_getsockopt(long fd, long level, long name, long uval, long ulen)
{
    long err;
    struct sock *s = sock_get(fd, 0, &err);
    if (!s)
        return err;
    if (!user_ok((uintptr_t)ulen, 4, PROT_READ | PROT_WRITE))
        return -EFAULT;
    uint32_t len = *(uint32_t *)ulen;
    int v;
    net_lock();
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_TYPE: v = s->type; break;
        case SO_ERROR: v = s->err; s->err = s->connected || s->connecting ? s->err : 0; break;
        case SO_REUSEADDR: case SO_REUSEPORT: v = s->reuse; break;
        case SO_KEEPALIVE: v = s->keepalive; break;
        case SO_BROADCAST: v = s->broadcast; break;
        case SO_RCVBUF: v = s->rcvbuf; break;
        case SO_SNDBUF: v = s->sndbuf; break;
        case SO_ACCEPTCONN: v = s->listening; break;
        case SO_DOMAIN: v = AF_INET; break;
        case SO_PROTOCOL: v = s->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP; break;
        default: net_unlock(); return -ENOPROTOOPT;
        }
    } else if (level == IPPROTO_TCP && s->type == SOCK_STREAM) {
        switch (name) {
        case TCP_NODELAY: v = s->tcp ? tcp_nagle_disabled(s->tcp) != 0 : 0; break;
        case TCP_MAXSEG: v = TCP_MSS; break;
        default: net_unlock(); return -ENOPROTOOPT;
        }
    } else {
        net_unlock();
        return -ENOPROTOOPT;
    }
    net_unlock();
    if (len < 4 || !user_ok((uintptr_t)uval, 4, PROT_WRITE))
        return -EINVAL;
    *(int *)uval = v;
    *(uint32_t *)ulen = 4;
    return 0;
}

/* --- sendto/recvfrom/sendmsg/recvmsg --- */
struct msghdr_k {
    uintptr_t name;
    uint32_t namelen;
    uintptr_t iov;
    size_t iovlen;
    uintptr_t control;
    size_t controllen;
    int flags;
};

#define MAX_IOV 64

static long check_iov(uintptr_t uiov, size_t n, struct iovec_k *out, unsigned prot)
{
    if (n > MAX_IOV)
        return -EMSGSIZE;
    if (!user_ok(uiov, n * sizeof *out, PROT_READ))
        return -EFAULT;
    memcpy(out, (const void *)uiov, n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        if (out[i].len && !user_ok((uintptr_t)out[i].base, out[i].len, prot))
            return -EFAULT;
    return 0;
}

static long do_send(struct sock *s, int fflags, const struct iovec_k *iov, int niov, long flags, long uaddr, long alen)
{
    int nonblock = (fflags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    if (s->type == SOCK_STREAM) {
        long total = 0;
        for (int i = 0; i < niov; i++) {
            long r = tcp_send_from(s, iov[i].base, iov[i].len, nonblock);
            if (r < 0)
                return total ? total : r;
            total += r;
            if ((size_t)r < iov[i].len)
                break;
        }
        return total;
    }
    ip_addr_t ip;
    u16_t port = 0;
    if (uaddr) {
        long err = get_addr(uaddr, alen, &ip, &port);
        if (err)
            return err;
    }
    return udp_send_from(s, iov, niov, uaddr ? &ip : 0, port);
}

static long do_recv(struct sock *s, int fflags, const struct iovec_k *iov, int niov, long flags, long uaddr, long ulen,
                    int *msg_flags)
{
    int nonblock = (fflags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    if (s->type == SOCK_STREAM) {
        long total = 0;
        for (int i = 0; i < niov; i++) {
            if (!iov[i].len)
                continue;
            long r = tcp_recv_into(s, (char *)iov[i].base, iov[i].len, (int)flags, nonblock || total > 0);
            if (r < 0)
                return total ? total : r;
            total += r;
            if ((size_t)r < iov[i].len)
                break;
        }
        if (uaddr && ulen && user_ok((uintptr_t)ulen, 4, PROT_WRITE))
            *(uint32_t *)ulen = 0; /* connected: no address */
        return total;
    }
    ip_addr_t from;
    u16_t port;
    int trunc = 0;
    long r = udp_recv_into(s, iov, niov, (int)flags, nonblock, &from, &port, &trunc);
    if (r >= 0) {
        long err = put_addr(uaddr, ulen, &from, port);
        if (err)
            return err;
        if (msg_flags)
            *msg_flags = trunc ? MSG_TRUNC : 0;
    }
    return r;
}

/* Sending on a connection that is shut down for writing raises SIGPIPE,
 * as a write does, unless the call says MSG_NOSIGNAL. */
static long sent(long r, long flags)
{
    if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
        signal_self(13);
    return r;
}

static long inet_sendto(long fd, long buf, long len, long flags, long uaddr, long alen)
{
    long err;
    int fflags;
    struct sock *s = sock_get(fd, &fflags, &err);
    if (!s)
        return err;
    if (!user_ok((uintptr_t)buf, (size_t)len, PROT_READ))
        return -EFAULT;
    struct iovec_k iov = {(const char *)buf, (size_t)len};
    return sent(do_send(s, fflags, &iov, 1, flags, uaddr, alen), flags);
}

static long inet_recvfrom(long fd, long buf, long len, long flags, long uaddr, long ulen)
{
    long err;
    int fflags;
    struct sock *s = sock_get(fd, &fflags, &err);
    if (!s)
        return err;
    if (!user_ok((uintptr_t)buf, (size_t)len, PROT_WRITE))
        return -EFAULT;
    struct iovec_k iov = {(const char *)buf, (size_t)len};
    return do_recv(s, fflags, &iov, 1, flags, uaddr, ulen, 0);
}

static long inet_sendmsg(long fd, long umsg, long flags)
{
    long err;
    int fflags;
    struct sock *s = sock_get(fd, &fflags, &err);
    if (!s)
        return err;
    if (!user_ok((uintptr_t)umsg, sizeof(struct msghdr_k), PROT_READ))
        return -EFAULT;
    const struct msghdr_k *m = (const struct msghdr_k *)umsg;
    struct iovec_k iov[MAX_IOV];
    if ((err = check_iov(m->iov, m->iovlen, iov, PROT_READ)))
        return err;
    return sent(do_send(s, fflags, iov, (int)m->iovlen, flags, (long)m->name, m->namelen), flags);
}

static long inet_recvmsg(long fd, long umsg, long flags)
{
    long err;
    int fflags;
    struct sock *s = sock_get(fd, &fflags, &err);
    if (!s)
        return err;
    if (!user_ok((uintptr_t)umsg, sizeof(struct msghdr_k), PROT_READ | PROT_WRITE))
        return -EFAULT;
    struct msghdr_k *m = (struct msghdr_k *)umsg;
    struct iovec_k iov[MAX_IOV];
    if ((err = check_iov(m->iov, m->iovlen, iov, PROT_WRITE)))
        return err;
    int mflags = 0;
    long r = do_recv(s, fflags, iov, (int)m->iovlen, flags, m->name ? (long)m->name : 0,
                     m->name ? (long)&m->namelen : 0, &mflags);
    if (r >= 0) {
        m->controllen = 0;
        m->flags = mflags;
    }
    return r;
}

static const struct socket_ops inet_ops = {
    inet_bind, inet_listen, inet_accept4, inet_connect, inet_shutdown, inet_getsockname, inet_getpeername,
    inet_setsockopt, inet_getsockopt, inet_sendto, inet_recvfrom, inet_sendmsg, inet_recvmsg,
};

SOCKET_FAMILY(inet, {AF_INET, inet_socket, net_flush});
