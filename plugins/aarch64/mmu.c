/* aarch64 runtime mapper (4 KiB granule, 39-bit VA: levels 1-3): identity
 * mappings with 1 GiB or 2 MiB blocks where aligned, else 4 KiB pages,
 * walking the live tables from TTBR0_EL1 so the boot tables are kept. */
#include <hermit/mm.h>
#include <stdint.h>

#define VALID 1ull
#define TABLE 3ull /* table (levels 1-2) or page (level 3) */
#define BLOCK 1ull
#define AF (1ull << 10)
#define SH_INNER (3ull << 8)
#define AP_RO (2ull << 6)
#define PXN (1ull << 53)
#define UXN (1ull << 54)
#define ATTR_DEVICE (0ull << 2)
#define ATTR_NORMAL (1ull << 2)
#define ADDR_MASK 0x0000fffffffff000ull

const char *arch_page_sizes(void) { return "4K 2M 1G"; }

static uint64_t *root(void)
{
    uint64_t ttbr;
    __asm__ volatile("mrs %0, ttbr0_el1" : "=r"(ttbr));
    return (uint64_t *)(uintptr_t)(ttbr & ADDR_MASK);
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
                table = (uint64_t *)(uintptr_t)(*e & ADDR_MASK);
                continue;
            }
            if (leaf_ok) {
                *e = (pa & ADDR_MASK) | attrs | (level == 3 ? TABLE : BLOCK);
                va += span;
                pa += span;
                break;
            }
            uint64_t *next = mm_table_page();
            if (!next)
                return -1;
            __asm__ volatile("dsb ishst" ::: "memory"); /* zeroed table visible to the walker */
            *e = (uintptr_t)next | TABLE;
            table = next;
        }
    }
    __asm__ volatile("dsb ishst; isb" ::: "memory");
    return 0;
}
