#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/mm.h>
#include <hermit/spinlock.h>
#include <hermit/string.h>

#define LOW_RESERVED 0x100000ul /* x86: firmware data, the AP trampoline */
#define BOOT_MAP_ALIGN 0x200000ul /* the boot map covers whole 2 MiB regions */

static uintptr_t pool_next; /* early page-table pool: [__kernel_end, boot_map_end) */
static int mapped, allocator_ready;

struct run {
    struct run *next;
    size_t pages;
};
static struct run *free_runs; /* sorted by address, coalesced */
/* Single pages freed, a stack: a tmpfs of small files or a heap that frees
 * page by page would otherwise walk the sorted runs on every free
 * (O(runs)). They go back into the runs, coalesced, only when a larger
 * request finds no run. */
static struct run *singles;
static size_t nsingles;
static size_t free_pages, total_pages;
static spinlock_t lock = SPINLOCK_INIT; /* the free runs */

static uintptr_t align_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

void *mm_table_page(void)
{
    void *p = 0;
    if (allocator_ready) {
        p = page_alloc(1);
    } else {
        if (!pool_next)
            pool_next = align_up((uintptr_t)__kernel_end, PAGE_SIZE);
        if (pool_next + PAGE_SIZE <= (uintptr_t)boot_map_end) {
            p = (void *)pool_next; /* identity mapped: the boot map */
            pool_next += PAGE_SIZE;
        }
    }
    if (p)
        memset(p, 0, PAGE_SIZE);
    return p;
}

static void map_range(uint64_t base, uint64_t end)
{
    if (end > base && arch_map((uintptr_t)phys_to_virt(base), base, end - base, MAP_WRITE) != 0)
        panic("out of page-table pages mapping RAM %#llx-%#llx", (unsigned long long)base, (unsigned long long)end);
}

/* The kernel's boot map: mapped page by page at compose time, guard pages
 * and all. The runtime mapper must not fill its holes. */
static void boot_map(uintptr_t *start, uintptr_t *end)
{
    *start = (uintptr_t)__kernel_start & ~(BOOT_MAP_ALIGN - 1);
    *end = (uintptr_t)boot_map_end;
}

void mm_map_ram(const struct boot_info *bi)
{
    if (mapped)
        return;
    uintptr_t kstart, kend;
    boot_map(&kstart, &kend);
    for (unsigned i = 0; i < bi->ram_ranges; i++) {
        uint64_t base = bi->ram[i].base & ~(PAGE_SIZE - 1);
        uint64_t end = (bi->ram[i].base + bi->ram[i].size) & ~(PAGE_SIZE - 1);
        if (base == 0)
            base = PAGE_SIZE; /* page 0 stays unmapped: NULL faults */
        map_range(base, end < kstart ? end : kstart);
        map_range(base > kend ? base : kend, end);
    }
    mapped = 1;
    boot_stage("direct map");
}

static void add_free(uintptr_t start, uintptr_t end)
{
    start = align_up(start, PAGE_SIZE);
    end &= ~(PAGE_SIZE - 1);
    if (end > start) {
        total_pages += (end - start) / PAGE_SIZE;
        page_free(phys_to_virt(start), (end - start) / PAGE_SIZE);
    }
}

/* RAM [start, end) minus what stays reserved: the low MiB, the kernel with
 * the early-pool pages it used, and the program with its files. The rest
 * of the boot map -- below the kernel (aarch64: QEMU's DTB, read and copied
 * by now) and the pool left over above it -- is identity mapped rw- and
 * joins the allocator like any other RAM. */
static void add_ram(uintptr_t start, uintptr_t end)
{
    const uintptr_t holes[][2] = {
        {0, LOW_RESERVED},
        {(uintptr_t)__kernel_start, pool_next},
        {(uintptr_t)__app_start, (uintptr_t)__image_end},
    };
    for (unsigned i = 0; i < sizeof holes / sizeof holes[0] && start < end; i++) {
        if (holes[i][1] <= start || holes[i][0] >= end)
            continue;
        if (holes[i][0] > start)
            add_ram(start, holes[i][0]);
        start = holes[i][1];
    }
    if (start < end)
        add_free(start, end);
}

/* Owners beyond the first of program pages, one word per page of RAM:
 * pages fork shares copy-on-write, and the page cache's pages (vm.c) with
 * the mappings of them. The low 15 bits count the owners beyond the first;
 * bit 15 says the page cache is one of the owners (its first). A cache page
 * that nothing else owns is reclaimable: page_alloc frees such pages
 * (through the reclaimer vm.c registers) before it fails. The array is
 * allocated at the first fork or the first cache page; a page cache
 * page's word changes under share_lock (reclaim may run on any CPU), the
 * others under the big kernel lock alone (page_share below). */
#define SHARE_CACHE 0x8000u
#define SHARE_COUNT 0x7fffu
static uint64_t ram_lo, ram_hi;
static uint16_t *shares;
static spinlock_t share_lock = SPINLOCK_INIT;
static size_t cached_pages, reclaimable_pages;
static size_t (*reclaimer)(size_t want);

