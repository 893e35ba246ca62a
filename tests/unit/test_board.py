from pathlib import Path

import pytest

from hermitcore.board import available_boards, load_board, parse_pci_ids
from hermitcore.errors import BoardError
from hermitcore.model import Interrupt
from hermitcore.plugins import claim_devices, make_plugin_manager, select


def numbered(board, compatible):
    """The device with its interrupts as numbers: the controller's plugin's."""
    claimed, unclaimed = claim_devices(select(make_plugin_manager(), board))
    return next(d for d in [c.device for c in claimed] + list(unclaimed) if d.is_compatible(compatible))


def test_builtin_boards_are_listed():
    assert {"qemu-virt", "qemu-microvm", "qemu-q35"} <= set(available_boards())


def test_qemu_virt_devices_come_from_the_device_tree():
    board = load_board("qemu-virt")
    assert board.arch == "aarch64"
    assert board.ram_base == 0x40000000
    uart = next(d for d in board.devices if d.is_compatible("arm,pl011"))
    assert uart.regs[0].address == 0x09000000 and uart.regs[0].space == "mmio"
    assert uart.interrupt_specs == (Interrupt("/intc@8000000", (0, 1, 4)),)  # as the tree says: SPI 1
    assert numbered(board, "arm,pl011").interrupts == (33,)  # the aarch64 plugin's GIC numbering
    assert numbered(board, "arm,armv8-timer").interrupts == (29, 30, 27, 26)  # PPIs 13, 14, 11, 10
    assert sum(d.is_compatible("virtio,mmio") for d in board.devices) == 32


def test_x86_isa_devices_use_port_io():
    board = load_board("qemu-microvm")
    uart = next(d for d in board.devices if d.is_compatible("ns16550a"))
    assert (uart.regs[0].address, uart.regs[0].space) == (0x3F8, "io")
    assert uart.interrupt_specs == (Interrupt("/interrupt-controller@fec00000", (4, 0)),)
    assert numbered(board, "ns16550a").interrupts == (4,)  # the x86_64 plugin's IOAPIC pin
    assert not any(d.is_compatible("isa") for d in board.devices), "buses are not devices"
    assert not any(d.pci_id for d in board.devices)


def test_q35_pci_functions_are_named_from_pci_ids():
    board = load_board("qemu-q35")
    pci = {d.pci_id: d.pci_name for d in board.devices if d.pci_id}
    assert pci[(0x8086, 0x29C0)].startswith("Intel Corporation 82G33")
    assert (0x8086, 0x2918) in pci and (0x8086, 0x2922) in pci and (0x8086, 0x2930) in pci


def test_unknown_board_lists_known_ones():
    with pytest.raises(BoardError, match=r"unknown board 'nope'; known boards: .*qemu-microvm.*qemu-virt"):
        load_board("nope")


def _board(tmp_path: Path, dts: str, name="broken") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "board.toml").write_text('arch = "x86_64"\ndescription = "test"\n[qemu]\nmachine = "microvm"\n')
    (d / "board.dts").write_text(dts)
    return d


def test_dts_syntax_error_reports_file_and_line(tmp_path):
    d = _board(tmp_path, "/dts-v1/;\n/ {\n\tfoo = <1>\n\tbar;\n};\n")
    with pytest.raises(BoardError) as exc:
        load_board(str(d))
    msg = str(exc.value)
    assert f"{d / 'board.dts'}:4:" in msg and "syntax error" in msg
    assert "\n" not in msg


def test_board_path_environment(tmp_path, monkeypatch):
    _board(tmp_path, "/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>; };\n", name="my-board")
    monkeypatch.setenv("HERMIT_BOARD_PATH", str(tmp_path))
    assert "my-board" in available_boards()
    assert load_board("my-board").arch == "x86_64"


