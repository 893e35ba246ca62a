"""Values passed between the pipeline stages and through the hooks.

Everything here is a frozen attrs class: plugins receive these, never mutate
them, and return new values (usually a :class:`Fragment`).
"""

from __future__ import annotations

from typing import Mapping, Protocol

import attrs

from hermitcore.launch import STREAM_CHARDEVS as STDIO_PORTS  # noqa: F401 (the stream device's plugin uses it)


@attrs.frozen
class Reg:
    """One ``reg`` entry of a device-tree node, translated to the CPU's view.

    ``space`` is ``"mmio"`` for memory-mapped registers or ``"io"`` for x86
    port I/O (ISA binding: first address cell 1).
    """

    address: int
    size: int
    space: str = "mmio"


@attrs.frozen
class Interrupt:
    """One interrupt specifier of a device, as the tree has it: the
    controller it goes to (its node's path; "" when the tree names none)
    and the controller's cells. The controller's plugin turns it into a
    number (``hermitcore_interrupt_number``)."""

    controller: str
    cells: tuple[int, ...]


@attrs.frozen
class Device:
    """A device node of the board's device tree, or a PCI function."""

    path: str
    compatible: tuple[str, ...]
    regs: tuple[Reg, ...] = ()
    interrupt_specs: tuple[Interrupt, ...] = ()  # as the tree says (board.py)
    interrupts: tuple[int, ...] = ()  # their numbers, from the controllers' plugins (plugins.claim_devices)
    pci_id: tuple[int, int] | None = None
    pci_name: str | None = None
    line: int | None = None  # line in board.dts, for messages

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] or "/"

    def is_compatible(self, *strings: str) -> bool:
        return any(s in self.compatible for s in strings)

    def describe(self) -> str:
        if self.pci_id is not None:
            v, d = self.pci_id
            label = f"pci {v:04x}:{d:04x}"
            return f"{label} {self.pci_name}" if self.pci_name else label
        return ", ".join(self.compatible) or "(no compatible)"


@attrs.frozen
class MemoryRange:
    base: int
    size: int


@attrs.frozen
class QemuMachine:
    """How QEMU models the board: binary comes from the arch plugin."""

    machine: str
    cpu: str = "max"
    default_mem_mib: int = 128
    extra_args: tuple[str, ...] = ()


@attrs.frozen
class Board:
    """A board descriptor: metadata, its device tree and its PCI ID table."""

    name: str
    arch: str
    description: str
    directory: str
    dtb: bytes
    devices: tuple[Device, ...]
    memory: tuple[MemoryRange, ...]
    cpus: int
    qemu: QemuMachine
    pci_names: Mapping[tuple[int, int], str] = attrs.field(factory=dict)

    @property
    def ram_base(self) -> int:
        return self.memory[0].base if self.memory else 0


@attrs.frozen
class Architecture:
    """What an arch plugin announces: how to compile for it and run it."""

    name: str
    clang_target: str
    qemu_binary: str
    qemu_package: str
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()


@attrs.frozen
class Claim:
    """A plugin's statement that it drives a device.

    ``driver`` names the driver (unique across plugins); ``plugin`` is filled
    in by the core with the claiming plugin's registered name.
    """

    driver: str
    role: str = "device"  # e.g. "console", "exit", "interrupt-controller"
    plugin: str = ""


@attrs.frozen
class Source:
    """A native source file contributed to the image.

    ``name`` is its path inside the build tree (``"x86_64/boot.S"``); the
    suffix decides how it is compiled (``.c``, ``.S``) or whether it is a
    header (``.h``, placed on the include path). ``data``, when set, makes
    it a binary file (``.bin``) that assembly pulls in with ``.incbin``:
    the bytes, or a ``Blob`` that makes them only when the image is built.
    """

    name: str
    text: str
    data: bytes | Blob | None = attrs.field(default=None, repr=False)


class Blob(Protocol):
    """Binary data made only when an image is built (the program's file
    tree: hermitcore.program.FileTree); ``key`` stands for its bytes in
    the image's cache key."""

    key: str

    def read(self) -> bytes: ...


@attrs.frozen
class Fragment:
    """What one emission hook contributes to the image."""

    sources: tuple[Source, ...] = ()
    defines: Mapping[str, str] = attrs.field(factory=dict)
    cflags: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()
    linker_script: str | None = None
    summary: tuple[str, ...] = ()  # lines shown by `compose -v`


