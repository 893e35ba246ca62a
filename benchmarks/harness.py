"""hermitcore benchmark harness: every metric this build supports, on the
boards that run here, against the QEMU floor, with ratios and targets.

    python3 -m benchmarks [--quick] [--runs N] [--boards B ...] [--only METRIC ...] [--out DIR]
                          [--soak-windows N] [--soak-window-s S]

Writes DIR/bench-report.md, DIR/bench-report.json (raw numbers + machine),
DIR/bench-boot.png (boot time chart) and, with `soak`, DIR/bench-soak.png. Samples of compared things are
interleaved (A B A B ...) so machine drift cancels. Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    APPS, BOARDS, Runner, accelerators, build_floor, field, machine_description, summary,
)

METRICS = ("exec_to_exit", "run_overhead", "boot_breakdown", "image_size", "min_mem", "compose_time", "timer_jitter",
           "syscall_round_trip", "threads", "os_noise_fwq", "stream", "net", "soak", "stdio", "fs", "processes",
           "dynamic", "oci")
#: what later capabilities will add, and why they are not measured yet (metric -> reason)
NOT_YET: dict[str, str] = {}
TARGETS = {
    "exec_to_exit_ratio": 1.15,
    "run_overhead_ms": 40.0,
    "boot_to_main_kvm_us": 50.0,
    "kernel_bytes": 100 * 1024,
    "min_mem_mib": 2,
    "compose_cold_s": 3.0,
    "compose_warm_s": 0.3,
    "oci_runtime_ms": 50.0,
}


def progress(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def qemu_exit_ok(out: str) -> bool:
    return "hermitcore " in out or out.startswith("x")


# -- metrics -----------------------------------------------------------------


#: what `hermitcore run` adds to the kernel's options without -v or --kernel-log (no informational lines):
#: the boots timed as a plain run's
RUN_KERNEL_ARGS = ["hermit.quiet"]


def m_exec_to_exit(board, runner, floor, runs):
    rows = []
    for accel in accelerators(runner.arch):
        hermit, base = [], []
        for i in range(runs):
            progress(f"exec_to_exit {board} {accel} {i + 1}/{runs}")
            hermit.append(runner.run(accel, kernel_args=RUN_KERNEL_ARGS)[0] * 1e3)
            base.append(runner.run(accel, kernel_args=RUN_KERNEL_ARGS, image=floor)[0] * 1e3)
        h, f = summary(hermit), summary(base)
        ratio = h["median"] / f["median"]
        rows.append({"board": board, "accel": accel, "hermit_ms": h, "floor_ms": f, "ratio": ratio,
                     "target": TARGETS["exec_to_exit_ratio"], "meets": ratio <= TARGETS["exec_to_exit_ratio"]})
    return rows


def m_run_overhead(board, runner, floor, runs):
    """`hermitcore run IMAGE` against QEMU alone on the same command line, and
    the interpreter's bare start-up (``python -c pass``, same interpreter and
    site-packages) so the report shows how much of the difference is ours.
    One run before sampling computes the run plan, as any first run does."""
    rows = []
    image = str(runner.result.build.image)
    for accel in accelerators(runner.arch):
        cmd = [sys.executable, "-m", "hermitcore", "run", image, "--accel", accel]
        subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=True)
        full, direct, python = [], [], []
        for i in range(runs):
            progress(f"run_overhead {board} {accel} {i + 1}/{runs}")
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=True)
            full.append((time.perf_counter() - start) * 1e3)
            direct.append(runner.run(accel, kernel_args=RUN_KERNEL_ARGS)[0] * 1e3)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            python.append((time.perf_counter() - start) * 1e3)
        r, d, p = summary(full), summary(direct), summary(python)
        overhead = r["median"] - d["median"]
        rows.append({"board": board, "accel": accel, "run_ms": r, "qemu_ms": d, "overhead_ms": overhead,
                     "python_startup_ms": p, "own_ms": overhead - p["median"],
                     "target_ms": TARGETS["run_overhead_ms"], "meets": overhead <= TARGETS["run_overhead_ms"]})
    return rows


def m_boot_breakdown(board, runner, floor, runs):
    rows = []
    for accel in accelerators(runner.arch):
        kmain, amain, exit_, start, steps = [], [], [], [], {}
        for i in range(runs):
            progress(f"boot_breakdown {board} {accel} {i + 1}/{runs}")
            seconds, out = runner.run(accel, kernel_args=[*RUN_KERNEL_ARGS, "hermit.boot-times"])
            m = field(r"boot-times: kernel_main (\d+) ns, main (\d+) ns, exit (\d+) ns", out)
            for name, ns in re.findall(r"boot-times:   (\S+(?: \S+)*) +(\d+) ns", out):
                steps.setdefault(name, []).append(int(ns) / 1e3)
            kmain.append(int(m.group(1)) / 1e3)
            amain.append(int(m.group(2)) / 1e3)
            exit_.append(int(m.group(3)) / 1e3)
            # host exec->exit minus the guest's own first-instruction->exit
            start.append(seconds * 1e3 - exit_[-1] / 1e3)
        row = {"board": board, "accel": accel, "qemu_start_ms": summary(start), "kernel_main_us": summary(kmain),
               "main_us": summary(amain), "exit_us": summary(exit_),
               "steps_us": {name: summary(v)["median"] for name, v in steps.items()}}
        if accel == "kvm":
            row["target_main_us"] = TARGETS["boot_to_main_kvm_us"]
            row["meets"] = row["main_us"]["median"] <= TARGETS["boot_to_main_kvm_us"]
        rows.append(row)
    return rows


def m_image_size(board, runner, floor, runs):
    from elftools.elf.elffile import ELFFile

    path = runner.result.build.image
    with open(path, "rb") as f:
        elf = ELFFile(f)
        load = sum(s["p_memsz"] for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        filesz = sum(s["p_filesz"] for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        sections = [{"name": s.name, "bytes": s["sh_size"]} for s in elf.iter_sections() if s["sh_flags"] & 2 and s["sh_size"]]
        syms = sorted(
            ({"name": s.name, "bytes": s["st_size"]} for s in elf.get_section_by_name(".symtab").iter_symbols()
             if s["st_size"] and s.name),
            key=lambda s: -s["bytes"],
        )[:10]
    return [{"board": board, "file_bytes": path.stat().st_size, "load_bytes": load, "loaded_file_bytes": filesz,
             "sections": sections, "largest_symbols": syms, "note": "kernel + built-in hello (C app)",
             "target_bytes": TARGETS["kernel_bytes"], "meets": load <= TARGETS["kernel_bytes"]}]


def m_min_mem(board, runner, floor, runs):
    accel = accelerators(runner.arch)[-1]

    def boots(mib: int) -> bool:
        try:
            seconds, out = runner.run(accel, mem_mib=mib, timeout=30)
        except subprocess.TimeoutExpired:
            return False
        return "Hello from hermitcore!" in out

    lo, hi = 1, runner.board.qemu.default_mem_mib  # invariant: hi boots
    if not boots(hi):
        return [{"board": board, "accel": accel, "min_mib": None, "note": "does not boot at the default size"}]
    while lo < hi:
        mid = (lo + hi) // 2
        progress(f"min_mem {board} {accel}: trying {mid} MiB")
        if boots(mid):
            hi = mid
        else:
            lo = mid + 1
    return [{"board": board, "accel": accel, "min_mib": hi, "target_mib": TARGETS["min_mem_mib"],
             "meets": hi <= TARGETS["min_mem_mib"]}]


def m_compose_time(board, runner, floor, runs):
    def once(cache: str) -> float:
        env = dict(os.environ, HERMIT_CACHE_DIR=cache)
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "hermitcore", "compose", "--board", board, "-o", f"{out}/x.elf"],
                           env=env, capture_output=True, check=True)
            return time.perf_counter() - start

    cold, warm = [], []
    for i in range(max(1, runs // 2)):
        progress(f"compose_time {board} {i + 1}")
        with tempfile.TemporaryDirectory() as cache:
            cold.append(once(cache))
            warm.append(once(cache))
    c, w = summary(cold), summary(warm)
    return [{"board": board, "cold_s": c, "warm_s": w, "target_cold_s": TARGETS["compose_cold_s"],
             "target_warm_s": TARGETS["compose_warm_s"],
             "meets": c["median"] <= TARGETS["compose_cold_s"] and w["median"] <= TARGETS["compose_warm_s"]}]


def m_timer_jitter(board, runner, floor, runs, quick=False):
    app = Runner(board, str(APPS / "timer_jitter.c"), pm=runner.pm)
    rows = []
    for accel in accelerators(runner.arch):
        progress(f"timer_jitter {board} {accel}")
        _, out = app.run(accel, timeout=300)
        m = field(r"timer_1ms_lateness_ns min=(\d+) median=(\d+) p99=(\d+) max=(\d+)", out)
        rows.append({"board": board, "accel": accel,
                     **{f"{k}_us": int(v) / 1e3 for k, v in zip(("min", "median", "p99", "max"), m.groups())}})
    return rows


#: arch -> why the Linux-guest baseline could not run (shown in the report)
LINUX_UNAVAILABLE: dict[str, str] = {}


def _linux(runner, prog, args, cpus, parse):
    """The same static binary as /init of Debian's kernel on the same QEMU
    machine (TCG: the host's KVM here cannot run a stock guest kernel under
    PVM); None when that baseline cannot run here."""
    from benchmarks import linux_guest

    if runner.arch in LINUX_UNAVAILABLE:
        return None
    try:
        progress(f"linux guest {runner.board.name} {' '.join(args)}")
        return parse(linux_guest.run(runner, prog, args, cpus, timeout=300))
    except linux_guest.Unavailable as e:
        LINUX_UNAVAILABLE[runner.arch] = str(e)
    except (RuntimeError, AttributeError, subprocess.TimeoutExpired) as e:
        LINUX_UNAVAILABLE[runner.arch] = f"the Linux guest did not print its result ({str(e)[:160]})"
    return None


def _add_baseline(row, prefix, values):
    for k, v in values.items():
        row[f"{prefix}_{k}"] = v
        row[f"ratio_{prefix}_{k}" if prefix == "linux" else f"ratio_{k}"] = row[k] / v if v else None


#: the static compiler for each guest architecture (Debian: gcc, gcc-aarch64-linux-gnu)
STATIC_CC = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}


def m_syscall_round_trip(board, runner, floor, runs, quick=False):
    """The same static binary in hermitcore and, where the architecture is
    the host's, directly on the host."""
    import platform
    import shutil

    from hermitcore.run import HOST_ARCH, kvm_is_pvm

    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    iterations = "20000" if quick else "200000"
    with tempfile.TemporaryDirectory() as tmp:
        prog = f"{tmp}/syscall"
        subprocess.run([cc, "-static", "-O2", "-o", prog, str(APPS / "syscall.c")], check=True, capture_output=True)
        app = Runner(board, prog, pm=runner.pm)
        host = None
        if HOST_ARCH.get(platform.machine()) == runner.arch:
            out = subprocess.run([prog, iterations], capture_output=True, text=True, check=True).stdout
            m = field(r"syscall_noop_ns=([\d.]+) syscall_write64_ns=([\d.]+)", out)
            host = (float(m.group(1)), float(m.group(2)))
        rows = []
        for accel in accelerators(runner.arch):
            if accel == "kvm" and runner.arch == "x86_64" and kvm_is_pvm():
                continue  # the program's ring 3 does not run under PVM yet (docs/linux-programs.md)
            progress(f"syscall_round_trip {board} {accel}")
            _, out = app.run(accel, app_args=[iterations], timeout=600)
            m = field(r"syscall_noop_ns=([\d.]+) syscall_write64_ns=([\d.]+)", out)
            row = {"board": board, "accel": accel, "noop_ns": float(m.group(1)), "write64_ns": float(m.group(2))}
            if host:
                row.update(host_noop_ns=host[0], host_write64_ns=host[1],
                           ratio_noop_vs_host=row["noop_ns"] / host[0], ratio_write64_vs_host=row["write64_ns"] / host[1])
            if accel == "tcg":
                def parse(text):
                    m = field(r"syscall_noop_ns=([\d.]+) syscall_write64_ns=([\d.]+)", text)
                    return {"noop_ns": float(m.group(1)), "write64_ns": float(m.group(2))}
                lin = _linux(runner, prog, [iterations], 1, parse)
                if lin:
                    _add_baseline(row, "linux", lin)
            rows.append(row)
    return rows


