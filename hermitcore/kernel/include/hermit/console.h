#pragma once
#include <stddef.h>

struct console {
    const char *name;
    void (*putc)(char c);
    /* Optional: make the device raise its interrupt (e.g. "transmit empty")
     * through irq_register and wait for it; returns the interrupts taken. */
    unsigned (*irq_selftest)(void);
    /* Optional: write a run of bytes at once (devices where each transfer
     * is costly, like virtio-console); no "\r" is added before "\n". */
    void (*write)(const char *s, size_t n);
};

/* First registered console, or NULL. */
const struct console *console_primary(void);

/* Register a console; output goes to every registered console. When a
 * console plugin defines HERMIT_CONSOLE_REPLAY (bytes), what was written
 * before the first console registered is replayed to it, so a console found
 * late in boot (virtio) still shows the banner. */
void console_register(const struct console *con);
void console_write(const char *s, size_t n);
