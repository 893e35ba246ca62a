/* virtio core: driver registry, feature negotiation and the split virtqueue,
 * shared by every transport and device driver (see hermit/virtio.h). */
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/mm.h>
#include <hermit/string.h>
#include <hermit/virtio.h>

#define MAX_DRIVERS 16
static const struct virtio_driver *drivers[MAX_DRIVERS];
static unsigned ndrivers;

void virtio_driver_register(const struct virtio_driver *drv)
{
    if (ndrivers < MAX_DRIVERS)
        drivers[ndrivers++] = drv;
}

const char *virtio_device_name(uint32_t id)
{
    switch (id) {
    case VIRTIO_ID_NET: return "network card";
    case VIRTIO_ID_BLOCK: return "block device";
    case VIRTIO_ID_CONSOLE: return "console";
    case VIRTIO_ID_ENTROPY: return "entropy source";
    case 5: return "memory balloon";
    case VIRTIO_ID_9P: return "9P transport";
    case 16: return "GPU";
    case 18: return "input device";
    case 19: return "vsock";
    case VIRTIO_ID_FS: return "file system";
    default: return "device";
    }
}

void virtio_device_found(struct virtio_dev *d)
{
    for (unsigned i = 0; i < ndrivers; i++) {
        if (drivers[i]->device_id != d->device_id)
            continue;
        if (drivers[i]->probe(d) == 0)
            pr_info("virtio: %s (%s) at %s: driver %s\n", virtio_device_name(d->device_id),
                    d->t->name, d->where, drivers[i]->name);
        boot_stage(drivers[i]->name); /* hermit.boot-times: each device's time within its transport's probe */
        return;
    }
    pr_info("virtio: %s (id %u) at %s -- no driver in this image\n", virtio_device_name(d->device_id),
            (unsigned)d->device_id, d->where);
}

uint64_t virtio_negotiate(struct virtio_dev *d, uint64_t wanted)
{
    d->t->set_status(d, 0); /* reset */
    while (d->t->get_status(d) != 0)
        arch_cpu_relax();
    d->t->set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    d->t->set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint64_t offered = d->t->get_features(d);
    uint64_t accepted = offered & (wanted | VIRTIO_F_VERSION_1);
    if (!(accepted & VIRTIO_F_VERSION_1)) {
        pr_info("virtio: %s is a legacy (pre-1.0) device; hermitcore drives virtio 1.x only\n", d->where);
        d->t->set_status(d, VIRTIO_STATUS_FAILED);
        return 0;
    }
    d->t->set_features(d, accepted);
    d->t->set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (!(d->t->get_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
        pr_info("virtio: %s refused features %#llx\n", d->where, (unsigned long long)accepted);
        d->t->set_status(d, VIRTIO_STATUS_FAILED);
        return 0;
    }
    return accepted;
}

void virtio_driver_ok(struct virtio_dev *d)
{
    d->t->set_status(d, d->t->get_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

uint32_t virtio_config_read(struct virtio_dev *d, unsigned offset, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)d->t->config_read8(d, offset + i) << (8 * i);
    return v;
}

static size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

struct virtq *virtq_create(struct virtio_dev *d, unsigned index, unsigned max_size)
{
    unsigned n = d->t->queue_max(d, index);
    if (!n)
        return 0;
    if (n > max_size)
        n = max_size;
    while (n & (n - 1)) /* a power of two */
        n &= n - 1;
    size_t used_off = align_up(16 * n + 6 + 2 * n, 64);
    size_t bytes = used_off + 6 + 8 * n;
    size_t pages = align_up(bytes, PAGE_SIZE) / PAGE_SIZE;
    uint8_t *mem = page_alloc(pages);
    struct virtq *vq = kzalloc(sizeof *vq);
    void **cookies = kzalloc(n * sizeof(void *));
    if (!mem || !vq || !cookies) {
        if (mem)
            page_free(mem, pages);
        kfree(vq);
        kfree(cookies);
        return 0;
    }
    memset(mem, 0, pages * PAGE_SIZE);
    vq->dev = d;
    vq->index = index;
    vq->size = (uint16_t)n;
    vq->desc = (struct virtq_desc *)mem;
    vq->avail = (struct virtq_avail *)(mem + 16 * n);
    vq->used = (struct virtq_used *)(mem + used_off);
    vq->cookies = cookies;
    vq->desc_pa = virt_to_phys(vq->desc);
    vq->avail_pa = virt_to_phys(vq->avail);
    vq->used_pa = virt_to_phys(vq->used);
    for (unsigned i = 0; i < n; i++)
        vq->desc[i].next = (uint16_t)(i + 1);
    vq->free_head = 0;
    vq->num_free = (uint16_t)n;
    if (d->t->queue_enable(d, vq)) {
        pr_info("virtio: %s: queue %u could not be enabled\n", d->where, index);
        return 0;
    }
    return vq;
}

int virtq_add(struct virtq *vq, const struct virtq_seg *segs, unsigned out, unsigned in, void *cookie)
{
    unsigned n = out + in;
    if (!n || n > vq->num_free)
        return -1;
    uint16_t head = vq->free_head, i = head, last = head;
    for (unsigned k = 0; k < n; k++) {
        struct virtq_desc *dsc = &vq->desc[i];
        dsc->addr = virt_to_phys(segs[k].addr);
        dsc->len = segs[k].len;
        dsc->flags = (uint16_t)((k < n - 1 ? VIRTQ_DESC_F_NEXT : 0) | (k >= out ? VIRTQ_DESC_F_WRITE : 0));
        last = i;
        i = dsc->next;
    }
    vq->free_head = vq->desc[last].next;
    vq->num_free = (uint16_t)(vq->num_free - n);
    vq->cookies[head] = cookie;
    uint16_t idx = vq->avail->idx;
    vq->avail->ring[idx & (vq->size - 1)] = head;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* descriptors before the index */
    __atomic_store_n(&vq->avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
    return 0;
}

void virtq_kick(struct virtq *vq)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the index before the device looks at the flags */
    if (!(__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) & 1 /* VIRTQ_USED_F_NO_NOTIFY */))
        vq->dev->t->notify(vq->dev, vq);
}

void *virtq_get(struct virtq *vq, uint32_t *len)
{
    if (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) == vq->last_used)
        return 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    struct virtq_used_elem *e = &vq->used->ring[vq->last_used & (vq->size - 1)];
    uint16_t head = (uint16_t)e->id, i = head;
    if (len)
        *len = e->len;
    vq->last_used++;
    void *cookie = vq->cookies[head];
    unsigned n = 1;
    while (vq->desc[i].flags & VIRTQ_DESC_F_NEXT) {
        i = vq->desc[i].next;
        n++;
    }
    vq->desc[i].next = vq->free_head;
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + n);
    return cookie;
}
