/* virtio-console (virtio 1.2, 5.3) as the kernel console, for boards that
 * choose it over a UART: port 0 only (no multiport), output written in
 * chunks to the transmit queue and waited for by polling the used ring (the
 * console must work with interrupts off, in a panic too). Output before the
 * device is found is kept by the console layer and replayed here. */
#include <hermit/console.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/spinlock.h>
#include <hermit/string.h>
#include <hermit/virtio.h>

#define CHUNK 2048
#define SPIN_LIMIT 100000000u

static struct virtq *txq;
static char buf[CHUNK];

static void vcon_write(const char *s, size_t n)
{
    while (n) {
        size_t k = n < CHUNK ? n : CHUNK;
        memcpy(buf, s, k);
        struct virtq_seg seg = {buf, (uint32_t)k};
        if (virtq_add(txq, &seg, 1, 0, buf))
            return;
        virtq_kick(txq);
        for (unsigned spins = 0; !virtq_get(txq, 0); spins++)
            if (spins == SPIN_LIMIT)
                return; /* the host stopped reading: drop rather than hang */
            else
                arch_cpu_relax();
        s += k;
        n -= k;
    }
}

static void vcon_putc(char c) { vcon_write(&c, 1); }

static const struct console vcon = {"virtio-console", vcon_putc, 0, vcon_write};

static int vcon_probe(struct virtio_dev *d)
{
    if (!virtio_negotiate(d, 0))
        return -1;
    struct virtq *rx = virtq_create(d, 0, 8); /* receiveq: input is not read yet, but the queue must exist */
    txq = virtq_create(d, 1, 8);
    if (!rx || !txq) {
        d->t->set_status(d, VIRTIO_STATUS_FAILED);
        return -1;
    }
    virtio_driver_ok(d);
    console_register(&vcon);
    return 0;
}

static const struct virtio_driver vcon_driver = {VIRTIO_ID_CONSOLE, "virtio-console", vcon_probe};

static void virtio_console_register(void) { virtio_driver_register(&vcon_driver); }
HERMIT_INIT(HERMIT_INIT_DRIVER, virtio_console_register);
