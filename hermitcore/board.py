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
from hermitcore.model import Board, Device, Interrupt, MemoryRange, QemuMachine, Reg
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
    tree = Tree(dtb, dts)
    devices = extract_devices(tree, pci_names)
    memory = extract_memory(tree)
    cpus = count_cpus(tree)
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


# -- the tree: a node layer over pyfdt ------------------------------------------


#: the cell counts the walk accepts, as Linux's of_n_addr_cells and the DT spec
_CELL_LIMITS = {"#address-cells": (0, 3), "#size-cells": (0, 2), "#interrupt-cells": (1, 4)}


class Node:
    """One node of the board's device tree: its path, parent and children,
    its properties typed, and its line in board.dts (from dtc's own source
    annotations), so an error names both (``BoardError``)."""

    __slots__ = ("raw", "name", "path", "parent", "dts", "line")

    def __init__(self, raw, name: str, path: str, parent, dts: Path, lines: dict[str, int]):
        self.raw, self.name, self.path, self.parent, self.dts = raw, name, path, parent, dts
        self.line = lines.get(path)

    def children(self, lines: dict[str, int]):
        for item in self.raw:
            if isinstance(item, fdt.FdtNode):
                name = item.get_name()
                yield Node(item, name, f"{self.path.rstrip('/')}/{name}", self, self.dts, lines)

    def _prop(self, name):
        for item in self.raw:
            if isinstance(item, fdt.FdtProperty) and not isinstance(item, fdt.FdtNode) and item.get_name() == name:
                return item
        return None

    def strings(self, name: str) -> tuple[str, ...]:
        p = self._prop(name)
        return tuple(p[i] for i in range(len(p))) if isinstance(p, fdt.FdtPropertyStrings) else ()

    def string(self, name: str) -> str | None:
        found = self.strings(name)
        return found[0] if found else None

    def words(self, name: str) -> tuple[int, ...] | None:
        """A property's 32-bit cells; () for an empty one (``ranges;``), None if absent."""
        p = self._prop(name)
        if isinstance(p, fdt.FdtPropertyWords):
            return tuple(p[i] for i in range(len(p)))
        if p is not None and not isinstance(p, fdt.FdtPropertyStrings):
            return ()
        return None

    def cells(self, name: str, default):
        """#address-cells, #size-cells or #interrupt-cells, in the range the
        walk can use."""
        words = self.words(name)
        if not words:
            return default
        lo, hi = _CELL_LIMITS[name]
        if not lo <= words[0] <= hi:
            raise self.error(f"{name} = <{words[0]:#x}>, expected {lo} to {hi}")
        return words[0]

    @property
    def compatible(self) -> tuple[str, ...]:
        return self.strings("compatible")

    def error(self, message: str) -> BoardError:
        where = f"{self.dts}:{self.line}: " if self.line else f"{self.dts}: "
        return BoardError(f"{where}node '{self.path}': {message}")


class Tree:
    """The tree with its source positions and phandles."""

    def __init__(self, dtb: bytes, dts: Path):
        self.lines = source_lines(dts)
        self.root = Node(parse_dtb(dtb).get_rootnode(), "", "/", None, dts, self.lines)
        self.phandles: dict[int, Node] = {}
        self._index(self.root)

    def _index(self, node: Node) -> None:
        ph = node.words("phandle")
        if ph:
            self.phandles[ph[0]] = node
        for child in node.children(self.lines):
            self._index(child)

    def children(self, node: Node):
        return node.children(self.lines)

    def interrupt_parent(self, node: Node) -> Node | None:
        cur = node
        while cur is not None:
            ip = cur.words("interrupt-parent")
            if ip:
                return self.phandles.get(ip[0])
            cur = cur.parent
        return None


def source_lines(dts: Path) -> dict[str, int]:
    """Node path -> the line of board.dts where it opens, from dtc's own
    source annotations (``dtc -O dts -T``), so nodes of the same name under
    different parents keep their own lines."""
    try:
        out = run_tool([find_tool("dtc"), "-q", "-I", "dts", "-O", "dts", "-T", "-o", "-", str(dts)], "dtc")
    except HermitError:
        return {}
    lines: dict[str, int] = {}
    stack: list[str] = []
    for text in out.decode(errors="replace").splitlines():
        m = re.match(r"\s*(?:[\w-]+:\s*)*([^\s{]+)\s*\{\s*/\* \S+?:(\d+)", text)
        if m:
            stack.append(m.group(1))
            path = "/" if stack == ["/"] else "/" + "/".join(stack[1:])
            lines.setdefault(path, int(m.group(2)))
        elif text.strip().startswith("};") and stack:
            stack.pop()
    return lines


