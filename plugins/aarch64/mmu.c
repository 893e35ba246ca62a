/* aarch64 runtime mapper (4 KiB granule, 39-bit VA: levels 1-3). Kernel
 * mappings (RAM, identity: it sits above 1 GiB, out of the program's way)
 * use 1 GiB or 2 MiB blocks where aligned, else 4 KiB pages, and keep what
 * the boot tables already map. The program's pages are single 4 KiB pages
 * with EL0 access and PXN: the kernel never executes program code. */
#include <hermit/mm.h>
#include <hermit/user.h>
#include <stdint.h>

#define VALID 1ull
#define TABLE 3ull /* table (levels 1-2) or page (level 3) */
#define BLOCK 1ull
#define AF (1ull << 10)
#define SH_INNER (3ull << 8)
#define AP_EL0 (1ull << 6)
#define AP_RO (2ull << 6)
#define PXN (1ull << 53)
#define UXN (1ull << 54)
#define ATTR_DEVICE (0ull << 2)
#define ATTR_NORMAL (1ull << 2)
#define ADDR_MASK 0x0000fffffffff000ull
#define PROG (1ull << 55) /* software bit: a program page (arch_user_map), never one of the kernel's */
#define COW (1ull << 56)  /* software bit: shared with another process until written (MAP_COW) */

const uintptr_t arch_direct_map_base = 0;
#define USER_TOP USER_LIMIT /* above: the kernel's alone (stacks), shared by every address space */

const char *arch_page_sizes(void) { return "4K 2M 1G"; }

static uint64_t *root(void)
{
    uint64_t ttbr;
    __asm__ volatile("mrs %0, ttbr0_el1" : "=r"(ttbr));
    return phys_to_virt(ttbr & ADDR_MASK);
}

static uint64_t *next_table(uint64_t *e)
{
    uint64_t *next = mm_table_page();
    if (next) {
        __asm__ volatile("dsb ishst" ::: "memory"); /* zeroed table visible to the walker */
        *e = virt_to_phys(next) | TABLE;
    }
    return next;
}

int arch_map(uintptr_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    uint64_t attrs = AF | (flags & MAP_DEVICE ? ATTR_DEVICE | PXN | UXN : ATTR_NORMAL | SH_INNER) |
                     (flags & MAP_WRITE ? 0 : AP_RO) | (flags & MAP_EXEC ? 0 : PXN | UXN);
    uintptr_t end = va + size;
    while (va < end) {
        uint64_t *table = root();
        for (int level = 1;; level++) {
            unsigned shift = 12 + 9 * (3 - level);
            uint64_t span = 1ull << shift;
            uint64_t *e = &table[(va >> shift) & 511];
            int leaf_ok = level == 3 || (!(va & (span - 1)) && !(pa & (span - 1)) && end - va >= span);
            if (*e & VALID) {
                if (level == 3 || (*e & 3) == BLOCK) { /* already mapped: keep it */
                    uintptr_t next = (va & ~(span - 1)) + span;
                    pa += next - va;
                    va = next;
                    break;
                }
                table = phys_to_virt(*e & ADDR_MASK);
                continue;
            }
            if (leaf_ok) {
                *e = (pa & ADDR_MASK) | attrs | (level == 3 ? TABLE : BLOCK);
                va += span;
                pa += span;
                break;
            }
            if (!(table = next_table(e)))
                return -1;
        }
    }
    __asm__ volatile("dsb ishst; isb" ::: "memory");
    return 0;
}

static uint64_t *pte(uintptr_t va, int create, int *err)
{
    uint64_t *table = root();
    for (int level = 1; level < 3; level++) {
        uint64_t *e = &table[(va >> (12 + 9 * (3 - level))) & 511];
        if (!(*e & VALID)) {
            if (!create || !(table = next_table(e))) {
                *err = create ? -1 : 0;
                return 0;
            }
            continue;
        }
        if ((*e & 3) == BLOCK) {
            *err = -2;
            return 0;
        }
        table = phys_to_virt(*e & ADDR_MASK);
    }
    return &table[(va >> 12) & 511];
}

static uint64_t user_attrs(unsigned flags)
{
    uint64_t cow = flags & MAP_COW ? COW | AP_RO : 0;
    if (!(flags & MAP_USER)) /* kernel only: EL1 read/write, never executed */
        return AF | SH_INNER | ATTR_NORMAL | PXN | UXN | TABLE | cow;
    return AF | SH_INNER | ATTR_NORMAL | AP_EL0 | (flags & MAP_WRITE ? 0 : AP_RO) | PXN |
           (flags & MAP_EXEC ? 0 : UXN) | TABLE | cow;
}

static unsigned map_flags_of(uint64_t e)
{
    return (e & AP_EL0 ? MAP_USER : 0) | (e & AP_RO ? 0 : MAP_WRITE) | (e & UXN ? 0 : MAP_EXEC) |
           (e & COW ? MAP_COW : 0);
}

static void tlb_flush_page(uintptr_t va)
{
    __asm__ volatile("dsb ishst\n tlbi vaae1is, %0\n dsb ish\n isb" : : "r"(va >> 12) : "memory");
}

