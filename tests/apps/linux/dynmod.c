/* A module dynprobe loads with dlopen: thread-local storage of a loaded
 * module (TLS descriptors on aarch64), a constructor, a call back into the
 * program's exported symbol, and a dependency of its own (libm). */
#include <math.h>
#include <stdio.h>

extern int dynprobe_counter; /* the program's, exported with -rdynamic */
static __thread int per_thread = 7;
static int constructed;

__attribute__((constructor)) static void init(void) { constructed = 42; }

int dynmod_constructed(void) { return constructed; }

int dynmod_tls_bump(int by)
{
    per_thread += by;
    dynprobe_counter++;
    return per_thread;
}

double dynmod_hypot(double a, double b) { return hypot(a, b); }
