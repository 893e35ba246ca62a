/* PCI: the driver registry and what every PCI driver needs (BARs,
 * capabilities, MSI-X). See hermit/pci.h. */
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/irq.h>
#include <hermit/mm.h>
#include <hermit/pci.h>

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define CMD_MEMORY 0x2
#define CMD_MASTER 0x4
#define CMD_INTX_DISABLE 0x400
#define CAP_MSIX 0x11

#define MAX_DRIVERS 16
static const struct pci_driver *drivers[MAX_DRIVERS];
static unsigned ndrivers;

void pci_driver_register(const struct pci_driver *drv)
{
    if (ndrivers < MAX_DRIVERS)
        drivers[ndrivers++] = drv;
}

static int bind(struct pci_dev *d)
{
    for (unsigned i = 0; i < ndrivers; i++) {
        const struct pci_driver *drv = drivers[i];
        if (drv->vendor == d->vendor && d->device >= drv->device_min && d->device <= drv->device_max)
            return drv->probe(d) == 0;
    }
    return 0;
}

/* --- configuration space: the ECAM window, or the host's accessors --- */
uint32_t pci_read32(struct pci_dev *d, unsigned off)
{
    return d->cfg ? *(volatile uint32_t *)(d->cfg + off) : d->host->read(d, off & ~3u);
}

uint16_t pci_read16(struct pci_dev *d, unsigned off)
{
    return d->cfg ? *(volatile uint16_t *)(d->cfg + off) : (uint16_t)(pci_read32(d, off) >> (8 * (off & 2)));
}

uint8_t pci_read8(struct pci_dev *d, unsigned off)
{
    return d->cfg ? *(volatile uint8_t *)(d->cfg + off) : (uint8_t)(pci_read32(d, off) >> (8 * (off & 3)));
}

void pci_write32(struct pci_dev *d, unsigned off, uint32_t v)
{
    if (d->cfg)
        *(volatile uint32_t *)(d->cfg + off) = v;
    else
        d->host->write(d, off & ~3u, v);
}

void pci_write16(struct pci_dev *d, unsigned off, uint16_t v)
{
    if (d->cfg) {
        *(volatile uint16_t *)(d->cfg + off) = v;
        return;
    }
    unsigned shift = 8 * (off & 2);
    uint32_t old = d->host->read(d, off & ~3u);
    d->host->write(d, off & ~3u, (old & ~(0xffffu << shift)) | (uint32_t)v << shift);
}

/* --- the scan --- */
static unsigned found, without_driver;

static const char *lookup(const struct pci_host *h, uint16_t vendor, uint16_t device)
{
    for (const struct pci_name *n = h->names; n && n->name; n++)
        if (n->vendor == vendor && n->device == device)
            return n->name;
    return 0;
}

static void scan_bus(const struct pci_host *h, unsigned bus, int depth)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            struct pci_dev probe = {(uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 0, 0, 0, h,
                                    h->window ? h->window(bus, dev, fn) : 0, 0, ""};
            uint32_t id = pci_read32(&probe, 0x00);
            if ((id & 0xffff) == 0xffff) {
                if (fn == 0)
                    break; /* no device in this slot */
                continue;
            }
            probe.vendor = (uint16_t)id;
            probe.device = (uint16_t)(id >> 16);
            probe.class = pci_read32(&probe, 0x08) >> 8;
            probe.name = lookup(h, probe.vendor, probe.device);
            uint8_t header = pci_read8(&probe, 0x0e);
            snprintk(probe.where, sizeof probe.where, "pci %02x:%02x.%u", bus, dev, fn);
            found++;
            struct pci_dev *pd = kmalloc(sizeof *pd);
            int bound = 0;
            if (pd) {
                *pd = probe;
                bound = bind(pd);
                if (!bound)
                    kfree(pd);
            }
            if (!bound)
                without_driver++;
            pr_info("pci %02x:%02x.%u %04x:%04x class %06x %s%s\n", bus, dev, fn, probe.vendor, probe.device,
                    (unsigned)probe.class, probe.name ? probe.name : "unknown device (not in the board's pci.ids)",
                    bound ? "" : " -- no driver in this image");
            if ((header & 0x7f) == 1 && depth < 8) { /* PCI-PCI bridge */
                unsigned secondary = (pci_read32(&probe, 0x18) >> 8) & 0xff;
                if (secondary > bus)
                    scan_bus(h, secondary, depth + 1);
            }
            if (fn == 0 && !(header & 0x80))
                break; /* single-function device */
        }
    }
}

