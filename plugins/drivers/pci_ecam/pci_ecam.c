/* PCI configuration through ECAM (the DT's "pci-host-ecam-generic" window):
 * the host for the PCI core's scan (hermit/pci.h). */
#include <board.h>
#include <hermit/init.h>
#include <hermit/pci.h>
#include <stdint.h>

#include "pci_names.h" /* generated: static const struct pci_name names[] */

static volatile uint8_t *window(unsigned bus, unsigned dev, unsigned fn)
{
    return (volatile uint8_t *)((uintptr_t)BOARD_PCI_ECAM_0_BASE + ((uintptr_t)bus << 20 | dev << 15 | fn << 12));
}

/* q35 routes INTx to IOAPIC pins 16-23, while the firmware writes the 8259
 * IRQ into the interrupt-line register: functions here use MSI-X. */
static const struct pci_host ecam = {window, 0, 0, 0, names};

static void pci_ecam_init(void) { pci_scan(&ecam); }
HERMIT_INIT(HERMIT_INIT_DEVICE, pci_ecam_init);
