"""The hook contract between the hermitcore core and its plugins.

Plugins are modules or objects registered under the entry-point group
``hermitcore``; they implement any of the hooks below with
``@hermitcore.hookimpl``. The core always calls hooks with keyword arguments
and calls ``check_pending()`` after loading, so a misspelt hook name is an
error instead of silence.

Phases, in the order the core calls them:

1. registration -- what architectures a plugin implements;
2. selection    -- which architecture serves the board (exactly one answers);
3. devices      -- which plugin drives each device of the board;
4. emission     -- native code and data for boot, paging, interrupts, timers,
                   each claimed device and the services built on them (a
                   TCP/IP stack), as :class:`~hermitcore.model.Fragment`;
5. run          -- QEMU arguments and the meaning of QEMU's exit status.

The core routes every hook (``hermitcore.plugins.Selection``): once a board's
architecture is selected, the other architectures' plugins are never called
for it, and each hook below says which plugins it is called on. A plugin
therefore does not check whether a call is meant for it. Each plugin is
called on its own through pluggy, so the core knows (and error messages
name) who contributed what. A plugin that has nothing to say returns
``None``.
"""

from __future__ import annotations

from hermitcore import hookspec
from hermitcore.model import (
    Architecture,
    Board,
    Claim,
    ClaimedDevice,
    Device,
    EmitContext,
    Fragment,
    Layout,
    QemuArgs,
    RunContext,
)

# --------------------------------------------------------------------------
# 1. registration
# --------------------------------------------------------------------------


@hookspec
def hermitcore_architectures() -> list[Architecture] | None:
    """Return the architectures this plugin implements.

    Called on every plugin, to name what is available when no plugin serves
    a board.
    """


# --------------------------------------------------------------------------
# 2. selection
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def hermitcore_select_arch(board: Board) -> Architecture | None:
    """Return the :class:`Architecture` that serves ``board``, or ``None``.

    :param board: the board being composed or run.

    Called on every plugin that implements it; exactly one must answer (none:
    "no installed plugin implements it"; two: a conflict naming both). The
    one that answers is the board's architecture plugin; the others are left
    out of every later hook for this board.
    """


# --------------------------------------------------------------------------
# 3. devices
# --------------------------------------------------------------------------


@hookspec
def hermitcore_claim_device(board: Board, device: Device) -> Claim | None:
    """Return a :class:`Claim` if this plugin drives ``device``.

    :param board: the board.
    :param device: one device node or PCI function of it.

    Called on the architecture's plugin and every non-architecture plugin,
    once for every device of the board; the core stamps the claim with the
    plugin's name (``Claim.plugin``). Match
    on ``device.compatible`` (device tree) or ``device.pci_id``
    (vendor, device). All results are collected: a device claimed by two
    plugins is an error naming both; a device nobody claims is listed by
    ``hermitcore boards show`` and left out of the image.
    """


@hookspec(firstresult=True)
def hermitcore_interrupt_number(controller: Device, cells: tuple[int, ...]) -> int | None:
    """The number (what the kernel's ``irq_register`` takes) of one interrupt
    specifier of a device, in ``controller``'s own cells -- e.g. the GIC's
    ``<type n flags>``: SPI n+32, PPI n+16; the IOAPIC's ``<pin flags>``.

    :param controller: the interrupt controller the specifier goes to.
    :param cells: its ``#interrupt-cells`` cells.

    Called on the plugin that claimed ``controller``, for every specifier
    of every device, after claiming; the numbers become ``Device.interrupts``.
    """


# --------------------------------------------------------------------------
# 4. emission: each returns a Fragment (or None) that the core compiles in
# --------------------------------------------------------------------------


@hookspec
def hermitcore_emit_boot(ctx: EmitContext) -> Fragment | None:
    """Entry code, boot protocol glue and the linker script.

    :param ctx: the board, its architecture, the claimed devices, the app.

    Called on the architecture's plugin only.

    Exactly one plugin (the board's architecture) must provide a
    ``linker_script``; its entry code records ``boot_first_tick``, reads what
    the VMM handed over (PVH start info, DTB) into a ``struct boot_info`` and
    calls the generic ``kernel_main(struct boot_info *)``. Its
    ``include_dirs`` hold ``<arch/percpu.h>`` with the one inline name the
    core uses, ``arch_this_cpu()``. See "Adding an architecture" in
    docs/architecture.md for the full list of names.
    """


@hookspec
def hermitcore_emit_paging(ctx: EmitContext, layout: Layout | None) -> Fragment | None:
    """Page tables computed at compose time, emitted as data, and the code
    that installs them (CR3 / TTBR0_EL1).

    :param ctx: as for ``hermitcore_emit_boot``.
    :param layout: ``None``, then the linked image's layout.

    Called on the architecture's plugin only.

    Called once with ``layout=None`` (emit tables of the right shape for a
    nominal layout), then again after each link with the image's real
    :class:`~hermitcore.model.Layout` until the emitted sources stop changing,
    so permissions can follow the linked sections exactly (W^X, guard pages).
    """


