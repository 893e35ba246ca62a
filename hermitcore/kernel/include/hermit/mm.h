/* Physical memory: page frames and the kernel's identity (direct) map. */
#pragma once
#include <hermit/boot.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ul

#define MAP_WRITE 1u
#define MAP_EXEC 2u
#define MAP_DEVICE 4u
#define MAP_USER 8u /* the program may access it (ring 3 / EL0) */

/* The direct map: the kernel reaches physical address pa at
 * arch_direct_map_base + pa (x86_64: the upper half, so the lower half is
 * free for the program; aarch64: 0, RAM sits above 1 GiB out of its way).
 * The kernel's boot map [0, boot_map_end) is identity mapped on both. */
extern const uintptr_t arch_direct_map_base;
extern char boot_map_end[];

static inline void *phys_to_virt(uint64_t pa)
{
    return (void *)(uintptr_t)(pa < (uintptr_t)boot_map_end ? pa : pa + arch_direct_map_base);
}

static inline uint64_t virt_to_phys(const void *va)
{
    uintptr_t v = (uintptr_t)va;
    return arch_direct_map_base && v >= arch_direct_map_base ? v - arch_direct_map_base : v;
}

/* Map all RAM the VMM reported into the direct map (read/write,
 * no-execute), with the largest pages the CPU offers. Safe to call more than
 * once. */
void mm_map_ram(const struct boot_info *bi);

/* Hand RAM not used by the kernel to the page-frame allocator. */
void mm_init(const struct boot_info *bi);

/* Contiguous, page-aligned physical pages (as direct-map pointers), or NULL. */
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

/* Single 4 KiB pages of the program's address space: MAP_USER in flags
 * gives the program access; without it only the kernel reaches the page.
 * arch_user_map: 0, -1 (no memory for tables) or -2 (va is already mapped,
 * e.g. by the kernel's boot map or an MMIO window). arch_user_unmap returns
 * the physical page that was mapped there, or 0. arch_user_protect changes a
 * mapped page's flags (0 or -1 if unmapped). TLBs are kept coherent. */
int arch_user_map(uintptr_t va, uint64_t pa, unsigned flags);
uint64_t arch_user_unmap(uintptr_t va);
int arch_user_protect(uintptr_t va, unsigned flags);
/* Program pages carry a mark of their own: arch_user_unmap and
 * arch_user_protect leave every other page alone (0 / -1), so no program
 * call can unmap or re-protect the kernel's pages in the lower half (its
 * boot map, aarch64's RAM identity map, device windows). 1 when the kernel
 * maps something in [va, end) (then no program mapping may go there). */
int arch_user_kernel_mapped(uintptr_t va, uintptr_t end);
/* The first program page mapped in [va, end), or end: a walk that skips
 * empty tables, so unmapping or re-protecting a large, mostly untouched
 * reservation costs what is mapped in it, not its size. */
uintptr_t arch_user_next(uintptr_t va, uintptr_t end);
/* After unmapping or re-protecting program pages: every other CPU has
 * dropped the old translations when this returns (x86_64: an IPI
 * shoot-down; aarch64: the broadcast TLBIs already did it). */
void arch_tlb_sync(void);

/* Linker symbols. */
extern char __kernel_start[], __kernel_end[];
extern char __app_start[], __app_end[], __image_end[]; /* physical: use phys_to_virt() */
