"""Dynamic executables, run unmodified: compose packs the interpreter and
the libraries (hermitcore/dynlink.py), the kernel loads the interpreter and
gives the auxiliary vector and the vDSO (loader.c, plugins/*/vdso.c). Each
program is judged by running the same binary on the host and comparing the
bytes: our own probe (dlopen, TLS of a loaded module, threads, fork + exec,
the vDSO's clock), C++ program and LD_PRELOAD of libraries built into /tmp
on both architectures (the aarch64 ones built with the cross compiler
against its sysroot), musl's dynamic linker,
and Debian's own programs from this machine -- python3 with its standard
library, the sqlite3 CLI, lua5.4, gawk, coreutils -- on x86_64 (the host runs
no aarch64 binaries), and Debian's arm64 python3 unpacked from its packages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import selected_arches
from tests.helpers import no_panic, program_lines, run_linux
from tests.linux_programs import SOURCES, unavailable

CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}
CXX = {"x86_64": "g++", "aarch64": "aarch64-linux-gnu-g++"}
MODULE = "/opt/dynmod/libdynmod.so"  # where the guest finds the module dynprobe loads
#: the host's own programs: x86_64 guests only
host_arch_only = pytest.mark.skipif("x86_64" not in selected_arches(), reason="runs the host's x86_64 programs")


def _cc(cmd: list[str], kind: str, arch: str) -> None:
    if shutil.which(cmd[0]) is None:
        unavailable("dynamic", arch, f"{cmd[0]} is not installed")
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stderr}"


@pytest.fixture(scope="session")
def dynprobe(tmp_path_factory):
    """Per architecture: (dynprobe, its module libdynmod.so), built once."""
    built = {}

    def make(arch):
        if arch not in built:
            d = tmp_path_factory.mktemp(f"dyn-{arch}")
            _cc([CC[arch], "-O2", "-shared", "-fPIC", "-o", str(d / "libdynmod.so"), str(SOURCES / "dynmod.c"),
                 "-lm"], "dynamic", arch)
            _cc([CC[arch], "-O2", "-rdynamic", "-o", str(d / "dynprobe"), str(SOURCES / "dynprobe.c"), "-ldl",
                 "-lpthread"], "dynamic", arch)
            built[arch] = (d / "dynprobe", d / "libdynmod.so")
        return built[arch]
    return make


def _host(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    assert r.returncode == 0, r
    return r


def test_dynprobe_matches_the_host(arch, dynprobe):
    prog, mod = dynprobe(arch)
    host_prog, host_mod = dynprobe("x86_64")
    want = _host([str(host_prog), str(host_mod)])
    assert want.stdout.endswith("fork + exec: status 5\n"), want
    for cpus in ("1", "2"):
        r = run_linux(arch, prog, MODULE, extra=("--add", f"{mod}:{MODULE}", "--cpus", cpus))
        no_panic(r)
        assert (r.rc, r.out) == (0, want.stdout), (cpus, r)


def test_cxx_threads_and_exceptions(arch, tmp_path):
    prog = tmp_path / "dyncxx"
    _cc([CXX[arch], "-O2", "-std=c++17", "-pthread", "-o", str(prog), str(SOURCES / "dyncxx.cpp")], "c++", arch)
    host = tmp_path / "dyncxx-host"
    _cc([CXX["x86_64"], "-O2", "-std=c++17", "-pthread", "-o", str(host), str(SOURCES / "dyncxx.cpp")], "c++",
        "x86_64")
    want = _host([str(host)])
    r = run_linux(arch, prog, extra=("--cpus", "2"))
    no_panic(r)
    assert (r.rc, r.out) == (0, want.stdout), r


@host_arch_only
def test_musl_dynamic(tmp_path):
    """musl's dynamic linker (/lib/ld-musl-x86_64.so.1) and libc.so."""
    prog = tmp_path / "musl-dynamic"
    src = tmp_path / "m.c"
    src.write_text('#include <stdio.h>\n#include <stdlib.h>\n#include <math.h>\n'
                   'int main(int c, char **v) { printf("musl %d %s %.3f\\n", c, getenv("GREETING"), sqrt(2.0));'
                   ' return 4; }\n')
    _cc(["musl-gcc", "-O2", "-o", str(prog), str(src), "-lm"], "musl", "x86_64")
    interp = subprocess.run(["readelf", "-l", str(prog)], capture_output=True, text=True).stdout
    assert "ld-musl-x86_64.so.1" in interp, interp
    want = subprocess.run([str(prog), "a"], capture_output=True, text=True, env={"GREETING": "hi"})
    assert want.returncode == 4
    r = run_linux("x86_64", prog, "a", env=("GREETING=hi",))
    no_panic(r)
    assert (r.rc, r.out) == (4, want.stdout), r


