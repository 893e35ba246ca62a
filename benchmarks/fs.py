"""File systems (metric `fs`): one static program (benchmarks/apps/fs.c)
times, in a directory, NFILES small files -- create (open O_CREAT|O_WRONLY,
write 100 bytes, close), stat, unlink, each phase as a whole -- and one big
file -- MIB MiB in 1 MiB writes plus fsync, read back in 1 MiB reads -- with
CLOCK_MONOTONIC, and prints ops/s and MB/s per directory. 10 000 files and
256 MiB (--quick: 1 000 and 32 MiB), in

- hermitcore: `hermitcore run IMAGE --mount HOSTDIR:/m -- NFILES MIB /tmp /m`:
  its in-memory tmpfs at /tmp and a host directory over virtio-9p (QEMU's
  own 9P server, `-fsdev local`) at /m;
- the Linux guest: Debian's kernel on the same QEMU machine and command line
  (TCG), the same binary as /init (`fs init MODULES... NFILES MIB /tmp /m`):
  a fresh tmpfs on /tmp, and the same host directory through the same
  virtio-9p device (the run plan's own -fsdev/-device arguments, mount tag
  /m) mounted `-t 9p -o trans=virtio,version=9p2000.L,msize=528384`.

Both guests get the same CPUs and memory (1 CPU, 1 GiB: the 256 MiB file
fits in either tmpfs, which both bound to half the memory). Debian's *cloud*
kernel, the other metrics' Linux guest, builds no 9P at all
(CONFIG_NET_9P is not set), so this metric boots Debian's generic kernel of
the same version (linux-image-amd64 / linux-image-arm64's current package)
for both file systems, with its virtio transport, 9pnet_virtio and 9p
modules (and what they depend on) from the same package: downloaded once
with `apt-get download` into the benchmark cache next to the cloud kernel.

Samples alternate hermitcore, Linux, hermitcore, ...; each sample is one
boot that runs /tmp, then /m. Per subject, file system and operation the
report has the median of the samples and hermitcore / Linux (higher is
better for every number here: ops/s and MB/s).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks.common import APPS, Runner

#: the generic kernel's metapackage per architecture (the cloud flavour has no 9P)
GENERIC = {"x86_64": "linux-image-amd64", "aarch64": "linux-image-arm64"}
#: /init's modules per virtio transport, in load order (their dependencies come along)
P9_MODULES = {"mmio": ("virtio_mmio", "9pnet_virtio", "9p"), "pci": ("virtio_pci", "9pnet_virtio", "9p")}
#: (small files, MiB of the big file): full and --quick
SIZES = {"full": (10_000, 256), "quick": (1_000, 32)}
#: both guests' shape
CPUS, MEM_MIB = 1, 1024
#: samples per subject at most (the harness's --runs caps it further)
MAX_SAMPLES = 3
#: the guest path of the host directory, and the 9P mount tag (hermitcore run --mount's convention)
GUEST_MOUNT = "/m"
#: file system -> the guest directory the program is given
DIRS = {"tmpfs": "/tmp", "9p": GUEST_MOUNT}
#: what is compared: (key in fs.c's line, label), all "higher is better"
OPS = (("create_ops_s", "create/s"), ("stat_ops_s", "stat/s"), ("unlink_ops_s", "unlink/s"),
       ("write_mb_s", "write MB/s"), ("read_mb_s", "read MB/s"))
#: a run's limit: this long plus the workload at these (slow, TCG) rates
BASE_TIMEOUT_S, SLOWEST_OPS_S, SLOWEST_B_S = 180, 100, 1_000_000
LINE = re.compile(r"^fs dir=(\S+) (.*)$", re.M)

_builds: dict[str, str] = {}


class Failed(Exception):
    """A run that did not give the program's lines."""


def build(cc: str) -> str:
    """The static program for `cc`'s architecture (built once per process)."""
    if cc not in _builds:
        out = Path(tempfile.mkdtemp(prefix="hermit-fs-")) / "fs"
        subprocess.run([cc, "-static", "-O2", "-o", str(out), str(APPS / "fs.c")], check=True, capture_output=True)
        _builds[cc] = str(out)
    return _builds[cc]