#: guest CPUs for the SMP metrics: no more than the host has (overcommitted
#: vCPUs measure the host's scheduler, not ours)
SMP_CPUS = max(1, min(4, os.cpu_count() or 1))
#: mode -> (argument, quick argument) of benchmarks/apps/threads.c
SMP_ARGS = {"lat": ("2000", "200"), "fwq": ("2000", "100"), "stream": ("4000000", "500000")}
_smp_builds: dict[str, str] = {}


def _smp(metric, mode, pattern, board, runner, quick):
    """Run benchmarks/apps/threads.c MODE in hermitcore (SMP_CPUS CPUs) and,
    on the host's architecture, on the host; rows with ratios."""
    import platform
    import shutil

    from hermitcore.run import HOST_ARCH, kvm_is_pvm

    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    if runner.arch not in _smp_builds:
        out = Path(tempfile.mkdtemp(prefix="hermit-smp-")) / "threads"
        subprocess.run([cc, "-static", "-O2", "-fopenmp", "-o", str(out), str(APPS / "threads.c")], check=True,
                       capture_output=True)
        _smp_builds[runner.arch] = str(out)
    prog = _smp_builds[runner.arch]
    arg = SMP_ARGS[mode][1 if quick else 0]
    app = Runner(board, prog, pm=runner.pm)

    def parse(text):
        m = field(pattern, text)
        return {k: float(v) for k, v in m.groupdict().items()}

    host = None
    if HOST_ARCH.get(platform.machine()) == runner.arch:
        env = dict(os.environ, OMP_NUM_THREADS=str(SMP_CPUS))
        out = subprocess.run(["taskset", "-c", f"0-{SMP_CPUS - 1}", prog, mode, arg], capture_output=True, text=True,
                             check=True, env=env).stdout
        host = parse(out)
    rows = []
    for accel in accelerators(runner.arch):
        if accel == "kvm" and runner.arch == "x86_64" and kvm_is_pvm():
            continue  # the program's ring 3 does not run under PVM yet (docs/linux-programs.md)
        progress(f"{metric} {board} {accel} ({SMP_CPUS} CPUs)")
        _, out = app.run(accel, app_args=[mode, arg], timeout=900, cpus=SMP_CPUS, mem_mib=512)
        row = {"board": board, "accel": accel, "cpus": SMP_CPUS, **parse(out)}
        if host:
            _add_baseline(row, "host", host)
        if accel == "tcg":
            lin = _linux(runner, prog, [mode, arg], SMP_CPUS, parse)
            if lin:
                _add_baseline(row, "linux", lin)
        rows.append(row)
    return rows


def m_threads(board, runner, floor, runs, quick=False):
    return _smp("threads", "lat", r"thread_create_join_us=(?P<create_join_us>[\d.]+) "
                r"futex_pingpong_ns=(?P<pingpong_ns>[\d.]+) yield_ns=(?P<yield_ns>[\d.]+)", board, runner, quick)


def m_os_noise_fwq(board, runner, floor, runs, quick=False):
    return _smp("os_noise_fwq", "fwq", r"fwq_quantum_ns=(?P<quantum_ns>[\d.]+) "
                r"fwq_overhead_median_ns=(?P<median_ns>[\d.]+) fwq_overhead_p99_ns=(?P<p99_ns>[\d.]+) "
                r"fwq_overhead_max_ns=(?P<max_ns>[\d.]+)", board, runner, quick)


