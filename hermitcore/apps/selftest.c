/* In-guest kernel self-tests: each case prints "[selftest] PASS name" or
 * "[selftest] FAIL name: why"; the exit status is the number of failures
 * (0 = all passed). `hermitcore run --selftest` composes and runs this. */
#include <hermit/app.h>
#include <hermit/arch.h>
#include <hermit/console.h>
#include <hermit/heap.h>
#include <hermit/irq.h>
#include <hermit/time.h>
#include <hermit/trap.h>

static int passed, failed, skipped;

#define CHECK(cond, ...)                                                                                      \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            printf("[selftest] FAIL %s: ", current);                                                          \
            printf(__VA_ARGS__);                                                                              \
            printf("\n");                                                                                     \
            failed++;                                                                                         \
            return;                                                                                           \
        }                                                                                                     \
    } while (0)

static const char *current;

static void pass(const char *detail)
{
    printf("[selftest] PASS %s%s%s\n", current, detail[0] ? ": " : "", detail);
    passed++;
}

/* Run `fn` expecting a CPU exception; return it in *out. */
static int expect_fault(void (*fn)(void), struct fault_info *out)
{
    static struct hermit_catch c;
    if (hermit_catch(&c) == 0) {
        fn();
        hermit_uncatch();
        return 0;
    }
    *out = c.fault;
    return 1;
}

static void touch_null(void) { (void)*(volatile int *)0; }
static void touch_guard(void) { *(volatile char *)(boot_stack_guard + 8) = 1; }
static void write_text(void) { *(volatile uint8_t *)(uintptr_t)&write_text = 0xc3; }
static uint8_t data_code[64] __attribute__((aligned(64)));
static void exec_data(void) { ((void (*)(void))(uintptr_t)data_code)(); }
static volatile int zero;
static volatile int quotient;
static void divide(void) { quotient = 100 / zero; }

static void test_null(void)
{
    struct fault_info f;
    current = "null_page_fault";
    CHECK(expect_fault(touch_null, &f), "reading address 0 did not fault");
    CHECK(f.kind == FAULT_PAGE && f.addr == 0 && !f.write, "got %s at %p", f.name, (void *)f.addr);
    pass("");
}

static void test_guard(void)
{
    struct fault_info f;
    current = "stack_guard_page_fault";
    CHECK(expect_fault(touch_guard, &f), "writing the stack guard page did not fault");
    CHECK(f.kind == FAULT_PAGE && f.addr == (uintptr_t)(boot_stack_guard + 8) && f.write,
          "got %s at %p (write=%d)", f.name, (void *)f.addr, f.write);
    pass("");
}

static void test_write_text(void)
{
    struct fault_info f;
    current = "write_to_text_faults";
    CHECK(expect_fault(write_text, &f), "writing kernel text did not fault");
    CHECK(f.kind == FAULT_PAGE && f.addr == (uintptr_t)&write_text && f.write && f.present,
          "got %s at %p (write=%d present=%d)", f.name, (void *)f.addr, f.write, f.present);
    pass("");
}

static void test_exec_data(void)
{
    struct fault_info f;
    current = "execute_data_faults";
    CHECK(expect_fault(exec_data, &f), "executing data did not fault");
    CHECK(f.kind == FAULT_PAGE && f.addr == (uintptr_t)data_code && f.exec,
          "got %s at %p (exec=%d)", f.name, (void *)f.addr, f.exec);
    pass("");
}

static void test_undefined(void)
{
    struct fault_info f;
    current = "undefined_instruction";
    CHECK(expect_fault(arch_undefined_instruction, &f), "no exception");
    CHECK(f.kind == FAULT_UNDEFINED, "got %s", f.name);
    pass(f.name);
}

static void test_divide(void)
{
    struct fault_info f;
    current = "divide_by_zero";
    if (!arch_divide_by_zero_traps) {
        printf("[selftest] SKIP %s: integer division by zero does not trap on %s\n", current, arch_name);
        skipped++;
        return;
    }
    CHECK(expect_fault(divide, &f), "no exception");
    CHECK(f.kind == FAULT_DIVIDE, "got %s", f.name);
    pass(f.name);
}

static volatile uint64_t fired_at;
static void on_timer(struct timer *t, void *arg) { fired_at = clock_ns(); }

static void test_timer_10ms(void)
{
    current = "timer_10ms";
    struct timer t = {0};
    fired_at = 0;
    uint64_t start = clock_ns();
    timer_add(&t, start + 10 * NSEC_PER_MSEC, on_timer, 0);
    while (!fired_at)
        arch_idle();
    uint64_t late = fired_at - start;
    CHECK(late >= 10 * NSEC_PER_MSEC, "fired after %llu ns, before 10 ms", (unsigned long long)late);
    CHECK(late < 60 * NSEC_PER_MSEC, "fired after %llu us (slack 50 ms)", (unsigned long long)late / 1000);
    char buf[64];
    snprintk(buf, sizeof buf, "fired after %llu us", (unsigned long long)late / 1000);
    pass(buf);
}

