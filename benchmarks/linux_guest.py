"""The Linux-guest baseline: Debian's own cloud kernel, fetched with
`apt-get download` at benchmark time (cached, never committed), booted on the
same QEMU machine with the same command line as hermitcore, with an
initramfs whose /init is the very same static benchmark binary. Linux passes
the arguments after `--` on its command line to /init; when /init exits the
kernel panics ("Attempted to kill init"), and we stop QEMU there (an SMP
panic-reboot under TCG does not always get as far as resetting).

A guest of another architecture than the host's (arm64 on an amd64 host)
comes from a private apt state (its own package lists and cache under the
benchmark cache, the host's configured sources, only that architecture), so
the host's dpkg is never switched to multiarch.

The network baseline needs what a distribution's initramfs would do first:
the cloud kernel builds virtio-mmio and virtio-net as modules. Its /init is
then benchmarks/apps/netinit.c, which loads them from the same package,
gives eth0 QEMU user networking's address and execs the benchmark binary."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

from hermitcore.build import cache_dir
from hermitcore.model import RunOptions
from hermitcore.program import cpio_from_dir
from hermitcore.run import qemu_command

#: the kernel metapackage (naming the current kernel) per guest architecture, and its dpkg architecture
PACKAGES = {"x86_64": ("linux-image-cloud-amd64", "amd64"), "aarch64": ("linux-image-cloud-arm64", "arm64")}
#: what eth0 needs: the transport and the driver (their dependencies come along)
NET_MODULES = ("virtio_mmio", "virtio_net")
CONSOLE = {"x86_64": "ttyS0", "aarch64": "ttyAMA0"}
#: The comparison is between the kernels' paths, not their side-channel
#: defences (hermitcore has one address space and none): without these the
#: arm64 kernel unmaps itself at EL0 (KPTI, kept for KASLR even on CPUs that
#: need no mitigation) and every system call switches TTBR -- under TCG a
#: whole-TLB flush, 18 us per no-op call instead of ~1.
MITIGATIONS_OFF = {"x86_64": "mitigations=off", "aarch64": "mitigations=off kpti=0"}
#: a private apt state's package lists are refreshed after this long
LISTS_MAX_AGE_S = 24 * 3600


#: arch -> the kernel package this process fetched or found cached
USED: dict = {}


class Unavailable(Exception):
    """The baseline cannot run here; the message says why."""


class Guest(NamedTuple):
    package: str
    kernel: Path
    modules: dict  # module name -> .ko path, in load order (dependencies first)


def _depends(ko: Path) -> list[str]:
    """The `depends=` entry of a module's .modinfo."""
    m = re.search(rb"(?:^|\0)depends=([^\0]*)", ko.read_bytes())
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def _with_dependencies(names, find) -> dict:
    """name -> path for `names` and everything they depend on, dependencies
    first; find(name) gives a module's file or None."""
    order: dict = {}

    def visit(name: str, seen: tuple) -> None:
        if name in order:
            return
        if name in seen:
            raise Unavailable(f"module dependency cycle: {' -> '.join(seen + (name,))}")
        path = find(name)
        if path is None:
            raise Unavailable(f"the kernel package has no {name}.ko")
        for dep in _depends(path):
            visit(dep, seen + (name,))
        order[name] = path

    for n in names:
        visit(n, ())
    return order