def m_stream(board, runner, floor, runs, quick=False):
    return _smp("stream", "stream", r"copy_1=(?P<copy_1>[\d.]+) scale_1=(?P<scale_1>[\d.]+) add_1=(?P<add_1>[\d.]+) "
                r"triad_1=(?P<triad_1>[\d.]+) copy_n=(?P<copy_n>[\d.]+) scale_n=(?P<scale_n>[\d.]+) "
                r"add_n=(?P<add_n>[\d.]+) triad_n=(?P<triad_n>[\d.]+)", board, runner, quick)


PROC_PATTERN = (r"fork_exit_wait_us=(?P<fork_us>[\d.]+) spawn_wait_us=(?P<spawn_us>[\d.]+) "
                r"pipe_pingpong_us=(?P<pingpong_us>[\d.]+) signal_rt_ns=(?P<signal_ns>[\d.]+) "
                r"fork_256m_added_kib=(?P<fork_256m_kib>-?\d+)")
_proc_builds: dict[str, str] = {}


def m_processes(board, runner, floor, runs, quick=False):
    """fork+exit+wait, posix_spawn+wait, a pipe ping-pong between two
    processes, a signal round trip, and what forking a process with 256 MiB
    resident adds (benchmarks/apps/proc.c): hermitcore, the host, the Linux
    guest (TCG), 2 CPUs and 1 GiB for both guests."""
    import platform
    import shutil

    from benchmarks import linux_guest
    from hermitcore.run import HOST_ARCH, kvm_is_pvm

    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    if runner.arch not in _proc_builds:
        out = Path(tempfile.mkdtemp(prefix="hermit-proc-")) / "procs"  # (not "proc": the program sits at /NAME)
        subprocess.run([cc, "-static", "-O2", "-o", str(out), str(APPS / "proc.c")], check=True, capture_output=True)
        _proc_builds[runner.arch] = str(out)
    prog = _proc_builds[runner.arch]
    args = ["proc", "50" if quick else "200"]
    cpus, mem = min(2, SMP_CPUS), 1024
    app = Runner(board, prog, pm=runner.pm)

    def parse(text):
        return {k: float(v) for k, v in field(PROC_PATTERN, text).groupdict().items()}

    host = None
    if HOST_ARCH.get(platform.machine()) == runner.arch:
        host = parse(subprocess.run([prog, *args], capture_output=True, text=True, check=True, timeout=300).stdout)
    rows = []
    for accel in accelerators(runner.arch):
        if accel == "kvm" and runner.arch == "x86_64" and kvm_is_pvm():
            continue  # the program's ring 3 does not run under PVM yet (docs/linux-programs.md)
        progress(f"processes {board} {accel} ({cpus} CPUs)")
        _, out = app.run(accel, app_args=args, timeout=900, cpus=cpus, mem_mib=mem)
        row = {"board": board, "accel": accel, "cpus": cpus, **parse(out)}
        if host:
            _add_baseline(row, "host", host)
        if accel == "tcg" and runner.arch not in LINUX_UNAVAILABLE:
            try:
                progress(f"linux guest {board} processes")
                _add_baseline(row, "linux", parse(linux_guest.run(runner, prog, args, cpus, mem_mib=mem, timeout=600)))
            except linux_guest.Unavailable as e:
                LINUX_UNAVAILABLE[runner.arch] = str(e)
            except (RuntimeError, AttributeError, subprocess.TimeoutExpired) as e:
                row["linux_error"] = f"the Linux guest did not print its result ({str(e)[:160]})"
        rows.append(row)
    return rows


DYN_PATTERN = r"hello_us=(?P<hello_us>\d+)(?:\npython_us=(?P<python_us>\d+))?"


def _linux_guest_files(gathered, interp: str) -> dict:
    """A dynamic program's packed tree (dynlink.Gathered) for the Linux
    guest's initramfs, which takes files only: each file and file symlink as
    the file it reaches, the interpreter at its PT_INTERP path."""
    def host(guest: str) -> str:
        return os.path.realpath(os.path.join(gathered.sysroot, guest.lstrip("/")))

    files = {}
    for e in gathered.entries:
        src = e.source if e.is_file else host(e.guest)
        if not e.is_dir and os.path.isfile(src):
            files[e.guest.lstrip("/")] = src
    files[interp.lstrip("/")] = host(interp)
    return files


def m_dynamic(board, runner, floor, runs, quick=False):
    """Dynamic executables (issue #19): exec->exit of a dynamic hello and of
    Debian's `python3 -c pass` (x86_64: the host's python) spawned by a static
    driver (benchmarks/apps/spawn.c) in hermitcore and on the host, the hello
    also in the Linux guest (its files in the initramfs, same QEMU machine,
    2 CPUs, 1 GiB); python3's image size and compose time, cold (fresh cache
    but the kernel's objects) and warm."""
    import platform
    import shutil

    from benchmarks import linux_guest
    from hermitcore import dynlink
    from hermitcore.program import inspect_program
    from hermitcore.run import HOST_ARCH

    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    work = Path(tempfile.mkdtemp(prefix="hermit-dyn-"))
    driver, hello = work / "spawn", work / "dynhello"
    (work / "hello.c").write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    subprocess.run([cc, "-static", "-O2", "-o", str(driver), str(APPS / "spawn.c")], check=True, capture_output=True)
    subprocess.run([cc, "-O2", "-o", str(hello), str(work / "hello.c")], check=True, capture_output=True)
    python = Path("/usr/bin/python3")
    stdlib = Path("/usr/lib") / python.resolve().name
    with_python = runner.arch == "x86_64" and python.is_file() and (stdlib / "os.py").is_file()
    n = "5" if quick else "20"
    args = [n, "hello", "/dynhello"] + (["--", "python", str(python), "-c", "pass"] if with_python else [])
    adds = [f"{hello}:/dynhello"] + ([str(python), str(stdlib)] if with_python else [])
    cpus, mem = min(2, SMP_CPUS), 1024
    app = Runner(board, str(driver), pm=runner.pm, adds=adds)

    def parse(text):
        m = field(DYN_PATTERN, text)
        return {k: float(v) for k, v in m.groupdict().items() if v is not None}

    row = {"board": board, "accel": "tcg", "cpus": cpus}
    progress(f"dynamic {board} tcg")
    _, out = app.run("tcg", app_args=args, timeout=900, cpus=cpus, mem_mib=mem)
    row.update(parse(out))
    if HOST_ARCH.get(platform.machine()) == runner.arch:
        host_args = [a.replace("/dynhello", str(hello)) for a in args]
        _add_baseline(row, "host", parse(subprocess.run([str(driver), *host_args], capture_output=True, text=True,
                                                        check=True, timeout=300).stdout))
    if runner.arch not in LINUX_UNAVAILABLE:
        try:
            progress(f"linux guest {board} dynamic")
            p = inspect_program(str(hello), runner.arch, board)
            files = _linux_guest_files(dynlink.gather(p, runner.arch), p.interp)
            files["dynhello"] = str(hello)
            out = linux_guest.run(runner, str(driver), args[:3], cpus, files=files, mem_mib=mem, timeout=600)
            _add_baseline(row, "linux", parse(out))
            if with_python:  # in a boot of its own: its initramfs holds the standard library (~100 MiB)
                progress(f"linux guest {board} python3")
                p = inspect_program(str(python), runner.arch, board)
                files = _linux_guest_files(dynlink.gather(p, runner.arch, adds=(str(stdlib),)), p.interp)
                files[str(python).lstrip("/")] = str(python)
                out = linux_guest.run(runner, str(driver), [n, "python", str(python), "-c", "pass"], cpus,
                                      files=files, mem_mib=mem, timeout=600)
                _add_baseline(row, "linux", {"python_us": float(field(r"python_us=(\d+)", out).group(1))})
        except linux_guest.Unavailable as e:
            LINUX_UNAVAILABLE[runner.arch] = str(e)
        except (RuntimeError, AttributeError, subprocess.TimeoutExpired) as e:
            row["linux_error"] = f"the Linux guest did not print its result ({str(e)[:160]})"
    if with_python:
        def compose_s(cache: str) -> float:
            env = dict(os.environ, HERMIT_CACHE_DIR=cache)
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "hermitcore", "compose", "--board", board, str(python), "--add",
                                str(stdlib), "-o", f"{out}/py.elf"], env=env, capture_output=True, check=True)
                return time.perf_counter() - start
        with tempfile.TemporaryDirectory() as cache:
            objects = Path(os.environ.get("HERMIT_CACHE_DIR") or Path.home() / ".cache" / "hermitcore") / "objects"
            if objects.is_dir():  # cold: no image, but the kernel's compiled objects (as any second program)
                shutil.copytree(objects, Path(cache) / "objects")
            row["compose_cold_s"] = compose_s(cache)
            row["compose_warm_s"] = min(compose_s(cache) for _ in range(3))
            row["python_image_mib"] = sum(f.stat().st_size for f in (Path(cache) / "images").glob("*.elf")) / 2**20
    return [row]


