"""The Linux Test Project's system-call tests (fork, vfork, execve, wait,
kill, signals, pipes, signalfd, timers, process groups, CPU time and clocks:
getrusage, times, clock_gettime/getres/nanosleep; and the file-system
calls: open, read, write, stat, rename, link, chmod, fcntl, flock, dup,
getdents, mmap, msync, sendfile... -- tests/ltp/ltp.py FAMILIES) in the guest,
judged against the same tests on the host: every test that passes on the
host passes in the guest, but for KNOWN_FAILURES.

By default (and in CI) the fixed subset that is expected to pass runs: every
test of the list but the known failures. HERMIT_LTP=full runs all of them,
and names the known failures that pass now.

LTP is built from ../shared/ltp.tar.gz beside the repository, static, into
the hermitcore cache (tests/ltp/ltp.py), once per tarball; the tests run in
one guest boot per architecture under tests/ltp/ltprun.c.  The host runs
the x86_64 build: it is the reference for both architectures (the host runs
no aarch64 binaries)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.ltp import ltp

pytestmark = pytest.mark.slow

#: the cache the build goes to, read before the test session points
#: HERMIT_CACHE_DIR at its own temporary one: the build outlives the session
CACHE = ltp.cache_root()

#: tests that pass on the host and not (yet) in the guest -> why
DEVICE = "needs a block device (tst_device: a loop device for a scratch file system, or mkfs); the guest has none"
CREDS = "setuid/seteuid/setreuid/setgid fail with ENOSYS: no credentials yet (every process is root)"
NEWER = "TCONF: the call is missing (ENOSYS) or needs a newer kernel than the 6.1 the guest reports"
LEASES = "fcntl(F_SETLEASE) and F_GETOWN_EX / F_SETOWN_EX are not implemented (EINVAL)"
FS_KNOWN = {
    **{t: DEVICE for t in (
        "chmod06 copy_file_range01 copy_file_range02 fchmod06 fchmodat2_01 fstatfs01 getdents01 getdents02 link08 "
        "linkat02 mkdir03 mkdir09 mkdirat02 mmap16 msync04 open12 open14 open_tree01 open_tree02 openat02 preadv03 "
        "preadv203 pwritev03 readahead02 readdir01 rename01 rename03 rename04 rename05 rename06 rename07 rename08 "
        "rename10 rename11 rename12 rename13 rename15 renameat01 rmdir02 stat04 statfs01 statvfs01 statx04 statx05 "
        "statx06 statx08 statx10 statx11 statx12 unlink09 unlink10 utime01 utime02 utime03 utime04 utime05 utime06 "
        "utimes01 utimensat01").split()},
    **{t: CREDS for t in (
        "chmod03 fchmod03 fcntl18 link04 mkdir04 mkdir05 open02 open08 readlink01 readlink03 rename09 rmdir03 "
        "stat01 stat03 statfs03 truncate03 unlink08").split()},
    **{t: NEWER for t in (
        "chmod09 fcntl40 fchmodat2_02 openat201 openat202 openat203 readahead01 statmount01 statmount02 statmount03 "
        "statmount04 statmount05 statmount06 statmount07 statmount08 statmount09").split()},
    "chmod07": "getgrnam(\"daemon\") fails: the default /etc/group has root and nobody only",
    "fchmod02": "getgrnam(\"daemon\") fails: the default /etc/group has root and nobody only",
    "fcntl17": "record locks do not detect deadlocks between processes (F_SETLKW never gives EDEADLK)",
    "fcntl23": LEASES, "fcntl27": LEASES, "fcntl31": LEASES,
    "fcntl24": "TCONF: tmpfs has no leases here", "fcntl25": "TCONF: tmpfs has no leases here",
    "fcntl26": "TCONF: tmpfs has no leases here", "fcntl32": "TCONF: tmpfs has no leases here",
    "fcntl33": "TCONF on tmpfs, then /proc/sys/fs/lease-break-time is not writable",
    "fcntl30": "no /proc/sys/fs/pipe-max-size (F_SETPIPE_SZ is not implemented)",
    "fcntl37": "no /proc/sys/fs/pipe-max-size (F_SETPIPE_SZ is not implemented)",
    "fcntl38": "needs CONFIG_DNOTIFY (directory notifications are not implemented)",
    "fcntl39": "needs CONFIG_DNOTIFY (directory notifications are not implemented)",
    "lseek11": "TCONF: SEEK_DATA/SEEK_HOLE answer as generic_file_llseek (no holes are tracked)",
    "mmap12": "no /proc/self/pagemap",
    "mmap14": "mlock is not accounted (VmLck in /proc/self/status stays 0)",
    "mmap18": "MAP_GROWSDOWN mappings do not grow: the child gets SIGSEGV",
    "mmap22": "TCONF: no cgroups (memory controller)",
    "open13": "fgetxattr is not implemented (ENOSYS where an O_PATH descriptor gives EBADF)",
    "open_by_handle_at01": "name_to_handle_at/open_by_handle_at are not implemented (ENOSYS)",
    "open_by_handle_at02": "name_to_handle_at/open_by_handle_at are not implemented (ENOSYS)",
    "sendfile07": "socketpair(AF_UNIX) fails with ENOSYS (no AF_UNIX sockets yet)",
    "sendfile09": "TCONF: needs 5 GiB free for a large file",
}
KNOWN_FAILURES = {
    **FS_KNOWN,
    "execve02": "seteuid fails with ENOSYS (setresuid is not implemented)",
    "execve03": "setgid fails with ENOSYS (not implemented)",
    "execve04": "a checkpoint test that still fails after futexes were shared between processes",
    "execveat03": "needs a block device (tst_device: a loop device for a filesystem); the guest has none",
    "fork13": "fork13 writes /proc/sys/kernel/pid_max (save/restore): EACCES, the file is read-only",
    "fork14": "mmap of 1 GiB anonymous regions fails after a few: no 16 TB of address space to reserve (TCONF)",
    "kill05": "shmget fails with ENOSYS (System V shared memory is not implemented)",
    "pipe13": "a checkpoint test that still fails after futexes were shared between processes",
    "pipe15": "no /proc/sys/fs/pipe-user-pages-soft",
    "pipe2_04": "fcntl(F_SETPIPE_SZ) fails with EINVAL",
    "rt_sigtimedwait01": "hangs after 'Wait interrupted by timeout' (the raw-syscall variant) until LTP's timeout",
    "setpgid03": "a checkpoint test that still fails after futexes were shared between processes",
    "clock_gettime03": "needs time namespaces (CONFIG_TIME_NS: unshare(CLONE_NEWTIME)); the guest has none",
    "clock_nanosleep03": "needs time namespaces (CONFIG_TIME_NS: unshare(CLONE_NEWTIME)); the guest has none",
    "clock_gettime04": "two clocks read in turn now and then more than 5 ms apart: the guest's vCPUs are host threads "
                       "that TCG on a shared host delays",
    "clock_nanosleep02": "timer slack: TCG on a shared host wakes a sleeper late more often than the test's "
                         "statistics allow",
    "getrusage03": "capget is not implemented (ENOSYS): LTP's capability check gives TCONF",
    "wait403": "no /proc/sys/kernel/tainted",
    "waitid10": "no /proc/sys/kernel/core_pattern",
}

#: the same, for one architecture only
KNOWN_FAILURES_ARCH: dict[str, dict[str, str]] = {
    "x86_64": {},
    "aarch64": {},
}


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"{why} (scripts/setup.sh should provide it)")
    pytest.skip(why)


def _tree(arch: str) -> Path:
    if not ltp.TARBALL.is_file():
        _unavailable(f"LTP's source is not at {ltp.TARBALL}")
    tools = ["make", "autoconf", "automake", "m4", "pkg-config", "gcc"]
    if ltp.CROSS[arch]:
        tools.append(f"{ltp.CROSS[arch]}-gcc")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        _unavailable(f"building LTP needs {' '.join(missing)} (apt-get install {' '.join(ltp.APT_PACKAGES)})")
    return ltp.build(arch, cache=CACHE)


FULL = os.environ.get("HERMIT_LTP") == "full"


def _list(tree: Path, arch: str) -> str:
    """The run list: all of it (HERMIT_LTP=full), or what should pass."""
    if FULL:
        return "list"
    known = {**KNOWN_FAILURES, **KNOWN_FAILURES_ARCH.get(arch, {})}
    return ltp.subset(tree, [n for n in ltp.test_names(tree) if n not in known])


@pytest.fixture(scope="session")
def host_results():
    """The x86_64 build's results on the host (every test: the reference
    for both architectures' subsets)."""
    results, out = ltp.run_host(_tree("x86_64"))
    return results


