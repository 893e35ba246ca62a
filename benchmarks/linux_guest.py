"""The Linux-guest baseline: Debian's own cloud kernel, fetched with
`apt-get download` at benchmark time (cached, never committed), booted on the
same QEMU machine with the same command line as hermitcore, with an
initramfs whose /init is the very same static benchmark binary. Linux passes
the arguments after `--` on its command line to /init; when /init exits the
kernel panics ("Attempted to kill init"), and we stop QEMU there (an SMP
panic-reboot under TCG does not always get as far as resetting)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from hermitcore.build import cache_dir
from hermitcore.model import RunOptions
from hermitcore.program import cpio_from_dir
from hermitcore.run import qemu_command

#: the kernel package per guest architecture (a metapackage naming the current one)
PACKAGES = {"x86_64": "linux-image-cloud-amd64"}
WHY_NOT = {"aarch64": "Debian's arm64 kernel package cannot be fetched on an amd64 host without dpkg multiarch"}


class Unavailable(Exception):
    """The baseline cannot run here; the message says why."""


def _tsc_khz() -> int:
    """The host TSC rate, for the guest's early TSC set-up: under TCG Linux
    cannot calibrate the TSC against the PIT and would fall back to jiffies."""
    text = Path("/proc/cpuinfo").read_text()
    m = re.search(r"cpu MHz\s*:\s*([\d.]+)", text)
    return int(float(m.group(1)) * 1000) if m else 2_000_000


def kernel(arch: str) -> Path:
    """The guest kernel image (bzImage / Image), downloaded once."""
    meta = PACKAGES.get(arch)
    if not meta:
        raise Unavailable(WHY_NOT.get(arch, f"no Linux kernel package for {arch}"))
    for tool in ("apt-cache", "apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} not found (a Debian host is needed for the Linux-guest baseline)")
    deps = subprocess.run(["apt-cache", "depends", meta], capture_output=True, text=True).stdout
    m = re.search(r"Depends: (linux-image-\S+)", deps)
    if not m:
        raise Unavailable(f"apt-cache does not know {meta} (run apt-get update)")
    package = m.group(1)
    out = cache_dir() / "linux-guest" / f"{package}.vmlinuz"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hermit-linux-") as tmp:
        proc = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if proc.returncode != 0 or not debs:
            raise Unavailable(f"apt-get download {package} failed: {proc.stderr.strip()[-200:]}")
        tar = subprocess.run(f"dpkg-deb --fsys-tarfile {debs[0]} | tar -x -C {tmp} ./boot/", shell=True,
                             capture_output=True, text=True)
        images = list(Path(tmp, "boot").glob("vmlinuz-*"))
        if tar.returncode != 0 or not images:
            raise Unavailable(f"no /boot/vmlinuz-* in {debs[0].name}")
        shutil.copyfile(images[0], out)
    return out


def run(runner, program: str, args: list[str], cpus: int, accel: str = "tcg", mem_mib: int = 512,
        timeout: float = 900) -> str:
    """Boot the Linux guest on runner's board with `program` as /init;
    returns the console output."""
    image = kernel(runner.arch)
    with tempfile.TemporaryDirectory(prefix="hermit-linux-") as tmp:
        root = Path(tmp, "root")
        root.mkdir()
        shutil.copyfile(program, root / "init")
        (root / "init").chmod(0o755)
        initrd = Path(tmp, "initrd.cpio")
        initrd.write_bytes(cpio_from_dir(root))
        append = (f"console=ttyS0 quiet panic=-1 tsc_early_khz={_tsc_khz()} tsc=reliable clocksource=tsc "
                  "-- " + " ".join(args))
        options = RunOptions(cpus=cpus, mem_mib=mem_mib, accel=accel, append=append, workdir=tmp)
        argv, _ = qemu_command(runner.pm, runner.board, str(image), options)
        proc = subprocess.Popen(argv + ["-initrd", str(initrd)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        lines = []
        watchdog = threading.Timer(timeout, proc.kill)  # a hung guest ends here
        watchdog.start()
        try:
            for raw in proc.stdout:  # until init has exited and the kernel says so
                lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                if "Kernel panic - not syncing" in lines[-1]:
                    break
        finally:
            watchdog.cancel()
            proc.kill()
            proc.wait()
    return "\n".join(lines) + "\n"
