"""The Linux Test Project's system-call tests, built from LTP's source
(../shared/ltp.tar.gz beside the repository, never committed) and run with
tests/ltp/ltprun.c on the host and in one hermitcore guest per architecture.

    python3 -m tests.ltp.ltp build x86_64      # build (cached), print the tree
    python3 -m tests.ltp.ltp host x86_64       # run the tests on the host
    python3 -m tests.ltp.ltp guest x86_64      # run them in the guest

The build goes to ${HERMIT_CACHE_DIR:-~/.cache/hermitcore}/ltp/<arch>/<hash>/,
keyed by the tarball's hash, this file's and ltprun.c's, and is reused when
present.  Only the test directories of FAMILIES are built (LTP's make builds
libltp and the libs/ they link on the way).  The tree a guest boots with:

    /ltprun                    the driver
    /ltp/testcases/bin/...     the tests, their helper binaries (LTP's install)
    /ltp/list                  the tests to run, runtest/syscalls' lines
    /ltp/kconfig               KCONFIG_PATH: the kernel options LTP asks about
    /bin/sh, /bin/cp...        Debian's static busybox: LTP's library copies a
                               test's resource files with system("cp ...")
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TARBALL = Path(os.environ.get("HERMIT_LTP_TARBALL") or ROOT.parent / "shared" / "ltp.tar.gz")

#: Debian packages the build needs beyond the compilers (scripts/setup.sh)
APT_PACKAGES = ["make", "autoconf", "automake", "m4", "pkg-config"]

#: the system-call test families (directories of testcases/kernel/syscalls
#: and runtest/syscalls entries whose names start so)
PROCESS_FAMILIES = ("fork", "vfork", "execve", "wait", "kill", "rt_sig", "sigaction", "sigaltstack", "pipe",
                    "signalfd", "alarm", "setitimer", "getitimer", "timer_", "getpid", "setpgid", "setsid",
                    "getrusage", "times", "clock_gettime", "clock_getres", "clock_nanosleep")
#: the file-system ones (issue #17's list; "stat" takes in statfs/statx,
#: "read" readlink/readv, "open" openat, "dup" dup2/dup3...)
FS_FAMILIES = ("open", "read", "write", "pread", "pwrite", "lseek", "stat", "fstat", "rename", "unlink", "mkdir",
               "rmdir", "link", "symlink", "chmod", "fchmod", "utime", "ftruncate", "truncate", "fcntl", "flock",
               "dup", "getdents", "mmap", "msync", "sendfile", "copy_file_range")
FAMILIES = PROCESS_FAMILIES + FS_FAMILIES


def _wanted(name: str) -> bool:
    """A runtest entry of the families; not the `_64` twins, which on a
    64-bit system build the same calls with _FILE_OFFSET_BITS=64 (no-op)."""
    return name.startswith(FAMILIES) and not name.endswith("_64")

#: runtest lines changed for a run under emulation: fork13 forks a million
#: times (100 s on the host); its own time limit (-I) keeps it to 10 s
OVERRIDES = {"fork13": "fork13 fork13 -I 10"}

#: kernel options LTP's library asks about, as the guest has them: none
#: (hermitcore is not Linux and has no .config; LTP reads KCONFIG_PATH when
#: there is no /proc/config.gz)
KCONFIG = ["# CONFIG_POSIX_AUX_CLOCKS is not set", "# CONFIG_UBSAN_SIGNED_OVERFLOW is not set"]

#: busybox applets the tests' shell commands use
APPLETS = ("sh", "cp", "cat", "rm", "mkdir", "ls", "echo", "true", "false", "kill", "sleep", "zcat")

CROSS = {"x86_64": None, "aarch64": "aarch64-linux-gnu"}
BOARD = {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}

SUMMARY = re.compile(r"^(\S+) exit=(\S+) TPASS=(\d+) TFAIL=(\d+) TBROK=(\d+) TCONF=(\d+) TWARN=(\d+) secs=(\S+)$")


def cache_root() -> Path:
    base = os.environ.get("HERMIT_CACHE_DIR") or os.path.expanduser("~/.cache/hermitcore")
    return Path(base) / "ltp"


def _family(name: str) -> bool:
    return name.startswith(FAMILIES)


def _key() -> str:
    h = hashlib.sha256()
    with open(TARBALL, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    for p in (HERE / "ltprun.c", Path(__file__)):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _sh(cmd: list[str], cwd: Path, log, env=None) -> None:
    log.write(f"\n$ {' '.join(cmd)}\n")
    log.flush()
    r = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}) in {cwd}; see {log.name}")


def busybox(arch: str, where: Path) -> Path:
    """Debian's static busybox for arch: the host's (busybox-static) for
    x86_64, the arm64 package (apt-get download) for aarch64."""
    if arch == "x86_64":
        path = shutil.which("busybox")
        if not path:
            raise RuntimeError("busybox is not installed (apt-get install busybox-static)")
        return Path(path)
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["apt-get", "download", "busybox-static:arm64"], cwd=where, capture_output=True, text=True)
    debs = sorted(where.glob("busybox-static_*_arm64.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download busybox-static:arm64 failed (dpkg --add-architecture arm64; "
                           f"apt-get update): {r.stderr}")
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(where / "root")], check=True)
    return where / "root" / "bin" / "busybox"


def build(arch: str, jobs: int = 2, log=sys.stderr, cache: Path | None = None) -> Path:
    """The tree for arch, built once per tarball (in `cache`, default
    cache_root()): its path."""
    if not TARBALL.is_file():
        raise FileNotFoundError(f"LTP's source is not at {TARBALL} (set HERMIT_LTP_TARBALL)")
    top = (cache or cache_root()) / arch / _key()
    tree = top / "tree"
    if (tree / "ltp" / "list").is_file():
        return tree
    top.mkdir(parents=True, exist_ok=True)
    with open(top / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (tree / "ltp" / "list").is_file():
            return tree
        t0 = time.monotonic()
        print(f"ltp: building LTP for {arch} in {top} (log: {top / 'build.log'})", file=log, flush=True)
        with open(top / "build.log", "w") as blog:
            _build(arch, top, jobs, blog)
        print(f"ltp: built in {time.monotonic() - t0:.0f} s", file=log, flush=True)
    return tree


def _build(arch: str, top: Path, jobs: int, log) -> None:
    src = top / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(top / "tree.tmp", ignore_errors=True)
    src.mkdir()
    _sh(["tar", "xzf", str(TARBALL), "-C", str(src), "--strip-components=1"], top, log)
    _sh(["make", "autotools"], src, log)
    cross = CROSS[arch]
    conf = ["./configure", "--prefix=/ltp", "LDFLAGS=-static"]
    cc = "gcc"
    if cross:
        cc = f"{cross}-gcc"
        conf += [f"--host={cross}", f"CC={cc}"]
    _sh(conf, src, log)
    syscalls = src / "testcases" / "kernel" / "syscalls"
    dirs = sorted(d.name for d in syscalls.iterdir() if d.is_dir() and _family(d.name))
    stage = top / "tree.tmp"
    for d in dirs:
        _sh(["make", f"-j{jobs}", "-C", str(syscalls / d)], src, log)
        _sh(["make", "-C", str(syscalls / d), "install", f"DESTDIR={stage}"], src, log)
    bindir = stage / "ltp" / "testcases" / "bin"
    strip = f"{cross}-strip" if cross else "strip"
    _sh([strip, *sorted(str(p) for p in bindir.iterdir() if p.is_file())], src, log)
    _sh([cc, "-static", "-O2", "-Wall", str(HERE / "ltprun.c"), "-o", str(stage / "ltprun")], src, log)
    # the test list: runtest/syscalls' lines of the families whose binary was built
    lines = []
    for line in (src / "runtest" / "syscalls").read_text().splitlines():
        parts = line.split()
        if not parts or line.startswith("#") or not _wanted(parts[0]):
            continue
        line = OVERRIDES.get(parts[0], " ".join(parts))
        if (bindir / line.split()[1]).is_file():
            lines.append(line)
    (stage / "ltp" / "kconfig").write_text("\n".join(KCONFIG) + "\n")
    (stage / "bin").mkdir()
    shutil.copy(busybox(arch, top / "busybox"), stage / "bin" / "busybox")
    for applet in APPLETS:
        (stage / "bin" / applet).symlink_to("busybox")
    (stage / "ltp" / "list").write_text("\n".join(lines) + "\n")
    os.rename(stage, top / "tree")
    shutil.rmtree(src, ignore_errors=True)


@dataclass
class Result:
    name: str
    exit: str
    counts: dict = field(default_factory=dict)
    secs: float = 0.0
    output: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit == "0" and self.counts.get("TFAIL", 0) == 0 and self.counts.get("TBROK", 0) == 0

    @property
    def problems(self) -> list[str]:
        """The output lines that say what went wrong."""
        return [l for l in self.output if re.search(r"\bT(FAIL|BROK|WARN)\b", l)] or self.output[-15:]

    def row(self) -> str:
        c = self.counts
        return (f"exit={self.exit} TPASS={c.get('TPASS', 0)} TFAIL={c.get('TFAIL', 0)} TBROK={c.get('TBROK', 0)} "
                f"TCONF={c.get('TCONF', 0)}")


def parse(text: str, results: dict | None = None) -> tuple[dict, bool]:
    """ltprun's output -> {name: Result} and whether it got to the end."""
    results = {} if results is None else results
    pending: dict[str, list[str]] = {}
    done = False
    for line in text.splitlines():
        m = SUMMARY.match(line)
        if m:
            name = m.group(1)
            counts = dict(zip(("TPASS", "TFAIL", "TBROK", "TCONF", "TWARN"), map(int, m.group(3, 4, 5, 6, 7))))
            results[name] = Result(name, m.group(2), counts, float(m.group(8)), pending.pop(name, []))
        elif line.startswith("ltprun done "):
            done = True
        elif "| " in line:
            name, _, rest = line.partition("| ")
            pending.setdefault(name, []).append(rest)
    return results, done


