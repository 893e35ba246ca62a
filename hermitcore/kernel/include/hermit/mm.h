/* Physical memory: page frames and the kernel's identity (direct) map. */
#pragma once
#include <hermit/arch.h>
#include <hermit/boot.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ul

#define MAP_WRITE 1u
#define MAP_EXEC 2u
#define MAP_DEVICE 4u
#define MAP_USER 8u /* the program may access it (ring 3 / EL0) */
#define MAP_COW 16u /* a program page shared with another process: read-only until a write copies it */

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
/* Program pages shared between processes (fork): a page's owners beyond the
 * first. page_share adds one (0, or -1 when it cannot be counted: copy it
 * instead); page_unshare takes one away and returns 1 if others still own
 * it (then it must not be freed), 0 for its last owner. */
int page_share(uint64_t pa);
int page_unshare(uint64_t pa);
int page_shared(uint64_t pa);
/* The page cache's pages (vm.c): page_cache_add makes a fresh page the
 * cache's (it is the first owner; mappings add owners with page_share);
 * page_cache_drop lets it go (freed when nothing maps it); page_cache_reclaim
 * frees it only if nothing but the cache owns it (1). page_alloc calls the
 * registered reclaimer (which may run on any CPU, from any context, and must
 * not allocate or take the heap) before it fails. */
int page_cache_add(uint64_t pa);
void page_cache_drop(uint64_t pa);
int page_cache_reclaim(uint64_t pa);
void page_set_reclaimer(size_t (*fn)(size_t want));
size_t pages_cached(void);      /* pages in the page cache */
size_t pages_reclaimable(void); /* of them, those only the cache holds */
void page_free(void *p, size_t pages);
size_t pages_free(void); /* free, with the cache's reclaimable pages */
size_t pages_total(void);

/* A zeroed page for a page table: from the early pool in the boot map,
 * later from the page allocator. NULL when out of memory. */
void *mm_table_page(void);


/* Linker symbols. */
extern char __kernel_start[], __kernel_end[];
extern char __app_start[], __app_end[], __image_end[]; /* physical: use phys_to_virt() */
