/* The program's standard streams: stdin (0), stdout (1) and stderr (2),
 * byte-exact, connected to the host command's own (`hermitcore run`).
 *
 * A transport moves the bytes: a virtio-serial device with one port per
 * stream (plugins/drivers/virtio_console), or -- on a board without one --
 * the console UART, with the streams and the kernel log framed on it
 * (console.c). This layer sits between the transport and the program: it
 * keeps stdin's bytes as they arrive, runs the terminal line discipline when
 * the host's stdin is a terminal (tty.c), and blocks writers while the host
 * is behind. The kernel log (printk) never passes here. */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum { STDIO_IN = 0, STDIO_OUT = 1, STDIO_ERR = 2, STDIO_STREAMS = 3 };

struct stdio_transport {
    const char *name;
    /* Queue up to n bytes of stream s (STDIO_OUT, STDIO_ERR) for the host:
     * the bytes taken (0: none can be now; wait for stdio_notify),
     * or -EPIPE once the host closed that stream. Never blocks. */
    long (*send)(unsigned s, const char *buf, size_t n);
    /* Everything sent has reached the host (or the stream is closed). */
    int (*sent)(unsigned s);
    /* A send would take at least one byte now. */
    int (*writable)(unsigned s);
    /* Reap completions without an interrupt (panics, exit). */
    void (*poll)(void);
    /* The stdin buffer has room again: hand over input held back. */
    void (*rx_resume)(void);
};

/* A transport is found (at most one; later ones are ignored). */
void stdio_register(const struct stdio_transport *t);
int stdio_connected(void);

/* Transport side. Input for stdin: returns how many bytes were taken (fewer
 * than n when the buffer is full: keep the rest until rx_resume). Safe in
 * interrupt handlers. */
size_t stdio_input(const char *buf, size_t n);
void stdio_input_eof(void);
/* The host closed stdout or stderr: writes fail with EPIPE from now on. */
void stdio_closed(unsigned s);
/* Progress on the transport (a completion, a status change): wake waiters
 * (and raise a terminal signal the input brought). Call without locks. */
void stdio_notify(void);

/* Program side. stdio_read: bytes read, 0 at end of file, -EAGAIN with
 * `nonblock` when nothing is there. stdio_write: bytes written (all of them
 * unless the host closed the stream: then -EPIPE, or the bytes before). */
long stdio_read(char *buf, size_t n, int nonblock);
long stdio_write(unsigned s, const char *buf, size_t n, int nonblock);
/* Bytes readable on stdin now. */
size_t stdio_readable(void);
/* POLLIN/POLLOUT/POLLHUP/POLLERR of stream s now. */
short stdio_poll(unsigned s);
/* Before power-off: wait (bounded) until the host has every byte. */
void stdio_drain(void);

/* Terminals: stream s is one on the host (hermit.tty=MASK), with this many
 * rows and columns (hermit.winsize=ROWSxCOLS). */
int stdio_is_tty(unsigned s);
/* What stream s is on the host, for fstat (hermit.stdio=KKK): 'c' a
 * character device (/dev/null), 'f' a regular file, 'p' a pipe, 's' a
 * socket, 't' a terminal. */
char stdio_kind(unsigned s);
void stdio_winsize(uint16_t *rows, uint16_t *cols);
void stdio_set_winsize(uint16_t rows, uint16_t cols);
#include <hermit/tty.h> /* the line discipline's termios, for ioctl */
