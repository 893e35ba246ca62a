/* A small printf: %d %i %u %x %X %o %p %s %c %%, with l/ll/z/h modifiers,
 * width, '-', '0' and '#' flags, and precision for strings. */
#include <hermit/console.h>
#include <hermit/printk.h>
#include <hermit/stdio.h>
#include <hermit/string.h>
#include <stdint.h>

struct sink {
    char *buf;
    size_t size;
    size_t len;
    int to_console; /* 1: the kernel log; 2: the program's stdout (a C application's printf) */
    unsigned pending; /* to_console: bytes in out[] */
    char out[160];    /* whole lines reach the console in one write (SMP) */
};

static void flush(struct sink *s)
{
    if (s->to_console == 2)
        stdio_write(STDIO_OUT, s->out, s->pending, 0);
    else
        console_write(s->out, s->pending);
    s->pending = 0;
}

static void put(struct sink *s, char c)
{
    if (s->to_console) {
        s->out[s->pending++] = c;
        if (s->pending == sizeof s->out)
            flush(s);
    } else if (s->len + 1 < s->size) {
        s->buf[s->len] = c;
    }
    s->len++;
}

static void put_padded(struct sink *s, const char *str, size_t n, int width, int left, char pad)
{
    int fill = width > (int)n ? width - (int)n : 0;
    if (!left)
        while (fill-- > 0)
            put(s, pad);
    for (size_t i = 0; i < n; i++)
        put(s, str[i]);
    if (left)
        while (fill-- > 0)
            put(s, ' ');
}

static int format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(s, *fmt);
            continue;
        }
        fmt++;
        int left = 0, width = 0, prec = -1, lng = 0, alt = 0;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '#')
                alt = 1;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            }
            while (*fmt >= '0' && *fmt <= '9')
                prec = prec * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l' || *fmt == 'z' || *fmt == 'h') {
            if (*fmt != 'h')
                lng++;
            fmt++;
        }
        char tmp[24];
        const char *digits = "0123456789abcdef";
        unsigned base = 10;
        int neg = 0;
        uint64_t v;
        switch (*fmt) {
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            put_padded(s, tmp, 1, width, left, ' ');
            continue;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = strlen(str);
            if (prec >= 0 && (size_t)prec < n)
                n = prec;
            put_padded(s, str, n, width, left, ' ');
            continue;
        }
        case '%':
            put(s, '%');
            continue;
        case 'd':
        case 'i': {
            int64_t sv = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            neg = sv < 0;
            v = neg ? -(uint64_t)sv : (uint64_t)sv;
            break;
        }
        case 'p':
            v = (uintptr_t)va_arg(ap, void *);
            base = 16;
            put(s, '0');
            put(s, 'x');
            break;
        case 'X':
            digits = "0123456789ABCDEF";
            /* fallthrough */
        case 'x':
            base = 16;
            if (alt) {
                put(s, '0');
                put(s, 'x');
            }
            /* fallthrough */
        case 'u':
        case 'o':
            if (*fmt == 'o')
                base = 8;
            v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            break;
        default:
            put(s, '%');
            put(s, *fmt);
            if (!*fmt)
                return (int)s->len;
            continue;
        }
        size_t n = 0;
        do {
            tmp[sizeof tmp - 1 - n++] = digits[v % base];
            v /= base;
        } while (v);
        if (neg) {
            if (pad == '0') {
                put(s, '-');
                width--;
            } else {
                tmp[sizeof tmp - 1 - n++] = '-';
            }
        }
        put_padded(s, tmp + sizeof tmp - n, n, width, left, pad);
    }
    return (int)s->len;
}

int vprintk(const char *fmt, va_list ap)
{
    struct sink s = {0, 0, 0, 1, 0, {0}};
    int n = format(&s, fmt, ap);
    if (s.pending)
        flush(&s);
    return n;
}

int app_printf(const char *fmt, ...)
{
    struct sink s = {0, 0, 0, 2, 0, {0}};
    va_list ap;
    va_start(ap, fmt);
    int n = format(&s, fmt, ap);
    va_end(ap);
    if (s.pending)
        flush(&s);
    return n;
}

int printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintk(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintk(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = {buf, size, 0, 0, 0, {0}};
    int n = format(&s, fmt, ap);
    if (size)
        buf[s.len < size ? s.len : size - 1] = 0;
    return n;
}

int snprintk(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintk(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