def parse(text: str) -> dict:
    """guest dir -> {key: number} or {"error": text}, from fs.c's lines."""
    out: dict = {}
    for m in LINE.finditer(text.replace("\r", "")):
        rest = m.group(2)
        if rest.startswith("error="):
            out[m.group(1)] = {"error": rest[len("error="):].strip()}
        else:
            out[m.group(1)] = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", rest)}
    return out


def _tail(text: str, n: int = 400) -> str:
    return text.replace("\r", "").strip()[-n:]


def _complete(got: dict, why: str) -> dict:
    """`got` with an error for every directory the program printed no line for."""
    return {**{d: {"error": f"no result line for {d}; {why}"} for d in DIRS.values()}, **got}


def _timeout(nfiles: int, mib: int) -> float:
    """Two file systems, three phases of nfiles, mib written and read."""
    return BASE_TIMEOUT_S + 2 * (3 * nfiles / SLOWEST_OPS_S + 2 * (mib << 20) / SLOWEST_B_S)


def _empty(host_dir: str) -> None:
    """What a failed run left in the shared host directory goes before the next run."""
    for p in Path(host_dir).iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


# -- hermitcore ------------------------------------------------------------------------


def run_hermit(image: str, accel: str, host_dir: str, nfiles: int, mib: int, timeout: float) -> dict:
    """One `hermitcore run` of the program on /tmp, then the --mount at /m."""
    argv = [sys.executable, "-m", "hermitcore", "run", image, "--accel", accel, "--cpus", str(CPUS),
            "--mem", f"{MEM_MIB}M", "--net", "none", "--timeout", str(int(timeout)),
            "--mount", f"{host_dir}:{GUEST_MOUNT}", "--", str(nfiles), str(mib), *DIRS.values()]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        raise Failed(f"hermitcore: still running after {timeout + 60:.0f} s") from None
    text = proc.stdout.decode(errors="replace")
    got = parse(text)
    missing = f"exit status {proc.returncode}, output ends: {_tail(text + proc.stderr.decode(errors='replace'))!r}"
    if not got:
        raise Failed(f"hermitcore: no result line; {missing}")
    return _complete(got, missing)


# -- the Linux guest ---------------------------------------------------------------


def _transport(board) -> str:
    """How the board's virtio devices attach: PCI on pc/q35, virtio-mmio elsewhere."""
    return "pci" if re.match(r"(pc|q35)\b", board.qemu.machine) else "mmio"