static void test_sleep(void)
{
    current = "sleep_5ms";
    uint64_t start = clock_ns();
    sleep_ns(5 * NSEC_PER_MSEC);
    uint64_t slept = clock_ns() - start;
    CHECK(slept >= 5 * NSEC_PER_MSEC, "slept only %llu ns", (unsigned long long)slept);
    pass("");
}

#define SHOTS 1000
static volatile unsigned shots;
static void count_shot(struct timer *t, void *arg) { shots++; }

/* 1000 rounds of: arm one timer 200 us ahead, idle until it fires. Only one
 * timer is ever pending, so each round needs its own interrupt; a lost one
 * would stall the round until the 5 s guard. */
static void test_1000_interrupts(void)
{
    current = "timer_1000_interrupts";
    struct timer t = {0};
    uint64_t before = timer_interrupts();
    uint64_t guard = clock_ns() + 5 * NSEC_PER_SEC;
    shots = 0;
    for (unsigned i = 0; i < SHOTS && clock_ns() < guard; i++) {
        timer_add(&t, clock_ns() + 200 * NSEC_PER_USEC, count_shot, 0);
        while (shots == i && clock_ns() < guard)
            arch_idle();
    }
    uint64_t taken = timer_interrupts() - before;
    CHECK(shots == SHOTS, "only %u of %u timers fired within 5 s", shots, SHOTS);
    CHECK(taken >= SHOTS, "%llu interrupts for %u timers", (unsigned long long)taken, SHOTS);
    char buf[64];
    snprintk(buf, sizeof buf, "%llu interrupts", (unsigned long long)taken);
    pass(buf);
}

static void test_tickless(void)
{
    current = "tickless_idle";
    uint64_t before = timer_interrupts();
    uint64_t start = clock_ns();
    sleep_ns(20 * NSEC_PER_MSEC);
    uint64_t taken = timer_interrupts() - before;
    /* One interrupt for the sleep's own deadline; a periodic tick would add more. */
    CHECK(taken <= 2, "%llu timer interrupts in a 20 ms sleep", (unsigned long long)taken);
    CHECK(clock_ns() - start >= 20 * NSEC_PER_MSEC, "woke early");
    pass("");
}

static void test_device_interrupt(void)
{
    current = "device_interrupt";
    const struct console *con = console_primary();
    if (!con || !con->irq_selftest) {
        printf("[selftest] SKIP %s: the console driver cannot raise a test interrupt\n", current);
        skipped++;
        return;
    }
    struct irq_stats before, after;
    irq_get_stats(&before);
    unsigned n = con->irq_selftest();
    irq_get_stats(&after);
    CHECK(n >= 1, "no interrupt from the %s within 100 ms", con->name);
    CHECK(after.handled > before.handled, "the interrupt did not go through irq_handle");
    char buf[64];
    snprintk(buf, sizeof buf, "%s interrupt delivered", con->name);
    pass(buf);
}

static void test_heap(void)
{
    current = "heap_stress";
    enum { N = 512 };
    static void *ptrs[N];
    static size_t sizes[N];
    uint32_t seed = 12345;
    size_t before = heap_bytes_in_use();
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) {
            seed = seed * 1103515245 + 12345;
            sizes[i] = 1 + (seed >> 8) % (i % 16 == 0 ? 20000 : 300);
            ptrs[i] = kmalloc(sizes[i]);
            CHECK(ptrs[i], "kmalloc(%zu) failed in round %d", sizes[i], round);
            CHECK(((uintptr_t)ptrs[i] & 15) == 0, "kmalloc returned unaligned %p", ptrs[i]);
            memset(ptrs[i], (uint8_t)i, sizes[i]);
        }
        for (int i = 0; i < N; i++) {
            const uint8_t *p = ptrs[i];
            for (size_t k = 0; k < sizes[i]; k += 61)
                CHECK(p[k] == (uint8_t)i, "block %d corrupted at %zu", i, k);
        }
        for (int i = 0; i < N; i++) { /* free in a scrambled order */
            kfree(ptrs[(i * 7) % N]);
            ptrs[(i * 7) % N] = 0;
        }
    }
    CHECK(heap_bytes_in_use() == before, "leak: %zu bytes in use, %zu before", heap_bytes_in_use(), before);
    /* Poisoning: freed memory is filled with HEAP_POISON. */
    uint8_t *p = kmalloc(256);
    kfree(p);
    CHECK(p[64] == HEAP_POISON && p[200] == HEAP_POISON, "freed block not poisoned (%#x)", p[64]);
    pass("");
}

int main(int argc, char **argv)
{
    printf("[selftest] start\n");
    test_null();
    test_guard();
    test_write_text();
    test_exec_data();
    test_undefined();
    test_divide();
    test_timer_10ms();
    test_sleep();
    test_1000_interrupts();
    test_tickless();
    test_device_interrupt();
    test_heap();
    struct irq_stats st;
    irq_get_stats(&st);
    printf("[selftest] interrupts: %llu handled, %llu unhandled, %llu spurious\n", (unsigned long long)st.handled,
           (unsigned long long)st.unhandled, (unsigned long long)st.spurious);
    printf("[selftest] %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed;
}