PYTHON_SCRIPT = r"""
import hashlib, json, os, sqlite3, subprocess, sys, threading
db = sqlite3.connect("t.db")  # in the working directory (the writable root in the guest)
db.execute("create table t(x integer, h text)")
db.executemany("insert into t values (?, ?)", [(i, hashlib.sha256(str(i).encode()).hexdigest()[:12]) for i in range(500)])
db.commit()
out = []
def work(i):
    out.append((i, hashlib.md5(str(i).encode()).hexdigest()[:8]))
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
child = subprocess.run([sys.executable, "-c", "import sys; print('child', sys.argv[1:])", "x"], capture_output=True, text=True)
print(json.dumps({"rows": db.execute("select count(*), sum(x), max(h) from t").fetchone(),
                  "threads": sorted(out), "child": child.stdout, "status": child.returncode,
                  "modules": sorted(m for m in ("_json", "_sqlite3", "_hashlib", "_ssl", "_ctypes") if __import__(m))},
                 sort_keys=True))
"""


def _python_stdlib() -> Path:
    python = Path("/usr/bin/python3").resolve()
    lib = Path("/usr/lib") / python.name
    if not python.is_file() or not (lib / "os.py").is_file():
        unavailable("dynamic", "x86_64", "Debian's python3 is not installed")
    return lib


@host_arch_only
def test_python3_runs_unmodified(tmp_path):
    """Debian's /usr/bin/python3 with its standard library (--add), threads,
    sqlite3 on the writable root, hashlib (OpenSSL), a subprocess running python again."""
    lib = _python_stdlib()
    script = tmp_path / "script.py"
    script.write_text(PYTHON_SCRIPT)
    want = _host(["/usr/bin/python3", str(script)], cwd=tmp_path, env={"PATH": "/usr/bin"})
    r = run_linux("x86_64", "/usr/bin/python3", "/script.py", env=("PATH=/usr/bin:/",),  # sys.executable: /python3
                  extra=("--add", str(lib), "--add", f"{script}:/script.py", "--mem", "512M", "--cpus", "2"))
    no_panic(r)
    assert (r.rc, r.out) == (0, want.stdout), r


PYTHON_SERVER = r"""
import hashlib, json, socketserver, sys

class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().strip()
        self.wfile.write(json.dumps({"got": line.decode(), "sha256": hashlib.sha256(line).hexdigest()}).encode() + b"\n")

with socketserver.TCPServer(("0.0.0.0", 8000), Handler) as server:
    print("ready", flush=True)
    server.handle_request()
    server.handle_request()
print("served two", flush=True)
"""


@host_arch_only
def test_python3_socket_server_answers_the_host(tmp_path):
    """Debian's python3 serving TCP (socketserver) in the guest, reached
    from the host through run --port: two requests, the same answers the
    host's own python computes."""
    import hashlib
    import json
    import socket
    import sys

    from tests.helpers import TIMEOUT, free_port

    lib = _python_stdlib()
    script = tmp_path / "server.py"
    script.write_text(PYTHON_SERVER)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermitcore", "run", "--board", "qemu-microvm", "/usr/bin/python3", "--add", str(lib),
         "--add", f"{script}:/server.py", "--mem", "256M", "--port", f"{port}:8000", "--timeout", TIMEOUT,
         "-e", "PATH=/usr/bin:/", "--", "/server.py"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read() if proc.poll() is not None else ""
        for word in ("hello", "from the host"):
            with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                s.sendall(word.encode() + b"\n")
                answer = json.loads(s.makefile().readline())
            assert answer == {"got": word, "sha256": hashlib.sha256(word.encode()).hexdigest()}
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, out) == (0, "served two\n"), err


#: Debian's arm64 python3.11 and the libraries it and its extension modules load (apt-get download; setup.sh
#: adds the architecture)
PYTHON_ARM64 = ["python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6", "libbz2-1.0",
                "libcrypt1", "libdb5.3", "libexpat1", "libffi8", "liblzma5", "libncursesw6", "libnsl2", "libreadline8",
                "libsqlite3-0", "libssl3", "libtinfo6", "libtirpc3", "libuuid1", "zlib1g", "libgcc-s1",
                "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0", "libcom-err2", "libkeyutils1"]


