/* The program's standard streams (hermit/stdio.h): stdin's buffer, blocking
 * writes over whichever transport the board has, and what the host said
 * about its terminal. The line discipline is tty.c's. */
#include <hermit/console.h>
#include <hermit/errno.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/iowait.h>
#include <hermit/spinlock.h>
#include <hermit/stdio.h>
#include <hermit/string.h>
#include <hermit/time.h>

#define POLLIN 0x001
#define POLLOUT 0x004
#define POLLERR 0x008
#define POLLHUP 0x010

/* The bytes a transport writes for the host may wait this long at exit for
 * a host that is slow to take them (a pager the user has not scrolled). */
#define DRAIN_NS (60 * NSEC_PER_SEC)

static const struct stdio_transport *transport;
static volatile int closed[STDIO_STREAMS];
static int tty_mask; /* bit s: stream s is a terminal on the host; 8: we run its line discipline */
static char kinds[STDIO_STREAMS] = {'p', 'p', 'p'}; /* what each is on the host (hermit.stdio=) */
static uint16_t win_rows = 24, win_cols = 80;

void stdio_register(const struct stdio_transport *t)
{
    if (!transport)
        transport = t;
}

int stdio_connected(void) { return transport != 0; }

void stdio_notify(void)
{
    int sig = tty_take_signal();
    if (sig)
        tty_signal(sig);
    io_notify();
}

void stdio_closed(unsigned s)
{
    if (s < STDIO_STREAMS)
        closed[s] = 1;
    io_notify();
}

/* --- terminal facts from the host --- */

int stdio_is_tty(unsigned s) { return s < STDIO_STREAMS && (tty_mask >> s & 1); }

static int tty_raw_host(void) { return (tty_mask & 8) != 0; }

void stdio_winsize(uint16_t *rows, uint16_t *cols)
{
    *rows = win_rows;
    *cols = win_cols;
}

void stdio_set_winsize(uint16_t rows, uint16_t cols)
{
    win_rows = rows;
    win_cols = cols;
}

static int set_tty(const char *value) /* bits 0-2: fds 0-2 are terminals; 8: the host's is raw */
{
    tty_mask = (int)parse_u64(&value) & 15;
    return 0;
}
HERMIT_PARAM("hermit.tty=", set_tty);

static int set_winsize(const char *value) /* ROWSxCOLS */
{
    uint64_t rows = parse_u64(&value), cols = 0;
    if (*value == 'x') {
        value++;
        cols = parse_u64(&value);
    }
    if (!rows || !cols || rows > 65535 || cols > 65535 || *value)
        return -1;
    stdio_set_winsize((uint16_t)rows, (uint16_t)cols);
    return 0;
}
HERMIT_PARAM("hermit.winsize=", set_winsize);

static int set_kinds(const char *value) /* per stream: c f p s t (see stdio.h) */
{
    for (unsigned s = 0; s < STDIO_STREAMS && value[s]; s++)
        kinds[s] = value[s];
    return 0;
}
HERMIT_PARAM("hermit.stdio=", set_kinds);

char stdio_kind(unsigned s) { return s < STDIO_STREAMS ? (stdio_is_tty(s) ? 't' : kinds[s]) : 'p'; }

/* --- stdin: a ring the transport fills and the program empties --- */

#define RING (64 * 1024)
static char ring[RING];
static size_t ring_head, ring_len;
static int in_eof;
static spinlock_t in_lock = SPINLOCK_INIT;

static void ring_store(const char *buf, size_t n)
{
    for (size_t i = 0; i < n && ring_len < RING; i++)
        ring[(ring_head + ring_len++) % RING] = buf[i];
}

size_t stdio_input(const char *buf, size_t n)
{
    unsigned long f = spin_lock_irqsave(&in_lock);
    size_t room = RING - ring_len, took;
    if (stdio_is_tty(STDIO_IN) && tty_raw_host()) {
        took = tty_input(buf, n, room, ring_store);
    } else {
        took = n < room ? n : room;
        ring_store(buf, took);
    }
    spin_unlock_irqrestore(&in_lock, f);
    io_notify();
    return took;
}

void stdio_input_eof(void)
{
    unsigned long f = spin_lock_irqsave(&in_lock);
    in_eof = 1;
    spin_unlock_irqrestore(&in_lock, f);
    io_notify();
}

/* Bytes a read may return now: in canonical mode, up to the end of the
 * first line (the ring holds finished lines only). */
static size_t readable_locked(void)
{
    if (!(stdio_is_tty(STDIO_IN) && tty_raw_host() && tty_canonical()))
        return ring_len;
    for (size_t i = 0; i < ring_len; i++)
        if (ring[(ring_head + i) % RING] == '\n')
            return i + 1;
    return ring_len;
}

