#pragma once
#include <stddef.h>

struct console {
    const char *name;
    void (*putc)(char c);
    /* Optional: make the device raise its interrupt (e.g. "transmit empty")
     * through irq_register and wait for it; returns the interrupts taken. */
    unsigned (*irq_selftest)(void);
    /* Optional: write a run of bytes at once (devices where each transfer
     * is costly, like virtio-console). Bytes go out as they are: no "\r" is
     * added before "\n" (the host reads the log, not a terminal). */
    void (*write)(const char *s, size_t n);
    /* Optional, for input (the streams' fallback, below): let the device's
     * receive interrupt in (1) or hold it off (0) while the reader is behind. */
    void (*rx_enable)(int on);
};

/* First registered console, or NULL. */
const struct console *console_primary(void);

/* Register a console; output goes to every registered console. When a
 * console plugin defines HERMIT_CONSOLE_REPLAY (bytes), what was written
 * before the first console registered is replayed to it, so a console found
 * late in boot (virtio) still shows the banner. */
void console_register(const struct console *con);
void console_write(const char *s, size_t n);

/* On a board without a stream device (HERMIT_STDIO_MUX), the program's
 * standard streams share the first console with the kernel log, framed:
 * byte 0xff starts an escape -- 0xff 0xff is a 0xff of data; guest to host,
 * 0xff N switches to stream N (0 the log, 1 stdout, 2 stderr), 0xff 0x03
 * says input is on (console_input_ready); host to
 * guest, 0xff 0x04 ends stdin and 0xff 0x05 / 0xff 0x06 say the host closed
 * stdout / stderr. On every board, 0xff 0x07 S from the host is signal S
 * for the program (`hermitcore run` got it: host_signal). The log is stream 0 from the first byte.
 * console_input: a byte the console received (its interrupt handler calls
 * it while console_input_room() is true, else holds input off). */
int console_input_room(void);
void console_input(char c);
/* The driver takes input now (its receive interrupt is on): tells the host
 * (0xff 0x03), which holds stdin back until then. */
void console_input_ready(void);