def _progress(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _tsc_khz() -> int:
    """The host TSC rate, for the guest's early TSC set-up: under TCG Linux
    cannot calibrate the TSC against the PIT and would fall back to jiffies."""
    text = Path("/proc/cpuinfo").read_text()
    m = re.search(r"cpu MHz\s*:\s*([\d.]+)", text)
    return int(float(m.group(1)) * 1000) if m else 2_000_000


def _apt_options(deb_arch: str) -> list[str]:
    """apt-get/apt-cache options for packages of `deb_arch`: none for the
    host's own architecture, else a private state (lists, cache, an empty
    dpkg status) under the benchmark cache, updated when missing or old."""
    native = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    if deb_arch == native:
        return []
    state = cache_dir() / "linux-guest" / f"apt-{deb_arch}"
    lists = state / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    opts = [
        "-o", f"APT::Architecture={deb_arch}", "-o", f"APT::Architectures={deb_arch}",
        "-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={state / 'cache'}",
        "-o", f"Dir::State::status={state / 'status'}",
        "-o", "Acquire::IndexTargets::deb-src::Sources::DefaultEnabled=false", "-o", "Acquire::Languages=none",
    ]
    stamp = state / "updated"
    if not stamp.exists() or time.time() - stamp.stat().st_mtime > LISTS_MAX_AGE_S:
        _progress(f"apt-get update for {deb_arch} (a private package list under {state})")
        proc = subprocess.run(["apt-get", *opts, "-q", "update"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise Unavailable(f"apt-get update for {deb_arch} failed: {proc.stderr.strip()[-200:]}")
        stamp.touch()
    return opts


def fetch(arch: str) -> Guest:
    """The guest kernel image (bzImage / Image) and the network modules of
    the same package, downloaded once."""
    if arch not in PACKAGES:
        raise Unavailable(f"no Linux kernel package for {arch}")
    meta, deb_arch = PACKAGES[arch]
    for tool in ("apt-cache", "apt-get", "dpkg", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} not found (a Debian host is needed for the Linux-guest baseline)")
    opts = _apt_options(deb_arch)
    deps = subprocess.run(["apt-cache", *opts, "depends", meta], capture_output=True, text=True).stdout
    m = re.search(r"Depends: (linux-image-\S+)", deps)
    if not m:
        raise Unavailable(f"apt-cache does not know {meta} (run apt-get update)")
    package = m.group(1)
    out = cache_dir() / "linux-guest" / package
    kernel = out / "vmlinuz"

    def cached(name):
        path = out / f"{name}.ko"
        return path if path.exists() else None

    USED[arch] = package
    if kernel.exists():
        with contextlib.suppress(Unavailable):
            return Guest(package, kernel, _with_dependencies(NET_MODULES, cached))
    _progress(f"apt-get download {package} (the Linux-guest baseline's kernel)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hermit-linux-") as tmp:
        proc = subprocess.run(["apt-get", *opts, "download", package], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if proc.returncode != 0 or not debs:
            raise Unavailable(f"apt-get download {package} failed: {proc.stderr.strip()[-200:]}")
        tree = Path(tmp, "tree")
        tree.mkdir()
        tar = subprocess.run(f"dpkg-deb --fsys-tarfile {debs[0]} | tar -x -C {tree} ./boot/ ./lib/modules/",
                             shell=True, capture_output=True, text=True)
        images = list(tree.glob("boot/vmlinuz-*"))
        if tar.returncode != 0 or not images:
            raise Unavailable(f"no /boot/vmlinuz-* in {debs[0].name}")

        def in_package(name):
            found = [p for n in {name, name.replace("_", "-")} for p in tree.glob(f"lib/modules/*/kernel/**/{n}.ko")]
            return found[0] if found else None

        for name, path in _with_dependencies(NET_MODULES, in_package).items():
            shutil.copyfile(path, out / f"{name}.ko")
        shutil.copyfile(images[0], kernel)
    return Guest(package, kernel, _with_dependencies(NET_MODULES, cached))


@contextlib.contextmanager
def boot(runner, init: str, args: list[str], cpus: int, *, files: dict | None = None, ports: tuple = (),
         accel: str = "tcg", mem_mib: int = 512):
    """Boot the Linux guest on runner's board with `init` as /init (and
    `files`: initramfs path -> host file) and the arguments `args`; yields
    the QEMU process (console on its stdout, bytes), killed on leaving.
    With `ports` the board's network card is attached with those forwards."""
    guest = fetch(runner.arch)
    with tempfile.TemporaryDirectory(prefix="hermit-linux-") as tmp:
        root = Path(tmp, "root")
        root.mkdir()
        for name, src in {"init": init, **(files or {})}.items():
            dest = root / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            dest.chmod(0o755)
        initrd = Path(tmp, "initrd.cpio")
        initrd.write_bytes(cpio_from_dir(root))
        console = f"console={CONSOLE[runner.arch]} quiet panic=-1 {MITIGATIONS_OFF[runner.arch]}"
        if runner.arch == "x86_64":
            console += f" tsc_early_khz={_tsc_khz()} tsc=reliable clocksource=tsc"
        options = RunOptions(cpus=cpus, mem_mib=mem_mib, accel=accel, append=f"{console} -- " + " ".join(args),
                             workdir=tmp, ports=tuple(ports))
        argv, _ = qemu_command(runner.pm, runner.board, str(guest.kernel), options, meta={"network": bool(ports)})
        proc = subprocess.Popen(argv + ["-initrd", str(initrd)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        try:
            yield proc
        finally:
            proc.kill()
            proc.wait()


def run(runner, program: str, args: list[str], cpus: int, accel: str = "tcg", mem_mib: int = 512,
        timeout: float = 900, files: dict | None = None) -> str:
    """Boot the Linux guest with `program` as /init (and `files`, as for
    boot); returns the console output once /init has exited."""
    lines = []
    with boot(runner, program, args, cpus, files=files, accel=accel, mem_mib=mem_mib) as proc:
        watchdog = threading.Timer(timeout, proc.kill)  # a hung guest ends here
        watchdog.start()
        try:
            for raw in proc.stdout:  # until init has exited and the kernel says so
                lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                if "Kernel panic - not syncing" in lines[-1]:
                    break
        finally:
            watchdog.cancel()
    return "\n".join(lines) + "\n"
