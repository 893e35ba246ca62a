/* virtio-mmio transport (virtio 1.2, 4.2.2: the "version 2" register
 * layout). Probes every slot the board's device tree lists and passes the
 * devices it finds to the virtio core. */
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/heap.h>
#include <hermit/string.h>
#include <hermit/virtio.h>
#include <stdint.h>

struct slot {
    uintptr_t base;
    unsigned irq;
};
#include "slots.h" /* generated: static const struct slot slots[] */

enum {
    MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, DEVICE_FEATURES = 0x010, DEVICE_FEATURES_SEL = 0x014,
    DRIVER_FEATURES = 0x020, DRIVER_FEATURES_SEL = 0x024, QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034,
    QUEUE_NUM = 0x038, QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050, INTERRUPT_STATUS = 0x060,
    INTERRUPT_ACK = 0x064, STATUS = 0x070, QUEUE_DESC_LOW = 0x080, QUEUE_DESC_HIGH = 0x084,
    QUEUE_DRIVER_LOW = 0x090, QUEUE_DRIVER_HIGH = 0x094, QUEUE_DEVICE_LOW = 0x0a0, QUEUE_DEVICE_HIGH = 0x0a4,
    CONFIG = 0x100,
};

static uint32_t rd(struct virtio_dev *d, unsigned off) { return *(volatile uint32_t *)(d->base + off); }
static void wr(struct virtio_dev *d, unsigned off, uint32_t v) { *(volatile uint32_t *)(d->base + off) = v; }

static uint64_t get_features(struct virtio_dev *d)
{
    wr(d, DEVICE_FEATURES_SEL, 1);
    uint64_t hi = rd(d, DEVICE_FEATURES);
    wr(d, DEVICE_FEATURES_SEL, 0);
    return hi << 32 | rd(d, DEVICE_FEATURES);
}

static void set_features(struct virtio_dev *d, uint64_t f)
{
    wr(d, DRIVER_FEATURES_SEL, 1);
    wr(d, DRIVER_FEATURES, (uint32_t)(f >> 32));
    wr(d, DRIVER_FEATURES_SEL, 0);
    wr(d, DRIVER_FEATURES, (uint32_t)f);
}

static uint8_t get_status(struct virtio_dev *d) { return (uint8_t)rd(d, STATUS); }
static void set_status(struct virtio_dev *d, uint8_t s) { wr(d, STATUS, s); }
static uint8_t config_read8(struct virtio_dev *d, unsigned off) { return *(volatile uint8_t *)(d->base + CONFIG + off); }

static unsigned queue_max(struct virtio_dev *d, unsigned index)
{
    wr(d, QUEUE_SEL, index);
    return rd(d, QUEUE_READY) ? 0 : rd(d, QUEUE_NUM_MAX);
}

static int queue_enable(struct virtio_dev *d, struct virtq *vq)
{
    wr(d, QUEUE_SEL, vq->index);
    wr(d, QUEUE_NUM, vq->size);
    wr(d, QUEUE_DESC_LOW, (uint32_t)vq->desc_pa);
    wr(d, QUEUE_DESC_HIGH, (uint32_t)(vq->desc_pa >> 32));
    wr(d, QUEUE_DRIVER_LOW, (uint32_t)vq->avail_pa);
    wr(d, QUEUE_DRIVER_HIGH, (uint32_t)(vq->avail_pa >> 32));
    wr(d, QUEUE_DEVICE_LOW, (uint32_t)vq->used_pa);
    wr(d, QUEUE_DEVICE_HIGH, (uint32_t)(vq->used_pa >> 32));
    wr(d, QUEUE_READY, 1);
    return rd(d, QUEUE_READY) == 1 ? 0 : -1;
}

static void notify(struct virtio_dev *d, struct virtq *vq) { wr(d, QUEUE_NOTIFY, vq->index); }

static unsigned interrupt_ack(struct virtio_dev *d)
{
    uint32_t s = rd(d, INTERRUPT_STATUS);
    if (s)
        wr(d, INTERRUPT_ACK, s);
    return s;
}

static const struct virtio_transport mmio = {
    "virtio-mmio", get_features, set_features, get_status, set_status, config_read8,
    queue_max, queue_enable, notify, interrupt_ack,
};

static void virtio_mmio_probe(void)
{
    for (unsigned i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        volatile uint32_t *r = (volatile uint32_t *)slots[i].base;
        if (r[MAGIC / 4] != 0x74726976 /* "virt" */)
            continue;
        uint32_t id = r[DEVICE_ID / 4];
        if (!id)
            continue; /* an empty slot */
        struct virtio_dev *d = kzalloc(sizeof *d);
        if (!d)
            return;
        d->t = &mmio;
        d->base = slots[i].base;
        d->irq = slots[i].irq;
        d->device_id = id;
        snprintk(d->where, sizeof d->where, "virtio-mmio@0x%lx", (unsigned long)slots[i].base);
        if (r[VERSION / 4] != 2) {
            pr_info("virtio: %s at %s uses the legacy virtio-mmio layout (version %u); hermitcore needs "
                    "version 2 (QEMU: -global virtio-mmio.force-legacy=false)\n",
                    virtio_device_name(id), d->where, (unsigned)r[VERSION / 4]);
            kfree(d);
            continue;
        }
        virtio_device_found(d);
    }
}
HERMIT_INIT(HERMIT_INIT_DEVICE, virtio_mmio_probe);
