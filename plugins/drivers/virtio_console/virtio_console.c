/* virtio-console (virtio 1.2, 5.3) with multiple ports: the program's
 * standard streams, one port each, named by the host ("org.hermitcore.stdin",
 * ".stdout", ".stderr"), and -- on boards that choose it over a UART
 * (VCON_KERNEL_LOG) -- the kernel log on port 0, the console port.
 *
 * Streams: writes fill transmit buffers and return; the host takes them at
 * its pace (QEMU stops taking while the host's stdout is full, so a writer
 * waits for a free buffer). Input arrives in receive buffers and is handed to
 * the stdio layer as it has room. The host closing a port (PORT_OPEN 0) is
 * end of file on stdin and EPIPE on stdout/stderr.
 *
 * The kernel log is written synchronously, polling the used ring, so it
 * works with interrupts off and in a panic; output before the device is
 * found is kept by the console layer and replayed here. */
#include <hermit/console.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/mm.h>
#include <hermit/spinlock.h>
#include <hermit/stdio.h>
#include <hermit/string.h>
#include <hermit/time.h>
#include <hermit/virtio.h>

#define F_MULTIPORT (1ull << 1)
#define PORTS 4 /* 0 the console port, 1-3 the streams (QEMU's nr=) */
#define TX_BUFS 8
#define TX_SIZE (16 * 1024)
#define RX_BUFS 4
#define RX_SIZE 4096
#define CTL_RX 16
#define CTL_SIZE 128
#define CTL_TX 16
#define LOG_CHUNK 2048
#define SPIN_LIMIT 100000000u
#define HANDSHAKE_NS (2 * NSEC_PER_SEC)
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

enum { DEVICE_READY, DEVICE_ADD, DEVICE_REMOVE, PORT_READY, CONSOLE_PORT, RESIZE, PORT_OPEN, PORT_NAME };

struct ctl {
    uint32_t id;
    uint16_t event, value;
};

struct port {
    struct virtq *rx, *tx;
    int stream; /* STDIO_IN/OUT/ERR, or -1 */
    int host_open;
    int host_told; /* a PORT_OPEN came: host_open is the host's word */
    char *tx_free[TX_BUFS];
    unsigned tx_nfree, tx_total;
    char *held;                /* a received buffer stdin had no room for yet */
    uint32_t held_off, held_len;
    int eof_told;
};

static struct virtio_dev *dev;
static struct virtq *ctl_rx, *ctl_tx;
static struct port ports[PORTS];
static struct port *by_stream[STDIO_STREAMS];
static spinlock_t lock = SPINLOCK_INIT; /* the stream and control queues */
static char *ctl_tx_free[CTL_TX];
static unsigned ctl_tx_nfree;
static unsigned named; /* stream ports the host has named */

/* Every stream named, and the host said whether stdout and stderr are
 * connected (stdin may never be: a host with no input closes it at once). */
static int handshake_done(void)
{
    return named == STDIO_STREAMS && by_stream[STDIO_OUT]->host_told && by_stream[STDIO_ERR]->host_told;
}

/* --- the kernel log on port 0 --- */

static struct virtq *log_txq;
static char log_buf[LOG_CHUNK];

static void log_write(const char *s, size_t n)
{
    while (n) {
        size_t k = n < LOG_CHUNK ? n : LOG_CHUNK;
        memcpy(log_buf, s, k);
        struct virtq_seg seg = {log_buf, (uint32_t)k};
        if (virtq_add(log_txq, &seg, 1, 0, log_buf))
            return;
        virtq_kick(log_txq);
        for (unsigned spins = 0; !virtq_get(log_txq, 0); spins++)
            if (spins == SPIN_LIMIT)
                return; /* the host stopped reading: drop rather than hang */
            else
                arch_cpu_relax();
        s += k;
        n -= k;
    }
}

static void log_putc(char c) { log_write(&c, 1); }

static const struct console vcon = {"virtio-console", log_putc, 0, log_write};

/* --- control messages (lock held) --- */

static void ctl_send(uint32_t id, uint16_t event, uint16_t value)
{
    char *b;
    while ((b = virtq_get(ctl_tx, 0)))
        ctl_tx_free[ctl_tx_nfree++] = b;
    if (!ctl_tx_nfree)
        return;
    b = ctl_tx_free[--ctl_tx_nfree];
    struct ctl m = {id, event, value};
    memcpy(b, &m, sizeof m);
    struct virtq_seg seg = {b, sizeof m};
    virtq_add(ctl_tx, &seg, 1, 0, b);
    virtq_kick(ctl_tx);
}

static int stream_of(const char *name, uint32_t len)
{
    static const char *const names[STDIO_STREAMS] = {"org.hermitcore.stdin", "org.hermitcore.stdout",
                                                     "org.hermitcore.stderr"};
    for (int s = 0; s < STDIO_STREAMS; s++)
        if (strlen(names[s]) == len && !memcmp(names[s], name, len))
            return s;
    return -1;
}

