/* Kernel services for the generic kernel and for built-in applications. */
#pragma once
#include <stdint.h>
#include <hermit/printk.h>

/* Exit status reported when the kernel panics (128 + SIGABRT, like abort()). */
#define HERMIT_PANIC_STATUS 134

/* Power off the machine with `status` visible to the host. */
void hermit_exit(int status) __attribute__((noreturn));

/* Report a fatal kernel error with a backtrace, then exit with
 * HERMIT_PANIC_STATUS. The host recognises the "[hermit] PANIC:" line. */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* A device that can power the machine off with an exit status. The first
 * registered wins. */
void poweroff_register(const char *name, void (*fn)(int status));
