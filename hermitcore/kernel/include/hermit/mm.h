/* Physical memory: page frames and the kernel's identity (direct) map. */
#pragma once
#include <hermit/boot.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ul

#define MAP_WRITE 1u
#define MAP_EXEC 2u
#define MAP_DEVICE 4u

/* Map all RAM the VMM reported (identity, read/write, no-execute), with the
 * largest pages the CPU offers. Safe to call more than once. */
void mm_map_ram(const struct boot_info *bi);

/* Hand RAM not used by the kernel to the page-frame allocator. */
void mm_init(const struct boot_info *bi);

/* Contiguous, page-aligned physical pages (identity mapped), or NULL. */
void *page_alloc(size_t pages);
void page_free(void *p, size_t pages);
size_t pages_free(void);
size_t pages_total(void);

/* A zeroed page for a page table: from the early pool in the boot map,
 * later from the page allocator. NULL when out of memory. */
void *mm_table_page(void);

/* Architecture: map [va, va+size) to pa with `flags`; existing mappings
 * (the compose-time boot tables) are kept. Returns 0 or -1 (no memory). */
int arch_map(uintptr_t va, uint64_t pa, uint64_t size, unsigned flags);
const char *arch_page_sizes(void); /* e.g. "4K 2M 1G" */

/* Linker and page-table symbols. */
extern char __kernel_start[], __kernel_end[], boot_map_end[];
