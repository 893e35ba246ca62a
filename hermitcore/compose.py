"""Composition: board + plugins (+ application) -> ImageSpec -> kernel ELF.

The core asks every plugin, hook by hook, what it contributes; it generates
``board.h`` and the image metadata itself; then the build stage compiles and
links everything (content-hash cached).
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

import attrs
import pluggy

from hermitcore import __version__, linux_abi
from hermitcore.board import load_board
from hermitcore.build import BuildResult, build_image
from hermitcore.errors import HermitError, ImageError, PluginError
from hermitcore.model import (
    Architecture,
    Board,
    ClaimedDevice,
    EmitContext,
    Fragment,
    Source,
    c_ident,
)
from hermitcore.plugins import make_plugin_manager
from hermitcore.program import Program, cpio_from_dir, inspect_program, is_elf, read_initrd

EMIT_PHASES = ("boot", "paging", "interrupts", "timers")
KERNEL_SOURCES = (
    "main.c", "init.c", "console.c", "printk.c", "string.c", "exit.c", "fdt.c", "trap.c", "irq.c", "timer.c",
    "mm.c", "heap.c", "sched.c", "iowait.c", "virtio.c", "netdev.c", "pci.c",
)
LINUX_SOURCES = ("linux.h", "loader.c", "vm.c", "fs.c", "locks.c", "p9.c", "poll.c", "sys.c", "thread.c", "syscall.c")
META_SECTION = ".hermit.meta"

#: the program and its file tree, in the image's .app section (see kernel.ld)
APP_S = """    .section .app, "a", %progbits
    .p2align 12
    .globl app_elf
app_elf:
    .incbin "app.elf.bin"
    .globl app_elf_end
app_elf_end:
    .p2align 3
    .globl app_files
app_files:
    .incbin "files.cpio.bin"
    .globl app_files_end