/* Outside any lock: page_alloc may reclaim, which takes share_lock. */
static int shares_ready(void)
{
    if (shares)
        return 1;
    size_t bytes = (size_t)((ram_hi - ram_lo) / PAGE_SIZE) * sizeof *shares;
    size_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
    uint16_t *s = page_alloc(pages);
    if (!s)
        return 0;
    memset(s, 0, pages * PAGE_SIZE);
    unsigned long f = spin_lock_irqsave(&share_lock);
    if (!shares) {
        shares = s;
        s = 0;
    }
    spin_unlock_irqrestore(&share_lock, f);
    if (s)
        page_free(s, pages);
    return 1;
}

static uint16_t *share_word(uint64_t pa)
{
    return shares && pa >= ram_lo && pa < ram_hi ? &shares[(pa - ram_lo) / PAGE_SIZE] : 0;
}

/* A word without the cache's bit changes only under the big kernel lock
 * (fork, unmapping, faults, exec): no lock for it. The bit is set only on
 * a fresh page, which nothing maps yet; on a word with it, reclaim may act
 * on any CPU, so those change under share_lock. */
int page_share(uint64_t pa)
{
    if (pa < ram_lo || pa >= ram_hi || !shares_ready())
        return -1;
    uint16_t *c = share_word(pa), w = __atomic_load_n(c, __ATOMIC_RELAXED);
    if (!(w & SHARE_CACHE)) {
        if (w == SHARE_COUNT)
            return -1;
        __atomic_store_n(c, (uint16_t)(w + 1), __ATOMIC_RELAXED);
        return 0;
    }
    unsigned long f = spin_lock_irqsave(&share_lock);
    int rc = -1;
    if ((*c & SHARE_COUNT) != SHARE_COUNT) {
        if (*c == SHARE_CACHE)
            reclaimable_pages--; /* the cache's page is mapped now */
        ++*c;
        rc = 0;
    }
    spin_unlock_irqrestore(&share_lock, f);
    return rc;
}

int page_unshare(uint64_t pa)
{
    uint16_t *c = share_word(pa), w = c ? __atomic_load_n(c, __ATOMIC_RELAXED) : 0;
    if (!(w & SHARE_CACHE)) {
        if (!w)
            return 0;
        __atomic_store_n(c, (uint16_t)(w - 1), __ATOMIC_RELAXED);
        return 1;
    }
    unsigned long f = spin_lock_irqsave(&share_lock);
    int rc = 0;
    if (c && (*c & SHARE_COUNT)) {
        --*c;
        if (*c == SHARE_CACHE)
            reclaimable_pages++; /* only the cache has it now */
        rc = 1;
    }
    spin_unlock_irqrestore(&share_lock, f);
    return rc;
}

int page_shared(uint64_t pa)
{
    uint16_t *c = share_word(pa);
    return c && (__atomic_load_n(c, __ATOMIC_RELAXED) & SHARE_COUNT) != 0;
}

/* A fresh page (no other owner) becomes the page cache's. */
int page_cache_add(uint64_t pa)
{
    if (pa < ram_lo || pa >= ram_hi || !shares_ready())
        return -1;
    unsigned long f = spin_lock_irqsave(&share_lock);
    uint16_t *c = share_word(pa);
    *c = SHARE_CACHE;
    cached_pages++;
    reclaimable_pages++;
    spin_unlock_irqrestore(&share_lock, f);
    return 0;
}

/* The cache lets a page go: freed if nothing maps it, else one of its
 * other owners becomes its first (the last of them frees it). */
void page_cache_drop(uint64_t pa)
{
    unsigned long f = spin_lock_irqsave(&share_lock);
    uint16_t *c = share_word(pa);
    int last = *c == SHARE_CACHE;
    if (last) {
        *c = 0;
        reclaimable_pages--;
    } else {
        *c = (uint16_t)((*c & SHARE_COUNT) - 1); /* an owner beyond the first becomes the first */
    }
    cached_pages--;
    spin_unlock_irqrestore(&share_lock, f);
    if (last)
        page_free(phys_to_virt(pa), 1);
}

/* The cache's page if nothing else owns it: taken from the cache and freed
 * (1), else 0. */
int page_cache_reclaim(uint64_t pa)
{
    unsigned long f = spin_lock_irqsave(&share_lock);
    uint16_t *c = share_word(pa);
    int last = c && *c == SHARE_CACHE;
    if (last) {
        *c = 0;
        reclaimable_pages--;
        cached_pages--;
    }
    spin_unlock_irqrestore(&share_lock, f);
    if (last)
        page_free(phys_to_virt(pa), 1);
    return last;
}

void page_set_reclaimer(size_t (*fn)(size_t want)) { reclaimer = fn; }
size_t pages_cached(void) { return cached_pages; }
size_t pages_reclaimable(void) { return reclaimable_pages; }

