/* x86_64 runtime mapper. Kernel mappings (the RAM direct map, ACPI tables)
 * use the largest page that fits (1 GiB when the CPU has pdpe1gb, 2 MiB,
 * 4 KiB) and keep whatever is already mapped, so the compose-time boot
 * tables stay as they are. The program's pages are single 4 KiB pages with
 * the U bit. Tables are reached through the direct map; every intermediate
 * entry carries U, so the leaves alone decide who may touch a page. */
#include <hermit/mm.h>
#include <stdint.h>

#define P (1ull << 0)
#define RW (1ull << 1)
#define US (1ull << 2)
#define PWT (1ull << 3)
#define PCD (1ull << 4)
#define PS (1ull << 7)
#define PROG (1ull << 9) /* software bit: a program page (arch_user_map), never one of the kernel's */
#define COW (1ull << 10) /* software bit: shared with another process until written (MAP_COW) */
#define NX (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull

/* PML4 slot 273, as in Linux: far above anything a program maps. */
const uintptr_t arch_direct_map_base = 0xffff888000000000ull;

static int gb_pages = -1;

static int have_gb_pages(void)
{
    if (gb_pages < 0) {
        uint32_t a, b, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001), "c"(0));
        gb_pages = (d >> 26) & 1;
    }
    return gb_pages;
}

const char *arch_page_sizes(void) { return have_gb_pages() ? "4K 2M 1G" : "4K 2M"; }

static uint64_t *root(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    return phys_to_virt(cr3 & ADDR_MASK);
}

static uint64_t *next_table(uint64_t *e)
{
    uint64_t *next = mm_table_page();
    if (next)
        *e = virt_to_phys(next) | P | RW | US;
    return next;
}

static uint64_t leaf_flags(unsigned flags)
{
    return P | (flags & MAP_WRITE ? RW : 0) | (flags & MAP_EXEC ? 0 : NX) | (flags & MAP_DEVICE ? PCD | PWT : 0) |
           (flags & MAP_USER ? US : 0) | (flags & MAP_COW ? COW : 0);
}

static unsigned map_flags_of(uint64_t e)
{
    return (e & RW ? MAP_WRITE : 0) | (e & NX ? 0 : MAP_EXEC) | (e & US ? MAP_USER : 0) | (e & COW ? MAP_COW : 0);
}

int arch_map(uintptr_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    uint64_t leaf = leaf_flags(flags);
    uintptr_t end = va + size;
    uint64_t *top = root();
    while (va < end) {
        uint64_t *table = top;
        for (int level = 4;; level--) {
            unsigned shift = 12 + 9 * (level - 1);
            uint64_t span = 1ull << shift;
            uint64_t *e = &table[(va >> shift) & 511];
            int leaf_ok = level == 1 || ((level == 2 || (level == 3 && have_gb_pages())) &&
                                         !(va & (span - 1)) && !(pa & (span - 1)) && end - va >= span);
            if (*e & P) {
                if (level == 1 || (*e & PS)) { /* already mapped: keep it */
                    uintptr_t next = (va & ~(span - 1)) + span;
                    pa += next - va;
                    va = next;
                    break;
                }
                table = phys_to_virt(*e & ADDR_MASK);
                continue;
            }
            if (leaf_ok) {
                *e = (pa & ADDR_MASK) | leaf | (level > 1 ? PS : 0);
                va += span;
                pa += span;
                break;
            }
            if (!(table = next_table(e)))
                return -1;
        }
    }
    return 0;
}

/* The 4 KiB entry for va. NULL with *err = -1 (no memory) or -2 (a large
 * page covers va), or simply NULL when !create and nothing is mapped. */
static uint64_t *pte(uintptr_t va, int create, int *err)
{
    uint64_t *table = root();
    for (int level = 4; level > 1; level--) {
        uint64_t *e = &table[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(*e & P)) {
            if (!create || !(table = next_table(e))) {
                *err = create ? -1 : 0;
                return 0;
            }
            continue;
        }
        if (*e & PS) {
            *err = -2;
            return 0;
        }
        *e |= US;
        table = phys_to_virt(*e & ADDR_MASK);
    }
    return &table[(va >> 12) & 511];
}