size_t stdio_readable(void)
{
    unsigned long f = spin_lock_irqsave(&in_lock);
    size_t n = readable_locked();
    spin_unlock_irqrestore(&in_lock, f);
    return n;
}

long stdio_read(char *buf, size_t n, int nonblock)
{
    if (!n)
        return 0;
    for (;;) {
        uint64_t seq = io_seq();
        unsigned long f = spin_lock_irqsave(&in_lock);
        size_t avail = readable_locked();
        int raw_tty = stdio_is_tty(STDIO_IN) && tty_raw_host();
        if (avail) {
            size_t k = avail < n ? avail : n;
            for (size_t i = 0; i < k; i++)
                buf[i] = ring[(ring_head + i) % RING];
            ring_head = (ring_head + k) % RING;
            ring_len -= k;
            spin_unlock_irqrestore(&in_lock, f);
            if (transport && transport->rx_resume)
                transport->rx_resume();
            return (long)k;
        }
        int eof = in_eof || !transport || (raw_tty && tty_take_eof());
        int vmin0 = raw_tty && !tty_canonical() && tty_vmin() == 0;
        spin_unlock_irqrestore(&in_lock, f);
        if (eof || vmin0)
            return 0;
        if (nonblock)
            return -EAGAIN;
        if (io_wait_intr(seq, 0) == -EINTR)
            return -ERESTARTSYS; /* a signal: restarted or EINTR, as the program's handler says */
    }
}

/* --- stdout and stderr --- */

/* Bytes the transport took, waiting for room unless `nonblock`. */
static long send_all(unsigned s, const char *buf, size_t n, int nonblock)
{
    size_t done = 0;
    while (done < n) {
        uint64_t seq = io_seq();
        if (closed[s])
            return done ? (long)done : -EPIPE;
        long k = transport->send(s, buf + done, n - done);
        if (k < 0)
            return done ? (long)done : k;
        done += (size_t)k;
        if (k == 0) {
            if (nonblock)
                return done ? (long)done : -EAGAIN;
            if (io_wait_intr(seq, 0) == -EINTR)
                return done ? (long)done : -ERESTARTSYS;
        }
    }
    return (long)done;
}

long stdio_write(unsigned s, const char *buf, size_t n, int nonblock)
{
    if (s != STDIO_OUT && s != STDIO_ERR)
        return -EPIPE;
    if (!transport) { /* no stream transport: the console has it (a C application on a bare board) */
        console_write(buf, n);
        return (long)n;
    }
    if (!(stdio_is_tty(s) && tty_raw_host() && tty_onlcr()))
        return send_all(s, buf, n, nonblock);
    size_t done = 0;
    while (done < n) {
        size_t k = 0;
        while (done + k < n && buf[done + k] != '\n')
            k++;
        if (k) {
            long r = send_all(s, buf + done, k, nonblock);
            if (r < 0)
                return done ? (long)done : r;
            done += (size_t)r;
            if ((size_t)r < k)
                return (long)done;
        }
        if (done < n) {
            long r = send_all(s, "\r\n", 2, 0);
            if (r < 0)
                return done ? (long)done : r;
            done++;
        }
    }
    return (long)done;
}

/* Echo from the line discipline: never waits (an interrupt handler). */
void tty_echo(const char *buf, size_t n)
{
    if (!transport || closed[STDIO_OUT])
        return;
    while (n) {
        long k = transport->send(STDIO_OUT, buf, n);
        if (k <= 0)
            return;
        buf += k;
        n -= (size_t)k;
    }
}

short stdio_poll(unsigned s)
{
    if (s == STDIO_IN) {
        unsigned long f = spin_lock_irqsave(&in_lock);
        short r = (short)(readable_locked() ? POLLIN : 0);
        if ((in_eof || !transport) && !ring_len) {
            char k = stdio_kind(STDIO_IN); /* at the end, as the host's kind of file says it */
            r |= k == 'p' ? POLLHUP : k == 's' ? POLLIN | POLLHUP : POLLIN;
        }
        spin_unlock_irqrestore(&in_lock, f);
        return r;
    }
    if (!transport)
        return POLLOUT;
    if (closed[s])
        return POLLOUT | POLLERR;
    if (transport->poll)
        transport->poll();
    return (short)(transport->writable(s) ? POLLOUT : 0);
}

void stdio_drain(void)
{
    if (!transport)
        return;
    struct poll_bound bound = {0};
    while (!(transport->sent(STDIO_OUT) && transport->sent(STDIO_ERR))) {
        if (poll_expired(&bound, DRAIN_NS)) {
            pr_warn("the host did not take the program's last output in %d s; it is lost\n",
                    (int)(DRAIN_NS / NSEC_PER_SEC));
            return;
        }
        if (transport->poll)
            transport->poll();
        arch_cpu_relax();
    }
}