void pci_scan(const struct pci_host *h)
{
    scan_bus(h, 0, 0);
    pr_info("pci: %u function(s), %u without a driver\n", found, without_driver);
}

int pci_bar(struct pci_dev *d, unsigned bar, uint64_t *addr, uint64_t *size)
{
    if (bar > 5)
        return -1;
    unsigned off = PCI_BAR0 + 4 * bar;
    uint32_t lo = pci_read32(d, off);
    if (lo & 1)
        return -1; /* I/O space */
    int wide = ((lo >> 1) & 3) == 2;
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd & ~CMD_MEMORY); /* no decoding while sizing */
    pci_write32(d, off, 0xffffffff);
    uint64_t mask = pci_read32(d, off) & ~0xfull;
    pci_write32(d, off, lo);
    uint64_t base = lo & ~0xfull;
    if (wide) {
        uint32_t hi = pci_read32(d, off + 4);
        pci_write32(d, off + 4, 0xffffffff);
        mask |= (uint64_t)pci_read32(d, off + 4) << 32;
        pci_write32(d, off + 4, hi);
        base |= (uint64_t)hi << 32;
    } else {
        mask |= 0xffffffff00000000ull;
    }
    pci_write16(d, PCI_COMMAND, cmd);
    if (!mask || !base)
        return -1;
    *addr = base;
    *size = ~mask + 1;
    return 0;
}

volatile uint8_t *pci_map_bar(struct pci_dev *d, unsigned bar)
{
    uint64_t pa, size;
    if (pci_bar(d, bar, &pa, &size))
        return 0;
    uint64_t start = pa & ~(PAGE_SIZE - 1), end = (pa + size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    void *va = phys_to_virt(start);
    if (arch_map((uintptr_t)va, start, end - start, MAP_WRITE | MAP_DEVICE))
        return 0;
    return (volatile uint8_t *)va + (pa - start);
}

void pci_enable(struct pci_dev *d)
{
    pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | CMD_MEMORY | CMD_MASTER);
}

unsigned pci_find_cap(struct pci_dev *d, uint8_t id, unsigned after)
{
    if (!(pci_read16(d, PCI_STATUS) & 0x10))
        return 0; /* no capability list */
    unsigned p = after ? pci_read8(d, after + 1) : pci_read8(d, PCI_CAP_PTR);
    for (int guard = 0; p && guard < 48; guard++) {
        p &= ~3u;
        if (pci_read8(d, p) == id)
            return p;
        p = pci_read8(d, p + 1);
    }
    return 0;
}

int pci_enable_msix(struct pci_dev *d, unsigned *irq)
{
    unsigned cap = pci_find_cap(d, CAP_MSIX, 0);
    uint64_t addr;
    uint32_t data;
    if (!cap || arch_msi_alloc(irq, &addr, &data))
        return -1;
    uint32_t table = pci_read32(d, cap + 4);
    volatile uint8_t *bar = pci_map_bar(d, table & 7);
    if (!bar)
        return -1;
    volatile uint32_t *entry = (volatile uint32_t *)(bar + (table & ~7u));
    entry[0] = (uint32_t)addr;
    entry[1] = (uint32_t)(addr >> 32);
    entry[2] = data;
    entry[3] = 0; /* unmasked */
    uint16_t ctl = pci_read16(d, cap + 2);
    pci_write16(d, cap + 2, (uint16_t)((ctl | 0x8000) & ~0x4000)); /* enable, function unmasked */
    pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | CMD_INTX_DISABLE);
    return 0;
}
