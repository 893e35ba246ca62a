"""A private containerd for the OCI tests and the `oci` benchmark: Debian's
containerd with its own root, state, socket and config in a temporary
directory (never the machine's), `ctr` pointed at it, and a CNI network
made with the real bridge + host-local plugins in a network namespace of
our own. Everything is torn down: tasks, shims, mounts, the namespace."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CNI_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
TOOLS = {"containerd": "containerd", "ctr": "containerd", "runc": "runc", "umoci": "umoci", "skopeo": "skopeo",
         "ip": "iproute2", "curl": "curl"}


def runtime_binary() -> str:
    """The hermitcore-runtime console script pip installed beside this
    Python (not pyenv's shim: the shim execs it on every call)."""
    path = os.path.join(os.path.dirname(sys.executable), "hermitcore-runtime")
    if not os.path.isfile(path):
        path = shutil.which("hermitcore-runtime") or path
    return path


def missing_tools() -> list[str]:
    out = [f"{t} (apt-get install {p})" for t, p in TOOLS.items() if shutil.which(t) is None]
    if not any(os.path.isfile(os.path.join(d, "bridge")) for d in CNI_DIRS):
        out.append("the CNI bridge plugin (apt-get install containernetworking-plugins)")
    if not os.path.isfile(runtime_binary()):
        out.append("hermitcore-runtime (pip install -e .)")
    return out


class Containerd:
    def __init__(self, namespace: str = "hermit-test", cri: str = ""):
        """`cri`: extra TOML for containerd's CRI plugin (tests/cri.py), which
        is otherwise off."""
        # short: the socket's path must fit a sockaddr_un
        self.dir = tempfile.mkdtemp(prefix="hc-ctd-", dir="/tmp")
        self.sock = os.path.join(self.dir, "sock")
        self.ns = namespace
        self.runtime = runtime_binary()
        self.runtime_root = os.path.join(self.dir, "rt")
        config = os.path.join(self.dir, "config.toml")
        with open(config, "w") as f:
            f.write(f'version = 2\nroot = "{self.dir}/root"\nstate = "{self.dir}/state"\n'
                    + ('' if cri else 'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n') +
                    f'[grpc]\n  address = "{self.sock}"\n'
                    f'[ttrpc]\n  address = "{self.sock}.ttrpc"\n' + cri)
        self.log = open(os.path.join(self.dir, "containerd.log"), "wb")
        self.proc = subprocess.Popen(["containerd", "--config", config], stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(self.sock) and self.ctr("version", check=False).returncode == 0:
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"containerd exited:\n{self.log_text()}")
            time.sleep(0.1)
        else:
            raise AssertionError(f"containerd did not start:\n{self.log_text()}")

    def log_text(self) -> str:
        with open(os.path.join(self.dir, "containerd.log"), errors="replace") as f:
            return f.read()[-4000:]

    def ctr(self, *args, check=True, timeout=180, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(["ctr", "-a", self.sock, "-n", self.ns, *args], capture_output=True, text=True,
                           timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def run_argv(self, image: str, cid: str, *args: str, opts=()) -> list[str]:
        """`ctr run` with hermitcore-runtime as the runc shim's binary."""
        return ["ctr", "-a", self.sock, "-n", self.ns, "run", "--runc-binary", self.runtime, "--runc-root",
                self.runtime_root, *opts, image, cid, *args]

    def import_image(self, archive: str) -> None:
        self.ctr("images", "import", "--all-platforms", archive)

    def cleanup_task(self, cid: str) -> None:
        self.ctr("task", "kill", "-s", "SIGKILL", cid, check=False)
        for _ in range(50):
            if self.ctr("task", "delete", cid, check=False).returncode == 0 or "not found" in self.ctr(
                    "task", "ls", check=False).stdout:
                break
            time.sleep(0.1)
        self.ctr("container", "delete", cid, check=False)

    def close(self) -> None:
        for line in self.ctr("task", "ls", "-q", check=False).stdout.split():
            self.cleanup_task(line)
        for line in self.ctr("container", "ls", "-q", check=False).stdout.split():
            self.ctr("container", "delete", line, check=False)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        # shims of ours still alive (they name our socket on their command line)
        for pid in _pids_with(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if self.dir in line.split()[1]]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _pids_with(text: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    out.append(int(name))
        except OSError:
            pass
    return out


def qemus_of(cid: str) -> list[int]:
    """QEMU processes still running a container's image (the runtime names
    the guest by the container's id: QEMU's -name; the runtime's own tests
    find theirs by the bundle's path)."""
    return [p for p in _pids_with(cid) if _comm(p).startswith("qemu-system")]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class CniNetwork:
    """A network namespace wired by the CNI bridge plugin (host-local IPAM)
    the way CRI does it for a pod: the namespace exists, CNI ADD gives its
    eth0 an address on a bridge of the host, then the container is created
    in it (`ctr run --with-ns network:PATH`)."""

    def __init__(self, name: str, workdir: str, subnet: str = "10.251.0.0/24", bridge: str = "hcbr0", mtu: int = 0):
        self.name = name
        self.path = f"/var/run/netns/{name}"
        self.conf = {
            "cniVersion": "1.0.0", "name": "hermit-test", "type": "bridge", "bridge": bridge, "isGateway": True,
            "ipMasq": False, **({"mtu": mtu} if mtu else {}),
            "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "routes": [{"dst": "0.0.0.0/0"}],
                     "dataDir": os.path.join(workdir, "ipam")},
        }
        self.bridge = bridge
        self.plugins = next(d for d in CNI_DIRS if os.path.isfile(os.path.join(d, "bridge")))
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
        subprocess.run(["ip", "netns", "add", name], check=True)
        result = json.loads(self._cni("ADD"))
        self.ip = result["ips"][0]["address"].split("/")[0]

    def _cni(self, command: str) -> str:
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": self.name, "CNI_NETNS": self.path, "CNI_IFNAME": "eth0",
               "CNI_PATH": self.plugins, "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        r = subprocess.run([os.path.join(self.plugins, "bridge")], input=json.dumps(self.conf), env=env,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError(f"CNI {command} failed: {r.stdout}{r.stderr}")
        return r.stdout

    def close(self) -> None:
        try:
            self._cni("DEL")
        except AssertionError:
            pass
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
