"""PCI enumeration through the x86 configuration ports 0xcf8/0xcfc, for
chipsets without ECAM (QEMU's i440fx, board qemu-pc): claims the DT's
"pci-host-conf1" node (x86_64 only) and emits the host for the PCI core's
scan; functions are named from the board's pci.ids."""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources, pci_names_header
from hermitcore.model import Claim, Fragment, Source

DRIVER = "pci-conf1"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("pci-host-conf1") and board.arch == "x86_64":
        return Claim(driver=DRIVER, role="bus")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    return Fragment(
        sources=package_sources(__package__, "pci_conf1.c", prefix="drivers/pci_conf1")
        + (Source("drivers/pci_conf1/pci_names.h", pci_names_header(ctx.board)),),
        summary=(f"pci: configuration ports 0xcf8/0xcfc, {len(ctx.board.pci_names)} names from pci.ids",),
    )
