"""The `hermitcore` command."""

from __future__ import annotations

import argparse
import os
import re
import sys

from hermitcore import __version__
from hermitcore.errors import HermitError

DEFAULT_BOARD = "qemu-microvm"

EPILOG = """\
environment:
  HERMIT_CPUS      default for --cpus
  HERMIT_MEM       default for --mem (e.g. 256M, 1G; a bare number is MiB)
  HERMIT_KVM=0     never use KVM with --accel auto
  HERMIT_BOARD     default board (otherwise qemu-microvm)
  HERMIT_BOARD_PATH  extra directories holding board folders (':'-separated)
  HERMIT_CACHE_DIR where composed images are cached (default ~/.cache/hermitcore)
  HERMIT_NET       default for --net;  HERMIT_CAPTURE_NET  default for --capture
  HERMIT_IP, HERMIT_GATEWAY, HERMIT_MASK  defaults for --ip, --gateway, --mask
  HERMIT_VERBOSE=1 as run -v: the kernel log on stderr
  HERMIT_DEBUG=1   as run --gdb (port 1234);  HERMIT_MONITOR=1  as run --monitor
  HERMIT_PORT      the monitor on TCP 127.0.0.1:HERMIT_PORT+1 instead of a Unix socket
  HERMIT_GDB       the gdb `hermitcore gdb` runs (default gdb-multiarch)

standard streams of `run`: the program's stdin, stdout and stderr are this
command's, byte for byte (a terminal stays one: raw here, the guest runs the
line discipline). The kernel's log is not shown, except warnings, faults and
panics, on stderr as "hermitcore: ..."; -v shows it on stderr, --kernel-log
FILE saves it.

exit status of `run`: the guest's own exit status (0-255); 134 when the guest
kernel panics; 139 when it dies of a CPU exception; 127 when the kernel
refuses to start a malformed Linux program; 124 when --timeout expires;
125 when QEMU fails; 1 for other errors (unknown board, bad input, missing
tools). With --selftest: the number of failed self-tests.

signals to `run`: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
go to the program (pid 1 in the guest), which may handle them (a graceful
shutdown); their default action ends it with 128 + the signal. If it has
not ended --stop-timeout seconds (default 10) after the first, or at a
second SIGINT, the guest is stopped and `run` exits with 128 + the first
signal, as `docker stop` does. SIGCONT goes to the program too (it resumes
a stopped pid 1) and starts no stop timeout.
"""


MAX_CPUS = 64  # the kernel brings up at most this many (BOOT_MAX_CPUS)
MAX_MEM_MIB = 1 << 20  # 1 TiB


def parse_mem(text: str) -> int:
    """'512', '512M', '1G', '2048K' -> MiB (1 MiB to 1 TiB)."""
    m = re.fullmatch(r"\s*(\d{1,16})\s*([KkMmGgTt]i?[Bb]?)?\s*", text)
    if not m:
        raise HermitError(f"invalid memory size '{text}' (examples: 256M, 1G, 512)")
    value, unit = int(m.group(1)), (m.group(2) or "M")[0].upper()
    mib = {"K": value / 1024, "M": value, "G": value * 1024, "T": value << 20}[unit]
    if mib < 1 or mib != int(mib):
        raise HermitError(f"invalid memory size '{text}': must be a whole number of MiB, at least 1M")
    if mib > MAX_MEM_MIB:
        raise HermitError(f"invalid memory size '{text}': at most 1T")
    return int(mib)