def fetch_guest(arch: str, transport: str, progress=print) -> tuple[str, Path, dict]:
    """(package, kernel, module name -> .ko in load order): Debian's generic
    kernel for `arch` and P9_MODULES[transport] with their dependencies, from
    the same package (downloaded once into the benchmark cache)."""
    from benchmarks import linux_guest
    from hermitcore.build import cache_dir

    if arch not in GENERIC:
        raise linux_guest.Unavailable(f"no Linux kernel package for {arch}")
    for tool in ("apt-cache", "apt-get", "dpkg", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise linux_guest.Unavailable(f"{tool} not found (a Debian host is needed for the Linux-guest baseline)")
    _, deb_arch = linux_guest.PACKAGES[arch]
    opts = linux_guest._apt_options(deb_arch)
    meta = GENERIC[arch]
    deps = subprocess.run(["apt-cache", *opts, "depends", meta], capture_output=True, text=True).stdout
    m = re.search(r"Depends: (linux-image-\S+)", deps)
    if not m:
        raise linux_guest.Unavailable(f"apt-cache does not know {meta} (run apt-get update)")
    package = m.group(1)
    cache = cache_dir() / "linux-guest" / package
    kernel = cache / "vmlinuz"
    names = P9_MODULES[transport]

    def cached(name):
        path = cache / f"{name}.ko"
        return path if path.exists() else None

    if kernel.exists():
        with contextlib.suppress(linux_guest.Unavailable):
            return package, kernel, linux_guest._with_dependencies(names, cached)
    progress(f"apt-get download {package} (Debian's generic kernel: the cloud one has no 9P)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hermit-fs-") as tmp:
        proc = subprocess.run(["apt-get", *opts, "download", package], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if proc.returncode != 0 or not debs:
            raise linux_guest.Unavailable(f"apt-get download {package} failed: {proc.stderr.strip()[-200:]}")
        tree = Path(tmp, "tree")
        tree.mkdir()
        deb = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", str(tree), "./boot/", "./lib/modules/"], stdin=deb.stdout,
                             capture_output=True)
        deb.stdout.close()
        images = list(tree.glob("boot/vmlinuz-*"))
        if deb.wait() != 0 or tar.returncode != 0 or not images:
            raise linux_guest.Unavailable(f"cannot unpack {debs[0].name}: {tar.stderr.decode().strip()[-200:]}")

        def in_package(name):
            found = [p for n in {name, name.replace("_", "-")} for p in tree.glob(f"lib/modules/*/kernel/**/{n}.ko")]
            return found[0] if found else None

        for every in P9_MODULES.values():  # both transports' (a few hundred KiB): one download serves every board
            with contextlib.suppress(linux_guest.Unavailable):
                for name, path in linux_guest._with_dependencies(every, in_package).items():
                    shutil.copyfile(path, cache / f"{name}.ko")
        shutil.copyfile(images[0], kernel)
    return package, kernel, linux_guest._with_dependencies(names, cached)


def run_linux(runner, prog: str, accel: str, host_dir: str, nfiles: int, mib: int, timeout: float,
              progress=print) -> tuple[str, dict]:
    """(kernel package, results): one boot of the Linux guest with the
    program as /init on a fresh tmpfs at /tmp and the host directory's 9P
    share at /m (the virtio-9p device of `hermitcore run --mount`, same slot)."""
    from benchmarks import linux_guest
    from hermitcore.model import RunOptions
    from hermitcore.program import cpio_from_dir
    from hermitcore.run import qemu_command

    package, kernel, modules = fetch_guest(runner.arch, _transport(runner.board), progress)
    with tempfile.TemporaryDirectory(prefix="hermit-fs-") as tmp:
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
        args = ["init", *(f"/lib/{name}.ko" for name in modules), str(nfiles), str(mib), *DIRS.values()]
        options = RunOptions(cpus=CPUS, mem_mib=MEM_MIB, accel=accel, append=f"{cmdline} -- " + " ".join(args),
                             workdir=tmp, mounts=(f"{host_dir.replace(',', ',,')}:{GUEST_MOUNT}",))
        argv, _ = qemu_command(runner.pm, runner.board, str(kernel), options, meta={"network": False})
        if not any(a.startswith("local,") for a in argv):
            raise Failed(f"the run plan has no virtio-9p device for {runner.board.name}")
        proc = subprocess.Popen(argv + ["-initrd", str(initrd)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        lines: list[str] = []
        hung = threading.Event()

        def stop():  # a hung guest ends here
            hung.set()
            proc.kill()

        watchdog = threading.Timer(timeout, stop)
        watchdog.start()
        try:
            for raw in proc.stdout:  # until /init has exited and the kernel says so
                lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                if "Kernel panic - not syncing" in lines[-1]:
                    break
        finally:
            watchdog.cancel()
            proc.kill()
            proc.wait()
    text = "\n".join(lines)
    got = parse(text)
    missing = f"{f'stopped after {timeout:.0f} s, ' if hung.is_set() else ''}its console ends: {_tail(text)!r}"
    if not got:
        raise Failed(f"Linux guest: no result line; {missing}")
    return package, _complete(got, missing)


# -- the metric ----------------------------------------------------------------------


def _host_fs(path: str) -> str:
    """The host file system under the shared directory (what QEMU's 9P server writes to)."""
    proc = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def measure(board: str, runner, accel: str, quick: bool, samples: int, linux: bool, progress=print) -> list[dict]:
    """Report rows, one per file system (tmpfs, 9p) for hermitcore on `board`
    under `accel` and, with `linux`, the Linux guest: per subject and
    operation the median of `samples` runs, or `<subject>_error`."""
    from benchmarks import linux_guest
    from benchmarks.harness import STATIC_CC

    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    prog = build(cc)
    nfiles, mib = SIZES["quick" if quick else "full"]
    timeout = _timeout(nfiles, mib)
    host_dir = tempfile.mkdtemp(prefix="hermit-fs-share-")
    host_fs = _host_fs(host_dir)
    errors: dict = {}  # (subject, fs) -> message
    values: dict = {}  # (subject, fs) -> [result dict per sample]
    subjects: dict = {}
    package = None
    try:
        image = str(Runner(board, prog, pm=runner.pm).result.build.image)
    except Exception as e:  # noqa: BLE001 -- a compose failure is this row's error, not the report's
        for fs in DIRS:
            errors["hermit", fs] = f"compose failed: {type(e).__name__}: {str(e)[:400]}"
    else:
        subjects["hermit"] = lambda: run_hermit(image, accel, host_dir, nfiles, mib, timeout)
    if linux:
        def linux_run():
            nonlocal package
            package, got = run_linux(runner, prog, accel, host_dir, nfiles, mib, timeout, progress)
            return got

        subjects["linux"] = linux_run
    try:
        for i in range(samples):  # interleaved: machine drift hits both subjects alike
            for subject, run in subjects.items():
                if all((subject, fs) in errors for fs in DIRS):
                    continue
                progress(f"fs {board} {accel} {subject} {nfiles} files, {mib} MiB, /tmp and {GUEST_MOUNT} "
                         f"{i + 1}/{samples}")
                _empty(host_dir)
                try:
                    got = run()
                except Failed as e:
                    got = {DIRS[fs]: {"error": str(e)[:600]} for fs in DIRS}
                except linux_guest.Unavailable as e:
                    got = {DIRS[fs]: {"error": f"unavailable: {e}"} for fs in DIRS}
                except Exception as e:  # noqa: BLE001 -- one subject's failure is its row's, not the report's
                    got = {DIRS[fs]: {"error": f"{type(e).__name__}: {str(e)[:500]}"} for fs in DIRS}
                for fs, d in DIRS.items():
                    if (subject, fs) in errors:
                        continue
                    r = got.get(d, {"error": f"no result line for {d}"})
                    if "error" in r:
                        errors[subject, fs] = r["error"]
                    else:
                        values.setdefault((subject, fs), []).append(r)
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)
    rows = []
    for fs, d in DIRS.items():
        row = {"board": board, "accel": accel, "fs": fs, "dir": d, "files": nfiles, "bytes": mib << 20,
               "cpus": CPUS, "mem_mib": MEM_MIB, "samples": samples}
        if fs == "9p":
            row["host_fs"] = host_fs
        if package:
            row["linux_kernel"] = package
        for subject in ("hermit", "linux"):
            if (subject, fs) in errors:
                row[f"{subject}_error"] = errors[subject, fs][:600]
                continue
            runs = values.get((subject, fs))
            if not runs:
                continue
            for key, _ in OPS:
                row[f"{subject}_{key}"] = statistics.median(r[key] for r in runs)
            row[f"{subject}_fsync_ms"] = statistics.median(r["fsync_ns"] for r in runs) / 1e6
            row[f"{subject}_samples"] = runs
        if all(f"linux_{k}" in row for k, _ in OPS):
            for key, _ in OPS:
                h, lin = row.get(f"hermit_{key}"), row[f"linux_{key}"]
                row[f"ratio_linux_{key}"] = h / lin if h and lin else None
            row["target_vs_linux"] = 1.0
            row["meets"] = all(row[f"ratio_linux_{k}"] is not None and row[f"ratio_linux_{k}"] >= 1.0 for k, _ in OPS)
        rows.append(row)
    return rows