@pytest.mark.skipif("aarch64" not in selected_arches(), reason="the aarch64 guest's python")
def test_python3_arm64_from_debian_packages(tmp_path):
    """Debian's arm64 packages unpacked with dpkg-deb -x into a tree, which is
    the program's --sysroot: the same script as on x86_64, the same output
    as the host's own python3 gives."""
    import os

    lib = _python_stdlib()  # the host's, for its output only
    r = subprocess.run(["apt-get", "download", *(f"{p}:arm64" for p in PYTHON_ARM64)], cwd=tmp_path,
                       capture_output=True, text=True)
    debs = sorted(tmp_path.glob("*_arm64.deb"))
    if r.returncode or len(debs) != len(PYTHON_ARM64):
        if os.environ.get("CI"):
            pytest.fail(f"apt-get download of python3.11:arm64 failed (scripts/setup.sh adds arm64): {r.stderr}")
        pytest.skip("Debian's arm64 packages are not available (dpkg --add-architecture arm64; apt-get update)")
    root = tmp_path / "root"
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    script = tmp_path / "script.py"
    script.write_text(PYTHON_SCRIPT)
    assert lib.name == "python3.11", "the host's python3 is the same version as Debian's arm64 one"
    want = _host(["/usr/bin/python3", str(script)], cwd=tmp_path, env={"PATH": "/usr/bin"})
    r = run_linux("aarch64", str(root / "usr/bin/python3.11"), "/script.py", env=("PATH=/usr/bin:/",),
                  extra=("--sysroot", str(root), "--add", str(root / "usr/lib/python3.11"), "--add",
                         f"{script}:/script.py", "--mem", "512M", "--cpus", "2"))
    no_panic(r)
    assert (r.rc, r.out) == (0, want.stdout), r


@host_arch_only
@pytest.mark.parametrize("tool, args", [
    ("sqlite3", ["/tmp/x.db", "create table t(a, b); insert into t values (1, 'x'), (2, 'y'), (3, 'z');"
                 " select group_concat(b, '-'), sum(a) from t; pragma journal_mode=wal; select count(*) from t;"],
     ),
    ("lua5.4", ["-e", "local t = {} for i = 1, 10 do t[#t + 1] = i * i end print(table.concat(t, ','), "
                "string.format('%.3f', math.pi), #arg)"]),
    ("gawk", ["BEGIN { for (i = 1; i <= 5; i++) s = s i*i \" \"; print s; print toupper(\"done\"), 2^10 }"]),
    ("sort", ["-n", "-r", "data"]),
    ("sha256sum", ["data"]),
])
def test_debian_programs(tool, args, tmp_path):
    """The distribution's dynamically linked programs, as installed."""
    path = shutil.which(tool, path="/usr/bin:/bin")
    if path is None:
        unavailable("dynamic", "x86_64", f"{tool} is not installed (scripts/setup.sh installs it)")
    data = tmp_path / "data"
    data.write_text("".join(f"{(i * 7919) % 1000}\n" for i in range(200)))
    host_args = [a.replace("/tmp/x.db", str(tmp_path / "x.db")) for a in args]
    want = _host([path, *host_args], cwd=tmp_path)  # "data": in the working directory (the guest's is /)
    r = run_linux("x86_64", path, *args, extra=("--add", f"{data}:/data", "--mem", "256M"))
    no_panic(r)
    assert (r.rc, program_lines(r)) == (0, want.stdout.splitlines()), r


@host_arch_only
def test_shell_runs_a_dynamic_program():
    """execve of a dynamic program from a static one: busybox sh pipes into
    Debian's /usr/bin/sort (packed with --add, its libraries with it)."""
    bb = shutil.which("busybox")
    sort = "/usr/bin/sort"
    if bb is None or not Path(sort).is_file():
        unavailable("dynamic", "x86_64", "busybox or sort is not installed")
    r = run_linux("x86_64", bb, "sh", "-c", "printf 'b\\na\\nc\\n' | /usr/bin/sort -r; echo status $?",
                  extra=("--add", sort))
    no_panic(r)
    assert (r.rc, program_lines(r)) == (0, ["c", "b", "a", "status 0"]), r


def test_jit_code_in_writable_executable_memory(arch, tmp_path):
    """What JITs do: code written into memory mapped writable and executable
    at once (and patched in place), and the W^X way -- written RW, then
    mprotect'ed RX -- then called; a dynamic program, compared with the host
    (x86_64; the aarch64 build's lines are the same by construction)."""
    prog = tmp_path / "jitprobe"
    _cc([CC[arch], "-O2", "-o", str(prog), str(SOURCES / "jitprobe.c")], "dynamic", arch)
    want = "rwx: 42\nrwx patched: 43\nrw then rx: 7\nrx, rw, rx again: 8\n"
    if arch == "x86_64":
        assert _host([str(prog)]).stdout == want
    r = run_linux(arch, str(prog))
    no_panic(r)
    assert (r.rc, r.out) == (0, want), r