def m_oci(board, runner, floor, runs):
    """Container engines (issue #20): ctr run of a packaged hello with
    hermitcore-runtime next to hermitcore run and to runc (benchmarks/oci.py).
    The fast boards only."""
    from benchmarks import oci

    if board not in ("qemu-microvm", "qemu-virt"):
        return []
    progress(f"oci {board}")
    try:
        return [oci.measure(board, runner.arch, runs)]
    except (RuntimeError, subprocess.CalledProcessError, AssertionError) as e:
        return [{"board": board, "accel": "tcg", "error": str(e)[:300]}]


def m_net(board, runner, floor, runs, quick=False):
    """TCP both ways, request/response latency, HTTP req/s (benchmarks/net.py)."""
    import platform
    import shutil

    from benchmarks import net
    from hermitcore.run import HOST_ARCH, kvm_is_pvm

    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    prog, www, netinit = net.build(cc)
    nbytes, requests, wrk_s = (4 << 20, 200, 2) if quick else (32 << 20, 2000, 10)
    host = None
    if HOST_ARCH.get(platform.machine()) == runner.arch:
        progress(f"net host ({nbytes >> 20} MiB each way, {requests} requests)")
        host = net.run_host(prog, www, nbytes, requests, wrk_s)
    rows = []
    for accel in accelerators(runner.arch):
        if accel == "kvm" and runner.arch == "x86_64" and kvm_is_pvm():
            continue  # the program's ring 3 does not run under PVM yet (docs/linux-programs.md)
        progress(f"net {board} {accel} ({nbytes >> 20} MiB each way, {requests} requests)")
        row = {"board": board, "accel": accel, "bytes": nbytes, "requests": requests,
               **net.run_guest(board, prog, www, accel, nbytes, requests, wrk_s)}
        if host:
            _add_baseline(row, "host", {k: v for k, v in host.items() if v})
        if accel == "tcg" and runner.arch not in LINUX_UNAVAILABLE:
            from benchmarks import linux_guest

            progress(f"net linux guest {board} tcg ({nbytes >> 20} MiB each way, {requests} requests)")
            try:
                lin = net.run_linux(runner, prog, www, netinit, accel, nbytes, requests, wrk_s)
                _add_baseline(row, "linux", {k: v for k, v in lin.items() if v})
            except linux_guest.Unavailable as e:
                LINUX_UNAVAILABLE[runner.arch] = str(e)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                row["linux_error"] = str(e)[:300]
        if row.get("linux_http_req_s") and row.get("http_req_s"):
            row["target_http_vs_linux"] = 1.0
            row["meets"] = row["http_req_s"] >= row["linux_http_req_s"]
        rows.append(row)
    return rows


#: soak sizes: wrk windows x seconds after a warm-up run; thread create/join rounds
SOAK = {"full": {"windows": 6, "window_s": 30, "warmup_s": 5, "threads": 100_000},
        "quick": {"windows": 2, "window_s": 2, "warmup_s": 1, "threads": 2_000}}
#: with the default board list, the soak runs once per architecture (its first board)
SOAK_ONE_PER_ARCH = {"on": False, "done": set()}


def _soak_accel(arch: str) -> str:
    """The fastest accelerator a program runs under here (one: a soak takes minutes)."""
    from hermitcore.run import kvm_is_pvm

    return [a for a in accelerators(arch) if not (a == "kvm" and arch == "x86_64" and kvm_is_pvm())][-1]


def m_soak(board, runner, floor, runs, quick=False):
    """Minutes of load, free memory before and after (benchmarks/soak.py):
    the network server under wrk, then a thread create/exit loop."""
    import shutil

    from benchmarks import net, soak

    if SOAK_ONE_PER_ARCH["on"]:
        if runner.arch in SOAK_ONE_PER_ARCH["done"]:
            return []
        SOAK_ONE_PER_ARCH["done"].add(runner.arch)
    cc = STATIC_CC[runner.arch]
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not installed (scripts/setup.sh installs it)")
    size = SOAK["quick" if quick else "full"]
    accel = _soak_accel(runner.arch)
    row = {"board": board, "accel": accel}
    prog, www, _ = net.build(cc)
    progress(f"soak net {board} {accel}: {size['warmup_s']} s warm-up, {size['windows']} x {size['window_s']} s of wrk")
    try:
        row["net"] = soak.run_net(board, prog, www, accel, size["windows"], size["window_s"], size["warmup_s"],
                                  progress=progress)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        row["net_error"] = str(e)[:500]
    with tempfile.TemporaryDirectory() as tmp:
        app = f"{tmp}/soak_threads"
        subprocess.run([cc, "-static", "-O2", "-o", app, str(APPS / "soak_threads.c")], check=True, capture_output=True)
        progress(f"soak threads {board} {accel} ({SMP_CPUS} CPUs): {size['threads']} create/join")
        _, out = Runner(board, app, pm=runner.pm).run(accel, app_args=[str(size["threads"])], cpus=SMP_CPUS,
                                                      timeout=1800)
        try:
            row["threads"] = {"cpus": SMP_CPUS, **soak.parse_threads(out)}
        except RuntimeError as e:
            row["threads_error"] = str(e)[:500]
    return [row]


def m_stdio(board, runner, floor, runs, quick=False):
    """MB/s out of and into one static program's standard streams: `hermitcore
    run`'s pipes, the Linux guest's hvc0 (TCG), the host's pipes (benchmarks/stdio.py)."""
    from benchmarks import stdio
    from hermitcore.run import kvm_is_pvm

    rows = []
    for accel in accelerators(runner.arch):
        if accel == "kvm" and runner.arch == "x86_64" and kvm_is_pvm():
            continue  # the program's ring 3 does not run under PVM yet (docs/linux-programs.md)
        row = stdio.measure(board, runner, accel, quick, min(runs, stdio.MAX_SAMPLES),
                            linux=accel == "tcg" and runner.arch not in LINUX_UNAVAILABLE, progress=progress)
        for key in ("linux_out_error", "linux_in_error"):
            if row.get(key, "").startswith("unavailable: "):
                LINUX_UNAVAILABLE[runner.arch] = row.pop(key)[len("unavailable: "):]
        rows.append(row)
    return rows


def m_fs(board, runner, floor, runs, quick=False):
    """Small-file create/stat/unlink ops/s and big-file write/read MB/s of one
    static program on tmpfs and on a host directory over virtio-9p, in
    hermitcore and in the Linux guest (TCG; benchmarks/fs.py)."""
    from benchmarks import fs
    from hermitcore.run import kvm_is_pvm

    rows = []
    for accel in accelerators(runner.arch):
        if accel == "kvm" and runner.arch == "x86_64" and kvm_is_pvm():
            continue  # the program's ring 3 does not run under PVM yet (docs/linux-programs.md)
        got = fs.measure(board, runner, accel, quick, min(runs, fs.MAX_SAMPLES),
                         linux=accel == "tcg" and runner.arch not in LINUX_UNAVAILABLE, progress=progress)
        for row in got:
            if row.get("linux_error", "").startswith("unavailable: "):
                LINUX_UNAVAILABLE[runner.arch] = row.pop("linux_error")[len("unavailable: "):]
        rows.extend(got)
    return rows


