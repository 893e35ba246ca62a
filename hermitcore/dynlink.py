"""What a dynamic executable needs in its file tree, gathered at compose
time: its interpreter (``PT_INTERP``) and the ``DT_NEEDED`` closure of the
program and of every library, found as the dynamic linker will find them
(glibc's ld.so, or musl's), plus the host paths the user adds (``--add``)
and the libraries the ELF files among those need.

Everything is looked up in a *sysroot*: the host's ``/`` for the host's own
architecture, ``/usr/aarch64-linux-gnu`` (Debian's cross libc) for aarch64
on an x86_64 host, or ``--sysroot DIR`` (also a tree of Debian packages
unpacked with ``dpkg-deb -x``). A file at ``SYSROOT/x`` goes to the guest's
``/x``; a host file outside the sysroot (the program's own ``$ORIGIN``
libraries, an ``--add`` path) keeps its path. Symlinks are kept: a library
reached through ``libz.so.1 -> libz.so.1.2.13`` or a merged-/usr
``/lib -> usr/lib`` is packed as the symlinks and the file, so the guest
sees the host's layout.

The guest has no ``/etc/ld.so.cache`` of its own: a library found outside
the interpreter's built-in directories (an RPATH, ``LD_LIBRARY_PATH``, the
host's cache) is listed in a generated one (glibc's "glibc-ld.so.cache1.1"
format, written here), or for musl in a generated
``/etc/ld-musl-ARCH.path``, so the guest's ld.so finds every library where
it was packed.
"""

from __future__ import annotations

import mmap
import os
import platform
import re
import stat
import struct
from collections import deque
from functools import cmp_to_key
from typing import Iterable, Sequence

import attrs

from hermitcore.errors import ImageError
from hermitcore.program import EHDR, PHDR, PT_DYNAMIC, PT_INTERP, PT_LOAD, Program, machine_name

TRIPLETS = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
E_MACHINE = {"x86_64": 62, "aarch64": 183}
#: ldconfig's flags for a 64-bit libc6 library (FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 / FLAG_AARCH64_LIB64):
#: what each architecture's ld.so accepts from its cache (_DL_CACHE_DEFAULT_ID)
CACHE_FLAGS = {"x86_64": 0x0303, "aarch64": 0x0A03}
LD_SO_CACHE = "/etc/ld.so.cache"
CACHE_MAGIC = b"glibc-ld.so.cache1.1"
OLD_CACHE_MAGIC = b"ld.so-1.7.0"
CACHE_HEADER = struct.Struct("<20sII B3x I 12x")  # struct cache_file_new, 48 bytes
CACHE_ENTRY = struct.Struct("<iIIIQ")  # struct file_entry_new: flags, key, value, osversion, hwcap
MAX_SYMLINKS = 40  # as Linux's path walk (ELOOP)
DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 1, 5, 10, 14, 15, 29
DT_FLAGS_1, DF_1_NODEFLIB = 0x6FFFFFFB, 0x800
ET_DYN = 3
#: names musl's ld.so answers itself (it is libc, libm, libpthread...: ldso/dynlink.c, load_library)
MUSL_RESERVED = ("c", "pthread", "rt", "m", "dl", "util", "xnet")
MUSL_DEFAULT_PATH = ("/lib", "/usr/local/lib", "/usr/lib")
#: where the kernel mounts its own file systems at start (hermitcore/kernel/linux/tree.c): what the
#: image's tree has there is covered, so a library the host has under them is packed under HOST_PREFIX
COVERED = ("/tmp", "/run", "/dev", "/proc", "/sys")
HOST_PREFIX = "/host"
_DST = re.compile(r"\$(?:(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_])|\{(ORIGIN|LIB|PLATFORM)\})")


@attrs.frozen
class Entry:
    """One thing to put into the image's file tree."""

    guest: str  # its absolute path in the guest ("/lib/x86_64-linux-gnu/libc.so.6")
    mode: int  # st_mode: the type (file, directory, symlink) and permissions
    source: str = ""  # a file's or directory's host path; a symlink's target, as the host has it
    why: str = ""  # "needed by python3", "interpreter of prog", "--add /usr/lib/python3.11"
    size: int = 0
    mtime: int = 0  # nanoseconds
    data: bytes | None = attrs.field(default=None, repr=False)  # made here (the guest's ld.so.cache), not copied
    group: str | None = None  # the --add argument it came with (compose -v summarises those)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


@attrs.frozen
class Gathered:
    entries: tuple[Entry, ...]  # in archive order: parents before what is in them
    kept: tuple[Entry, ...] = ()  # gathered, but the user's tree (--files/--initrd) has that path: theirs stays
    sysroot: str = "/"
    #: LD_PRELOAD entries packed at another guest path than they name (as given, guest path):
    #: /tmp/x/libfake.so -> /host/tmp/x/libfake.so; `run` gives the guest those (preload_env)
    preload: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Elf:
    """What the dynamic linker reads of an ELF file."""

    path: str
    elf_class: int  # 1: 32-bit, 2: 64-bit
    machine: int
    etype: int = 0
    interp: str | None = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] | None = None  # DT_RPATH (None when absent, or when a DT_RUNPATH overrides it)
    runpath: tuple[str, ...] | None = None
    soname: str | None = None
    flags_1: int = 0
    dynamic: bool = False  # has a PT_DYNAMIC
    big_endian: bool = False

    def arch(self) -> str:
        name = machine_name(self.machine)
        return ("32-bit " if self.elf_class != 2 else "") + ("big-endian " if self.big_endian else "") + name

    def fits(self, arch: str) -> bool:
        return self.elf_class == 2 and not self.big_endian and self.machine == E_MACHINE[arch]


