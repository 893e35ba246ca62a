/* virtio over PCI (virtio 1.2, 4.1: the modern, capability-described
 * layout). A PCI driver for 1af4:1000-107f: it finds the common, notify, ISR
 * and device-config regions through the vendor capabilities, gives the
 * function one MSI-X vector, and hands the device to the virtio core. */
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/pci.h>
#include <hermit/string.h>
#include <hermit/virtio.h>

#define CAP_VENDOR 0x09
enum { CFG_COMMON = 1, CFG_NOTIFY = 2, CFG_ISR = 3, CFG_DEVICE = 4 };

/* struct virtio_pci_common_cfg */
enum {
    DEVICE_FEATURE_SELECT = 0x00, DEVICE_FEATURE = 0x04, DRIVER_FEATURE_SELECT = 0x08, DRIVER_FEATURE = 0x0c,
    CONFIG_MSIX_VECTOR = 0x10, NUM_QUEUES = 0x12, DEVICE_STATUS = 0x14, QUEUE_SELECT = 0x16, QUEUE_SIZE = 0x18,
    QUEUE_MSIX_VECTOR = 0x1a, QUEUE_ENABLE = 0x1c, QUEUE_NOTIFY_OFF = 0x1e, QUEUE_DESC = 0x20,
    QUEUE_DRIVER = 0x28, QUEUE_DEVICE = 0x30,
};
#define NO_VECTOR 0xffff

/* d->base: common config; aux[0] notify base, aux[1] ISR, aux[2] device
 * config; aux[3] set: the function interrupts through INTx, not MSI-X. */
static volatile uint8_t *common(struct virtio_dev *d) { return (volatile uint8_t *)d->base; }
static void w8(struct virtio_dev *d, unsigned o, uint8_t v) { *(volatile uint8_t *)(common(d) + o) = v; }
static void w16(struct virtio_dev *d, unsigned o, uint16_t v) { *(volatile uint16_t *)(common(d) + o) = v; }
static void w32(struct virtio_dev *d, unsigned o, uint32_t v) { *(volatile uint32_t *)(common(d) + o) = v; }
static uint8_t r8(struct virtio_dev *d, unsigned o) { return *(volatile uint8_t *)(common(d) + o); }
static uint16_t r16(struct virtio_dev *d, unsigned o) { return *(volatile uint16_t *)(common(d) + o); }
static uint32_t r32(struct virtio_dev *d, unsigned o) { return *(volatile uint32_t *)(common(d) + o); }
static void w64(struct virtio_dev *d, unsigned o, uint64_t v)
{
    w32(d, o, (uint32_t)v);
    w32(d, o + 4, (uint32_t)(v >> 32));
}

static uint64_t get_features(struct virtio_dev *d)
{
    w32(d, DEVICE_FEATURE_SELECT, 1);
    uint64_t hi = r32(d, DEVICE_FEATURE);
    w32(d, DEVICE_FEATURE_SELECT, 0);
    return hi << 32 | r32(d, DEVICE_FEATURE);
}

static void set_features(struct virtio_dev *d, uint64_t f)
{
    w32(d, DRIVER_FEATURE_SELECT, 1);
    w32(d, DRIVER_FEATURE, (uint32_t)(f >> 32));
    w32(d, DRIVER_FEATURE_SELECT, 0);
    w32(d, DRIVER_FEATURE, (uint32_t)f);
}

static uint8_t get_status(struct virtio_dev *d) { return r8(d, DEVICE_STATUS); }
static void set_status(struct virtio_dev *d, uint8_t s) { w8(d, DEVICE_STATUS, s); }
static uint8_t config_read8(struct virtio_dev *d, unsigned off) { return *(volatile uint8_t *)(d->aux[2] + off); }

static unsigned queue_max(struct virtio_dev *d, unsigned index)
{
    if (index >= r16(d, NUM_QUEUES))
        return 0;
    w16(d, QUEUE_SELECT, (uint16_t)index);
    return r16(d, QUEUE_ENABLE) ? 0 : r16(d, QUEUE_SIZE);
}

