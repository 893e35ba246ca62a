/* Generic kernel entry: reached from the arch layer with what the VMM told
 * us, brings up drivers through the init table and runs the application. */
#include <board.h>
#include <hermit/app.h>
#include <hermit/arch.h>
#include <hermit/boot.h>
#include <hermit/init.h>
#include <hermit/mm.h>
#include <hermit/sched.h>
#include <hermit/stdio.h>
#include <hermit/time.h>

#define MAX_ARGS 256 /* words of the command line (hermitcore/launch.py CMDLINE_WORDS) */

static char cmdline_copy[4096]; /* hermitcore/launch.py CMDLINE_MAX: what QEMU passes whole on every board (q35/pc: 4 KiB) */
static uint64_t tick_kernel_main, tick_app_main;
static int opt_boot_times, opt_stack_usage;
#define STACK_PAINT 0x5a5a5a5a5a5a5a5aull
extern char boot_stack_top[];

/* Kernel option hermit.stack-usage: paint the unused part of thread 1's
 * stack (the boot stack: the built-in application's stack, a Linux
 * program's main-thread kernel stack) and, at exit, report how deep it was
 * ever used -- the evidence for the stack sizes. */
static void stack_paint(void)
{
    uint64_t *p = (uint64_t *)(boot_stack_guard + PAGE_SIZE);
    uint64_t *end = (uint64_t *)((uintptr_t)__builtin_frame_address(0) - 1024);
    while (p < end)
        *p++ = STACK_PAINT;
}

static int set_stack_usage(const char *value)
{
    opt_stack_usage = 1;
    stack_paint();
    return 0;
}
HERMIT_PARAM("hermit.stack-usage", set_stack_usage);

void stack_usage_report(void)
{
    if (!opt_stack_usage)
        return;
    const uint64_t *p = (const uint64_t *)(boot_stack_guard + PAGE_SIZE);
    while (p < (const uint64_t *)boot_stack_top && *p == STACK_PAINT)
        p++;
    printk("[hermit] stack-usage: thread 1 used %zu of %zu bytes\n", (size_t)(boot_stack_top - (const char *)p),
           (size_t)(boot_stack_top - boot_stack_guard - PAGE_SIZE));
}

/* Kernel option hermit.boot-times: at exit, print how long each boot stage
 * took, from the first instruction (raw counter) -- for benchmarks -- and
 * then every step on the way (the arch's early steps, each initcall,
 * memory, SMP) with its own duration, like Linux's initcall_debug. */
static int set_boot_times(const char *value)
{
    opt_boot_times = 1;
    return 0;
}
HERMIT_PARAM("hermit.boot-times", set_boot_times);

/* hermit.quiet (Linux's `quiet`): no informational lines (pr_info).
 * Looked for as soon as the command line is split, before the devices are
 * probed; the parameter itself only keeps it from being "unknown". */
int console_quiet;
static int set_quiet(const char *value) { return 0; }
HERMIT_PARAM("hermit.quiet", set_quiet);

void boot_times_report(void)
{
    if (!opt_boot_times)
        return;
    uint64_t now = arch_counter();
    if (!arch_clock_hz())
        return;
    printk("[hermit] boot-times: kernel_main %llu ns, main %llu ns, exit %llu ns\n",
           (unsigned long long)counter_ns(tick_kernel_main - boot_first_tick), (unsigned long long)counter_ns(tick_app_main - boot_first_tick),
           (unsigned long long)counter_ns(now - boot_first_tick));
    uint64_t prev = boot_first_tick;
    for (unsigned i = 0; i < boot_stage_count && i < BOOT_STAGES_MAX; i++) {
        printk("[hermit] boot-times:   %-24s %8llu ns\n", boot_stages[i].name, (unsigned long long)counter_ns(boot_stages[i].tick - prev));
        prev = boot_stages[i].tick;
    }
    if (boot_stage_count > BOOT_STAGES_MAX)
        printk("[hermit] boot-times: %u later steps not recorded (BOOT_STAGES_MAX %u)\n",
               boot_stage_count - BOOT_STAGES_MAX, BOOT_STAGES_MAX);
}
static char *argv_store[MAX_ARGS + 1];


uint64_t boot_ram_bytes(const struct boot_info *bi)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < bi->ram_ranges; i++)
        total += bi->ram[i].size;
    return total;
}

/* Split the command line in place: whitespace separates words; "..." quotes,
 * with \" and \\ escapes inside. Returns the number of words. */