void mm_init(const struct boot_info *bi)
{
    mm_map_ram(bi);
    for (unsigned i = 0; i < bi->ram_ranges; i++) {
        if (!i || bi->ram[i].base < ram_lo)
            ram_lo = bi->ram[i].base & ~(PAGE_SIZE - 1);
        if (bi->ram[i].base + bi->ram[i].size > ram_hi)
            ram_hi = bi->ram[i].base + bi->ram[i].size;
    }
    if (!pool_next)
        pool_next = align_up((uintptr_t)__kernel_end, PAGE_SIZE);
    allocator_ready = 1; /* the pool is closed: tables come from page_alloc now */
    for (unsigned i = 0; i < bi->ram_ranges; i++)
        add_ram(bi->ram[i].base, bi->ram[i].base + bi->ram[i].size);
}

static void *alloc_locked(size_t pages)
{
    for (struct run **p = &free_runs; *p; p = &(*p)->next) {
        struct run *r = *p;
        if (r->pages < pages)
            continue;
        free_pages -= pages;
        if (r->pages == pages) {
            *p = r->next;
            return r;
        }
        r->pages -= pages; /* take from the end: the run header stays put */
        return (char *)r + r->pages * PAGE_SIZE;
    }
    return 0;
}

static void free_locked(void *ptr, size_t pages)
{
    uintptr_t start = (uintptr_t)ptr, end = start + pages * PAGE_SIZE;
    struct run **p = &free_runs;
    while (*p && (uintptr_t)*p < start)
        p = &(*p)->next;
    struct run *next = *p;
    if (next && (uintptr_t)next < end)
        panic("page_free(%p, %zu): overlaps free memory", ptr, pages);
    struct run *r = (struct run *)start;
    r->pages = pages;
    r->next = next;
    if (next && end == (uintptr_t)next) { /* merge with the following run */
        r->pages += next->pages;
        r->next = next->next;
    }
    *p = r;
    /* merge with the previous run */
    for (struct run *q = free_runs; q && q != r; q = q->next) {
        if (q->next == r && (uintptr_t)q + q->pages * PAGE_SIZE == start) {
            q->pages += r->pages;
            q->next = r->next;
            break;
        }
    }
    free_pages += pages;
}

/* A list of runs sorted by address (merge sort: O(n log n)). */
static struct run *sorted(struct run *h, size_t n)
{
    if (n < 2)
        return h;
    struct run *mid = h;
    for (size_t i = 1; i < n / 2; i++)
        mid = mid->next;
    struct run *b = mid->next;
    mid->next = 0;
    struct run *a = sorted(h, n / 2), *out = 0, **tail = &out;
    b = sorted(b, n - n / 2);
    while (a && b) {
        struct run **min = (uintptr_t)a < (uintptr_t)b ? &a : &b;
        *tail = *min;
        tail = &(*min)->next;
        *min = (*min)->next;
    }
    *tail = a ? a : b;
    return out;
}

/* The singles back into the runs: sorted, then merged in one pass with
 * neighbours coalesced (O(singles log singles + runs), however many). */
static void drain_singles(void)
{
    for (struct run *r = singles; r; r = r->next)
        r->pages = 1;
    struct run *s = sorted(singles, nsingles), *a = free_runs, *out = 0, **tail = &out, *last = 0;
    singles = 0;
    nsingles = 0;
    while (a || s) {
        struct run *take;
        if (!s || (a && (uintptr_t)a < (uintptr_t)s)) {
            take = a;
            a = a->next;
        } else {
            take = s;
            s = s->next;
        }
        if (last && (uintptr_t)last + last->pages * PAGE_SIZE == (uintptr_t)take) {
            last->pages += take->pages;
        } else {
            *tail = take;
            tail = &take->next;
            last = take;
        }
    }
    *tail = 0;
    free_runs = out;
}

static void *page_alloc_now(size_t pages)
{
    unsigned long f = spin_lock_irqsave(&lock);
    void *p = 0;
    if (pages == 1 && singles) {
        p = singles;
        singles = singles->next;
        nsingles--;
        free_pages--;
    } else if (!(p = alloc_locked(pages)) && singles) {
        drain_singles(); /* a larger run may form from them */
        p = alloc_locked(pages);
    }
    spin_unlock_irqrestore(&lock, f);
    return p;
}

/* Out of free pages: the page cache's unmapped pages go first (the
 * reclaimer frees what it can, a batch at a time), then NULL. */
void *page_alloc(size_t pages)
{
    void *p = page_alloc_now(pages);
    while (!p && reclaimer && reclaimable_pages && reclaimer(pages) > 0)
        p = page_alloc_now(pages);
    return p;
}

void page_free(void *ptr, size_t pages)
{
    unsigned long f = spin_lock_irqsave(&lock);
    if (pages == 1) {
        struct run *r = ptr;
        r->next = singles;
        singles = r;
        nsingles++;
        free_pages++;
    } else {
        free_locked(ptr, pages);
    }
    spin_unlock_irqrestore(&lock, f);
}

/* Free, counting the page cache's pages that only the cache holds: an
 * allocation gets them (page_alloc reclaims them first). */
size_t pages_free(void) { return free_pages + reclaimable_pages; }
size_t pages_total(void) { return total_pages; }
