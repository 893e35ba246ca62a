"""OCI images of hermitcore unikernels (`hermitcore pkg`).

An image is an OCI image layout (a directory, or the same tarred: what
`ctr images import`, `podman load` and `skopeo copy oci-archive:` read)
whose one layer holds

    /hermitcore/image.elf    the composed kernel image (program and file tree embedded)
    /hermitcore/config.json  how to boot it: board, arch, cpus, memory

and whose config carries the entrypoint, environment, exposed ports and
labels marking it a hermitcore unikernel. Images for several boards of
different architectures become one multi-platform index.

The runtime (hermitcore.runtime) boots /hermitcore/image.elf from the
container's root file system. Everything here is deterministic: the same
image gives the same digests (layers have fixed times and owners).
"""

from __future__ import annotations

import json
import os
import re

from hermitcore.errors import HermitError

# gzip, hashlib, io, shutil, tarfile and tempfile are imported where used:
# the runtime reads boot configs through here on every container's create.

IMAGE_DIR = "hermitcore"  # in the layer and so in the container's root
IMAGE_FILE = f"{IMAGE_DIR}/image.elf"
CONFIG_FILE = f"{IMAGE_DIR}/config.json"
ANNOTATION = "org.hermitcore.unikernel"  # "true" on manifests, indexes and image configs
LABEL_PREFIX = "org.hermitcore."

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

OCI_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_REF = re.compile(r"[a-z0-9.-]+(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+:\w[\w.-]{0,127}")


def full_reference(name: str) -> str:
    """'hello' -> 'docker.io/library/hello:latest' (how containerd and
    Podman name images), checked."""
    ref = name
    first = ref.split("/", 1)[0]
    if "/" not in ref or not ("." in first or ":" in first or first == "localhost"):
        ref = "docker.io/" + ("library/" if "/" not in ref else "") + ref
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    if not _REF.fullmatch(ref):
        raise HermitError(f"--name {name!r}: expected an image reference like hello, hello:1.0 or "
                          "registry.example/team/hello:1.0 (lower case)")
    return ref


