"""virtio-net: the network card of the QEMU boards. Claims the device-tree
node "virtio,device1" (a child of a virtio-mmio slot or of a virtio PCI
function, Linux's binding); emits the driver (any virtio transport) and, at
run time, QEMU's NIC and its back end:

- ``--net user`` (default): QEMU user networking (no root), DHCP from QEMU,
  ``--port HOST:GUEST[/udp]`` forwards a host port to the guest;
- ``--net tap:NAME``: an existing tap device;
- ``--net none``: no NIC (the program's socket() fails);
- ``--mac ADDR``: the NIC's MAC address (default QEMU's 52:54:00:12:34:56);
- ``--mtu N``: the NIC's MTU, 576 to 1500 (QEMU's host_mtu, VIRTIO_NET_F_MTU);
- ``--capture FILE`` writes the guest's traffic as pcap (QEMU filter-dump).
"""

from __future__ import annotations

from hermitcore import hookimpl
from hermitcore.emit import package_sources
from hermitcore.model import Claim, Fragment, QemuArgs
from hermitcore.virtio import qemu_device

DRIVER = "virtio-net"


@hookimpl
def hermitcore_claim_device(board, device):
    if device.is_compatible("virtio,device1"):
        return Claim(driver=DRIVER, role="nic")
    return None


@hookimpl
def hermitcore_emit_device(ctx, claimed):
    if ctx.program is None:
        return None  # a C application has no sockets or files to serve: the device stays out
    where = ", ".join(c.device.path for c in claimed)
    return Fragment(
        sources=package_sources(__package__, "virtio_net.c", prefix="drivers/virtio_net"),
        summary=(f"nic: virtio-net ({where})",),
    )


def netdev_arg(net: str, ports: tuple[str, ...], ip: str = "") -> str:
    """QEMU's -netdev for ``--net`` and ``--port`` (validated by the CLI).
    Forwards go to ``ip``, or to the address QEMU's DHCP hands out."""
    if net == "user":
        fwd = ""
        for spec in ports:
            pair, _, proto = spec.partition("/")
            host, _, guest = pair.partition(":")
            fwd += f",hostfwd={proto or 'tcp'}:127.0.0.1:{host}-{ip}:{guest}"
        return "user,id=net0" + fwd
    if net.startswith("tap:"):
        return f"tap,id=net0,ifname={net[4:]},script=no,downscript=no"
    raise ValueError(f"unknown network back end '{net}'")


@hookimpl
def hermitcore_qemu_args(ctx):
    nics = ctx.devices_of(DRIVER)
    opts = ctx.options
    if opts.net == "none" or not ctx.meta.get("network"):
        return None  # images without the TCP/IP stack (built-in C apps) boot without a card
    model = qemu_device(ctx.board, nics[0].device, "net")
    mac = (f",mac={opts.mac}" if opts.mac else "") + (f",host_mtu={opts.mtu}" if opts.mtu else "")
    args = ["-netdev", netdev_arg(opts.net, opts.ports, opts.ip), "-device", f"{model},netdev=net0{mac}"]
    if opts.capture:
        args += ["-object", f"filter-dump,id=capture0,netdev=net0,file={opts.capture}"]
    return QemuArgs(args=tuple(args))
