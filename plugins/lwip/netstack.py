"""The kernel's TCP/IP stack: lwIP, built from Debian's upstream source
(the lwip plugin's sources; ``python -m hermitcore_plugins.lwip.netstack``
fetches it now, as scripts/setup.sh does).

lwIP is never copied into this repository. ``lwip_tree()`` finds an lwIP
source tree -- ``$HERMIT_LWIP_SRC``, or the one unpacked in the hermitcore
cache -- and otherwise fetches Debian's source package once with
``apt-get source --download-only lwip`` (which needs a ``deb-src`` line;
``scripts/setup.sh`` adds one) and unpacks its upstream tarball. The compose
step then compiles the parts the kernel uses (IPv4, TCP, UDP, ARP, DHCP) with
the port in ``port/`` beside this file (``stack.c``, and ``sockets.c``:
the Linux layer's AF_INET family).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import resources
from pathlib import Path

from hermitcore.errors import ToolchainError
from hermitcore.model import Fragment, Source

#: the lwIP parts the kernel builds (others compile to nothing when disabled)
LWIP_DIRS = ("src/core", "src/core/ipv4")
LWIP_EXTRA = ("src/netif/ethernet.c",)
PORT_FILES = ("stack.c", "sockets.c", "net.h", "include/string.h", "include/stdlib.h", "include/stdio.h",
              "include/arch/cc.h", "include/lwipopts.h")


def _cache_roots() -> list[Path]:
    """Where an unpacked tree may be: the image cache in use, then the
    default one (sources are shared even when HERMIT_CACHE_DIR points a test
    run at an empty image cache). A fetch goes to the last."""
    from hermitcore.paths import cache_dir, default_cache_dir

    roots = [cache_dir() / "lwip", default_cache_dir() / "lwip"]
    return roots if roots[0] != roots[1] else roots[:1]


def _valid(tree: Path) -> bool:
    return (tree / "src" / "core" / "tcp.c").is_file() and (tree / "src" / "include" / "lwip" / "tcp.h").is_file()


def lwip_tree(progress=None) -> Path:
    """The lwIP source tree to build from (fetched on first use)."""
    env = os.environ.get("HERMIT_LWIP_SRC")
    if env:
        tree = Path(env)
        if not _valid(tree):
            raise ToolchainError(f"HERMIT_LWIP_SRC={env} is not an lwIP source tree (no src/core/tcp.c)")
        return tree
    roots = _cache_roots()
    for root in roots:
        for tree in sorted(root.glob("lwip-*")) if root.is_dir() else ():
            if _valid(tree) and (tree / ".hermit-complete").is_file():
                return tree
    return _fetch(roots[-1], progress)


def _fetch(root: Path, progress=None) -> Path:
    if shutil.which("apt-get") is None:
        raise ToolchainError(
            "the network stack needs lwIP's source and apt-get is not here to fetch it; "
            "set HERMIT_LWIP_SRC to an unpacked lwIP 2.1 tree"
        )
    if progress:
        progress("fetching lwIP's source (apt-get source --download-only lwip), once")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lwip-fetch-", dir=root) as tmp:
        proc = subprocess.run(
            ["apt-get", "source", "--download-only", "-qq", "lwip"], cwd=tmp, capture_output=True, text=True
        )
        origs = sorted(Path(tmp).glob("lwip_*.orig.tar.*"))
        if proc.returncode != 0 or not origs:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise ToolchainError(
                "could not fetch lwIP's source with `apt-get source lwip`"
                + (f" ({detail[-1]})" if detail else "")
                + ". It needs a deb-src line in /etc/apt/sources.list.d (scripts/setup.sh adds one) "
                "and `apt-get update`; or set HERMIT_LWIP_SRC to an unpacked lwIP 2.1 tree."
            )
        with tarfile.open(origs[0]) as tar:
            tar.extractall(tmp, filter="data") if sys.version_info >= (3, 12) else tar.extractall(tmp)
        trees = [p for p in Path(tmp).iterdir() if p.is_dir() and _valid(p)]
        if not trees:
            raise ToolchainError(f"{origs[0].name} does not hold an lwIP source tree")
        dest = root / trees[0].name
        if dest.exists():
            shutil.rmtree(dest)
        trees[0].rename(dest)
        (dest / ".hermit-complete").write_text(origs[0].name + "\n")
    return dest


def fragment(progress=None) -> Fragment:
    """lwIP and its kernel port, as one Fragment for the image."""
    tree = lwip_tree(progress)
    sources: list[Source] = []
    for d in LWIP_DIRS:
        for path in sorted((tree / d).glob("*.c")):
            sources.append(Source(f"lwip/{path.relative_to(tree)}", path.read_text(errors="replace")))
    for rel in LWIP_EXTRA:
        sources.append(Source(f"lwip/{rel}", (tree / rel).read_text(errors="replace")))
    inc = tree / "src" / "include"
    for path in sorted(inc.rglob("*.h")):
        sources.append(Source(f"lwip/include/{path.relative_to(inc)}", path.read_text(errors="replace")))
    port = resources.files(__package__) / "port"
    for rel in PORT_FILES:
        sources.append(Source(f"net/{rel}", port.joinpath(rel).read_text()))
    version = (tree / ".hermit-complete").read_text().strip() if (tree / ".hermit-complete").is_file() else str(tree)
    return Fragment(
        sources=tuple(sources),
        include_dirs=("net/include", "lwip/include", "kernel/linux"),
        summary=(f"net: lwIP from {version} (IPv4, TCP, UDP, DHCP), sockets and epoll",),
    )


if __name__ == "__main__":  # `python -m hermitcore_plugins.lwip.netstack`: fetch now (setup.sh does)
    try:
        print(lwip_tree(progress=lambda m: print(f"hermitcore: {m}", file=sys.stderr)))
    except ToolchainError as exc:
        print(f"hermitcore: error: {exc}", file=sys.stderr)
        sys.exit(1)
