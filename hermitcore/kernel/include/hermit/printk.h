#pragma once
#include <stdarg.h>
#include <stddef.h>

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap);
int snprintk(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintk(char *buf, size_t size, const char *fmt, va_list ap);

/* A C application's printf: to the program's stdout, not the kernel log. */
int app_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An informational kernel log line (shown with `run -v` or --kernel-log),
 * not written at all under hermit.quiet (what `run` passes when nothing
 * would show it): a UART takes a byte per VM exit, ~5 us under TCG, and
 * boot's lines cost a plain run ~2 ms. printk_info takes the caller's own
 * prefix (a plugin's "[name] "); pr_info writes "[hermit] ". */
extern int console_quiet;
#define printk_info(...) ((void)(console_quiet || printk(__VA_ARGS__)))
#define pr_info(...) printk_info("[hermit] " __VA_ARGS__)
/* A line the user must see whatever the options: `hermitcore run` copies
 * it to its stderr as "hermitcore: warning: ...". */
#define pr_warn(...) printk("[hermit] warning: " __VA_ARGS__)
