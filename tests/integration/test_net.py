"""Networking: a static C server (tests/apps/linux/netserver.c, built with the
ordinary compilers) runs inside hermitcore on the virtio-net card of each
architecture's board, behind QEMU user networking; the host talks to it
through `hermitcore run --port` forwards and checks every byte."""

from __future__ import annotations

import hashlib
import http.client
import os
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

from tests.conftest import BOARDS, hermit, selected_arches
from tests.helpers import BOARD, free_port, read_line, stop

#: boards with a network card: virtio-net over virtio-mmio (microvm, virt) and
#: over virtio-pci with MSI-X (q35: ECAM; pc: configuration ports)
NET_BOARDS = [b for b in ("qemu-microvm", "qemu-q35", "qemu-pc", "qemu-virt") if BOARDS[b] in selected_arches()]
BULK = 64 << 20

pytestmark = pytest.mark.skipif(not selected_arches(), reason="no architecture selected")


class Guest:
    """`hermitcore run ARGS` (or any command line, `argv=`) in the
    background, the program's stdout read line by line; ``log()``: the
    kernel log so far (--kernel-log; a printed QEMU line's is its stderr)."""

    def __init__(self, *args: str, argv: list[str] | None = None):
        import tempfile

        self.log_file = tempfile.NamedTemporaryFile(prefix="hermit-kernel-log-")
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "hermitcore", "run", "--kernel-log", self.log_file.name, *args],
            stdout=subprocess.PIPE, stderr=self.log_file if argv else subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []

    def log(self) -> list[str]:
        with open(self.log_file.name, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()

    def wait_for(self, text: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if text in line:
                return
        self.stop()
        pytest.fail(f"guest never printed {text!r}:\n" + "\n".join(self.lines + self.log()))

    def finish(self, timeout: float = 60) -> int:
        out, err = self.proc.communicate(timeout=timeout)
        self.lines += out.splitlines()
        self.err = err
        return self.proc.returncode

    def stop(self) -> None:
        stop(self.proc)

    def __repr__(self):
        return "\n".join(self.lines) + "\n--- stderr\n" + (getattr(self, "err", "") or "") + "\n--- kernel log\n" + \
            "\n".join(self.log())


@pytest.fixture(scope="module")
def netserver(builder):
    return {arch: builder.build("glibc", arch, "netserver.c") for arch in selected_arches()}


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "page.bin").write_bytes(hashlib.sha256(b"seed").digest() * 500)  # 16000 bytes
    return root


def get_from_port(port: int, source_port: int, path: str) -> bytes:
    """GET path with Connection: close from a fixed source port; the body."""
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(10)
        try:
            s.bind(("127.0.0.1", source_port))
            s.connect(("127.0.0.1", port))
            break
        except OSError:  # the previous connection on that port is still closing on the host
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with s:
        s.sendall(f"GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(1 << 16):
            answer += chunk
    return answer.partition(b"\r\n\r\n")[2]


def http_get(port: int, path: str, conn=None, close=False):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers={"Connection": "close"} if close else {})
    r = c.getresponse()
    return r.status, r.read(), c


@pytest.mark.parametrize("board", NET_BOARDS)
def test_tcp_udp_http_server(board, netserver, www, tmp_path):
    arch = BOARDS[board]
    web, udp, bulk = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    pcap = tmp_path / "guest.pcap"
    # two CPUs on the mmio boards: the bulk threads run beside the epoll loop,
    # lwIP is entered from both CPUs and the NIC interrupt wakes across them
    cpus = "1" if board in ("qemu-q35", "qemu-pc") else "2"
    g = Guest("--board", board, str(netserver[arch]), "--files", str(www), "--timeout", "600", "--cpus", cpus,
              "--port", f"{web}:8080", "--port", f"{udp}:9007/udp", "--port", f"{bulk}:9000",
              "--capture", str(pcap))
    phase = "boot"
    try:
        g.wait_for("netserver: ready")
        transport = "pci 00:02.0" if board in ("qemu-q35", "qemu-pc") else "virtio-mmio@"
        assert any(f"[hermit] net: {transport}" in l and "address 10.0.2.15" in l and "(DHCP" in l for l in g.log()), g
        page = (www / "page.bin").read_bytes()
        phase = "http"

        # HTTP: 1000 requests over one keep-alive connection, 100 over new ones
        conn = None
        for i in range(1000):
            status, body, conn = http_get(web, "/page.bin", conn)
            assert status == 200 and body == page, (i, status, len(body))
        conn.close()
        for i in range(100):
            status, body, c = http_get(web, "/page.bin", close=True)
            c.close()
            assert status == 200 and body == page, (i, status, len(body))
        assert http_get(web, "/missing")[0] == 404

        # a client that takes the same port again at once (Linux's do, once they
        # saw the server close first): the guest's TIME-WAIT for that address
        # pair yields to the new SYN instead of stalling it for two minutes
        phase = "port reuse"
        reused = free_port()
        for i in range(3):
            assert get_from_port(web, reused, "/page.bin") == page, i

        # UDP echo, datagrams of 1 to 1401 bytes (UDP may drop one: a lost
        # datagram is sent again, at most twice)
        phase = "udp"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            for i in range(100):
                msg = os.urandom(1 + 14 * i)
                for attempt in range(3):
                    u.sendto(msg, ("127.0.0.1", udp))
                    try:
                        assert u.recvfrom(2048)[0] == msg, i
                        break
                    except TimeoutError:
                        if attempt == 2:
                            raise

        # 64 MiB guest -> host, sha256 computed by the guest and the host
        phase = "bulk guest->host"
        with socket.create_connection(("127.0.0.1", bulk), timeout=120) as s:
            s.sendall(f"SEND {BULK}\n".encode())
            h, got = hashlib.sha256(), 0
            while got < BULK:
                chunk = s.recv(min(1 << 20, BULK - got))
                assert chunk, f"connection closed after {got} bytes"
                h.update(chunk)
                got += len(chunk)
            assert read_line(s) == h.hexdigest()

        # 64 MiB host -> guest
        phase = "bulk host->guest"
        data = os.urandom(BULK)
        with socket.create_connection(("127.0.0.1", bulk), timeout=120) as s:
            s.sendall(f"RECV {BULK}\n".encode())
            s.sendall(data)
            assert read_line(s) == hashlib.sha256(data).hexdigest()

        phase = "quit"
        status, body, _ = http_get(web, "/quit", close=True)
        assert (status, body) == (200, b"bye")
        rc = g.finish()
    except Exception as exc:
        g.stop()
        raise AssertionError(f"{phase}: {type(exc).__name__}: {exc}\n{g}") from exc
    finally:
        g.stop()
    assert rc == 0, g
    assert any("netserver: quit after" in l and "100 datagrams" in l for l in g.lines), g

    # --capture: a pcap file holding the guest's TCP traffic to port 8080
    raw = pcap.read_bytes()
    assert struct.unpack("<I", raw[:4])[0] == 0xA1B2C3D4, "not a pcap file"
    off, to_web = 24, 0
    while off + 16 <= len(raw):
        incl = struct.unpack("<I", raw[off + 8 : off + 12])[0]
        frame = raw[off + 16 : off + 16 + incl]
        off += 16 + incl
        if frame[12:14] == b"\x08\x00" and frame[23] == 6 and frame[36:38] == (8080).to_bytes(2, "big"):
            to_web += 1
    assert to_web > 1000, to_web


def test_static_address(arch, netserver, www):
    web = free_port()
    g = Guest("--board", BOARD[arch], str(netserver[arch]), "--files", str(www), "--timeout", "300",
              "--port", f"{web}:8080", "--ip", "10.0.2.20", "--gateway", "10.0.2.2")
    try:
        g.wait_for("netserver: ready")
        assert any("address 10.0.2.20 netmask 255.255.255.0 gateway 10.0.2.2 (static" in l for l in g.log()), g
        assert http_get(web, "/quit", close=True)[:2] == (200, b"bye")
        assert g.finish() == 0, g
    finally:
        g.stop()


def test_no_network_card_is_an_error_not_a_hang(arch, netserver):
    r = hermit("run", "--board", BOARD[arch], str(netserver[arch]), "--net", "none", "--timeout", "120")
    assert r.rc == 2, r
    assert "has no network interface" in r.err and "netserver: socket: Network is down" in r.out, r


def test_board_without_network_card(arch, netserver, bare_board):
    r = hermit("run", "--board", str(bare_board[arch]), str(netserver[arch]), "--timeout", "120")
    assert r.rc == 2, r
    assert "this image has no network stack" in r.err and "Address family not supported" in r.out, r


def test_bad_network_options_are_clear_errors():
    for args, msg in [
        (["--port", "80"], "expected HOST:GUEST"),
        (["--port", "70000:80"], "ports 1-65535"),
        (["--net", "bridge"], "expected user, none or tap:NAME"),
        (["--ip", "10.0.2"], "expected an IPv4 address"),
        (["--net", "none", "--port", "8080:80"], "use it with --net user"),
    ]:
        r = hermit("run", "--board", "qemu-microvm", "--print-qemu", *args)
        assert r.rc == 1 and msg in r.err and "Traceback" not in r.err, (args, r)


def test_nic_without_an_address_is_an_error_not_a_hang(netserver):
    """A card that comes up but gets no DHCP answer (QEMU's user network with
    IPv4 off): a clear line after the 5 s wait, an error for the program, and
    the machine exits by itself. QEMU runs from `run --print-qemu`'s exact
    command line with that one change."""
    if "x86_64" not in selected_arches():
        pytest.skip("one architecture is enough for the DHCP time-out")
    r = hermit("run", "--board", "qemu-microvm", str(netserver["x86_64"]), "--print-qemu")
    assert r.rc == 0, r
    argv = shlex.split(r.out.strip().splitlines()[-1])
    argv[argv.index("-netdev") + 1] = "user,id=net0,ipv4=off"
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    out = proc.stdout + "\n--- stderr (the kernel log)\n" + proc.stderr
    assert "no DHCP answer within 5 s (link up); give an address with --ip" in proc.stderr, out
    assert "netserver: socket: Network is unreachable" in proc.stdout, out
    assert proc.returncode == (2 << 1) | 1, (proc.returncode, out)  # isa-debug-exit: the program's status 2


def test_virtio_pci_without_msix_uses_intx(netserver, www):
    """On the i440fx board a virtio-net function without MSI-X (QEMU
    `vectors=0`) interrupts through INTx on the IOAPIC pin the firmware
    wrote into its interrupt-line register; traffic still flows."""
    if "x86_64" not in selected_arches():
        pytest.skip("qemu-pc is x86_64")
    web, udp = free_port(), free_port(socket.SOCK_DGRAM)
    r = hermit("run", "--board", "qemu-pc", str(netserver["x86_64"]), "--files", str(www), "--port", f"{web}:8080",
               "--port", f"{udp}:9007/udp", "--print-qemu")
    assert r.rc == 0, r
    argv = shlex.split(r.out.strip().splitlines()[-1])
    i = next(k for k, a in enumerate(argv) if a.startswith("virtio-net-pci,"))
    argv[i] = argv[i].replace("virtio-net-pci,", "virtio-net-pci,vectors=0,")
    g = Guest(argv=argv)
    try:
        g.wait_for("netserver: ready", timeout=120)
        assert any("no MSI-X; INTA on IRQ" in l for l in g.log()), g
        page = (www / "page.bin").read_bytes()
        conn = None
        for i in range(200):
            status, body, conn = http_get(web, "/page.bin", conn)
            assert status == 200 and body == page, i
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            u.sendto(b"ping", ("127.0.0.1", udp))
            assert u.recvfrom(64)[0] == b"ping"
        assert http_get(web, "/quit", close=True)[:2] == (200, b"bye")
        assert g.finish() == 1, g  # QEMU's own status from isa-debug-exit: the program's 0
    finally:
        g.stop()


def test_tap_network(netserver, www):
    """--net tap:NAME with a static address: the guest on a tap device inside
    a network namespace this test makes (and removes), reached from inside it."""
    if "x86_64" not in selected_arches():
        pytest.skip("one architecture is enough for the tap back end")
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to make a network namespace and a tap device")
    ns, tap = f"hermit-t{os.getpid()}", "hmtap0"
    setup = [["ip", "netns", "add", ns],
             ["ip", "netns", "exec", ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap"],
             ["ip", "netns", "exec", ns, "ip", "addr", "add", "10.99.0.1/24", "dev", tap],
             ["ip", "netns", "exec", ns, "ip", "link", "set", tap, "up"]]
    try:
        for cmd in setup:
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                pytest.skip(f"cannot make the namespace here: {' '.join(cmd)}: {p.stderr.strip()}")
        g = Guest(argv=["ip", "netns", "exec", ns, sys.executable, "-m", "hermitcore", "run", "--board",
                        "qemu-microvm", str(netserver["x86_64"]), "--files", str(www), "--net", f"tap:{tap}",
                        "--ip", "10.99.0.2", "--gateway", "10.99.0.1", "--timeout", "120",
                        "-v"])  # the kernel log on stderr, which Guest keeps for log()
        g.wait_for("netserver: ready", timeout=120)
        assert any("address 10.99.0.2 netmask 255.255.255.0 gateway 10.99.0.1 (static" in l for l in g.log()), g
        client = ("import http.client\n"
                  "c = http.client.HTTPConnection('10.99.0.2', 8080, timeout=30)\n"
                  "for _ in range(20):\n"
                  "    c.request('GET', '/page.bin'); assert len(c.getresponse().read()) == 16000\n"
                  "c.request('GET', '/quit'); print(c.getresponse().read().decode())\n")
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", client], capture_output=True,
                             text=True, timeout=120)
        assert out.stdout.strip() == "bye", (out.stdout, out.stderr, g)
        assert g.finish() == 0, g
    finally:
        if "g" in locals():
            g.stop()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.parametrize("arch", selected_arches())
def test_tap_network_dhcp_gives_the_address_and_the_name_servers(builder, arch, tmp_path):
    """--net tap:NAME without --ip: the guest asks the network's DHCP server
    (busybox udhcpd on the tap, in a namespace this test makes) for its
    address and name servers before the program starts; the program's first
    look at /etc/resolv.conf finds the DHCP server's, as on a Linux host."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("busybox"):
        pytest.skip("needs root, iproute2 and busybox (udhcpd) to make a network with a DHCP server")
    ns, tap = f"hermit-d{os.getpid()}", "hmtap1"
    conf = tmp_path / "udhcpd.conf"
    conf.write_text(f"start 10.98.0.50\nend 10.98.0.50\ninterface {tap}\nlease_file {tmp_path / 'leases'}\n"
                    f"pidfile {tmp_path / 'pid'}\noption subnet 255.255.255.0\noption router 10.98.0.1\n"
                    "option dns 192.0.2.53 198.51.100.7\noption lease 600\n")
    setup = [["ip", "netns", "add", ns],
             ["ip", "netns", "exec", ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap"],
             ["ip", "netns", "exec", ns, "ip", "addr", "add", "10.98.0.1/24", "dev", tap],
             ["ip", "netns", "exec", ns, "ip", "link", "set", tap, "up"]]
    server = None
    try:
        for cmd in setup:
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                pytest.skip(f"cannot make the namespace here: {' '.join(cmd)}: {p.stderr.strip()}")
        server = subprocess.Popen(["ip", "netns", "exec", ns, "busybox", "udhcpd", "-f", str(conf)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tool = builder.build("glibc", arch, "ocitool.c")
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "hermitcore", "run", "--board",
                            BOARD[arch], str(tool), "--net", f"tap:{tap}", "--timeout", "120", "-v", "--", "cat",
                            "/etc/resolv.conf"], capture_output=True, text=True, timeout=180)
        assert (r.returncode, r.stdout) == (0, "nameserver 192.0.2.53\nnameserver 198.51.100.7\n"), r.stderr
        assert "address 10.98.0.50 netmask 255.255.255.0 gateway 10.98.0.1 (DHCP" in r.stderr, r.stderr
        # the servers run names win over DHCP's
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "hermitcore", "run", "--board",
                            BOARD[arch], str(tool), "--net", f"tap:{tap}", "--dns", "203.0.113.9", "--timeout", "120",
                            "--", "cat", "/etc/resolv.conf"], capture_output=True, text=True, timeout=180)
        assert (r.returncode, r.stdout) == (0, "nameserver 203.0.113.9\n"), r.stderr
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
