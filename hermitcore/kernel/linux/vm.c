/* The program's memory: a sorted list of mappings (start, end, PROT_*),
 * backed page by page on first touch, plus brk, mmap, munmap, mprotect,
 * mremap, madvise and msync over it. Pages come from the page-frame
 * allocator and are mapped 4 KiB at a time with the program's permissions.
 *
 * Anonymous mappings are demand-zero. A file mapping reads the file when it
 * is made (mmap may sleep on the host's 9P; a page fault never does): a
 * private one maps the page cache's pages of the file (below) read-only --
 * a write copies the page, as after fork -- or, for a file the cache does
 * not keep (9P), pages of its own; a shared one maps the file's shared
 * pages -- one per file page, whatever mapping of the file maps it (the
 * file is known by its lock key: its inode) -- kept while any shared
 * mapping of the file lives and written back on msync, when the last one
 * goes, and at exit.
 *
 * The page cache: read-only pages of tmpfs files (the image's tree, /tmp),
 * one per (lock key, page offset), shared by every private mapping of them
 * and by the ELF loader's whole file pages of a segment (exec). The cache
 * is one owner of each page (mm.c's share counts), every mapping another,
 * so a write fault copies (cow_break) and a page outlives the cache's
 * holding it while something maps it. A write, truncate or write-back to
 * the file drops its cached pages in that range and the file's going (its
 * inode's eviction) all of them: later mappings and execs read the new
 * bytes, earlier ones keep what they mapped (a snapshot, as before: Linux
 * would show them the write where they have not written). Pages only the
 * cache holds are reclaimed when page_alloc runs short. */
#include "linux.h"
#include <hermit/sched.h>
#include <hermit/heap.h>
#include <hermit/profile.h>

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE 0x0f
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_LOCKED 0x2000
#define MAP_NORESERVE 0x4000
#define MAP_FIXED_NOREPLACE 0x100000
#if defined(__x86_64__)
#define MAP_32BIT 0x40
#else
#define MAP_32BIT 0
#endif
/* The flags every Linux takes (LEGACY_MAP_MASK): MAP_SHARED ignores any
 * other, MAP_SHARED_VALIDATE refuses them (EOPNOTSUPP; MAP_SYNC is DAX's). */
#define MAP_LEGACY                                                                                              \
    (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | 0x100 /* GROWSDOWN */ |                 \
     0x800 /* DENYWRITE */ | 0x1000 /* EXECUTABLE */ | MAP_LOCKED | MAP_NORESERVE | 0x8000 /* POPULATE */ |    \
     0x10000 /* NONBLOCK */ | 0x20000 /* STACK */ | 0x40000 /* HUGETLB */ |                                    \
     0x7c000000 /* UNINITIALIZED, HUGE_2MB, HUGE_1GB */)
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define MADV_DONTNEED 4
#define MADV_FREE 8
#define MS_ASYNC 1
#define MS_INVALIDATE 2
#define MS_SYNC 4

/* A mapping's file: its open file (a reference kept while any piece of the
 * mapping lives) and whether pages are shared with the file. */
struct fmap {
    void *file;
    struct lock_key key;
    int shared;
    int writable; /* shared, on a file opened read-write: may be made writable */
    int wrote;    /* has been writable: its pages go back to the file */
    int refs;     /* mappings (vmas) using it (splits share it), and walks pinning it */
    uint64_t synced; /* the last write-back pass that covered it */
};

struct vma {
    uintptr_t start, end;
    unsigned prot;
    const char *name;
    struct vma *next;
    struct fmap *fm; /* NULL: anonymous */
    uint64_t off;    /* fm: the file offset at start */
    int shared;      /* anonymous MAP_SHARED: stays shared with the children fork makes */
    int locked;      /* MAP_LOCKED (not inherited by fork): msync(MS_INVALIDATE) is EBUSY */
    uintptr_t bus_from; /* a file mapping's first page past the file's end: SIGBUS there (0: none) */
};

/* A file page shared by MAP_SHARED mappings. */
struct spage {
    struct lock_key key;
    uint64_t pgoff;
    uint64_t pa;
    uint64_t pass; /* the last write-back pass that wrote it */
    struct spage *next;
};
static struct spage *spages;

/* A file being mapped shared right now: its shared pages must outlive the
 * sleeps of that mmap (reading the file) even if its last mapping goes. */
struct pin {
    struct lock_key key;
    struct pin *next;
};
static struct pin *pins;
static uint64_t wb_pass;

/* The page cache: per file, its cached pages by page offset. The big
 * kernel lock orders everything but reclaim, which page_alloc may run on
 * any CPU and in any context: pc_lock (spinning, interrupts masked) guards
 * the arrays against it. Nothing allocates or frees heap memory under it. */
struct pc_file {
    struct lock_key key;
    uint64_t *pa; /* by page offset: the cache's page, 0: none */
    size_t cap;   /* entries of pa */
    struct pc_file *next;
};
#define PC_MAX_PAGES (1u << 16) /* pages at offsets past 256 MiB are read into private pages */
static struct pc_file *pc_files;
static spinlock_t pc_lock = SPINLOCK_INIT;

/* A process's memory (fork copies it, vfork's child shares it). */
struct mm {
    struct vma *vmas_;
    uintptr_t brk_base_, brk_cur_;
    struct vma *brk_vma_;
    uint64_t root; /* its address space (arch_as_*) */
    int users;     /* processes on it */
    uint64_t rss, hwm; /* pages mapped in it, and their high-water mark (ru_maxrss, VmHWM) */
    struct mm *next;
};
static struct mm first_mm = {.users = 1}; /* pid 1's, from boot */
static struct mm *all_mms = &first_mm;
static struct mm *mm(void) { return current_process()->mm; }
/* The calling process's (as the globals they were before processes). */
#define vmas (mm()->vmas_)
#define brk_base (mm()->brk_base_)
#define brk_cur (mm()->brk_cur_)
#define brk_vma (mm()->brk_vma_)

static unsigned no_page(uintptr_t va, uint64_t pa, unsigned flags, void *arg);

/* A program page in (out of) the calling process's address space, counted
 * as resident: every map and unmap of a program page goes through these. */
static int user_map(uintptr_t va, uint64_t pa, unsigned flags)
{
    int rc = arch_user_map(va, pa, flags);
    if (rc == 0 && ++mm()->rss > mm()->hwm)
        mm()->hwm = mm()->rss;
    return rc;
}

static uint64_t user_unmap(uintptr_t va)
{
    uint64_t pa = arch_user_unmap(va);
    if (pa)
        mm()->rss--;
    return pa;
}

uint64_t vm_hwm_kb(void)
{
    struct mm *m = mm();
    return m ? m->hwm * (PAGE_SIZE / 1024) : 0;
}

/* pid 1's memory: an address space of its own, not the kernel's (the idle
 * threads run in that one; were it pid 1's too, switching to them would
 * keep pid 1's translations on a CPU it left). */
static void note_maps(void);

struct mm *vm_first_mm(void)
{
    profile_set_maps_hook(note_maps);
    first_mm.root = arch_as_fork(no_page, 0);
    if (!first_mm.root)
        panic("out of memory for the first address space");
    return &first_mm;
}

