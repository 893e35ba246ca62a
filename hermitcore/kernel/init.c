#include <hermit/init.h>

/* Provided by the arch linker script around KEEP(*(SORT(.hermit_init.*))). */
extern const struct hermit_initcall __hermit_init_start[], __hermit_init_end[];

void hermit_run_initcalls(int from_level, int to_level)
{
    for (const struct hermit_initcall *c = __hermit_init_start; c < __hermit_init_end; c++)
        if (c->level >= from_level && c->level <= to_level)
            c->fn();
}
