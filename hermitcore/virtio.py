"""How QEMU models a virtio device the board describes: behind a virtio-mmio
slot (``virtio-KIND-device``) or a PCI function (``virtio-KIND-pci``, modern
only, at the function's slot). Device plugins (virtio-net, virtio-9p) use it
for their ``-device`` arguments."""

from __future__ import annotations

from hermitcore.model import Board, Device


def qemu_device(board: Board, device: Device, kind: str) -> str:
    """``-device`` model (and placement) for ``device``, a ``virtio,deviceN``
    node, as QEMU's ``virtio-KIND-*``."""
    parent_path = device.path.rsplit("/", 1)[0]
    parent = next((d for d in board.devices if d.path == parent_path), None)
    if parent is not None and parent.pci_id is not None:
        unit = parent_path.rsplit("@", 1)[1] if "@" in parent_path.rsplit("/", 1)[-1] else ""
        slot, _, fn = unit.partition(",")
        addr = f",addr={int(slot, 16):#x}.{int(fn or '0', 16)}" if slot else ""
        return f"virtio-{kind}-pci,disable-legacy=on{addr}"
    return f"virtio-{kind}-device"