def read_elf(path: str) -> Elf | None:
    """The dynamic-linking facts of the ELF file at ``path`` (read through
    a mapping of it: only the pages looked at are read), or None if it is
    not an ELF file or cannot be read. Every offset is bounds-checked; a
    64-bit little-endian file whose tables lie outside it is an
    ImageError."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 20:
                return None
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return _parse_elf(path, m, size)
    except (OSError, ValueError):
        return None


def _parse_elf(path: str, m, size: int) -> Elf | None:
    if m[:4] != b"\x7fELF":
        return None
    elf_class, endian = m[4], m[5]
    machine = int.from_bytes(m[18:20], "big" if endian == 2 else "little")
    if elf_class != 2 or endian != 1 or size < EHDR.size:
        return Elf(path, elf_class, machine, big_endian=endian == 2)  # not for us: only what names it
    (_, etype, _, _, _, phoff, _, _, _, phentsize, phnum, _, _, _) = EHDR.unpack_from(m)
    if phnum == 0:
        return Elf(path, elf_class, machine, etype)
    if phentsize != PHDR.size or phoff + phnum * PHDR.size > size:
        raise ImageError(f"{path}: corrupt ELF file (program headers outside the file)")
    loads, dyn, interp = [], None, None
    for i in range(phnum):
        ptype, _, offset, vaddr, _, filesz, _, _ = PHDR.unpack_from(m, phoff + i * PHDR.size)
        if offset + filesz > size and ptype in (PT_LOAD, PT_DYNAMIC, PT_INTERP):
            raise ImageError(f"{path}: corrupt or truncated ELF file (a segment lies outside the file)")
        if ptype == PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif ptype == PT_DYNAMIC:
            dyn = (offset, filesz)
        elif ptype == PT_INTERP:
            interp = bytes(m[offset:offset + min(filesz, 4096)]).split(b"\0")[0].decode(errors="surrogateescape")
    if dyn is None:
        return Elf(path, elf_class, machine, etype, interp)
    tags: list[tuple[int, int]] = []
    for pos in range(dyn[0], dyn[0] + dyn[1] - 15, 16):
        tag, value = struct.unpack_from("<qQ", m, pos)
        if tag == 0:
            break
        tags.append((tag, value))
    one = dict(tags)
    strtab = next((off + one[DT_STRTAB] - va for va, off, fs in loads if va <= one.get(DT_STRTAB, -1) < va + fs), None)
    strsz = one.get(DT_STRSZ, 0)
    if strtab is None or strtab + strsz > size:
        if any(t in one for t in (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH)):
            raise ImageError(f"{path}: corrupt ELF file (its dynamic string table is not in the file)")
        return Elf(path, elf_class, machine, etype, interp, flags_1=one.get(DT_FLAGS_1, 0), dynamic=True)

    def string(offset: int) -> str:
        if offset >= strsz:
            raise ImageError(f"{path}: corrupt ELF file (a dynamic string outside its string table)")
        end = m.find(b"\0", strtab + offset, strtab + strsz)
        return bytes(m[strtab + offset:end if end >= 0 else strtab + strsz]).decode(errors="surrogateescape")

    runpath = tuple(string(v) for t, v in tags if t == DT_RUNPATH) or None
    rpath = tuple(string(v) for t, v in tags if t == DT_RPATH) or None
    return Elf(
        path, elf_class, machine, etype, interp,
        needed=tuple(string(v) for t, v in tags if t == DT_NEEDED),
        rpath=None if runpath else rpath,  # glibc ignores DT_RPATH when there is a DT_RUNPATH
        runpath=runpath,
        soname=string(one[DT_SONAME]) if DT_SONAME in one else None,
        flags_1=one.get(DT_FLAGS_1, 0),
        dynamic=True,
    )


def default_sysroot(arch: str) -> str | None:
    """``/`` for the host's own architecture, else Debian's cross libc
    (``/usr/<triplet>``: libc6-arm64-cross) when it is installed."""
    host = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine())
    if arch == host:
        return "/"
    cross = f"/usr/{TRIPLETS[arch]}"
    return cross if os.path.isdir(cross) else None


def absolute(path: str) -> str:
    """``path`` from /, without empty or "." names ("a//./b" -> "/a/b"); ".."
    stays, for the walk to take physically, as the kernel does."""
    return "/" + "/".join(n for n in path.split("/") if n not in ("", "."))


def guest_path(path: str) -> str:
    """Where a path of the host's layout goes in the image's tree: where it
    is, unless the kernel mounts over it (/tmp...): then under HOST_PREFIX."""
    for top in COVERED:
        if path == top or path.startswith(top + "/"):
            return HOST_PREFIX + path
    return path


def parse_add(spec: str) -> tuple[str, str | None]:
    """``HOSTPATH[:GUESTPATH]`` -> (host path, guest path or None)."""
    host, sep, guest = spec.rpartition(":")
    if sep and host and guest.startswith("/"):
        return host, guest
    return spec, None


def libcmp(a: bytes, b: bytes) -> int:
    """glibc's ``_dl_cache_libcmp``: the order of ld.so.cache's entries
    (runs of digits compare as numbers)."""
    i = j = 0
    while i < len(a):
        if 48 <= a[i] <= 57:
            if j < len(b) and 48 <= b[j] <= 57:
                v1 = v2 = 0
                while i < len(a) and 48 <= a[i] <= 57:
                    v1, i = v1 * 10 + a[i] - 48, i + 1
                while j < len(b) and 48 <= b[j] <= 57:
                    v2, j = v2 * 10 + b[j] - 48, j + 1
                if v1 != v2:
                    return v1 - v2
                continue
            return 1
        if j < len(b) and 48 <= b[j] <= 57:
            return -1
        if j >= len(b) or a[i] != b[j]:
            return a[i] - (b[j] if j < len(b) else 0)
        i, j = i + 1, j + 1
    return -(b[j] if j < len(b) else 0)


def write_ld_so_cache(arch: str, libs: Iterable[tuple[str, str]]) -> bytes:
    """An ``/etc/ld.so.cache`` (new format, as ldconfig writes it) mapping
    each library name to its path for ``arch``'s ld.so: entries sorted as
    ``_dl_cache_libcmp`` orders them, descending (ld.so's binary search),
    string offsets from the start of the file."""
    libs = sorted({os.fsencode(k): os.fsencode(v) for k, v in libs}.items(),
                  key=cmp_to_key(lambda x, y: libcmp(y[0], x[0])))
    strings = bytearray()
    start = CACHE_HEADER.size + CACHE_ENTRY.size * len(libs)
    offsets: dict[bytes, int] = {}

    def intern(s: bytes) -> int:
        if s not in offsets:
            offsets[s] = start + len(strings)
            strings.extend(s + b"\0")
        return offsets[s]

    body = b"".join(CACHE_ENTRY.pack(CACHE_FLAGS[arch], intern(k), intern(v), 0, 0) for k, v in libs)
    header = CACHE_HEADER.pack(CACHE_MAGIC, len(libs), len(strings), 2, 0)  # flags: little-endian
    return header + body + bytes(strings)


def read_ld_so_cache(path: str, arch: str) -> dict[str, str]:
    """Library name -> path from an ld.so.cache (the new format, alone or
    after an old-format table), for ``arch``'s ld.so: the entries whose
    flags it accepts, without glibc-hwcaps/legacy hwcap variants (the
    guest's CPU decides those; the baseline library is the one that loads
    everywhere). First entry of a name wins, as in ld.so's search."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    off = 0
    if data.startswith(OLD_CACHE_MAGIC) and len(data) >= 16:
        nlibs = struct.unpack_from("<I", data, 12)[0]
        off = (16 + 12 * nlibs + 7) & ~7
    if data[off:off + 20] != CACHE_MAGIC or len(data) < off + CACHE_HEADER.size:
        return {}
    _, nlibs, _, _, _ = CACHE_HEADER.unpack_from(data, off)
    if (len(data) - off - CACHE_HEADER.size) // CACHE_ENTRY.size < nlibs:
        return {}
    out: dict[str, str] = {}

    def string(at: int) -> str | None:
        at += off  # new-format string offsets count from its header
        end = data.find(b"\0", at)
        return data[at:end].decode(errors="surrogateescape") if 0 <= at < len(data) and end >= 0 else None

    for i in range(nlibs):
        flags, key, value, _, hwcap = CACHE_ENTRY.unpack_from(data, off + CACHE_HEADER.size + i * CACHE_ENTRY.size)
        if flags != CACHE_FLAGS[arch] or hwcap:
            continue
        name, where = string(key), string(value)
        if name and where and name not in out:
            out[name] = where
    return out


@attrs.define
class _Obj:
    """A loaded object: where it is (its root and guest path) and what it says."""

    root: str
    guest: str  # the path it is loaded by (its $ORIGIN is that path's directory)
    elf: Elf
    label: str  # how messages name it


@attrs.define
class _Namespace:
    """One process's view: the program (or an added executable) with its
    interpreter and what is loaded so far, by every name it answers to."""

    main: _Obj
    flavor: str  # "glibc" or "musl"
    interp: _Obj | None = None
    loaded: dict[str, _Obj] = attrs.Factory(dict)
    files: dict[str, _Obj] = attrs.Factory(dict)  # by canonical guest path: one file, one object


@attrs.frozen
class _Preload:
    """An LD_PRELOAD entry: a name (searched as a DT_NEEDED one is), or a
    path with where it was found (root, path under it, its ELF)."""

    text: str
    found: tuple[str, str, Elf] | None = None


class _Gatherer:
    def __init__(self, program: Program, arch: str, sysroot: str | None, env: Sequence[str]):
        self.program = program
        self.arch = arch
        self.cross_hint = "" if sysroot else (
            f" (no sysroot for {arch}: give --sysroot DIR, e.g. /usr/{TRIPLETS[arch]} from Debian's "
            f"libc6-{'arm64' if arch == 'aarch64' else 'amd64'}-cross)")
        self.sysroot = os.path.realpath(sysroot or "/")
        self.triplet = TRIPLETS[arch]
        environ = {}
        for kv in env:
            key, _, value = kv.partition("=")
            environ[key] = value  # the last one wins, as in ld.so's own scan of the environment
        self.env_path = environ.get("LD_LIBRARY_PATH")
        self.preload = environ.get("LD_PRELOAD")
        self.entries: dict[str, Entry] = {}
        self.lstats: dict[str, os.stat_result | None] = {}
        self.elves: dict[str, Elf | None] = {}
        self._cache: dict[str, str] | None = None
        self.ld_cache_libs: dict[str, str] = {}  # for the guest's ld.so.cache: name -> path
        self.musl_paths: dict[str, tuple[tuple[str, ...], list[str]]] = {}  # path file -> (its dirs, dirs to add)
        self.guest_defaults: dict[str, tuple[str, ...]] = {}

    # --- paths ---------------------------------------------------------------

    def host(self, root: str, guest: str) -> str:
        return guest if root == "/" else root + (guest if guest != "/" else "")

    def locate(self, host_path: str) -> tuple[str, str]:
        """(root, guest path) of an absolute host path: inside the sysroot
        it is the path below it, elsewhere the host path itself."""
        s = self.sysroot
        if s != "/" and (host_path == s or host_path.startswith(s + "/")):
            return s, host_path[len(s):] or "/"
        return "/", host_path

    def _lstat(self, path: str) -> os.stat_result | None:
        if path not in self.lstats:
            try:
                self.lstats[path] = os.lstat(path)
            except OSError:
                self.lstats[path] = None
        return self.lstats[path]

    def _elf(self, path: str) -> Elf | None:
        if path not in self.elves:
            self.elves[path] = read_elf(path)
        return self.elves[path]

    def add(self, entry: Entry) -> None:
        self.entries.setdefault(entry.guest, entry)

    def _entry(self, path: str, st: os.stat_result, source: str, why: str, group: str | None = None) -> Entry:
        if stat.S_ISLNK(st.st_mode) and source.startswith("/"):
            source = guest_path(source)
        return Entry(guest_path(path), st.st_mode, source, why, st.st_size if stat.S_ISREG(st.st_mode) else 0,
                     st.st_mtime_ns, group=group)

    def walk(self, root: str, guest: str, why: str | None = None, group: str | None = None):
        """Follow ``guest`` under ``root`` a name at a time, as the guest's
        VFS will: a symlink's relative target from its directory, an
        absolute one from ``root``. With ``why``, every symlink and
        directory on the way and what is at the end become entries.
        Returns (canonical guest path, its lstat), or None when it does not
        resolve (missing, a loop, a file in the middle)."""
        stack = guest.split("/")[::-1]
        cur, st, hops = "", self._lstat(root), 0
        while stack:
            name = stack.pop()
            if name in ("", "."):
                continue
            if name == "..":
                cur = cur.rsplit("/", 1)[0]
                st = self._lstat(self.host(root, cur or "/"))
                continue
            if st is None or not stat.S_ISDIR(st.st_mode):
                return None
            path = f"{cur}/{name}"
            host = self.host(root, path)
            st = self._lstat(host)
            if st is None:
                return None
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                try:
                    target = os.readlink(host)
                except OSError:
                    return None
                if hops > MAX_SYMLINKS or not target:
                    return None
                if why is not None:
                    self.add(self._entry(path, st, target, why, group))
                if target.startswith("/"):
                    cur = ""
                stack.extend(target.split("/")[::-1])
                st = self._lstat(self.host(root, cur or "/"))
                continue
            if why is not None and (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                self.add(self._entry(path, st, host, why, group))
            cur = path
        return (cur or "/"), st

    def make_dirs(self, guest: str, why: str, group: str | None) -> None:
        """The directories above ``guest`` for a path the host does not
        have (an --add with its own GUESTPATH): 0755, as the kernel makes them."""
        parts = guest.strip("/").split("/")[:-1]
        for i in range(len(parts)):
            path = "/" + "/".join(parts[:i + 1])
            if path not in self.entries:
                self.add(Entry(path, stat.S_IFDIR | 0o755, "", why, group=group))

    # --- the search ----------------------------------------------------------

    def ld_cache(self) -> dict[str, str]:
        if self._cache is None:
            self._cache = read_ld_so_cache(self.host(self.sysroot, LD_SO_CACHE), self.arch)
        return self._cache

    def _expand(self, text: str, origin: _Obj) -> tuple[str, list[str]]:
        """Dynamic string tokens of one search-path string expanded ($ORIGIN:
        the object's directory); (root the directories are under, directories)."""
        subst = {"ORIGIN": os.path.dirname(origin.guest) or "/", "LIB": f"lib/{self.triplet}", "PLATFORM": self.arch}
        expanded = _DST.sub(lambda m: subst[m.group(1) or m.group(2)], text)
        root = origin.root if "ORIGIN" in text else self.sysroot
        # relative, or empty (the working directory): from /, the guest's
        return root, [absolute(d) for d in re.split(r"[:;]", expanded)]

    def _try(self, root: str, path: str, wrong: list) -> tuple[str, str, Elf] | None:
        """A candidate file: (root, path, its ELF) if it is an ELF file of our
        architecture; one of another is remembered in ``wrong`` and skipped, as ld.so skips it."""
        found = self.walk(root, path)
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return None
        elf = self._elf(self.host(root, found[0]))
        if elf is None:
            return None
        if not elf.fits(self.arch):
            wrong.append(elf)
            return None
        return root, path, elf

    def find(self, name: str, ns: _Namespace, loader: _Obj, chain: tuple[_Obj, ...], why: str = ""):
        """Where ld.so finds ``name`` needed by ``loader`` (loaded because of
        the objects in ``chain``, up to the program; ``why``: "LD_PRELOAD"
        for a preloaded name): (root, path, ELF), or an ImageError naming
        what was searched."""
        wrong: list[Elf] = []
        searched: list[str] = []

        def in_dirs(root: str, dirs: Iterable[str]):
            for d in dirs:
                searched.append(self.host(root, d))
                hit = self._try(root, os.path.join(d, name), wrong)
                if hit:
                    return hit
            return None

        if "/" in name:
            hit = self._try(self.sysroot, absolute(name), wrong)
            searched.append(self.host(self.sysroot, absolute(name)))
        else:
            hit = self._search_musl(name, ns, chain, in_dirs) if ns.flavor == "musl" else \
                self._search_glibc(name, ns, loader, chain, in_dirs, searched, wrong)
        if hit:
            return hit
        prog = self.program.name
        via = f" ({why})" if why == "LD_PRELOAD" else \
            "" if loader is ns.main and loader.label == prog else f" (via {loader.label})"
        if wrong:
            bad = wrong[0]
            raise ImageError(f"{prog} needs {name}{via}, but {bad.path} is for {bad.arch()}, and {prog} is "
                             f"{self.arch}: no {self.arch} {name} found{self.cross_hint}")
        where = ", ".join(dict.fromkeys(searched)) or "nowhere (no search path)"
        raise ImageError(f"{prog} needs {name}{via}, not found in: {where}{self.cross_hint}")

    def _search_glibc(self, name, ns, loader, chain, in_dirs, searched, wrong):
        # elf/dl-load.c, _dl_map_object: the RPATHs of the loader and its
        # loaders up to the program (unless the loader has a RUNPATH),
        # LD_LIBRARY_PATH, the loader's RUNPATH, ld.so.cache, the defaults
        if loader.elf.runpath is None:
            for obj in chain + ((ns.main,) if ns.main not in chain else ()):
                for text in obj.elf.rpath or ():
                    hit = in_dirs(*self._expand(text, obj))
                    if hit:
                        return hit
        hit = self._in_env_path(ns, in_dirs)
        if hit:
            return hit
        for text in loader.elf.runpath or ():
            hit = in_dirs(*self._expand(text, loader))
            if hit:
                return hit
        if loader.elf.flags_1 & DF_1_NODEFLIB:
            return None
        cache = self.ld_cache()
        if cache:
            searched.append(self.host(self.sysroot, LD_SO_CACHE))
        cached = cache.get(name)
        if cached is not None:
            hit = self._try(self.sysroot, cached, wrong)
            if hit:
                return hit
        t = self.triplet
        return in_dirs(self.sysroot, (f"/lib/{t}", f"/usr/lib/{t}", "/lib", "/usr/lib", "/lib64", "/usr/lib64"))

    def _in_env_path(self, ns, in_dirs):
        """LD_LIBRARY_PATH's directories: in the sysroot, and a directory it
        does not have there on the host too (one the user built libraries
        into: /tmp/b, packed at /host/tmp/b), as the guest's cache will say."""
        if self.env_path is None:
            return None
        root, dirs = self._expand(self.env_path, ns.main)
        for d in dirs:
            hit = in_dirs(root, [d])
            if hit:
                return hit
            host = self.locate(d)
            if root != "/" and host != (root, d) and not os.path.isdir(self.host(root, d)):
                hit = in_dirs(host[0], [host[1]])
                if hit:
                    return hit
        return None

    def _search_musl(self, name, ns, chain, in_dirs):
        # ldso/dynlink.c, load_library: LD_LIBRARY_PATH, then the RUNPATH
        # (or RPATH) of the loader and its loaders, then the path file
        hit = self._in_env_path(ns, in_dirs)
        if hit:
            return hit
        for obj in chain:
            for text in obj.elf.runpath or obj.elf.rpath or ():
                hit = in_dirs(*self._expand(text, obj))
                if hit:
                    return hit
        return in_dirs(self.sysroot, self._musl_path(ns))

    def _musl_path_file(self, ns: _Namespace) -> str:
        interp = ns.interp.guest
        prefix = os.path.dirname(os.path.dirname(interp)).rstrip("/")
        arch = os.path.basename(interp).removeprefix("ld-musl-").split(".so")[0]
        return f"{prefix}/etc/ld-musl-{arch}.path"

    def _musl_path(self, ns: _Namespace) -> tuple[str, ...]:
        try:
            with open(self.host(self.sysroot, self._musl_path_file(ns))) as f:
                dirs = tuple(d for d in re.split(r"[:\n]", f.read()) if d)
        except OSError:
            dirs = ()
        return dirs or MUSL_DEFAULT_PATH

    # --- LD_PRELOAD ------------------------------------------------------------

    def preloads(self, ns: _Namespace, adds: Sequence[str], existing) -> tuple[list[_Preload], list[tuple[str, str]]]:
        """LD_PRELOAD's entries, split as the program's ld.so splits them
        (glibc: at spaces and colons; musl: at white space and colons),
        and the paths among them that are packed elsewhere than they name:
        (as given, guest path). A name without a slash is searched as a
        DT_NEEDED name is. A path the user's tree (``existing``) or an
        ``--add HOSTPATH:GUESTPATH`` puts into the image is the image's
        own; any other is a host file, found as an --add path is (a
        relative one from the working directory; a path in the sysroot
        first, as the guest's ld.so would see it) and packed -- under /tmp
        that is at /host/tmp/..., which is what the guest is told."""
        out: list[_Preload] = []
        moved: list[tuple[str, str]] = []
        for text in re.split(r"[ :]" if ns.flavor == "glibc" else r"[\s:]", self.preload or ""):
            if not text:
                continue
            if "/" not in text:
                out.append(_Preload(text))
            elif not (text.startswith("/") and self._preload_in_image(absolute(text), adds, existing)):
                found = self._preload_file(text)
                out.append(_Preload(text, found))
                guest = guest_path(absolute(found[1]))
                if guest != text:
                    moved.append((text, guest))
        return out, moved

    def _preload_in_image(self, path: str, adds: Sequence[str], existing) -> bool:
        """``path`` is in the image without a host file of that name: the
        user's tree has it, or an --add with a GUESTPATH puts it there (its
        host file is checked for the architecture)."""
        if path in existing:
            return True
        for spec in adds:
            host, guest = parse_add(spec)
            top = absolute(guest) if guest else None
            if top and (path == top or path.startswith(top.rstrip("/") + "/")):
                elf = self._elf(os.path.abspath(host) + path[len(top.rstrip("/")):])
                if elf is not None and not elf.fits(self.arch):
                    raise ImageError(f"LD_PRELOAD {path}: {elf.path} (--add {spec}) is for {elf.arch()}, and "
                                     f"{self.program.name} is {self.arch}")
                return True
        return False

    def _preload_file(self, text: str) -> tuple[str, str, Elf]:
        """Where the host has the LD_PRELOAD path ``text``: (root, path, ELF),
        or an ImageError saying what is at each place looked at."""
        candidates = []
        if text.startswith("/") and self.sysroot != "/":
            candidates.append((self.sysroot, absolute(text)))  # the guest's path, in the sysroot
        candidates.append(self.locate(os.path.abspath(text)))  # a host path, as --add takes it
        missing, problems = [], []
        for root, path in dict.fromkeys(candidates):
            where = self.host(root, path)
            found = self.walk(root, path)
            if found is None:
                missing.append(where)
                continue
            elf = self._elf(self.host(root, found[0])) if stat.S_ISREG(found[1].st_mode) else None
            if not stat.S_ISREG(found[1].st_mode):
                problems.append((where, "is not a file"))
            elif elf is None:
                problems.append((where, "is not an ELF file"))
            elif not elf.fits(self.arch):
                problems.append((where, f"is for {elf.arch()}, and {self.program.name} is {self.arch}"))
            else:
                return root, path, elf
        if len(problems) == 1 and problems[0][0] == text:  # "LD_PRELOAD /tmp/x/lib.so is for ..."
            raise ImageError(f"LD_PRELOAD {text} {problems[0][1]}")
        what = "; ".join(f"{where} {why}" for where, why in problems) or f"not found at {', '.join(missing)}"
        raise ImageError(f"LD_PRELOAD {text}: {what}")

    # --- closures ------------------------------------------------------------

    def namespace(self, main: _Obj) -> _Namespace:
        """A process for ``main``: its interpreter packed and loaded."""
        interp = main.elf.interp
        musl = bool(interp) and os.path.basename(interp).startswith("ld-musl-")
        ns = _Namespace(main=main, flavor="musl" if musl else "glibc")
        if not interp:
            return ns
        prog = self.program.name
        what = prog if main.label == prog else main.label
        found = self.walk(self.sysroot, interp)
        elf = self._elf(self.host(self.sysroot, found[0])) if found and stat.S_ISREG(found[1].st_mode) else None
        if elf is None:
            raise ImageError(f"{what} needs its interpreter {interp}, not found at "
                             f"{self.host(self.sysroot, interp)}{self.cross_hint}")
        if not elf.fits(self.arch):
            raise ImageError(f"{what} needs its interpreter {interp}, but {elf.path} is for {elf.arch()}, and "
                             f"{what} is {self.arch}{self.cross_hint}")
        self.walk(self.sysroot, interp, f"interpreter of {what}")
        ns.interp = _Obj(self.sysroot, interp, elf, os.path.basename(interp))
        for key in (interp, elf.soname, os.path.basename(interp)):
            if key:
                ns.loaded[key] = ns.interp
        ns.files[found[0]] = ns.interp
        if musl:
            self._musl_builtin(ns)
        else:
            self.guest_defaults[interp] = _glibc_builtin_dirs(elf.path, self.triplet)
        return ns

    def _musl_builtin(self, ns: _Namespace) -> None:
        path_file = self._musl_path_file(ns)
        found = self.walk(self.sysroot, path_file)
        if found and stat.S_ISREG(found[1].st_mode):
            self.walk(self.sysroot, path_file, f"library path of {ns.interp.label}")
        self.musl_paths.setdefault(path_file, (self._musl_path(ns), []))

    def closure(self, ns: _Namespace, start: Sequence[tuple[_Obj, tuple[_Obj, ...]]],
                names: Sequence[str] = ()) -> None:
        """Load what the objects in ``start`` need, breadth first as ld.so
        does (_dl_map_object_deps), and pack each library found; ``names``
        are loaded first, as needed by the program (LD_PRELOAD)."""
        queue = deque(start)
        first = [(n, ns.main, (ns.main,)) for n in names]
        while queue or first:
            if first:
                items = [first.pop(0)]
            else:
                obj, chain = queue.popleft()
                items = [(n, obj, chain) for n in obj.elf.needed]
            for name, obj, chain in items:
                new = self._load(name, ns, obj, chain)
                if new is not None:
                    queue.append((new, (new,) + chain))

    def _load(self, name: str | _Preload, ns: _Namespace, obj: _Obj, chain: tuple[_Obj, ...]) -> _Obj | None:
        found, why = None, f"needed by {obj.label}"
        if isinstance(name, _Preload):  # an LD_PRELOAD entry: a path is found already, a name is searched
            name, found, why = name.text, name.found, "LD_PRELOAD"
        if name in ns.loaded:
            return None
        if ns.flavor == "musl" and name.startswith("lib") and ns.interp is not None and \
                name[3:].split(".")[0] in MUSL_RESERVED and "." in name:
            ns.loaded[name] = ns.interp
            return None
        root, path, elf = found or self.find(name, ns, obj, chain, why)
        canonical = self.walk(root, path)[0]
        if canonical in ns.files:  # one file under two names is one object
            ns.loaded[name] = ns.files[canonical]
            return None
        self.walk(root, path, why)
        new = _Obj(root, path, elf, elf.soname or os.path.basename(path))
        ns.loaded[name] = ns.files[canonical] = new
        if elf.soname:
            ns.loaded.setdefault(elf.soname, new)
        if "/" not in name:  # its directory as the guest walks it (no "..", no symlinked directories)
            self._note_guest_lookup(ns, name, f"{self.walk(root, os.path.dirname(path))[0].rstrip('/')}/"
                                               f"{os.path.basename(path)}")
        return new

    def _note_guest_lookup(self, ns: _Namespace, name: str, path: str) -> None:
        """Make sure the guest's ld.so finds ``name`` at ``path``: fine when its
        directory is one the interpreter searches anyway, else listed in
        the guest's ld.so.cache (glibc) or ld-musl path file (musl)."""
        directory = os.path.dirname(path)
        if ns.interp is None:
            return
        if ns.flavor == "musl":
            dirs, extra = self.musl_paths[self._musl_path_file(ns)]
            directory = guest_path(directory)
            if directory not in dirs and directory not in extra:
                extra.append(directory)
        elif directory not in self.guest_defaults.get(ns.interp.guest, ()):
            self.ld_cache_libs.setdefault(name, guest_path(path))

    # --- --add ----------------------------------------------------------------

    def add_path(self, spec: str) -> list[tuple[str, str, str]]:
        """Pack one --add HOSTPATH[:GUESTPATH]; returns the files in it that
        may be ELF files needing libraries: (root, path under it, guest path)."""
        host, guest = parse_add(spec)
        if not host:
            raise ImageError(f"--add {spec!r}: expected HOSTPATH[:GUESTPATH]")
        host_abs = os.path.abspath(host)
        if not os.path.lexists(host_abs):
            raise ImageError(f"--add {spec}: {host} does not exist")
        why = f"--add {spec}"
        root, same = self.locate(host_abs)
        target = absolute(guest or same)
        if guest_path(target) != target:
            top = "/" + target.split("/")[1]
            raise ImageError(f"--add {spec}: the kernel mounts its own {top} at start, which would hide {target}: "
                             f"give another GUESTPATH (e.g. {host}:/data)")
        if guest is None or absolute(guest) == same:
            found = self.walk(root, same, why, group=spec)
            if found is None:
                raise ImageError(f"--add {spec}: {host} is a broken symlink")
            top_guest, st = found
            top_host = self.host(root, top_guest)
            chase = True
        else:
            top_guest, top_host, chase = absolute(guest), os.path.realpath(host_abs), False
            if top_guest == "/":
                raise ImageError(f"--add {spec}: give a guest path other than / (--files DIR makes a tree the whole /)")
            try:
                st = os.stat(top_host)
            except OSError as exc:
                raise ImageError(f"--add {spec}: {host}: {exc.strerror}") from None
            self.make_dirs(top_guest, why, spec)
            if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
                self.add(self._entry(top_guest, st, top_host, why, spec))
        # where the files are looked at from: their place under the root
        # (its $ORIGIN), or with another GUESTPATH, their host path
        where = (root, top_guest) if chase else ("/", top_host)
        elves: list[tuple[str, str, str]] = []
        if stat.S_ISREG(st.st_mode):
            elves.append((*where, top_guest))
        elif stat.S_ISDIR(st.st_mode):
            self._add_tree(root, where, top_guest, why, spec, chase, elves)
        else:
            raise ImageError(f"--add {spec}: {host} is not a file or a directory")
        return elves

    def _add_tree(self, root, where, top_guest, why, group, chase, elves) -> None:
        links: list[str] = []
        pending = [(self.host(*where), top_guest)]
        while pending:
            dir_host, dir_guest = pending.pop()
            try:
                with os.scandir(dir_host) as it:
                    names = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                raise ImageError(f"--add {group}: cannot read {dir_host}: {exc.strerror}") from None
            subdirs = []
            for e in names:
                st = e.stat(follow_symlinks=False)
                g = f"{dir_guest.rstrip('/')}/{e.name}"
                if stat.S_ISLNK(st.st_mode):
                    self.add(self._entry(g, st, os.readlink(e.path), why, group))
                    links.append(g)
                elif stat.S_ISDIR(st.st_mode):
                    self.add(self._entry(g, st, e.path, why, group))
                    subdirs.append((e.path, g))
                elif stat.S_ISREG(st.st_mode):
                    self.add(self._entry(g, st, e.path, why, group))
                    if ".so" in e.name or st.st_mode & 0o111:
                        elves.append((where[0], where[1] + g[len(top_guest):], g))
                # sockets, devices, FIFOs: nothing to copy
            pending.extend(reversed(subdirs))
        if not chase:
            return
        inside = top_guest.rstrip("/") + "/"
        for g in links:  # a file a symlink points to outside the tree comes along, so the link works
            found = self.walk(root, g)
            if found and stat.S_ISREG(found[1].st_mode) and not found[0].startswith(inside):
                self.walk(root, g, f"target of {g}", group)
                elves.append((root, found[0], found[0]))

    def added_elves(self, ns: _Namespace | None, elves: list[tuple[str, str, str]]) -> None:
        """Libraries the ELF files under added paths need: a shared object
        as a module the program dlopens (its namespace), an executable as
        a program of its own (its interpreter too)."""
        for root, path, guest in elves:
            try:
                elf = self._elf(self.host(root, path))
            except ImageError:
                continue  # a corrupt ELF file in a tree is copied as it is, needing nothing
            if elf is None or not elf.fits(self.arch) or not elf.dynamic:
                continue
            obj = _Obj(root, path, elf, guest)
            if elf.interp:
                sub = self.namespace(obj)
                self.closure(sub, [(obj, (obj,))])
            elif elf.etype == ET_DYN and ns is not None:
                canonical = self.walk(obj.root, obj.guest)
                if canonical and canonical[0] in ns.files:
                    continue  # a library the program loads anyway
                chain = (obj, ns.main) if ns.main.elf.dynamic else (obj,)
                self.closure(ns, [(obj, chain)])

    # --- the guest's own search files ------------------------------------------

    def guest_search_files(self) -> None:
        if self.ld_cache_libs:
            data = write_ld_so_cache(self.arch, self.ld_cache_libs.items())
            self.add(Entry("/etc", stat.S_IFDIR | 0o755, "", "the guest's ld.so.cache"))
            self.add(Entry(LD_SO_CACHE, stat.S_IFREG | 0o644, "", f"libraries outside the interpreter's own "
                           f"directories: {', '.join(sorted(self.ld_cache_libs))}", len(data), data=data))
        for path_file, (dirs, extra) in self.musl_paths.items():
            if extra:  # replaces the sysroot's own path file, if it was packed
                data = ("\n".join(dirs + tuple(extra)) + "\n").encode()
                self.make_dirs(path_file, "musl's library path", None)
                self.entries[path_file] = Entry(path_file, stat.S_IFREG | 0o644, "", "musl's library path, with "
                                                f"{', '.join(extra)}", len(data), data=data)


def _glibc_builtin_dirs(interp_host: str, triplet: str) -> tuple[str, ...]:
    """The directories a glibc ld.so searches by itself (its SYSTEM_DIRS,
    NUL-separated in its read-only data; `ld.so --help` lists them), or
    Debian's four when they cannot be read."""
    try:
        with open(interp_host, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            found = re.search(rb"(?:/(?:usr/)?lib[\w.+-]*/(?:[\w.+-]+/)?\0){2,}", m)
            if found:
                return tuple(os.path.normpath(d.decode()) for d in found.group(0).split(b"\0") if d)
    except (OSError, ValueError):
        pass
    return (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")


def gather(program: Program, arch: str, *, sysroot: str | None = None, env: Sequence[str] = (),
           adds: Sequence[str] = (), existing: frozenset[str] | set[str] = frozenset()) -> Gathered:
    """What ``program`` needs in its file tree, and the ``--add`` paths
    with what the ELF files among them need, as ordered entries. Entries
    at a path the user's tree (``existing``: guest paths) already has are
    left out (``kept``): the user's tree wins."""
    if sysroot is not None and not os.path.isdir(sysroot):
        raise ImageError(f"--sysroot {sysroot}: not a directory")
    g = _Gatherer(program, arch, sysroot if sysroot is not None else default_sysroot(arch), env)
    ns = None
    moved: list[tuple[str, str]] = []
    if program.interp:
        elf = read_elf(program.path)
        root, guest = g.locate(os.path.realpath(program.path))
        main = _Obj(root, guest, elf, program.name)
        ns = g.namespace(main)
        preload, moved = g.preloads(ns, adds, existing)
        g.closure(ns, [(main, (main,))], names=preload)
    elif adds:
        main = _Obj("/", os.path.abspath(program.path), Elf(program.path, 2, E_MACHINE[arch]), program.name)
        ns = _Namespace(main=main, flavor="glibc")
    elves: list[tuple[str, str, str]] = []
    for spec in adds:
        elves += g.add_path(spec)
    g.added_elves(ns, elves)
    g.guest_search_files()
    entries = tuple(g.entries.values())
    kept = tuple(e for e in entries if e.guest in existing)
    return Gathered(entries=tuple(e for e in entries if e.guest not in existing), kept=kept, sysroot=g.sysroot,
                    preload=tuple(moved))


def preload_env(env: Sequence[str], moved: dict[str, str]) -> list[str]:
    """The program's environment for the guest: LD_PRELOAD's entries that
    compose packed elsewhere than they name (``moved``, from the image's
    metadata: as given -> guest path) named where they are in the image,
    the rest as given."""
    out = []
    for kv in env:
        if kv.startswith("LD_PRELOAD="):
            parts = re.split(r"([\s:]+)", kv[len("LD_PRELOAD="):])
            kv = "LD_PRELOAD=" + "".join(moved.get(p, p) if i % 2 == 0 else p for i, p in enumerate(parts))
        out.append(kv)
    return out
