"""Processes: fork with copy-on-write, vfork, execve, wait, pipes between
processes and signals between them, judged by running the same binary on
the host and in the guest (tests/apps/linux/procprobe.c); Debian's static
busybox as a user runs it: a shell script with pipelines, subshells,
`$(...)`, background jobs and `trap`, and `httpd` forking per connection
under load -- on both architectures."""

from __future__ import annotations

import difflib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import BOARD, TIMEOUT, free_port, no_panic, program_lines, run_linux, stop

SCRIPT = r"""
echo "pipeline:" $(echo hello world | tr a-z A-Z)
seq 1 50 | sort -rn | head -3 | wc -l
x=$(printf '%s\n' a b c | cat | wc -l); echo "command substitution: $x"
( echo subshell; exit 3 ); echo "subshell status $?"
sleep 0.2 & echo "in the background"; wait $!; echo "waited: $?"
trap 'echo trapped USR1' USR1; kill -USR1 $$; echo "after the trap"
for i in 1 2 3; do echo $i; done | tr '\n' ' '; echo
false || echo "|| runs"
sh -c 'exit 7'; echo "sh -c status $?"
echo "a b c" > /tmp/f; tr a-z A-Z < /tmp/f; cat /tmp/f | wc -w
ls /bin | grep -c busybox
echo done
"""


def busybox(arch: str, tmp_path_factory) -> Path:
    """Debian's static busybox for arch: the host's (busybox-static), or the
    arm64 package fetched with apt (scripts/setup.sh adds the architecture)."""
    if arch == "x86_64":
        path = shutil.which("busybox")
        if not path:
            pytest.fail("busybox is not installed (scripts/setup.sh installs busybox-static)")
        return Path(path)
    where = tmp_path_factory.mktemp("busybox-arm64")
    r = subprocess.run(["apt-get", "download", "busybox-static:arm64"], cwd=where, capture_output=True, text=True)
    debs = list(where.glob("busybox-static_*_arm64.deb"))
    if r.returncode or not debs:
        if os.environ.get("CI"):
            pytest.fail(f"apt-get download busybox-static:arm64 failed (scripts/setup.sh adds arm64): {r.stderr}")
        pytest.skip("busybox-static:arm64 is not available (dpkg --add-architecture arm64; apt-get update)")
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(where / "root")], check=True)
    return where / "root" / "bin" / "busybox"


@pytest.fixture(scope="session")
def busybox_tree(tmp_path_factory):
    """Per architecture, a tree with busybox and its applets in /bin."""
    trees = {}

    def make(arch):
        if arch not in trees:
            root = tmp_path_factory.mktemp(f"bb-{arch}")
            (root / "bin").mkdir()
            shutil.copy(busybox(arch, tmp_path_factory), root / "bin" / "busybox")
            for applet in ("sh", "tr", "cat", "echo", "wc", "sort", "head", "seq", "printf", "true", "false",
                           "sleep", "ls", "grep", "httpd", "kill"):
                (root / "bin" / applet).symlink_to("busybox")
            (root / "script.sh").write_text(SCRIPT)
            www = root / "www"
            www.mkdir()
            (www / "index.html").write_text("<p>hello from a forked httpd</p>\n" * 50)
            trees[arch] = root
        return trees[arch]
    return make


def test_procprobe_matches_the_host(arch, builder):
    prog = builder.build("glibc", arch, "procprobe.c")
    want = subprocess.run([str(builder.build("glibc", "x86_64", "procprobe.c"))], capture_output=True, text=True,
                          timeout=120)
    assert want.returncode == 0 and want.stdout.endswith("== done\n"), want
    for cpus in ("1", "2"):
        r = run_linux(arch, prog, extra=("--cpus", cpus))
        no_panic(r)
        assert (r.rc, r.out) == (0, want.stdout), (cpus, r)


def test_busybox_shell_script(arch, busybox_tree, tmp_path):
    root = busybox_tree(arch)
    host_root = busybox_tree("x86_64")
    want = subprocess.run([str(host_root / "bin" / "sh"), str(host_root / "script.sh")], capture_output=True,
                          text=True, timeout=60, env={"PATH": str(host_root / "bin")}, cwd=tmp_path)
    assert want.returncode == 0 and want.stdout.endswith("done\n"), want
    r = run_linux(arch, root / "bin" / "busybox", "sh", "/script.sh", files=root, env=("PATH=/bin",))
    no_panic(r)
    assert (r.rc, program_lines(r)) == (0, want.stdout.splitlines()), r


def test_busybox_httpd_forks_per_connection(arch, busybox_tree):
    """busybox httpd forks a child per connection: 200 requests on fresh
    connections, then wrk's load (when wrk is installed) without errors."""
    root = busybox_tree(arch)
    port = free_port()
    page = (root / "www" / "index.html").read_bytes()
    import sys
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermitcore", "run", "--board", BOARD[arch], str(root / "bin" / "busybox"),
         "--files", str(root), "--cpus", "2", "--timeout", TIMEOUT, "--port", f"{port}:8080", "--",
         "httpd", "-f", "-p", "8080", "-h", "/www"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as resp:
                    assert resp.read() == page
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        for i in range(200):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as resp:
                assert resp.status == 200 and resp.read() == page, i
        wrk = shutil.which("wrk")
        if wrk:
            out = subprocess.run([wrk, "-t1", "-c4", "-d3s", f"http://127.0.0.1:{port}/index.html"],
                                 capture_output=True, text=True, timeout=60).stdout
            assert "requests in" in out and "Socket errors" not in out and "Non-2xx" not in out, out
    finally:
        stop(proc)
    out, err = proc.communicate()
    assert "PANIC" not in err and "EXCEPTION" not in err, err


@pytest.fixture(scope="module")
def pid_host_output(builder):
    prog = builder.build("glibc", "x86_64", "pidprobe.c")
    r = subprocess.run([str(prog)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout.endswith("== done\n"), r
    return r.stdout


def test_proc_of_other_processes_as_on_the_host(arch, builder, pid_host_output):
    """/proc/<pid> of a parent's children (tests/apps/linux/pidprobe.c): a
    stopped one (State T, two threads, its own name, cwd and fd 7), one
    asleep in a group of its own (S) and a zombie (Z: no exe, cwd,
    cmdline or descriptors) -- status, stat, cmdline, comm, exe, cwd, fd --
    and which of them a listing of /proc shows before and after they are
    collected: the guest prints what the host prints."""
    prog = builder.build("glibc", arch, "pidprobe.c")
    for cpus in ("1", "2"):
        r = run_linux(arch, prog, extra=("--cpus", cpus))
        no_panic(r)
        assert r.rc == 0, (cpus, r)
        assert r.out == pid_host_output, (cpus, "\n".join(difflib.unified_diff(
            pid_host_output.splitlines(), r.out.splitlines(), "host", "guest", lineterm="")))
