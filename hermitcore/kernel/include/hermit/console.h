#pragma once
#include <stddef.h>

struct console {
    const char *name;
    void (*putc)(char c);
};

/* Register a console; output goes to every registered console. */
void console_register(const struct console *con);
void console_write(const char *s, size_t n);
