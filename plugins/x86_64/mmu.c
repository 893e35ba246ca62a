/* x86_64 runtime mapper: identity mappings with the largest page that fits
 * (1 GiB when the CPU has pdpe1gb, 2 MiB, 4 KiB), walking the live tables
 * from CR3 so the compose-time boot tables are kept as they are. */
#include <hermit/mm.h>
#include <stdint.h>

#define P (1ull << 0)
#define RW (1ull << 1)
#define PWT (1ull << 3)
#define PCD (1ull << 4)
#define PS (1ull << 7)
#define NX (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull

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
    return (uint64_t *)(uintptr_t)(cr3 & ADDR_MASK);
}

int arch_map(uintptr_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    uint64_t leaf = P | (flags & MAP_WRITE ? RW : 0) | (flags & MAP_EXEC ? 0 : NX) |
                    (flags & MAP_DEVICE ? PCD | PWT : 0);
    uintptr_t end = va + size;
    while (va < end) {
        uint64_t *table = root();
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
                table = (uint64_t *)(uintptr_t)(*e & ADDR_MASK);
                continue;
            }
            if (leaf_ok) {
                *e = (pa & ADDR_MASK) | leaf | (level > 1 ? PS : 0);
                va += span;
                pa += span;
                break;
            }
            uint64_t *next = mm_table_page();
            if (!next)
                return -1;
            *e = (uintptr_t)next | P | RW; /* leaves decide the permissions */
            table = next;
        }
    }
    return 0;
}