static uintptr_t page_up(uintptr_t v) { return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

/* Linux's default overcommit policy (heuristic, vm.overcommit_memory = 0):
 * memory is given on first touch, but one private writable mapping larger
 * than all of RAM is refused at once with ENOMEM instead of killing the
 * program later. */
static int beyond_ram(size_t len) { return len / PAGE_SIZE > pages_total(); }

/* PROT_NONE pages stay mapped (their contents survive a later mprotect)
 * but without MAP_USER: only the kernel could reach them. */
static unsigned map_flags(unsigned prot)
{
    if (!(prot & 7))
        return 0;
    return MAP_USER | (prot & PROT_WRITE ? MAP_WRITE : 0) | (prot & PROT_EXEC ? MAP_EXEC : 0);
}

/* After unmapping or re-protecting pages of the calling process: other
 * CPUs drop their translations. Only a CPU running a thread of a process
 * on this memory can hold any (switching address spaces flushes them):
 * one process of one thread -- most of them -- needs no shoot-down. */
static void tlb_sync(void)
{
    struct process *p = current_process();
    if (p->threads > 1 || p->mm->users > 1)
        arch_tlb_sync();
}

/* A present page's flags: a private page another process still has (fork)
 * is read-only until written (copy on write). */
static unsigned page_flags(const struct vma *v, uint64_t pa)
{
    unsigned f = map_flags(v->prot);
    if ((f & MAP_WRITE) && !v->shared && !(v->fm && v->fm->shared) && page_shared(pa))
        f = (f & ~MAP_WRITE) | MAP_COW;
    return f;
}

static struct vma *find(uintptr_t addr)
{
    for (struct vma *v = vmas; v && v->start <= addr; v = v->next)
        if (addr < v->end)
            return v;
    return 0;
}

static int overlaps(uintptr_t start, uintptr_t end)
{
    for (struct vma *v = vmas; v && v->start < end; v = v->next)
        if (v->end > start)
            return 1;
    return 0;
}

static struct vma *insert(uintptr_t start, uintptr_t end, unsigned prot, const char *name)
{
    struct vma *n = kmalloc(sizeof *n);
    if (!n)
        return 0;
    n->start = start;
    n->end = end;
    n->prot = prot;
    n->name = name;
    n->fm = 0;
    n->off = 0;
    n->shared = 0;
    n->locked = 0;
    n->bus_from = 0;
    struct vma **p = &vmas;
    while (*p && (*p)->start < start)
        p = &(*p)->next;
    n->next = *p;
    *p = n;
    return n;
}

/* A mapping's name, kept for good: names outlive the process that gave
 * them (a forked child's mappings carry its parent's program path), and
 * there are few (the programs and interpreters run, [stack]...). */
static const char *intern(const char *name)
{
    static struct name { struct name *next; char s[]; } *names;
    static spinlock_t lock = SPINLOCK_INIT;
    if (!name)
        return 0;
    spin_lock(&lock);
    struct name *n = names;
    while (n && strcmp(n->s, name))
        n = n->next;
    if (!n && (n = kmalloc(sizeof *n + strlen(name) + 1))) {
        memcpy(n->s, name, strlen(name) + 1);
        n->next = names;
        names = n;
    }
    spin_unlock(&lock);
    return n ? n->s : "?";
}

int vm_add(uintptr_t start, uintptr_t end, unsigned prot, const char *name)
{
    name = intern(name);
    start &= ~(PAGE_SIZE - 1);
    end = page_up(end);
    if (end <= start || end > USER_LIMIT || overlaps(start, end) || arch_user_kernel_mapped(start, end))
        return -EINVAL;
    return insert(start, end, prot, name) ? 0 : -ENOMEM;
}

/* Split so that no mapping straddles addr. */
static int split_at(uintptr_t addr)
{
    struct vma *v = find(addr);
    if (!v || v->start == addr)
        return 0;
    struct vma *n = kmalloc(sizeof *n);
    if (!n)
        return -ENOMEM;
    *n = *v;
    n->start = addr;
    if (n->fm)
        n->fm->refs++;
    if (n->fm || (n->name && n->name[0] == '/'))
        n->off += addr - v->start; /* a file's mapping: its offset moves with its start */
    v->end = addr;
    v->next = n;
    if (v == brk_vma && brk_cur > addr)
        brk_vma = n; /* never happens for a well-behaved program; keep brk consistent */
    return 0;
}

static int same_key(struct lock_key a, struct lock_key b) { return a.kind == b.kind && a.id == b.id; }

/* A page owner lets go: the page is freed when it was the last. */
static void page_release(uint64_t pa)
{
    if (!page_unshare(pa))
        page_free(phys_to_virt(pa), 1);
}

static struct pc_file *pc_find(struct lock_key key) /* under pc_lock */
{
    struct pc_file *f = pc_files;
    while (f && !same_key(f->key, key))
        f = f->next;
    return f;
}

/* The cached page at pgoff with a reference for the caller in *pa: 0; or
 * -ENOENT (not cached), -ERANGE (too many owners to count: copy it). */
static long pc_lookup(struct lock_key key, uint64_t pgoff, uint64_t *pa)
{
    unsigned long fl = spin_lock_irqsave(&pc_lock);
    struct pc_file *f = pc_find(key);
    *pa = f && pgoff < f->cap ? f->pa[pgoff] : 0;
    long rc = !*pa ? -ENOENT : page_share(*pa) ? -ERANGE : 0;
    spin_unlock_irqrestore(&pc_lock, fl);
    return rc;
}

static size_t pc_reclaim(size_t want);

/* The file's entry with room for page offsets below `need`: allocated
 * outside pc_lock (an allocation may reclaim, which takes it). */
static int pc_room(struct lock_key key, size_t need)
{
    unsigned long fl = spin_lock_irqsave(&pc_lock);
    struct pc_file *f = pc_find(key);
    size_t cap = f ? f->cap : 0;
    spin_unlock_irqrestore(&pc_lock, fl);
    if (cap >= need)
        return 0;
    size_t want = cap * 2 > need ? cap * 2 : need < 16 ? 16 : need;
    if (want > PC_MAX_PAGES)
        want = PC_MAX_PAGES;
    struct pc_file *nf = f ? 0 : kzalloc(sizeof *nf);
    uint64_t *arr = kzalloc(want * sizeof *arr), *old = 0;
    if ((!f && !nf) || !arr) {
        kfree(nf);
        kfree(arr);
        return -ENOMEM;
    }
    page_set_reclaimer(pc_reclaim);
    fl = spin_lock_irqsave(&pc_lock);
    if (!(f = pc_find(key))) {
        nf->key = key;
        nf->next = pc_files;
        pc_files = f = nf;
        nf = 0;
    }
    if (f->cap < want) {
        if (f->cap)
            memcpy(arr, f->pa, f->cap * sizeof *arr);
        old = f->pa;
        f->pa = arr;
        f->cap = want;
        arr = 0;
    }
    spin_unlock_irqrestore(&pc_lock, fl);
    kfree(old);
    kfree(arr);
    kfree(nf);
    return 0;
}

/* The file's page at pgoff from the cache, read into it first if it is not
 * there (the file is `size` bytes: past its end the page is zeros), with a
 * reference for the caller (page_release drops it). 0, -ENOMEM, -EIO, or
 * -ERANGE: an offset the cache does not keep. */
static long pc_page(void *file, struct lock_key key, uint64_t pgoff, uint64_t size, uint64_t *out)
{
    if (pgoff >= PC_MAX_PAGES)
        return -ERANGE;
    for (;;) {
        long rc = pc_lookup(key, pgoff, out);
        if (rc != -ENOENT)
            return rc;
        if (pc_room(key, (size_t)pgoff + 1))
            return -ENOMEM;
        void *page = page_alloc(1);
        if (!page)
            return -ENOMEM;
        memset(page, 0, PAGE_SIZE);
        uint64_t at = pgoff * PAGE_SIZE;
        size_t n = at < size ? (size - at < PAGE_SIZE ? (size_t)(size - at) : PAGE_SIZE) : 0;
        if (n && fs_file_pread(file, page, n, at) != (long)n) {
            page_free(page, 1);
            return -EIO;
        }
        uint64_t pa = virt_to_phys(page);
        if (page_cache_add(pa)) {
            page_free(page, 1);
            return -ENOMEM;
        }
        page_share(pa); /* the caller's (the cache's is the first) */
        unsigned long fl = spin_lock_irqsave(&pc_lock);
        struct pc_file *f = pc_find(key);
        int raced = !f || pgoff >= f->cap || f->pa[pgoff];
        if (!raced)
            f->pa[pgoff] = pa;
        spin_unlock_irqrestore(&pc_lock, fl);
        if (!raced) {
            *out = pa;
            return 0;
        }
        page_unshare(pa); /* a read that slept lost to another: use that page */
        page_cache_drop(pa);
    }
}

/* The file's cached pages at offsets [first, last) leave the cache (pages
 * still mapped stay with their mappings); all of them: the entry goes too. */
static void pc_drop(struct lock_key key, uint64_t first, uint64_t last)
{
    struct pc_file *gone = 0;
    unsigned long fl = spin_lock_irqsave(&pc_lock);
    struct pc_file **p = &pc_files;
    while (*p && !same_key((*p)->key, key))
        p = &(*p)->next;
    struct pc_file *f = *p;
    for (uint64_t i = first; f && i < last && i < f->cap; i++)
        if (f->pa[i]) {
            page_cache_drop(f->pa[i]);
            f->pa[i] = 0;
        }
    if (f && first == 0 && last == ~0ull) {
        *p = f->next;
        gone = f;
    }
    spin_unlock_irqrestore(&pc_lock, fl);
    if (gone) {
        kfree(gone->pa);
        kfree(gone);
    }
}

/* page_alloc found no free page: free cached pages nothing maps, at least
 * `want` (a batch) when there are. Any CPU, any context: no heap here. */
static size_t pc_reclaim(size_t want)
{
    size_t goal = want < 64 ? 64 : want, got = 0;
    unsigned long fl = spin_lock_irqsave(&pc_lock);
    for (struct pc_file *f = pc_files; f && got < goal; f = f->next)
        for (size_t i = 0; i < f->cap && got < goal; i++)
            if (f->pa[i] && page_cache_reclaim(f->pa[i])) {
                f->pa[i] = 0;
                got++;
            }
    spin_unlock_irqrestore(&pc_lock, fl);
    return got;
}

static struct spage *spage_find(struct lock_key key, uint64_t pgoff)
{
    for (struct spage *sp = spages; sp; sp = sp->next)
        if (same_key(sp->key, key) && sp->pgoff == pgoff)
            return sp;
    return 0;
}

/* Whether a mapping, or an mmap in progress, still uses the file's shared pages. */
static int key_in_use(struct lock_key key)
{
    for (struct mm *m = all_mms; m; m = m->next)
        for (struct vma *v = m->vmas_; v; v = v->next)
            if (v->fm && v->fm->shared && same_key(v->fm->key, key))
                return 1;
    for (struct pin *p = pins; p; p = p->next)
        if (same_key(p->key, key))
            return 1;
    return 0;
}

/* The file's shared pages in [first, last) back to it (the part below its
 * end). Each page is copied first and written after, and writing sleeps
 * (9P): the list is walked again from the start after every page. */
static void writeback_key(struct lock_key key, void *file, uint64_t first, uint64_t last)
{
    char *bounce = fs_file_writable(file) ? kmalloc(PAGE_SIZE) : 0;
    if (!bounce)
        return;
    uint64_t pass = ++wb_pass;
again:
    for (struct spage *sp = spages; sp; sp = sp->next) {
        if (!same_key(sp->key, key) || sp->pgoff < first || sp->pgoff >= last || sp->pass == pass)
            continue;
        sp->pass = pass;
        uint64_t at = sp->pgoff * PAGE_SIZE, size;
        memcpy(bounce, phys_to_virt(sp->pa), PAGE_SIZE);
        pc_drop(key, sp->pgoff, sp->pgoff + 1); /* the file changes under the cache */
        if (fs_file_size(file, &size) >= 0 && at < size)
            fs_file_pwrite(file, bounce, size - at < PAGE_SIZE ? (size_t)(size - at) : PAGE_SIZE, at);
        goto again;
    }
    kfree(bounce);
}

static void free_spages(struct lock_key key)
{
    for (struct spage **p = &spages; *p;) {
        struct spage *sp = *p;
        if (same_key(sp->key, key)) {
            *p = sp->next;
            page_free(phys_to_virt(sp->pa), 1);
            kfree(sp);
        } else {
            p = &sp->next;
        }
    }
}

/* A piece of a mapping went (or a walk's pin). With the last: a writable
 * shared mapping writes its file's pages back (this sleeps), and when no
 * mapping of the file is left after that, its shared pages are freed --
 * decided after the sleep, so an mmap of the same file meanwhile keeps
 * them. Called with the mapping already out of the list. */
static void fmap_release(struct fmap *fm)
{
    if (!fm || --fm->refs > 0)
        return;
    if (fm->shared) {
        if (fm->wrote)
            writeback_key(fm->key, fm->file, 0, ~0ull);
        if (!key_in_use(fm->key))
            free_spages(fm->key);
    }
    fs_file_put(fm->file);
    kfree(fm);
}

/* Unmap and free, in batches: no other CPU may still reach a page through
 * its TLB when the page goes back to the allocator. A shared file page is
 * freed with its last mapping, after going back to its file. */
static void free_pages_in(const struct vma *v, uintptr_t start, uintptr_t end)
{
    uint64_t batch[64];
    unsigned n = 0;
    int shared = v && v->fm && v->fm->shared, cleared = 0;
    for (uintptr_t va = arch_user_next(start, end); va < end; va = arch_user_next(va + PAGE_SIZE, end)) {
        uint64_t pa = user_unmap(va);
        cleared |= pa != 0;
        if (shared)
            pa = 0; /* the file's page: it stays with the file's other mappings, or goes in fmap_release */
        if (pa)
            batch[n++] = pa;
        if (n == 64) {
            tlb_sync();
            while (n) /* freed unless another process (fork) or the page cache still has it */
                page_release(batch[--n]);
        }
    }
    if (n || cleared) /* a shared page may be freed right after (fmap_release): no CPU may still reach it */
        tlb_sync();
    while (n)
        page_release(batch[--n]);
}

/* free_pages_in over [start, end), mapping by mapping. */
static void free_range(uintptr_t start, uintptr_t end)
{
    for (struct vma *v = vmas; v && v->start < end; v = v->next)
        if (v->end > start)
            free_pages_in(v, v->start > start ? v->start : start, v->end < end ? v->end : end);
}

/* Remove every mapping in [start, end) and free its pages. The mappings
 * leave the list before any of them is released (releasing may sleep), so
 * the list is whole whenever another thread looks. */
static int unmap_range(uintptr_t start, uintptr_t end)
{
    if (split_at(start) || split_at(end))
        return -ENOMEM;
    struct vma *gone = 0;
    for (struct vma **p = &vmas; *p;) {
        struct vma *v = *p;
        if (v->start >= start && v->end <= end) {
            free_pages_in(v, v->start, v->end);
            if (v == brk_vma)
                brk_vma = 0;
            *p = v->next;
            v->next = gone;
            gone = v;
        } else {
            p = &v->next;
        }
    }
    while (gone) {
        struct vma *v = gone;
        gone = v->next;
        fmap_release(v->fm);
        kfree(v);
    }
    return 0;
}

/* A zeroed page at va. Returns 0, -ENOMEM (no page or no page table) or
 * -EEXIST: something is mapped there already (another CPU's fault on the
 * same page won the race, or a large kernel page covers va). */
static int map_zero_page(uintptr_t va, unsigned prot)
{
    void *page = page_alloc(1);
    if (!page)
        return -ENOMEM;
    memset(page, 0, PAGE_SIZE);
    int rc = user_map(va, virt_to_phys(page), map_flags(prot));
    if (rc != 0) {
        page_free(page, 1);
        return rc == -2 ? -EEXIST : -ENOMEM;
    }
    return 0;
}

static int populate(uintptr_t start, uintptr_t end, const void *src, void *file, uint64_t file_off, size_t len);

int vm_populate(uintptr_t start, uintptr_t end, const void *src, size_t len)
{
    return populate(start, end, src, 0, 0, len);
}

/* The same, the bytes read from `file` at `off` (execve: no copy of the
 * whole program first). */
int vm_populate_file(uintptr_t start, uintptr_t end, void *file, uint64_t off, size_t len)
{
    return populate(start, end, 0, file, off, len);
}

static int populate(uintptr_t start, uintptr_t end, const void *src, void *file, uint64_t file_off, size_t len)
{
    struct vma *v = find(start);
    if (!v)
        return -EFAULT;
    const char *s = src;
    struct lock_key key;
    uint64_t fsize = 0;
    int cache = file && fs_file_cacheable(file, &key) && fs_file_size(file, &fsize) >= 0;
    for (uintptr_t va = start & ~(PAGE_SIZE - 1); va < end; va += PAGE_SIZE) {
        /* the part of src that lands in this page (the first page may start mid-page) */
        uintptr_t off = va < start ? start - va : 0;
        size_t done = va + off - start;
        size_t n = done < len ? len - done : 0;
        if (n > PAGE_SIZE - off)
            n = PAGE_SIZE - off;
        uint64_t at = file_off + done, pa;
        /* A whole page of the file: the page cache's, shared (read-only;
         * a write copies it). A segment's first and last pages, partly
         * other bytes (zeros, bss, the neighbour segment's), are copies. */
        if (cache && off == 0 && n == PAGE_SIZE && !(at & (PAGE_SIZE - 1)) && at + PAGE_SIZE <= fsize) {
            long rc = pc_page(file, key, at / PAGE_SIZE, fsize, &pa);
            if (rc == -EIO)
                return -EIO;
            if (rc == 0) {
                uint64_t old = user_unmap(va);
                if (old)
                    page_release(old);
                struct vma *w = find(va) ? find(va) : v;
                if (user_map(va, pa, page_flags(w, pa)) != 0) {
                    page_release(pa);
                    return -ENOMEM;
                }
                continue;
            }
        }
        void *page = page_alloc(1);
        if (!page)
            return -ENOMEM;
        memset(page, 0, PAGE_SIZE);
        if (n && file && fs_file_pread(file, (char *)page + off, n, file_off + done) != (long)n) {
            page_free(page, 1);
            return -EIO;
        }
        if (n && !file)
            memcpy((char *)page + off, s + done, n);
        uint64_t old = user_unmap(va); /* two segments may share a page */
        if (old) {
            memcpy(page, phys_to_virt(old), off); /* keep what the earlier segment put below */
            page_release(old);
        }
        if (user_map(va, virt_to_phys(page), map_flags(find(va) ? find(va)->prot : v->prot)) != 0) {
            page_free(page, 1);
            return -ENOMEM;
        }
    }
    return 0;
}

/* Linux's answer to a program that touches more memory than there is: the
 * OOM killer's SIGKILL (exit status 137), with one line saying why. */
static void __attribute__((noreturn)) out_of_memory(uintptr_t addr)
{
    pr_warn("out of memory: the program touched %p and no page is free (%zu KiB in use; give it more "
           "with --mem): killed (SIGKILL, exit status 137)\n",
           (void *)addr, (pages_total() - pages_free()) * PAGE_SIZE / 1024);
    /* Straight out, not through linux_exit: the fault may be the kernel's own
     * access to program memory with the network lock or a 9P mount held,
     * which flushing sockets and files would take again. */
    hermit_exit(128 + 9);
}

/* A shared mapping's page: the file's page, read when the mapping was made;
 * a page the file did not have then (past its end) starts zeroed. */
static int map_shared_page(struct vma *v, uintptr_t page)
{
    uint64_t pgoff = (v->off + (page - v->start)) / PAGE_SIZE;
    struct spage *sp = spage_find(v->fm->key, pgoff);
    if (!sp) {
        void *mem = page_alloc(1);
        if (!mem || !(sp = kmalloc(sizeof *sp))) {
            if (mem)
                page_free(mem, 1);
            return -ENOMEM;
        }
        memset(mem, 0, PAGE_SIZE);
        *sp = (struct spage){v->fm->key, pgoff, virt_to_phys(mem), 0, spages};
        spages = sp;
    }
    int rc = user_map(page, sp->pa, map_flags(v->prot));
    return rc == -2 ? -EEXIST : rc ? -ENOMEM : 0;
}

/* A write to a page fork left shared: the last owner takes it as it is,
 * the others get a copy. */
static int cow_break(struct vma *v, uintptr_t page, uint64_t pa)
{
    if (!page_shared(pa))
        return arch_user_protect(page, map_flags(v->prot)) == 0 ? 0 : -1;
    void *copy = page_alloc(1);
    if (!copy)
        out_of_memory(page);
    memcpy(copy, phys_to_virt(pa), PAGE_SIZE);
    user_unmap(page);
    if (user_map(page, virt_to_phys(copy), map_flags(v->prot)) != 0) {
        page_free(copy, 1);
        out_of_memory(page);
    }
    tlb_sync(); /* no CPU may go on reading the old page through this address space */
    page_release(pa); /* (another owner has it: fork's other process, or the page cache) */
    return 0;
}

static int fault_locked(uintptr_t addr, int write, int exec)
{
    struct vma *v = find(addr);
    if (!v)
        return -1;
    if ((write && !(v->prot & PROT_WRITE)) || (exec && !(v->prot & PROT_EXEC)) || !v->prot)
        return -1;
    if (v->bus_from && addr >= v->bus_from)
        return -2; /* past the end of the mapped file: SIGBUS */
    uintptr_t page = addr & ~(PAGE_SIZE - 1);
    uint64_t pa;
    unsigned flags;
    if (write && arch_user_query(page, &pa, &flags) == 0 && !(flags & MAP_WRITE))
        return cow_break(v, page, pa);
    int rc = v->fm && v->fm->shared ? map_shared_page(v, page) : map_zero_page(page, v->prot);
    if (rc == -ENOMEM)
        out_of_memory(addr);
    /* Already mapped: another CPU faulted on the same page first (both
     * trapped before either mapped it; the lock made this one wait), or this
     * CPU holds a stale TLB entry from before an mprotect. The entry already
     * has the mapping's permissions (mprotect rewrites every present page
     * under the same lock); refreshing it also flushes this CPU's TLB. A
     * large page here is the kernel's: not the program's to touch. */
    if (rc == -EEXIST)
        return arch_user_query(page, &pa, &flags) == 0 && arch_user_protect(page, page_flags(v, pa)) == 0 ? 0 : -1;
    return rc;
}

int linux_fault(uintptr_t addr, int write, int exec)
{
    kernel_lock(); /* the mappings are the process's: one fault at a time */
    int rc = fault_locked(addr, write, exec);
    kernel_unlock();
    if (rc == 0) /* every fault is served from memory (page cache, a copy, a zero page): minor, as Linux counts */
        current_thread()->minflt++;
    return rc;
}

int user_ok(uintptr_t p, size_t len, unsigned prot)
{
    if (!len)
        return 1;
    if (p + len < p || p + len > USER_LIMIT)
        return 0;
    for (uintptr_t end = p + len; p < end;) {
        struct vma *v = find(p);
        if (!v || (v->prot & prot) != prot || (prot && !v->prot))
            return 0;
        p = v->end;
    }
    return 1;
}

long user_str(uintptr_t p, char *buf, size_t max)
{
    for (size_t i = 0; i < max; i++) {
        if (i == 0 || ((p + i) & (PAGE_SIZE - 1)) == 0)
            if (!user_ok(p + i, 1, PROT_READ))
                return -EFAULT;
        buf[i] = ((const char *)p)[i];
        if (!buf[i])
            return (long)i;
    }
    return -ENAMETOOLONG;
}

void vm_set_brk_base(uintptr_t base)
{
    brk_base = brk_cur = page_up(base);
}

long sys_brk(long addr)
{
    uintptr_t want = (uintptr_t)addr;
    if (want < brk_base)
        return (long)brk_cur;
    uintptr_t old_end = page_up(brk_cur), new_end = page_up(want);
    if (new_end > old_end) {
        if (overlaps(old_end, new_end) || new_end > USER_LIMIT || beyond_ram(new_end - old_end) ||
            arch_user_kernel_mapped(old_end, new_end))
            return (long)brk_cur;
        if (brk_vma && brk_vma->end == old_end) {
            brk_vma->end = new_end;
        } else if (!(brk_vma = insert(old_end, new_end, PROT_READ | PROT_WRITE, "[heap]"))) {
            return (long)brk_cur;
        }
    } else if (new_end < old_end) {
        unmap_range(new_end, old_end);
        brk_vma = find(new_end - 1);
        if (brk_vma && brk_vma->end != new_end)
            brk_vma = 0;
    }
    brk_cur = want;
    return (long)brk_cur;
}

/* First gap of `len` bytes at or above `hint` (or USER_MMAP_BASE). */
static uintptr_t find_gap(uintptr_t hint, size_t len)
{
    uintptr_t at = hint >= USER_MMAP_BASE && hint + len <= USER_STACK_TOP - USER_STACK_MAX ? hint : USER_MMAP_BASE;
    for (;;) {
        for (struct vma *v = vmas; v; v = v->next) {
            if (v->end <= at)
                continue;
            if (v->start >= at + len)
                break;
            at = v->end;
        }
        if (at + len > USER_STACK_TOP - USER_STACK_MAX || at + len < at)
            return 0;
        if (!arch_user_kernel_mapped(at, at + len))
            return at;
        at = (at | ((1ull << 30) - 1)) + 1; /* past the kernel's mapping (aarch64's RAM identity map): next GiB */
    }
}

uintptr_t vm_find_gap(size_t len) { return find_gap(0, page_up(len)); }

/* The loader: the file offset of the mapping at start (a program's segment). */
void vm_set_offset(uintptr_t start, uint64_t off)
{
    struct vma *v = find(start);
    if (v)
        v->off = off;
}

/* The file's pages for a mapping of [off, off + len), read now (this may
 * sleep: nothing of the program's mappings is touched until it is done).
 * Private: pages up to the file's end (past it the mapping is demand-zero),
 * the page cache's (each with a reference) when the file is one it keeps.
 * Shared: every page of the mapping (zero past the end), NULL where the
 * file's shared page exists already. */
static long read_file_pages(void *file, struct lock_key key, int shared, uint64_t off, size_t len, void ***out,
                            size_t *count)
{
    uint64_t size;
    long rc = fs_file_size(file, &size);
    if (rc < 0)
        return rc;
    size_t in_file = off < size ? (size_t)((size - off + PAGE_SIZE - 1) / PAGE_SIZE) : 0;
    size_t n = shared ? len / PAGE_SIZE : in_file < len / PAGE_SIZE ? in_file : len / PAGE_SIZE;
    void **pages = n ? kzalloc(n * sizeof *pages) : 0;
    if (n && !pages)
        return -ENOMEM;
    struct lock_key ckey;
    int cache = !shared && fs_file_cacheable(file, &ckey);
    for (size_t i = 0; i < n; i++) {
        if (shared && spage_find(key, off / PAGE_SIZE + i))
            continue;
        uint64_t pa;
        if (cache && (rc = pc_page(file, ckey, off / PAGE_SIZE + i, size, &pa)) != -ERANGE) {
            if (rc < 0)
                break;
            pages[i] = phys_to_virt(pa);
            continue;
        }
        rc = 0;
        if (!(pages[i] = page_alloc(1))) {
            rc = -ENOMEM;
            break;
        }
        memset(pages[i], 0, PAGE_SIZE);
        uint64_t at = off + i * PAGE_SIZE;
        if (at >= size)
            continue;
        rc = fs_file_pread(file, pages[i], size - at < PAGE_SIZE ? (size_t)(size - at) : PAGE_SIZE, at);
        if (rc < 0)
            break;
        rc = 0;
    }
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            if (pages[i])
                page_release(virt_to_phys(pages[i]));
        kfree(pages);
        return rc;
    }
    *out = pages;
    *count = n;
    return 0;
}