def test_names(tree: Path, list_name: str = "list") -> list[str]:
    return [l.split()[0] for l in (tree / "ltp" / list_name).read_text().splitlines() if l.strip()]


def subset(tree: Path, names) -> str:
    """A run list of only these tests (in the full list's order and with its
    arguments), written beside it in the tree: its name."""
    wanted = set(names)
    lines = [l for l in (tree / "ltp" / "list").read_text().splitlines() if l.strip() and l.split()[0] in wanted]
    name = "list-" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
    path = tree / "ltp" / name
    if not path.exists():
        path.write_text("\n".join(lines) + "\n")
    return name


def timeout_mul(arch: str) -> str:
    return "2" if arch == "x86_64" else "4"


def run_host(tree: Path, arch: str = "x86_64", per_test: float = 120, list_name: str = "list") -> tuple[dict, str]:
    """The tests on the host (x86_64 binaries only): results and output."""
    with tempfile.TemporaryDirectory(prefix="ltp-host-", ignore_cleanup_errors=True) as tmp:
        env = dict(os.environ, TMPDIR=tmp, LTP_TIMEOUT_MUL=timeout_mul(arch))
        env.pop("LTPROOT", None)
        try:
            r = subprocess.run([str(tree / "ltprun"), "-t", str(per_test), str(tree / "ltp" / "testcases" / "bin"),
                                str(tree / "ltp" / list_name)], capture_output=True, text=True, env=env,
                               timeout=per_test * len(test_names(tree, list_name)), cwd=tmp)
        finally:
            _unmount_under(tmp)
    results, done = parse(r.stdout)
    if not done:
        raise RuntimeError(f"ltprun did not finish on the host (rc {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr}")
    return results, r.stdout


