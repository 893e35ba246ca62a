"""virtio over PCI (modern, virtio 1.x): claims the board's virtio PCI
functions (vendor 1af4, devices 1000-107f, listed in the device tree as
``pci1af4,DDDD`` nodes) and emits the transport: a PCI driver that maps the
capability-described regions, gives the function an MSI-X vector and hands
the device to the virtio core, where device drivers (virtio-net, virtio-9p)
bind by device type. The device's own driver claims the ``virtio,deviceN``
child node of the function, as on virtio-mmio."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, Fragment

DRIVER = "virtio-pci"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.pci_id and device.pci_id[0] == 0x1AF4 and 0x1000 <= device.pci_id[1] <= 0x107F:
        return Claim(driver=DRIVER, role="bus")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    return Fragment(
        sources=package_sources(__package__, "virtio_pci.c", prefix="drivers/virtio_pci"),
        summary=(f"virtio-pci: {len(claimed)} function(s), MSI-X",),
    )