@hookspec
def hermitcore_emit_interrupts(ctx: EmitContext) -> Fragment | None:
    """Exception vectors, interrupt controller set-up and ``irq_*`` API.

    :param ctx: as for ``hermitcore_emit_boot``.

    Called on the architecture's plugin only.
    """


@hookspec
def hermitcore_emit_timers(ctx: EmitContext) -> Fragment | None:
    """Clock source and timer: ``arch_clock_ns`` and friends.

    :param ctx: as for ``hermitcore_emit_boot``.

    Called on the architecture's plugin only.
    """


@hookspec
def hermitcore_emit_vdso(ctx: EmitContext) -> Fragment | None:
    """The vDSO every Linux program gets (``AT_SYSINFO_EHDR``): C sources and
    the linker script of a shared object with the architecture's entry
    points and version node (x86_64: ``__vdso_clock_gettime``...,
    ``LINUX_2.6``; arm64: ``__kernel_clock_gettime``..., ``LINUX_2.6.39``).

    :param ctx: as for ``hermitcore_emit_boot``.

    Called on the architecture's plugin only, for images that run a Linux
    program. The core builds it apart from the kernel (``hermitcore/vdso.py``:
    ``-fPIC``, ``ld.lld -shared``; no relocations allowed) and embeds it; the
    kernel maps it read+execute with its data page (``struct vdso_data``,
    ``hermit/vdso.h``: the hidden symbol ``vvar``) one page below. ``None``:
    programs get no vDSO and make the system calls.
    """


@hookspec
def hermitcore_emit_device(ctx: EmitContext, claimed: tuple[ClaimedDevice, ...]) -> Fragment | None:
    """Driver code for the devices this plugin claimed.

    :param ctx: as for ``hermitcore_emit_boot``.
    :param claimed: every device of one driver this plugin claimed.

    Called only on the plugin that claimed them, once per driver name, with
    ``claimed`` holding every :class:`~hermitcore.model.ClaimedDevice` of that
    driver. ``ctx.program`` says whether the image runs a Linux executable
    (a driver that only serves the Linux layer, like a NIC, may return
    ``None`` for a C application). Drivers register with ``HERMIT_INIT(level, fn)`` and read their
    addresses and IRQs from the generated ``board.h``
    (``<prefix>_BASE``, ``<prefix>_SIZE``, ``<prefix>_IRQ``, where the prefix
    is ``ClaimedDevice.macro_prefix``).
    """


@hookspec
def hermitcore_emit_services(ctx: EmitContext) -> Fragment | None:
    """Kernel services built on the board's devices rather than drivers of
    them: a TCP/IP stack over a claimed network card, say.

    :param ctx: as for ``hermitcore_emit_boot``; ``ctx.claimed`` says what
        the board's devices became (``ClaimedDevice.claim.role``: "nic",
        "stdio"...).

    Called on every plugin serving the board (the other architectures'
    left out), after the devices' fragments. A service of the Linux layer
    (a socket family, ``SOCKET_FAMILY`` in ``kernel/linux/vfs.h``) returns
    ``None`` when ``ctx.program`` is ``None``.
    """


# --------------------------------------------------------------------------
# 5. run
# --------------------------------------------------------------------------


@hookspec
def hermitcore_qemu_args(ctx: RunContext) -> QemuArgs | None:
    """QEMU arguments this plugin needs for a run of an image on ``ctx.board``.

    :param ctx: the board, its architecture, the claimed devices
        (``ctx.devices_of(driver)``), the run's options and the image's meta.

    Called on the architecture's plugin and on the plugins that claimed a
    device of the board.

    The arch plugin sets ``binary``; device plugins add ``-device`` and
    console wiring (the kernel log's chardev id is
    ``ctx.options.console_chardev``; the standard streams' are
    ``hermitcore.model.STDIO_PORTS``, present when ``ctx.meta["stdio"]`` is
    "virtio": the image has a stream device).
    ``ctx.meta`` is the image's metadata (e.g. ``network``: the TCP/IP stack
    is in) and ``ctx.options`` carries the user's ``--net``, ``--port``,
    ``--mac``, ``--mtu``, ``--capture`` and ``--mount`` (``HOST:/guest`` or
    ``HOST:/guest:ro``) choices.

    The plugin of the exit device sets ``exit_code`` (how QEMU's exit status
    carries the guest's). Answers must depend only on ``ctx`` and files in
    the plugin's own module: `run` keeps them as a run plan (see
    ``runplan.py``), substituting ``ctx.options.workdir`` and
    ``ctx.options.append`` per run.
    """


@hookspec(firstresult=True)
def hermitcore_decode_exit(ctx: RunContext, returncode: int) -> int | None:
    """Translate QEMU's exit status into the guest's exit status, for exit
    devices that a declared ``QemuArgs.exit_code`` cannot describe.

    :param ctx: as for ``hermitcore_qemu_args``.
    :param returncode: QEMU's exit status (negative: killed by a signal).

    Called on the architecture's plugin and on the plugins that claimed a
    device of the board.

    First non-``None`` result wins, before the declared ``exit_code``;
    ``None`` from everyone means QEMU's status is not a guest exit (QEMU
    failed or was killed). Images whose plugins implement this hook are run
    without a cached run plan (the answer is code, not data).
    """
