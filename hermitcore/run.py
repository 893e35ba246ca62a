"""Run stage: boot an image in QEMU, stream the guest's console, return the
guest's exit status.

The command line comes from the board and the plugins
(``hermitcore_qemu_args``), never from a table here. It is kept as a run plan
(runplan.py) so the next run of the same image with the same options starts
QEMU without loading a plugin; this module imports the plugin machinery only
when it has to compute one.

QEMU runs as a child process. Its chardevs are sockets whose other ends
launch.py holds: the console (the kernel log) and, on boards with a stream
device, one per standard stream, relayed to and from our own stdin, stdout
and stderr byte for byte. With ``verbose`` the run is watched over QMP
(qemu.qmp) too, so an unexpected end names QEMU's shutdown reason (a triple
fault is a guest reset); qemu.qmp and asyncio cost ~50 ms to import, more
than a whole hello run, so plain runs go without.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

from hermitcore import runplan
from hermitcore.errors import GuestTimeout, HermitError, ImageError, RunError
from hermitcore.image import read_image
from hermitcore.launch import (  # noqa: F401 (re-exported: the CLI, benchmarks and tests use them)
    HOST_ARCH, QEMU_FDS, STOP_TIMEOUT_S, STREAM_CHARDEVS, LaunchResult, decode_exit, end_on_signals, kernel_cmdline,
    kvm_is_pvm,
    kvm_usable, launch, quote_arg, resolve_accel, terminal_args,
)


class RunResult:
    __slots__ = ("status", "fatal", "seconds", "qemu_argv", "planned")

    def __init__(self, status: int, fatal: str | None, seconds: float, qemu_argv: tuple[str, ...], planned=False):
        self.status = status
        self.fatal = fatal  # "panic: ..." / "exception: ..." / "program fault: ..." when the guest died
        self.seconds = seconds
        self.qemu_argv = qemu_argv
        self.planned = planned  # the command line came from a run plan


def plan_command(pm, board, image: str, options, meta=None):
    """(argv, RunContext, declared exit code as a dict or None): the plugins'
    QEMU command line for ``image`` on ``board``."""
    from hermitcore.model import QemuArgs, RunContext
    from hermitcore.plugins import claim_devices, select
    from hermitcore.toolchain import find_tool

    sel = select(pm, board)
    arch = sel.arch
    claimed, _ = claim_devices(sel)
    if meta is None:
        try:
            meta = read_image(image).meta
        except ImageError:
            meta = {}  # a foreign kernel (the benchmarks' QEMU floor, a Linux guest)
    ctx = RunContext(board=board, arch=arch, claimed=claimed, image=image, options=options, meta=meta)
    contributions = [c for _, c in sel.call_serving("hermitcore_qemu_args", claimed, ctx=ctx)]
    binary = next((c.binary for c in contributions if isinstance(c, QemuArgs) and c.binary), None) or arch.qemu_binary
    cpu = next((c.cpu for c in contributions if c.cpu), None) or board.qemu.cpu
    exit_code = next((c.exit_code for c in contributions if c.exit_code), None)
    binary_path = find_tool(binary, arch.qemu_package)
    argv = [
        binary_path,
        "-machine", board.qemu.machine,
        "-cpu", cpu,
        "-accel", options.accel,
        "-m", f"{options.mem_mib}M",
        "-smp", str(options.cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        *_chardevs(options),
        *board.qemu.extra_args,
    ]
    for c in contributions:
        argv.extend(c.args)
    argv += ["-kernel", image]
    if options.append:
        argv += ["-append", options.append]
    return argv, ctx, exit_code.as_dict() if exit_code else None


def _chardevs(options) -> list[str]:
    """Our kernel's chardevs are sockets launch.py holds the other ends of
    (the console; with a stream device, stdin, stdout and stderr); a foreign
    kernel's console is QEMU's stdio."""
    if not options.stdio:
        return ["-chardev", f"stdio,id={options.console_chardev},signal=off"]
    ids = [options.console_chardev] + ([c for c, _ in STREAM_CHARDEVS] if options.stdio == "virtio" else [])
    out = []
    for cid in ids:
        out += ["-chardev", f"socket,id={cid},fd={QEMU_FDS.get(cid, QEMU_FDS['hcon'])}"]
    return out


#: --print-qemu's stand-ins for the sockets launch.py would hold: the kernel
#: log on stderr, the streams on the shell's own stdin, stdout and stderr
#: the profiler's rate (--profile): a prime, so it does not beat with periodic work
PROFILE_HZ = 997

PRINTED_CHARDEVS = {
    "hcon": "file,id=hcon,path=/dev/stderr,append=on",
    "hin": "stdio,id=hin,signal=off",  # read only: the guest never writes its stdin port
    "hout": "file,id=hout,path=/dev/stdout,append=on",
    "herr": "file,id=herr,path=/dev/stderr,append=on",
}


def printable(argv: list[str]) -> list[str]:
    """The command line with chardevs a shell can run it with (no fds)."""
    out = list(argv)
    for i, arg in enumerate(out):
        if i and out[i - 1] == "-chardev" and arg.startswith("socket,id=") and ",fd=" in arg:
            out[i] = PRINTED_CHARDEVS.get(arg.split(",")[1][3:], arg)
    return out


def qemu_command(pm, board, image: str, options, meta=None):
    """(argv, RunContext): the exact command line `hermitcore run` uses."""
    argv, ctx, _ = plan_command(pm, board, image, options, meta)
    return argv, ctx


def board_for_image(image: str):
    from hermitcore.board import load_board

    info = read_image(image)
    meta = info.meta
    try:
        return load_board(meta["board"])
    except HermitError:
        board_dir = meta.get("board_dir")
        if board_dir and os.path.isfile(os.path.join(board_dir, "board.toml")):
            return load_board(board_dir)
        raise ImageError(f"{image} was composed for board '{meta.get('board')}', which is not installed") from None


def run_image(
    pm,
    image: str,
    *,
    cpus: int = 1,
    mem_mib: int | None = None,
    accel: str = "auto",
    timeout: float | None = None,
    stop_timeout: float | None = None,
    app_args: list[str] = (),
    kernel_args: list[str] = (),
    verbose: bool = False,
    print_qemu: bool = False,
    net: str = "user",
    ports: tuple[str, ...] = (),
    capture: str | None = None,
    ip: str = "",
    mounts: tuple[str, ...] = (),
    mac: str = "",
    mtu: int = 0,
    name: str = "",
    out=None,
    err=None,
    info=None,
    kernel_log=None,
    core: str | None = None,
    profile: str | None = None,
    debug=None,
) -> RunResult:
    """Boot ``image`` and return the guest's exit status. ``pm`` may be None:
    the plugin manager is made only if no run plan serves this run. ``info``:
    the image's ``read_image``, if the caller has it. The program's streams
    are our fds 0-2 (``out`` only takes --print-qemu's line); the kernel log
    goes to ``err`` with
    ``verbose`` (warnings always) and whole to ``kernel_log`` (a binary
    file), if given. ``core``: where a core dump of the program goes (the
    kernel is told to send one: hermit.core=1). ``debug``: a debug.Debug
    (--gdb: QEMU's gdb stub, the guest held; --monitor). ``name``: QEMU's
    -name (not part of the run plan)."""
    out = out or sys.stdout.buffer
    err = err or sys.stderr
    info = info or read_image(image)
    image = os.path.abspath(image)
    program = info.meta.get("program")
    if program:
        # A Linux program's wall clock and random seed come from the host.
        now = time.time_ns()
        kernel_args = [
            f"hermit.epoch={now // 1_000_000_000}.{now % 1_000_000_000:09d}",
            f"hermit.seed={os.urandom(16).hex()}",
            *terminal_args(),
            *kernel_args,
        ]
    blobs = None
    if (core or profile) and program:
        from hermitcore.blobs import Blobs

        blobs = Blobs({"core": core} if core else {})
        if core:
            kernel_args = [*kernel_args, "hermit.core=1"]
        if profile:
            blobs.targets["profile"] = profile + ".raw"
            kernel_args = [*kernel_args, f"hermit.profile={PROFILE_HZ}"]
    append = kernel_cmdline(list(app_args), list(kernel_args))
    capture = os.path.abspath(capture) if capture else ""
    resolved = resolve_accel(accel, info.arch)
    stdio = info.meta.get("stdio") or "console"
    request = {"cpus": cpus, "mem_mib": mem_mib, "accel": resolved, "net": net, "ports": list(ports),
               "capture": capture, "ip": ip, "mounts": list(mounts), "stdio": stdio, "mac": mac, "mtu": mtu}
    key = runplan.plan_key(image, request)
    plan = None if print_qemu else runplan.load(key)
    workdir = _print_dir(key) if print_qemu else _make_run_dir()
    try:
        if plan is not None:
            argv = runplan.instantiate(plan, workdir)
            exit_code, hook = plan["exit_code"], None
        else:
            argv, exit_code, hook = _compute(pm, image, info, request, workdir, key)
        if append:
            argv += ["-append", append]
        if debug is not None:  # gdb stub, monitor (debug.py): not part of the plan, as -append
            argv += debug.qemu_args(workdir)
        if name:  # QEMU's option syntax: guest= (a name with "=" in it), a comma written twice
            argv += ["-name", "guest=" + name.replace(",", ",,")]
        if print_qemu:
            # Runnable as printed: the run directory (exit-status file) stays.
            out.write((" ".join(_shell_quote(a) for a in printable(argv)) + "\n").encode())
            out.flush()
            return RunResult(status=0, fatal=None, seconds=0.0, qemu_argv=tuple(argv))
        if debug is not None:
            for line in debug.lines(image, info, workdir):
                err.write(line + "\n")
            err.flush()
        if verbose:
            origin = f"run plan {runplan.plan_file(key)}" if plan is not None else "the plugins"
            err.write(f"hermitcore: QEMU command line from {origin}:\nhermitcore: " + " ".join(argv) + "\n")
            guest_exit = lambda rc: decode_exit(exit_code, rc, workdir) is not None  # noqa: E731
            result, reasons = _launch_watched(argv, image, workdir, timeout, err, guest_exit, stdio, kernel_log,
                                              stop_timeout, blobs, resume=debug is None or debug.gdb_port is None)
        else:
            result, reasons = launch(argv, image, timeout, err, stdio=stdio, log=kernel_log,
                                     stop_timeout=STOP_TIMEOUT_S if stop_timeout is None else stop_timeout,
                                     blobs=blobs), []
        if blobs is not None:
            for name in blobs.close():
                err.write(f"hermitcore: warning: the run ended before the {name} file was complete: {core}\n")
            if "core" in blobs.done:
                err.write(f"hermitcore: core dumped to {core}\n")
            if "profile" in blobs.done:
                from hermitcore.profile import write as write_profile

                try:
                    write_profile(profile + ".raw", image, profile, err)
                except (OSError, ValueError) as exc:
                    err.write(f"hermitcore: warning: the profile could not be read: {exc}\n")
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(profile + ".raw")
        if debug is not None and not result.timed_out and not result.stopped_by and (
                "Terminated via GDBstub" in result.stderr
                or (result.returncode == 0 and decode_exit(exit_code, 0, workdir) is None)):
            err.write(f"hermitcore: the guest was ended from {'gdb' if 'GDBstub' in result.stderr else 'QEMU'}"
                      " (kill, quit): exit status 137\n")
            return RunResult(status=137, fatal=None, seconds=result.seconds, qemu_argv=tuple(argv),
                             planned=plan is not None)
        return _outcome(result, reasons, exit_code, hook, workdir, argv, timeout, verbose, err, planned=plan is not None)
    finally:
        if not print_qemu:
            _remove_run_dir(workdir)


def _make_run_dir() -> str:
    """A private directory for one run (exit-status file, QMP socket), as
    tempfile.mkdtemp makes -- without importing tempfile and shutil (random,
    bz2, lzma, weakref: ~5 ms of every run)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    for _ in range(100):
        path = os.path.join(base, f"hermit-run-{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    raise RunError(f"cannot create a run directory in {base}")


def _print_dir(key) -> str:
    """The run directory a --print-qemu command line names: it must outlive
    this process (the line is runnable as printed), so one per image and
    options under the cache, reused, instead of a new one in /tmp each time."""
    from hermitcore.paths import cache_path

    path = cache_path("printed-runs", key[0] if key else "default")
    os.makedirs(path, exist_ok=True)
    return path


def _remove_run_dir(path: str) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _compute(pm, image, info, request, workdir, key):
    """The plugins' command line for this run (saved as a run plan when the
    exit status is declared as data)."""
    from hermitcore.model import RunOptions
    from hermitcore.plugins import make_plugin_manager

    pm = pm or make_plugin_manager()
    board = board_for_image(image)
    options = RunOptions(
        cpus=request["cpus"], mem_mib=request["mem_mib"] or board.qemu.default_mem_mib, accel=request["accel"],
        workdir=workdir, net=request["net"], ports=tuple(request["ports"]), capture=request["capture"],
        ip=request["ip"], mounts=tuple(request["mounts"]), stdio=request["stdio"],
        mac=request.get("mac", ""), mtu=request.get("mtu", 0),
    )
    argv, ctx, exit_code = plan_command(pm, board, image, options, info.meta)
    from hermitcore.plugins import select

    decode = select(pm, board).subset("hermitcore_decode_exit", ctx.claimed)
    hook = (lambda rc: decode(ctx=ctx, returncode=rc)) if decode.get_hookimpls() else None
    decoders = hook is not None
    if not decoders:
        depends = [image, argv[0], *runplan.plugin_sources(pm)]
        depends += [os.path.join(board.directory, f) for f in sorted(os.listdir(board.directory))]
        runplan.save(key, argv, workdir, exit_code, info.meta, depends)
    return argv, exit_code, hook


def _outcome(result, reasons, exit_code, hook, workdir, argv, timeout, verbose, err, planned) -> RunResult:
    if result.stopped_by:
        name = signal.Signals(result.stopped_by).name
        err.write(f"hermitcore: the program did not end within --stop-timeout of {name}: "
                  f"stopped the guest (exit status {128 + result.stopped_by})\n")
        return RunResult(status=128 + result.stopped_by, fatal=None, seconds=result.seconds, qemu_argv=tuple(argv),
                         planned=planned)
    if result.timed_out:
        raise GuestTimeout(f"guest still running after {timeout:g} s; stopped it (raise --timeout if it needs longer)")
    rc = result.returncode
    status = hook(rc) if hook else None
    if status is None:
        status = decode_exit(exit_code, rc, workdir)
    if status is None:
        if not result.started and not reasons:
            raise RunError(f"QEMU failed to start (status {rc})" + (f":\n{result.stderr}" if result.stderr else ""))
        why = f"QEMU exited with status {rc} without a guest exit status"
        if reasons:
            why += f" (shutdown reason: {reasons[-1]}; a triple fault shows as guest-reset)"
        elif not verbose:
            why += " (the guest reset or powered off: --verbose watches QEMU over QMP and names the reason)"
        if result.stderr:
            why += f":\n{result.stderr}"
        raise RunError(why)
    if result.stderr and verbose:
        err.write(result.stderr + "\n")
    return RunResult(status=status, fatal=result.fatal, seconds=result.seconds, qemu_argv=tuple(argv), planned=planned)


def _launch_watched(argv, image, workdir, timeout, err, guest_exit, stdio, kernel_log, stop_timeout=None,
                    blobs=None, resume=True):
    """launch() with QEMU's QMP monitor watched from a thread: (LaunchResult,
    the SHUTDOWN events' reasons). QEMU starts paused (-S) and listens on a
    socket in the run directory; the watcher connects, continues the guest
    and collects SHUTDOWN events. ``guest_exit(rc)``: QEMU's status is the
    guest's (else the watcher gets a moment more: the event may still be in
    the socket when QEMU is gone). ``resume`` False: the watcher leaves
    the guest held (gdb continues it: run --gdb)."""
    import threading

    sock = os.path.join(workdir, "qmp.sock")
    full = argv + ["-S", "-qmp", f"unix:{sock},server=on,wait=off"]
    reasons: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_qmp, args=(sock, reasons, stop, resume), daemon=True)
    watcher.start()
    try:
        result = launch(full, image, timeout, err, stdio=stdio, verbose=True, log=kernel_log,
                        stop_timeout=STOP_TIMEOUT_S if stop_timeout is None else stop_timeout, blobs=blobs)
    finally:
        stop.set()
    if not result.timed_out and not guest_exit(result.returncode):
        watcher.join(1.0)
    return result, [r for r in reasons if r]


def _watch_qmp(sock: str, reasons: list, stop, resume: bool = True) -> None:
    import asyncio

    from qemu.qmp import QMPClient

    async def watch():
        qmp = QMPClient("hermitcore")
        while not stop.is_set():  # QEMU makes the socket as it starts
            try:
                await qmp.connect(sock)
                break
            except Exception:
                await asyncio.sleep(0.01)
        else:
            return
        reasons.append("")  # evidence QEMU ran
        try:
            with qmp.listener() as listener:
                if resume:
                    await qmp.execute("cont")
                async for event in listener:
                    if event["event"] == "SHUTDOWN":
                        reasons.append(event["data"].get("reason", ""))
                        return
        except Exception:
            return
        finally:
            try:
                await qmp.disconnect()
            except Exception:
                pass

    asyncio.run(watch())


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