def _positive_int(text: str) -> int:
    if not re.fullmatch(r"\s*\d{1,9}\s*", text):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _cpus(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_CPUS:
        raise argparse.ArgumentTypeError(f"at most {MAX_CPUS} (the kernel starts no more)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (0 < value < 1e9):  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _kernel_option(text: str) -> str:
    """One word of the kernel's command line: the guest splits it at
    whitespace and takes ``--`` as the start of the program's arguments."""
    if not text or text == "--" or re.search(r'[\s"\\]', text) or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{text!r}: a kernel option is one word without spaces, quotes or "
                                         "backslashes (e.g. hermit.boot-times)")
    return text


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` just that subcommand (same
    options, usage and errors): `run` builds only its own, ~5 ms less on
    every run."""
    p = argparse.ArgumentParser(
        prog="hermitcore",
        description="Compose bootable unikernel images for x86_64 and aarch64 from plugins and run them in QEMU.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-V", "--version", action="version", version=f"hermitcore {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    if only is None:
        _other_commands(sub)
    if only in (None, "run"):
        _run_command(sub)
    if only in (None, "gdb"):
        _run_command(sub, "gdb")
    return p


def _other_commands(sub) -> None:
    b = sub.add_parser("boards", help="list boards, or show one: boards show NAME")
    b.add_argument("action", nargs="?", choices=["show"], help="show one board in detail")
    b.add_argument("name", nargs="?", help="board name (with 'show')")

    sub.add_parser("plugins", help="list plugins, their distribution, version and hooks")

    c = sub.add_parser("compose", help="compose a bootable kernel image")
    c.add_argument("app", nargs="?", help="application: a Linux executable (static or dynamic), or a C source file with main() (default: built-in hello)")
    c.add_argument("--board", default=os.environ.get("HERMIT_BOARD", DEFAULT_BOARD), help=f"board name or folder (default {DEFAULT_BOARD})")
    c.add_argument("-o", "--output", help="where to write the image (default: <board>-<app>.elf)")
    c.add_argument("--selftest", action="store_true", help="compose the in-guest kernel self-test image instead of an app")
    c.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                   help="the program's environment as `run` will give it, repeatable: compose reads LD_LIBRARY_PATH "
                        "and LD_PRELOAD from it to find a dynamic program's libraries (the image does not keep it; "
                        "it notes where LD_PRELOAD's files were packed, e.g. /tmp/x -> /host/tmp/x, for run)")
    _file_options(c)
    c.add_argument("-v", "--verbose", action="store_true",
                   help="show the memory layout, each plugin's contribution and what was packed into the program's files")


    k = sub.add_parser(
        "pkg", help="package a program (composed for one or more boards) or composed images as an OCI image",
        description="Write an OCI image (a layout directory, or an archive when OUTPUT ends in .tar) that "
                    "`ctr images import`, `podman load` and `skopeo copy oci-archive:` read and the "
                    "hermitcore-runtime OCI runtime boots. Arguments after -- become the image's default "
                    "arguments (its Cmd).")
    k.add_argument("app", nargs="+", metavar="APP|IMAGE",
                   help="a Linux executable to compose for each --board (or one per --board, in order), or composed "
                        "images (one per architecture)")
    k.add_argument("--board", action="append", default=[],
                   help="compose APP for this board, repeatable: boards of both architectures give one "
                        f"multi-platform image (default {DEFAULT_BOARD})")
    k.add_argument("-o", "--output", required=True, help="image layout directory, or archive (*.tar)")
    k.add_argument("--name", help="the image's reference (default: the program's name, e.g. hello -> "
                                  "docker.io/library/hello:latest)")
    k.add_argument("--cpus", type=_cpus, help="virtual CPUs the runtime gives it when the container sets no limit")
    k.add_argument("--mem", help="guest memory when the container sets no limit (e.g. 256M)")
    k.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                   help="the program's environment (the image config's Env), repeatable")
    k.add_argument("--expose", action="append", default=[], metavar="PORT[/udp]",
                   help="a port the program listens on (the image config's ExposedPorts), repeatable")
    _file_options(k)


def _run_command(sub, name: str = "run") -> None:
    """`run`, or `gdb` (the same options, and gdb's own)."""
    r = sub.add_parser(name, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, **(
        dict(help="boot an image (composing it first if given a board) and return the guest's exit status",
             description="Boot IMAGE, or compose and boot --board [APP]. Arguments after -- go to the application.")
        if name == "run" else
        dict(help="compose if needed, boot held in QEMU's gdb stub and run gdb-multiarch connected to it",
             description="Compose IMAGE or APP if needed, start the guest held before its first instruction with "
                         "QEMU's gdb stub on a free port, and run gdb-multiarch connected to it with the kernel's and "
                         "the program's symbols and a breakpoint on the program's main. The program's stdin is "
                         "/dev/null (the terminal is gdb's); its stdout and stderr are this command's. Exit status: "
                         "the run's (the program's), 137 when gdb killed the guest or left it stopped. Run options "
                         "are those of `run`. Arguments after -- go to the application. See docs/debugging.md.")))
    if name == "gdb":
        g = r.add_argument_group("gdb")
        g.add_argument("--ex", action="append", default=[], metavar="COMMAND",
                       help="a gdb command to run once connected (and the breakpoint on main set), repeatable: "
                            "--ex continue --ex bt")
        g.add_argument("--batch", action="store_true",
                       help="gdb -batch: run the --ex commands and exit (gdb then detaches: the guest runs on to "
                            "its end)")
        g.add_argument("--no-main", action="store_true", help="set no breakpoint on main")
    r.add_argument("image", nargs="?", help="a composed image, or an application (Linux executable or C file) to compose with --board")
    r.add_argument("--board", help=f"compose for this board first (default when no IMAGE: {DEFAULT_BOARD})")
    r.add_argument("--cpus", type=_cpus, default=None, help=f"virtual CPUs, 1 to {MAX_CPUS} (env HERMIT_CPUS, default 1)")
    r.add_argument("--mem", default=None, help="guest memory, e.g. 256M or 1G, at most 1T (env HERMIT_MEM, default: the board's)")
    r.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto", help="KVM, TCG, or KVM when usable and not PVM (default auto)")
    r.add_argument("--timeout", type=_seconds, default=None, help="stop the guest and fail after this many seconds (more than 0)")
    r.add_argument("--stop-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="after passing a signal (SIGTERM, SIGINT...) to the program, stop the guest if it has not "
                        "ended within this many seconds (default 10, as docker stop)")
    r.add_argument("--selftest", action="store_true", help="compose and run the in-guest kernel self-tests for --board")
    r.add_argument("-k", "--kernel-arg", action="append", default=[], metavar="OPTION", type=_kernel_option,
                   help="kernel option, repeatable (hermit.boot-times: print boot stage times and every boot step's duration at exit; "
                        "hermit.stack-usage: print thread 1's deepest stack use at exit; "
                        "hermit.timeslice=US: scheduler time slice, default 10000)")
    r.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment variable for the program, repeatable (composing a dynamic program, its "
                        "LD_LIBRARY_PATH and LD_PRELOAD also say where its libraries are; the guest's LD_PRELOAD "
                        "names them where they were packed, e.g. /tmp/x -> /host/tmp/x)")
    _file_options(r)
    n = r.add_argument_group("network (boards with a network card)")
    n.add_argument("--net", default=None, metavar="BACKEND",
                   help="user (default: QEMU user networking, no root needed), tap:NAME (an existing tap device) "
                        "or none (no network card)")
    n.add_argument("-p", "--port", action="append", default=[], metavar="HOST:GUEST[/udp]",
                   help="forward host port HOST (on 127.0.0.1) to the guest's port GUEST, TCP unless /udp; "
                        "repeatable (--net user)")
    n.add_argument("--ip", default=None, help="the guest's IPv4 address (default: DHCP)")
    n.add_argument("--gateway", default=None, help="the default gateway (with --ip)")
    n.add_argument("--mask", default=None, help="the netmask (with --ip; default 255.255.255.0)")
    n.add_argument("--mac", default=None, help="the network card's MAC address (default 52:54:00:12:34:56)")
    n.add_argument("--mtu", type=int, default=None,
                   help="the network card's MTU, 576 to 1500 (default 1500; smaller for an overlay network)")
    n.add_argument("--capture", default=None, metavar="FILE.pcap", help="write the guest's network traffic to a pcap file")
    n.add_argument("--dns", action="append", default=[], metavar="ADDR",
                   help="a DNS server for the guest's /etc/resolv.conf, repeatable (at most 3; default with --net user: "
                        "QEMU's 10.0.2.3; with --net tap and no --ip: the DHCP server's; env HERMIT_DNS, "
                        "comma-separated)")
    r.add_argument("--mount", action="append", default=[], metavar="HOSTDIR:/GUEST/PATH[:ro]",
                   help="let the program read and write HOSTDIR at /GUEST/PATH (virtio-9p; :ro read only), "
                        "repeatable")
    r.add_argument("--cwd", metavar="DIR", help="the program's working directory (made if missing; default /)")
    r.add_argument("--read-only", action="store_true",
                   help="keep the image's file tree read-only (default: writable, changes kept in guest memory "
                        "and lost at exit)")
    r.add_argument("--tmpfs-size", metavar="SIZE",
                   help="bound each of /tmp, /run and /dev/shm to SIZE (e.g. 64M; default: half the guest's memory)")
    r.add_argument("--name", metavar="NAME",
                   help="the guest's name: QEMU's -name, so `ps` and the monitor's `info name` show it "
                        "(hermitcore-runtime names each container's guest by its id)")
    r.add_argument("--strace", action="store_true", help="print every system call the program makes (on stderr)")
    r.add_argument("--print-qemu", action="store_true", help="print the QEMU command line instead of running it")
    r.add_argument("--kernel-log", metavar="FILE", help="save the kernel's log (banner, [hermit] lines) to FILE")
    r.add_argument("--core", metavar="FILE",
                   help="when the program dies of SIGSEGV, SIGABRT, SIGBUS... write its ELF core file to FILE "
                        "(`gdb PROG FILE`); default: ./core when `ulimit -c` allows core files")
    r.add_argument("--profile", metavar="FILE",
                   help="sample the program (and the kernel under it) 997 times a second on every CPU and write "
                        "folded stacks to FILE (flamegraph.pl, speedscope); the hottest functions go to stderr")
    r.add_argument("-v", "--verbose", action="store_true",
                   help="show the kernel log, the QEMU command line, QEMU's messages and why it stopped (QMP) on stderr "
                        "(env HERMIT_VERBOSE=1)")
    d = r.add_argument_group("debugging (docs/debugging.md)")
    d.add_argument("--gdb", nargs="?", const=0, default=None, type=_port, metavar="PORT",
                   help=("QEMU's gdb stub on 127.0.0.1:PORT (default 1234; env HERMIT_DEBUG=1), the guest held "
                         "before its first instruction; prints on stderr the gdb-multiarch command line that attaches "
                         "with the kernel's and the program's symbols. Nothing stops a debugged guest on a clock of "
                         "its own: --timeout only when given (it counts the time stopped in gdb too), no "
                         "--stop-timeout after a signal unless given") if name == "run" else
                        "the gdb stub's port (default: a free one)")
    d.add_argument("--monitor", action="store_true",
                   help="QEMU's human monitor on a Unix socket in the run directory (on TCP 127.0.0.1:HERMIT_PORT+1 "
                        "when HERMIT_PORT is set; env HERMIT_MONITOR=1); prints on stderr how to connect (socat)")


def _name(text: str | None) -> str:
    if text is None:
        return ""
    if not text or len(text) > 256 or not text.isprintable():
        raise HermitError(f"--name {text!r}: expected 1 to 256 printable characters")
    return text


def _port(text: str) -> int:
    if not re.fullmatch(r"\d{1,5}", text) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1 to 65535): {text!r}")
    return int(text)


def _file_options(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--files", metavar="DIR", help="embed DIR as the program's file tree (/; writable at run time, in guest memory)")
    g.add_argument("--initrd", metavar="CPIO", help="embed a cpio (newc) archive, optionally gzipped, as the file tree")
    p.add_argument("--add", action="append", default=[], metavar="HOSTPATH[:GUESTPATH]",
                   help="copy a host file or directory tree into the program's file tree at GUESTPATH (default: the "
                        "same path; a path inside --sysroot: its path there), symlinks kept, repeatable; the ELF "
                        "libraries and programs in it bring the libraries they need (e.g. --add /usr/lib/python3.11)")
    p.add_argument("--sysroot", metavar="DIR",
                   help="find a dynamic program's interpreter and libraries in DIR, which is the guest's / (default: "
                        "/ for the host's own architecture, /usr/aarch64-linux-gnu for aarch64 on x86_64; also a "
                        "tree of packages unpacked with dpkg-deb -x)")


def cmd_boards(args) -> int:
    from hermitcore.board import available_boards, load_board

    if args.action is None:
        if args.name:
            raise HermitError("usage: hermitcore boards [show NAME]")
        rows = []
        for name in available_boards():
            board = load_board(name)
            rows.append((name, board.arch, board.description))
        width = max(len(r[0]) for r in rows)
        for name, arch, desc in rows:
            print(f"{name:<{width}}  {arch:<8} {desc}")
        return 0
    if not args.name:
        raise HermitError("usage: hermitcore boards show NAME")
    from hermitcore.plugins import claim_devices, make_plugin_manager, select

    board = load_board(args.name)
    pm = make_plugin_manager()
    sel = select(pm, board)
    arch = sel.arch
    claimed, unclaimed = claim_devices(sel)
    owner = {c.device.path: c for c in claimed}
    numbered = {c.device.path: c.device for c in claimed} | {d.path: d for d in unclaimed}  # interrupts as numbers
    print(f"board    {board.name}: {board.description}")
    print(f"arch     {board.arch} (plugin: {sel.arch_plugin_name})")
    print(f"qemu     {arch.qemu_binary} -machine {board.qemu.machine} -cpu {board.qemu.cpu}")
    for r in board.memory:
        print(f"memory   {r.base:#x}, {r.size >> 20} MiB by default (the VMM's size is read at boot)")
    print(f"cpus     {board.cpus} by default (the VMM's count is read at boot)")
    print(f"devices  {len(board.devices)} ({len(claimed)} claimed, {len(unclaimed)} unclaimed)")
    for dev in board.devices:
        regs = " ".join(f"{'port ' if r.space == 'io' else ''}{r.address:#x}+{r.size:#x}" for r in dev.regs)
        numbers = numbered[dev.path].interrupts
        irqs = (" irq " + ",".join(map(str, numbers))) if numbers else ""
        c = owner.get(dev.path)
        by = f"-> {c.claim.plugin} ({c.claim.driver}, {c.claim.role})" if c else "-> unclaimed"
        print(f"  {dev.path:<34} {dev.describe():<38} {regs}{irqs}  {by}")
    return 0


def cmd_plugins(args) -> int:
    from hermitcore.plugins import describe_plugins, make_plugin_manager

    pm = make_plugin_manager()
    for info in describe_plugins(pm):
        hooks = ", ".join(h.removeprefix("hermitcore_") for h in info.hooks)
        print(f"{info.name:<16} {info.distribution} {info.version:<8} {info.module}")
        print(f"{'':<16} hooks: {hooks}")
    return 0


def _progress(message: str) -> None:
    print(f"hermitcore: {message}", file=sys.stderr, flush=True)


def cmd_compose(args) -> int:
    from hermitcore.compose import compose

    if args.selftest and args.app:
        raise HermitError("--selftest composes the built-in self-test image; do not also give an APP")
    _check_env(args.env)
    result = compose(args.board, args.app, progress=_progress, builtin="selftest" if args.selftest else "hello",
                     files=args.files, initrd=args.initrd, sysroot=args.sysroot, env=args.env, adds=args.add)
    spec = result.spec
    if args.env and not spec.program:
        raise HermitError("--env is for Linux executables; a C application has no environment")
    out = args.output or f"{spec.board.name}-{spec.app_name}.elf"
    import shutil

    try:
        if not _copied_before(result.build.image, out):
            shutil.copyfile(result.build.image, out)
            st = os.stat(result.build.image)
            os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))  # what tells the next compose it is this image
    except OSError as exc:  # no such directory, a directory, read-only, the image itself
        raise HermitError(f"cannot write the image to {out}: {exc.strerror or exc}") from None
    size = result.build.size
    print(
        f"{out}: {spec.arch.name} image for {spec.board.name}, {size / 1024:.1f} KiB, "
        f"app {spec.app_name}, plugins: {', '.join(spec.plugins)}, "
        f"{result.seconds:.2f} s{' (cached)' if result.build.cached else ''}"
    )
    if args.verbose:
        from hermitcore.image import read_image

        info = read_image(out)
        print(f"  entry {info.entry:#x}, {info.load_size / 1024:.1f} KiB in memory")
        for phase, plugin, frag in spec.fragments:
            for line in frag.summary:
                print(f"  [{phase}/{plugin}] {line}")
        for dev in result.unclaimed:
            print(f"  unclaimed: {dev.path} ({dev.describe()})")
        for line in packed_lines(spec.packed, spec.kept):
            print(f"  {line}")
    return 0


def cmd_pkg(args, app_args) -> int:
    from hermitcore.oci import package

    _check_env(args.env)
    if args.mem:
        parse_mem(args.mem)
    images = [a for a in args.app if os.path.isfile(a) and _has_meta(a)]
    if images and (len(images) != len(args.app) or args.board or args.files or args.initrd or args.add
                   or args.sysroot):
        raise HermitError("give either composed images, or one program with --board (and file options)")
    if not images:
        boards = args.board or [os.environ.get("HERMIT_BOARD", DEFAULT_BOARD)]
        if len(args.app) not in (1, len(boards)):
            raise HermitError("give one program for every --board (or one for all of them), or composed images")
        from hermitcore.compose import compose
        from hermitcore.plugins import make_plugin_manager

        pm = make_plugin_manager()
        for i, board in enumerate(boards):
            app = args.app[i if len(args.app) > 1 else 0]
            result = compose(board, app, pm=pm, progress=_progress, files=args.files,
                             initrd=args.initrd, sysroot=args.sysroot, env=args.env, adds=args.add)
            if not result.spec.program:
                raise HermitError(f"{app}: an OCI image needs a Linux executable, not a C source file")
            images.append(str(result.build.image))
    from hermitcore.image import read_image

    name = args.name or re.sub(r"[^a-z0-9._-]", "-", str(read_image(images[0]).meta.get("app", "app")).lower())
    top = package(images, args.output, name=name, args=app_args, env=args.env, ports=args.expose,
                  cpus=args.cpus, mem=f"{parse_mem(args.mem)}M" if args.mem else None)
    from hermitcore.oci import OCI_ARCH

    arches = ", ".join(f"linux/{OCI_ARCH.get(read_image(i).arch)}" for i in images)
    kind = "archive" if args.output.endswith(".tar") else "layout"
    print(f"{args.output}: OCI image {kind}, {top['annotations']['io.containerd.image.name']} ({arches}), "
          f"{top['digest']}")
    return 0


def _copied_before(image, out: str) -> bool:
    """``out`` is the copy of the cached ``image`` (which never changes) that
    an earlier compose made: same size and the same mtime to the
    nanosecond, as that compose left it. An image with Python's library in
    it is 80 MiB: a warm compose does not copy it again."""
    try:
        a, b = os.stat(image), os.stat(out)
    except OSError:
        return False
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns and a.st_mtime_ns % 1_000_000_000 != 0


SUMMARISE_AT = 8  # an --add tree with more entries than this is one line in compose -v


def packed_lines(packed, kept=()) -> list[str]:
    """compose -v: one line per file or symlink packed into the program's
    tree and why; a large --add tree as one line with its size."""
    groups: dict[str, list] = {}
    for e in packed:
        if e.group is not None:
            groups.setdefault(e.group, []).append(e)
    lines, summarised = [], set()
    for e in packed:
        group = groups.get(e.group, ())
        if len(group) > SUMMARISE_AT:
            if e.group not in summarised:
                summarised.add(e.group)
                own = [x for x in group if x.why == f"--add {e.group}" and not x.is_dir] or group
                files = [x for x in group if x.is_file]
                top = os.path.commonpath([x.guest for x in own]) if len(own) > 1 else own[0].guest
                links = sum(x.is_symlink for x in group)
                lines.append(f"packed {top}: {len(files)} files, {sum(x.size for x in files) / (1 << 20):.1f} MiB"
                             f"{f', {links} symlinks' if links else ''} (--add {e.group})")
            continue
        if not e.is_dir:
            lines.append(f"packed {e.guest}{f' -> {e.source}' if e.is_symlink else ''} ({e.why})")
    for e in kept:
        if not e.is_dir:
            lines.append(f"kept the tree's own {e.guest} (gathered: {e.why})")
    return lines


def _check_env(env: list[str]) -> None:
    for kv in env:
        if "=" not in kv or kv.startswith("="):
            raise HermitError(f"--env {kv!r}: expected KEY=VALUE")


def cmd_run(args, app_args, debug=None) -> int:
    """`run`; ``debug``: a debug.Debug made by `hermitcore gdb` (else from
    --gdb/--monitor and their environment variables)."""
    from hermitcore.image import read_image
    from hermitcore.run import quote_arg, run_image

    image, pm, program = _compose_if_needed(args)
    info = read_image(image)  # clear error for a non-image
    if debug is None:
        debug = _debug_options(args, program)
    kernel_args = list(args.kernel_arg)
    env = args.env
    if info.meta.get("preload"):  # LD_PRELOAD's files where compose packed them (/tmp/x -> /host/tmp/x)
        from hermitcore.dynlink import preload_env

        env = preload_env(env, info.meta["preload"])
    for kv in env:
        kernel_args.append(quote_arg(f"hermit.env={kv}"))
    if (args.env or args.strace) and not info.meta.get("program"):
        raise HermitError("--env and --strace are for Linux executables; this image runs a built-in C application")
    if (args.read_only or args.tmpfs_size) and not info.meta.get("program"):
        raise HermitError("--read-only and --tmpfs-size are for Linux executables; this image runs a built-in C "
                          "application")
    if args.strace and info.meta.get("program"):
        kernel_args.append("hermit.strace")
    if args.read_only:
        kernel_args.append("hermit.ro=1")
    if args.cwd is not None:
        if not info.meta.get("program"):
            raise HermitError("--cwd is for Linux executables; this image runs a built-in C application")
        if not args.cwd.startswith("/") or len(args.cwd) > 255:
            raise HermitError(f"--cwd {args.cwd!r}: expected an absolute guest path (under 256 characters)")
        kernel_args.append(quote_arg(f"hermit.cwd={args.cwd}"))
    if args.tmpfs_size:
        kernel_args.append(f"hermit.tmpfs_size={parse_mem(args.tmpfs_size) * 1024 * 1024}")
    verbose = args.verbose or os.environ.get("HERMIT_VERBOSE", "").strip() not in ("", "0")
    if not (verbose or args.kernel_log or args.print_qemu) and "hermit.quiet" not in kernel_args:
        kernel_args.append("hermit.quiet")  # nothing would show the kernel's informational lines: not written

    net, ports, capture, ip = _network_options(args, kernel_args)
    dns = args.dns or [a for a in os.environ.get("HERMIT_DNS", "").replace(",", " ").split()]
    for a in dns:
        if not _IPV4.fullmatch(a):
            raise HermitError(f"--dns {a!r}: expected an IPv4 address like 10.0.2.3")
    if len(dns) > 3:
        raise HermitError("--dns: at most 3 servers (what resolv.conf's resolvers read)")
    if info.meta.get("network") and net != "none" and (dns or net == "user"):
        kernel_args.append(f"hermit.dns={','.join(dns or ['10.0.2.3'])}")  # QEMU user networking's own resolver
    elif info.meta.get("network") and info.meta.get("program") and net.startswith("tap:") and not ip:
        kernel_args.append("hermit.dns=dhcp")  # the tap network's DHCP server's, asked before the program starts
    cpus = args.cpus or _env_cpus()
    mem = parse_mem(args.mem) if args.mem else (parse_mem(os.environ["HERMIT_MEM"]) if os.environ.get("HERMIT_MEM") else None)
    kernel_log = None
    if args.kernel_log and not args.print_qemu:
        try:
            kernel_log = open(args.kernel_log, "wb")
        except OSError as exc:
            raise HermitError(f"--kernel-log {args.kernel_log}: {exc.strerror or exc}") from None
    try:
        result = run_image(
            pm, image, cpus=cpus, mem_mib=mem, accel=args.accel, timeout=args.timeout,
            # a debugged guest may be stopped in gdb for as long as it takes: no grace period unless given
            stop_timeout=float("inf") if args.stop_timeout is None and debug and debug.gdb_port else args.stop_timeout,
            app_args=app_args, kernel_args=kernel_args, verbose=verbose, print_qemu=args.print_qemu,
            net=net, ports=ports, capture=capture, ip=ip, mounts=_mount_options(args.mount, info), info=info,
            mac=_mac(args.mac), mtu=_mtu(args.mtu), name=_name(args.name),
            kernel_log=kernel_log, core=_core_file(args, info), profile=_profile_file(args, info),
            debug=debug,
        )
    finally:
        if kernel_log is not None:
            kernel_log.close()
    if args.selftest and result.fatal is None:
        verdict = "passed" if result.status == 0 else f"{result.status} failed"
        print(f"hermitcore: self-tests {verdict}", file=sys.stderr)
    return result.status


def _debug_options(args, program: str | None):
    """--gdb[=PORT] (HERMIT_DEBUG=1) and --monitor (HERMIT_MONITOR=1): a
    debug.Debug, or None."""
    if args.gdb is None and not args.monitor and not any(
            os.environ.get(v, "").strip() not in ("", "0") for v in ("HERMIT_DEBUG", "HERMIT_MONITOR")):
        return None
    from hermitcore.debug import Debug, gdb_port_from, monitor_from_env

    debug = Debug(gdb_port=gdb_port_from(args.gdb), monitor=monitor_from_env(args.monitor), program=program)
    return debug if debug.gdb_port is not None or debug.monitor is not None else None


def cmd_gdb(args, app_args) -> int:
    """`hermitcore gdb`: hermitcore/debug.py run_gdb, with `run`'s compose
    step and `run` itself (in the forked child that holds the guest)."""
    from hermitcore.debug import run_gdb

    if args.print_qemu:
        raise HermitError("--print-qemu: use `hermitcore run --gdb --print-qemu` (`gdb` starts the guest itself)")

    def compose_image(args) -> str:
        return _compose_if_needed(args)[0]

    def run_child(args, image, debug) -> int:
        import copy

        child = copy.copy(args)
        child.image, child.board, child.selftest = image, None, False
        child.files = child.initrd = child.sysroot = None
        child.add = []
        if child.stop_timeout is None:  # our signals come after gdb has gone: the usual grace
            from hermitcore.launch import STOP_TIMEOUT_S

            child.stop_timeout = STOP_TIMEOUT_S
        return cmd_run(child, app_args, debug=debug)

    return run_gdb(args, compose_image, run_child)


def _compose_if_needed(args):
    """(image, plugin manager or None, the program's host path or None):
    ``args.image`` if it is an image, else what compose makes of it."""
    pm = None  # made only when something needs the plugins (compose, or a run with no run plan yet)
    image = args.image
    is_image = False
    if args.selftest:
        if image:
            raise HermitError("--selftest composes the built-in self-test image; give --board, not an IMAGE")
    elif image and not args.board:
        is_image = True
    elif image and os.path.isfile(image):
        with open(image, "rb") as f:
            is_image = f.read(4) == b"\x7fELF" and _has_meta(image)
    _check_env(args.env)
    if not is_image:
        from hermitcore.compose import compose
        from hermitcore.plugins import make_plugin_manager

        pm = make_plugin_manager()
        result = compose(args.board or os.environ.get("HERMIT_BOARD", DEFAULT_BOARD), image, pm=pm,
                         progress=_progress if args.verbose else None,
                         builtin="selftest" if args.selftest else "hello", files=args.files, initrd=args.initrd,
                         sysroot=args.sysroot, env=args.env, adds=args.add)
        image = str(result.build.image)
    elif not os.path.isfile(image):
        raise HermitError(f"image '{image}' not found")
    elif args.files or args.initrd or args.add or args.sysroot:
        raise HermitError("--files/--initrd/--add/--sysroot are embedded at compose time; give the program and "
                          "--board, not an image")
    return image, pm, (args.image if not is_image and not args.selftest else None)


_IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}")


def _network_options(args, kernel_args: list[str]):
    """--net/--port/--capture and --ip/--gateway/--mask (or HERMIT_*), checked."""
    net = args.net or os.environ.get("HERMIT_NET", "").strip() or "user"
    if not (net in ("user", "none") or (net.startswith("tap:") and re.fullmatch(r"[\w.-]{1,15}", net[4:]))):
        raise HermitError(f"--net {net!r}: expected user, none or tap:NAME")
    forwarded = set()
    for spec in args.port:
        m = re.fullmatch(r"(\d{1,5}):(\d{1,5})(/(tcp|udp))?", spec)
        if not m or not all(1 <= int(m.group(i)) <= 65535 for i in (1, 2)):
            raise HermitError(f"--port {spec!r}: expected HOST:GUEST or HOST:GUEST/udp with ports 1-65535")
        host = (int(m.group(1)), m.group(4) or "tcp")
        if host in forwarded:
            raise HermitError(f"--port {spec!r}: host port {host[0]}/{host[1]} is already forwarded")
        forwarded.add(host)
    if args.port and net != "user":
        raise HermitError("--port forwards through QEMU user networking: use it with --net user")
    ip = ""
    for opt, env in (("ip", "HERMIT_IP"), ("gateway", "HERMIT_GATEWAY"), ("mask", "HERMIT_MASK")):
        value = getattr(args, opt) or os.environ.get(env, "").strip()
        if not value:
            continue
        if not _IPV4.fullmatch(value):
            raise HermitError(f"--{opt} {value!r}: expected an IPv4 address like 10.0.2.15")
        kernel_args.append(f"hermit.{opt}={value}")
        ip = value if opt == "ip" else ip
    capture = args.capture or os.environ.get("HERMIT_CAPTURE_NET", "").strip() or None
    if capture and (os.path.isdir(capture) or not os.path.isdir(os.path.dirname(os.path.abspath(capture)))
                    or "," in capture):
        raise HermitError(f"--capture {capture!r}: expected a file (no commas in its path) in an existing directory")
    return net, tuple(args.port), capture, ip


def _mtu(value: int | None) -> int:
    if value is None:
        return 0
    if not 576 <= value <= 1500:
        raise HermitError(f"--mtu {value}: expected 576 to 1500 (the card's buffers hold Ethernet's 1500)")
    return value


def _mac(text: str | None) -> str:
    if not text:
        return ""
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", text) or int(text[:2], 16) & 1:
        raise HermitError(f"--mac {text!r}: expected a unicast MAC address like 52:54:00:12:34:57")
    return text.lower()


def _core_file(args, info) -> str | None:
    """Where a core dump goes: --core FILE, or ./core when the host's
    RLIMIT_CORE (`ulimit -c`) is not 0, as Linux's default core_pattern;
    None: no core. Only Linux programs have them."""
    if not info.meta.get("program") or args.print_qemu:
        if args.core:
            raise HermitError("--core is for Linux executables; this image runs a built-in C application")
        return None
    if args.core:
        path = os.path.abspath(args.core)
        if not os.path.isdir(os.path.dirname(path)):
            raise HermitError(f"--core {args.core}: no such directory {os.path.dirname(path)}")
        return path
    import resource

    return os.path.abspath("core") if resource.getrlimit(resource.RLIMIT_CORE)[0] != 0 else None


def _profile_file(args, info) -> str | None:
    if not args.profile or args.print_qemu:
        return None
    if not info.meta.get("program"):
        raise HermitError("--profile is for Linux executables; this image runs a built-in C application")
    path = os.path.abspath(args.profile)
    if not os.path.isdir(os.path.dirname(path)):
        raise HermitError(f"--profile {args.profile}: no such directory {os.path.dirname(path)}")
    return path


def _mount_options(specs: list[str], info) -> tuple[str, ...]:
    """--mount HOSTDIR:/guest/path, checked; host paths made absolute."""
    out = []
    for spec in specs:
        ro = spec.endswith(":ro")
        host, sep, guest = (spec[:-3] if ro else spec).rpartition(":")
        if not sep or not host or not guest.startswith("/") or guest.rstrip("/") == "":
            raise HermitError(f"--mount {spec!r}: expected HOSTDIR:/GUEST/PATH (an absolute guest path, not /)")
        if not os.path.isdir(host):
            raise HermitError(f"--mount {spec!r}: {host} is not a directory")
        if len(guest) > 255 or "," in guest:
            raise HermitError(f"--mount {spec!r}: the guest path must be under 256 characters, without commas")
        out.append(f"{os.path.abspath(host).replace(',', ',,')}:{guest}" + (":ro" if ro else ""))
    if out and not info.meta.get("program"):
        raise HermitError("--mount is for Linux executables; this image runs a built-in C application")
    if out and "virtio-9p" not in info.meta.get("plugins", ()):
        raise HermitError(f"--mount needs a virtio-9p device, and board '{info.meta.get('board')}' describes none "
                          "(every built-in board has one)")
    return tuple(out)


def _env_cpus() -> int:
    text = os.environ.get("HERMIT_CPUS", "").strip() or "1"
    if not re.fullmatch(r"\d{1,9}", text) or not 1 <= int(text) <= MAX_CPUS:
        raise HermitError(f"HERMIT_CPUS={text!r}: expected a number of CPUs, 1 to {MAX_CPUS}")
    return int(text)


def _has_meta(path: str) -> bool:
    from hermitcore.image import read_image

    try:
        read_image(path)
        return True
    except HermitError:
        return False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    app_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, app_args = argv[:i], argv[i + 1 :]
    if "--gdb" in argv[1:]:
        argv = _gdb_option_last(argv)
    parser = build_parser(only=argv[0] if argv[:1] in (["run"], ["gdb"]) else None)
    args = parser.parse_args(argv)
    if app_args and args.command not in ("run", "gdb", "pkg"):
        parser.error("arguments after -- are only for `run`, `gdb` and `pkg`")
    try:
        if args.command == "boards":
            return cmd_boards(args)
        if args.command == "plugins":
            return cmd_plugins(args)
        if args.command == "compose":
            return cmd_compose(args)
        if args.command == "run":
            return cmd_run(args, app_args)
        if args.command == "pkg":
            return cmd_pkg(args, app_args)
        if args.command == "gdb":
            return cmd_gdb(args, app_args)
    except HermitError as exc:
        print(f"hermitcore: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): not an error of ours
        sys.stdout = None
        return 0
    return 2


def _gdb_option_last(argv: list[str]) -> list[str]:
    """``--gdb PORT`` as ``--gdb=PORT``, and a bare ``--gdb`` moved to the
    end: its PORT is optional, and argparse would take the IMAGE after it
    for one."""
    out, bare = [], False
    i = 0
    while i < len(argv):
        if argv[i] == "--gdb" and i + 1 < len(argv) and argv[i + 1].isdigit():
            out.append(f"--gdb={argv[i + 1]}")
            i += 2
            continue
        if argv[i] == "--gdb":
            bare = True
        else:
            out.append(argv[i])
        i += 1
    return out + (["--gdb"] if bare else [])


def entry() -> None:
    """The `hermitcore` command: main(), then the exit handlers, then exit
    without the interpreter's module teardown (~5 ms of every run with
    run's modules loaded; nothing of ours needs it)."""
    code = main()
    import atexit

    atexit._run_exitfuncs()  # weakref finalizers (temporary directories) and the like
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # main() drops a stdout that was closed early (`| head`)
                stream.flush()
        except (BrokenPipeError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
