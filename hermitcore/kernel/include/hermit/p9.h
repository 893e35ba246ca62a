/* 9P transports: a device (virtio-9p) that carries 9P2000.L messages to a
 * host file server registers a channel; the Linux layer's host-file system
 * (kernel/linux/p9.c) mounts each channel at the path its tag names. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct p9_seg {
    const void *addr;
    uint32_t len;
};

struct p9_channel {
    const char *tag;      /* the mount tag: the guest path to mount at, e.g. "/data" */
    const char *where;    /* "virtio-mmio@0xfeb00c00" */
    uint32_t max_msize;   /* largest message the buffers hold */
    /* Send one T-message, wait for its R-message. Returns the reply's length
     * or -1. Callers serialise (one message in flight per channel). */
    long (*rpc)(struct p9_channel *ch, const void *req, size_t len, void *resp, size_t max);
    /* Optional, for bulk data without a copy: one message as a scatter list,
     * `out` segments the device reads (the T-message), then `in` it writes
     * (the R-message); addresses in the direct map. At most max_segs in
     * all. Returns the bytes the device wrote, or -1. */
    long (*rpcv)(struct p9_channel *ch, const struct p9_seg *segs, unsigned out, unsigned in);
    unsigned max_segs;
    void *priv;
};

int p9_channel_register(struct p9_channel *ch); /* 0, or -1 when the table is full */
struct p9_channel *p9_channel_get(unsigned n);
