/* Init table: drivers and arch code register init functions in a linker
 * section; kernel_main runs them in level order. Nothing is hard-wired. */
#pragma once
#include <stdint.h>

typedef void (*hermit_initcall_t)(void);

struct hermit_initcall {
    hermit_initcall_t fn;
    int level;
    const char *name;
};

#define HERMIT_INIT_ARCH 0    /* CPU and platform basics            */
#define HERMIT_INIT_CONSOLE 1 /* console drivers, before the banner */
#define HERMIT_INIT_DRIVER 4  /* drivers register with their bus       */
#define HERMIT_INIT_DEVICE 5  /* ordinary device drivers, bus probes   */
#define HERMIT_INIT_LATE 9

#define HERMIT_INIT__STR(x) #x
#define HERMIT_INIT__XSTR(x) HERMIT_INIT__STR(x) /* the level's number, so the linker sorts by it */
#define HERMIT_INIT__CAT(a, b) a##b
#define HERMIT_INIT__NAME(fn, line) HERMIT_INIT__CAT(__hermit_init_##fn##_, line)
#define HERMIT_INIT(level, fn)                                                 \
    static const struct hermit_initcall HERMIT_INIT__NAME(fn, __LINE__)        \
        __attribute__((used, aligned(8), section(".hermit_init." HERMIT_INIT__XSTR(level)))) = { \
            (fn), (level), #fn}

void hermit_run_initcalls(int from_level, int to_level);

/* Boot steps (the arch's early ones, each initcall, kernel_main's own) with
 * the raw counter at their end: the hermit.boot-times kernel option prints
 * them at exit. */
#define BOOT_STAGES_MAX 32
struct boot_stage {
    const char *name;
    uint64_t tick;
};
extern struct boot_stage boot_stages[BOOT_STAGES_MAX];
extern unsigned boot_stage_count; /* may exceed BOOT_STAGES_MAX: the rest were not kept */
uint64_t boot_stage(const char *name); /* returns the counter it recorded */

/* At exit (hermit_exit), what the hermit.boot-times and hermit.stack-usage
 * options asked for (main.c). */
void boot_times_report(void);
void stack_usage_report(void);

/* Kernel options ("<options> -- <program arguments>" on the command line):
 * each is registered next to the variable it sets, in a linker section, as
 * init calls are. `name` is "hermit.x" for a flag or "hermit.x=" for an
 * option with a value; `set` gets the value ("" for a flag) and returns 0,
 * or -1 when it refused the value (reported, then ignored). */
struct hermit_param {
    const char *name;
    int (*set)(const char *value);
};
#define HERMIT_PARAM__NAME(fn, line) HERMIT_INIT__CAT(__hermit_param_##fn##_, line)
#define HERMIT_PARAM(name, fn)                                                   \
    static const struct hermit_param HERMIT_PARAM__NAME(fn, __LINE__)            \
        __attribute__((used, aligned(8), section(".hermit_param"))) = {(name), (fn)}

/* Apply one command-line word: 1 if some registered option took it. */
int hermit_param_apply(const char *word);