FUNCS = {
    "exec_to_exit": m_exec_to_exit, "run_overhead": m_run_overhead, "boot_breakdown": m_boot_breakdown,
    "image_size": m_image_size, "min_mem": m_min_mem, "compose_time": m_compose_time, "timer_jitter": m_timer_jitter,
    "syscall_round_trip": m_syscall_round_trip, "threads": m_threads, "os_noise_fwq": m_os_noise_fwq,
    "stream": m_stream, "net": m_net, "soak": m_soak, "stdio": m_stdio, "fs": m_fs, "processes": m_processes,
    "dynamic": m_dynamic, "oci": m_oci,
}


# -- reports -------------------------------------------------------------------


def _verdict(row) -> str:
    if "meets" not in row:
        return ""
    return "meets target" if row["meets"] else "**short of target**"


def markdown(report: dict) -> str:
    m = report["machine"]
    out = [
        "# hermitcore benchmark report",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['host_arch']}, KVM {'available' if m['kvm'] else 'not available'}, "
        f"{m['qemu']}. Runs per point: {report['config']['runs']}{' (quick)' if report['config']['quick'] else ''}. "
        "Medians unless stated; ratios are hermitcore / baseline.",
        "",
    ]
    metrics = report["metrics"]

    def table(title, head, rows):
        out.extend([f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)])
        out.extend("| " + " | ".join(str(c) for c in r) + " |" for r in rows)
        out.append("")

    if "exec_to_exit" in metrics:
        table("1. exec to exit vs the QEMU floor (same machine, same command line)",
              ["board", "accel", "hermitcore ms", "floor ms", "ratio", "target", ""],
              [(r["board"], r["accel"], f"{r['hermit_ms']['median']:.1f} ({r['hermit_ms']['min']:.1f}-{r['hermit_ms']['max']:.1f})",
                f"{r['floor_ms']['median']:.1f}", f"{r['ratio']:.2f}x", f"<= {r['target']}x", _verdict(r))
               for r in metrics["exec_to_exit"]])
    if "run_overhead" in metrics:
        table("1b. what `hermitcore run` adds (Python start-up, run plan, console pump)",
              ["board", "accel", "hermitcore run ms", "QEMU alone ms", "added ms", "of which bare Python start-up ms",
               "target", ""],
              [(r["board"], r["accel"], f"{r['run_ms']['median']:.1f}", f"{r['qemu_ms']['median']:.1f}",
                f"{r['overhead_ms']:.1f}", f"{r['python_startup_ms']['median']:.1f}", f"<= {r['target_ms']:.0f} ms",
                _verdict(r)) for r in metrics["run_overhead"]])
        out.extend(["Bare Python start-up is `python -c pass` with the same interpreter and site-packages (its .pth "
                    "hooks included); the rest is hermitcore's: argument parsing, the image's metadata, the cached "
                    "run plan, the console pump. The first run of an image computes its run plan with the plugins "
                    "(~150 ms more); the samples follow one such run.", ""])
    if "boot_breakdown" in metrics:
        table("1c. boot breakdown: QEMU exec -> first instruction (host, derived), then the guest's clock",
              ["board", "accel", "QEMU start ms", "-> kernel_main us", "-> main us", "-> exit us", "target", ""],
              [(r["board"], r["accel"], f"{r['qemu_start_ms']['median']:.1f}", f"{r['kernel_main_us']['median']:.0f}",
                f"{r['main_us']['median']:.0f}",
                f"{r['exit_us']['median']:.0f}", f"<= {r['target_main_us']:.0f} us to main" if "target_main_us" in r else "",
                _verdict(r)) for r in metrics["boot_breakdown"]])
        out += ["Slowest boot steps, first instruction to main (median us, `-k hermit.boot-times`):"] + [
            f"- {r['board']} {r['accel']}: " + ", ".join(
                f"{name} {us:.0f}" for name, us in sorted(r["steps_us"].items(), key=lambda kv: -kv[1])[:6])
            for r in metrics["boot_breakdown"]] + [""]
    if "image_size" in metrics:
        table("2. image size (kernel + built-in hello)",
              ["board", "in memory", "file", "target", "", "largest symbols"],
              [(r["board"], f"{r['load_bytes'] / 1024:.1f} KiB", f"{r['file_bytes'] / 1024:.1f} KiB",
                f"<= {r['target_bytes'] // 1024} KiB", _verdict(r),
                ", ".join(f"{s['name']} {s['bytes']}" for s in r["largest_symbols"][:5])) for r in metrics["image_size"]])
    if "min_mem" in metrics:
        table("3. smallest --mem at which hello boots and exits 0",
              ["board", "accel", "min MiB", "target", ""],
              [(r["board"], r["accel"], r["min_mib"], f"<= {r.get('target_mib', '')} MiB", _verdict(r)) for r in metrics["min_mem"]])
    if "compose_time" in metrics:
        table("4. hermitcore compose (whole command)",
              ["board", "cold s", "warm s", "target", ""],
              [(r["board"], f"{r['cold_s']['median']:.2f}", f"{r['warm_s']['median']:.2f}",
                f"<= {r['target_cold_s']} s cold, <= {r['target_warm_s']} s warm", _verdict(r)) for r in metrics["compose_time"]])
    if "timer_jitter" in metrics:
        table("timer: lateness of a 1 ms one-shot timer, 1000 shots",
              ["board", "accel", "min us", "median us", "p99 us", "max us"],
              [(r["board"], r["accel"], f"{r['min_us']:.1f}", f"{r['median_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['max_us']:.1f}")
               for r in metrics["timer_jitter"]])
    if "syscall_round_trip" in metrics:
        def host(r, k):
            return f"{r[k]:.0f}" if k in r else "n/a (other arch)"

        def ratio(r, k):
            return f"{r[k]:.2f}x" if k in r else ""

        table("5. system-call round trip, the same static binary (ns per call, best of 3 rounds)",
              ["board", "accel", "no-op", "host no-op", "ratio", "write 64 B to /dev/null", "host", "ratio",
               "Linux guest no-op / write (ratio; target <= 0.5x)"],
              [(r["board"], r["accel"], f"{r['noop_ns']:.0f}", host(r, "host_noop_ns"), ratio(r, "ratio_noop_vs_host"),
                f"{r['write64_ns']:.0f}", host(r, "host_write64_ns"), ratio(r, "ratio_write64_vs_host"),
                _vs_linux(r, "noop_ns", "write64_ns"))
               for r in metrics["syscall_round_trip"]])
        out += ["Under TCG both guests are emulated the same way, so the Linux-guest column compares the kernels' "
                "paths; KVM rows would compare them at native speed.", ""]
    if "threads" in metrics:
        table("5b. threads: create+join, futex ping-pong between two threads (round trip), sched_yield",
              ["board", "accel", "CPUs", "create+join us", "ping-pong ns", "yield ns", "vs host (create / ping-pong / yield)",
               "Linux guest (ratio)"],
              [(r["board"], r["accel"], r["cpus"], f"{r['create_join_us']:.1f}", f"{r['pingpong_ns']:.0f}",
                f"{r['yield_ns']:.0f}", " / ".join(_ratio(r, k) for k in ("create_join_us", "pingpong_ns", "yield_ns")),
                _vs_linux(r, "create_join_us", "pingpong_ns", "yield_ns"))
               for r in metrics["threads"]])
    if "dynamic" in metrics:
        rows = metrics["dynamic"]
        table("5d. dynamic executables: exec->exit (posix_spawn + wait, benchmarks/apps/spawn.c) of a dynamic hello "
              "and of Debian's `python3 -c pass`; python3's image (with --add of its standard library) and compose "
              "time (cold: a fresh cache holding the kernel's objects; warm: the image cached; target <= 0.3 s)",
              ["board", "accel", "CPUs", "hello us", "python us", "vs host (hello / python)",
               "Linux guest hello / python (ratio; target <= 1x)", "compose cold / warm s", "python image MiB"],
              [(r["board"], r["accel"], r["cpus"], f"{r['hello_us']:.0f}",
                f"{r['python_us']:.0f}" if "python_us" in r else "-",
                " / ".join(_ratio(r, k) for k in ("hello_us", "python_us")),
                _vs_linux(r, *(k for k in ("hello_us", "python_us") if f"linux_{k}" in r)),
                f"{r['compose_cold_s']:.2f} / {r['compose_warm_s']:.2f}" if "compose_cold_s" in r else "-",
                f"{r['python_image_mib']:.0f}" if "python_image_mib" in r else "-")
               for r in rows])
        out += [f"- {r['board']} {r['accel']}: Linux guest not measured -- {r['linux_error']}"
                for r in rows if "linux_error" in r]
    if "oci" in metrics:
        rows = metrics["oci"]
        table("5e. containers: wall time to exit of a static hello (medians) as `hermitcore run IMAGE`, as `ctr run` "
              "of its `hermitcore pkg` image with hermitcore-runtime, and as `ctr run` of an ordinary image of the "
              "binary with runc; the runtime's cost = (ctr run - hermitcore run) - (runc's ctr run - the binary "
              "alone) (target <= 50 ms); and each runtime command the shim calls",
              ["board", "accel", "hermitcore run ms", "ctr run (hermitcore-runtime) ms", "ctr run (runc) ms",
               "runtime's cost ms", "runtime commands ms (calls per run)"],
              [(r["board"], r["accel"], f"{r['hermit_ms']:.0f}", f"{r['oci_ms']:.0f}",
                f"{r['runc_ms']:.0f}" if "runc_ms" in r else "-",
                f"{r['runtime_ms']:.0f}" if "runtime_ms" in r else f"{r['overhead_ms']:.0f} (with containerd's own)",
                ", ".join(f"{k} {v:.0f} ({r['calls_per_run'][k]:g})" for k, v in r["calls_ms"].items()))
               for r in rows if "error" not in r])
        out += [f"- {r['board']}: not measured -- {r['error']}" for r in rows if "error" in r]
    if "processes" in metrics:
        keys = ("fork_us", "spawn_us", "pingpong_us", "signal_ns")
        table("5c. processes: fork+exit+wait, posix_spawn+wait of a static `true`, pipe ping-pong between two "
              "processes (round trip), a signal to itself (kill -> handler -> sigreturn), and the memory a fork of a "
              "process with 256 MiB resident adds before the child writes (benchmarks/apps/proc.c)",
              ["board", "accel", "CPUs", "fork us", "spawn us", "ping-pong us", "signal ns", "fork 256 MiB adds KiB",
               "vs host (fork / spawn / ping-pong / signal)", "Linux guest (ratio; target <= 1x)"],
              [(r["board"], r["accel"], r["cpus"], f"{r['fork_us']:.1f}", f"{r['spawn_us']:.1f}",
                f"{r['pingpong_us']:.2f}", f"{r['signal_ns']:.0f}",
                f"{r['fork_256m_kib']:.0f}" + (f" (Linux {r['linux_fork_256m_kib']:.0f})"
                                               if "linux_fork_256m_kib" in r else ""),
                " / ".join(_ratio(r, k) for k in keys), _vs_linux(r, *keys))
               for r in metrics["processes"]])
        out += [f"- {r['board']} {r['accel']}: Linux guest not measured -- {r['linux_error']}"
                for r in metrics["processes"] if "linux_error" in r]
    if "os_noise_fwq" in metrics:
        table("6. OS noise: fixed-work quanta on every CPU, overhead above the fastest sample",
              ["board", "accel", "CPUs", "quantum ns", "median ns", "p99 ns", "max ns", "p99 vs host",
               "Linux guest p99 ns (ratio; target <= 0.1x)"],
              [(r["board"], r["accel"], r["cpus"], f"{r['quantum_ns']:.0f}", f"{r['median_ns']:.0f}",
                f"{r['p99_ns']:.0f}", f"{r['max_ns']:.0f}", _ratio(r, "p99_ns"), _vs_linux(r, "p99_ns"))
               for r in metrics["os_noise_fwq"]])
    if "stream" in metrics:
        table("7. STREAM MB/s (best of 4 after a warm-up pass), 1 thread and all",
              ["board", "accel", "CPUs", "copy 1", "triad 1", "copy all", "triad all", "triad all vs host",
               "Linux guest triad all (ratio)"],
              [(r["board"], r["accel"], r["cpus"], f"{r['copy_1']:.0f}", f"{r['triad_1']:.0f}", f"{r['copy_n']:.0f}",
                f"{r['triad_n']:.0f}", _ratio(r, "triad_n"), _vs_linux(r, "triad_n")) for r in metrics["stream"]])
        out += ["Under TCG every guest instruction is emulated: these rows measure QEMU, and only KVM rows "
                "compare kernels (the STREAM target is >= 0.97x host under KVM).", ""]
    if "net" in metrics:
        def num(r, k, fmt):
            return fmt.format(r[k]) if r.get(k) is not None else "n/a (no wrk)" if k == "http_req_s" else "n/a"

        table("8. network through QEMU user networking, host client (guest -> host and host -> guest MB/s, "
              "HTTP request/response us over keep-alive, wrk req/s)",
              ["board", "accel", "TCP out MB/s", "TCP in MB/s", "req/resp median us", "p99 us", "HTTP req/s",
               "vs host (out / in / median / req/s)"],
              [(r["board"], r["accel"], num(r, "tx_mb_s", "{:.1f}"), num(r, "rx_mb_s", "{:.1f}"),
                num(r, "rr_median_us", "{:.0f}"), num(r, "rr_p99_us", "{:.0f}"), num(r, "http_req_s", "{:.0f}"),
                " / ".join(_ratio(r, k) for k in ("tx_mb_s", "rx_mb_s", "rr_median_us", "http_req_s")))
               for r in metrics["net"]])
        table("8b. the same server in the Linux guest, same machine, network back end and forwards (TCG): "
              "Linux's value (hermitcore / Linux)",
              ["board", "accel", "TCP out MB/s", "TCP in MB/s", "req/resp median us", "HTTP req/s",
               "target: req/s >= Linux's"],
              [(r["board"], r["accel"], *(_vs_linux(r, k) if f"linux_{k}" in r else "n/a"
                                          for k in ("tx_mb_s", "rx_mb_s", "rr_median_us", "http_req_s")),
                _verdict(r) if "meets" in r else r.get("linux_error", "not measured"))
               for r in metrics["net"] if r["accel"] == "tcg"])
        out += ["The host rows run the same static server on the host's loopback: the ratio is the whole "
                "virtual path (QEMU's slirp, virtio-net, lwIP, TCG), not the kernel alone. The Linux guest's "
                "/init loads its virtio-mmio and virtio-net modules and sets the address "
                "(benchmarks/apps/netinit.c), then execs the same server binary.", ""]
    if "soak" in metrics:
        _soak_markdown(metrics["soak"], table, out)
    if "stdio" in metrics:
        def mb(r, k):
            return (f"{r[f'{k}_mb_s']:.1f}" if f"{k}_mb_s" in r else "error" if f"{k}_error" in r
                    else "n/a (other arch)" if k.startswith("host") else "n/a")

        table("10. standard streams: MB/s out of (stdout) and into (stdin) the same static program through "
              "`hermitcore run`'s pipes, the Linux guest's hvc0 (TCG) and the host's pipes",
              ["board", "accel", "MiB each way", "hermitcore out", "hermitcore in", "Linux guest out", "Linux guest in",
               "host out", "host in", "hermitcore / Linux (out / in)", "target: >= 1x Linux both ways"],
              [(r["board"], r["accel"], r["bytes"] >> 20, *(mb(r, f"{s}_{d}") for s in ("hermit", "linux", "host")
                                                          for d in ("out", "in")),
                " / ".join(f"{r[f'ratio_linux_{d}']:.2f}x" if r.get(f"ratio_linux_{d}") else "n/a" for d in ("out", "in")),
                _verdict(r) or "not measured") for r in metrics["stdio"]])
        out += [f"- {r['board']} {r['accel']}, {k[:-6].replace('hermit_', 'hermitcore ').replace('_', ' ')}: {r[k]}"
                for r in metrics["stdio"] for k in sorted(r) if k.endswith("_error")]
        out += ["", "Out: the program writes N bytes (pattern 0..250: NUL, CR, LF, high bytes) in 64 KiB writes; the "
                "host times its stdout from the first byte received to the N-th ((N - first chunk) / time) and "
                "checks it byte for byte, nothing more. In: the host writes the same N bytes; the program times its "
                "own reads, first byte to last. Medians of up to 3 samples per point. The Linux guest's /init is the "
                "same binary (`stdio hvc`: loads virtio_console and its transport from the kernel's package, raw "
                "mode on hvc0, hvc0 as fds 0-2); hvc0 is a virtconsole whose output goes to a file chardev (QEMU "
                "drops a virtconsole's bytes when a socket or pipe chardev would block) and whose input comes from "
                "a Unix socket. Host columns: the host's architecture only.", ""]
    if "fs" in metrics:
        from benchmarks.fs import OPS

        def fs_vals(r, subject):
            if f"{subject}_error" in r:
                return "error"
            if f"{subject}_{OPS[0][0]}" not in r:
                return "n/a"
            return " / ".join(_num(r[f"{subject}_{k}"]) for k, _ in OPS)

        table("11. file systems: the same static program (benchmarks/apps/fs.c) on tmpfs (/tmp) and on a host "
              "directory over virtio-9p (msize 512 KiB + 4 KiB asked by both), in hermitcore and in the Linux guest (same machine, "
              "CPUs and memory)",
              ["board", "accel", "file system", "files / MiB", "hermitcore " + " / ".join(l for _, l in OPS),
               "Linux guest (same)", "hermitcore / Linux", "target: >= 1x Linux for each"],
              [(r["board"], r["accel"], r["fs"], f"{r['files']} / {r['bytes'] >> 20}", fs_vals(r, "hermit"),
                fs_vals(r, "linux"),
                " / ".join(f"{r[f'ratio_linux_{k}']:.2f}x" if r.get(f"ratio_linux_{k}") else "n/a" for k, _ in OPS)
                if any(k.startswith("ratio_linux_") for k in r) else "n/a",
                _verdict(r) or "not measured") for r in metrics["fs"]])
        out += [f"- {r['board']} {r['accel']} {r['fs']}, {k[:-6].replace('hermit', 'hermitcore').replace('linux', 'Linux guest')}: "
                f"{r[k]}" for r in metrics["fs"] for k in sorted(r) if k.endswith("_error")]
        out += [f"- {r['board']} {r['accel']} {r['fs']}: fsync of the big file (in write MB/s) "
                + ", ".join(f"{name} {r[f'{s}_fsync_ms']:.1f} ms" for s, name in (("hermit", "hermitcore"),
                                                                                   ("linux", "Linux guest"))
                            if f"{s}_fsync_ms" in r)
                + (f"; the share's host directory is on {r['host_fs']} (stat -f)" if "host_fs" in r else "")
                for r in metrics["fs"] if any(k.endswith("_fsync_ms") for k in r)]
        kernels = sorted({r["linux_kernel"] for r in metrics["fs"] if "linux_kernel" in r})
        out += ["", "Small files: NFILES files created (open O_CREAT|O_WRONLY, write 100 bytes, close), then each "
                "stat'ed, then each unlinked, in a fresh subdirectory the program has chdir'd into; each phase timed "
                "as a whole (CLOCK_MONOTONIC, in the guest). Big file: 1 MiB writes, then fsync (counted in write "
                "MB/s), read back in 1 MiB reads (checked), unlinked. One boot runs /tmp then the share; medians of "
                "up to 3 boots per subject, interleaved. The Linux guest is Debian's generic kernel "
                f"({', '.join(kernels) or 'not run'}): the cloud one the other metrics boot has no 9P; its /init is "
                "the same binary (`fs init`: loads virtio transport, 9pnet_virtio and 9p from the same package, "
                "mounts a tmpfs on /tmp and the share `-t 9p -o trans=virtio,version=9p2000.L,msize=528384` on /m); "
                "both guests get the same QEMU -fsdev/-device for the share and 1 CPU, 1 GiB.", ""]
    lg = report.get("linux_guest", {})
    out += ["## Linux-guest baseline", "",
            f"Debian's kernel ({', '.join(f'{a}: {p}' for a, p in lg.get('package', {}).items()) or 'n/a'}) on the "
            "same QEMU machine and command line, the same static "
            "binary as /init, TCG. " + "; ".join(f"{a}: not measured -- {why}" for a, why in lg.get("unavailable", {}).items()),
            ""]
    if report["not_yet"]:
        out += ["## Not measured yet", ""] + [f"- {k}: {v}" for k, v in report["not_yet"].items()] + [""]
    return "\n".join(out)


