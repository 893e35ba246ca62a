"""hermitcore-runtime: an OCI runtime that boots hermitcore unikernels.

It speaks the command line containerd's runc shim (io.containerd.runc.v2),
CRI (Kubernetes) and Podman's conmon call: create, start, state, kill,
delete, features, ps, list, pause, resume; --root, --log, --log-format,
--bundle, --pid-file, --console-socket.

`create` forks the container's init process and returns once it is ready:
it is in the container's network namespace (a new one, or the one the
spec names) and waits on a FIFO. `start` writes to the FIFO; init then
connects the namespace's interface to a tap device (tc redirect, as Kata
and urunc do: the guest takes the interface's address, MAC and route) and
becomes `hermitcore run` of the image: its exit status is the program's,
the signals `kill` sends it go to the program (SIGKILL stops the VM).

The image is /hermitcore/image.elf of the container's root (from
`hermitcore pkg`); an ordinary image of a Linux program (FROM scratch with
a static or dynamic binary) is composed on the fly, cached. A Kubernetes
pod's sandbox container (CRI's annotation) boots nothing: its init holds
the pod's network namespace, as pause does, and the pod's container gets
the interface.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from hermitcore.errors import HermitError

DEFAULT_ROOT = "/run/hermitcore-runtime"
OCI_VERSION = "1.0.2"
CLONE_NEWNET = 0x40000000
TAP = "tap0"
ACCEL_ANNOTATION = "org.hermitcore.accel"  # kvm, tcg or auto (default): a container annotation


class RuntimeError_(HermitError):
    pass


# ---------------------------------------------------------------- logging


class Log:
    """--log FILE in --log-format text|json: what the shim or conmon shows
    when a command fails (its last error line)."""

    def __init__(self, path: str | None, fmt: str):
        self.path, self.fmt = path, fmt

    def write(self, level: str, msg: str) -> None:
        if not self.path:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1e9):09d}Z"
        if self.fmt == "json":
            import json

            line = json.dumps({"level": level, "msg": msg, "time": stamp})
        else:
            line = f'time="{stamp}" level={level} msg="{msg}"'
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass

    def error(self, msg: str) -> None:
        self.write("error", msg)
        print(f"hermitcore-runtime: {msg}", file=sys.stderr)


# ---------------------------------------------------------------- state


class Container:
    def __init__(self, root: str, cid: str):
        if not cid or "/" in cid or cid in (".", ".."):
            raise RuntimeError_(f"invalid container id {cid!r}")
        self.id = cid
        self.dir = os.path.join(root, cid)
        self.state_file = os.path.join(self.dir, "state")
        self.json_file = os.path.join(self.dir, "state.json")  # what earlier versions wrote
        self.fifo = os.path.join(self.dir, "start.fifo")

    def exists(self) -> bool:
        return os.path.isfile(self.state_file) or os.path.isfile(self.json_file)

    def load(self) -> dict:
        try:
            with open(self.state_file, "rb") as f:
                st = marshal.load(f)
        except FileNotFoundError:
            st = self._load_json()
        except (ValueError, EOFError, TypeError):
            raise RuntimeError_(f"container {self.id}: its state file {self.state_file} is corrupt") from None
        if not isinstance(st, dict) or not isinstance(st.get("pid"), int):
            raise RuntimeError_(f"container {self.id}: its state file {self.state_file} is corrupt")
        return st

    def _load_json(self):
        """A container made by an earlier version (state.json), still running
        through an upgrade."""
        import json

        try:
            with open(self.json_file) as f:
                return json.load(f)
        except FileNotFoundError:
            raise RuntimeError_(f"container {self.id} does not exist") from None
        except ValueError:
            raise RuntimeError_(f"container {self.id}: its state file {self.json_file} is corrupt") from None

    def save(self, st: dict) -> None:
        tmp = self.state_file + ".tmp"
        with open(tmp, "wb") as f:
            marshal.dump(st, f)
        os.replace(tmp, self.state_file)
        if os.path.exists(self.json_file):
            os.unlink(self.json_file)

    def remove(self) -> None:
        """The container's directory, gone (its state, FIFO, a stray temporary
        file); shutil only if something unexpected is in it (shutil imports
        re: ~5 ms of every delete)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        try:
            for name in names:
                os.unlink(os.path.join(self.dir, name))
            os.rmdir(self.dir)
        except OSError:
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)

    def status(self, st: dict) -> str:
        pid = st.get("pid", 0)
        if not pid or not _alive(pid, st.get("started_at_ticks")):
            return "stopped"
        if st.get("paused"):
            return "paused"
        return "running" if st.get("started") else "created"


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _alive(pid: int, ticks=None) -> bool:
    """The process exists, is not a zombie, and is the one we started (its
    start time in clock ticks, so a reused pid is not it)."""
    fields = _proc_stat(pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    return ticks is None or fields[19] == str(ticks)


def _descendants(pid: int) -> list[int]:
    """pid's children, grandchildren... (QEMU under init)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _proc_stat(int(name))
            if fields:
                parents.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


# ---------------------------------------------------------------- the spec


def _load_spec(bundle: str) -> dict:
    import json

    path = os.path.join(bundle, "config.json")
    try:
        with open(path) as f:
            spec = json.load(f)
    except OSError as exc:
        raise RuntimeError_(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise RuntimeError_(f"{path}: not JSON ({exc})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("process"), dict) or not spec["process"].get("args"):
        raise RuntimeError_(f"{path}: process.args is empty")
    return spec


def _rootfs(bundle: str, spec: dict) -> str:
    root = (spec.get("root") or {}).get("path") or "rootfs"
    return root if os.path.isabs(root) else os.path.join(bundle, root)


def _size_from_resources(spec: dict) -> tuple[int | None, int | None]:
    """(cpus, MiB) from linux.resources: CPU quota/period (rounded up) or
    the cpuset's size; the memory limit."""
    res = (spec.get("linux") or {}).get("resources") or {}
    cpus = None
    cpu = res.get("cpu") or {}
    quota, period = cpu.get("quota"), cpu.get("period") or 100000
    if isinstance(quota, int) and quota > 0:
        cpus = max(1, -(-quota // period))
    elif cpu.get("cpus"):
        n = 0
        for part in str(cpu["cpus"]).split(","):
            lo, _, hi = part.strip().partition("-")
            if not lo.isdigit() or (hi and (not hi.isdigit() or int(hi) < int(lo))):
                if part.strip():
                    raise RuntimeError_(f"linux.resources.cpu.cpus {cpu['cpus']!r}: not a CPU list like 0-3,6")
                continue
            n += (int(hi) - int(lo) + 1) if hi else 1
        cpus = n or None
    limit = (res.get("memory") or {}).get("limit")
    mem = max(16, limit // (1024 * 1024)) if isinstance(limit, int) and limit > 0 else None
    return (min(cpus, 64) if cpus else None), mem


def _image_for(rootfs: str, args: list[str], env: list[str]) -> tuple[str, dict]:
    """(the kernel image, its boot config): the packaged one, or the
    program args[0] of an ordinary image composed for this host (cached)."""
    from hermitcore import oci

    boot = oci.read_boot_config(rootfs)
    if boot is not None:
        return _layer_file(os.path.join(rootfs, oci.IMAGE_FILE)), boot
    prog = args[0]
    if "/" not in prog:
        path = next((kv[5:] for kv in env if kv.startswith("PATH=")), "/usr/local/bin:/usr/bin:/bin")
        for d in path.split(":"):
            if d.startswith("/") and os.path.isfile(_in_root(rootfs, os.path.join(d, prog)) or ""):
                prog = os.path.join(d, prog)
                break
    host_path = _in_root(rootfs, prog) if prog.startswith("/") else None
    if not host_path or not os.path.isfile(host_path):
        raise RuntimeError_(f"not a hermitcore image (no /{oci.IMAGE_FILE}) and no program {args[0]!r} in it to "
                            "compose")
    from hermitcore.compose import compose
    from hermitcore.image import ELF_MACHINES

    with open(host_path, "rb") as f:
        head = f.read(20)
    arch = ELF_MACHINES.get(int.from_bytes(head[18:20], "little")) if head[:4] == b"\x7fELF" else None
    board = {"x86_64": "qemu-microvm", "aarch64": "qemu-virt"}.get(arch)
    if board is None:
        raise RuntimeError_(f"{args[0]}: not an x86_64 or aarch64 Linux program, so not one hermitcore can run")
    result = compose(board, host_path, files=rootfs, sysroot=rootfs,
                     env=tuple(kv for kv in env if kv.startswith(("LD_LIBRARY_PATH=", "LD_PRELOAD="))))
    return str(result.build.image), {"board": board, "arch": arch, "program": prog}


def _unescape(text: str) -> str:
    """A mountinfo field: the kernel writes space, tab, newline, comma and
    backslash as octal escapes (\\040...)."""
    if "\\" not in text:
        return text
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _layer_file(path: str) -> str:
    """`path` in a container's root file system as the file of the image
    layer it comes from, when the root is an overlay mount (containerd's and
    Podman's overlay snapshotters) and the file is that layer's, unchanged:
    one path for every container of the image, so `run`'s run plan (kept
    per image path) serves them all and init starts QEMU without loading a
    plugin (~45 ms). Else `path`: whenever anything is not as plain as that
    (another mount on top, a bind of part of an overlay, escaped names,
    a copy in the upper layer, a file that is not the same inode)."""
    path = os.path.normpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = f.read().splitlines()
        st = os.stat(path)
    except OSError:
        return path
    best = None  # the mount path is on: the longest mount point, the last of those (the one on top)
    for line in mounts:
        pre, _, post = line.partition(" - ")
        fields, fs = pre.split(), post.split()
        if len(fields) < 5 or len(fs) < 3:
            continue
        point = _unescape(fields[4]).rstrip("/")
        if path.startswith(point + "/") and (best is None or len(point) >= len(best[0])):
            best = (point, fields[3], fs[0], fs[2])
    if best is None or best[1] != "/" or best[2] != "overlay":
        return path
    point, _, _, options = best
    rel = path[len(point) + 1:]
    if ".." in rel.split("/"):
        return path
    opts = {}
    for opt in options.split(","):
        key, _, value = opt.partition("=")
        opts[key] = value
    upper, lower = _unescape(opts.get("upperdir", "")), opts.get("lowerdir", "")
    if not lower or "\\" in lower or (upper and os.path.lexists(os.path.join(upper, rel))):
        return path  # changed in the container (copied up), or names this does not take apart
    for layer in lower.split(":"):  # top first: the first that has it is where the file comes from
        if not layer.startswith("/"):  # relative to the mounter's directory (Podman's long lists): unknown here
            return path
        candidate = os.path.join(layer, rel)
        if os.path.lexists(candidate):
            try:
                lst = os.lstat(candidate)
            except OSError:
                return path
            # overlay reports a lower file's own inode when its layers share a file system
            same = (lst.st_ino, lst.st_mode, lst.st_size, lst.st_mtime_ns) == \
                (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns)
            return candidate if same else path
    return path


def _in_root(rootfs: str, path: str) -> str | None:
    """The host path of the container's `path`, its symlinks followed the
    way the container would see them (absolute targets from its root, ".."
    never above it): a path inside rootfs, or None (a loop, too deep)."""
    parts = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        name = parts.pop(0)
        if name == ".":
            continue
        if name == "..":
            if done:
                done.pop()
            continue
        here = os.path.join(rootfs, *done, name)
        if os.path.islink(here):
            hops += 1
            if hops > 40:
                return None
            target = os.readlink(here)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        done.append(name)
    return os.path.join(rootfs, *done)


def _check_qemu(image: str) -> None:
    from hermitcore.errors import ToolchainError
    from hermitcore.image import read_image
    from hermitcore.toolchain import find_tool

    arch = read_image(image).arch
    binary = f"qemu-system-{arch}"
    try:
        find_tool(binary)
    except ToolchainError as exc:
        raise RuntimeError_(f"{binary} not found: this {arch} unikernel needs QEMU -- {exc}") from None


def _run_argv(spec: dict, image: str, boot: dict, cid: str) -> list[str]:
    """`hermitcore run`'s command line for the container (network options
    are added at start, once the namespace's interface is known)."""
    proc = spec["process"]
    # containerd decides when SIGKILL follows SIGTERM; QEMU's -name tells which container a QEMU serves
    argv = ["run", image, "--stop-timeout", "86400", "--name", cid]
    accel = (spec.get("annotations") or {}).get(ACCEL_ANNOTATION, "auto")
    if accel not in ("auto", "kvm", "tcg"):
        raise RuntimeError_(f"annotation {ACCEL_ANNOTATION}={accel!r}: expected kvm, tcg or auto")
    if accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        why = "does not exist" if not os.path.exists("/dev/kvm") else "is not readable and writable by this user " \
            "(add it to the kvm group)"
        raise RuntimeError_(f"{ACCEL_ANNOTATION}=kvm, but /dev/kvm {why}")
    argv += ["--accel", accel]
    cpus, mem = _size_from_resources(spec)
    cpus = cpus or boot.get("cpus")
    if cpus:
        argv += ["--cpus", str(cpus)]
    if mem:
        argv += ["--mem", f"{mem}M"]
    elif boot.get("memory"):
        argv += ["--mem", str(boot["memory"])]
    # one value a name, the last one, at the first one's place: what runc's init makes of duplicates (CRI
    # appends the pod's env to the image's, so a pod's value must override the image's)
    env: dict[str, str] = {}
    for kv in proc.get("env") or []:
        env[kv.partition("=")[0]] = kv
    for kv in env.values():
        argv += ["-e", kv]
    if proc.get("cwd") and proc["cwd"] != "/":
        argv += ["--cwd", proc["cwd"]]
    for server in _nameservers(spec):
        argv += ["--dns", server]
    for m in spec.get("mounts") or []:
        opts = m.get("options") or []
        if m.get("type") == "bind" or "bind" in opts or "rbind" in opts:
            src, dst = m.get("source", ""), m.get("destination", "")
            if os.path.isdir(src) and dst.startswith("/") and dst != "/" and not dst.startswith(("/proc", "/sys", "/dev")):
                argv += ["--mount", f"{src}:{dst}" + (":ro" if "ro" in opts else "")]
            # files bound over /etc/hosts, /etc/resolv.conf...: the guest makes its own
    if (spec.get("root") or {}).get("readonly"):
        argv += ["--read-only"]
    argv += ["--"] + list(proc["args"][1:])
    _check_run(argv)
    return argv


def _check_run(argv: list[str]) -> None:
    """What `run` would refuse, refused now (create fails with the reason in
    the log) rather than after start: the options, the mounts, and what the
    kernel's command line holds."""
    import contextlib
    import io

    from hermitcore import cli
    from hermitcore.launch import CMDLINE_MAX, CMDLINE_WORDS, quote_arg

    split = argv.index("--")
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = cli.build_parser(only="run").parse_args(argv[:split])
    except SystemExit:
        raise RuntimeError_("bad run options from the spec: " + err.getvalue().strip().splitlines()[-1]) from None
    cli._check_env(args.env)
    if args.mem:
        cli.parse_mem(args.mem)
    for spec in args.mount:
        if "," in spec.rsplit(":", 2)[-1]:
            raise RuntimeError_(f"bind mount {spec!r}: the guest cannot take a destination with a comma")
    # what run adds itself (clock, seed, streams, network, dns...) takes at most this much
    reserve = ["hermit.epoch=1234567890.123456789", "hermit.seed=" + "0" * 32, "hermit.stdio=ppp", "hermit.tty=15",
               "hermit.winsize=100x400", "hermit.ip=255.255.255.255", "hermit.gateway=255.255.255.255",
               "hermit.mask=255.255.255.255", "hermit.dns=255.255.255.255,255.255.255.255,255.255.255.255",
               "hermit.ro=1", "hermit.quiet"]
    words = reserve + [quote_arg(f"hermit.env={kv}") for kv in args.env]
    if args.cwd:
        words.append(quote_arg(f"hermit.cwd={args.cwd}"))
    app = argv[split + 1:]
    if app:
        words += ["--", *map(quote_arg, app)]
    size = len(" ".join(words).encode())
    if size > CMDLINE_MAX or len(words) > CMDLINE_WORDS:
        raise RuntimeError_(f"the program's arguments and environment do not fit the kernel's command line: "
                            f"{size} bytes in {len(words)} words with what run adds (at most {CMDLINE_MAX} bytes, "
                            f"{CMDLINE_WORDS} words)")


def _nameservers(spec: dict) -> list[str]:
    """The IPv4 name servers of the resolv.conf the engine binds over the
    container's /etc/resolv.conf (CRI, Podman): the guest's own."""
    import re

    for m in spec.get("mounts") or []:
        if m.get("destination") == "/etc/resolv.conf" and os.path.isfile(m.get("source", "")):
            try:
                with open(m["source"]) as f:
                    text = f.read()
            except OSError:
                return []
            found = re.findall(r"^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$", text, re.M)
            return found[:3]
    return []


# ---------------------------------------------------------------- namespaces and network


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _enter_netns(spec: dict) -> str:
    """Into the spec's network namespace: 'new' (unshared), 'path', or
    'host' (none asked for)."""
    import ctypes

    for ns in (spec.get("linux") or {}).get("namespaces") or []:
        if ns.get("type") != "network":
            continue
        libc = _libc()
        if ns.get("path"):
            fd = os.open(ns["path"], os.O_RDONLY)
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {ns['path']}")
            os.close(fd)
            return "path"
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        _loopback_up()
        return "new"
    return "host"


def _loopback_up() -> None:
    """`ip link set lo up` without running ip: SIOCGIFFLAGS, SIOCSIFFLAGS."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), 0x8913, req))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


def _sh(argv: list[str]) -> str:
    import subprocess

    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError_(f"{' '.join(argv)}: {r.stderr.strip() or 'failed'}")
    return r.stdout


def _sh_quiet(argv: list[str]) -> None:
    import subprocess

    subprocess.run(argv, capture_output=True)


def _interface() -> dict | None:
    """The namespace's interface with an IPv4 address (CNI's eth0), its
    MAC and the default gateway, or None."""
    import json

    links = json.loads(_sh(["ip", "-j", "addr", "show"]) or "[]")
    for link in links:
        if link.get("ifname") in ("lo", TAP) or link.get("link_type") != "ether":
            continue
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                routes = json.loads(_sh(["ip", "-j", "-4", "route", "show", "default"]) or "[]")
                gw = next((r["gateway"] for r in routes if r.get("gateway")), None)
                return {"name": link["ifname"], "mac": link.get("address"), "ip": a["local"],
                        "prefix": int(a["prefixlen"]), "gateway": gw, "mtu": link.get("mtu", 1500)}
    return None


def _mask(prefix: int) -> str:
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ".".join(str((bits >> s) & 255) for s in (24, 16, 8, 0))


def _wire_network(mode: str) -> list[str]:
    """`run`'s network options: the namespace's interface handed to the
    guest through a tap device, or user networking for the host's
    namespace, or none."""
    if mode == "host":
        return ["--net", "user"]
    import socket

    if all(name == "lo" for _, name in socket.if_nameindex()):  # nothing but loopback: no need to ask ip
        return ["--net", "none"]
    nic = _interface()
    if nic is None:
        return ["--net", "none"]
    dev = nic["name"]
    # A container before this one in the namespace (a restart in the same pod) may have left its tap.
    _sh_quiet(["ip", "link", "delete", TAP])
    _sh_quiet(["tc", "qdisc", "del", "dev", dev, "ingress"])
    _sh(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"])
    _sh(["ip", "link", "set", TAP, "mtu", str(nic["mtu"]), "up"])
    # The interface keeps its address (every frame it receives goes to the guest, so the namespace never
    # answers for it), and the next container started here finds it again.
    for a, b in ((dev, TAP), (TAP, dev)):
        _sh(["tc", "qdisc", "add", "dev", a, "ingress"])
        _sh(["tc", "filter", "add", "dev", a, "parent", "ffff:", "protocol", "all", "u32", "match", "u8", "0", "0",
             "action", "mirred", "egress", "redirect", "dev", b])
    argv = ["--net", f"tap:{TAP}", "--ip", nic["ip"], "--mask", _mask(nic["prefix"]), "--mac", nic["mac"]]
    if 576 <= int(nic["mtu"]) < 1500:  # an overlay network's (VXLAN: 1450): the guest's frames must fit it
        argv += ["--mtu", str(nic["mtu"])]
    if nic["gateway"]:
        argv += ["--gateway", nic["gateway"]]
    return argv


def _terminal(console_socket: str) -> None:
    """A pty for the container: its master sent to the console socket
    (SCM_RIGHTS), its slave our stdio and controlling terminal."""
    import fcntl
    import socket
    import termios

    master, slave = os.openpty()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(console_socket)
    socket.send_fds(s, [b"/dev/ptmx"], [master])
    s.close()
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


# ---------------------------------------------------------------- commands


def cmd_create(args, log: Log) -> int:
    root = args.root
    c = Container(root, args.id)
    if c.exists():
        raise RuntimeError_(f"container {args.id} already exists")
    if os.path.isdir(c.dir):  # a create that died half-way: nothing lives there
        c.remove()
    bundle = os.path.abspath(args.bundle or ".")
    spec = _load_spec(bundle)
    rootfs = _rootfs(bundle, spec)
    if any(ns.get("type") == "network" for ns in (spec.get("linux") or {}).get("namespaces") or []):
        import shutil

        missing = [t for t in ("ip", "tc") if not shutil.which(t)]
        if missing:
            raise RuntimeError_(f"{' and '.join(missing)} not found: the container's network needs them "
                                "(apt-get install iproute2)")
    if _is_sandbox(spec):  # a pod's sandbox ("pause"): holds the pod's network namespace, boots nothing
        image, boot, run_argv = None, {}, None
    else:
        image, boot = _image_for(rootfs, spec["process"]["args"], spec["process"].get("env") or [])
        _check_qemu(image)
        run_argv = _run_argv(spec, image, boot, args.id)
    terminal = bool(spec["process"].get("terminal"))
    if terminal and not args.console_socket:
        raise RuntimeError_("the spec asks for a terminal: --console-socket is required")
    os.makedirs(c.dir, exist_ok=True)
    os.mkfifo(c.fifo, 0o600)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _init(c, spec, run_argv, terminal, args.console_socket, ready_w)  # never returns
    os.close(ready_w)
    with os.fdopen(ready_r) as r:
        answer = r.read()
    if answer != "ok":
        os.waitpid(pid, 0)
        c.remove()
        raise RuntimeError_(answer.strip() or "the container's init died while being created")
    ticks = _proc_stat(pid)[19]
    c.save({"id": args.id, "pid": pid, "started_at_ticks": ticks, "bundle": bundle, "rootfs": rootfs,
            "image": image, "board": boot.get("board"), "created": time.time(), "started": False,
            "annotations": spec.get("annotations") or {}})
    if args.pid_file:
        tmp = args.pid_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(pid))
        os.replace(tmp, args.pid_file)
    return 0


def _is_sandbox(spec: dict) -> bool:
    """CRI's pod sandbox container (containerd's and CRI-O's annotation)."""
    ann = spec.get("annotations") or {}
    return "sandbox" in (ann.get("io.kubernetes.cri.container-type"), ann.get("io.kubernetes.cri-o.ContainerType"))


def _init(c: Container, spec: dict, run_argv: list[str], terminal: bool, console_socket: str | None, ready: int):
    """The container's init: set up, tell create, wait for start, run."""
    import signal

    code = 1
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # before start, a signal ends init as it would any process
    # the engine's own HERMIT_* settings (debugging, networks) are not the container's
    for key in [k for k in os.environ if k.startswith("HERMIT_") and k not in ("HERMIT_CACHE_DIR", "HERMIT_BOARD_PATH")]:
        del os.environ[key]
    os.environ["HERMIT_QEMU_PDEATHSIG"] = "1"  # QEMU goes when init goes, whatever kills it (launch.py)
    try:
        try:
            if terminal:
                _terminal(console_socket)
            else:
                os.setsid()
            mode = _enter_netns(spec)
            fifo = os.open(c.fifo, os.O_RDONLY | os.O_NONBLOCK)  # held: start's open succeeds while we live
        except Exception as exc:  # noqa: BLE001 (any failure goes back to create as its message)
            os.write(ready, f"setting up the container: {exc}".encode())
            os._exit(1)
        os.write(ready, b"ok")
        os.close(ready)
        if run_argv is not None:  # what init will run, imported while create returns and the shim calls start
            import hermitcore.cli  # noqa: F401
            import hermitcore.run  # noqa: F401
        os.set_blocking(fifo, True)
        import select

        select.select([fifo], [], [])  # start wrote
        if os.read(fifo, 1) != b"s":
            os._exit(1)
        os.close(fifo)
        if run_argv is None:  # the sandbox: like pause, wait to be stopped (the pod's containers hold the VMs)
            while True:
                signal.pause()
        # Pass SIGTERM/SIGINT/... arriving from now on to the program (run installs that).
        net = _wire_network(mode)
        from hermitcore import cli

        code = cli.main(run_argv[:2] + net + run_argv[2:])
    except HermitError as exc:
        print(f"hermitcore-runtime: {exc}", file=sys.stderr)
    except BaseException as exc:  # noqa: BLE001 (init must exit with a status, never a traceback)
        print(f"hermitcore-runtime: {type(exc).__name__}: {exc}", file=sys.stderr)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def cmd_start(args, log: Log) -> int:
    c = Container(args.root, args.id)
    st = c.load()
    status = c.status(st)
    if status != "created":
        raise RuntimeError_(f"cannot start a container that is {status}")
    try:
        fd = os.open(c.fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        raise RuntimeError_("the container's init is gone") from None
    os.write(fd, b"s")
    os.close(fd)
    st["started"] = True
    c.save(st)
    return 0


def _state_json(c: Container, st: dict) -> dict:
    status = c.status(st)
    return {"ociVersion": OCI_VERSION, "id": c.id, "status": status,
            "pid": st["pid"] if status != "stopped" else 0, "bundle": st["bundle"],
            "rootfs": st.get("rootfs"), "created": _rfc3339(st.get("created", 0)),
            "annotations": st.get("annotations") or {}, "owner": ""}


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def cmd_state(args, log: Log) -> int:
    import json

    c = Container(args.root, args.id)
    print(json.dumps(_state_json(c, c.load()), indent=2))
    return 0


def _signal(text: str) -> int:
    import signal

    t = text.upper()
    if t.isdigit():
        n = int(t)
    else:
        name = t if t.startswith("SIG") else "SIG" + t
        n = getattr(signal, name, None)
        if not isinstance(n, int):
            raise RuntimeError_(f"unknown signal {text!r}")
    if not 0 < int(n) < signal.NSIG:
        raise RuntimeError_(f"invalid signal {text!r}")
    return int(n)


def cmd_kill(args, log: Log) -> int:
    import signal

    c = Container(args.root, args.id)
    st = c.load()
    sig = _signal(args.signal)
    status = c.status(st)
    if status == "stopped":
        raise RuntimeError_("container not running")
    pid = st["pid"]
    if sig == signal.SIGKILL:  # the VM goes too, at once
        _kill_all(pid)
        return 0
    if status == "paused" and sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        for p in [pid] + _descendants(pid):  # a paused VM could not take it
            _kill(p, signal.SIGCONT)
        st["paused"] = False
        c.save(st)
    _kill(pid, sig)
    return 0


def _kill_all(pid: int) -> None:
    """init first (so it cannot report the VM's end as the program's), then
    QEMU (which also has init's death as its own: PDEATHSIG)."""
    import signal

    below = _descendants(pid)
    _kill(pid, signal.SIGKILL)
    for p in below:
        _kill(p, signal.SIGKILL)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def cmd_delete(args, log: Log) -> int:
    c = Container(args.root, args.id)
    if not c.exists():
        if args.force:
            c.remove()  # a create that died half-way
            return 0
        raise RuntimeError_(f"container {args.id} does not exist")
    try:
        st = c.load()
    except RuntimeError_:
        if not args.force:
            raise
        c.remove()  # an unreadable state: nothing here can tell which process was its init
        return 0
    status = c.status(st)
    if status not in ("stopped", "created") and not args.force:
        raise RuntimeError_(f"cannot delete container {args.id} that is {status} (use --force)")
    if status != "stopped":
        _kill_all(st["pid"])
    c.remove()
    return 0


def cmd_ps(args, log: Log) -> int:
    import json

    c = Container(args.root, args.id)
    st = c.load()
    pids = [st["pid"]] + _descendants(st["pid"]) if c.status(st) != "stopped" else []
    if args.format == "json":
        print(json.dumps(pids))
    else:
        print("PID")
        for p in pids:
            print(p)
    return 0


def cmd_list(args, log: Log) -> int:
    import json

    out = []
    if os.path.isdir(args.root):
        for cid in sorted(os.listdir(args.root)):
            c = Container(args.root, cid)
            if c.exists():
                try:
                    out.append(_state_json(c, c.load()))
                except RuntimeError_:
                    continue
    if args.format == "json":
        print(json.dumps(out))
    else:
        print(f"{'ID':<24} {'PID':<8} {'STATUS':<10} BUNDLE")
        for s in out:
            print(f"{s['id']:<24} {s['pid']:<8} {s['status']:<10} {s['bundle']}")
    return 0


def _pause(args, paused: bool) -> int:
    import signal

    c = Container(args.root, args.id)
    st = c.load()
    status = c.status(st)
    if status != ("running" if paused else "paused"):
        raise RuntimeError_(f"container {args.id} is {status}")
    for p in _descendants(st["pid"]):  # QEMU: its vCPUs stop with it
        _kill(p, signal.SIGSTOP if paused else signal.SIGCONT)
    st["paused"] = paused
    c.save(st)
    return 0


def cmd_features(args, log: Log) -> int:
    import json

    print(json.dumps({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": [],
        "mountOptions": ["bind", "rbind", "ro", "rw"],
        "linux": {"namespaces": ["network"], "capabilities": [], "cgroup": {"v1": False, "v2": False},
                  "seccomp": {"enabled": False}, "apparmor": {"enabled": False}, "selinux": {"enabled": False}},
        "annotations": {"org.hermitcore.runtime": "hermitcore unikernels in QEMU",
                        "org.hermitcore.runtime.version": _version()},
    }, indent=2))
    return 0


def _version() -> str:
    from hermitcore import __version__

    return __version__


def _unsupported(what: str):
    def cmd(args, log: Log) -> int:
        raise RuntimeError_(f"{what} is not supported: a hermitcore unikernel runs one program in a VM")

    return cmd


#: the fast path's options: name -> (takes a value, dest); per command, and global
_GLOBAL = {"--root": (1, "root"), "--log": (1, "log"), "--log-format": (1, "log_format"), "--debug": (0, "debug"),
           "--systemd-cgroup": (0, "systemd_cgroup"), "--rootless": (1, "rootless")}
_COMMAND = {
    "create": {"--bundle": (1, "bundle"), "-b": (1, "bundle"), "--pid-file": (1, "pid_file"),
               "--console-socket": (1, "console_socket"), "--no-pivot": (0, "no_pivot"),
               "--no-new-keyring": (0, "no_new_keyring"), "--preserve-fds": (1, "preserve_fds")},
    "start": {}, "state": {}, "pause": {}, "resume": {}, "features": {},
    "kill": {"--all": (0, "all"), "-a": (0, "all")},
    "delete": {"--force": (0, "force"), "-f": (0, "force")},
}
_POSITIONAL = {"kill": ("id", "signal"), "features": ()}
_UNSUPPORTED = ("exec", "checkpoint", "restore", "update", "run", "spec", "events")


def _fast_parse(argv: list[str]):
    """The command lines the shims send, parsed without argparse (~10 ms of
    every call); None for anything else (help, errors, rare commands): the
    full parser takes those."""
    ns = {"root": DEFAULT_ROOT, "log": None, "log_format": "text", "debug": False, "systemd_cgroup": False,
          "rootless": None, "version": False, "command": None, "bundle": None, "pid_file": None,
          "console_socket": None, "no_pivot": False, "no_new_keyring": False, "preserve_fds": 0, "all": False,
          "force": False, "signal": "SIGTERM"}
    table, positional, i = _GLOBAL, [], 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if arg.startswith("-") and arg != "-":
            opt = table.get(name)
            if opt is None:
                return None
            if opt[0] and not eq:
                i += 1
                if i == len(argv):
                    return None
                value = argv[i]
            elif not opt[0] and eq:
                return None
            ns[opt[1]] = value if opt[0] else True
        elif ns["command"] is None:
            if arg in _UNSUPPORTED:  # whatever follows: the answer is the same
                ns.update(command=arg, fn=_unsupported(arg))
                return _Args(ns)
            if arg not in _COMMAND:
                return None
            ns["command"], table = arg, _COMMAND[arg]
        else:
            positional.append(arg)
        i += 1
    cmd = ns["command"]
    if cmd is None or ns["log_format"] not in ("text", "json"):
        return None
    names = _POSITIONAL.get(cmd, ("id",))
    if not (len(names) - (cmd == "kill") <= len(positional) <= len(names)):
        return None
    ns.update(zip(names, positional))
    ns["fn"] = {"create": cmd_create, "start": cmd_start, "state": cmd_state, "kill": cmd_kill,
                "delete": cmd_delete, "features": cmd_features, "pause": lambda a, log: _pause(a, True),
                "resume": lambda a, log: _pause(a, False)}[cmd]
    return _Args(ns)


class _Args:
    def __init__(self, d: dict):
        self.__dict__.update(d)


def build_parser():
    import argparse

    p = argparse.ArgumentParser(
        prog="hermitcore-runtime",
        description="An OCI runtime that boots hermitcore unikernels in QEMU, for containerd "
                    "(BinaryName of a runc-shim runtime), Kubernetes (a RuntimeClass naming it) and Podman "
                    "(--runtime). Images come from `hermitcore pkg`, or are ordinary images of a Linux "
                    "program, composed for this host on the fly.")
    p.add_argument("--root", default=DEFAULT_ROOT, help=f"state directory (default {DEFAULT_ROOT})")
    p.add_argument("--log", help="log file (the shim shows its last error)")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("--debug", action="store_true", help="accepted, as runc")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted; no cgroups are used")
    p.add_argument("--rootless", default=None, help="accepted, as runc")
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, fn, help_):
        s = sub.add_parser(name, help=help_)
        s.set_defaults(fn=fn)
        return s

    s = add("create", cmd_create, "create a container: its init waits for start")
    s.add_argument("--bundle", "-b", help="the bundle directory (config.json, rootfs)")
    s.add_argument("--pid-file", help="write init's pid here")
    s.add_argument("--console-socket", help="a Unix socket to receive the terminal's master (process.terminal)")
    s.add_argument("--no-pivot", action="store_true", help="accepted, as runc")
    s.add_argument("--no-new-keyring", action="store_true", help="accepted, as runc")
    s.add_argument("--preserve-fds", type=int, default=0, help="accepted, as runc")
    s.add_argument("id")
    add("start", cmd_start, "start a created container (boot its unikernel)").add_argument("id")
    add("state", cmd_state, "print a container's state as JSON").add_argument("id")
    s = add("kill", cmd_kill, "send a signal: to the program (SIGTERM...), or SIGKILL to stop the VM")
    s.add_argument("--all", "-a", action="store_true", help="every process of the container (the same here)")
    s.add_argument("id")
    s.add_argument("signal", nargs="?", default="SIGTERM")
    s = add("delete", cmd_delete, "delete a stopped container (--force: any)")
    s.add_argument("--force", "-f", action="store_true")
    s.add_argument("id")
    s = add("ps", cmd_ps, "the container's host processes (init, QEMU)")
    s.add_argument("--format", "-f", choices=["table", "json"], default="table")
    s.add_argument("id")
    s = add("list", cmd_list, "list containers")
    s.add_argument("--format", "-f", choices=["table", "json"], default="table")
    s.add_argument("--quiet", "-q", action="store_true")
    add("pause", lambda a, log: _pause(a, True), "stop the VM's CPUs").add_argument("id")
    add("resume", lambda a, log: _pause(a, False), "resume a paused container").add_argument("id")
    add("features", cmd_features, "print what this runtime supports (JSON)")
    for name in _UNSUPPORTED:
        s = add(name, _unsupported(name), f"not supported ({name})")
        s.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _fast_parse(argv)
    if args is None:
        parser = build_parser()
        args = parser.parse_args(argv)
    if args.version:
        print(f"hermitcore-runtime version {_version()}\nspec: {OCI_VERSION}")
        return 0
    if not args.command:
        build_parser().print_help()
        return 2
    log = Log(args.log, args.log_format)
    try:
        os.makedirs(args.root, mode=0o711, exist_ok=True)
        return args.fn(args, log)
    except HermitError as exc:
        log.error(str(exc))
        return 1
    except OSError as exc:
        log.error(f"{args.command}: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 (a runtime answers with one line, never a traceback)
        log.error(f"{args.command}: {type(exc).__name__}: {exc}")
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
