#pragma once
#include <stdarg.h>
#include <stddef.h>

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap);
int snprintk(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintk(char *buf, size_t size, const char *fmt, va_list ap);

/* Kernel log line: "[hermit] ..." */
#define pr_info(...) printk("[hermit] " __VA_ARGS__)