static void free_file_pages(void **pages, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pages[i])
            page_release(virt_to_phys(pages[i])); /* a page of its own, or the cache's reference */
    kfree(pages);
}

static struct pin *pin_key(struct lock_key key)
{
    struct pin *p = kmalloc(sizeof *p);
    if (p) {
        p->key = key;
        p->next = pins;
        pins = p;
    }
    return p;
}

static void unpin(struct pin *pin)
{
    for (struct pin **p = &pins; *p; p = &(*p)->next)
        if (*p == pin) {
            *p = pin->next;
            kfree(pin);
            return;
        }
}

/* Checked in Linux's order: the offset (the architecture's entry), the
 * descriptor, the length, the address, then the kind of mapping and what
 * the file allows. */
long sys_mmap(long addr, long length, long prot, long flags, long fd, long offset)
{
    uintptr_t start = (uintptr_t)addr;
    size_t len = page_up((size_t)length);
    int type = (int)(flags & MAP_TYPE), anon = (flags & MAP_ANONYMOUS) != 0;
    int fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
    if ((offset & (PAGE_SIZE - 1)) || offset < 0)
        return -EINVAL;
    if (!anon && !fs_fd_valid(fd))
        return -EBADF;
    if (!length || (start & (PAGE_SIZE - 1) && fixed))
        return -EINVAL;
    if (!len)
        return -ENOMEM; /* rounds up past the top */
    if (fixed && (start + len > USER_LIMIT || start + len < start || arch_user_kernel_mapped(start, start + len)))
        return -ENOMEM;
    if (fixed && (flags & MAP_FIXED_NOREPLACE) && overlaps(start, start + len))
        return -EEXIST;
    if (type == MAP_SHARED_VALIDATE && !anon && (flags & ~(long)MAP_LEGACY))
        return -EOPNOTSUPP;
    if (type != MAP_SHARED && type != MAP_PRIVATE && (type != MAP_SHARED_VALIDATE || anon))
        return -EINVAL;
    int shared = type != MAP_PRIVATE && !anon; /* the file's pages */
    if (((prot & PROT_WRITE) && type == MAP_PRIVATE && !(flags & MAP_NORESERVE) && beyond_ram(len)) ||
        (type != MAP_PRIVATE && beyond_ram(len))) /* shared pages are real pages, anonymous ones too */
        return -ENOMEM;
    void *file = 0, **pages = 0;
    size_t npages = 0;
    struct lock_key key = {0, 0};
    struct pin *pin = 0;
    long rc = 0;
    if (!(flags & MAP_ANONYMOUS)) {
        if ((rc = fs_mmap_file(fd, shared, (prot & PROT_WRITE) != 0, &file, &key)) < 0)
            return rc;
        if (shared && !(pin = pin_key(key)))
            rc = -ENOMEM;
    }
    /* MAP_FIXED replaces what is there first (Linux too loses it if the
     * mmap then fails); the file's shared pages stay, pinned. */
    if (!rc && fixed && overlaps(start, start + len) && unmap_range(start, start + len))
        rc = -ENOMEM;
    if (!rc && file)
        rc = read_file_pages(file, key, shared, (uint64_t)offset, len, &pages, &npages); /* may sleep */
    struct fmap *fm = !rc && shared ? kzalloc(sizeof *fm) : 0;
    if (!rc && shared && !fm)
        rc = -ENOMEM;
    if (rc) {
    } else if (fixed) {
        if (overlaps(start, start + len))
            rc = -ENOMEM; /* another thread mapped it while the file was read */
    } else {
        start = (start & (PAGE_SIZE - 1)) || start + len > USER_LIMIT || start + len < start ||
                        overlaps(start, start + len) || arch_user_kernel_mapped(start, start + len)
                    ? 0
                    : start;
        if (!(start = find_gap(start, len)))
            rc = -ENOMEM;
    }
    const char *path = file ? fs_file_path(file) : 0; /* /proc/self/maps and core files name it */
    struct vma *v = rc ? 0 : insert(start, start + len, (unsigned)prot & 7, file ? intern(path && path[0] ? path : "file") : 0);
    if (!v) {
        kfree(fm);
        free_file_pages(pages, npages);
        if (pin)
            unpin(pin);
        if (file)
            fs_file_put(file);
        return rc ? rc : -ENOMEM;
    }
    v->shared = type == MAP_SHARED && anon;
    v->locked = (flags & MAP_LOCKED) != 0;
    if (file)
        v->off = (uint64_t)offset;
    uint64_t fsize;
    if (file && fs_file_size(file, &fsize) >= 0) { /* past the file's last page: SIGBUS, as Linux */
        uint64_t in = fsize > (uint64_t)offset ? page_up((size_t)(fsize - (uint64_t)offset)) : 0;
        v->bus_from = in < len ? start + (uintptr_t)in : 0;
        if (v->bus_from == 0 && in < len)
            v->bus_from = start;
    }
    if (fm) {
        *fm = (struct fmap){file, key, 1, fs_file_writable(file), (prot & PROT_WRITE) != 0, 1, 0};
        v->fm = fm;
        v->off = (uint64_t)offset;
    }
    for (size_t i = 0; i < npages; i++) {
        uintptr_t va = start + i * PAGE_SIZE;
        if (v->bus_from && va >= v->bus_from)
            break; /* past the file's end: SIGBUS when touched */
        if (shared) {
            struct spage *sp = spage_find(key, (uint64_t)offset / PAGE_SIZE + i);
            if (!sp && pages[i] && (sp = kzalloc(sizeof *sp))) {
                *sp = (struct spage){key, (uint64_t)offset / PAGE_SIZE + i, virt_to_phys(pages[i]), 0, spages};
                spages = sp;
                pages[i] = 0;
            }
            if (sp)
                user_map(va, sp->pa, map_flags(v->prot));
        } else if (pages[i] && user_map(va, virt_to_phys(pages[i]), page_flags(v, virt_to_phys(pages[i]))) == 0) {
            pages[i] = 0; /* the mapping's now (a cache page: read-only, a write copies it) */
        }
    }
    free_file_pages(pages, npages); /* what is left: pages another mapping had already */
    if (pin)
        unpin(pin);
    if (file && !shared)
        fs_file_put(file); /* a private copy needs the file no more */
    return (long)start;
}

