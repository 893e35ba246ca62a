/* PCI: host bridges (pci-ecam, pci-conf1) describe how configuration space
 * is reached and scan their bus with pci_scan; every function found is
 * offered to the drivers registered by vendor:device (e.g. the virtio-pci
 * transport) and logged once, named from the board's pci.ids. */
#pragma once
#include <stdint.h>

struct pci_dev;

struct pci_name {
    uint16_t vendor, device;
    const char *name;
};

struct pci_host {
    /* ECAM: a function's 4 KiB configuration window. NULL: use read/write. */
    volatile uint8_t *(*window)(unsigned bus, unsigned dev, unsigned fn);
    uint32_t (*read)(struct pci_dev *d, unsigned off);          /* aligned dwords */
    void (*write)(struct pci_dev *d, unsigned off, uint32_t v);
    /* The interrupt-line register (0x3c) holds the interrupt controller
     * input the firmware routed INTx to (i440fx: the IOAPIC pin). */
    int intx_line_is_irq;
    const struct pci_name *names; /* generated from the board's pci.ids */
};

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint32_t class;
    const struct pci_host *host;
    volatile uint8_t *cfg; /* its configuration window (ECAM), or NULL */
    const char *name;      /* from the board's pci.ids, or NULL */
    char where[16];        /* "pci 00:02.0" */
};

/* Scan bus 0 and the buses behind PCI-PCI bridges. */
void pci_scan(const struct pci_host *h);

uint32_t pci_read32(struct pci_dev *d, unsigned off);
uint16_t pci_read16(struct pci_dev *d, unsigned off);
uint8_t pci_read8(struct pci_dev *d, unsigned off);
void pci_write32(struct pci_dev *d, unsigned off, uint32_t v);
void pci_write16(struct pci_dev *d, unsigned off, uint16_t v);

struct pci_driver {
    const char *name;
    uint16_t vendor, device_min, device_max;
    int (*probe)(struct pci_dev *d); /* 0: bound; -1: refused (after logging why) */
};

/* Drivers register at HERMIT_INIT_DRIVER, before the bus is scanned. */
void pci_driver_register(const struct pci_driver *drv);

/* A memory BAR's address and size as the firmware assigned it (64-bit BARs
 * span two slots): 0, or -1 for an I/O, empty or unassigned BAR. */
int pci_bar(struct pci_dev *d, unsigned bar, uint64_t *addr, uint64_t *size);
/* The BAR mapped uncached into the kernel, or NULL. */
volatile uint8_t *pci_map_bar(struct pci_dev *d, unsigned bar);
/* Memory decoding and bus mastering on. */
void pci_enable(struct pci_dev *d);
/* Offset of the first capability `id` after offset `after` (0: from the
 * start), or 0. */
unsigned pci_find_cap(struct pci_dev *d, uint8_t id, unsigned after);
/* One MSI-X vector (table entry 0) for the whole function: *irq is the
 * number to irq_register. 0, or -1 (no MSI-X, or the platform has no MSI). */
int pci_enable_msix(struct pci_dev *d, unsigned *irq);
