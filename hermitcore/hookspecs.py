"""The hook contract between the hermitcore core and its plugins.

Plugins are modules or objects registered under the entry-point group
``hermitcore``; they implement any of the hooks below with
``@hermitcore.hookimpl``. The core always calls hooks with keyword arguments
and calls ``check_pending()`` after loading, so a misspelt hook name is an
error instead of silence.

Phases, in the order the core calls them:

1. registration -- what architectures a plugin implements;
2. selection    -- which architecture serves the board (first result wins);
3. devices      -- which plugin drives each device of the board;
4. emission     -- native code and data for boot, paging, interrupts, timers
                   and each claimed device, as :class:`~hermitcore.model.Fragment`;
5. run          -- QEMU arguments and the meaning of QEMU's exit status.

A plugin that has nothing to say for a board returns ``None``.
"""

from __future__ import annotations

from hermitcore import hookspec
from hermitcore.model import (
    Architecture,
    Board,
    Claim,
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

    Called once per composition and by ``hermitcore plugins``. All results
    are collected; two plugins announcing the same architecture name is a
    conflict.
    """


# --------------------------------------------------------------------------
# 2. selection
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def hermitcore_select_arch(board: Board) -> Architecture | None:
    """Return the :class:`Architecture` that serves ``board``, or ``None``.

    First non-``None`` result wins. An arch plugin answers for boards whose
    ``board.arch`` is its own name.
    """


# --------------------------------------------------------------------------
# 3. devices
# --------------------------------------------------------------------------


@hookspec
def hermitcore_claim_device(board: Board, device: Device) -> Claim | None:
    """Return a :class:`Claim` if this plugin drives ``device``.

    Called once for every device node and PCI function of the board. Match
    on ``device.compatible`` (device tree) or ``device.pci_id``
    (vendor, device). All results are collected: a device claimed by two
    plugins is an error naming both; a device nobody claims is listed by
    ``hermitcore boards show`` and left out of the image.
    """


# --------------------------------------------------------------------------
# 4. emission: each returns a Fragment (or None) that the core compiles in
# --------------------------------------------------------------------------


@hookspec
def hermitcore_emit_boot(ctx: EmitContext) -> Fragment | None:
    """Entry code, boot protocol glue and the linker script.

    Exactly one plugin (the board's architecture) must provide a
    ``linker_script``; its entry code records ``boot_first_tick``, reads what
    the VMM handed over (PVH start info, DTB) into a ``struct boot_info`` and
    calls the generic ``kernel_main(struct boot_info *)``. See "Adding an
    architecture" in docs/architecture.md for the full list of names.
    """


@hookspec
def hermitcore_emit_paging(ctx: EmitContext, layout: Layout | None) -> Fragment | None:
    """Page tables computed at compose time, emitted as data, and the code
    that installs them (CR3 / TTBR0_EL1).

    Called once with ``layout=None`` (emit tables of the right shape for a
    nominal layout), then again after each link with the image's real
    :class:`~hermitcore.model.Layout` until the emitted sources stop changing,
    so permissions can follow the linked sections exactly (W^X, guard pages).
    """


@hookspec
def hermitcore_emit_interrupts(ctx: EmitContext) -> Fragment | None:
    """Exception vectors, interrupt controller set-up and ``irq_*`` API."""


@hookspec
def hermitcore_emit_timers(ctx: EmitContext) -> Fragment | None:
    """Clock source and timer: ``arch_clock_ns`` and friends."""


@hookspec
def hermitcore_emit_device(ctx: EmitContext, claimed: tuple) -> Fragment | None:
    """Driver code for the devices this plugin claimed.

    Called only on the plugin that claimed them, once per driver name, with
    ``claimed`` holding every :class:`~hermitcore.model.ClaimedDevice` of that
    driver. ``ctx.program`` says whether the image runs a Linux executable
    (a driver that only serves the Linux layer, like a NIC, may return
    ``None`` for a C application). Drivers register with ``HERMIT_INIT(level, fn)`` and read their
    addresses and IRQs from the generated ``board.h``
    (``<prefix>_BASE``, ``<prefix>_SIZE``, ``<prefix>_IRQ``, where the prefix
    is ``ClaimedDevice.macro_prefix``).
    """


# --------------------------------------------------------------------------
# 5. run
# --------------------------------------------------------------------------


@hookspec
def hermitcore_qemu_args(ctx: RunContext) -> QemuArgs | None:
    """QEMU arguments this plugin needs for a run of an image on ``ctx.board``.

    The arch plugin sets ``binary``; device plugins add ``-device`` and
    console wiring (the console chardev id is ``ctx.options.console_chardev``).
    ``ctx.meta`` is the image's metadata (e.g. ``network``: the TCP/IP stack
    is in) and ``ctx.options`` carries the user's ``--net``, ``--port``,
    ``--capture`` and ``--mount`` choices.

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

    First non-``None`` result wins, before the declared ``exit_code``;
    ``None`` from everyone means QEMU's status is not a guest exit (QEMU
    failed or was killed). Images whose plugins implement this hook are run
    without a cached run plan (the answer is code, not data).
    """
