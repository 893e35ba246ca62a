/* virtio-net (virtio 1.2, 5.1) over any virtio transport: one receive and
 * one transmit queue, frames copied in and out of fixed 2 KiB buffers. It
 * registers a struct netdev (hermit/netdev.h); the TCP/IP stack takes it
 * from there. */
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/irq.h>
#include <hermit/mm.h>
#include <hermit/netdev.h>
#include <hermit/spinlock.h>
#include <hermit/string.h>
#include <hermit/virtio.h>

#define VIRTIO_NET_F_MTU (1ull << 3) /* the device's largest MTU: config offset 10 (--mtu: QEMU's host_mtu) */
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define VIRTIO_NET_S_LINK_UP 1
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

#define BUF_SIZE 2048
#define RX_BUFS 128
#define TX_BUFS 128

/* virtio_net_hdr with VIRTIO_F_VERSION_1: 12 bytes, all zero on transmit
 * (no offloads negotiated). */
struct net_hdr {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

struct vnet {
    struct virtio_dev *dev;
    struct virtq *rx, *tx;
    spinlock_t rx_lock, tx_lock;
    uint8_t *rx_bufs, *tx_bufs;
    uint8_t *tx_free[TX_BUFS];
    unsigned tx_nfree;
    int started;
    uint64_t rx_frames, tx_frames, tx_full;
    struct netdev nd;
};

static void rx_post(struct vnet *v, uint8_t *buf)
{
    struct virtq_seg seg = {buf, BUF_SIZE};
    virtq_add(v->rx, &seg, 0, 1, buf);
}

static void tx_reclaim(struct vnet *v)
{
    uint8_t *buf;
    while ((buf = virtq_get(v->tx, 0)))
        v->tx_free[v->tx_nfree++] = buf;
}

static int vnet_xmit(struct netdev *nd, const struct netdev_seg *segs, unsigned nsegs)
{
    struct vnet *v = nd->priv;
    size_t total = 0;
    for (unsigned i = 0; i < nsegs; i++)
        total += segs[i].len;
    if (total > BUF_SIZE - sizeof(struct net_hdr))
        return -1;
    unsigned long f = spin_lock_irqsave(&v->tx_lock);
    tx_reclaim(v);
    if (!v->tx_nfree) {
        v->tx_full++;
        spin_unlock_irqrestore(&v->tx_lock, f);
        return -1;
    }
    uint8_t *buf = v->tx_free[--v->tx_nfree];
    memset(buf, 0, sizeof(struct net_hdr));
    size_t off = sizeof(struct net_hdr);
    for (unsigned i = 0; i < nsegs; i++) {
        memcpy(buf + off, segs[i].data, segs[i].len);
        off += segs[i].len;
    }
    struct virtq_seg seg = {buf, (uint32_t)off};
    virtq_add(v->tx, &seg, 1, 0, buf);
    virtq_kick(v->tx);
    v->tx_frames++;
    spin_unlock_irqrestore(&v->tx_lock, f);
    return 0;
}

static void vnet_start(struct netdev *nd)
{
    struct vnet *v = nd->priv;
    __atomic_store_n(&v->started, 1, __ATOMIC_RELEASE);
}

static void vnet_interrupt(unsigned irq, void *arg)
{
    struct vnet *v = arg;
    v->dev->t->interrupt_ack(v->dev);
    for (;;) {
        uint32_t len;
        spin_lock(&v->rx_lock);
        uint8_t *buf = virtq_get(v->rx, &len);
        spin_unlock(&v->rx_lock);
        if (!buf)
            break;
        if (len > sizeof(struct net_hdr) && __atomic_load_n(&v->started, __ATOMIC_ACQUIRE) && v->nd.rx) {
            v->rx_frames++;
            v->nd.rx(&v->nd, buf + sizeof(struct net_hdr), len - sizeof(struct net_hdr));
        }
        spin_lock(&v->rx_lock);
        rx_post(v, buf);
        virtq_kick(v->rx);
        spin_unlock(&v->rx_lock);
    }
}

static int vnet_probe(struct virtio_dev *d)
{
    uint64_t f = virtio_negotiate(d, VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MTU);
    if (!f)
        return -1;
    struct vnet *v = kzalloc(sizeof *v);
    if (!v)
        return -1;
    v->dev = d;
    d->driver_data = v;
    v->rx = virtq_create(d, 0, RX_BUFS);
    v->tx = virtq_create(d, 1, TX_BUFS);
    v->rx_bufs = page_alloc(RX_BUFS * BUF_SIZE / PAGE_SIZE);
    v->tx_bufs = page_alloc(TX_BUFS * BUF_SIZE / PAGE_SIZE);
    if (!v->rx || !v->tx || !v->rx_bufs || !v->tx_bufs) {
        pr_info("virtio-net: %s: out of memory for its queues\n", d->where);
        d->t->set_status(d, VIRTIO_STATUS_FAILED);
        return -1;
    }
    if (f & VIRTIO_NET_F_MAC)
        for (unsigned i = 0; i < 6; i++)
            v->nd.mac[i] = (uint8_t)virtio_config_read(d, i, 1);
    else
        memcpy(v->nd.mac, "\x52\x54\x00\x12\x34\x56", 6);
    v->nd.link_up = !(f & VIRTIO_NET_F_STATUS) || (virtio_config_read(d, 6, 2) & VIRTIO_NET_S_LINK_UP);
    for (unsigned i = 0; i < v->rx->size && i < RX_BUFS; i++)
        rx_post(v, v->rx_bufs + i * BUF_SIZE);
    for (unsigned i = 0; i < v->tx->size && i < TX_BUFS; i++)
        v->tx_free[v->tx_nfree++] = v->tx_bufs + i * BUF_SIZE;
    v->tx->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT; /* completions are reaped on the next send */
    if (d->irq == ~0u || irq_register(d->irq, vnet_interrupt, v)) {
        pr_info("virtio-net: %s: no usable interrupt\n", d->where);
        d->t->set_status(d, VIRTIO_STATUS_FAILED);
        return -1;
    }
    v->nd.name = "virtio-net";
    v->nd.where = d->where;
    v->nd.mtu = 1500;
    if (f & VIRTIO_NET_F_MTU) { /* smaller than Ethernet's (an overlay network); never larger: our buffers */
        unsigned mtu = virtio_config_read(d, 10, 2);
        if (mtu >= 576 && mtu < 1500)
            v->nd.mtu = mtu;
    }
    v->nd.xmit = vnet_xmit;
    v->nd.start = vnet_start;
    v->nd.priv = v;
    virtio_driver_ok(d);
    virtq_kick(v->rx);
    netdev_register(&v->nd);
    pr_info("virtio-net: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, link %s, %u rx / %u tx buffers\n", v->nd.mac[0],
            v->nd.mac[1], v->nd.mac[2], v->nd.mac[3], v->nd.mac[4], v->nd.mac[5], v->nd.mtu,
            v->nd.link_up ? "up" : "down", (unsigned)v->rx->size, v->tx_nfree);
    return 0;
}

static const struct virtio_driver vnet_driver = {VIRTIO_ID_NET, "virtio-net", vnet_probe};

static void virtio_net_register(void) { virtio_driver_register(&vnet_driver); }
HERMIT_INIT(HERMIT_INIT_DRIVER, virtio_net_register);
