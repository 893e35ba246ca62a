"""Run stage: boot an image in QEMU, stream the guest's console, return the
guest's exit status.

QEMU is started as a child process with its QMP monitor connected back to a
socket we listen on (qemu.qmp); the console is QEMU's stdio chardev, read
line by line. The command line comes from the board and the plugins
(``hermitcore_qemu_args``), never from a table here.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import attrs
import pluggy

from hermitcore.board import load_board
from hermitcore.compose import call_each, claim_devices, select_arch
from hermitcore.errors import GuestTimeout, HermitError, ImageError, RunError
from hermitcore.image import read_image, symbolize, symbolize_program
from hermitcore.model import Board, QemuArgs, RunContext, RunOptions
from hermitcore.toolchain import find_tool

PROGRAM_PC_RE = re.compile(r" at pc (0x[0-9a-f]+)")
PANIC_RE = re.compile(r"^\[hermit\] (PANIC|EXCEPTION|PROGRAM FAULT): (.*)$")
BACKTRACE_RE = re.compile(r"^\[hermit\] backtrace:((?: 0x[0-9a-f]+)*)\s*$")
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


@attrs.frozen
class RunResult:
    status: int
    fatal: str | None  # "panic: ..." or "exception: ..." when the guest kernel died
    seconds: float
    qemu_argv: tuple[str, ...]


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def kvm_is_pvm() -> bool:
    """The host's KVM is PVM (pagetable-based, no VMX/SVM): it runs our
    kernel, but a guest's own ring-3 code needs the PVM paravirtual event
    protocol (MSR_PVM_EVENT_ENTRY...), which this kernel does not speak."""
    return os.path.isdir("/sys/module/kvm_pvm")


def resolve_accel(requested: str, arch: str, user_mode: bool = False) -> str:
    """``auto``: KVM when /dev/kvm is usable, the guest arch is the host's and
    HERMIT_KVM is not 0 (and, for images that run a program in ring 3, the
    KVM is not PVM); otherwise TCG."""
    same_arch = HOST_ARCH.get(platform.machine()) == arch
    if requested == "tcg":
        return "tcg"
    if requested == "kvm":
        if not same_arch:
            raise HermitError(f"--accel kvm: cannot run an {arch} guest with KVM on a {platform.machine()} host")
        if not kvm_usable():
            raise HermitError("--accel kvm: /dev/kvm is missing or not accessible (use --accel tcg)")
        return "kvm"
    if requested != "auto":
        raise HermitError(f"unknown accelerator '{requested}' (use kvm, tcg or auto)")
    if os.environ.get("HERMIT_KVM", "1") in ("0", "false", "no", "off"):
        return "tcg"
    if user_mode and arch == "x86_64" and kvm_is_pvm():
        return "tcg"
    return "kvm" if same_arch and kvm_usable() else "tcg"


def quote_arg(arg: str) -> str:
    """Quote one application argument for the kernel's command-line parser."""
    if arg and not re.search(r'[\s"\\]', arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kernel_cmdline(app_args: list[str], kernel_args: list[str] = ()) -> str:
    """``<kernel options> -- <application arguments>``."""
    words = list(kernel_args)
    if app_args:
        words += ["--", *map(quote_arg, app_args)]
    return " ".join(words)


def qemu_command(
    pm: pluggy.PluginManager, board: Board, image: str, options: RunOptions, meta=None
) -> tuple[list[str], RunContext]:
    arch = select_arch(pm, board)
    claimed, _ = claim_devices(pm, board)
    if meta is None:
        try:
            meta = read_image(image).meta
        except ImageError:
            meta = {}  # a foreign kernel (the benchmarks' QEMU floor, a Linux guest)
    ctx = RunContext(board=board, arch=arch, claimed=claimed, image=image, options=options, meta=meta)
    contributions = [c for _, c in call_each(pm, "hermitcore_qemu_args", ctx=ctx)]
    binary = next((c.binary for c in contributions if isinstance(c, QemuArgs) and c.binary), None) or arch.qemu_binary
    cpu = next((c.cpu for c in contributions if c.cpu), None) or board.qemu.cpu
    binary_path = find_tool(binary, arch.qemu_package)
    argv = [
        binary_path,
        "-machine", board.qemu.machine,
        "-cpu", cpu,
        "-accel", options.accel,
        "-m", f"{options.mem_mib}M",
        "-smp", str(options.cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-chardev", f"stdio,id={options.console_chardev},signal=off",
        *board.qemu.extra_args,
    ]
    for c in contributions:
        argv.extend(c.args)
    argv += ["-kernel", image]
    if options.append:
        argv += ["-append", options.append]
    return argv, ctx


def board_for_image(image: str) -> Board:
    info = read_image(image)
    meta = info.meta
    try:
        return load_board(meta["board"])
    except HermitError:
        board_dir = meta.get("board_dir")
        if board_dir and Path(board_dir, "board.toml").is_file():
            return load_board(board_dir)
        raise ImageError(f"{image} was composed for board '{meta.get('board')}', which is not installed") from None


async def _boot(argv, ctx, pm, timeout, out, err, verbose) -> RunResult:
    from qemu.qmp import QMPClient  # imported here: only runs need it

    start = time.perf_counter()
    sock = os.path.join(ctx.options.workdir, "qmp.sock")
    qmp = QMPClient("hermitcore")
    await qmp.start_server(sock)
    full = argv + ["-chardev", f"socket,id=hqmp,path={sock}", "-mon", "chardev=hqmp,mode=control"]
    if verbose:
        err.write("hermitcore: " + " ".join(full) + "\n")
    try:
        proc = await asyncio.create_subprocess_exec(
            *full, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as exc:
        raise RunError(f"cannot start {argv[0]}: {exc}") from None

    fatal: list[str] = []
    started: list[str] = []  # evidence the guest ran: QMP greeting, console output
    shutdown_reason: list[str] = []
    stderr_chunks: list[bytes] = []

    closed = []  # our stdout went away (e.g. piped into `head`): keep draining

    def emit(data: bytes) -> None:
        if closed:
            return
        try:
            out.write(data)
            out.flush()
        except (BrokenPipeError, ValueError):
            closed.append(True)

    async def pump_console():
        pending = b""
        while True:
            chunk = await proc.stdout.read(4096)
            if not chunk:
                break
            started.append("console")
            pending += chunk.replace(b"\r\n", b"\n")
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                emit(raw + b"\n")
                text = raw.decode(errors="replace")
                m = PANIC_RE.match(text)
                if m:
                    kind = {"PANIC": "panic", "EXCEPTION": "exception"}.get(m.group(1), "program fault")
                    fatal.append(f"{kind}: {m.group(2)}")
                    pc = PROGRAM_PC_RE.search(text) if kind == "program fault" else None
                    if pc:
                        err.write(f"hermitcore:   at {symbolize_program(ctx.image, int(pc.group(1), 16))}\n")
                        err.flush()
                m = BACKTRACE_RE.match(text)
                if m and m.group(1).strip():
                    addrs = [int(a, 16) for a in m.group(1).split()]
                    for i, name in enumerate(symbolize(ctx.image, addrs)):
                        err.write(f"hermitcore:   #{i} {name}\n")
                    err.flush()
        if pending:
            emit(pending)

    async def pump_stderr():
        while True:
            chunk = await proc.stderr.read(4096)
            if not chunk:
                break
            stderr_chunks.append(chunk)

    async def watch_events():
        try:
            await qmp.accept()
        except Exception:
            return  # QEMU died before connecting; its stderr says why
        started.append("qmp")
        with qmp.listen() as listener:
            async for event in listener:
                if event["event"] == "SHUTDOWN":
                    shutdown_reason.append(event["data"].get("reason", ""))

    tasks = [asyncio.create_task(t) for t in (pump_console(), pump_stderr(), watch_events())]
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except asyncio.TimeoutError:
        timed_out = True
        try:
            if qmp.runstate.name == "RUNNING":
                await asyncio.wait_for(qmp.execute("quit"), 2)
            await asyncio.wait_for(proc.wait(), 2)
        except Exception:
            proc.kill()
            await proc.wait()
    await asyncio.gather(tasks[0], tasks[1])
    tasks[2].cancel()
    try:
        await qmp.disconnect()
    except Exception:
        pass
    seconds = time.perf_counter() - start
    stderr_text = b"".join(stderr_chunks).decode(errors="replace").strip()

    if timed_out:
        raise GuestTimeout(f"guest still running after {timeout:g} s; stopped it (raise --timeout if it needs longer)")
    rc = proc.returncode
    if not started:
        raise RunError(f"QEMU failed to start (status {rc})" + (f":\n{stderr_text}" if stderr_text else ""))
    status = pm.hook.hermitcore_decode_exit(ctx=ctx, returncode=rc)
    if status is None:
        why = f"QEMU exited with status {rc} without a guest exit status"
        if shutdown_reason:
            why += f" (shutdown reason: {shutdown_reason[-1]}; a triple fault shows as guest-reset)"
        if stderr_text:
            why += f":\n{stderr_text}"
        raise RunError(why)
    if stderr_text and verbose:
        err.write(stderr_text + "\n")
    return RunResult(status=status, fatal=fatal[0] if fatal else None, seconds=seconds, qemu_argv=tuple(full))


def run_image(
    pm: pluggy.PluginManager,
    image: str,
    *,
    cpus: int = 1,
    mem_mib: int | None = None,
    accel: str = "auto",
    timeout: float | None = None,
    app_args: list[str] = (),
    kernel_args: list[str] = (),
    verbose: bool = False,
    print_qemu: bool = False,
    net: str = "user",
    ports: tuple[str, ...] = (),
    capture: str | None = None,
    ip: str = "",
    mounts: tuple[str, ...] = (),
    out=None,
    err=None,
) -> RunResult:
    out = out or sys.stdout.buffer
    err = err or sys.stderr
    board = board_for_image(image)
    arch = select_arch(pm, board)
    meta = read_image(image).meta
    program = meta.get("program")
    if program:
        # A Linux program's wall clock and random seed come from the host.
        now = time.time_ns()
        kernel_args = [
            f"hermit.epoch={now // 1_000_000_000}.{now % 1_000_000_000:09d}",
            f"hermit.seed={os.urandom(16).hex()}",
            *kernel_args,
        ]
    workdir = tempfile.mkdtemp(prefix="hermit-run-")
    try:
        options = RunOptions(
            cpus=cpus,
            mem_mib=mem_mib or board.qemu.default_mem_mib,
            accel=resolve_accel(accel, arch.name, user_mode=bool(program)),
            append=kernel_cmdline(list(app_args), list(kernel_args)),
            workdir=workdir,
            net=net,
            ports=tuple(ports),
            capture=os.path.abspath(capture) if capture else "",
            ip=ip,
            mounts=tuple(mounts),
        )
        argv, ctx = qemu_command(pm, board, os.path.abspath(image), options, meta)
        if print_qemu:
            # Runnable as printed: the run directory (exit-status file) stays.
            out.write((" ".join(_shell_quote(a) for a in argv) + "\n").encode())
            out.flush()
            return RunResult(status=0, fatal=None, seconds=0.0, qemu_argv=tuple(argv))
        return asyncio.run(_boot(argv, ctx, pm, timeout, out, err, verbose))
    finally:
        if not print_qemu:
            shutil.rmtree(workdir, ignore_errors=True)


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