def chart(report: dict, path: Path) -> str | None:
    rows = report["metrics"].get("exec_to_exit")
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'hermitcore[bench]'); no chart"
    noise = report["metrics"].get("os_noise_fwq") or []
    labels = [f"{r['board']}\n{r['accel']}" for r in rows]
    x = range(len(rows))
    width = max(6, 1.6 * len(rows)) + (max(6, 1.6 * len(noise)) if noise else 0)
    fig, axes = plt.subplots(1, 2 if noise else 1, figsize=(width, 4), squeeze=False)
    ax = axes[0][0]
    ax.bar([i - 0.2 for i in x], [r["hermit_ms"]["median"] for r in rows], 0.4, label="hermitcore hello")
    ax.bar([i + 0.2 for i in x], [r["floor_ms"]["median"] for r in rows], 0.4, label="QEMU floor")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels)
    ax.set_ylabel("exec -> exit, ms (median)")
    ax.set_title("Boot to exit: hermitcore vs the QEMU floor")
    ax.legend()
    if noise:  # OS noise: FWQ overhead p99 per board, next to the host's and the Linux guest's
        ax = axes[0][1]
        series = [("hermitcore", "p99_ns"), ("host", "host_p99_ns"), ("Linux guest", "linux_p99_ns")]
        series = [(name, key) for name, key in series if any(r.get(key) for r in noise)]
        w = 0.8 / len(series)
        for k, (name, key) in enumerate(series):
            ax.bar([i + (k - (len(series) - 1) / 2) * w for i in range(len(noise))],
                   [(r.get(key) or 0) / 1e3 for r in noise], w, label=name)
        ax.set_xticks(list(range(len(noise))))
        ax.set_xticklabels([f"{r['board']}\n{r['accel']}, {r['cpus']} CPUs" for r in noise])
        ax.set_ylabel("FWQ overhead p99, us (lower is quieter)")
        ax.set_title("OS noise: fixed-work quanta on every CPU")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def _soak_markdown(rows, table, out) -> None:
    def kib(v):
        return f"{v:+.0f}" if v is not None else "n/a"

    def ms(us):
        return f"{us / 1e3:.2f}" if us is not None else "n/a"

    def x(v):
        return f"{v:.2f}x" if v is not None else "n/a"

    nets = [r for r in rows if "net" in r]
    table("9. soak, network: the server under wrk (8 keep-alive connections), guest free memory (sysinfo) "
          "after a warm-up run and after the last window",
          ["board", "accel", "duration", "requests", "errors", "free start KiB", "free end KiB", "change KiB",
           "lost B/request", "p99 first -> last ms (drift)", "req/s first -> last (drift)"],
          [(r["board"], r["accel"], f"{len(n['windows'])} x {n['window_s']:g} s", n["requests"], n["errors"],
            n["free_start_kib"], n["free_end_kib"], kib(n["free_delta_kib"]),
            f"{n['lost_bytes_per_request']:.2f}" if n["lost_bytes_per_request"] is not None else "n/a",
            f"{ms(n['p99_first_us'])} -> {ms(n['p99_last_us'])} ({x(n['p99_drift'])})",
            f"{n['req_s_first']:.0f} -> {n['req_s_last']:.0f} ({x(n['req_s_drift'])})")
           for r in nets for n in [r["net"]]])
    out += [f"- {r['board']}: free KiB at boot {r['net']['free_boot_kib']}, after warm-up "
            f"{r['net']['free_start_kib']}, after each window: "
            + ", ".join(str(w["freeram"] // 1024) for w in r["net"]["windows"])
            + "; p99 ms per window: " + ", ".join(ms(w["p99_us"]) for w in r["net"]["windows"]) for r in nets]
    out += [f"- {r['board']}: network soak not measured -- {r['net_error']}" for r in rows if "net_error" in r]
    out.append("")
    ths = [r for r in rows if "threads" in r]
    table("9b. soak, threads: create+join loop with detached threads exiting on their own "
          "(benchmarks/apps/soak_threads.c), guest free memory after a warm-up and after the loop",
          ["board", "accel", "CPUs", "joined + detached", "creates/s", "failed", "free start KiB", "free end KiB",
           "change KiB", "lost B/thread"],
          [(r["board"], r["accel"], t["cpus"], f"{t['joined']} + {t['detached']}", f"{t['creates_per_s']:.0f}",
            t["failed"], t["free_start_kib"], t["free_end_kib"], kib(t["free_delta_kib"]),
            f"{t['lost_bytes_per_thread']:.2f}" if t["lost_bytes_per_thread"] is not None else "n/a")
           for r in ths for t in [r["threads"]]])
    out += [f"- {r['board']}: free KiB at each tenth of the loop: "
            + ", ".join(str(v) for v in r["threads"]["checkpoints_free_kib"]) for r in ths]
    out += [f"- {r['board']}: thread soak not measured -- {r['threads_error']}" for r in rows if "threads_error" in r]
    out += ["", "Numbers, not verdicts: a leak shows as a negative change that grows with the duration "
            "(`--soak-windows`, `--soak-window-s`); free memory counts the kernel's free page frames, so "
            "memory a program touches for the first time and keeps (buffers, glibc's stack cache) counts "
            "too -- the warm-up run takes that before the start reading. QEMU's port forward listens with a backlog "
            "of 1, so some of wrk's 8 simultaneous connects wait for the host's 1 s SYN retry: the first second of "
            "a window runs on fewer connections (it matters in --quick's 2 s windows).", ""]


def soak_chart(report: dict, path: Path) -> str | None:
    """Free memory and p99 latency per wrk window, one line per board."""
    rows = [r for r in report["metrics"].get("soak", []) if "net" in r]
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'hermitcore[bench]'); no soak chart"
    fig, (mem, lat) = plt.subplots(1, 2, figsize=(12, 4))
    for r in rows:
        n = r["net"]
        t = [n["window_s"] * (i + 1) for i in range(len(n["windows"]))]
        label = f"{r['board']} {r['accel']}"
        mem.plot([0] + t, [n["free_start_kib"] / 1024] + [w["freeram"] / 1048576 for w in n["windows"]], "o-",
                 label=label)
        lat.plot(t, [(w["p99_us"] or 0) / 1e3 for w in n["windows"]], "o-", label=label)
    mem.set_xlabel("seconds of wrk (after the warm-up)")
    mem.set_ylabel("guest free memory, MiB")
    mem.set_title("Soak: guest free memory")
    lat.set_xlabel("seconds of wrk (end of window)")
    lat.set_ylabel("p99 latency per window, ms")
    lat.set_title("Soak: p99 latency drift")
    mem.legend()
    lat.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


QUICK_AWARE = {"syscall_round_trip", "threads", "os_noise_fwq", "stream", "net", "soak", "stdio", "fs", "dynamic"}


def _ratio(r, k):
    v = r.get(f"ratio_{k}")
    return f"{v:.2f}x" if v else "n/a (other arch)"


def _vs_linux(r, *keys):
    if f"linux_{keys[0]}" not in r:
        return "not measured"
    return " / ".join(f"{_num(r[f'linux_{k}'])} ({r[f'ratio_linux_{k}']:.2f}x)" for k in keys)


def _num(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few repetitions, one board per architecture (CI smoke)")
    ap.add_argument("--runs", type=int, default=None, help="samples per point (default 10, quick 2)")
    ap.add_argument("--boards", nargs="+", default=None, choices=BOARDS)
    ap.add_argument("--only", nargs="+", choices=METRICS, default=None, metavar="METRIC",
                    help=f"metrics to run: {', '.join(METRICS)}")
    ap.add_argument("--out", default=".", help="directory for bench-report.{md,json}, bench-boot.png, bench-soak.png")
    ap.add_argument("--soak-windows", type=int, default=None, metavar="N",
                    help=f"soak: wrk windows (default {SOAK['full']['windows']}, quick {SOAK['quick']['windows']})")
    ap.add_argument("--soak-window-s", type=float, default=None, metavar="S",
                    help=f"soak: seconds per wrk window (default {SOAK['full']['window_s']}, "
                         f"quick {SOAK['quick']['window_s']})")
    args = ap.parse_args(argv)
    for key, value in (("windows", args.soak_windows), ("window_s", args.soak_window_s)):
        if value is not None:
            if value <= 0:
                ap.error(f"--soak-{key.replace('_', '-')} must be more than 0")
            SOAK["quick" if args.quick else "full"][key] = value
    runs = args.runs or (2 if args.quick else 10)
    boards = args.boards or (["qemu-microvm", "qemu-virt"] if args.quick else list(BOARDS))
    metrics = args.only or list(METRICS)
    SOAK_ONE_PER_ARCH["on"] = args.boards is None
    if args.quick and not args.only:
        # timer_jitter: 1000 shots per board, not smoke-sized; stdio, fs: `--quick --only stdio fs` (the smoke
        # run's metric set is tests/integration/test_bench.py's QUICK_METRICS)
        metrics = [m for m in metrics if m not in ("timer_jitter", "stdio", "fs")]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    report = {"machine": machine_description(), "config": {"runs": runs, "quick": args.quick, "boards": boards},
              "targets": TARGETS, "metrics": {m: [] for m in metrics}, "not_yet": NOT_YET}
    with tempfile.TemporaryDirectory(prefix="hermit-floor-") as tmp:
        for board in boards:
            progress(f"composing {board}")
            runner = Runner(board)
            floor = build_floor(runner.arch, runner.board.ram_base, Path(tmp))
            for metric in metrics:
                extra = {"quick": args.quick} if metric in QUICK_AWARE else {}
                report["metrics"][metric].extend(FUNCS[metric](board, runner, floor, runs, **extra))
    from benchmarks import linux_guest

    report["linux_guest"] = {"package": {a: linux_guest.USED.get(a, meta) for a, (meta, _) in linux_guest.PACKAGES.items()},
                             "unavailable": dict(LINUX_UNAVAILABLE)}
    (out_dir / "bench-report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "bench-report.md").write_text(markdown(report))
    note = chart(report, out_dir / "bench-boot.png")  # boot time and OS noise
    if note:
        progress(note)
    soak_note = soak_chart(report, out_dir / "bench-soak.png")
    if soak_note:
        progress(soak_note)
    print(markdown(report))
    written = [out_dir / "bench-report.md", out_dir / "bench-report.json"]
    written += [out_dir / png for png, rows, failed in (("bench-boot.png", "exec_to_exit", note),
                                                        ("bench-soak.png", "soak", soak_note))
                if report["metrics"].get(rows) and not failed]
    progress("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
