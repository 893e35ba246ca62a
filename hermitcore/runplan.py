"""Run plans: what the plugins decided for one image and one set of run
options (the QEMU command line, how QEMU's exit status carries the guest's),
kept so the next identical `hermitcore run` starts QEMU without importing a
plugin, pluggy, attrs or the board's device tree.

Computing a command line costs ~150 ms of imports and plugin hooks; the run
it serves may take 35 ms. A plan is a JSON file in ``cache_dir()/run-plans``
named by a checksum of its key (which it also keeps, and must match): the image (path, inode, size, mtime), the
options as the user gave them, the interpreter, hermitcore's version,
``HERMIT_BOARD_PATH`` and ``PATH``. It is used only while every file it was computed from
is unchanged: the image, the QEMU binary, the modules of every registered
plugin, the board's files, and the directories where installed distributions live (installing or
removing a plugin changes them). Runs whose plugins decode the exit status in
code (``hermitcore_decode_exit``) are not planned.

Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
import zlib

from hermitcore.paths import cache_path

PLAN_FORMAT = 2
#: stands for the run's private directory in a planned command line
RUN_DIR = "@HERMIT_RUN_DIR@"


def _stamp(path: str) -> list:
    try:
        st = os.stat(path)
        return [path, st.st_mtime_ns, st.st_size]
    except OSError:
        return [path, None, None]


def plan_key(image: str, request: dict) -> tuple[str, str] | None:
    """(file name, full key text) of the plan for ``image`` run with
    ``request`` (JSON-able options, before plugins see them); None when the
    image is unreadable. The name is a checksum (zlib: hashlib's OpenSSL
    costs ~3 ms to import, on every run); the plan keeps the whole key and
    is used only when it matches, so a clash is a miss, never a wrong plan."""
    from hermitcore import __version__

    try:
        st = os.stat(image)
    except OSError:
        return None
    key = {
        "format": PLAN_FORMAT,
        "image": [os.path.abspath(image), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns],
        "request": request,
        "hermitcore": __version__,
        "python": sys.executable,
        "board_path": os.environ.get("HERMIT_BOARD_PATH", ""),
        "path": os.environ.get("PATH", ""),  # which QEMU the plugins would find
    }
    text = json.dumps(key, sort_keys=True)
    data = text.encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}", text


def plan_file(key: tuple[str, str]) -> str:
    return cache_path("run-plans", f"{key[0]}.json")


def load(key: tuple[str, str] | None) -> dict | None:
    """The plan stored under ``key`` if everything it depends on is as it was."""
    if key is None:
        return None
    try:
        with open(plan_file(key), encoding="utf-8") as f:
            plan = json.load(f)
    except (OSError, ValueError):
        return None
    if plan.get("format") != PLAN_FORMAT or plan.get("key") != key[1]:
        return None
    for stamp in plan.get("depends", ()):
        if _stamp(stamp[0]) != stamp:
            return None
    return plan


def save(key: tuple[str, str] | None, argv: list[str], run_dir: str, exit_code: dict, meta: dict, depends: list[str]) -> None:
    """Store a plan; ``run_dir`` in ``argv`` becomes a placeholder. Best
    effort: a read-only cache only costs the next run its speed."""
    if key is None:
        return
    plan = {
        "format": PLAN_FORMAT,
        "key": key[1],
        "argv": [a.replace(run_dir, RUN_DIR) for a in argv],
        "exit_code": exit_code,
        "meta": meta,
        "depends": [_stamp(p) for p in sorted(set(depends))],
    }
    path = plan_file(key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path[:-len('.json')]}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(plan, f)
        os.replace(tmp, path)
    except OSError:
        pass


def instantiate(plan: dict, run_dir: str) -> list[str]:
    return [a.replace(RUN_DIR, run_dir) for a in plan["argv"]]


def plugin_sources(pm) -> list[str]:
    """Files whose change may change a plugin's answer: hermitcore's and
    every registered plugin's modules, and the directories distributions are
    installed in (installing or removing a plugin changes them)."""
    modules = [getattr(p, "__name__", "") or type(p).__module__ for p in pm.get_plugins()]
    modules += [name for name in sys.modules if name.split(".")[0] in ("hermitcore", "hermitcore_plugins")]
    paths = [getattr(sys.modules.get(name), "__file__", None) for name in modules]
    paths = [p for p in paths if p]
    for entry in sys.path:
        if entry and os.path.isdir(entry) and os.path.basename(entry) in ("site-packages", "dist-packages"):
            paths.append(entry)
    return paths
