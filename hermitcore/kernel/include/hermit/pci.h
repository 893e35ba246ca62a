/* PCI functions found at boot by the host-bridge driver (pci-ecam), and the
 * drivers that bind to them by vendor:device (e.g. the virtio-pci transport).
 * Configuration space is reached through the function's ECAM window. */
#pragma once
#include <stdint.h>

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint32_t class;
    volatile uint8_t *cfg; /* its 4 KiB of configuration space */
    const char *name;      /* from the board's pci.ids, or NULL */
    char where[16];        /* "pci 00:02.0" */
};

static inline uint32_t pci_read32(struct pci_dev *d, unsigned off) { return *(volatile uint32_t *)(d->cfg + off); }
static inline uint16_t pci_read16(struct pci_dev *d, unsigned off) { return *(volatile uint16_t *)(d->cfg + off); }
static inline uint8_t pci_read8(struct pci_dev *d, unsigned off) { return *(volatile uint8_t *)(d->cfg + off); }
static inline void pci_write32(struct pci_dev *d, unsigned off, uint32_t v) { *(volatile uint32_t *)(d->cfg + off) = v; }
static inline void pci_write16(struct pci_dev *d, unsigned off, uint16_t v) { *(volatile uint16_t *)(d->cfg + off) = v; }

struct pci_driver {
    const char *name;
    uint16_t vendor, device_min, device_max;
    int (*probe)(struct pci_dev *d); /* 0: bound; -1: refused (after logging why) */
};

/* Drivers register at HERMIT_INIT_DRIVER, before the bus is scanned. */
void pci_driver_register(const struct pci_driver *drv);
/* The host bridge found a function: 1 if a driver bound it. */
int pci_device_found(struct pci_dev *d);

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
