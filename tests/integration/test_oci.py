"""OCI images and the OCI runtime with the real engines: `hermitcore pkg`
writes an image that skopeo and umoci read and `ctr images import` takes;
Debian's containerd (a private instance: tests/containerd.py) runs it
through its runc shim with hermitcore-runtime as the shim's binary -- the
program's output and exit status, its arguments, environment, working
directory and CPU/memory limits, a bind mount, SIGTERM reaching the
program's handler, SIGKILL stopping the VM, a server reached at the
address the CNI bridge plugin gave its namespace; an ordinary image of a
static binary composed on the fly; the runtime's own create/start/state/
delete cycle and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time

import pytest

from tests.containerd import CniNetwork, Containerd, missing_tools, qemus_of, runtime_binary
from tests.helpers import BOARD

OCI_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@pytest.fixture(scope="module")
def ctd():
    missing = missing_tools()
    if missing:
        pytest.fail("missing for the OCI tests (scripts/setup.sh installs them): " + ", ".join(missing))
    c = Containerd()
    yield c
    c.close()


def pkg(*args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "hermitcore", "pkg", *map(str, args)], capture_output=True, text=True,
                       timeout=600)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def images(ctd, builder, tmp_path_factory):
    """ocitool and netserver packaged for both architectures (one
    multi-platform image each), imported into the private containerd."""
    out = tmp_path_factory.mktemp("oci")
    tools = [builder.build("glibc", a, "ocitool.c") for a in ("x86_64", "aarch64")]
    pkg(*tools, "--board", BOARD["x86_64"], "--board", BOARD["aarch64"], "--name", "hermit/ocitool",
        "-e", "GREETING=from-the-image", "--cpus", "1", "--mem", "128Mi", "-o", out / "ocitool.tar", "--", "show",
        "default-arg")
    pkg(builder.build("glibc", "x86_64", "netserver.c"), builder.build("glibc", "aarch64", "netserver.c"),
        "--board", BOARD["x86_64"], "--board", BOARD["aarch64"], "--name", "hermit/netserver", "--expose", "8080",
        "-o", out / "netserver.tar")
    for name in ("ocitool", "netserver"):
        ctd.import_image(str(out / f"{name}.tar"))
    return {"dir": out, "ocitool": "docker.io/hermit/ocitool:latest", "netserver": "docker.io/hermit/netserver:latest"}


def test_pkg_writes_a_multi_platform_image_skopeo_and_umoci_read(images, builder, tmp_path):
    archive = images["dir"] / "ocitool.tar"
    index = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci-archive:{archive}"], capture_output=True,
                                      text=True, check=True).stdout)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert index["annotations"]["org.hermitcore.unikernel"] == "true"
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
    for arch, machine in (("x86_64", 62), ("aarch64", 183)):
        layout = tmp_path / f"layout-{arch}"
        subprocess.run(["skopeo", "copy", "--override-arch", OCI_ARCH[arch], f"oci-archive:{archive}",
                        f"oci:{layout}:t"], check=True, capture_output=True)
        bundle = tmp_path / f"bundle-{arch}"
        r = subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:t", str(bundle)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        boot = json.loads((bundle / "rootfs/hermitcore/config.json").read_text())
        program = "/" + builder.build("glibc", arch, "ocitool.c").name
        assert boot == {"board": BOARD[arch], "arch": arch, "program": program, "cpus": 1, "memory": "128M",
                        "hermitcore": boot["hermitcore"]}
        head = (bundle / "rootfs/hermitcore/image.elf").read_bytes()[:20]
        assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == machine
        config = json.loads((bundle / "config.json").read_text())
        assert config["process"]["args"] == [program, "show", "default-arg"]
        assert "GREETING=from-the-image" in config["process"]["env"]
        labels = json.loads(subprocess.run(["skopeo", "inspect", "--override-arch", OCI_ARCH[arch],
                                            f"oci:{layout}:t"], capture_output=True, text=True,
                                           check=True).stdout)["Labels"]
        assert labels["org.hermitcore.board"] == BOARD[arch] and labels["org.hermitcore.cpus"] == "1"
    # the same inputs give the same image, digest for digest
    tool = builder.build("glibc", "x86_64", "ocitool.c")
    a, b = (pkg(tool, "--name", "same", "-o", tmp_path / name).stdout.split()[-1] for name in ("a", "b"))
    assert a == b and a.startswith("sha256:")
    # bad input is one line, not a traceback
    r = pkg(tmp_path / "missing-program", "-o", tmp_path / "c", check=False)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr


def test_ctr_run_gives_the_program_its_args_env_cwd_limits_and_exit_status(ctd, images, arch):
    cid = f"show-{arch}"
    r = subprocess.run(ctd.run_argv(images["ocitool"], cid, "/ocitool", "show", "one", "two words", opts=(
        "--rm", "--platform", f"linux/{OCI_ARCH[arch]}", "--env", "GREETING=hello from ctr", "--cwd", "/work/dir",
        "--cpus", "2", "--memory-limit", str(96 << 20))), capture_output=True, text=True, timeout=180)
    lines = r.stdout.splitlines()
    assert r.returncode == 3, r.stderr
    assert lines[:5] == ["arg 1: show", "arg 2: one", "arg 3: two words", "cwd: /work/dir",
                         "GREETING=hello from ctr"], r.stderr
    assert lines[5] == "cpus: 2"
    mem = int(lines[6].split()[1])
    assert 80 <= mem <= 96, lines
    assert lines[7:] == ["terminal: no"]
    assert not qemus_of(cid)


def test_a_terminal_when_the_spec_asks_for_one(ctd, images, arch):
    """ctr run -t: the runtime makes a pty, hands its master to the shim
    through --console-socket, and the program's stdio is the terminal."""
    import pty

    cid = f"tty-{arch}"
    master, slave = pty.openpty()
    proc = subprocess.Popen(ctd.run_argv(images["ocitool"], cid, "/ocitool", "show", opts=(
        "--rm", "-t", "--platform", f"linux/{OCI_ARCH[arch]}")), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None or _readable(master):
            try:
                chunk = os.read(master, 4096) if _readable(master) else b""
            except OSError:
                break
            out += chunk
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            ctd.cleanup_task(cid)
        os.close(master)
    assert proc.returncode == 3, out
    # "\r\r\n": the container's terminal turns \n into \r\n, and ctr's own copy to its terminal adds
    # one more \r -- exactly the bytes runc gives for a static hello under `ctr run -t`.
    assert b"arg 1: show\r\r\n" in out and b"terminal: yes\r\r\n" in out, out


def _readable(fd: int) -> bool:
    import select

    return bool(select.select([fd], [], [], 0.1)[0])


def test_sigterm_from_ctr_reaches_the_programs_handler(ctd, images, arch):
    cid = f"term-{arch}"
    proc = subprocess.Popen(ctd.run_argv(images["ocitool"], cid, "/ocitool", "wait", opts=(
        "--rm", "--platform", f"linux/{OCI_ARCH[arch]}")), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        ctd.ctr("task", "kill", "-s", "SIGTERM", cid)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            ctd.cleanup_task(cid)
    assert (proc.returncode, out) == (0, "graceful shutdown after signal 15\n"), err
    assert not qemus_of(cid)


def test_sigkill_stops_the_vm_and_leaves_no_qemu(ctd, images, arch):
    cid = f"killed-{arch}"
    proc = subprocess.Popen(ctd.run_argv(images["ocitool"], cid, "/ocitool", "wait", opts=(
        "--rm", "--platform", f"linux/{OCI_ARCH[arch]}")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        qemus = qemus_of(cid)
        assert len(qemus) == 1
        # the image is run from its layer's own file (containerd's overlay snapshot), not through the
        # container's root: the same path for every container of the image, so run plans serve them all
        with open(f"/proc/{qemus[0]}/cmdline", "rb") as f:
            argv = f.read().decode().split("\0")
        kernel = argv[argv.index("-kernel") + 1]
        assert kernel.startswith(os.path.join(ctd.dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots"))
        assert kernel.endswith("/fs/hermitcore/image.elf") and cid not in kernel
        state = json.loads(subprocess.run([runtime_binary(), "--root", os.path.join(ctd.runtime_root, ctd.ns), "state", cid],
                                          capture_output=True, text=True, check=True).stdout)
        assert state["status"] == "running" and state["pid"] > 0
        ctd.ctr("task", "kill", "-s", "SIGKILL", cid)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            ctd.cleanup_task(cid)
    assert proc.returncode == 137
    assert not qemus_of(cid)


def test_a_bind_mount_is_the_guests_mount(ctd, images, tmp_path, arch):
    shared = tmp_path / "shared"
    shared.mkdir()
    r = subprocess.run(ctd.run_argv(images["ocitool"], f"bind-{arch}", "/ocitool", "write", "/data/note.txt", "via 9p",
                                    opts=("--rm", "--platform", f"linux/{OCI_ARCH[arch]}", "--mount", f"type=bind,src={shared},dst=/data,options=rbind:rw")), capture_output=True, text=True,
        timeout=180)
    assert (r.returncode, r.stdout) == (0, "read back: via 9p\n"), r.stderr
    assert (shared / "note.txt").read_text() == "via 9p\n"
    # read only (Kubernetes' secrets and config maps): the guest cannot write through it
    r = subprocess.run(ctd.run_argv(images["ocitool"], f"bind-ro-{arch}", "/ocitool", "write", "/data/other.txt", "x",
                                    opts=("--rm", "--platform", f"linux/{OCI_ARCH[arch]}", "--mount",
                                          f"type=bind,src={shared},dst=/data,options=rbind:ro")),
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 1 and "Read-only file system" in r.stderr, r
    assert not (shared / "other.txt").exists()


def test_a_server_is_reached_at_its_cni_address(ctd, images, tmp_path, arch):
    # an overlay network's MTU (VXLAN: 1450): the guest's frames must fit the interface's
    net = CniNetwork(f"hc-test-{os.getpid()}", str(tmp_path), mtu=1400)
    cid = f"server-{arch}"
    try:
        proc = subprocess.Popen(ctd.run_argv(images["netserver"], cid, "/netserver", opts=(
            "--rm", "--platform", f"linux/{OCI_ARCH[arch]}", "--with-ns", f"network:{net.path}")),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "netserver: ready\n"
            url = f"http://{net.ip}:8080"
            got = subprocess.run(["curl", "-sS", "--max-time", "30", f"{url}/meminfo"], capture_output=True, text=True)
            assert got.returncode == 0 and got.stdout.startswith("freeram="), got.stderr
            # bulk both ways in full-size frames: they fit the 1400-byte MTU or vanish at the interface
            import hashlib
            import socket

            with socket.create_connection((net.ip, 9000), timeout=60) as s:
                s.sendall(b"SEND 2000000\n")
                data = b""
                while len(data) < 2000000 + 65:
                    chunk = s.recv(65536)
                    assert chunk, len(data)
                    data += chunk
            assert data[2000000:2000064].decode() == hashlib.sha256(data[:2000000]).hexdigest()
            payload = os.urandom(1000000)
            with socket.create_connection((net.ip, 9000), timeout=60) as s:
                s.sendall(b"RECV 1000000\n" + payload)
                answer = s.makefile().readline().strip()
            assert answer == hashlib.sha256(payload).hexdigest()
            # a datagram larger than the MTU: the guest must fragment its echo to the interface's MTU
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(10)
                big = os.urandom(1450)
                u.sendto(big, (net.ip, 9007))
                assert u.recvfrom(4096)[0] == big
            subprocess.run(["curl", "-sS", "--max-time", "30", f"{url}/quit"], capture_output=True, text=True)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        finally:
            if proc.poll() is None:
                proc.kill()
                ctd.cleanup_task(cid)
        assert not qemus_of(cid)
        # a second container in the same namespace (a restart in the pod) has the network again, and the name
        # servers of the resolv.conf bound over its /etc/resolv.conf
        resolv = tmp_path / "resolv.conf"
        resolv.write_text("search example.test\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:2\n")
        r = subprocess.run(ctd.run_argv(images["ocitool"], f"dns-{arch}", "/ocitool", "cat", "/etc/resolv.conf",
                                        opts=("--rm", "--platform", f"linux/{OCI_ARCH[arch]}", "--with-ns",
                                              f"network:{net.path}", "--mount",
                                              f"type=bind,src={resolv},dst=/etc/resolv.conf,options=rbind:ro")),
                           capture_output=True, text=True, timeout=180)
        assert (r.returncode, r.stdout) == (0, "nameserver 192.0.2.53\n"), r.stderr
    finally:
        net.close()
    assert not qemus_of(cid)


def test_an_ordinary_image_of_a_static_binary_is_composed_on_the_fly(ctd, builder, tmp_path, arch):
    """FROM scratch + a static binary, built with umoci: no hermitcore
    packaging at all."""
    layout = tmp_path / "plain"
    ref = f"{layout}:plain"
    for argv in (["umoci", "init", "--layout", str(layout)], ["umoci", "new", "--image", ref],
                 ["umoci", "unpack", "--rootless", "--image", ref, str(tmp_path / "b")]):
        subprocess.run(argv, check=True, capture_output=True)
    tool = builder.build("glibc", arch, "ocitool.c")
    (tmp_path / "b/rootfs/bin").mkdir()
    (tmp_path / "b/rootfs/bin/ocitool").write_bytes(tool.read_bytes())
    os.chmod(tmp_path / "b/rootfs/bin/ocitool", 0o755)
    # an absolute symlink, as /bin/sh -> /bin/busybox: followed inside the image, never to the host's file
    os.symlink("/bin/ocitool", tmp_path / "b/rootfs/bin/tool")
    subprocess.run(["umoci", "repack", "--image", ref, str(tmp_path / "b")], check=True, capture_output=True)
    subprocess.run(["umoci", "config", "--image", ref, "--config.entrypoint", "ocitool", "--config.env",
                    "PATH=/bin", "--architecture", OCI_ARCH[arch]], check=True, capture_output=True)
    with tarfile.open(tmp_path / "plain.tar", "w") as t:
        for name in os.listdir(layout):
            t.add(layout / name, arcname=name)
    name = f"docker.io/library/plain-{arch}:latest"
    ctd.ctr("images", "import", "--platform", f"linux/{OCI_ARCH[arch]}", "--index-name", name, str(tmp_path / "plain.tar"))
    r = subprocess.run(ctd.run_argv(name, f"plain-{arch}", "ocitool", "show", "x", opts=(
        "--rm", "--platform", f"linux/{OCI_ARCH[arch]}")), capture_output=True, text=True, timeout=300)
    assert r.returncode == 3, r.stderr
    assert r.stdout.splitlines()[:3] == ["arg 1: show", "arg 2: x", "cwd: /"]
    r = subprocess.run(ctd.run_argv(name, f"plain-link-{arch}", "tool", "show", "y", opts=(
        "--rm", "--platform", f"linux/{OCI_ARCH[arch]}")), capture_output=True, text=True, timeout=300)
    assert r.returncode == 3 and r.stdout.startswith("arg 1: show\narg 2: y\n"), r


def test_podman_runs_the_image_with_the_runtime(images, arch, tmp_path_factory):
    """podman load of `hermitcore pkg`'s archive, then podman run --runtime
    (conmon calls create/start/state/delete), with its own storage."""
    import shutil
    import tempfile

    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (scripts/setup.sh installs it)")
    root = tempfile.mkdtemp(prefix="hc-pm-", dir="/tmp")
    pm = ["podman", "--root", f"{root}/root", "--runroot", f"{root}/run", "--cgroup-manager", "cgroupfs",
          "--events-backend", "file", "--storage-driver", "vfs"]
    try:
        # podman load takes the host's platform of an index: the arm64 one goes through skopeo first
        archive = f"{root}/{arch}.tar"
        subprocess.run(["skopeo", "copy", "--override-arch", OCI_ARCH[arch], f"oci-archive:{images['dir'] / 'ocitool.tar'}",
                        f"oci-archive:{archive}:{images['ocitool']}"], check=True, capture_output=True)
        r = subprocess.run([*pm, "load", "-i", archive], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([*pm, "run", "--rm", "--pull", "never", "--network", "none", "--runtime", runtime_binary(),
                            "--arch",
                            OCI_ARCH[arch], "-e", "GREETING=podman", images["ocitool"], "show", "p"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 3, r.stderr
        assert r.stdout.splitlines()[:4] == ["arg 1: show", "arg 2: p", "cwd: /", "GREETING=podman"], r.stdout
    finally:
        subprocess.run([*pm, "rm", "-af"], capture_output=True, timeout=120)
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if root in line.split()[1]]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cri(images):
    """containerd with its CRI plugin and the `hermitcore` runtime entry,
    the images imported where CRI looks (namespace k8s.io)."""
    from tests.cri import PAUSE_IMAGE, CriContainerd

    c = CriContainerd()
    try:
        for name in ("ocitool", "netserver"):
            c.ctr("images", "import", "--all-platforms", str(images["dir"] / f"{name}.tar"))
        c.ctr("images", "tag", images["ocitool"], PAUSE_IMAGE)  # nothing can be pulled here; never booted
        yield c
    finally:
        c.close()


def _cri_log(path) -> str:
    """The container's output from the log CRI writes for the kubelet:
    `<time> <stream> <P|F> <text>` lines, P a partial line."""
    out = ""
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 3)
            out += (parts[3] if len(parts) > 3 else "") + ("\n" if parts[2] == "F" else "")
    return out


def _cri_wait_exit(cri, cid: str, timeout: float = 180):
    api = cri.api
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = cri.runtime_service.ContainerStatus(api.ContainerStatusRequest(container_id=cid), timeout=30).status
        if st.state == api.CONTAINER_EXITED:
            return st
        time.sleep(0.2)
    raise AssertionError(f"container {cid} did not exit")


def test_a_kubernetes_pod_with_the_runtime_class_runs_through_cri(cri, images, tmp_path, arch):
    """What the kubelet does for a Pod whose RuntimeClass handler is
    `hermitcore` (docs/deploying.md), over containerd's CRI API: the pod's
    sandbox with the handler, the pod IP from CNI, containers with args,
    env and resource limits, their logs and exit codes, a server reached at
    the pod IP, and StopContainer's SIGTERM reaching the program."""
    import platform

    if {"x86_64": "x86_64", "aarch64": "aarch64"}.get(platform.machine()) != arch:
        pytest.skip(f"a Kubernetes node runs images of its own architecture ({platform.machine()})")
    api, rs = cri.api, cri.runtime_service
    logs = tmp_path / "pods"
    logs.mkdir()
    pod_config = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name="web", uid="7f1a2b3c", namespace="default"), hostname="web",
        log_directory=str(logs), labels={"app": "web"},
        linux=api.LinuxPodSandboxConfig(security_context=api.LinuxSandboxSecurityContext(
            namespace_options=api.NamespaceOption(network=api.POD, pid=api.CONTAINER, ipc=api.POD))))
    pod = rs.RunPodSandbox(api.RunPodSandboxRequest(config=pod_config, runtime_handler="hermitcore"),
                           timeout=120).pod_sandbox_id
    status = rs.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=pod), timeout=30).status
    assert status.state == api.SANDBOX_READY and status.runtime_handler == "hermitcore"
    ip = status.network.ip
    assert ip.startswith("10.252.0."), status

    def container(name, image, args, env=(), cpus=1, mem=128):
        config = api.ContainerConfig(
            metadata=api.ContainerMetadata(name=name), image=api.ImageSpec(image=image), args=list(args),
            envs=[api.KeyValue(key=k, value=v) for k, v in env], log_path=f"{name}.log",
            linux=api.LinuxContainerConfig(resources=api.LinuxContainerResources(
                cpu_period=100000, cpu_quota=100000 * cpus, memory_limit_in_bytes=mem << 20)))
        cid = rs.CreateContainer(api.CreateContainerRequest(pod_sandbox_id=pod, config=config,
                                                            sandbox_config=pod_config), timeout=300).container_id
        rs.StartContainer(api.StartContainerRequest(container_id=cid), timeout=120)
        return cid, logs / f"{name}.log"

    try:
        # a container of the pod: the image's entrypoint with the pod's args and env, the limits size the VM
        cid, log = container("show", images["ocitool"], ["show", "from the pod"], env=[("GREETING", "hi k8s")],
                             cpus=2, mem=96)
        st = _cri_wait_exit(cri, cid)
        out = _cri_log(log)
        assert st.exit_code == 3, out
        lines = out.splitlines()
        assert lines[:2] == ["arg 1: show", "arg 2: from the pod"] and "GREETING=hi k8s" in lines, out
        assert "cpus: 2" in lines and 80 <= int(next(x for x in lines if x.startswith("memory:")).split()[1]) <= 96
        rs.RemoveContainer(api.RemoveContainerRequest(container_id=cid), timeout=60)
        # a server in the pod, reached at the pod's IP
        cid, log = container("server", images["netserver"], [])
        deadline = time.monotonic() + 120
        while "netserver: ready" not in (_cri_log(log) if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.2)
        got = subprocess.run(["curl", "-sS", "--max-time", "30", f"http://{ip}:8080/meminfo"], capture_output=True,
                             text=True)
        assert got.returncode == 0 and got.stdout.startswith("freeram="), (got.stderr, _cri_log(log))
        rs.StopContainer(api.StopContainerRequest(container_id=cid, timeout=2), timeout=60)
        assert _cri_wait_exit(cri, cid).state == api.CONTAINER_EXITED
        assert not qemus_of(cid)
        # the pod's termination: StopContainer's SIGTERM reaches the program's handler
        cid, log = container("graceful", images["ocitool"], ["wait"])
        deadline = time.monotonic() + 120
        while "ready" not in (_cri_log(log) if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.2)
        rs.StopContainer(api.StopContainerRequest(container_id=cid, timeout=30), timeout=90)
        st = _cri_wait_exit(cri, cid)
        assert (st.exit_code, _cri_log(log)) == (0, "ready\ngraceful shutdown after signal 15\n")
        assert not qemus_of(cid)
    finally:
        rs.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=120)
        rs.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=120)
    assert not qemus_of(pod)


def _bundle(tmp_path, image_rootfs_from, args, extra=None) -> str:
    bundle = tmp_path / "bundle"
    (bundle / "rootfs/hermitcore").mkdir(parents=True)
    for name in ("image.elf", "config.json"):
        (bundle / "rootfs/hermitcore" / name).write_bytes((image_rootfs_from / name).read_bytes())
    spec = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": args, "env": [], "cwd": "/"}}
    spec.update(extra or {})
    (bundle / "config.json").write_text(json.dumps(spec))
    return str(bundle)


@pytest.fixture(scope="module")
def unpacked(images, tmp_path_factory):
    """The x86_64 image's /hermitcore, unpacked by skopeo and umoci."""
    d = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["skopeo", "copy", "--override-arch", "amd64", f"oci-archive:{images['dir'] / 'ocitool.tar'}",
                    f"oci:{d / 'layout'}:t"], check=True, capture_output=True)
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{d / 'layout'}:t", str(d / "b")], check=True,
                   capture_output=True)
    return d / "b/rootfs/hermitcore"


def test_the_runtime_reports_created_running_stopped_truthfully(unpacked, tmp_path):
    rt = [runtime_binary(), "--root", str(tmp_path / "root"), "--log", str(tmp_path / "log"), "--log-format", "json"]
    bundle = _bundle(tmp_path, unpacked, ["/ocitool", "wait"])
    # init keeps the streams create was given (the container's): files here, not pipes to wait on
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        r = subprocess.run([*rt, "create", "--bundle", bundle, "--pid-file", str(tmp_path / "pid"), "c1"],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=120)
    assert r.returncode == 0, (tmp_path / "err").read_text()
    pid = int((tmp_path / "pid").read_text())

    def state():
        return json.loads(subprocess.run([*rt, "state", "c1"], capture_output=True, text=True, check=True).stdout)

    try:
        s = state()
        assert (s["status"], s["pid"], s["bundle"]) == ("created", pid, bundle)
        # a half-made container of another id (a create that died) does not block its id
        (tmp_path / "root/stale").mkdir()
        assert subprocess.run([*rt, "delete", "--force", "stale"]).returncode == 0
        assert not (tmp_path / "root/stale").exists()
        assert not qemus_of(bundle)  # nothing boots before start
        assert subprocess.run([*rt, "start", "c1"], capture_output=True).returncode == 0
        assert state()["status"] == "running"
        deadline = time.monotonic() + 120
        while "ready" not in (tmp_path / "out").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert subprocess.run([*rt, "kill", "c1", "TERM"], capture_output=True).returncode == 0
        deadline = time.monotonic() + 60
        while state()["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state()["status"] == "stopped"
        # (the shim reaps init and reads its status; here nobody is its parent but init's reaper)
        r = subprocess.run([*rt, "start", "c1"], capture_output=True, text=True)
        assert r.returncode == 1 and "stopped" in r.stderr
        assert subprocess.run([*rt, "delete", "c1"], capture_output=True).returncode == 0
        r = subprocess.run([*rt, "state", "c1"], capture_output=True, text=True)
        assert r.returncode == 1 and "does not exist" in r.stderr
    finally:
        subprocess.run([*rt, "delete", "--force", "c1"], capture_output=True)
    assert "graceful shutdown after signal 15" in (tmp_path / "out").read_text()


def test_runtime_errors_name_what_is_missing_in_its_log(unpacked, tmp_path):
    rt = [runtime_binary(), "--root", str(tmp_path / "root"), "--log", str(tmp_path / "log"), "--log-format", "json"]
    bundle = _bundle(tmp_path, unpacked, ["/ocitool"])
    env = dict(os.environ, PATH="/nonexistent")  # no QEMU
    r = subprocess.run([*rt, "create", "--bundle", bundle, "c2"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1
    last = json.loads((tmp_path / "log").read_text().splitlines()[-1])
    assert last["level"] == "error" and "qemu-system-x86_64 not found" in last["msg"], last
    assert "Traceback" not in r.stderr
    # a bad annotation, an image for no architecture we run, and exec, which a unikernel has no use for
    spec = json.loads((tmp_path / "bundle/config.json").read_text())
    spec["annotations"] = {"org.hermitcore.accel": "hvf"}
    (tmp_path / "bundle/config.json").write_text(json.dumps(spec))
    r = subprocess.run([*rt, "create", "--bundle", bundle, "c4"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "org.hermitcore.accel='hvf'" in r.stderr, r.stderr
    (tmp_path / "bundle/rootfs/hermitcore/image.elf").write_bytes(b"\x7fELF" + b"\0" * 60)
    r = subprocess.run([*rt, "create", "--bundle", bundle, "c3"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = subprocess.run([*rt, "exec", "--process", "p.json", "--detach", "--pid-file", "p", "c3"], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "not supported" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "exec is not supported" in json.loads((tmp_path / "log").read_text().splitlines()[-1])["msg"]


def test_kvm_asked_for_but_not_usable_is_named_in_the_log(unpacked, tmp_path):
    """A user outside /dev/kvm's group: in a mount namespace of its own the
    runtime sees a /dev/kvm (the same device) owned by another user and
    group, and runs without the capabilities that let root past file
    permissions."""
    bundle = _bundle(tmp_path, unpacked, ["/ocitool"], extra={"annotations": {"org.hermitcore.accel": "kvm"}})
    node = tmp_path / "kvm"
    present = os.path.exists("/dev/kvm")  # a machine without one gets the other message
    script = (f"mknod {node} c 10 232 && chown 65534:65534 {node} && chmod 660 {node} && "
              f"mount --bind {node} /dev/kvm && " if present else "") + (
        "exec setpriv --bounding-set -dac_override,-dac_read_search --inh-caps -dac_override,-dac_read_search \"$@\"")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", runtime_binary(),
                        "--root", str(tmp_path / "root"), "--log", str(tmp_path / "log"), "--log-format", "json",
                        "create", "--bundle", bundle, "kvm"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = json.loads((tmp_path / "log").read_text().splitlines()[-1])
    why = "is not readable and writable by this user (add it to the kvm group)" if present else "does not exist"
    assert last["level"] == "error" and last["msg"] == f"org.hermitcore.accel=kvm, but /dev/kvm {why}", last
    assert not os.path.exists(tmp_path / "root/kvm")


def test_a_pods_sandbox_container_boots_nothing_and_holds_the_namespace(tmp_path):
    """Kubernetes runs a pod's sandbox (pause) with the pod's runtime
    handler too: it must keep the network namespace and leave the
    interface to the pod's container."""
    rt = [runtime_binary(), "--root", str(tmp_path / "root")]
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    spec = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/pause"], "cwd": "/"},
            "annotations": {"io.kubernetes.cri.container-type": "sandbox"},
            "linux": {"namespaces": [{"type": "network"}]}}
    (bundle / "config.json").write_text(json.dumps(spec))
    r = subprocess.run([*rt, "create", "--bundle", str(bundle), "--pid-file", str(tmp_path / "pid"), "pod"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0
    pid = int((tmp_path / "pid").read_text())
    try:
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")  # a namespace of its own
        assert subprocess.run([*rt, "start", "pod"]).returncode == 0
        time.sleep(0.5)
        state = json.loads(subprocess.run([*rt, "state", "pod"], capture_output=True, text=True, check=True).stdout)
        assert (state["status"], state["pid"]) == ("running", pid)
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            assert not f.read().split()  # no QEMU under it
        assert subprocess.run([*rt, "kill", "pod", "KILL"]).returncode == 0
        deadline = time.monotonic() + 30
        while json.loads(subprocess.run([*rt, "state", "pod"], capture_output=True, text=True).stdout)["status"] \
                != "stopped" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        subprocess.run([*rt, "delete", "--force", "pod"], capture_output=True)
    assert not os.path.exists(tmp_path / "root/pod")


def test_a_container_killed_before_start_is_stopped(unpacked, tmp_path):
    rt = [runtime_binary(), "--root", str(tmp_path / "root")]
    bundle = _bundle(tmp_path, unpacked, ["/ocitool", "wait"])
    r = subprocess.run([*rt, "create", "--bundle", bundle, "early"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    assert r.returncode == 0
    try:
        assert subprocess.run([*rt, "kill", "early", "TERM"]).returncode == 0
        deadline = time.monotonic() + 30
        while json.loads(subprocess.run([*rt, "state", "early"], capture_output=True, text=True).stdout)["status"] \
                != "stopped" and time.monotonic() < deadline:
            time.sleep(0.1)
        state = json.loads(subprocess.run([*rt, "state", "early"], capture_output=True, text=True).stdout)
        assert (state["status"], state["pid"]) == ("stopped", 0)
        r = subprocess.run([*rt, "start", "early"], capture_output=True, text=True)
        assert r.returncode == 1 and "stopped" in r.stderr
    finally:
        subprocess.run([*rt, "delete", "--force", "early"], capture_output=True)
    assert not qemus_of(bundle)


def test_an_image_on_an_overlay_root_runs_from_its_layer_unless_changed(unpacked, tmp_path):
    """The runtime boots /hermitcore/image.elf of an overlay root (what the
    overlay snapshotters of containerd and Podman mount) from the lowest
    layer's own file while it is that file unchanged; a copy changed in the
    container (copied up) or a root that is no overlay is used as it is."""
    from hermitcore.runtime import _image_for

    layers = [tmp_path / n for n in ("top", "base", "upper", "work", "merged")]
    for d in layers:
        d.mkdir()
    top, base, upper, work, merged = layers
    (base / "hermitcore").mkdir()
    for name in ("image.elf", "config.json"):
        (base / "hermitcore" / name).write_bytes((unpacked / name).read_bytes())
    (top / "etc").mkdir()  # a layer above that does not have the image
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={top}:{base},upperdir={upper},workdir={work}", str(merged)], check=True)
    try:
        image, boot = _image_for(str(merged), ["/ocitool"], [])
        assert image == str(base / "hermitcore/image.elf") and boot["arch"] == "x86_64"
        with open(merged / "hermitcore/image.elf", "ab") as f:  # changed in the container: copied up
            f.write(b"\0")
        image, _ = _image_for(str(merged), ["/ocitool"], [])
        assert image == str(merged / "hermitcore/image.elf")
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    image, _ = _image_for(str(base), ["/ocitool"], [])  # not an overlay: as it is
    assert image == str(base / "hermitcore/image.elf")


def test_a_container_of_an_earlier_version_is_still_known(unpacked, tmp_path):
    """A container created before an upgrade (its state as JSON, what earlier
    versions wrote) keeps its state, and `delete --force` still ends its init;
    an unreadable state is deleted with --force, not kept forever."""
    import marshal

    rt = [runtime_binary(), "--root", str(tmp_path / "root")]
    bundle = _bundle(tmp_path, unpacked, ["/ocitool", "wait"])
    assert subprocess.run([*rt, "create", "--bundle", bundle, "old"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120).returncode == 0
    d = tmp_path / "root" / "old"
    try:
        st = marshal.loads((d / "state").read_bytes())
        (d / "state.json").write_text(json.dumps(st))
        (d / "state").unlink()
        state = json.loads(subprocess.run([*rt, "state", "old"], capture_output=True, text=True, check=True).stdout)
        assert (state["status"], state["pid"]) == ("created", st["pid"])
        assert subprocess.run([*rt, "delete", "--force", "old"]).returncode == 0
        deadline = time.monotonic() + 30
        while os.path.exists(f"/proc/{st['pid']}") and time.monotonic() < deadline:
            with open(f"/proc/{st['pid']}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        with open(f"/proc/{st['pid']}/stat") if os.path.exists(f"/proc/{st['pid']}") else open(os.devnull) as f:
            assert f.read().rsplit(")", 1)[-1].split()[:1] in ([], ["Z"])  # gone, or a zombie for its reaper
        assert not d.exists()
        # an unreadable state
        d.mkdir()
        (d / "state").write_bytes(b"\0garbage")
        r = subprocess.run([*rt, "state", "old"], capture_output=True, text=True)
        assert r.returncode == 1 and "corrupt" in r.stderr, r
        assert subprocess.run([*rt, "delete", "--force", "old"]).returncode == 0 and not d.exists()
    finally:
        subprocess.run([*rt, "delete", "--force", "old"], capture_output=True)
