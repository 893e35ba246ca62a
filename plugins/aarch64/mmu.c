/* aarch64 runtime mapper (4 KiB granule, 39-bit VA: levels 1-3). Kernel
 * mappings (RAM, identity: it sits above 1 GiB, out of the program's way)
 * use 1 GiB or 2 MiB blocks where aligned, else 4 KiB pages, and keep what
 * the boot tables already map. The program's pages are single 4 KiB pages
 * with EL0 access and PXN: the kernel never executes program code. */
#include <hermit/mm.h>
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

const uintptr_t arch_direct_map_base = 0;

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
    if (!(flags & MAP_USER)) /* kernel only: EL1 read/write, never executed */
        return AF | SH_INNER | ATTR_NORMAL | PXN | UXN | TABLE;
    return AF | SH_INNER | ATTR_NORMAL | AP_EL0 | (flags & MAP_WRITE ? 0 : AP_RO) | PXN |
           (flags & MAP_EXEC ? 0 : UXN) | TABLE;
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