static int queue_enable(struct virtio_dev *d, struct virtq *vq)
{
    w16(d, QUEUE_SELECT, (uint16_t)vq->index);
    w16(d, QUEUE_SIZE, vq->size);
    if (!d->aux[3]) {
        w16(d, QUEUE_MSIX_VECTOR, 0); /* every queue raises the function's one vector */
        if (r16(d, QUEUE_MSIX_VECTOR) != 0)
            return -1;
    }
    w64(d, QUEUE_DESC, vq->desc_pa);
    w64(d, QUEUE_DRIVER, vq->avail_pa);
    w64(d, QUEUE_DEVICE, vq->used_pa);
    vq->notify_addr = d->aux[0] + (uintptr_t)r16(d, QUEUE_NOTIFY_OFF) * d->notify_mul;
    w16(d, QUEUE_ENABLE, 1);
    return 0;
}

static void notify(struct virtio_dev *d, struct virtq *vq) { *(volatile uint16_t *)vq->notify_addr = (uint16_t)vq->index; }

static unsigned interrupt_ack(struct virtio_dev *d)
{
    if (d->aux[3])
        return *(volatile uint8_t *)d->aux[1]; /* INTx: reading the ISR status lowers the line */
    return 1; /* MSI-X: nothing to acknowledge */
}

static const struct virtio_transport pci_transport = {
    "virtio-pci", get_features, set_features, get_status, set_status, config_read8,
    queue_max, queue_enable, notify, interrupt_ack,
};

static int virtio_pci_probe(struct pci_dev *p)
{
    struct virtio_dev *d = kzalloc(sizeof *d);
    if (!d)
        return -1;
    d->t = &pci_transport;
    /* 1af4:1040+N is device type N; transitional 1000-103f name it in the subsystem ID */
    d->device_id = p->device >= 0x1040 ? (uint32_t)(p->device - 0x1040) : pci_read16(p, 0x2e);
    memcpy(d->where, p->where, sizeof p->where);
    for (unsigned cap = pci_find_cap(p, CAP_VENDOR, 0); cap; cap = pci_find_cap(p, CAP_VENDOR, cap)) {
        uint8_t type = pci_read8(p, cap + 3), bar = pci_read8(p, cap + 4);
        uint32_t off = pci_read32(p, cap + 8);
        if (type < CFG_COMMON || type > CFG_DEVICE || (type == CFG_COMMON ? d->base : d->aux[type == CFG_NOTIFY ? 0 : type - 2]))
            continue; /* the first of each kind */
        volatile uint8_t *base = pci_map_bar(p, bar);
        if (!base)
            continue;
        uintptr_t at = (uintptr_t)(base + off);
        if (type == CFG_COMMON)
            d->base = at;
        else if (type == CFG_NOTIFY) {
            d->aux[0] = at;
            d->notify_mul = pci_read32(p, cap + 16);
        } else
            d->aux[type - 2] = at; /* ISR -> aux[1], device config -> aux[2] */
    }
    if (!d->base || !d->aux[0]) {
        pr_info("virtio: %s (%s) is a legacy-only virtio-pci device; hermitcore drives virtio 1.x "
                "(QEMU: disable-legacy=on)\n", virtio_device_name(d->device_id), p->where);
        kfree(d);
        return -1;
    }
    pci_enable(p);
    if (pci_enable_msix(p, &d->irq)) {
        /* INTx through the interrupt controller, where the host bridge says the
         * interrupt-line register names its input (i440fx); not where it does
         * not (q35 routes to IOAPIC pins the register does not name). */
        uint8_t line = pci_read8(p, 0x3c), pin = pci_read8(p, 0x3d);
        if (!p->host->intx_line_is_irq || !pin || !line || line == 0xff || !d->aux[1]) {
            pr_info("virtio: %s at %s: no MSI-X, and no INTx route this kernel can use\n",
                    virtio_device_name(d->device_id), p->where);
            kfree(d);
            return -1;
        }
        d->irq = line;
        d->aux[3] = 1;
        pr_info("virtio: %s at %s: no MSI-X; INT%c on IRQ %u\n", virtio_device_name(d->device_id), p->where,
                'A' + pin - 1, line);
    } else {
        w16(d, CONFIG_MSIX_VECTOR, NO_VECTOR);
    }
    virtio_device_found(d);
    return 0;
}

static const struct pci_driver virtio_pci_driver = {"virtio-pci", 0x1af4, 0x1000, 0x107f, virtio_pci_probe};

static void virtio_pci_register(void) { pci_driver_register(&virtio_pci_driver); }
HERMIT_INIT(HERMIT_INIT_DRIVER, virtio_pci_register);
