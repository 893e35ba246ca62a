"""Standard-stream throughput (metric `stdio`): MB/s out of and into one
static cat-like program (benchmarks/apps/stdio.c) through

- hermitcore: `hermitcore run IMAGE -- out|in N` with the host's pipes as
  its stdin/stdout/stderr, which the guest program must see byte-exactly
  (stdout: only the program's bytes; stdin: the host's bytes, then EOF);
- the Linux guest: Debian's cloud kernel (benchmarks/linux_guest.py) on the
  same QEMU machine and command line (TCG), the same binary as /init, its
  standard streams on virtio-console `hvc0` (a `virtconsole` on a
  virtio-serial device; the kernel's own log stays on the board's UART);
- the host: the binary run directly, on pipes (host architecture only).

Measured from the host, the same way for all three. Out: the program writes N
bytes of the pattern 0..250 (NUL, CR, LF and high bytes, in 64 KiB writes);
the host times from the first byte received to the N-th and takes
(N - first chunk) / that time; the bytes must be exactly the pattern, nothing
more (checked as they come: a wrong stream fails at once). In: the host writes
the same pattern into the program's stdin; the program times its own reads
(first byte to last, CLOCK_MONOTONIC) and prints `in BYTES NS` on stderr.
N is 64 MiB (8 MiB with --quick) for every subject: under TCG the Linux guest
moves 64 MiB in seconds, so TCG needs no smaller size.

Linux's hvc has no EOF, so its `in` reads exactly N bytes; its /init is the
same binary's `hvc` mode (loads virtio-mmio or virtio-pci and virtio_console
from the kernel's own package, mounts devtmpfs, raw mode on hvc0). hvc0's
QEMU chardev is a file for `out` -- QEMU's virtconsole drops the bytes a
socket or pipe chardev cannot take at once (hw/char/virtio-console.c throttles
only virtserialports), and a file always takes them -- and a Unix socket for
`in`, which QEMU reads only as fast as the guest takes bytes. The modules come
from the package linux_guest.fetch uses and land in its per-package cache;
linux_guest.py itself is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import APPS, Runner

#: the program's modules for hvc0, per transport (their dependencies come along)
CONSOLE_MODULES = {"mmio": ("virtio_mmio", "virtio_console"), "pci": ("virtio_pci", "virtio_console")}
#: QEMU's virtio-serial device per transport
SERIAL_DEVICE = {"mmio": "virtio-serial-device", "pci": "virtio-serial-pci"}
#: samples per subject and direction at most (the harness's --runs caps it further)
MAX_SAMPLES = 3
#: bytes each way: full and --quick
SIZES = {"full": 64 << 20, "quick": 8 << 20}
#: every run's limit: this long plus N at this rate (a guest that slow is reported as an error)
BASE_TIMEOUT_S, SLOWEST_B_S = 180, 200_000
CHUNK = 65536
#: the pattern's period, as in stdio.c: prime, so a lost or repeated block shows as a difference
PERIOD = 251
IN_LINE = re.compile(rb"(?:^|\n)in (\d+) (\d+)\r?\n")

_builds: dict[str, str] = {}
_host: dict[tuple, dict] = {}


def pattern(n: int) -> bytes:
    """What `stdio out n` writes and what the host writes for `stdio in n`."""
    return (bytes(range(PERIOD)) * (n // PERIOD + 1))[:n]


def build(cc: str) -> str:
    """The static program for `cc`'s architecture (built once per process)."""
    if cc not in _builds:
        out = Path(tempfile.mkdtemp(prefix="hermit-stdio-")) / "stdio"
        subprocess.run([cc, "-static", "-O2", "-o", str(out), str(APPS / "stdio.c")], check=True, capture_output=True)
        _builds[cc] = str(out)
    return _builds[cc]


class Failed(Exception):
    """A measurement that ran but did not give the expected bytes."""


def _mb_s(nbytes: int, seconds: float) -> float:
    if seconds <= 0:
        raise Failed(f"{nbytes} bytes arrived in one piece: no interval to time")
    return nbytes / seconds / 1e6


