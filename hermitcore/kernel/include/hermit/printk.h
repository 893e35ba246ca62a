#pragma once
#include <stdarg.h>
#include <stddef.h>

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap);
int snprintk(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintk(char *buf, size_t size, const char *fmt, va_list ap);

/* A C application's printf: to the program's stdout, not the kernel log. */
int app_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Kernel log line: "[hermit] ..." (shown with `run -v` or --kernel-log). */
#define pr_info(...) printk("[hermit] " __VA_ARGS__)
/* A line the user must see whatever the options: `hermitcore run` copies
 * it to its stderr as "hermitcore: warning: ...". */
#define pr_warn(...) printk("[hermit] warning: " __VA_ARGS__)
