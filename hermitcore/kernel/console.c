/* The kernel console: the log (printk) goes to every registered console.
 * On a board without a stream device the first console also carries the
 * program's standard streams, framed (HERMIT_STDIO_MUX; see console.h). */
#include <hermit/console.h>
#include <hermit/init.h>
#include <hermit/spinlock.h>
#include <hermit/stdio.h>
#include <hermit/string.h>
#include <hermit/user.h>

#define MAX_CONSOLES 4

/* Boards whose console is found late in boot (virtio-console) keep early
 * output for it; the console plugin sets the size. Others pay nothing. */
#ifdef HERMIT_CONSOLE_REPLAY
#define EARLY_SIZE HERMIT_CONSOLE_REPLAY
#else
#define EARLY_SIZE 1
#endif

#define ESC 0xff

static const struct console *consoles[MAX_CONSOLES];
static unsigned nconsoles;
static spinlock_t lock = SPINLOCK_INIT; /* the UARTs; innermost lock */
static char early[EARLY_SIZE];          /* output before any console registered */
static size_t early_len;
static unsigned cur_stream; /* HERMIT_STDIO_MUX: the stream the host is reading */

static void put(const struct console *con, const char *s, size_t n)
{
    if (con->write) {
        con->write(s, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        con->putc(s[i]);
}

#ifdef HERMIT_STDIO_MUX
/* Stream `stream`'s bytes, framed, to the first console (lock held). */
static void put_framed(unsigned stream, const char *s, size_t n)
{
    const struct console *con = consoles[0];
    char out[256];
    size_t k = 0;
    if (stream != cur_stream) {
        out[k++] = (char)ESC;
        out[k++] = (char)stream;
        cur_stream = stream;
    }
    for (size_t i = 0; i < n; i++) {
        if (k + 2 > sizeof out) {
            put(con, out, k);
            k = 0;
        }
        if ((unsigned char)s[i] == ESC)
            out[k++] = (char)ESC;
        out[k++] = s[i];
    }
    if (k)
        put(con, out, k);
}
#endif

void console_register(const struct console *con)
{
    unsigned long f = spin_lock_irqsave(&lock);
    if (nconsoles < MAX_CONSOLES) {
        consoles[nconsoles++] = con;
        if (nconsoles == 1 && early_len)
            put(con, early, early_len);
        early_len = 0;
    }
    spin_unlock_irqrestore(&lock, f);
}

void console_write(const char *s, size_t n)
{
    unsigned long f = spin_lock_irqsave(&lock);
    if (!nconsoles && EARLY_SIZE > 1) {
        size_t k = n < EARLY_SIZE - early_len ? n : EARLY_SIZE - early_len;
        memcpy(early + early_len, s, k);
        early_len += k;
    }
    for (unsigned c = 0; c < nconsoles; c++) {
#ifdef HERMIT_STDIO_MUX
        if (c == 0) {
            put_framed(0, s, n);
            continue;
        }
#endif
        put(consoles[c], s, n);
    }
    spin_unlock_irqrestore(&lock, f);
}

const struct console *console_primary(void)
{
    return nconsoles ? consoles[0] : 0;
}

#ifdef HERMIT_STDIO_MUX
/* --- the streams over the console --- */

static spinlock_t rx_lock = SPINLOCK_INIT;
static int in_esc;    /* the last input byte was ESC */
static int held = -1; /* a data byte stdin had no room for */
static int rx_off;    /* the console's receive interrupt is held off */

static long mux_send(unsigned s, const char *buf, size_t n)
{
    if (!nconsoles)
        return (long)n; /* nowhere to go: as /dev/null */
    unsigned long f = spin_lock_irqsave(&lock);
    put_framed(s, buf, n);
    spin_unlock_irqrestore(&lock, f);
    return (long)n;
}

static int mux_sent(unsigned s) { return 1; } /* a UART write has left when it returns */
static int mux_writable(unsigned s) { return 1; }

static void rx_resume_locked(void)
{
    if (held >= 0) {
        char c = (char)held;
        if (!stdio_input(&c, 1))
            return;
        held = -1;
    }
    if (rx_off && nconsoles && consoles[0]->rx_enable) {
        rx_off = 0;
        consoles[0]->rx_enable(1);
    }
}

static void mux_rx_resume(void)
{
    unsigned long f = spin_lock_irqsave(&rx_lock);
    rx_resume_locked();
    spin_unlock_irqrestore(&rx_lock, f);
}

int console_input_room(void)
{
    unsigned long f = spin_lock_irqsave(&rx_lock);
    if (held >= 0)
        rx_resume_locked();
    int room = held < 0;
    if (!room && !rx_off && nconsoles && consoles[0]->rx_enable) {
        rx_off = 1;
        consoles[0]->rx_enable(0);
    }
    spin_unlock_irqrestore(&rx_lock, f);
    return room;
}

static int stdin_byte(char c) /* rx_lock held */
{
    if (!stdio_input(&c, 1))
        held = (unsigned char)c;
    return 1;
}

static const struct stdio_transport mux = {"console", mux_send, mux_sent, mux_writable, 0, mux_rx_resume};

/* The console takes input from now on: the host holds stdin back until it
 * reads this (a UART drops what arrives before its driver is set up). */
void console_input_ready(void)
{
    static const char ready[2] = {(char)ESC, 3};
    unsigned long f = spin_lock_irqsave(&lock);
    if (nconsoles)
        put(consoles[0], ready, 2);
    spin_unlock_irqrestore(&lock, f);
}

static void mux_register(void) { stdio_register(&mux); }
HERMIT_INIT(HERMIT_INIT_CONSOLE, mux_register);
#else
/* The streams have their own device: the console's input carries only the
 * host's escapes (signals). */
static spinlock_t rx_lock = SPINLOCK_INIT;
static int in_esc;
int console_input_room(void) { return 1; }
void console_input_ready(void) {}
static int stdin_byte(char c) { return 0; } /* (stdin is the stream device's) */
#endif

static int in_signal; /* 0xff 0x07 came: the next byte is a signal number */

void console_input(char c)
{
    unsigned long f = spin_lock_irqsave(&rx_lock);
    int sig = 0;
    if (in_signal) {
        in_signal = 0;
        sig = (unsigned char)c;
    } else if (!in_esc && (unsigned char)c == ESC) {
        in_esc = 1;
    } else if (in_esc && (unsigned char)c != ESC) {
        in_esc = 0;
        if (c == 4)
            stdio_input_eof();
        else if (c == 5 || c == 6)
            stdio_closed((unsigned)(c - 4));
        else if (c == 7)
            in_signal = 1;
    } else {
        in_esc = 0;
        stdin_byte(c);
    }
    spin_unlock_irqrestore(&rx_lock, f);
#ifdef HERMIT_STDIO_MUX
    stdio_notify(); /* a ^C among the input is raised here, outside the lock */
#endif
    if (sig)
        host_signal(sig);
}
