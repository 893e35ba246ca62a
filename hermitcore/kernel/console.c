#include <hermit/console.h>
#include <hermit/spinlock.h>

#define MAX_CONSOLES 4

static const struct console *consoles[MAX_CONSOLES];
static unsigned nconsoles;
static spinlock_t lock = SPINLOCK_INIT; /* the UARTs; innermost lock */

void console_register(const struct console *con)
{
    if (nconsoles < MAX_CONSOLES)
        consoles[nconsoles++] = con;
}

void console_write(const char *s, size_t n)
{
    unsigned long f = spin_lock_irqsave(&lock);
    for (size_t i = 0; i < n; i++) {
        for (unsigned c = 0; c < nconsoles; c++) {
            if (s[i] == '\n')
                consoles[c]->putc('\r');
            consoles[c]->putc(s[i]);
        }
    }
    spin_unlock_irqrestore(&lock, f);
}

const struct console *console_primary(void)
{
    return nconsoles ? consoles[0] : 0;
}