static void rx_post(struct port *p, char *buf)
{
    struct virtq_seg seg = {buf, RX_SIZE};
    virtq_add(p->rx, &seg, 0, 1, buf);
}

static void ctl_handle(const char *b, uint32_t len)
{
    struct ctl m;
    if (len < sizeof m)
        return;
    memcpy(&m, b, sizeof m);
    if (m.id >= PORTS)
        return;
    struct port *p = &ports[m.id];
    switch (m.event) {
    case DEVICE_ADD:
        ctl_send(m.id, PORT_READY, 1);
        break;
    case CONSOLE_PORT:
        ctl_send(m.id, PORT_OPEN, 1);
        break;
    case PORT_NAME: {
        uint32_t n = len - (uint32_t)sizeof m;
        while (n && b[sizeof m + n - 1] == 0)
            n--;
        int s = stream_of(b + sizeof m, n);
        if (s < 0 || by_stream[s] || m.id == 0 || !p->tx)
            break;
        p->stream = s;
        by_stream[s] = p;
        named++;
        if (s == STDIO_IN) {
            char *bufs = page_alloc(RX_BUFS * RX_SIZE / PAGE_SIZE);
            if (bufs) {
                for (unsigned i = 0; i < RX_BUFS; i++)
                    rx_post(p, bufs + i * RX_SIZE);
                virtq_kick(p->rx);
            }
        } else {
            char *bufs = page_alloc(TX_BUFS * TX_SIZE / PAGE_SIZE);
            for (unsigned i = 0; bufs && i < TX_BUFS; i++)
                p->tx_free[p->tx_nfree++] = bufs + i * TX_SIZE;
            p->tx_total = p->tx_nfree;
        }
        ctl_send(m.id, PORT_OPEN, 1); /* the guest side of the port is open */
        break;
    }
    case PORT_OPEN:
        p->host_open = m.value;
        p->host_told = 1;
        if (!m.value && p->stream > STDIO_IN)
            stdio_closed((unsigned)p->stream);
        break;
    }
}

static void ctl_poll(void)
{
    char *b;
    uint32_t len;
    int any = 0;
    while ((b = virtq_get(ctl_rx, &len))) {
        ctl_handle(b, len);
        struct virtq_seg seg = {b, CTL_SIZE};
        virtq_add(ctl_rx, &seg, 0, 1, b);
        any = 1;
    }
    if (any)
        virtq_kick(ctl_rx);
}

/* --- streams (lock held) --- */

static void tx_reclaim(struct port *p)
{
    char *b;
    while ((b = virtq_get(p->tx, 0)))
        p->tx_free[p->tx_nfree++] = b;
}

/* Hand received input to the stdio layer while it has room. Called without
 * the device lock: the line discipline echoes through vs_send. */
static spinlock_t rx_lock = SPINLOCK_INIT; /* one deliverer at a time: stdin's order */

static void rx_deliver(void)
{
    struct port *p = by_stream[STDIO_IN];
    if (!p)
        return;
    unsigned long f = spin_lock_irqsave(&rx_lock);
    for (;;) {
        if (!p->held) {
            uint32_t len;
            spin_lock(&lock);
            p->held = virtq_get(p->rx, &len);
            spin_unlock(&lock);
            if (!p->held)
                break;
            p->held_off = 0;
            p->held_len = len > RX_SIZE ? RX_SIZE : len;
        }
        p->held_off += (uint32_t)stdio_input(p->held + p->held_off, p->held_len - p->held_off);
        if (p->held_off < p->held_len)
            break; /* the reader is behind; rx_resume brings the rest */
        spin_lock(&lock);
        rx_post(p, p->held);
        virtq_kick(p->rx);
        spin_unlock(&lock);
        p->held = 0;
    }
    if (!p->held && !p->host_open && !p->eof_told) {
        p->eof_told = 1; /* everything before the host's end of file is delivered */
        stdio_input_eof();
    }
    spin_unlock_irqrestore(&rx_lock, f);
}

/* Control messages and completions (lock held); input is rx_deliver's. */
static void poll_locked(void)
{
    ctl_poll();
    for (int s = STDIO_OUT; s < STDIO_STREAMS; s++)
        if (by_stream[s])
            tx_reclaim(by_stream[s]);
}

static long vs_send(unsigned s, const char *buf, size_t n)
{
    struct port *p = s < STDIO_STREAMS ? by_stream[s] : 0;
    if (!p)
        return -32; /* EPIPE: the host did not connect this stream */
    unsigned long f = spin_lock_irqsave(&lock);
    if (!p->host_open) {
        spin_unlock_irqrestore(&lock, f);
        return -32;
    }
    tx_reclaim(p);
    size_t done = 0;
    while (done < n && p->tx_nfree) {
        size_t k = n - done < TX_SIZE ? n - done : TX_SIZE;
        char *b = p->tx_free[--p->tx_nfree];
        memcpy(b, buf + done, k);
        struct virtq_seg seg = {b, (uint32_t)k};
        virtq_add(p->tx, &seg, 1, 0, b);
        done += k;
    }
    if (done)
        virtq_kick(p->tx);
    spin_unlock_irqrestore(&lock, f);
    return (long)done;
}

