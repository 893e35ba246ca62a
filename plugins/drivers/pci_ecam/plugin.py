"""PCI enumeration over ECAM: claims the DT's "pci-host-ecam-generic" node,
emits a scanner that offers each function to the PCI drivers composed in
(hermit/pci.h) and names what it finds from the board's pci.ids table."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources, pci_names_header
from hermitcore.model import Claim, Fragment, Source

DRIVER = "pci-ecam"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("pci-host-ecam-generic"):
        return Claim(driver=DRIVER, role="bus")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    host = claimed[0].device
    return Fragment(
        sources=package_sources(__package__, "pci_ecam.c", prefix="drivers/pci_ecam")
        + (Source("drivers/pci_ecam/pci_names.h", pci_names_header(ctx.board)),),
        summary=(f"pci: ECAM at {host.regs[0].address:#x}, {len(ctx.board.pci_names)} names from pci.ids",),
    )