@pytest.fixture(scope="session")
def preloads():
    """Per architecture: (preloadprobe, libfake.so replacing rand(), libfake2.so
    replacing random()), built once into a directory under /tmp -- which the
    guest has as a tmpfs of its own, so compose packs them at /host/tmp/...
    and the guest's LD_PRELOAD must be told so."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hermit-preload-", dir="/tmp") as top:
        built = {}

        def make(arch):
            if arch not in built:
                d = Path(top) / arch
                d.mkdir()
                src = str(SOURCES / "preload.c")
                _cc([CC[arch], "-O2", "-shared", "-fPIC", "-o", str(d / "libfake.so"), src], "dynamic", arch)
                _cc([CC[arch], "-O2", "-shared", "-fPIC", "-DSECOND", "-o", str(d / "libfake2.so"), src], "dynamic",
                    arch)
                _cc([CC[arch], "-O2", "-o", str(d / "preloadprobe"), str(SOURCES / "preloadprobe.c")], "dynamic",
                    arch)
                built[arch] = (d / "preloadprobe", d / "libfake.so", d / "libfake2.so")
            return built[arch]
        yield make


@pytest.mark.parametrize("form", ["path", "list"])
def test_ld_preload_from_tmp(arch, preloads, form):
    """LD_PRELOAD of a library the user built under /tmp: compose packs it
    (at /host/tmp/..., the guest's /tmp being its own) and run names it there
    in the guest's LD_PRELOAD; the output is the host's, byte for byte. The
    list: both of ld.so's separators, a bare name (found through
    LD_LIBRARY_PATH, as a DT_NEEDED name) and a path given twice."""
    prog, lib, lib2 = preloads(arch)
    env = {"LD_PRELOAD": str(lib)} if form == "path" else \
        {"LD_PRELOAD": f"libfake2.so {lib}:{lib}", "LD_LIBRARY_PATH": str(lib.parent)}
    want = "rand 42\nrandom 1804289383\n" if form == "path" else "rand 42\nrandom 7\n"
    if arch == "x86_64":  # the host runs no aarch64 programs: the same source gives the same lines there
        assert _host([str(prog)], env=env).stdout == want
    r = run_linux(arch, prog, env=tuple(f"{k}={v}" for k, v in env.items()))
    no_panic(r)
    assert "cannot be preloaded" not in r.err, r
    assert (r.rc, r.out) == (0, want), r


def test_ld_preload_of_the_other_architecture_is_refused(arch, preloads):
    """A preload built for the other architecture: one line naming both, at
    compose time, with a non-zero status."""
    from tests.conftest import hermit
    from tests.helpers import BOARD

    other = "aarch64" if arch == "x86_64" else "x86_64"
    prog, _, _ = preloads(arch)
    _, wrong, _ = preloads(other)
    r = hermit("run", "--board", BOARD[arch], str(prog), "--env", f"LD_PRELOAD={wrong}")
    assert r.rc != 0 and r.out == "", r
    assert r.err == f"hermitcore: error: LD_PRELOAD {wrong} is for {other}, and preloadprobe is {arch}\n", r


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_the_vdso_answers_the_clock_after_its_first_read(arch, dynprobe, builder, kind):
    """Both programs read the clock 1002 times and time() once. x86_64
    calibrates its clock on first use (not at boot: a program that never
    asks for time does not wait for it), so a [vvar] page made before that
    sends the first read to the kernel, which calibrates and fills the page
    in: every later read stays in the vDSO. aarch64's counter needs no
    calibration: no read reaches the kernel. (The dynamic one's loader has
    read files, whose access times may have calibrated the clock already.)"""
    if kind == "dynamic":
        prog, mod = dynprobe(arch)
        r = run_linux(arch, prog, MODULE, extra=("--add", f"{mod}:{MODULE}", "--strace"))
    else:
        r = run_linux(arch, builder.build("glibc", arch, "clockreads.c"), extra=("--strace",))
    no_panic(r)
    assert r.rc == 0 and "monotonic clock never goes back: yes" in r.lines, r
    assert "realtime after 2020: yes, time() agrees: yes" in r.lines, r
    reads = [line for line in r.err.splitlines()
             if line.startswith(("[strace] clock_gettime(", "[strace] time(", "[strace] gettimeofday("))]
    assert len(reads) == (1 if arch == "x86_64" else 0), reads
