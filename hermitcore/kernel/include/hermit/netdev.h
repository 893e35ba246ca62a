/* Network interfaces as the TCP/IP stack sees them. A NIC driver (e.g.
 * virtio-net) fills a struct netdev and registers it; the stack (lwIP, in
 * kernel/net/) brings it up when the program first asks for a socket, and
 * from then on receives frames through `rx`. Drivers never see the stack's
 * types, so another stack or another NIC can be swapped in alone. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct netdev_seg {
    const void *data;
    size_t len;
};

struct netdev {
    const char *name;   /* "virtio-net" */
    const char *where;  /* "virtio-mmio@0xfeb00e00" */
    uint8_t mac[6];
    unsigned mtu;       /* payload bytes, 1500 for Ethernet */
    int link_up;
    /* Send one Ethernet frame given as segments (copied before return).
     * Returns 0, or -1 when the transmit ring is full. */
    int (*xmit)(struct netdev *dev, const struct netdev_seg *segs, unsigned nsegs);
    /* Start delivering received frames to `rx` (called once by the stack). */
    void (*start)(struct netdev *dev);
    void *priv;         /* the driver's */
    /* Set by the stack before start(): one received frame, in interrupt
     * context; the buffer is the driver's again when it returns. */
    void (*rx)(struct netdev *dev, const void *frame, size_t len);
    void *stack;        /* the stack's */
};

/* Returns 0, or -1 if the table is full. */
int netdev_register(struct netdev *dev);
/* The n-th registered interface (registration order), or NULL. */
struct netdev *netdev_get(unsigned n);