/* Writes through write()/pwrite() reach the file's shared pages too, so a
 * mapping sees them and a later write-back cannot undo them; the page cache
 * lets the pages they change go. */
int vm_file_shared(void) { return spages != 0 || pc_files != 0; }

void vm_file_written(struct lock_key key, uint64_t off, const char *buf, size_t n)
{
    if (n)
        pc_drop(key, off / PAGE_SIZE, (off + n + PAGE_SIZE - 1) / PAGE_SIZE);
    for (struct spage *sp = spages; buf && sp; sp = sp->next) {
        if (!same_key(sp->key, key))
            continue;
        uint64_t at = sp->pgoff * PAGE_SIZE;
        if (at >= off + n || at + PAGE_SIZE <= off)
            continue;
        uint64_t from = at > off ? at : off, to = at + PAGE_SIZE < off + n ? at + PAGE_SIZE : off + n;
        memcpy((char *)phys_to_virt(sp->pa) + (from - at), buf + (from - off), (size_t)(to - from));
    }
}

/* The file's inode goes: none of its pages stay cached. */
void vm_file_evicted(struct lock_key key) { pc_drop(key, 0, ~0ull); }

void vm_file_truncated(struct lock_key key, uint64_t size)
{
    pc_drop(key, size / PAGE_SIZE, ~0ull - 1); /* the page the new end is in, and on */
    for (struct spage *sp = spages; sp; sp = sp->next) {
        uint64_t at = sp->pgoff * PAGE_SIZE;
        if (same_key(sp->key, key) && at + PAGE_SIZE > size) /* past the new end: zeros, as the file reads */
            memset((char *)phys_to_virt(sp->pa) + (size > at ? size - at : 0), 0,
                   PAGE_SIZE - (size > at ? (size_t)(size - at) : 0));
    }
}

