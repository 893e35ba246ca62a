"""Debugging a guest with gdb and QEMU's monitor: ``run --gdb[=PORT]``,
``run --monitor`` and ``hermitcore gdb``.

QEMU's gdb stub (``-gdb tcp:127.0.0.1:PORT -S``) holds the guest before its
first instruction; gdb-multiarch attaches with the kernel image as its main
file (the kernel's symbols; a C application is linked into it) and the Linux
program's own symbols added at the place the kernel loads it: an ET_EXEC at
its link addresses, a static-pie or PIE at ``USER_PIE_BASE``
(``hermit/user.h``). A dynamic program's libraries are loaded by its
dynamic linker at run time, at addresses the kernel and ld.so choose; gdb's
own shared-library support needs a Linux target (on x86_64 it is switched on
only by a target description with Linux's ``orig_rax``, which QEMU does not
send), so a small gdb script (``hermit-libs``) walks the dynamic linker's
``r_debug`` link map -- found through ``DT_DEBUG`` in the program's
``.dynamic`` -- and adds each library's symbols from a copy of the image's
file tree. QEMU's human monitor goes on a Unix socket in the run directory
(or a TCP port, HermitCore's ``HERMIT_PORT + 1``).

Imported only when one of these is asked for (pyelftools, hashlib: not on a
plain run's path).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import sys

from hermitcore.errors import HermitError, ImageError

DEFAULT_GDB_PORT = 1234  # QEMU's -s, HermitCore's HERMIT_DEBUG=1
GDB = "gdb-multiarch"
GDB_PACKAGE = "gdb-multiarch"
USER_PIE_BASE = 0x8_0000_0000  # hermit/user.h: a static-pie or PIE program's load address
DT_DEBUG = 21
MONITOR_SOCKET = "monitor.sock"


class Debug:
    """What a run was asked for: ``gdb_port`` (QEMU's gdb stub, the guest
    held before its first instruction), ``monitor`` (QEMU's human monitor:
    "unix" for a socket in the run directory, or a TCP port number),
    ``program`` (the host file the program was composed from, for its
    symbols; None: taken from the image), ``announce`` (print how to attach
    on stderr; ``hermitcore gdb`` attaches itself)."""

    def __init__(self, gdb_port: int | None = None, monitor=None, program: str | None = None, announce: bool = True,
                 control: str | None = None):
        self.gdb_port = gdb_port
        self.monitor = monitor
        self.program = program
        self.announce = announce
        self.control = control  # a second monitor's socket, for `hermitcore gdb` itself

    def qemu_args(self, workdir: str) -> list[str]:
        args = []
        if self.gdb_port is not None:
            args += ["-gdb", f"tcp:127.0.0.1:{self.gdb_port}", "-S"]
        if self.monitor is not None:
            args += ["-monitor", f"{monitor_address(self.monitor, workdir)},server=on,wait=off"]
        if self.control is not None:
            args += ["-monitor", f"unix:{self.control},server=on,wait=off"]
        return args

    def lines(self, image: str, info, workdir: str) -> list[str]:
        """What to print at start: one line to attach gdb, one to reach the
        monitor."""
        out = []
        if self.gdb_port is not None and self.announce:
            argv = gdb_argv(image, info, self.gdb_port, program=self.program)
            out.append(f"hermitcore: the guest waits for gdb on 127.0.0.1:{self.gdb_port}; attach with: "
                       + " ".join(shlex.quote(a) for a in argv))
        if self.monitor is not None:
            if self.monitor == "unix":
                path = os.path.join(workdir, MONITOR_SOCKET)
                how = f"socat - UNIX-CONNECT:{shlex.quote(path)}"
            else:
                how = f"socat - TCP:127.0.0.1:{self.monitor}"
            out.append(f"hermitcore: QEMU monitor: {how}")
        return out


def monitor_address(monitor, workdir: str) -> str:
    if monitor == "unix":
        return f"unix:{os.path.join(workdir, MONITOR_SOCKET)}"
    return f"tcp:127.0.0.1:{monitor}"


def monitor_from_env(flag: bool) -> object | None:
    """--monitor / HERMIT_MONITOR=1: "unix" (a socket in the run
    directory), or HERMIT_PORT + 1 when HERMIT_PORT is set (HermitCore's
    habit: its proxy listened on HERMIT_PORT, the monitor on the next)."""
    if not flag and not _env_true("HERMIT_MONITOR"):
        return None
    port = os.environ.get("HERMIT_PORT", "").strip()
    if not port:
        return "unix"
    if not port.isdigit() or not 1 <= int(port) < 65535:
        raise HermitError(f"HERMIT_PORT={port!r}: expected a TCP port, 1 to 65534 (the monitor listens on the next)")
    return int(port) + 1


def gdb_port_from(option: int | None) -> int | None:
    """--gdb[=PORT] (0: the default port) / HERMIT_DEBUG=1: the gdb stub's
    port, or None."""
    if option is None and _env_true("HERMIT_DEBUG"):
        option = 0
    if option is None:
        return None
    return option or DEFAULT_GDB_PORT


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "no", "off", "false")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (QEMU takes it a moment
    later; another process could take it first, which QEMU then reports)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- symbols ---------------------------------------------------------------------------------------------------------


class ProgramSymbols:
    """Where gdb finds a Linux program's symbols: ``path`` (a host file),
    ``bias`` (added to its addresses: 0, or USER_PIE_BASE for a PIE),
    ``dynamic`` (the address of its .dynamic in the guest, for a dynamic
    program; else None); ``main()``: a gdb location for its main function,
    or None (no such symbol)."""

    __slots__ = ("path", "bias", "dynamic", "kind", "_data")

    def __init__(self, path, bias, dynamic, kind, data):
        self.path, self.bias, self.dynamic, self.kind, self._data = path, bias, dynamic, kind, data

    def main(self) -> str | None:
        import io

        from elftools.elf.elffile import ELFFile

        from hermitcore.image import _elf_read_errors

        try:
            return _main_location(ELFFile(io.BytesIO(self._data)), self.bias)
        except _elf_read_errors():
            return None


def debug_dir(image: str) -> str:
    """A directory in the cache for what gdb reads of ``image`` (its program,
    its file tree's ELF files), named by the image's path, size and mtime."""
    import hashlib

    from hermitcore.paths import cache_path

    st = os.stat(image)
    key = hashlib.sha256(f"{os.path.abspath(image)}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    stem = os.path.splitext(os.path.basename(image))[0][:48]
    return cache_path("gdb", f"{stem}-{key}")


def program_symbols(image: str, info, given: str | None = None) -> ProgramSymbols | None:
    """The symbols of the Linux program in ``image`` (None for a C
    application: its symbols are the kernel's). ``given``: the host file it
    was composed from, used when its bytes are the image's (a separate debug
    file next to it stays findable); otherwise the copy in the image is
    written to the cache."""
    if not info.meta.get("program"):
        return None
    from hermitcore.image import program_of

    data = program_of(image)
    if not data:
        raise ImageError(f"{image}: cannot read the program embedded in the image")
    path = None
    if given and os.path.isfile(given):
        try:
            with open(given, "rb") as f:
                if f.read(len(data) + 1) == data:
                    path = os.path.abspath(given)
        except OSError:
            pass
    if path is None:
        d = debug_dir(image)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, info.meta.get("app") or "program")
        if not (os.path.isfile(path) and os.path.getsize(path) == len(data)):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o755)
            os.replace(tmp, path)
    return _read_symbols(path, data, info.meta.get("program"))


def _read_symbols(path: str, data: bytes, kind: str) -> ProgramSymbols:
    import io

    from elftools.elf.elffile import ELFFile

    from hermitcore.image import _elf_read_errors

    try:
        elf = ELFFile(io.BytesIO(data))
        bias = USER_PIE_BASE if elf["e_type"] == "ET_DYN" else 0
        dynamic = next((seg["p_vaddr"] + bias for seg in elf.iter_segments() if seg["p_type"] == "PT_DYNAMIC"), None)
    except _elf_read_errors():
        bias, dynamic = 0, None
    return ProgramSymbols(path, bias, dynamic if kind == "dynamic" else None, kind, data)


def _main_location(elf, bias: int) -> str | None:
    """A gdb location for the program's ``main``: its source file's full
    path and the name (``/src/prog.c:main``: the kernel has a ``main`` of
    its own, the Linux loader's), from the DWARF unit that holds its
    address; the address when the program has the symbol but no debug
    information for it; None when it has neither (a stripped program)."""
    symtab = elf.get_section_by_name(".symtab") or elf.get_section_by_name(".dynsym")
    addr = None
    for sym in (symtab.get_symbol_by_name("main") or ()) if symtab is not None else ():
        if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"]:
            addr = sym["st_value"]
            break
    if addr is None:
        return None
    try:
        file = _source_of(elf, addr) if elf.has_dwarf_info() else None
    except Exception:  # DWARF pyelftools does not know: the address will do
        file = None
    return f"{file}:main" if file else f"*{addr + bias:#x}"


def _source_of(elf, addr: int) -> str | None:
    """The full path of the source file of the DWARF unit covering
    ``addr`` (its .debug_aranges entry, else the units' own ranges)."""
    dwarf = elf.get_dwarf_info()
    cu = None
    aranges = dwarf.get_aranges()
    offset = aranges.cu_offset_at_addr(addr) if aranges is not None else None
    if offset is not None:
        cu = dwarf.get_CU_at(offset)
    else:
        for unit in dwarf.iter_CUs():
            top = unit.get_top_DIE()
            low, high = top.attributes.get("DW_AT_low_pc"), top.attributes.get("DW_AT_high_pc")
            if low is None or high is None:
                continue
            end = high.value if high.form == "DW_FORM_addr" else low.value + high.value
            if low.value <= addr < end:
                cu = unit
                break
    if cu is None:
        return None
    top = cu.get_top_DIE()
    name, comp_dir = top.attributes.get("DW_AT_name"), top.attributes.get("DW_AT_comp_dir")
    if name is None:
        return None
    file = os.fsdecode(name.value)
    if comp_dir is not None and not os.path.isabs(file):
        file = os.path.join(os.fsdecode(comp_dir.value), file)
    return file


# -- a dynamic program's libraries ------------------------------------------------------------------------------------


def file_tree_dir(image: str) -> str:
    """The ELF files (with the directories and symlinks on their way) of
    ``image``'s file tree, written once into the cache: where ``hermit-libs``
    finds each library by the path the guest's dynamic linker opened it by.
    Absolute symlinks are made relative, so they resolve inside the copy,
    not on the host."""
    root = os.path.join(debug_dir(image), "root")
    done = os.path.join(debug_dir(image), "root.complete")
    if os.path.isfile(done):
        return root
    data = _app_files_of(image)
    if data is None:
        raise ImageError(f"{image}: cannot read the file tree embedded in the image")
    if os.path.isdir(root):
        shutil.rmtree(root)
    os.makedirs(root)
    for name, mode, content in _newc_entries(data):
        rel = os.path.normpath(name.lstrip("/"))
        if rel in (".", "") or rel.startswith(".."):
            continue
        dest = os.path.join(root, rel)
        if stat.S_ISDIR(mode):
            os.makedirs(dest, exist_ok=True)
        elif stat.S_ISLNK(mode):
            target = os.fsdecode(content)
            if os.path.isabs(target):
                target = os.path.relpath(os.path.join(root, target.lstrip("/")), os.path.dirname(dest))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if os.path.lexists(dest):
                os.unlink(dest)
            os.symlink(target, dest)
        elif stat.S_ISREG(mode) and content[:4] == b"\x7fELF":
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if os.path.lexists(dest):
                os.unlink(dest)
            with open(dest, "wb") as f:
                f.write(content)
    open(done, "w").close()
    return root


def _app_files_of(image: str) -> bytes | None:
    """The program's file tree (a newc archive) embedded in a Linux image,
    between ``app_files`` and ``app_files_end`` in its ``.app`` section."""
    from elftools.elf.elffile import ELFFile

    from hermitcore.image import _elf_read_errors

    try:
        with open(image, "rb") as f:
            elf = ELFFile(f)
            symtab, sec = elf.get_section_by_name(".symtab"), elf.get_section_by_name(".app")
            if symtab is None or sec is None:
                return None
            syms = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name in ("app_files", "app_files_end")}
            if len(syms) != 2:
                return None
            start = syms["app_files"] - sec["sh_addr"]
            return sec.data()[start:start + syms["app_files_end"] - syms["app_files"]]
    except (OSError, *_elf_read_errors()):
        return None


def _newc_entries(data: bytes):
    """(name, mode, data) of each entry of a newc archive (checked when the
    image was composed)."""
    off = 0
    while off + 110 <= len(data) and data[off:off + 5] == b"07070":
        mode = int(data[off + 14:off + 22], 16)
        filesize, namesize = int(data[off + 54:off + 62], 16), int(data[off + 94:off + 102], 16)
        name = data[off + 110:off + 110 + namesize - 1]
        start = (off + 110 + namesize + 3) & ~3
        if name == b"TRAILER!!!":
            return
        yield os.fsdecode(name), mode, data[start:start + filesize]
        off = (start + filesize + 3) & ~3


def libs_script(image: str, syms: ProgramSymbols) -> str:
    """A gdb script (in the cache) that defines ``hermit-libs``: it walks
    the dynamic linker's link map (``r_debug``, at DT_DEBUG of the program's
    .dynamic) and adds the symbols of every library not added yet, from
    ``file_tree_dir``, at the base ld.so loaded it at (``l_addr``)."""
    root = file_tree_dir(image)
    path = os.path.join(debug_dir(image), "hermit-libs.gdb")
    fmt_root = root.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    text = f"""\
# hermitcore: symbols of the shared libraries of {os.path.basename(syms.path)}, as its dynamic linker loaded them.
# The libraries come from {root}
# (the ELF files of the image's file tree), found by the paths the guest's ld.so opened them by.
set $hermit_libs_loaded = 0
define hermit-libs
  set $hl_dyn = (unsigned long *) {syms.dynamic:#x}
  while $hl_dyn[0] != 0 && $hl_dyn[0] != {DT_DEBUG}
    set $hl_dyn = $hl_dyn + 2
  end
  if $hl_dyn[0] != {DT_DEBUG} || $hl_dyn[1] == 0
    echo hermit-libs: the dynamic linker has not run yet (DT_DEBUG is 0): try again in main\\n
  else
    set $hl_map = ((unsigned long *) $hl_dyn[1])[1]
    set $hl_n = 0
    while $hl_map != 0
      set $hl_name = (char *) ((unsigned long *) $hl_map)[1]
      if $hl_n >= $hermit_libs_loaded && $hl_name[0] == '/'
        eval "add-symbol-file {fmt_root}%s -o %#lx", $hl_name, ((unsigned long *) $hl_map)[0]
      end
      set $hl_n = $hl_n + 1
      set $hl_map = ((unsigned long *) $hl_map)[3]
    end
    set $hermit_libs_loaded = $hl_n
  end
end
document hermit-libs
Add the symbols of the shared libraries the program's dynamic linker has loaded
(its r_debug link map), each at its load address. Run it once they are loaded
(in main, or after a dlopen); libraries added before are skipped.
end
echo hermitcore: once the program reaches main, `hermit-libs` adds its shared libraries' symbols\\n
"""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    except OSError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# -- gdb's command line -----------------------------------------------------------------------------------------------


def gdb_binary() -> str:
    from hermitcore.toolchain import find_tool

    return find_tool(os.environ.get("HERMIT_GDB") or GDB, GDB_PACKAGE)


def setup_commands(image: str, syms: ProgramSymbols | None) -> list[str]:
    """gdb commands that find everything: the kernel's sources (kept by
    the build, build.keep_sources), the program's symbols at its load
    address, code read from the files rather than the guest (gdb analyses a
    function's prologue to place a breakpoint after it; while the guest is
    held at its first instruction the program is not in memory yet)."""
    from hermitcore.build import DEBUG_PREFIX, sources_dir

    cmds = ["set trust-readonly-sections on"]
    src = sources_dir(image)
    if src.is_dir():
        cmds.append(f"set substitute-path {DEBUG_PREFIX} {_gdb_path(str(src))}")
    if syms is not None:
        cmds.append(f"add-symbol-file {_gdb_path(syms.path)}" + (f" -o {syms.bias:#x}" if syms.bias else ""))
        vdso = vdso_file(image)
        if vdso:  # linked at 0, mapped at USER_VDSO in every program
            cmds.append(f"add-symbol-file {_gdb_path(vdso)} -o {USER_VDSO:#x}")
    return cmds


USER_VDSO = 0x3F80010000  # hermit/user.h


def vdso_file(image: str) -> str | None:
    """The image's vDSO, written once next to its program in the cache
    (gdb reads symbols from files), or None."""
    from hermitcore.image import vdso_of

    data = vdso_of(image)
    if not data:
        return None
    path = os.path.join(debug_dir(image), "linux-vdso.so.1")
    if not (os.path.isfile(path) and os.path.getsize(path) == len(data)):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return path


def _gdb_path(path: str) -> str:
    """A file name as gdb's command parser takes it (quoted when it has
    blanks or quotes)."""
    if any(c in path for c in " \t'\"\\"):
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return path


def gdb_argv(image: str, info, port: int, *, program: str | None = None, gdb: str = GDB) -> list[str]:
    """gdb's command line to attach to a guest held on ``port`` (what `run
    --gdb` prints): the kernel image, the program's symbols at its load
    address, the connection, and for a dynamic program the ``hermit-libs``
    script."""
    syms = program_symbols(image, info, program)
    image = os.path.abspath(image)
    argv = [gdb, "-q", image]
    cmds = setup_commands(image, syms)
    if syms is not None:  # add-symbol-file asks "(y or n)" at a terminal
        cmds = ["set confirm off", *cmds, "set confirm on"]
    for cmd in cmds:
        argv += ["-ex", cmd]
    if syms is not None and syms.dynamic is not None:
        argv += ["-x", libs_script(image, syms)]
    argv += ["-ex", f"target remote 127.0.0.1:{port}"]
    return argv


def session_script(image: str, info, port: int, *, program: str | None, accel: str, break_main: bool) -> tuple[str, str | None]:
    """``hermitcore gdb``'s script (its text) and a note about main, if
    any: the symbols, the connection, and a breakpoint on the program's
    main (``hbreak`` under KVM, where QEMU writes a software breakpoint into
    guest memory through the page tables of the moment -- and the
    program's pages do not exist yet when the guest is held at its first
    instruction); for a dynamic program ``hermit-libs`` runs when main is
    reached."""
    syms = program_symbols(image, info, program)
    image = os.path.abspath(image)
    lines = ["set confirm off", *setup_commands(image, syms)]
    if syms is not None and syms.dynamic is not None:
        lines.append(f"source {_gdb_path(libs_script(image, syms))}")
    lines.append(f"target remote 127.0.0.1:{port}")
    note = None
    brk = "hbreak" if accel == "kvm" else "break"
    if break_main and syms is not None:
        main = syms.main()
        if main is None:
            note = f"{os.path.basename(syms.path)} has no main symbol (stripped?): no breakpoint set"
        else:
            lines.append(f"{brk} {main}")
            if syms.dynamic is not None:
                lines += ["commands", "hermit-libs", "end"]
    elif break_main:  # a C application, linked into the kernel
        lines.append(f"{brk} main")
    lines.append("set confirm on")
    return "\n".join(lines) + "\n", note


def run_gdb(args, compose_image, run_child) -> int:
    """``hermitcore gdb``: compose if needed (``compose_image(args)`` ->
    image path), start the guest held (``run_child(args, image, debug)`` in
    a forked process: `run --gdb` on a free port, stdin /dev/null, its own
    process group so the terminal's ^C reaches gdb only), run gdb connected
    with the symbols and a breakpoint on main, and return the run's exit
    status. When gdb is gone the guest runs on if gdb detached from it (a
    ``-batch`` session's end); if gdb left it stopped (never connected,
    died), it is stopped: status 137, as a program gdb kills on Linux."""
    import signal
    import subprocess
    import tempfile

    from hermitcore.image import read_image
    from hermitcore.launch import resolve_accel

    gdb = gdb_binary()
    program = args.image if args.image and not _is_image(args.image) else None
    image = compose_image(args)
    info = read_image(image)
    port = args.gdb or free_port()
    accel = resolve_accel(args.accel, info.arch)
    script, note = session_script(image, info, port, program=program, accel=accel, break_main=not args.no_main)
    if note:
        print(f"hermitcore: {note}", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="hermit-gdb-")
    script_path = os.path.join(tmp, "session.gdb")
    with open(script_path, "w", encoding="utf-8") as f:
        f.write(script)
    control = os.path.join(tmp, "control.sock")  # our own monitor: is the guest still held when gdb is gone?
    gdb_argv_ = [gdb, "-q", *(["-batch"] if args.batch else []), os.path.abspath(image), "-x", script_path]
    for cmd in args.ex:
        gdb_argv_ += ["-ex", cmd]
    if args.verbose:
        print("hermitcore: " + " ".join(shlex.quote(a) for a in gdb_argv_), file=sys.stderr)
    debug = Debug(gdb_port=port, monitor=monitor_from_env(args.monitor), program=program, announce=False,
                  control=control)
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # the guest: `run IMAGE --gdb=PORT`
        status = 1
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            status = run_child(args, image, debug)
        except HermitError as exc:
            print(f"hermitcore: error: {exc}", file=sys.stderr)
            status = exc.exit_code
        except BaseException:  # noqa: BLE001 -- never return into the parent's code
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(status)
    old_int = signal.signal(signal.SIGINT, lambda *a: None)  # ^C is gdb's (it stops the guest); exec resets it
    old_term = signal.signal(signal.SIGTERM, lambda signum, frame: _kill(child, signum))
    waited = None
    try:
        try:
            subprocess.run(gdb_argv_)
        except OSError as exc:
            print(f"hermitcore: error: cannot run {gdb}: {exc.strerror or exc}", file=sys.stderr)
        # gdb is gone: a detached guest runs on to its end (^C now goes to the program); a held one is stopped
        signal.signal(signal.SIGINT, lambda signum, frame: _kill(child, signum))
        waited = _reap(child, block=False)
        stopped = False
        if waited is None and _held(control):
            print("hermitcore: gdb left the guest stopped; ending it", file=sys.stderr)
            _monitor_command(control, "quit")
            stopped = True
        waited = waited or _reap(child, block=True)
    finally:
        if waited is None:  # an exception of ours: the guest does not outlive us
            _kill(child, signal.SIGTERM)
            _reap(child, block=True)
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        shutil.rmtree(tmp, ignore_errors=True)
    return 128 + signal.SIGKILL if stopped else waited


def _reap(pid: int, block: bool) -> int | None:
    """The child's exit status as a shell shows it, or None (still running)."""
    while True:
        try:
            done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 1
        if not done:
            return None
        code = os.waitstatus_to_exitcode(status)
        return code if code >= 0 else 128 - code


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def monitor_command(path: str, command: str, timeout: float = 5.0) -> str:
    """Send one command to QEMU's human monitor on the Unix socket ``path``
    and return its answer (the text before the next prompt)."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX) as s:
        while True:
            try:
                s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        s.settimeout(max(0.1, deadline - time.monotonic()))
        data = b""
        while b"(qemu) " not in data:  # the greeting and the first prompt
            chunk = s.recv(4096)
            if not chunk:
                return ""
            data += chunk
        s.sendall(command.encode() + b"\n")
        data = b""
        try:
            while b"(qemu) " not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", data.decode(errors="replace")).replace("\r", "")
    lines = [line for line in text.split("\n") if not line.startswith("(qemu)") and line.strip() != command]
    return "\n".join(lines).strip()


def _monitor_command(path: str, command: str) -> str:
    try:
        return monitor_command(path, command)
    except OSError:
        return ""


def _held(control: str) -> bool:
    """The guest is stopped (held at its start, at a breakpoint) and nothing
    will resume it: QEMU's monitor says ``paused``."""
    return "paused" in _monitor_command(control, "info status")


def _is_image(path: str) -> bool:
    from hermitcore.image import read_image

    try:
        read_image(path)
        return True
    except HermitError:
        return False