int arch_user_map(uintptr_t va, uint64_t pa, unsigned flags)
{
    int err = 0;
    uint64_t *e = pte(va, 1, &err);
    if (!e)
        return err;
    if (*e & VALID)
        return -2;
    *e = (pa & ADDR_MASK) | user_attrs(flags) | PROG;
    __asm__ volatile("dsb ishst; isb" ::: "memory");
    return 0;
}

uint64_t arch_user_unmap(uintptr_t va)
{
    int err;
    uint64_t *e = pte(va, 0, &err);
    if (!e || !(*e & VALID) || !(*e & PROG))
        return 0;
    uint64_t pa = *e & ADDR_MASK;
    *e = 0;
    tlb_flush_page(va);
    return pa;
}

int arch_user_protect(uintptr_t va, unsigned flags)
{
    int err;
    uint64_t *e = pte(va, 0, &err);
    if (!e || !(*e & VALID) || !(*e & PROG))
        return -1;
    *e = (*e & ADDR_MASK) | user_attrs(flags) | PROG;
    tlb_flush_page(va);
    return 0;
}

/* The first address in [va, end) whose leaf is a program page (kernel 0)
 * or one of the kernel's (kernel 1), or end; empty tables are skipped whole. */
static uintptr_t find_leaf(uintptr_t va, uintptr_t end, int kernel)
{
    while (va < end) {
        uint64_t *table = root();
        for (int level = 1;; level++) {
            uint64_t span = 1ull << (12 + 9 * (3 - level));
            uint64_t e = table[(va >> (12 + 9 * (3 - level))) & 511];
            uintptr_t next = (va & ~(span - 1)) + span;
            int leaf = level == 3 || (e & 3) == BLOCK;
            if ((e & VALID) && leaf && !(e & PROG) == kernel)
                return va;
            if (!(e & VALID) || leaf) {
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
    if (!e || !(*e & VALID) || !(*e & PROG))
        return -1;
    *pa = *e & ADDR_MASK;
    *flags = map_flags_of(*e);
    return 0;
}

/* --- address spaces: TTBR0 holds the kernel (its RAM identity map, device
 * windows, kernel stacks at arch_kstack_base) and the program alike --- */
uint64_t arch_as_current(void) { return virt_to_phys(root()); }

void arch_as_switch(uint64_t as)
{
    uint64_t ttbr;
    __asm__ volatile("mrs %0, ttbr0_el1" : "=r"(ttbr));
    if ((ttbr & ADDR_MASK) == as)
        return;
    /* no ASIDs: this CPU's translations of the old tables go */
    __asm__ volatile("dsb ish\n msr ttbr0_el1, %0\n isb\n tlbi vmalle1\n dsb nsh\n isb" : : "r"(as) : "memory");
}

static int copy_level(uint64_t *dst, uint64_t *src, int level, uintptr_t base,
                      unsigned (*page)(uintptr_t, uint64_t, unsigned, void *), void *arg)
{
    unsigned shift = 12 + 9 * (3 - level);
    for (unsigned i = 0; i < 512; i++) {
        uint64_t e = src[i];
        if (!(e & VALID))
            continue;
        uintptr_t va = base + ((uintptr_t)i << shift);
        if (level == 1 && va >= USER_TOP) {
            dst[i] = e; /* the kernel's alone (its stacks): shared */
            continue;
        }
        if (level == 3 || (e & 3) == BLOCK) {
            if (!(e & PROG)) {
                dst[i] = e;
                continue;
            }
            unsigned f = page(va, e & ADDR_MASK, map_flags_of(e), arg);
            if (f == ~0u)
                continue;
            src[i] = (e & ADDR_MASK) | user_attrs(f) | PROG;
            dst[i] = src[i];
            continue;
        }
        uint64_t *t = mm_table_page();
        if (!t)
            return -1;
        __asm__ volatile("dsb ishst" ::: "memory");
        dst[i] = virt_to_phys(t) | TABLE;
        if (copy_level(t, phys_to_virt(e & ADDR_MASK), level + 1, va, page, arg))
            return -1;
    }
    return 0;
}

static void free_level(uint64_t *t, int level)
{
    for (unsigned i = 0; level < 3 && i < 512; i++) {
        if (level == 1 && ((uintptr_t)i << 30) >= USER_TOP)
            continue; /* shared */
        if ((t[i] & VALID) && (t[i] & 3) == TABLE)
            free_level(phys_to_virt(t[i] & ADDR_MASK), level + 1);
    }
    page_free(t, 1);
}

uint64_t arch_as_fork(unsigned (*page)(uintptr_t va, uint64_t pa, unsigned flags, void *arg), void *arg)
{
    uint64_t *src = root(), *dst = mm_table_page();
    if (!dst)
        return 0;
    uint64_t *slot = &src[(arch_kstack_base >> 30) & 511]; /* the kernel-stack window, shared from now on */
    if (!(*slot & VALID) && !next_table(slot)) {
        page_free(dst, 1);
        return 0;
    }
    if (copy_level(dst, src, 1, 0, page, arg)) {
        free_level(dst, 1);
        return 0;
    }
    __asm__ volatile("dsb ishst\n tlbi vmalle1is\n dsb ish\n isb" ::: "memory"); /* the parent's entries changed */
    return virt_to_phys(dst);
}

void arch_as_free(uint64_t as) { free_level(phys_to_virt(as), 1); }
