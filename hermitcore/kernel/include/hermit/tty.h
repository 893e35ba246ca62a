/* The terminal line discipline (tty.c) and what stdio.c asks of it: used
 * when the host's stdin is a terminal made raw for the run. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The terminal's settings, Linux's struct termios (asm-generic layout). */
struct kernel_termios {
    uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
    uint8_t c_line, c_cc[19];
};
void tty_get(struct kernel_termios *t);
void tty_set(const struct kernel_termios *t);

/* A signal the line discipline raises (^C SIGINT, ^\ SIGQUIT, ^Z SIGTSTP):
 * the program's layer delivers it (without one the run ends; trap.c). */
void tty_signal(int sig);

/* stdio.c's side. Input through the discipline: the bytes of buf taken
 * (fewer when `room`, the stdin buffer's free space, runs out), finished
 * lines (or, raw, the bytes) handed to `store`. */
size_t tty_input(const char *buf, size_t n, size_t room, void (*store)(const char *, size_t));
int tty_canonical(void);   /* ICANON: reads return whole lines */
int tty_take_eof(void);    /* a ^D on an empty line is pending: take it */
unsigned tty_vmin(void);   /* VMIN (0: a read may return nothing) */
int tty_onlcr(void);       /* OPOST|ONLCR: "\n" leaves as "\r\n" */
int tty_tostop(void);      /* TOSTOP: a background group's writes raise SIGTTOU (job control) */
int tty_take_signal(void); /* the signal input raised, once, or 0 */
/* tty.c's side: echo to the terminal, never waiting (stdio.c). */
void tty_echo(const char *buf, size_t n);
