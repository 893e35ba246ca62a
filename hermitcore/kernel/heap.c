/* Kernel heap: power-of-two size classes from 16 to 2048 bytes carved from
 * pages, larger blocks straight from the page allocator. Every block has a
 * 16-byte header (magic, class, size) so kfree can check it: a double free
 * or a pointer the heap never returned panics. Freed memory is poisoned. */
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/mm.h>
#include <hermit/spinlock.h>
#include <hermit/string.h>
#include <stdint.h>

#define MAGIC_LIVE 0x4b4d414cu /* "LAMK" */
#define MAGIC_FREE 0x45455246u /* "FREE" */
#define CLASSES 8              /* 16 .. 2048 */
#define LARGE 0xffffu

struct header {
    uint32_t magic;
    uint16_t cls; /* size class, or LARGE */
    uint16_t pad;
    uint64_t size; /* requested bytes (LARGE: pages in the upper half) */
};
_Static_assert(sizeof(struct header) == 16, "header keeps payloads 16-byte aligned");

struct free_block {
    struct free_block *next;
};

static struct free_block *free_lists[CLASSES];
static size_t in_use;
static spinlock_t lock = SPINLOCK_INIT; /* the free lists; taken before the page allocator's */
static void free_locked(void *p);

static unsigned class_of(size_t size)
{
    unsigned c = 0;
    while ((16ul << c) < size)
        c++;
    return c;
}

static int refill(unsigned c)
{
    size_t block = (16ul << c) + sizeof(struct header);
    char *page = page_alloc(1);
    if (!page)
        return -1;
    for (size_t off = 0; off + block <= PAGE_SIZE; off += block) {
        struct header *h = (struct header *)(page + off);
        h->magic = MAGIC_FREE;
        h->cls = c;
        struct free_block *b = (struct free_block *)(h + 1);
        b->next = free_lists[c];
        free_lists[c] = b;
    }
    return 0;
}

static void *alloc_locked(size_t size)
{
    if (size == 0)
        size = 1;
    struct header *h;
    if (size > (16ul << (CLASSES - 1))) {
        size_t pages = (size + sizeof *h + PAGE_SIZE - 1) / PAGE_SIZE;
        h = page_alloc(pages);
        if (!h)
            return 0;
        h->cls = LARGE;
        h->pad = 0;
        h->size = size | (uint64_t)pages << 40;
    } else {
        unsigned c = class_of(size);
        if (!free_lists[c] && refill(c) != 0)
            return 0;
        struct free_block *b = free_lists[c];
        free_lists[c] = b->next;
        h = (struct header *)b - 1;
        if (h->magic != MAGIC_FREE)
            panic("heap corruption: free block %p has a bad header", (void *)b);
        h->size = size;
    }
    h->magic = MAGIC_LIVE;
    in_use += size;
    return h + 1;
}

void *kmalloc(size_t size)
{
    unsigned long f = spin_lock_irqsave(&lock);
    void *p = alloc_locked(size);
    spin_unlock_irqrestore(&lock, f);
    return p;
}

void kfree(void *p)
{
    if (!p)
        return;
    unsigned long f = spin_lock_irqsave(&lock);
    free_locked(p);
    spin_unlock_irqrestore(&lock, f);
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

static void free_locked(void *p)
{
    struct header *h = (struct header *)p - 1;
    if (h->magic == MAGIC_FREE)
        panic("kfree(%p): double free", p);
    if (h->magic != MAGIC_LIVE)
        panic("kfree(%p): not a heap block (header corrupt or foreign pointer)", p);
    h->magic = MAGIC_FREE;
    if (h->cls == LARGE) {
        size_t size = h->size & ((1ull << 40) - 1), pages = h->size >> 40;
        in_use -= size;
        memset(p, HEAP_POISON, pages * PAGE_SIZE - sizeof *h);
        page_free(h, pages);
        return;
    }
    in_use -= h->size;
    memset(p, HEAP_POISON, 16ul << h->cls);
    struct free_block *b = p;
    b->next = free_lists[h->cls];
    free_lists[h->cls] = b;
}

size_t heap_bytes_in_use(void) { return in_use; }
