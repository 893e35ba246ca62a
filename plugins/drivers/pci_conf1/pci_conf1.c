/* PCI configuration through the x86 I/O ports 0xcf8/0xcfc ("configuration
 * mechanism #1", the i440fx's only one): the host for the PCI core's scan
 * (hermit/pci.h). On these chipsets the firmware routes INTx to ISA IRQs and
 * writes the number into the interrupt-line register, which is the IOAPIC
 * pin the line reaches. */
#include <hermit/init.h>
#include <hermit/pci.h>
#include <hermit/spinlock.h>
#include <stdint.h>

#include "pci_names.h" /* generated: static const struct pci_name names[] */

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc

static spinlock_t lock = SPINLOCK_INIT; /* the address/data pair is one shared register */

static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static uint32_t address(struct pci_dev *d, unsigned off)
{
    return 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 | (uint32_t)d->fn << 8 | (off & 0xfc);
}

static uint32_t conf1_read(struct pci_dev *d, unsigned off)
{
    unsigned long f = spin_lock_irqsave(&lock);
    outl(CONFIG_ADDRESS, address(d, off));
    uint32_t v = inl(CONFIG_DATA);
    spin_unlock_irqrestore(&lock, f);
    return v;
}

static void conf1_write(struct pci_dev *d, unsigned off, uint32_t v)
{
    unsigned long f = spin_lock_irqsave(&lock);
    outl(CONFIG_ADDRESS, address(d, off));
    outl(CONFIG_DATA, v);
    spin_unlock_irqrestore(&lock, f);
}

static const struct pci_host conf1 = {0, conf1_read, conf1_write, 1, names};

static void pci_conf1_init(void) { pci_scan(&conf1); }
HERMIT_INIT(HERMIT_INIT_DEVICE, pci_conf1_init);