def test_board_toml_missing_key(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    (d / "board.toml").write_text('description = "x"\n[qemu]\nmachine = "q35"\n')
    (d / "board.dts").write_text("/dts-v1/;\n/ { };\n")
    with pytest.raises(BoardError, match="missing key 'arch'"):
        load_board(str(d))


def test_pci_ids_format(tmp_path):
    f = tmp_path / "pci.ids"
    f.write_text("# comment\n1af4  Red Hat, Inc.\n\t1041  Virtio network device\n\t\t1af4 1100  QEMU\n")
    assert parse_pci_ids(f) == {(0x1AF4, 0x1041): "Red Hat, Inc. Virtio network device"}
    f.write_text("this is not pci.ids\n")
    with pytest.raises(BoardError, match=r"pci.ids:1: not in pci.ids format"):
        parse_pci_ids(f)


TINY_DTS = """/dts-v1/;

/ {
	#address-cells = <1>;
	#size-cells = <1>;

	slot@1000 {
		compatible = "virtio,mmio";
		reg = <0x1000 0x200>;
		dev {
			compatible = "virtio,device1";
		};
	};

	slot@2000 {
		compatible = "virtio,mmio";
		reg = <0x2000 0x200>;
		dev {
			compatible = "virtio,device9";
		};
	};

	isa {
		compatible = "isa";
		#address-cells = <1>;
		#size-cells = <1>;
	};
};
"""


def _tiny_board(tmp_path, dts: str) -> Path:
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "board.toml").write_text('arch = "x86_64"\n[qemu]\nmachine = "microvm"\n')
    (d / "board.dts").write_text(dts)
    return d


def test_nodes_keep_their_own_source_lines(tmp_path):
    """Two nodes of the same name under different parents: each device
    names its own line in board.dts (dtc's source annotations, not a search
    by name)."""
    from hermitcore.board import Tree, compile_dts

    d = _tiny_board(tmp_path, TINY_DTS.replace("\tisa {\n\t\tcompatible = \"isa\";\n\t\t#address-cells = <1>;\n\t\t#size-cells = <1>;\n\t};\n", ""))
    board = load_board(str(d))
    lines = {dev.path: dev.line for dev in board.devices}
    assert lines == {"/slot@1000": 7, "/slot@1000/dev": 10, "/slot@2000": 15, "/slot@2000/dev": 18}
    tree = Tree(compile_dts(d / "board.dts"), d / "board.dts")
    assert [n.path for n in tree.children(tree.root)] == ["/slot@1000", "/slot@2000"]


def test_a_bad_node_is_named_with_its_file_and_line(tmp_path):
    """An ISA bus with one address cell: the error names board.dts, the
    node's line and its path."""
    d = _tiny_board(tmp_path, TINY_DTS)
    with pytest.raises(BoardError) as exc:
        load_board(str(d))
    assert str(exc.value) == (f"{d / 'board.dts'}:23: node '/isa': an ISA bus needs #address-cells = <2> "
                              "(<space address>)")


def test_interrupts_no_plugin_can_number_are_an_error_naming_the_node(tmp_path):
    """A claimed device whose interrupt goes to a controller nobody claims:
    one line with board.dts's line, the device and the controller."""
    dts = """/dts-v1/;

/ {
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&pic>;

	pic: pic@1000 {
		compatible = "acme,pic";
		reg = <0 0x1000 0 0x100>;
		interrupt-controller;
		#interrupt-cells = <1>;
	};

	uart@2000 {
		compatible = "ns16550a";
		reg = <0 0x2000 0 0x8>;
		interrupts = <7>;
	};
};
"""
    d = _tiny_board(tmp_path, dts)
    board = load_board(str(d))
    with pytest.raises(BoardError) as exc:
        claim_devices(select(make_plugin_manager(), board))
    assert str(exc.value) == (f"{d}/board.dts:15: /uart@2000: its interrupt <7> goes to controller /pic@1000, "
                              "whose cells no plugin turns into a number")