static int split_words(char *s, char **words, int max)
{
    int n = 0;
    char *out = s;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s || n == max)
            break;
        words[n++] = out;
        int quoted = 0;
        for (; *s; s++) {
            if (*s == '"') {
                quoted = !quoted;
            } else if (quoted && *s == '\\' && (s[1] == '"' || s[1] == '\\')) {
                *out++ = *++s;
            } else if (!quoted && (*s == ' ' || *s == '\t' || *s == '\n')) {
                s++;
                break;
            } else {
                *out++ = *s;
            }
        }
        *out++ = 0;
    }
    return n;
}

/* The VMM loads the whole image, the program and its file tree too, but
 * says nothing when part of it lands beyond RAM: say it here, before anything
 * reads that part. */
static void image_fits(const struct boot_info *bi)
{
    uint64_t start = virt_to_phys(__kernel_start), end = (uintptr_t)__image_end, top = 0;
    for (unsigned i = 0; i < bi->ram_ranges; i++)
        if (bi->ram[i].base + bi->ram[i].size > top)
            top = bi->ram[i].base + bi->ram[i].size;
    /* Firmware (SeaBIOS, qboot) keeps a few KiB at the top of what -m gave
     * out of the memory map, possibly under the image: RAM all the same. */
    top = (top + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    if (end <= top)
        return;
    pr_warn("the image (%llu KiB with its program and files) does not fit in this machine's RAM: "
           "give it more with --mem\n",
           (unsigned long long)((end - start) >> 10));
    hermit_exit(127);
}

void kernel_main(struct boot_info *bi)
{
    tick_kernel_main = boot_stage("to kernel_main");
    /* The command line is still where the VMM put it: copy it before the
     * page allocator may hand that memory out. */
    size_t n = strlen(bi->cmdline);
    int truncated = n >= sizeof cmdline_copy;
    if (truncated)
        n = sizeof cmdline_copy - 1;
    memcpy(cmdline_copy, bi->cmdline, n);
    cmdline_copy[n] = 0;
    static char *words[MAX_ARGS]; /* (kernel_main runs once; thread 1 keeps the boot stack shallow) */
    int nwords = split_words(cmdline_copy, words, MAX_ARGS);
    for (int w = 0; w < nwords && strcmp(words[w], "--") != 0; w++)
        if (!strcmp(words[w], "hermit.quiet"))
            console_quiet = 1;
    boot_stage("command line");
    hermit_run_initcalls(HERMIT_INIT_ARCH, HERMIT_INIT_CONSOLE);
    mm_init(bi);
    boot_stage("page frames");
    sched_init();
    boot_stage("scheduler");

    /* Rounded up: firmware (SeaBIOS, qboot) reserves a few KiB of what -m gave. */
    uint64_t mib = (boot_ram_bytes(bi) + (1u << 20) - 1) >> 20;
    printk("hermitcore " HERMIT_VERSION " on " BOARD_NAME " (%s): %llu MiB RAM, %u CPU%s, booted via %s\n",
           arch_name, (unsigned long long)mib, bi->cpus, bi->cpus == 1 ? "" : "s", bi->protocol);

    pr_info("memory: %zu KiB free in page frames; pages %s; kernel %p-%p\n", pages_free() * 4, arch_page_sizes(),
            (void *)__kernel_start, (void *)__kernel_end);
    image_fits(bi);
    boot_stage("banner");
    hermit_run_initcalls(HERMIT_INIT_CONSOLE + 1, HERMIT_INIT_LATE);

    /* Command line: "<kernel options> -- <application arguments>". */
    if (truncated)
        pr_info("command line truncated to %zu bytes\n", sizeof cmdline_copy - 1);
    int argc = 0;
    argv_store[argc++] = (char *)HERMIT_APP_NAME;
    int i = 0;
    for (; i < nwords && strcmp(words[i], "--") != 0; i++)
        if (!hermit_param_apply(words[i])) /* HERMIT_PARAM: each option next to what it sets */
            pr_info("unknown kernel option '%s' ignored\n", words[i]);
    for (i++; i < nwords && argc < MAX_ARGS; i++)
        argv_store[argc++] = words[i];
    argv_store[argc] = 0;

    boot_stage("command-line options");
    smp_boot(bi);
    tick_app_main = boot_stage("smp");
    hermit_exit(main(argc, argv_store));
}