def _timed_receive(recv, n: int, until_eof: bool, where: str) -> float:
    """Read with recv() (b'' at EOF, chunks of at most 1 MiB) until N bytes
    (and on to EOF with until_eof), checking every byte against the pattern
    as it comes (a wrong stream fails at once); MB/s from the first chunk's
    arrival to the N-th byte's."""
    want = pattern((1 << 20) + PERIOD)
    got = 0
    first = t_n = None
    first_len = 0
    while chunk := recv():
        now = time.perf_counter()
        if first is None:
            first, first_len = now, len(chunk)
        if got + len(chunk) > n or chunk != want[got % PERIOD:got % PERIOD + len(chunk)]:
            expect = want[got % PERIOD:got % PERIOD + min(len(chunk), max(0, n - got))]
            at = got + next((i for i, (x, y) in enumerate(zip(chunk, expect)) if x != y), len(expect))
            raise Failed(f"{where} is not exactly the program's {n} bytes: byte {at} differs "
                         f"(or is one too many); from there: {chunk[at - got:at - got + 48]!r}")
        got += len(chunk)
        if got == n:
            t_n = now
            if not until_eof:
                break
    if got != n:
        raise Failed(f"{where} carried {got} of the program's {n} bytes")
    return _mb_s(n - first_len, t_n - first)


def _fd_reader(fd: int, deadline: float):
    """recv() for _timed_receive over a pipe, with a deadline."""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)

    def recv() -> bytes:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            raise subprocess.TimeoutExpired("read", left)
        return os.read(fd, 1 << 20)

    return recv


def _drain(stream, sink: list) -> threading.Thread:
    def run():
        while chunk := stream.read1(1 << 16) if hasattr(stream, "read1") else stream.read(1 << 16):
            sink.append(chunk)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _stop(proc) -> None:
    """SIGTERM first (`hermitcore run` takes its QEMU down with it), then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def process_out(argv: list[str], n: int, timeout: float, where: str) -> float:
    """MB/s of `argv out n` on its stdout (a pipe), checked byte-exact."""
    proc = subprocess.Popen(argv + ["out", str(n)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    err: list[bytes] = []
    try:
        _drain(proc.stderr, err)
        mb_s = _timed_receive(_fd_reader(proc.stdout.fileno(), time.monotonic() + timeout), n, True, f"{where}: stdout")
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise Failed(f"{where}: still running after {timeout:.0f} s") from None
    finally:
        _stop(proc)
    if rc != 0:
        raise Failed(f"{where}: exit status {rc}: {b''.join(err).decode(errors='replace').strip()[-300:]}")
    return mb_s


def _in_rate(text: bytes, n: int, where: str) -> float:
    m = IN_LINE.search(text)
    if not m:
        raise Failed(f"{where}: no `in BYTES NS` line: {text.decode(errors='replace').strip()[-300:]!r}")
    got, ns = int(m.group(1)), int(m.group(2))
    if got != n:
        raise Failed(f"{where}: the program read {got} of {n} bytes")
    return _mb_s(got, ns / 1e9)


def process_in(argv: list[str], n: int, timeout: float, where: str) -> float:
    """MB/s of `argv in n` reading its stdin (a pipe), from its own `in` line on stderr."""
    proc = subprocess.Popen(argv + ["in", str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, err, sent = [], [], [0]

    def feed():
        view = memoryview(pattern(n))
        try:
            for off in range(0, n, CHUNK):
                proc.stdin.write(view[off:off + CHUNK])
                sent[0] = min(off + CHUNK, n)
            proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    threads = [_drain(proc.stdout, out), _drain(proc.stderr, err), threading.Thread(target=feed, daemon=True)]
    threads[2].start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f"{where}: still running after {timeout:.0f} s ({sent[0]} of {n} bytes taken)") from None
    finally:
        _stop(proc)
        for t in threads:
            t.join(timeout=10)
    text = b"".join(err)
    if not IN_LINE.search(text) and IN_LINE.search(b"".join(out)):
        raise Failed(f"{where}: the `in` line came on stdout, not stderr (the host wrote {sent[0]} of {n} bytes): "
                     f"{b''.join(out).decode(errors='replace').strip()[-200:]!r}")
    mb_s = _in_rate(text, n, where)
    if rc != 0:
        raise Failed(f"{where}: exit status {rc}")
    return mb_s


# -- the Linux guest -------------------------------------------------------------


def _transport(board) -> str:
    """How the board's virtio devices attach: PCI on pc/q35, virtio-mmio elsewhere."""
    return "pci" if re.match(r"(pc|q35)\b", board.qemu.machine) else "mmio"