class _Blobs:
    """blobs/sha256/ of a layout being written."""

    def __init__(self, root: str):
        self.dir = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.dir, exist_ok=True)

    def put(self, data: bytes, media_type: str, **extra) -> dict:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        path = os.path.join(self.dir, digest)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data), **extra}


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _layer(image: str, boot: dict) -> tuple[bytes, str]:
    """(the gzipped layer, its diff_id): /hermitcore/ with the image and its
    boot config, owned by root, time 0."""
    import gzip
    import hashlib
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes | None, mode: int):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        add(IMAGE_DIR, None, 0o755)
        with open(image, "rb") as f:
            add(IMAGE_FILE, f.read(), 0o755)
        add(CONFIG_FILE, json.dumps(boot, indent=2, sort_keys=True).encode() + b"\n", 0o644)
    data = raw.getvalue()
    zipped = io.BytesIO()
    with gzip.GzipFile(fileobj=zipped, mode="wb", mtime=0, compresslevel=6) as z:
        z.write(data)
    return zipped.getvalue(), "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(blobs: _Blobs, image: str, *, args: list[str], env: list[str], ports: list[str], cpus: int | None,
              mem: str | None, ref: str) -> dict:
    """One platform's manifest (written), as an index entry."""
    from hermitcore.image import read_image

    info = read_image(image)
    meta = info.meta
    if not meta.get("program"):
        raise HermitError(f"{image}: runs a built-in C application; an OCI image needs a Linux program "
                          "(compose one from an executable)")
    board = meta.get("board")
    program = "/" + str(meta.get("app", "app"))
    boot = {"board": board, "arch": info.arch, "program": program, "hermitcore": meta.get("hermitcore")}
    if cpus:
        boot["cpus"] = cpus
    if mem:
        boot["memory"] = mem
    layer, diff_id = _layer(image, boot)
    labels = {ANNOTATION: "true", LABEL_PREFIX + "board": str(board), LABEL_PREFIX + "arch": info.arch}
    if cpus:
        labels[LABEL_PREFIX + "cpus"] = str(cpus)
    if mem:
        labels[LABEL_PREFIX + "memory"] = mem
    config = {
        "architecture": OCI_ARCH[info.arch],
        "os": "linux",
        "config": {
            "Entrypoint": [program],
            "Cmd": list(args),
            "Env": list(env),
            "WorkingDir": "/",
            "Labels": labels,
            **({"ExposedPorts": {p: {} for p in ports}} if ports else {}),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": f"hermitcore pkg ({board})", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z",
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": blobs.put(_json(config), MT_CONFIG),
        "layers": [blobs.put(layer, MT_LAYER)],
        "annotations": {ANNOTATION: "true", LABEL_PREFIX + "board": str(board)},
    }
    return blobs.put(_json(manifest), MT_MANIFEST,
                     platform={"architecture": OCI_ARCH[info.arch], "os": "linux"},
                     annotations={"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref})


def _port(spec: str) -> str:
    m = re.fullmatch(r"(\d{1,5})(/(tcp|udp))?", spec)
    if not m or not 1 <= int(m.group(1)) <= 65535:
        raise HermitError(f"--expose {spec!r}: expected PORT or PORT/udp (1-65535)")
    return f"{m.group(1)}/{m.group(3) or 'tcp'}"


def package(images: list[str], out: str, *, name: str, args: list[str] = (), env: list[str] = (),
            ports: list[str] = (), cpus: int | None = None, mem: str | None = None) -> dict:
    """Write the OCI image of ``images`` (composed images, one per
    architecture) to ``out``: a layout directory, or an archive of it when
    ``out`` ends in .tar. Returns the top descriptor (index.json's entry)."""
    import shutil
    import tarfile
    import tempfile

    ref = full_reference(name)
    for kv in env:
        if "=" not in kv or kv.startswith("="):
            raise HermitError(f"--env {kv!r}: expected KEY=VALUE")
    ports = [_port(p) for p in ports]
    archive = out.endswith(".tar")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise HermitError(f"cannot write {out}: no such directory {parent}")
    if not archive and os.path.exists(out) and (not os.path.isdir(out) or (
            os.listdir(out) and not os.path.exists(os.path.join(out, "oci-layout")))):
        raise HermitError(f"{out} exists and is not an OCI image layout: give a new directory or a .tar file")
    work = tempfile.mkdtemp(prefix=".hermitcore-pkg-", dir=parent)
    os.chmod(work, 0o755)  # the layout directory it becomes: readable as any
    tmp = out + ".part"
    try:
        blobs = _Blobs(work)
        entries, arches = [], set()
        for image in images:
            entry = _manifest(blobs, image, args=list(args), env=list(env), ports=ports, cpus=cpus, mem=mem, ref=ref)
            arch = entry["platform"]["architecture"]
            if arch in arches:
                raise HermitError(f"two images for linux/{arch}: one image per architecture")
            arches.add(arch)
            entries.append(entry)
        if len(entries) == 1:
            top = entries[0]
        else:  # one multi-platform index; index.json names it
            for e in entries:
                e.pop("annotations")
            index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries,
                     "annotations": {ANNOTATION: "true"}}
            top = blobs.put(_json(index), MT_INDEX,
                            annotations={"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref})
        with open(os.path.join(work, "oci-layout"), "wb") as f:
            f.write(_json({"imageLayoutVersion": "1.0.0"}))
        with open(os.path.join(work, "index.json"), "wb") as f:
            f.write(_json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [top]}))
        if archive:
            with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
                for name_ in ("oci-layout", "index.json", "blobs"):
                    tar.add(os.path.join(work, name_), arcname=name_, filter=_owned_by_root)
            os.replace(tmp, out)
        else:
            if os.path.isdir(out):
                shutil.rmtree(out)
            os.replace(work, out)
        return top
    except OSError as exc:
        raise HermitError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if archive and os.path.exists(tmp):
            os.unlink(tmp)


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def read_boot_config(rootfs: str) -> dict | None:
    """A hermitcore image's boot config in a container's root file system,
    or None for an ordinary image."""
    path = os.path.join(rootfs, CONFIG_FILE)
    if not os.path.isfile(path) or not os.path.isfile(os.path.join(rootfs, IMAGE_FILE)):
        return None
    if any(os.path.islink(os.path.join(rootfs, p)) for p in (IMAGE_DIR, CONFIG_FILE, IMAGE_FILE)):
        raise HermitError(f"{rootfs}: /{IMAGE_DIR} or its files are symlinks: not a hermitcore image to trust")
    try:
        with open(path) as f:
            boot = json.load(f)
    except (OSError, ValueError) as exc:
        raise HermitError(f"{path}: unreadable hermitcore boot config ({exc})") from None
    if not isinstance(boot, dict) or "board" not in boot:
        raise HermitError(f"{path}: not a hermitcore boot config (no board)")
    return boot