/* Write back what the mappings of [start, end) that have been writable
 * hold. Writing sleeps: each mapping is pinned while its file is written and
 * the walk starts again after it (a pass number skips the ones done). */
static void writeback_range(uintptr_t start, uintptr_t end)
{
    uint64_t pass = ++wb_pass;
again:
    for (struct vma *v = vmas; v && v->start < end; v = v->next) {
        struct fmap *fm = v->fm;
        if (v->end <= start || !fm || !fm->shared || !fm->wrote || fm->synced == pass)
            continue;
        fm->synced = pass;
        uint64_t first = (v->off + ((start > v->start ? start : v->start) - v->start)) / PAGE_SIZE;
        uint64_t last = (v->off + ((end < v->end ? end : v->end) - v->start) + PAGE_SIZE - 1) / PAGE_SIZE;
        fm->refs++;
        writeback_key(fm->key, fm->file, first, last);
        fmap_release(fm);
        goto again;
    }
}

/* fsync of a file: what its writable shared mappings hold goes back first. */
void vm_file_sync(struct lock_key key)
{
    uint64_t pass = ++wb_pass;
again:
    for (struct vma *v = vmas; v; v = v->next) {
        struct fmap *fm = v->fm;
        if (!fm || !fm->shared || !fm->wrote || fm->synced == pass || !same_key(fm->key, key))
            continue;
        fm->synced = pass;
        fm->refs++;
        writeback_key(fm->key, fm->file, 0, ~0ull);
        fmap_release(fm);
        goto again;
    }
}