def _join(words: tuple[int, ...]) -> int:
    value = 0
    for w in words:
        value = (value << 32) | w
    return value


def extract_memory(tree: Tree) -> list[MemoryRange]:
    root = tree.root
    ac, sc = root.cells("#address-cells", 2), root.cells("#size-cells", 1)
    out = []
    for node in tree.children(root):
        if node.string("device_type") == "memory" or node.name.split("@")[0] == "memory":
            words = node.words("reg") or ()
            step = ac + sc
            for i in range(0, len(words) - step + 1, step):
                out.append(MemoryRange(_join(words[i : i + ac]), _join(words[i + ac : i + step])))
    return sorted(out, key=lambda r: r.base)


def count_cpus(tree: Tree) -> int:
    return sum(1 for node in tree.children(tree.root) if node.name == "cpus"
               for cpu in tree.children(node) if cpu.string("device_type") == "cpu")


_BUS_COMPATIBLES = {"isa", "simple-bus"}
_NOT_DEVICES = {"cpus", "memory", "chosen", "aliases", "reserved-memory"}
def _interrupts(tree: Tree, node: Node) -> tuple[Interrupt, ...]:
    """The node's interrupt specifiers: its controller and, per interrupt,
    that controller's #interrupt-cells cells (what they mean is the
    controller's plugin's business)."""
    cells = node.words("interrupts")
    if not cells:
        return ()
    ctrl = tree.interrupt_parent(node)
    n = ctrl.cells("#interrupt-cells", 1) if ctrl is not None else 1
    where = ctrl.path if ctrl is not None else ""
    return tuple(Interrupt(where, tuple(cells[i : i + n])) for i in range(0, len(cells) - n + 1, n))


def _regs(node: Node, ac: int, sc: int, translate, bus_kind: str) -> list[Reg]:
    """The node's reg entries as CPU addresses (ISA: I/O ports or memory;
    PCI: none -- a config-space address, BARs are assigned at run time)."""
    regs = []
    words = node.words("reg") or ()
    step = ac + sc
    for i in range(0, len(words) - step + 1, step) if step else ():  # no address cells: no reg
        addr_cells = words[i : i + ac]
        size = _join(words[i + ac : i + step])
        if bus_kind == "isa":
            regs.append(Reg(_join(addr_cells[1:]), size, "io" if addr_cells[0] & 1 else "mmio"))
        elif bus_kind != "pci":
            regs.append(Reg(translate(_join(addr_cells)), size))
    return regs


def _pci_id(compatible: tuple[str, ...]) -> tuple[int, int] | None:
    for c in compatible:
        m = re.fullmatch(r"pci([0-9a-fA-F]{4}),([0-9a-fA-F]{4})", c)
        if m:
            return int(m.group(1), 16), int(m.group(2), 16)
    return None


def _bus(node: Node):
    """(#address-cells, #size-cells, kind) for the node's children, or None
    when it is not a bus."""
    cac, csc = node.cells("#address-cells", None), node.cells("#size-cells", None)
    if cac is None and any(isinstance(item, fdt.FdtNode) for item in node.raw):
        # the device behind a virtio transport (an mmio slot or a PCI
        # function): a child "virtio,deviceN" with no reg (Linux's binding)
        cac, csc = 0, 0
    if cac is None:
        return None
    if node.string("device_type") == "pci":
        return cac, csc, "pci"
    if "isa" in node.compatible:
        if cac < 2:
            raise node.error("an ISA bus needs #address-cells = <2> (<space address>)")
        return cac, csc, "isa"
    return cac, csc, "simple"


def extract_devices(tree: Tree, pci_names) -> list[Device]:
    devices: list[Device] = []

    def walk(node: Node, ac: int, sc: int, translate, bus_kind: str) -> None:
        for child in tree.children(node):
            if node.path == "/" and child.name.split("@")[0] in _NOT_DEVICES:
                continue
            if child.string("status") in ("disabled", "fail"):
                continue
            compatible = child.compatible
            if compatible and not set(compatible) & _BUS_COMPATIBLES:
                pci_id = _pci_id(compatible)
                devices.append(Device(
                    path=child.path, compatible=compatible, regs=tuple(_regs(child, ac, sc, translate, bus_kind)),
                    interrupt_specs=_interrupts(tree, child), pci_id=pci_id,
                    pci_name=pci_names.get(pci_id) if pci_id else None, line=child.line,
                ))
            bus = _bus(child)
            if bus is not None:
                cac, csc, kind = bus
                child_translate = _make_translate(child.words("ranges"), cac, ac, csc, translate)
                walk(child, cac, csc if csc is not None else 1, child_translate, kind)

    root = tree.root
    walk(root, root.cells("#address-cells", 2), root.cells("#size-cells", 1), lambda a: a, "simple")
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
