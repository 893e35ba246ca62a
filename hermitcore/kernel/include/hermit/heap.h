/* Kernel heap on top of the page-frame allocator. */
#pragma once
#include <stddef.h>

/* Freed memory is filled with this byte, so use-after-free shows. */
#define HEAP_POISON 0x6b

void *kmalloc(size_t size); /* 16-byte aligned; NULL when out of memory */
void *kzalloc(size_t size);
void kfree(void *p);        /* panics on a double free or a foreign pointer */
size_t heap_bytes_in_use(void);
