#include <hermit/console.h>
#include <hermit/spinlock.h>
#include <hermit/string.h>

#define MAX_CONSOLES 4

/* Boards whose console is found late in boot (virtio-console) keep early
 * output for it; the console plugin sets the size. Others pay nothing. */
#ifdef HERMIT_CONSOLE_REPLAY
#define EARLY_SIZE HERMIT_CONSOLE_REPLAY
#else
#define EARLY_SIZE 1
#endif

static const struct console *consoles[MAX_CONSOLES];
static unsigned nconsoles;
static spinlock_t lock = SPINLOCK_INIT; /* the UARTs; innermost lock */
static char early[EARLY_SIZE];          /* output before any console registered */
static size_t early_len;

static void put(const struct console *con, const char *s, size_t n)
{
    if (con->write) {
        con->write(s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            con->putc('\r');
        con->putc(s[i]);
    }
}

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
    for (unsigned c = 0; c < nconsoles; c++)
        put(consoles[c], s, n);
    spin_unlock_irqrestore(&lock, f);
}

const struct console *console_primary(void)
{
    return nconsoles ? consoles[0] : 0;
}