app_files_end:
"""


@attrs.frozen
class ImageSpec:
    """Everything that determines the image: the build is a pure function of it."""

    board: Board
    arch: Architecture
    app_name: str
    fragments: tuple[tuple[str, str, Fragment], ...]  # (phase, plugin, fragment)
    generated: tuple[Source, ...]
    core: tuple[Source, ...]
    program: str | None = None  # the Linux executable's kind, or None for a C application

    @property
    def plugins(self) -> tuple[str, ...]:
        seen: list[str] = []
        for _, plugin, _ in self.fragments:
            if plugin not in seen:
                seen.append(plugin)
        return tuple(seen)


@attrs.frozen
class ComposeResult:
    spec: ImageSpec
    build: BuildResult
    seconds: float
    claimed: tuple[ClaimedDevice, ...]
    unclaimed: tuple


def call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> list[tuple[str, object]]:
    """Call every implementation of a hook; return (plugin name, result) pairs
    for non-None results, so the core can say who contributed what."""
    caller = getattr(pm.hook, hook_name)
    out = []
    for impl in reversed(caller.get_hookimpls()):
        try:
            result = impl.function(**{name: kwargs[name] for name in impl.argnames})
        except HermitError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin '{impl.plugin_name}' failed in {hook_name}: {type(exc).__name__}: {exc}"
            ) from exc
        if result is not None:
            out.append((impl.plugin_name, result))
    return out


def select_arch(pm: pluggy.PluginManager, board: Board) -> Architecture:
    arch = pm.hook.hermitcore_select_arch(board=board)
    if arch is None:
        archs = sorted({a.name for _, lst in call_each(pm, "hermitcore_architectures") for a in lst})
        raise PluginError(
            f"board '{board.name}' needs architecture '{board.arch}', but no installed plugin "
            f"implements it (available: {', '.join(archs) or 'none'})"
        )
    return arch


def claim_devices(pm: pluggy.PluginManager, board: Board):
    """Ask every plugin about every device. Returns (claimed, unclaimed)."""
    claimed: list[ClaimedDevice] = []
    unclaimed = []
    per_driver: dict[str, int] = {}
    driver_owner: dict[str, str] = {}
    for device in board.devices:
        claims = [
            (plugin, attrs.evolve(claim, plugin=plugin))
            for plugin, claim in call_each(pm, "hermitcore_claim_device", board=board, device=device)
        ]
        if len(claims) > 1:
            who = " and ".join(f"'{p}' (driver {c.driver})" for p, c in claims)
            raise PluginError(f"device {device.path} ({device.describe()}) is claimed by two plugins: {who}")
        if not claims:
            unclaimed.append(device)
            continue
        plugin, claim = claims[0]
        owner = driver_owner.setdefault(claim.driver, plugin)
        if owner != plugin:
            raise PluginError(
                f"driver name '{claim.driver}' is used by two plugins: '{owner}' and '{plugin}'"
            )
        instance = per_driver.get(claim.driver, 0)
        per_driver[claim.driver] = instance + 1
        claimed.append(ClaimedDevice(device=device, claim=claim, instance=instance))
    return tuple(claimed), tuple(unclaimed)


def generate_board_h(board: Board, arch: Architecture, claimed, app_name: str) -> str:
    lines = [
        "/* Generated by hermitcore from the board's device tree. Do not edit. */",
        "#pragma once",
        f'#define BOARD_NAME "{board.name}"',
        f'#define BOARD_ARCH "{arch.name}"',
        f"#define BOARD_RAM_BASE {board.ram_base:#x}",
        f'#define HERMIT_VERSION "{__version__}"',
        f"#define HERMIT_APP_NAME {json.dumps(app_name)}",
        "",
    ]
    for c in claimed:
        prefix = c.macro_prefix
        lines.append(f"/* {c.device.path}: {c.device.describe()} -> {c.claim.plugin}/{c.claim.driver} */")
        for i, reg in enumerate(c.device.regs):
            suffix = "" if i == 0 else f"_{i}"
            lines.append(f"#define {prefix}_BASE{suffix} {reg.address:#x}")
            lines.append(f"#define {prefix}_SIZE{suffix} {reg.size:#x}")
            lines.append(f"#define {prefix}_IO{suffix} {1 if reg.space == 'io' else 0}")
        for i, irq in enumerate(c.device.interrupts):
            lines.append(f"#define {prefix}_IRQ{'' if i == 0 else f'_{i}'} {irq}")
        lines.append(f"#define BOARD_HAS_{c_ident(c.claim.driver)} 1")
        lines.append("")
    return "\n".join(lines) + "\n"


def generate_meta(
    board: Board, arch: Architecture, plugins, app_name: str, program: str | None = None, network: bool = False
) -> str:
    meta = {
        "hermitcore": __version__,
        "board": board.name,
        "board_dir": board.directory,
        "arch": arch.name,
        "app": app_name,
        "plugins": list(plugins),
        "program": program,  # "static" / "static-pie": a Linux executable; None: a built-in C app
        "network": network,  # the kernel's TCP/IP stack is in (run adds the network card)
    }
    text = json.dumps(meta, sort_keys=True)
    return (
        f'    .section {META_SECTION}, "", %progbits\n'
        f"    .ascii {json.dumps(text)}\n"
    )


def kernel_sources() -> tuple[Source, ...]:
    root = resources.files("hermitcore") / "kernel"
    out = [Source(f"kernel/{name}", (root / name).read_text()) for name in KERNEL_SOURCES]
    inc = root / "include" / "hermit"
    for entry in sorted(inc.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".h"):
            out.append(Source(f"kernel/include/hermit/{entry.name}", entry.read_text()))
    return tuple(out)


BUILTIN_APPS = ("hello", "selftest")


def app_source(app: str | None, builtin: str = "hello") -> tuple[str, Source]:
    """The application compiled into the image: a built-in one (``hello``,
    or ``selftest``: the in-guest kernel self-tests), or a C file."""
    if app is None:
        if builtin not in BUILTIN_APPS:
            raise ImageError(f"no built-in application '{builtin}' (have: {', '.join(BUILTIN_APPS)})")
        text = (resources.files("hermitcore") / "apps" / f"{builtin}.c").read_text()
        return builtin, Source(f"app/{builtin}.c", text)
    path = Path(app)
    if not path.is_file():
        raise ImageError(f"application '{app}' not found")
    data = path.read_bytes()
    if path.suffix != ".c":
        raise ImageError(f"{app}: not a C source file (.c) or an ELF executable")
    return path.stem, Source(f"app/{path.name}", data.decode(errors="replace"))


def linux_sources(arch: Architecture, program: Program, files: bytes, net: bool) -> tuple[Source, ...]:
    """The Linux layer (with sockets over the network stack when ``net``),
    its syscall table for ``arch``, and the program with its file tree as
    binary blobs."""
    root = resources.files("hermitcore") / "kernel" / "linux"
    names = LINUX_SOURCES + (("net.c",) if net else ("net_none.c",))
    out = [Source(f"kernel/linux/{name}", (root / name).read_text()) for name in names]
    out += [
        Source("kernel/linux/syscall_table.c", linux_abi.c_source(arch.name)),
        Source("generated/app.S", APP_S),
        Source("generated/app.elf.bin", "", data=program.data),
        Source("generated/files.cpio.bin", "", data=files),
    ]
    return tuple(out)


def make_spec(
    pm: pluggy.PluginManager,
    board: Board,
    app: str | None = None,
    builtin: str = "hello",
    files: str | None = None,
    initrd: str | None = None,
    progress=None,
):
    arch = select_arch(pm, board)
    claimed, unclaimed = claim_devices(pm, board)
    program = None
    net = any(c.claim.role == "nic" for c in claimed)
    if app is not None and Path(app).is_file() and is_elf(app):
        program = inspect_program(app, arch.name, board.name)
        if files and initrd:
            raise ImageError("give --files or --initrd, not both")
        archive = cpio_from_dir(files) if files else read_initrd(initrd) if initrd else b""
        app_name = program.name
        app_srcs = linux_sources(arch, program, archive, net)
    else:
        if files or initrd:
            raise ImageError("--files and --initrd are for Linux executables; a C application has no file system")
        app_name, app_src = app_source(app, builtin)
        app_srcs = (app_src,)
    ctx = EmitContext(board=board, arch=arch, claimed=claimed, app_name=app_name,
                      program=program.kind if program else None)

    fragments: list[tuple[str, str, Fragment]] = []
    for phase in EMIT_PHASES:
        for plugin, frag in call_each(pm, f"hermitcore_emit_{phase}", ctx=ctx, layout=None):
            fragments.append((phase, plugin, _check_fragment(plugin, frag)))
    by_driver: dict[str, list[ClaimedDevice]] = {}
    for c in claimed:
        by_driver.setdefault(c.claim.driver, []).append(c)
    for driver, group in by_driver.items():
        owner = pm.get_plugin(group[0].claim.plugin)
        others = [p for p in pm.get_plugins() if p is not owner]
        caller = pm.subset_hook_caller("hermitcore_emit_device", remove_plugins=others)
        for frag in caller(ctx=ctx, claimed=tuple(group)):
            if frag is not None:
                fragments.append(("device", group[0].claim.plugin, _check_fragment(group[0].claim.plugin, frag)))

    if program is not None and net:
        # sockets for a Linux program on a board with a network card: the
        # kernel's TCP/IP stack (hermitcore/netstack.py) goes in
        from hermitcore import netstack

        fragments.append(("net", "hermitcore", netstack.fragment(progress)))

    scripts = [(p, f) for _, p, f in fragments if f.linker_script]
    if len(scripts) != 1:
        who = ", ".join(p for p, _ in scripts) or "none"
        raise PluginError(f"exactly one plugin must provide the linker script; got: {who}")

    plugins = []
    for _, p, _ in fragments:
        if p not in plugins:
            plugins.append(p)
    generated = (
        Source("generated/board.h", generate_board_h(board, arch, claimed, app_name)),
        Source("generated/meta.S", generate_meta(board, arch, plugins, app_name, program.kind if program else None,
                                                 network=program is not None and net)),
    )
    spec = ImageSpec(
        board=board,
        arch=arch,
        app_name=app_name,
        fragments=tuple(fragments),
        generated=generated,
        core=kernel_sources() + app_srcs,
        program=program.kind if program else None,
    )
    return spec, claimed, unclaimed


def _check_fragment(plugin: str, frag) -> Fragment:
    if not isinstance(frag, Fragment):
        raise PluginError(f"plugin '{plugin}' returned {type(frag).__name__}, expected a Fragment")
    return frag


def compose(
    board_name: str,
    app: str | None = None,
    pm: pluggy.PluginManager | None = None,
    progress=None,
    builtin: str = "hello",
    files: str | None = None,
    initrd: str | None = None,
) -> ComposeResult:
    start = time.perf_counter()
    pm = pm or make_plugin_manager()
    board = load_board(board_name)
    spec, claimed, unclaimed = make_spec(pm, board, app, builtin, files, initrd, progress)
    ctx = EmitContext(board=board, arch=spec.arch, claimed=claimed, app_name=spec.app_name,
                      program=spec.program)
    final: list = []

    def relink(layout):
        """Page tables again, now from the linked image's sections."""
        sources = []
        final.clear()
        for plugin, frag in call_each(pm, "hermitcore_emit_paging", ctx=ctx, layout=layout):
            frag = _check_fragment(plugin, frag)
            final.append((plugin, frag))
            sources.extend(frag.sources)
        return sources

    build = build_image(spec, progress=progress, relink=relink)
    if build.cached:
        from hermitcore.build import read_layout

        relink(read_layout(build.image))
    if final:  # show the layout-accurate paging summary, not the nominal one
        first = [(ph, p, f) for ph, p, f in spec.fragments if ph != "paging"]
        spec = attrs.evolve(spec, fragments=tuple(first + [("paging", p, f) for p, f in final]))
    return ComposeResult(
        spec=spec,
        build=build,
        seconds=time.perf_counter() - start,
        claimed=claimed,
        unclaimed=unclaimed,
    )