/* Reap stream s's completions: bit 0, every buffer is back (all sent);
 * bit 1, one is free (a send takes bytes). Both once the host closed it. */
static int tx_state(unsigned s)
{
    struct port *p = s < STDIO_STREAMS ? by_stream[s] : 0;
    if (!p)
        return 3;
    unsigned long f = spin_lock_irqsave(&lock);
    tx_reclaim(p);
    int st = !p->host_open ? 3 : (p->tx_nfree == p->tx_total) | (p->tx_nfree > 0) << 1;
    spin_unlock_irqrestore(&lock, f);
    return st;
}

static int vs_sent(unsigned s) { return tx_state(s) & 1; }
static int vs_writable(unsigned s) { return (tx_state(s) >> 1) & 1; }

static void vs_poll(void)
{
    unsigned long f = spin_lock_irqsave(&lock);
    poll_locked();
    spin_unlock_irqrestore(&lock, f);
    rx_deliver();
}

static const struct stdio_transport streams = {"virtio-console", vs_send, vs_sent, vs_writable, vs_poll, vs_poll};

static void vs_interrupt(unsigned irq, void *arg)
{
    dev->t->interrupt_ack(dev);
    spin_lock(&lock);
    poll_locked();
    spin_unlock(&lock);
    rx_deliver();
    stdio_notify();
}

/* --- probe --- */

static int fail(struct virtio_dev *d, const char *why)
{
    pr_info("virtio-console: %s: %s\n", d->where, why);
    d->t->set_status(d, VIRTIO_STATUS_FAILED);
    return -1;
}

static int vcon_probe(struct virtio_dev *d)
{
    if (dev)
        return -1; /* one is enough */
    uint64_t feat = virtio_negotiate(d, F_MULTIPORT);
    if (!feat)
        return -1;
    dev = d;
    struct virtq *rx0 = virtq_create(d, 0, 8); /* the console port's queues must exist */
    log_txq = virtq_create(d, 1, 8);
    if (!rx0 || !log_txq)
        return fail(d, "no queues");
    log_txq->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT; /* polled */
    unsigned max_ports = (feat & F_MULTIPORT) ? virtio_config_read(d, 4, 4) : 1;
    if (max_ports >= PORTS) {
        ctl_rx = virtq_create(d, 2, CTL_RX);
        ctl_tx = virtq_create(d, 3, CTL_TX);
        char *cbuf = page_alloc(1);
        if (!ctl_rx || !ctl_tx || !cbuf)
            return fail(d, "no control queues");
        for (unsigned i = 0; i < CTL_RX; i++) {
            struct virtq_seg seg = {cbuf + i * CTL_SIZE, CTL_SIZE};
            virtq_add(ctl_rx, &seg, 0, 1, cbuf + i * CTL_SIZE);
        }
        for (unsigned i = 0; i < CTL_TX; i++)
            ctl_tx_free[ctl_tx_nfree++] = cbuf + CTL_RX * CTL_SIZE + i * 8;
        for (unsigned n = 1; n < PORTS; n++) {
            ports[n].stream = -1;
            ports[n].rx = virtq_create(d, 2 * n + 2, RX_BUFS);
            ports[n].tx = virtq_create(d, 2 * n + 3, TX_BUFS);
        }
    }
    if (d->irq == ~0u || irq_register(d->irq, vs_interrupt, 0))
        return fail(d, "no usable interrupt");
    virtio_driver_ok(d);
#ifdef VCON_KERNEL_LOG
    console_register(&vcon);
#endif
    if (!ctl_rx)
        return 0;
    /* The handshake: the host adds its ports, names them and says which are
     * connected; done here, polled, so the streams are there before the
     * program starts (poll_expired: the clock only if the host is slow). */
    unsigned long f = spin_lock_irqsave(&lock);
    virtq_kick(ctl_rx);
    ctl_send(0, DEVICE_READY, 1);
    struct poll_bound bound = {0};
    while (!handshake_done() && !poll_expired(&bound, HANDSHAKE_NS)) {
        ctl_poll();
        arch_cpu_relax();
    }
    ctl_poll();
    spin_unlock_irqrestore(&lock, f);
    if (by_stream[STDIO_OUT]) {
        stdio_register(&streams);
        pr_info("virtio-console: standard streams on %u ports (%s)\n", named, d->where);
    }
    return 0;
}

static const struct virtio_driver vcon_driver = {VIRTIO_ID_CONSOLE, "virtio-console", vcon_probe};

static void virtio_console_register(void) { virtio_driver_register(&vcon_driver); }
HERMIT_INIT(HERMIT_INIT_DRIVER, virtio_console_register);