static void invlpg(uintptr_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

int arch_user_map(uintptr_t va, uint64_t pa, unsigned flags)
{
    int err = 0;
    uint64_t *e = pte(va, 1, &err);
    if (!e)
        return err;
    if (*e & P)
        return -2;
    *e = (pa & ADDR_MASK) | leaf_flags(flags) | PROG;
    return 0;
}

uint64_t arch_user_unmap(uintptr_t va)
{
    int err;
    uint64_t *e = pte(va, 0, &err);
    if (!e || !(*e & P) || !(*e & PROG))
        return 0;
    uint64_t pa = *e & ADDR_MASK;
    *e = 0;
    invlpg(va);
    return pa;
}

int arch_user_protect(uintptr_t va, unsigned flags)
{
    int err;
    uint64_t *e = pte(va, 0, &err);
    if (!e || !(*e & P) || !(*e & PROG))
        return -1;
    *e = (*e & ADDR_MASK) | leaf_flags(flags) | PROG;
    invlpg(va);
    return 0;
}

/* The first address in [va, end) whose leaf is a program page (kernel 0)
 * or one of the kernel's (kernel 1), or end; empty tables are skipped whole. */
static uintptr_t find_leaf(uintptr_t va, uintptr_t end, int kernel)
{
    while (va < end) {
        uint64_t *table = root();
        for (int level = 4;; level--) {
            uint64_t span = 1ull << (12 + 9 * (level - 1));
            uint64_t e = table[(va >> (12 + 9 * (level - 1))) & 511];
            uintptr_t next = (va & ~(span - 1)) + span;
            int leaf = level == 1 || (e & PS);
            if ((e & P) && leaf && !(e & PROG) == kernel)
                return va;
            if (!(e & P) || leaf) {
                if (next <= va)
                    return end;
                va = next;
                break;
            }
            table = phys_to_virt(e & ADDR_MASK);
        }
    }
    return end;
}

uintptr_t arch_user_next(uintptr_t va, uintptr_t end) { return find_leaf(va, end, 0); }
int arch_user_kernel_mapped(uintptr_t va, uintptr_t end) { return find_leaf(va, end, 1) < end; }

int arch_user_query(uintptr_t va, uint64_t *pa, unsigned *flags)
{
    int err;
    uint64_t *e = pte(va, 0, &err);
    if (!e || !(*e & P) || !(*e & PROG))
        return -1;
    *pa = *e & ADDR_MASK;
    *flags = map_flags_of(*e);
    return 0;
}

/* --- address spaces --- */
uint64_t arch_as_current(void) { return virt_to_phys(root()); }

void arch_as_switch(uint64_t as)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    if ((cr3 & ADDR_MASK) != as)
        __asm__ volatile("mov %0, %%cr3" : : "r"(as) : "memory"); /* non-global entries go */
}

/* The lower half below `level`'s table src, copied into dst: tables anew,
 * the kernel's leaves as they are, program pages through `page`. */
static int copy_level(uint64_t *dst, uint64_t *src, int level, uintptr_t base,
                      unsigned (*page)(uintptr_t, uint64_t, unsigned, void *), void *arg)
{
    unsigned shift = 12 + 9 * (level - 1);
    for (unsigned i = 0; i < (level == 4 ? 256u : 512u); i++) { /* the top: its lower half only */
        uint64_t e = src[i];
        if (!(e & P))
            continue;
        uintptr_t va = base + ((uintptr_t)i << shift);
        if (level == 1 || (e & PS)) {
            if (!(e & PROG)) {
                dst[i] = e; /* the kernel's */
                continue;
            }
            unsigned f = page(va, e & ADDR_MASK, map_flags_of(e), arg);
            if (f == ~0u)
                continue;
            src[i] = (e & ADDR_MASK) | leaf_flags(f) | PROG;
            dst[i] = src[i];
            continue;
        }
        uint64_t *t = mm_table_page();
        if (!t)
            return -1;
        dst[i] = virt_to_phys(t) | (e & 0xfff);
        if (copy_level(t, phys_to_virt(e & ADDR_MASK), level - 1, va, page, arg))
            return -1;
    }
    return 0;
}

static void free_level(uint64_t *t, int level)
{
    for (unsigned i = 0; level > 1 && i < (level == 4 ? 256u : 512u); i++)
        if ((t[i] & P) && !(t[i] & PS))
            free_level(phys_to_virt(t[i] & ADDR_MASK), level - 1);
    page_free(t, 1);
}

uint64_t arch_as_fork(unsigned (*page)(uintptr_t va, uint64_t pa, unsigned flags, void *arg), void *arg)
{
    uint64_t *src = root(), *dst = mm_table_page();
    if (!dst)
        return 0;
    /* the kernel's half, shared: its kernel-stack window first, so later stacks show in every copy */
    uint64_t *slot = &src[(arch_kstack_base >> 39) & 511];
    if (!(*slot & P) && !next_table(slot)) {
        page_free(dst, 1);
        return 0;
    }
    for (unsigned i = 256; i < 512; i++)
        dst[i] = src[i];
    if (copy_level(dst, src, 4, 0, page, arg)) {
        for (unsigned i = 256; i < 512; i++)
            dst[i] = 0;
        free_level(dst, 4);
        return 0;
    }
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory"); /* the parent's entries changed */
    return virt_to_phys(dst); /* (other CPUs running the parent's threads: the caller's arch_tlb_sync) */
}

void arch_as_free(uint64_t as)
{
    uint64_t *t = phys_to_virt(as);
    for (unsigned i = 256; i < 512; i++)
        t[i] = 0; /* shared: not ours to free */
    free_level(t, 4);
}
