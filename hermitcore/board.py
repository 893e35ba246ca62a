"""Board descriptors: ``boards/<name>/{board.toml,board.dts,pci.ids}``.

``board.dts`` is compiled with dtc and read back with pyfdt; the devices of
the tree (and the PCI functions it lists as ``pciVVVV,DDDD`` nodes) become
:class:`~hermitcore.model.Device` values that plugins claim.
"""

from __future__ import annotations

import io
import os
import re
import tomllib
from pathlib import Path

import pyfdt.pyfdt as fdt

from hermitcore.errors import BoardError, HermitError
from hermitcore.model import Board, Device, MemoryRange, QemuMachine, Reg
from hermitcore.toolchain import find_tool, run_tool

BOARD_FILES = ("board.toml", "board.dts")


def builtin_boards_dir() -> Path:
    import hermitcore_boards

    return Path(hermitcore_boards.__file__).parent


def board_search_path() -> list[Path]:
    """Built-in boards, then every directory in ``HERMIT_BOARD_PATH``."""
    dirs = [builtin_boards_dir()]
    for entry in os.environ.get("HERMIT_BOARD_PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry))
    return dirs


def available_boards() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in board_search_path():
        if not root.is_dir():
            continue
        for child in sorted(root.iterdir()):
            if (child / "board.toml").is_file() and child.name not in found:
                found[child.name] = child
    return found


def find_board_dir(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if (path / "board.toml").is_file():
        return path
    boards = available_boards()
    if name_or_path in boards:
        return boards[name_or_path]
    known = ", ".join(sorted(boards)) or "(none)"
    raise BoardError(f"unknown board '{name_or_path}'; known boards: {known}")


def load_board(name_or_path: str) -> Board:
    directory = find_board_dir(name_or_path)
    meta = _read_meta(directory)
    dts = directory / "board.dts"
    if not dts.is_file():
        raise BoardError(f"board '{directory.name}': {dts} is missing")
    dtb = compile_dts(dts)
    pci_names = parse_pci_ids(directory / "pci.ids")
    tree = parse_dtb(dtb)
    devices = extract_devices(tree, pci_names, dts)
    memory = extract_memory(tree)
    cpus = sum(
        1
        for name, node in _children(tree.get_rootnode())
        if name == "cpus"
        for child_name, child in _children(node)
        if _prop_str(child, "device_type") == "cpu"
    )
    qemu = meta["qemu"]
    machine = QemuMachine(
        machine=qemu["machine"],
        cpu=qemu.get("cpu", "max"),
        default_mem_mib=qemu.get("mem", 128),
        extra_args=tuple(qemu.get("args", ())),
    )
    return Board(
        name=directory.name,
        arch=meta["arch"],
        description=meta.get("description", ""),
        directory=str(directory),
        dtb=dtb,
        devices=tuple(devices),
        memory=tuple(memory),
        cpus=max(cpus, 1),
        qemu=machine,
        pci_names=pci_names,
    )


#: board.toml: key -> (type, required, what a value must be)
_META_KEYS = {
    "arch": (str, True, "an architecture name such as \"x86_64\""),
    "description": (str, False, "a string"),
    "qemu": (dict, True, "a table with at least machine = \"...\""),
}
_QEMU_KEYS = {
    "machine": (str, True, "a QEMU machine such as \"virt\""),
    "cpu": (str, False, "a QEMU CPU model such as \"max\""),
    "mem": (int, False, "a number of MiB, at least 1"),
    "args": (list, False, "a list of strings (extra QEMU arguments)"),
}


def _check_meta(path: Path, meta: dict) -> None:
    """Every key board.toml may have, of the right type: one line naming
    the first that is not."""
    for table, keys, prefix in ((meta, _META_KEYS, ""), (meta.get("qemu"), _QEMU_KEYS, "qemu.")):
        if not isinstance(table, dict):
            return  # reported for the table itself
        for key, (kind, required, what) in keys.items():
            if key not in table:
                if required:
                    raise BoardError(f"{path}: missing key '{prefix}{key}' ({what})")
                continue
            value = table[key]
            ok = isinstance(value, kind) and not isinstance(value, bool)
            if ok and kind is str:
                ok = bool(value.strip()) or key == "description"
            if ok and kind is int:
                ok = 1 <= value <= 1 << 20
            if ok and kind is list:
                ok = all(isinstance(a, str) for a in value)
            if not ok:
                raise BoardError(f"{path}: '{prefix}{key}' must be {what}, not {value!r}"[:300])


def _read_meta(directory: Path) -> dict:
    path = directory / "board.toml"
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BoardError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise BoardError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{path}: {exc}") from None
    _check_meta(path, meta)
    return meta


def compile_dts(dts: Path) -> bytes:
    """dts -> dtb with dtc; a syntax error becomes ``file:line: message``."""
    dtc = find_tool("dtc")
    try:
        return run_tool([dtc, "-q", "-I", "dts", "-O", "dtb", "-o", "-", str(dts)], "dtc")
    except HermitError as exc:
        # dtc: "Error: path/board.dts:12.5-6 syntax error" -> path/board.dts:12: syntax error
        for line in str(exc).splitlines():
            m = re.match(r"(?:Error|ERROR): (.+?):(\d+)(?:\.\d+(?:-[\d.]+)?)? (.*)", line)
            if m:
                raise BoardError(f"{m.group(1)}:{m.group(2)}: {m.group(3)}") from None
        raise BoardError(f"{dts}: {exc}") from None


def parse_dtb(dtb: bytes) -> fdt.Fdt:
    return fdt.FdtBlobParse(io.BytesIO(dtb)).to_fdt()


def parse_pci_ids(path: Path) -> dict[tuple[int, int], str]:
    """Parse a table in the ``pci.ids`` format into {(vendor, device): name}."""
    names: dict[tuple[int, int], str] = {}
    if not path.is_file():
        return names
    vendor = None
    vendor_name = ""
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        m = re.match(r"^([0-9a-fA-F]{4})\s+(.*)$", raw)
        if m:
            vendor, vendor_name = int(m.group(1), 16), m.group(2).strip()
            continue
        m = re.match(r"^\t([0-9a-fA-F]{4})\s+(.*)$", raw)
        if m and vendor is not None:
            names[(vendor, int(m.group(1), 16))] = f"{vendor_name} {m.group(2).strip()}"
            continue
        if raw.startswith("\t\t") or raw.startswith("C "):
            continue  # subsystems and class lists are not used
        raise BoardError(f"{path}:{lineno}: not in pci.ids format: {raw.strip()!r}")
    return names


# -- tree walking -----------------------------------------------------------


def _children(node):
    for item in node:
        if isinstance(item, fdt.FdtNode):
            yield item.get_name(), item


def _prop(node, name):
    for item in node:
        if isinstance(item, fdt.FdtProperty) and not isinstance(item, fdt.FdtNode):
            if item.get_name() == name:
                return item
    return None


def _prop_str(node, name) -> str | None:
    p = _prop(node, name)
    if isinstance(p, fdt.FdtPropertyStrings):
        return p[0]
    return None


def _prop_strings(node, name) -> tuple[str, ...]:
    p = _prop(node, name)
    if isinstance(p, fdt.FdtPropertyStrings):
        return tuple(p[i] for i in range(len(p)))
    return ()


def _prop_words(node, name) -> tuple[int, ...] | None:
    p = _prop(node, name)
    if isinstance(p, fdt.FdtPropertyWords):
        return tuple(p[i] for i in range(len(p)))
    if p is not None and not isinstance(p, (fdt.FdtPropertyStrings,)):
        return ()  # empty property (e.g. "ranges;")
    return None


#: the cell counts the walk accepts, as Linux's of_n_addr_cells and the DT spec
_CELL_LIMITS = {"#address-cells": (0, 3), "#size-cells": (0, 2), "#interrupt-cells": (1, 4)}


def _cells(node, name, default):
    """A node's #address-cells, #size-cells or #interrupt-cells, in the
    range the tree walk can use (a BoardError otherwise)."""
    words = _prop_words(node, name)
    if not words:
        return default
    lo, hi = _CELL_LIMITS[name]
    if not lo <= words[0] <= hi:
        raise BoardError(f"node '{node.get_name() or '/'}': {name} = <{words[0]:#x}>, expected {lo} to {hi}")
    return words[0]


def _join(words: tuple[int, ...]) -> int:
    value = 0
    for w in words:
        value = (value << 32) | w
    return value


def extract_memory(tree) -> list[MemoryRange]:
    root = tree.get_rootnode()
    ac, sc = _cells(root, "#address-cells", 2), _cells(root, "#size-cells", 1)
    out = []
    for name, node in _children(root):
        if _prop_str(node, "device_type") == "memory" or name.split("@")[0] == "memory":
            words = _prop_words(node, "reg") or ()
            step = ac + sc
            for i in range(0, len(words) - step + 1, step):
                out.append(MemoryRange(_join(words[i : i + ac]), _join(words[i + ac : i + step])))
    return sorted(out, key=lambda r: r.base)


_BUS_COMPATIBLES = {"isa", "simple-bus"}
_NOT_DEVICES = {"cpus", "memory", "chosen", "aliases", "reserved-memory"}


def extract_devices(tree, pci_names, dts_path: Path) -> list[Device]:
    root = tree.get_rootnode()
    phandles: dict[int, object] = {}
    parents: dict[int, object] = {}

    def index(node):
        ph = _prop_words(node, "phandle")
        if ph:
            phandles[ph[0]] = node
        for _, child in _children(node):
            parents[id(child)] = node
            index(child)

    index(root)
    dts_lines = _node_lines(dts_path)
    devices: list[Device] = []

    def interrupt_parent(node):
        cur = node
        while cur is not None:
            ip = _prop_words(cur, "interrupt-parent")
            if ip:
                return phandles.get(ip[0])
            cur = parents.get(id(cur))
        return None

    def irqs(node) -> tuple[int, ...]:
        cells = _prop_words(node, "interrupts")
        if not cells:
            return ()
        ctrl = interrupt_parent(node)
        n = _cells(ctrl, "#interrupt-cells", 1) if ctrl is not None else 1
        compat = _prop_strings(ctrl, "compatible") if ctrl is not None else ()
        out = []
        for i in range(0, len(cells) - n + 1, n):
            group = cells[i : i + n]
            if any(c in ("arm,cortex-a15-gic", "arm,gic-400", "arm,gic-v3") for c in compat) and n >= 3:
                # GIC binding: <type number flags>; SPI ids start at 32, PPI at 16
                out.append(group[1] + (32 if group[0] == 0 else 16))
            else:
                out.append(group[0])
        return tuple(out)

    def walk(node, path, ac, sc, translate, bus_kind):
        for name, child in _children(node):
            child_path = f"{path}/{name}" if path != "/" else f"/{name}"
            if path == "/" and name.split("@")[0] in _NOT_DEVICES:
                continue
            if _prop_str(child, "status") in ("disabled", "fail"):
                continue
            compatible = _prop_strings(child, "compatible")
            regs, pci_id = [], None
            words = _prop_words(child, "reg") or ()
            step = ac + sc
            for i in range(0, len(words) - step + 1, step) if step else ():  # no address cells: no reg
                addr_cells = words[i : i + ac]
                size = _join(words[i + ac : i + step])
                if bus_kind == "isa":
                    space = "io" if addr_cells[0] & 1 else "mmio"
                    regs.append(Reg(_join(addr_cells[1:]), size, space))
                elif bus_kind == "pci":
                    pass  # config-space address; BARs are assigned at run time
                else:
                    regs.append(Reg(translate(_join(addr_cells)), size))
            for c in compatible:
                m = re.fullmatch(r"pci([0-9a-fA-F]{4}),([0-9a-fA-F]{4})", c)
                if m:
                    pci_id = (int(m.group(1), 16), int(m.group(2), 16))
                    break
            if compatible and not set(compatible) & _BUS_COMPATIBLES:
                devices.append(
                    Device(
                        path=child_path,
                        compatible=compatible,
                        regs=tuple(regs),
                        interrupts=irqs(child),
                        pci_id=pci_id,
                        pci_name=pci_names.get(pci_id) if pci_id else None,
                        line=dts_lines.get(name),
                    )
                )
            # descend into buses
            cac = _cells(child, "#address-cells", None)
            csc = _cells(child, "#size-cells", None)
            if cac is None and any(True for _ in _children(child)):
                # e.g. the device behind a virtio transport (an mmio slot or a
                # PCI function): a child node with compatible "virtio,deviceN"
                # and no reg (Linux's binding)
                cac, csc = 0, 0
            if cac is None:
                continue
            kind = "simple"
            if _prop_str(child, "device_type") == "pci":
                kind = "pci"
            elif "isa" in compatible:
                kind = "isa"
                if cac < 2:
                    raise BoardError(f"{dts_path}:{dts_lines.get(name, 1)}: ISA bus '{name}' needs #address-cells = <2> "
                                     "(<space address>)")
            ranges = _prop_words(child, "ranges")
            child_translate = _make_translate(ranges, cac, ac, csc, translate)
            walk(child, child_path, cac, csc if csc is not None else 1, child_translate, kind)

    walk(root, "/", _cells(root, "#address-cells", 2), _cells(root, "#size-cells", 1), lambda a: a, "simple")
    return devices


def _make_translate(ranges, cac, pac, csc, parent_translate):
    if not ranges:  # empty or absent: identity (absent is strictly "not mapped")
        return parent_translate
    step = cac + pac + (csc or 1)
    windows = []
    for i in range(0, len(ranges) - step + 1, step):
        child = _join(ranges[i : i + cac])
        parent = _join(ranges[i + cac : i + cac + pac])
        size = _join(ranges[i + cac + pac : i + step])
        windows.append((child, parent, size))

    def translate(addr):
        for child, parent, size in windows:
            if child <= addr < child + size:
                return parent_translate(parent + addr - child)
        return parent_translate(addr)

    return translate


def _node_lines(dts: Path) -> dict[str, int]:
    """node name -> line in board.dts where it opens (first occurrence)."""
    lines: dict[str, int] = {}
    try:
        text = dts.read_text()
    except OSError:
        return lines
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*(?:[\w-]+:\s*)?([\w,.+-]+(?:@[\w,]+)?)\s*\{", line)
        if m:
            lines.setdefault(m.group(1), n)
    return lines