def fetch_console(arch: str, transport: str, progress=print) -> tuple[Path, dict]:
    """(kernel, module name -> .ko in load order) for hvc0: the kernel
    linux_guest.fetch gives, and CONSOLE_MODULES[transport] with their
    dependencies from the same package (downloaded once into the same cache)."""
    from benchmarks import linux_guest

    guest = linux_guest.fetch(arch)
    cache = guest.kernel.parent
    names = CONSOLE_MODULES[transport]

    def cached(name):
        path = cache / f"{name}.ko"
        return path if path.exists() else None

    with contextlib.suppress(linux_guest.Unavailable):
        return guest.kernel, linux_guest._with_dependencies(names, cached)
    _, deb_arch = linux_guest.PACKAGES[arch]
    opts = linux_guest._apt_options(deb_arch)
    progress(f"apt-get download {guest.package} (its virtio console modules)")
    with tempfile.TemporaryDirectory(prefix="hermit-stdio-") as tmp:
        proc = subprocess.run(["apt-get", *opts, "download", guest.package], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if proc.returncode != 0 or not debs:
            raise linux_guest.Unavailable(f"apt-get download {guest.package} failed: {proc.stderr.strip()[-200:]}")
        tree = Path(tmp, "tree")
        tree.mkdir()
        deb = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", str(tree), "./lib/modules/"], stdin=deb.stdout, capture_output=True)
        deb.stdout.close()
        if deb.wait() != 0 or tar.returncode != 0:
            raise linux_guest.Unavailable(f"cannot unpack {debs[0].name}: {tar.stderr.decode().strip()[-200:]}")

        def in_package(name):
            found = [p for n in {name, name.replace("_", "-")} for p in tree.glob(f"lib/modules/*/kernel/**/{n}.ko")]
            return found[0] if found else None

        for name, path in linux_guest._with_dependencies(names, in_package).items():
            shutil.copyfile(path, cache / f"{name}.ko")
    return guest.kernel, linux_guest._with_dependencies(names, cached)


@contextlib.contextmanager
def linux_boot(runner, prog: str, mode: str, n: int, accel: str = "tcg", mem_mib: int = 512, progress=print):
    """Boot the Linux guest with `prog hvc MODULES... mode n` as /init and
    hvc0 on a chardev: for `out` a file (QEMU drops a virtconsole's bytes
    when a socket or pipe chardev would block, and a file never does), for
    `in` a Unix socket (QEMU reads it only as fast as the guest takes
    bytes). Yields (hvc0: the output file's path or the connected socket,
    the kernel's log so far as a list of bytes, QEMU's process); QEMU is
    killed on leaving."""
    from benchmarks import linux_guest
    from hermitcore.model import RunOptions
    from hermitcore.program import cpio_from_dir
    from hermitcore.run import qemu_command

    transport = _transport(runner.board)
    kernel, modules = fetch_console(runner.arch, transport, progress)
    with tempfile.TemporaryDirectory(prefix="hermit-stdio-") as tmp:
        root = Path(tmp, "root")
        (root / "lib").mkdir(parents=True)
        shutil.copyfile(prog, root / "init")
        (root / "init").chmod(0o755)
        for name, path in modules.items():
            shutil.copyfile(path, root / "lib" / f"{name}.ko")
        initrd = Path(tmp, "initrd.cpio")
        initrd.write_bytes(cpio_from_dir(root))
        cmdline = (f"console={linux_guest.CONSOLE[runner.arch]} quiet panic=-1 "
                   f"{linux_guest.MITIGATIONS_OFF[runner.arch]}")
        if runner.arch == "x86_64":
            cmdline += f" tsc_early_khz={linux_guest._tsc_khz()} tsc=reliable clocksource=tsc"
        args = ["hvc", *(f"/lib/{name}.ko" for name in modules), mode, str(n)]
        options = RunOptions(cpus=1, mem_mib=mem_mib, accel=accel, append=f"{cmdline} -- " + " ".join(args),
                             workdir=tmp)
        argv, _ = qemu_command(runner.pm, runner.board, str(kernel), options, meta={"network": False})
        path = f"{tmp}/hvc0.{'out' if mode == 'out' else 'sock'}"
        backend = f"file,path={path}" if mode == "out" else f"socket,path={path},server=on,wait=on"
        argv += ["-initrd", str(initrd), "-chardev", f"{backend},id=hstdio",
                 "-device", SERIAL_DEVICE[transport], "-device", "virtconsole,chardev=hstdio"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log: list[bytes] = []
        _drain(proc.stdout, log)
        sock = None
        try:
            deadline = time.monotonic() + 30  # QEMU creates the file or socket (and waits for us) first
            while sock is None:
                try:
                    if mode == "out":
                        Path(path).stat()
                        sock = path
                    else:
                        sock = socket.socket(socket.AF_UNIX)
                        sock.connect(path)
                except (FileNotFoundError, ConnectionRefusedError):
                    if isinstance(sock, socket.socket):
                        sock.close()
                    sock = None
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise Failed(f"QEMU did not open {path}: {_log_tail(log)}") from None
                    time.sleep(0.02)
            yield sock, log, proc
        finally:
            if isinstance(sock, socket.socket):
                sock.close()
            proc.kill()
            proc.wait()


def _sock_reader(sock, deadline: float):
    def recv() -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired("recv", 0)
        sock.settimeout(left)
        try:
            return sock.recv(1 << 20)
        except socket.timeout:
            raise subprocess.TimeoutExpired("recv", left) from None

    return recv


def _file_reader(fd: int, deadline: float, ended):
    """recv() for _timed_receive over a file QEMU appends to: polls every
    0.5 ms; b'' once ended() and nothing more came."""
    def recv() -> bytes:
        while True:
            chunk = os.read(fd, 1 << 20)
            if chunk:
                return chunk
            if ended():
                return os.read(fd, 1 << 20)
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("read", 0)
            time.sleep(0.0005)

    return recv


def _log_tail(log) -> str:
    return b"".join(log).decode(errors="replace").replace("\r", "").strip()[-400:]


def linux_out(runner, prog: str, n: int, timeout: float, progress=print) -> float:
    with linux_boot(runner, prog, "out", n, progress=progress) as (path, log, proc):
        fd = os.open(path, os.O_RDONLY)
        ended = lambda: proc.poll() is not None  # noqa: E731
        try:
            mb_s = _timed_receive(_file_reader(fd, time.monotonic() + timeout, ended), n, False, "Linux guest: hvc0")
            extra = b""  # hvc0 has no EOF: what comes until /init's exit has ended QEMU
            with contextlib.suppress(subprocess.TimeoutExpired):
                extra = b"".join(iter(_file_reader(fd, time.monotonic() + 20, ended), b""))
        except subprocess.TimeoutExpired:
            raise Failed(f"Linux guest: out still running after {timeout:.0f} s; its log: {_log_tail(log)}") from None
        finally:
            os.close(fd)
        if extra:
            raise Failed(f"Linux guest: hvc0 carried {len(extra)} bytes after the program's {n}: {extra[:48]!r}")
        return mb_s


def linux_in(runner, prog: str, n: int, timeout: float, progress=print) -> float:
    with linux_boot(runner, prog, "in", n, progress=progress) as (sock, log, _):
        recv = _sock_reader(sock, time.monotonic() + timeout)
        text = b""
        try:
            while b"stdio: ready\n" not in text:  # raw mode is on
                chunk = recv()
                if not chunk:
                    break
                text += chunk
            if b"stdio: ready\n" not in text:
                raise Failed(f"Linux guest: /init did not get hvc0 ready: {text[-200:]!r}; its log: {_log_tail(log)}")
            text = text.split(b"stdio: ready\n", 1)[1]

            def feed():
                with contextlib.suppress(OSError):
                    sock.sendall(pattern(n))

            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            while not IN_LINE.search(text):
                chunk = recv()
                if not chunk:
                    break
                text += chunk
        except subprocess.TimeoutExpired:
            raise Failed(f"Linux guest: in still running after {timeout:.0f} s; its log: {_log_tail(log)}") from None
        return _in_rate(text, n, "Linux guest")


# -- the metric ----------------------------------------------------------------------


def measure(board: str, runner, accel: str, quick: bool, samples: int, linux: bool, progress=print) -> dict:
    """One report row: hermitcore on `board` under `accel`, the host (its
    architecture only) and, with `linux`, the Linux guest; per subject and
    direction the median MB/s of `samples` runs, or `<subject>_<dir>_error`."""
    from benchmarks import linux_guest
    from benchmarks.harness import STATIC_CC
    from hermitcore.run import HOST_ARCH

    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    prog = build(cc)
    n = SIZES["quick" if quick else "full"]
    timeout = BASE_TIMEOUT_S + n / SLOWEST_B_S
    subjects: dict = {}
    errors: dict = {}
    try:
        image = str(Runner(board, prog, pm=runner.pm).result.build.image)
    except Exception as e:  # noqa: BLE001 -- a compose failure is this row's error, not the report's
        errors["hermit_out"] = errors["hermit_in"] = f"compose failed: {type(e).__name__}: {str(e)[:400]}"
    else:
        hermit = [sys.executable, "-m", "hermitcore", "run", image, "--accel", accel, "--timeout", str(int(timeout)),
                  "--"]
        subjects["hermit"] = {"out": lambda: process_out(hermit, n, timeout + 30, "hermitcore"),
                              "in": lambda: process_in(hermit, n, timeout + 30, "hermitcore")}
    host_key = (runner.arch, n)
    if HOST_ARCH.get(platform.machine()) == runner.arch and host_key not in _host:
        subjects["host"] = {"out": lambda: process_out([prog], n, 120, "host"),
                            "in": lambda: process_in([prog], n, 120, "host")}
    if linux:
        subjects["linux"] = {"out": lambda: linux_out(runner, prog, n, timeout, progress),
                             "in": lambda: linux_in(runner, prog, n, timeout, progress)}
    values: dict = {}
    for i in range(samples):  # interleaved: machine drift hits every subject alike
        for subject, directions in subjects.items():
            for direction, run in directions.items():
                key = f"{subject}_{direction}"
                if key in errors:
                    continue
                progress(f"stdio {board} {accel} {subject} {direction} {n >> 20} MiB {i + 1}/{samples}")
                try:
                    values.setdefault(key, []).append(run())
                except Failed as e:
                    errors[key] = str(e)[:600]
                except linux_guest.Unavailable as e:
                    errors[key] = f"unavailable: {e}"
                except Exception as e:  # noqa: BLE001 -- one subject's failure is its row's, not the report's
                    errors[key] = f"{type(e).__name__}: {str(e)[:500]}"
    row = {"board": board, "accel": accel, "bytes": n, "samples": samples}
    for key, v in values.items():
        if key not in errors:
            row[f"{key}_mb_s"] = statistics.median(v)
            row[f"{key}_samples_mb_s"] = v
    row.update({f"{k}_error": v for k, v in errors.items()})
    if "host" in subjects:
        _host[host_key] = {k: v for k, v in row.items() if k.startswith("host_")}
    row.update(_host.get(host_key, {}))
    for d in ("out", "in"):
        h, lin = row.get(f"hermit_{d}_mb_s"), row.get(f"linux_{d}_mb_s")
        if lin:
            row[f"ratio_linux_{d}"] = h / lin if h else None
    if any(f"linux_{d}_mb_s" in row for d in ("out", "in")):
        row["target_vs_linux"] = 1.0
        row["meets"] = all(row.get(f"ratio_linux_{d}") is not None and row[f"ratio_linux_{d}"] >= 1.0
                           for d in ("out", "in"))
    return row
