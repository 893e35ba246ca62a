#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/string.h>
#include <hermit/time.h>

/* Provided by the arch linker script around KEEP(*(SORT(.hermit_init.*))). */
extern const struct hermit_initcall __hermit_init_start[], __hermit_init_end[];

/* And around KEEP(*(.hermit_param)). */
extern const struct hermit_param __hermit_param_start[], __hermit_param_end[];

int hermit_param_apply(const char *word)
{
    for (const struct hermit_param *p = __hermit_param_start; p < __hermit_param_end; p++) {
        size_t n = strlen(p->name);
        int takes_value = n && p->name[n - 1] == '=';
        if (takes_value ? strncmp(word, p->name, n) != 0 : strcmp(word, p->name) != 0)
            continue;
        if (p->set(takes_value ? word + n : "") != 0)
            pr_info("kernel option '%s': bad value; ignored\n", word);
        return 1;
    }
    return 0;
}

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
