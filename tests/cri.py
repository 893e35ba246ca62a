"""Kubernetes' side of a pod, for the CRI test: the kubelet talks to
containerd's CRI plugin over gRPC (k8s.io/cri-api, runtime.v1); Debian 12
has no kubelet or crictl, so this client speaks the same API with stubs
generated (grpcio-tools) from the api.proto that Debian's containerd source
package vendors, for the containerd installed here -- the protocol the
kubelet uses, byte for byte.

`CriContainerd` is the private containerd of tests/containerd.py with its
CRI plugin on: a runtime entry `hermitcore` (the runc v2 shim with
`BinaryName` = hermitcore-runtime, as docs/deploying.md tells users), a
CNI bridge network of its own (the real bridge + host-local plugins), and
a local sandbox ("pause") image, since nothing can be pulled here."""

from __future__ import annotations

import glob
import importlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

from hermitcore.paths import cache_path
from tests.containerd import CNI_DIRS, Containerd, runtime_binary

HANDLER = "hermitcore"
PAUSE_IMAGE = "hermit.test/pause:1"
PROTO = "vendor/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto"


def containerd_version() -> str:
    return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "containerd"], capture_output=True, text=True,
                          check=True).stdout.strip()


def cri_api():
    """(api_pb2, api_pb2_grpc) of runtime.v1, generated once per containerd
    version into the hermitcore cache."""
    version = containerd_version()
    out = cache_path("cri-api", version.replace("~", "_").replace(":", "_"))
    if not os.path.isfile(os.path.join(out, "api_pb2_grpc.py")):
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(["apt-get", "source", "--download-only", f"containerd={version}"], cwd=tmp,
                               capture_output=True, text=True, timeout=600)
            origs = glob.glob(os.path.join(tmp, "containerd_*.orig.tar.*"))
            if r.returncode != 0 or not origs:
                raise AssertionError(f"apt-get source containerd={version} failed (scripts/setup.sh adds the "
                                     f"deb-src line):\n{r.stderr}")
            with tarfile.open(origs[0]) as t:
                member = next(m for m in t.getmembers() if m.name.endswith(PROTO))
                text = t.extractfile(member).read().decode()
        # gogoproto's options only steer Go's code generator; the wire format is the same without them
        with open(os.path.join(out, "api.proto"), "w") as f:
            f.write("".join(line for line in text.splitlines(True) if "gogoproto" not in line))
        r = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", out, f"--python_out={out}",
                            f"--grpc_python_out={out}", "api.proto"], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"protoc of CRI's api.proto failed:\n{r.stderr}")
    if out not in sys.path:
        sys.path.insert(0, out)
    return importlib.import_module("api_pb2"), importlib.import_module("api_pb2_grpc")


class CriContainerd(Containerd):
    def __init__(self, subnet: str = "10.252.0.0/24", bridge: str = "hccri0"):
        self.bridge = bridge
        workdir = tempfile.mkdtemp(prefix="hc-cri-", dir="/tmp")
        self.workdir = workdir
        self.cni_conf = os.path.join(workdir, "net.d")
        os.makedirs(self.cni_conf)
        with open(os.path.join(self.cni_conf, "10-hermit.conflist"), "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": "hermit-cri", "plugins": [
                {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "routes": [{"dst": "0.0.0.0/0"}],
                          "dataDir": os.path.join(workdir, "ipam")}}]}, f)
        plugins = next(d for d in CNI_DIRS if os.path.isfile(os.path.join(d, "bridge")))
        cri = "plugins.\"io.containerd.grpc.v1.cri\""
        runtime_root = os.path.join(workdir, "rt")
        super().__init__(namespace="k8s.io", cri=(
            f'[{cri}]\n  sandbox_image = "{PAUSE_IMAGE}"\n  stream_server_address = "127.0.0.1"\n'
            f'  stream_server_port = "0"\n'
            f'[{cri}.cni]\n  bin_dir = "{plugins}"\n  conf_dir = "{self.cni_conf}"\n'
            f'[{cri}.containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n'
            # the entry docs/deploying.md gives users: the runc shim, hermitcore-runtime as its binary
            f'[{cri}.containerd.runtimes.{HANDLER}]\n  runtime_type = "io.containerd.runc.v2"\n'
            f'[{cri}.containerd.runtimes.{HANDLER}.options]\n  BinaryName = "{runtime_binary()}"\n'
            f'  Root = "{runtime_root}"\n'))
        self.runtime_root = runtime_root
        api, grpc_api = cri_api()
        import grpc

        self.api = api
        self.channel = grpc.insecure_channel(f"unix://{self.sock}")
        self.runtime_service = grpc_api.RuntimeServiceStub(self.channel)
        self.image_service = grpc_api.ImageServiceStub(self.channel)
        deadline = time.monotonic() + 30
        while True:  # the CRI plugin is ready once its runtime reports a status
            try:
                self.runtime_service.Status(api.StatusRequest(), timeout=5)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"containerd's CRI plugin did not answer:\n{self.log_text()}") from None
                time.sleep(0.2)

    def close(self) -> None:
        api = self.api
        try:
            for pod in self.runtime_service.ListPodSandbox(api.ListPodSandboxRequest(), timeout=30).items:
                self.runtime_service.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
                self.runtime_service.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
        except Exception:  # noqa: BLE001 (tear down what can be torn down)
            pass
        self.channel.close()
        super().close()
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)
