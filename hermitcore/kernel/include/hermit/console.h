#pragma once
#include <stddef.h>

struct console {
    const char *name;
    void (*putc)(char c);
    /* Optional: make the device raise its interrupt (e.g. "transmit empty")
     * through irq_register and wait for it; returns the interrupts taken. */
    unsigned (*irq_selftest)(void);
};

/* First registered console, or NULL. */
const struct console *console_primary(void);

/* Register a console; output goes to every registered console. */
void console_register(const struct console *con);
void console_write(const char *s, size_t n);