/* Shared pages in [addr, addr + length) back to their files. As Linux:
 * the flags and the alignment (EINVAL), a range past the top (ENOMEM),
 * MS_INVALIDATE on a locked mapping (EBUSY); unmapped parts are skipped
 * and make it ENOMEM after the mapped ones are done. */
long sys_msync(long addr, long length, long flags)
{
    uintptr_t start = (uintptr_t)addr, end = start + page_up((size_t)length);
    if ((flags & ~(long)(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) || (start & (PAGE_SIZE - 1)) ||
        ((flags & MS_ASYNC) && (flags & MS_SYNC)))
        return -EINVAL;
    if (end < start)
        return -ENOMEM;
    if (end == start)
        return 0;
    for (struct vma *v = vmas; (flags & MS_INVALIDATE) && v && v->start < end; v = v->next)
        if (v->end > start && v->locked)
            return -EBUSY;
    int holes = !user_ok(start, end - start, 0);
    writeback_range(start, end);
    return holes ? -ENOMEM : 0;
}

void vm_writeback_all(void)
{
    kernel_lock();
    writeback_range(0, USER_LIMIT); /* (other processes' shared mappings of a file are the same pages) */
    kernel_unlock();
}

long sys_munmap(long addr, long length)
{
    uintptr_t start = (uintptr_t)addr;
    if ((start & (PAGE_SIZE - 1)) || !length || start + length > USER_LIMIT)
        return -EINVAL;
    return unmap_range(start, start + page_up((size_t)length));
}

long sys_mprotect(long addr, long length, long prot)
{
    uintptr_t start = (uintptr_t)addr, end = start + page_up((size_t)length);
    if (start & (PAGE_SIZE - 1))
        return -EINVAL;
    if (!user_ok(start, end - start, 0))
        return -ENOMEM;
    for (struct vma *v = vmas; v && v->start < end; v = v->next)
        if (v->end > start && v->fm && v->fm->shared && (prot & PROT_WRITE) && !v->fm->writable)
            return -EACCES; /* a shared mapping of a file opened read-only */
    if (split_at(start) || split_at(end))
        return -ENOMEM;
    for (struct vma *v = vmas; v && v->start < end; v = v->next) {
        if (v->start < start)
            continue;
        v->prot = (unsigned)prot & 7;
        if (v->fm && (prot & PROT_WRITE))
            v->fm->wrote = 1;
        for (uintptr_t va = arch_user_next(v->start, v->end); va < v->end; va = arch_user_next(va + PAGE_SIZE, v->end)) {
            uint64_t pa;
            unsigned f;
            if (arch_user_query(va, &pa, &f) == 0)
                arch_user_protect(va, page_flags(v, pa));
        }
    }
    tlb_sync();
    return 0;
}

long sys_mremap(long old_addr, long old_size, long new_size, long flags, long new_addr)
{
    uintptr_t old = (uintptr_t)old_addr;
    size_t olen = page_up((size_t)old_size), nlen = page_up((size_t)new_size);
    if ((old & (PAGE_SIZE - 1)) || !nlen || (flags & MREMAP_FIXED))
        return -EINVAL;
    struct vma *v = find(old);
    if (!v || old + olen > v->end)
        return -EFAULT;
    if (nlen <= olen) {
        if (nlen < olen)
            unmap_range(old + nlen, old + olen);
        return (long)old;
    }
    if (v->fm && v->fm->shared)
        return -ENOMEM; /* growing a shared file mapping would need the file read here: not yet */
    if (old + nlen <= USER_LIMIT && old + nlen > old && !overlaps(old + olen, old + nlen) &&
        !arch_user_kernel_mapped(old + olen, old + nlen)) { /* grow in place */
        if (split_at(old + olen))
            return -ENOMEM;
        struct vma *n = insert(old + olen, old + nlen, v->prot, v->name);
        if (!n)
            return -ENOMEM;
        n->shared = v->shared;
        n->locked = v->locked;
        if ((n->fm = v->fm))
            n->fm->refs++;
        if (n->fm || (v->name && v->name[0] == '/'))
            n->off = v->off + (old + olen - v->start); /* a file's mapping: its offset there */
        return (long)old;
    }
    if (!(flags & MREMAP_MAYMOVE))
        return -ENOMEM;
    uintptr_t to = find_gap(0, nlen);
    struct vma *n = to ? insert(to, to + nlen, v->prot, v->name) : 0;
    if (!n)
        return -ENOMEM;
    n->shared = v->shared;
    n->locked = v->locked;
    if ((n->fm = v->fm))
        n->fm->refs++;
    if (n->fm || (v->name && v->name[0] == '/'))
        n->off = v->off + (old - v->start);
    for (size_t off = 0; off < olen; off += PAGE_SIZE) { /* move the pages, not their contents */
        uint64_t pa = user_unmap(old + off);
        if (pa && user_map(to + off, pa, page_flags(v, pa)) != 0)
            return -ENOMEM;
    }
    tlb_sync();
    unmap_range(old, old + olen);
    return (long)to;
}

long sys_madvise(long addr, long length, long advice)
{
    uintptr_t start = (uintptr_t)addr;
    if (start & (PAGE_SIZE - 1))
        return -EINVAL;
    if (!user_ok(start, page_up((size_t)length), 0))
        return -ENOMEM; /* as Linux: part of the range is not mapped */
    if (advice == MADV_DONTNEED || advice == MADV_FREE) /* private anonymous: zero on next touch */
        free_range(start, start + page_up((size_t)length));
    return 0;
}

/* A word's futex key when it lies in a shared mapping (anonymous
 * MAP_SHARED, or a file's shared pages): the physical address of the word,
 * the same in every process that maps the page, where a private mapping's
 * futex is its address space's. 1 with *key set; 0: not a shared mapping;
 * -1: shared but the page is not mapped here yet (touch it, ask again). */
int vm_futex_key(uintptr_t addr, uint64_t *key)
{
    kernel_lock();
    struct vma *v = find(addr);
    uint64_t pa;
    unsigned flags;
    int rc = 0;
    if (v && (v->shared || (v->fm && v->fm->shared)))
        rc = arch_user_query(addr & ~(uintptr_t)(PAGE_SIZE - 1), &pa, &flags) ? -1 : 1;
    if (rc == 1)
        *key = pa + (addr & (PAGE_SIZE - 1));
    kernel_unlock();
    return rc;
}

/* Overwrite the start of the page at addr, if it is still the mapping the
 * kernel made under `name` ([vvar]: a program may have unmapped it or
 * mapped something else there): 0, or -1. The page may be shared with a
 * fork's other side, which wants the same bytes. */
int vm_rewrite_named(uintptr_t addr, const char *name, const void *src, size_t len)
{
    kernel_lock();
    struct vma *v = find(addr);
    uint64_t pa;
    unsigned flags;
    int rc = -1;
    if (v && v->start == addr && v->name && !strcmp(v->name, name) && !v->fm && len <= PAGE_SIZE &&
        !arch_user_query(addr, &pa, &flags)) {
        memcpy(phys_to_virt(pa), src, len);
        rc = 0;
    }
    kernel_unlock();
    return rc;
}

/* The calling process's mappings in order (a core dump): fn(start, end,
 * prot, arg) for each; a non-zero answer stops the walk. The caller holds
 * the big lock (the list does not change under it). */
int vm_each(int (*fn)(uintptr_t start, uintptr_t end, unsigned prot, const char *name, uint64_t off, void *arg),
            void *arg)
{
    for (struct vma *v = vmas; v; v = v->next) {
        int rc = fn(v->start, v->end, v->prot, v->name, v->off, arg);
        if (rc)
            return rc;
    }
    return 0;
}

size_t vm_describe(char *buf, size_t size)
{
    size_t n = 0;
    for (struct vma *v = vmas; v && n < size; v = v->next) {
        int w = snprintk(buf + n, size - n, "%lx-%lx %c%c%c%c %08lx 00:00 0 %s\n", (unsigned long)v->start,
                         (unsigned long)v->end, v->prot & PROT_READ ? 'r' : '-', v->prot & PROT_WRITE ? 'w' : '-',
                         v->prot & PROT_EXEC ? 'x' : '-', v->shared || (v->fm && v->fm->shared) ? 's' : 'p',
                         (unsigned long)(v->name && v->name[0] == '/' ? v->off : 0), v->name ? v->name : "");
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return n < size ? n : size;
}

/* A fault the program dies of, explained where its address says more than
 * "not mapped": a stack overflow into the gap below the main stack or into
 * the guard page a C library put below a thread's stack. */
void linux_explain_fault(uintptr_t addr)
{
    kernel_lock();
    struct vma *stack = 0, *guard = find(addr);
    for (struct vma *v = vmas; v; v = v->next)
        if (v->name && !strcmp(v->name, "[stack]"))
            stack = v;
    if (!guard && stack && addr < stack->start && addr >= stack->start - (1ull << 20))
        pr_warn("stack overflow: %p is in the guard gap below the main thread's stack %lx-%lx "
               "(RLIMIT_STACK %llu KiB)\n",
               (void *)addr, (unsigned long)stack->start, (unsigned long)stack->end, USER_STACK_MAX / 1024);
    else if (guard && !guard->prot && guard->next && guard->next->start == guard->end &&
             (guard->next->prot & PROT_WRITE) && guard->end - guard->start <= (1ull << 20))
        pr_warn("stack overflow: %p is in the guard page %lx-%lx below a thread's stack %lx-%lx\n",
               (void *)addr, (unsigned long)guard->start, (unsigned long)guard->end,
               (unsigned long)guard->next->start, (unsigned long)guard->next->end);
    kernel_unlock();
}

/* --- processes: fork copies the memory, exec empties it, exit frees it --- */
struct fork_state {
    int failed;
    uint64_t pages; /* the child's resident pages */
};

static unsigned fork_page(uintptr_t va, uint64_t pa, unsigned flags, void *arg)
{
    struct vma *v = find(va);
    if (!v)
        return ~0u;
    if (v->fm && v->fm->shared) {
        ((struct fork_state *)arg)->pages++;
        return flags; /* the file's page: both map it */
    }
    if (page_share(pa)) {
        ((struct fork_state *)arg)->failed = 1;
        return ~0u;
    }
    ((struct fork_state *)arg)->pages++;
    return page_flags(v, pa); /* private and writable: read-only in both until written */
}

static unsigned no_page(uintptr_t va, uint64_t pa, unsigned flags, void *arg) { return ~0u; }

#define RESERVE_FORK_PAGES 256 /* what a fork leaves free after making shared pages: its page tables' */

/* A copy of the calling process's memory for a child (fork): its own
 * address space, the pages shared copy-on-write. NULL: no memory. */
struct mm *vm_fork(void)
{
    struct mm *parent = mm(), *m = kzalloc(sizeof *m);
    if (!m)
        return 0;
    struct vma **tail = &m->vmas_;
    int bad = 0;
    size_t untouched = 0; /* pages of anonymous MAP_SHARED mappings to make now (below): there must be room */
    for (struct vma *v = parent->vmas_; v; v = v->next)
        for (uintptr_t va = v->shared ? v->start : v->end; va < v->end; va += PAGE_SIZE) {
            uint64_t pa;
            unsigned flags;
            untouched += arch_user_query(va, &pa, &flags) != 0;
        }
    if (untouched && untouched + RESERVE_FORK_PAGES > pages_free()) {
        kfree(m);
        return 0;
    }
    for (struct vma *v = parent->vmas_; v && !bad; v = v->next) {
        /* Anonymous MAP_SHARED has no object behind it (Linux's shmem file)
         * but its pages: one neither process has touched yet would become
         * a zero page of each's. Mapped now, so that both share it. */
        for (uintptr_t va = v->start; v->shared && va < v->end && !bad; va += PAGE_SIZE) {
            uint64_t pa;
            unsigned flags;
            if (arch_user_query(va, &pa, &flags) && map_zero_page(va, v->prot) == -ENOMEM)
                bad = 1;
        }
        struct vma *n = bad ? 0 : kmalloc(sizeof *n);
        if (!n) {
            bad = 1;
            break;
        }
        *n = *v;
        n->next = 0;
        n->locked = 0; /* memory locks are not inherited */
        if (n->fm)
            n->fm->refs++;
        if (v == parent->brk_vma_)
            m->brk_vma_ = n;
        *tail = n;
        tail = &n->next;
    }
    m->brk_base_ = parent->brk_base_;
    m->brk_cur_ = parent->brk_cur_;
    struct fork_state st = {0};
    if (!bad)
        m->root = arch_as_fork(fork_page, &st);
    if (bad || !m->root || st.failed) {
        if (m->root) { /* (its pages' shares were taken: give them back) */
            uint64_t here = arch_as_current(), rss = parent->rss; /* (counted as the caller's: not) */
            arch_as_switch(m->root);
            for (struct vma *v = m->vmas_; v; v = v->next)
                free_pages_in(v, v->start, v->end);
            arch_as_switch(here);
            parent->rss = rss;
            arch_as_free(m->root);
        }
        while (m->vmas_) {
            struct vma *v = m->vmas_;
            m->vmas_ = v->next;
            fmap_release(v->fm);
            kfree(v);
        }
        kfree(m);
        return 0;
    }
    tlb_sync(); /* the parent's pages are read-only now */
    m->rss = m->hwm = st.pages; /* (Linux's child starts its high-water mark at what it inherits too) */
    m->users = 1;
    m->next = all_mms;
    all_mms = m;
    return m;
}

/* vfork's child: the parent's memory itself. */
struct mm *vm_share(struct mm *m)
{
    m->users++;
    return m;
}

uint64_t vm_root(struct mm *m) { return m->root; }

/* Every mapping of the calling process goes (its address space stays). */
/* --profile: the process's executable file mappings (its libraries) go
 * into the profile before they go, so their samples can be named. */
static int note_map(uintptr_t start, uintptr_t end, unsigned prot, const char *name, uint64_t off, void *arg)
{
    if ((prot & PROT_EXEC) && name && name[0] == '/')
        profile_mapping(start, end, off, name);
    return 0;
}

static void note_maps(void)
{
    if (profile_active() && current_process() && current_process()->mm)
        vm_each(note_map, 0);
}

static void unmap_all(void)
{
    note_maps();
    unmap_range(0, USER_LIMIT);
    brk_base = brk_cur = 0;
    brk_vma = 0;
}

static void forget(struct mm *m)
{
    for (struct mm **p = &all_mms; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
}

/* exec: the calling process's memory, emptied for the new program. A
 * memory shared with a vfork parent stays the parent's: the child gets an
 * empty one of its own. 0, or -ENOMEM. */
int vm_exec(struct process *p)
{
    struct mm *m = p->mm;
    if (m->hwm * (PAGE_SIZE / 1024) > p->maxrss_kb) /* the program's high-water mark outlives it, as on Linux */
        p->maxrss_kb = m->hwm * (PAGE_SIZE / 1024);
    if (m->users == 1) {
        unmap_all();
        m->hwm = m->rss;
        return 0;
    }
    struct mm *n = kzalloc(sizeof *n);
    if (!n || !(n->root = arch_as_fork(no_page, 0))) {
        kfree(n);
        return -ENOMEM;
    }
    n->users = 1;
    n->next = all_mms;
    all_mms = n;
    m->users--;
    p->mm = n;
    current_thread()->as_root = n->root;
    arch_as_switch(n->root);
    return 0;
}

/* The calling process is done with its memory (its last thread exits):
 * what its shared file mappings hold goes back to the files, its pages and
 * tables are freed; the thread goes on in the kernel's address space. */
void vm_exit(struct process *p)
{
    struct mm *m = p->mm;
    struct thread *t = current_thread();
    if (--m->users == 0) {
        writeback_range(0, USER_LIMIT);
        unmap_all();
        forget(m);
    }
    t->as_root = kernel_as;
    arch_as_switch(kernel_as);
    if (m->users == 0) {
        if (m->root != kernel_as)
            arch_as_free(m->root);
        if (m != &first_mm)
            kfree(m);
    }
}
