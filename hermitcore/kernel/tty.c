/* The terminal line discipline, as a serial console's on Linux (n_tty):
 * when the host's stdin is a terminal, `hermitcore run` puts it in raw mode
 * and the guest does what the host's tty driver no longer does -- canonical
 * lines with erase and kill, echo, ^C/^\ /^Z as signals, ^D as end of file,
 * CR/NL mapping and output processing -- under the program's termios
 * (tcgetattr/tcsetattr). Input passes here as it arrives (stdio_input), so
 * ^C works while the program is busy. */
#include <hermit/hermit.h>
#include <hermit/stdio.h>
#include <hermit/string.h>
#include <hermit/tty.h>

/* termios bits (Linux, asm-generic) */
#define ISTRIP 0040
#define INLCR 0100
#define IGNCR 0200
#define ICRNL 0400
#define IXON 02000
#define OPOST 1
#define ONLCR 4
#define ISIG 1
#define ICANON 2
#define ECHO 010
#define ECHOE 020
#define ECHOK 040
#define ECHONL 0100
#define NOFLSH 0200
#define TOSTOP 0400
#define ECHOCTL 01000
#define ECHOKE 04000
#define IEXTEN 0100000
enum { VINTR, VQUIT, VERASE, VKILL, VEOF, VTIME, VMIN, VSWTC, VSTART, VSTOP, VSUSP, VEOL, VREPRINT, VDISCARD,
       VWERASE, VLNEXT, VEOL2 };

static struct kernel_termios tio = {
    .c_iflag = ICRNL | IXON,
    .c_oflag = OPOST | ONLCR,
    .c_cflag = 017 | 060 | 0200, /* B38400 CS8 CREAD */
    .c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
    .c_cc = {[VINTR] = 3, [VQUIT] = 0x1c, [VERASE] = 0x7f, [VKILL] = 0x15, [VEOF] = 4, [VMIN] = 1,
             [VSTART] = 0x11, [VSTOP] = 0x13, [VSUSP] = 0x1a, [VREPRINT] = 0x12, [VDISCARD] = 0x0f,
             [VWERASE] = 0x17, [VLNEXT] = 0x16},
};

#define LINE_MAX 4096
static char line[LINE_MAX]; /* the canonical line being edited */
static size_t line_len;
static int eof_pending; /* ^D on an empty line: the next read returns 0 */

void tty_get(struct kernel_termios *t) { *t = tio; }
void tty_set(const struct kernel_termios *t) { tio = *t; }
int tty_canonical(void) { return (tio.c_lflag & ICANON) != 0; }
int tty_onlcr(void) { return (tio.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR); }
unsigned tty_vmin(void) { return tio.c_cc[VMIN]; }
int tty_tostop(void) { return (tio.c_lflag & TOSTOP) != 0; }

int tty_take_eof(void)
{
    int e = eof_pending;
    eof_pending = 0;
    return e;
}

/* Raised by the input path (transport locks held), delivered by
 * stdio_notify once the transport has let go. */
static volatile int pending_sig;

int tty_take_signal(void) { return __atomic_exchange_n(&pending_sig, 0, __ATOMIC_ACQ_REL); }

static void echo_char(char c)
{
    if (!(tio.c_lflag & ECHO)) {
        if (c == '\n' && (tio.c_lflag & ECHONL))
            tty_echo(tty_onlcr() ? "\r\n" : "\n", tty_onlcr() ? 2 : 1);
        return;
    }
    if (c == '\n') {
        tty_echo(tty_onlcr() ? "\r\n" : "\n", tty_onlcr() ? 2 : 1);
    } else if ((tio.c_lflag & ECHOCTL) && ((unsigned char)c < 0x20 && c != '\t') ) {
        char ctl[2] = {'^', (char)(c + 0x40)};
        tty_echo(ctl, 2);
    } else if (c == 0x7f && (tio.c_lflag & ECHOCTL)) {
        tty_echo("^?", 2);
    } else {
        tty_echo(&c, 1);
    }
}

/* Wipe the last character of the line from the screen and the buffer. */
static void erase_one(void)
{
    if (!line_len)
        return;
    char c = line[--line_len];
    if ((tio.c_lflag & (ECHO | ECHOE)) == (ECHO | ECHOE)) {
        int width = ((unsigned char)c < 0x20 && c != '\t' && (tio.c_lflag & ECHOCTL)) || c == 0x7f ? 2 : 1;
        for (int i = 0; i < width; i++)
            tty_echo("\b \b", 3);
    }
}

size_t tty_input(const char *buf, size_t n, size_t room, void (*store)(const char *, size_t))
{
    size_t i = 0;
    for (; i < n; i++) {
        char c = buf[i];
        if (tio.c_iflag & ISTRIP)
            c &= 0x7f;
        if (c == '\r') {
            if (tio.c_iflag & IGNCR)
                continue;
            if (tio.c_iflag & ICRNL)
                c = '\n';
        } else if (c == '\n' && (tio.c_iflag & INLCR)) {
            c = '\r';
        }
        if (tio.c_lflag & ISIG) {
            int sig = c == (char)tio.c_cc[VINTR] ? 2 : c == (char)tio.c_cc[VQUIT] ? 3 : c == (char)tio.c_cc[VSUSP] ? 20 : 0;
            if (sig && c) {
                echo_char(c);
                if (!(tio.c_lflag & NOFLSH))
                    line_len = 0;
                pending_sig = sig;
                continue;
            }
        }
        if (!(tio.c_lflag & ICANON)) {
            if (!room)
                break;
            store(&c, 1);
            room--;
            echo_char(c);
            continue;
        }
        if (c == (char)tio.c_cc[VERASE] && c) {
            erase_one();
        } else if (c == (char)tio.c_cc[VWERASE] && c && (tio.c_lflag & IEXTEN)) {
            while (line_len && line[line_len - 1] == ' ')
                erase_one();
            while (line_len && line[line_len - 1] != ' ')
                erase_one();
        } else if (c == (char)tio.c_cc[VKILL] && c) {
            if (tio.c_lflag & ECHOKE)
                while (line_len)
                    erase_one();
            else
                line_len = 0;
        } else if (c == (char)tio.c_cc[VEOF] && c) {
            if (!line_len) {
                eof_pending = 1;
            } else if (line_len <= room) {
                store(line, line_len); /* the line so far, without a newline */
                room -= line_len;
                line_len = 0;
            } else {
                break;
            }
        } else if (c == '\n' || (c == (char)tio.c_cc[VEOL] && c) || (c == (char)tio.c_cc[VEOL2] && c)) {
            if (line_len + 1 > room)
                break; /* the reader is behind: the rest waits */
            line[line_len++] = c;
            echo_char(c);
            store(line, line_len);
            room -= line_len;
            line_len = 0;
        } else if (line_len < LINE_MAX - 1) {
            line[line_len++] = c;
            echo_char(c);
        }
    }
    return i;
}