def test_ltp_syscalls_pass_as_on_the_host(arch, host_results, capsys):
    tree = _tree(arch)
    list_name = _list(tree, arch)
    names = ltp.test_names(tree, list_name)
    guest, out, err, boots = ltp.run_guest(tree, arch, list_name=list_name)
    known = {**KNOWN_FAILURES, **KNOWN_FAILURES_ARCH.get(arch, {})}

    missing_syscalls = sorted(set(re.findall(r"system call (\S+ \(\d+\)) is not implemented", err)))
    report = [f"LTP on {arch}: {len(names)} tests, {boots} guest boot(s)", ltp.table(names, host_results, guest)]
    report += [l for l in out.splitlines() if l.startswith("ltprun: left behind")]
    report += [l for l in err.splitlines() if l.startswith("ltp: ")]
    if missing_syscalls:
        report.append("system calls the guest does not implement: " + ", ".join(missing_syscalls))
    with capsys.disabled():
        print("\n" + "\n".join(report))

    assert "PANIC" not in err, err[-5000:]
    failures, fixed = [], []
    for n in names:
        h, g = host_results.get(n), guest.get(n)
        if h is None or not h.passed:
            continue  # the reference does not pass it (TCONF: not for this machine)
        if g is not None and g.passed:
            if n in known:
                fixed.append(n)
            continue
        if n in known:
            continue
        lines = g.problems if g else ["(no result: the guest stopped before it)"]
        failures.append(f"{n}: guest {g.row() if g else '-'}; host {h.row()}\n    " + "\n    ".join(lines[:12]))
    if fixed:
        print(f"known failures that now pass on {arch} (take them out of KNOWN_FAILURES): {', '.join(fixed)}")
    assert not failures, (f"{len(failures)} LTP test(s) pass on the host and fail in the {arch} guest:\n"
                          + "\n".join(failures) + "\n\n" + "\n".join(report))
