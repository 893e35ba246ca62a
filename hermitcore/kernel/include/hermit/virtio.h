/* virtio 1.x: the device model shared by every transport (virtio-mmio,
 * virtio-pci) and every device driver (net, console, 9p...). A transport
 * plugin finds devices and fills a struct virtio_dev with its ops; a driver
 * plugin registers a struct virtio_driver for a device ID; virtio.c binds the
 * two and implements the split virtqueue once for all of them. */
#pragma once
#include <hermit/spinlock.h>
#include <stddef.h>
#include <stdint.h>

/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_F_RING_EVENT_IDX (1ull << 29)

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_ENTROPY 4
#define VIRTIO_ID_9P 9
#define VIRTIO_ID_FS 26

/* The split ring (virtio 1.2, 2.7). */
struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[];
};

struct virtio_dev;

struct virtq {
    struct virtio_dev *dev;
    unsigned index;
    uint16_t size;
    uint16_t free_head, num_free, last_used;
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    struct virtq_used *used;
    void **cookies;
    uint64_t desc_pa, avail_pa, used_pa;
    uintptr_t notify_addr; /* transport data: where a kick is written */
    uint32_t notify_data;
};

/* What a transport provides. Configuration space is read bytewise. */
struct virtio_transport {
    const char *name;
    uint64_t (*get_features)(struct virtio_dev *d);
    void (*set_features)(struct virtio_dev *d, uint64_t features);
    uint8_t (*get_status)(struct virtio_dev *d);
    void (*set_status)(struct virtio_dev *d, uint8_t status);
    uint8_t (*config_read8)(struct virtio_dev *d, unsigned offset);
    unsigned (*queue_max)(struct virtio_dev *d, unsigned index);       /* 0: no such queue */
    int (*queue_enable)(struct virtio_dev *d, struct virtq *vq);      /* 0 or -1 */
    void (*notify)(struct virtio_dev *d, struct virtq *vq);
    unsigned (*interrupt_ack)(struct virtio_dev *d); /* read and acknowledge: bit 0 queue, bit 1 config */
};

struct virtio_dev {
    const struct virtio_transport *t;
    uintptr_t base;     /* transport registers */
    uintptr_t aux[4];   /* transport-specific (virtio-pci: common/notify/isr/device regions) */
    uint32_t notify_mul;
    unsigned irq;       /* the platform IRQ the transport raises, or ~0u */
    uint32_t device_id;
    char where[40];     /* "virtio-mmio@0xfeb00e00", "pci 00:02.0" */
    void *driver_data;
};

struct virtio_driver {
    uint32_t device_id;
    const char *name;
    /* Set the device up (virtio_negotiate, queues, virtio_driver_ok).
     * Returns 0, or -1 after logging why. */
    int (*probe)(struct virtio_dev *d);
};

/* Drivers register at HERMIT_INIT_DRIVER, before transports probe. */
void virtio_driver_register(const struct virtio_driver *drv);
/* A transport found a device: bind it to its driver or report it once. */
void virtio_device_found(struct virtio_dev *d);
const char *virtio_device_name(uint32_t id);

/* Reset, ACKNOWLEDGE, DRIVER, then offer `wanted` & the device's features
 * (VIRTIO_F_VERSION_1 is required). Returns the accepted features, or 0 with
 * the device marked FAILED. */
uint64_t virtio_negotiate(struct virtio_dev *d, uint64_t wanted);
void virtio_driver_ok(struct virtio_dev *d);
uint32_t virtio_config_read(struct virtio_dev *d, unsigned offset, unsigned size);

/* A queue of at most `max_size` entries (capped by the device's maximum). */
struct virtq *virtq_create(struct virtio_dev *d, unsigned index, unsigned max_size);

struct virtq_seg {
    const void *addr; /* kernel address in the direct map or the kernel image */
    uint32_t len;
};
/* Post a chain: `out` segments the device reads, then `in` it writes.
 * Returns 0, or -1 if the ring has no room. The caller serialises. */
int virtq_add(struct virtq *vq, const struct virtq_seg *segs, unsigned out, unsigned in, void *cookie);
/* Tell the device (unless it asked not to be told). */
void virtq_kick(struct virtq *vq);
/* The next chain the device finished: its cookie and the bytes written, or NULL. */
void *virtq_get(struct virtq *vq, uint32_t *len);
