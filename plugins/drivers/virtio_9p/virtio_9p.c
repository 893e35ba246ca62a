/* virtio-9p (virtio 1.2, 5.? "9P transport"): one request queue; each 9P
 * message is a two-descriptor chain (T-message out, R-message in). The
 * device's mount tag names where the Linux layer mounts it (hermit/p9.h). */
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/iowait.h>
#include <hermit/irq.h>
#include <hermit/mm.h>
#include <hermit/p9.h>
#include <hermit/spinlock.h>
#include <hermit/virtio.h>

#define VIRTIO_9P_MOUNT_TAG (1ull << 0)
#define MSIZE ((512u << 10) + 4096) /* 512 KiB of data per message and its header: half the round trips of 128 KiB for bulk I/O, no gain beyond */


struct v9 {
    struct virtio_dev *dev;
    struct virtq *vq;
    spinlock_t lock;
    volatile int done;
    uint32_t resp_len;
    char tag[64];
    struct p9_channel ch;
};

/* One message as a scatter list: `out` segments the device reads (the
 * T-message), then `in` it writes (the R-message); Tread/Twrite data can be
 * the program's own pages (p9.c, zero copy). */
static long v9_rpcv(struct p9_channel *ch, const struct p9_seg *segs, unsigned out, unsigned in)
{
    struct v9 *v = ch->priv;
    _Static_assert(sizeof(struct p9_seg) == sizeof(struct virtq_seg), "one layout");
    spin_lock(&v->lock);
    v->done = 0;
    int r = virtq_add(v->vq, (const struct virtq_seg *)segs, out, in, v);
    if (!r)
        virtq_kick(v->vq);
    spin_unlock(&v->lock);
    if (r)
        return -1;
    while (!__atomic_load_n(&v->done, __ATOMIC_ACQUIRE)) {
        uint64_t seq = io_seq();
        if (!__atomic_load_n(&v->done, __ATOMIC_ACQUIRE))
            io_wait(seq, 0);
    }
    return v->resp_len;
}

static long v9_rpc(struct p9_channel *ch, const void *req, size_t len, void *resp, size_t max)
{
    struct p9_seg segs[2] = {{req, (uint32_t)len}, {resp, (uint32_t)max}};
    return v9_rpcv(ch, segs, 1, 1);
}

static void v9_interrupt(unsigned irq, void *arg)
{
    struct v9 *v = arg;
    uint32_t len;
    v->dev->t->interrupt_ack(v->dev);
    spin_lock(&v->lock);
    int any = 0;
    while (virtq_get(v->vq, &len)) {
        v->resp_len = len;
        __atomic_store_n(&v->done, 1, __ATOMIC_RELEASE);
        any = 1;
    }
    spin_unlock(&v->lock);
    if (any)
        io_notify();
}

static int v9_probe(struct virtio_dev *d)
{
    uint64_t f = virtio_negotiate(d, VIRTIO_9P_MOUNT_TAG);
    if (!f)
        return -1;
    struct v9 *v = kzalloc(sizeof *v);
    if (!v)
        return -1;
    v->dev = d;
    unsigned n = (f & VIRTIO_9P_MOUNT_TAG) ? virtio_config_read(d, 0, 2) : 0;
    if (!n || n >= sizeof v->tag) {
        pr_info("virtio-9p: %s: no usable mount tag (length %u)\n", d->where, n);
        d->t->set_status(d, VIRTIO_STATUS_FAILED);
        return -1;
    }
    for (unsigned i = 0; i < n; i++)
        v->tag[i] = (char)virtio_config_read(d, 2 + i, 1);
    v->vq = virtq_create(d, 0, 128); /* QEMU's size: room for a message's scatter list of pages */
    if (!v->vq || d->irq == ~0u || irq_register(d->irq, v9_interrupt, v)) {
        pr_info("virtio-9p: %s: no request queue or interrupt\n", d->where);
        d->t->set_status(d, VIRTIO_STATUS_FAILED);
        return -1;
    }
    v->ch.tag = v->tag;
    v->ch.where = d->where;
    v->ch.max_msize = MSIZE;
    v->ch.rpc = v9_rpc;
    v->ch.rpcv = v9_rpcv;
    v->ch.max_segs = v->vq->size;
    v->ch.priv = v;
    virtio_driver_ok(d);
    p9_channel_register(&v->ch);
    pr_info("virtio-9p: host directory tagged '%s'\n", v->tag);
    return 0;
}

static const struct virtio_driver v9_driver = {VIRTIO_ID_9P, "virtio-9p", v9_probe};

static void virtio_9p_register(void) { virtio_driver_register(&v9_driver); }
HERMIT_INIT(HERMIT_INIT_DRIVER, virtio_9p_register);
