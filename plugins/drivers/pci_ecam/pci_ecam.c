/* PCI enumeration through ECAM (the DT's "pci-host-ecam-generic" window).
 * Scans bus 0 and every bus behind a PCI-PCI bridge, offers each function to
 * the registered PCI drivers (hermit/pci.h), and logs it once, named from the
 * board's pci.ids table (pci_names.h, generated at compose time), marked when
 * no driver in the image took it. */
#include <board.h>
#include <hermit/heap.h>
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/pci.h>
#include <hermit/string.h>
#include <stdint.h>

struct pci_name {
    uint16_t vendor, device;
    const char *name;
};

#include "pci_names.h" /* generated: static const struct pci_name names[] */

static volatile uint32_t *cfg(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    uintptr_t a = (uintptr_t)BOARD_PCI_ECAM_0_BASE + ((uintptr_t)bus << 20 | dev << 15 | fn << 12 | off);
    return (volatile uint32_t *)a;
}

static const struct pci_name *lookup(uint16_t vendor, uint16_t device)
{
    for (const struct pci_name *n = names; n->name; n++)
        if (n->vendor == vendor && n->device == device)
            return n;
    return 0;
}

static unsigned found, without_driver;

static void scan_bus(unsigned bus, int depth)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            uint32_t id = *cfg(bus, dev, fn, 0x00);
            if ((id & 0xffff) == 0xffff) {
                if (fn == 0)
                    break; /* no device in this slot */
                continue;
            }
            uint16_t vendor = id & 0xffff, device = id >> 16;
            uint32_t class = *cfg(bus, dev, fn, 0x08) >> 8;
            uint8_t header = (*cfg(bus, dev, fn, 0x0c) >> 16) & 0xff;
            const struct pci_name *n = lookup(vendor, device);
            found++;
            struct pci_dev *pd = kzalloc(sizeof *pd);
            int bound = 0;
            if (pd) {
                *pd = (struct pci_dev){(uint8_t)bus, (uint8_t)dev, (uint8_t)fn, vendor, device, class,
                                       (volatile uint8_t *)cfg(bus, dev, fn, 0), n ? n->name : 0, ""};
                snprintk(pd->where, sizeof pd->where, "pci %02x:%02x.%u", bus, dev, fn);
                bound = pci_device_found(pd);
                if (!bound)
                    kfree(pd);
            }
            if (!bound)
                without_driver++;
            pr_info("pci %02x:%02x.%u %04x:%04x class %06x %s%s\n", bus, dev, fn, vendor, device, class,
                    n ? n->name : "unknown device (not in the board's pci.ids)",
                    bound ? "" : " -- no driver in this image");
            if ((header & 0x7f) == 1 && depth < 8) { /* PCI-PCI bridge */
                unsigned secondary = (*cfg(bus, dev, fn, 0x18) >> 8) & 0xff;
                if (secondary > bus)
                    scan_bus(secondary, depth + 1);
            }
            if (fn == 0 && !(header & 0x80))
                break; /* single-function device */
        }
    }
}

static void pci_ecam_init(void)
{
    scan_bus(0, 0);
    pr_info("pci: %u function(s), %u without a driver\n", found, without_driver);
}
HERMIT_INIT(HERMIT_INIT_DEVICE, pci_ecam_init);