@attrs.frozen
class ExitCode:
    """How QEMU's exit status carries the guest's, declared by the plugin
    that provides the exit device (data, not code, so a run plan can keep it;
    decoded by ``launch.decode_exit``)."""

    odd: bool = False  # only odd statuses are the guest's (isa-debug-exit: (value << 1) | 1)
    shift: int = 0  # the guest's status is QEMU's shifted right by this much
    status_file: str = ""  # a file in the run directory whose last byte is the exact status

    def as_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen
class QemuArgs:
    """QEMU arguments contributed by a plugin for one run."""

    args: tuple[str, ...] = ()
    binary: str | None = None  # only the arch plugin sets this
    cpu: str | None = None  # the arch plugin may refine the board's -cpu model
    exit_code: ExitCode | None = None  # the exit device's plugin says how to read QEMU's status


@attrs.frozen
class RunOptions:
    """What the user asked for on `hermitcore run`."""

    cpus: int = 1
    mem_mib: int = 128
    accel: str = "tcg"  # resolved: "kvm" or "tcg"
    append: str = ""
    console_chardev: str = "hcon"
    workdir: str = ""  # a private directory for this run's sockets and files
    net: str = "user"  # "user", "tap:NAME" or "none" (only boards with a network card)
    ports: tuple[str, ...] = ()  # "HOST:GUEST" or "HOST:GUEST/udp" forwards (--net user)
    capture: str = ""  # pcap file of the guest's traffic
    ip: str = ""  # the guest's static address (--ip), where port forwards go; "" = DHCP's
    mounts: tuple[str, ...] = ()  # "HOSTDIR:/guest/path" (absolute host path), for --mount
    mac: str = ""  # the NIC's MAC address (--mac); "" = QEMU's default
    mtu: int = 0  # the NIC's MTU (--mtu); 0 = Ethernet's 1500
    #: the image's meta "stdio": "virtio" (a port per stream), "console" (framed
    #: on the console); "" for a foreign kernel (its console on QEMU's stdio)
    stdio: str = ""


@attrs.frozen
class ClaimedDevice:
    device: Device
    claim: Claim
    instance: int  # index among the devices of the same driver, in tree order

    @property
    def macro_prefix(self) -> str:
        """Prefix of this device's macros in the generated ``board.h``."""
        return f"BOARD_{c_ident(self.claim.driver)}_{self.instance}"


@attrs.frozen
class EmitContext:
    """Everything an emission hook may look at. Read-only."""

    board: Board
    arch: Architecture
    claimed: tuple[ClaimedDevice, ...]
    app_name: str
    program: str | None = None  # "static"/"static-pie": a Linux executable (with the Linux layer); None: a C app

    def devices_of(self, driver: str) -> tuple[ClaimedDevice, ...]:
        return tuple(c for c in self.claimed if c.claim.driver == driver)

    def with_role(self, role: str) -> tuple[ClaimedDevice, ...]:
        return tuple(c for c in self.claimed if c.claim.role == role)


@attrs.frozen
class RunContext:
    """Everything a run hook may look at."""

    board: Board
    arch: Architecture
    claimed: tuple[ClaimedDevice, ...]
    image: str
    options: RunOptions
    meta: Mapping[str, object] = attrs.field(factory=dict)  # the image's metadata (see compose.generate_meta)

    def devices_of(self, driver: str) -> tuple[ClaimedDevice, ...]:
        return tuple(c for c in self.claimed if c.claim.driver == driver)


def c_ident(text: str) -> str:
    """``"isa-debug-exit"`` -> ``"ISA_DEBUG_EXIT"``."""
    out = "".join(ch if ch.isalnum() else "_" for ch in text).upper()
    return out if not out[:1].isdigit() else "_" + out


@attrs.frozen
class Section:
    name: str
    address: int
    size: int
    writable: bool
    executable: bool


@attrs.frozen
class Layout:
    """Where the linker put things: the allocated sections of a linked image
    and the addresses of global symbols. The paging hook receives it on the
    second and later link passes."""

    sections: tuple[Section, ...]
    symbols: Mapping[str, int] = attrs.field(factory=dict)

    def symbol(self, name: str) -> int:
        try:
            return self.symbols[name]
        except KeyError:
            raise KeyError(f"the linked image has no symbol '{name}'") from None
