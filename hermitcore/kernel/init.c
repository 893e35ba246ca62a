#include <hermit/init.h>
#include <hermit/time.h>

/* Provided by the arch linker script around KEEP(*(SORT(.hermit_init.*))). */
extern const struct hermit_initcall __hermit_init_start[], __hermit_init_end[];

void hermit_run_initcalls(int from_level, int to_level)
{
    for (const struct hermit_initcall *c = __hermit_init_start; c < __hermit_init_end; c++)
        if (c->level >= from_level && c->level <= to_level)
            c->fn(), boot_stage(c->name);
}

/* The boot's steps with the counter at the end of each, for the
 * hermit.boot-times report; a fixed table, so recording costs one counter
 * read and works before the heap does. */
struct boot_stage boot_stages[BOOT_STAGES_MAX];
unsigned boot_stage_count;

uint64_t boot_stage(const char *name)
{
    uint64_t now = arch_counter();
    if (boot_stage_count < BOOT_STAGES_MAX)
        boot_stages[boot_stage_count] = (struct boot_stage){name, now};
    boot_stage_count++;
    return now;
}