def _unmount_under(top: str) -> None:
    """Detach what a test left mounted below top (the file-system tests
    mount loop devices on the host, and one killed by its timeout leaves its
    mount behind)."""
    try:
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return
    for m in sorted((m for m in mounts if m.startswith(top + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


def guest_root(tree: Path) -> Path:
    """The tree the guest embeds: all but the tests themselves (hundreds of
    static binaries, more than half a GiB), which it reads from the host
    through a --mount at /ltp/testcases. Made beside the tree, once per list."""
    root = tree.parent / "guest-root"
    lists = sorted(p.name for p in (tree / "ltp").iterdir() if p.name.startswith("list"))
    if root.is_dir() and sorted(p.name for p in (root / "ltp").iterdir() if p.name.startswith("list")) == lists:
        return root
    tmp = tree.parent / "guest-root.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "ltp" / "testcases").mkdir(parents=True)
    shutil.copy2(tree / "ltprun", tmp / "ltprun")
    shutil.copytree(tree / "bin", tmp / "bin", symlinks=True)
    for name in ["kconfig", *lists]:
        shutil.copy2(tree / "ltp" / name, tmp / "ltp" / name)
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    return root


def _guest_once(tree: Path, arch: str, skip: int, per_test: float, total: float, log,
                list_name: str = "list") -> tuple[str, str]:
    """One boot, running the list from entry `skip` on; returns stdout and
    stderr.  The guest is stopped when no test has finished for a while (a
    hung kernel) or after `total` seconds."""
    from tests.helpers import stop

    cmd = [sys.executable, "-m", "hermitcore", "run", "--board", BOARD[arch], str(tree / "ltprun"),
           "--files", str(guest_root(tree)), "--mount", f"{tree / 'ltp' / 'testcases'}:/ltp/testcases",
           "--mem", "1G", "--timeout", str(int(total)),
           "-e", "TMPDIR=/tmp", "-e", "LTPROOT=/ltp", "-e", "PATH=/bin", "-e", "KCONFIG_PATH=/ltp/kconfig",
           "-e", f"LTP_TIMEOUT_MUL={timeout_mul(arch)}",
           "--", "-t", str(int(per_test)), "-s", str(skip), "/ltp/testcases/bin", f"/ltp/{list_name}"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    out: list[str] = []
    err: list[str] = []
    last = [time.monotonic()]
    finished = [0.0]

    def read_out():
        for line in proc.stdout:
            out.append(line)
            if SUMMARY.match(line.rstrip("\n")):
                last[0] = time.monotonic()
                if log:
                    print(f"  {line.rstrip()}", file=log, flush=True)
            elif line.startswith("ltprun done "):
                finished[0] = time.monotonic()

    def read_err():
        for line in proc.stderr:
            err.append(line)

    threads = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in threads:
        t.start()
    # a guest that boots (composing the image included) and then finishes no
    # test for per_test + 90 s is hung
    while proc.poll() is None:
        time.sleep(1)
        if finished[0] and time.monotonic() - finished[0] > 30:
            err.append("ltp: the guest did not stop within 30 s of ltprun's exit: stopping it\n")
            stop(proc)
            break
        if time.monotonic() - last[0] > per_test + 90 + (120 if not out else 0):
            err.append(f"ltp: no test finished for {per_test + 90:.0f} s: stopping the guest\n")
            stop(proc)
            break
    proc.wait()
    for t in threads:
        t.join(timeout=10)
    return "".join(out), "".join(err)


def run_guest(tree: Path, arch: str, per_test: float = 120, log=sys.stderr,
              list_name: str = "list") -> tuple[dict, str, str, int]:
    """The tests in the guest, one boot -- and another for the rest when a
    test takes the whole guest down (that test gets exit=guest-hang):
    results, all stdout, all stderr, and the number of boots."""
    names = test_names(tree, list_name)
    results: dict = {}
    outs, errs = [], []
    boots = 0
    skip = 0
    while skip < len(names):
        boots += 1
        out, err = _guest_once(tree, arch, skip, per_test, per_test * (len(names) - skip) + 120, log, list_name)
        outs.append(out)
        errs.append(err)
        results, done = parse(out, results)
        if done:
            break
        # the first test of this boot's share without a result took the guest down
        todo = [n for n in names[skip:] if n not in results]
        if not todo:
            break
        hung = todo[0]
        out_lines = [l[len(hung) + 2:] for l in out.splitlines() if l.startswith(f"{hung}| ")]
        results[hung] = Result(hung, "guest-hang", {}, 0.0, out_lines + err.splitlines()[-20:])
        if log:
            print(f"  {hung} exit=guest-hang: the guest stopped during it; booting again for the rest", file=log,
                  flush=True)
        skip = names.index(hung) + 1
    return results, "".join(outs), "".join(errs), boots


def table(names, host: dict, guest: dict) -> str:
    rows = [f"{'test':20} {'host':52} guest"]
    for n in names:
        h = host.get(n)
        g = guest.get(n)
        rows.append(f"{n:20} {(h.row() if h else '-'):52} {(g.row() if g else '-')}")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("build", "host", "guest"):
        print(__doc__, file=sys.stderr)
        return 2
    what, arch = argv
    tree = build(arch)
    if what == "build":
        print(tree)
        return 0
    if what == "host":
        results, out = run_host(tree, arch)
    else:
        results, out, err, boots = run_guest(tree, arch)
        sys.stderr.write(err)
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
