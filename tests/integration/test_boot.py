"""Compose and boot real images in QEMU; assert on what the guest printed and
on the exit status the host sees. Parametrised by board; tox runs the x86_64
and aarch64 boards in separate environments (HERMIT_TEST_ARCH)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import APPS, BOARDS, hermit, selected_arches, selected_boards
from tests.helpers import BOARD

BOOT_TIMEOUT = "120"  # seconds; generous for TCG on a loaded 2-core machine

pytestmark = pytest.mark.skipif(not selected_boards(), reason="no architecture selected")


@pytest.fixture(params=selected_boards())
def board(request):
    return request.param


def banner(result) -> re.Match:
    for line in result.log_lines:
        m = re.match(
            r"hermitcore (\S+) on (\S+) \((\w+)\): (\d+) MiB RAM, (\d+) CPUs?, booted via (\w+)$", line
        )
        if m:
            return m
    raise AssertionError(f"no banner in guest output: {result}")


def test_hello_reports_what_the_vmm_gave(board):
    r = hermit("run", "--board", board, "--cpus", "2", "--mem", "256M", "--timeout", BOOT_TIMEOUT,
               "--", "one", "two words", 'q"uote')
    assert r.rc == 0, r
    m = banner(r)
    assert m.group(2) == board and m.group(3) == BOARDS[board]
    assert (m.group(4), m.group(5)) == ("256", "2")
    assert m.group(6) == ("dtb" if BOARDS[board] == "aarch64" else "pvh")
    assert "Hello from hermitcore!" in r.lines
    assert r.lines[-3:] == ["argv[1] = one", "argv[2] = two words", 'argv[3] = q"uote']


def test_environment_defaults(board):
    r = hermit("run", "--board", board, "--timeout", BOOT_TIMEOUT,
               env={"HERMIT_CPUS": "3", "HERMIT_MEM": "192M"})
    assert r.rc == 0, r
    m = banner(r)
    assert (m.group(4), m.group(5)) == ("192", "3")


def test_hello_boots_in_2_mib(board):
    """The smallest-memory goal: the kernel keeps only the pages it uses (the
    DTB's MiB on aarch64 and the unused early pool go back to the allocator)."""
    r = hermit("run", "--board", board, "--mem", "2M", "--timeout", BOOT_TIMEOUT)
    assert r.rc == 0, r
    assert banner(r).group(4) == "2"
    assert "Hello from hermitcore!" in r.lines
    free = next(int(m.group(1)) for line in r.log_lines if (m := re.search(r"memory: (\d+) KiB free", line)))
    assert 0 < free < 2048


def test_third_party_driver_runs_in_the_guest(board):
    """tests/fixtures/hermitcore-example-fwcfg claims fw_cfg from the board's
    DT; the C it emits reads QEMU's fw_cfg in the guest."""
    r = hermit("run", "--board", board, "--cpus", "2", "--timeout", BOOT_TIMEOUT)
    assert r.rc == 0, r
    assert "[example-fwcfg] fw_cfg signature QEMU, 2 CPU(s)" in r.log_lines


def test_compose_writes_a_bootable_image(board, tmp_path):
    out = tmp_path / "hello.elf"
    c = hermit("compose", "--board", board, "-o", str(out))
    assert c.rc == 0, c
    summary = c.lines[-1]
    assert summary.startswith(f"{out}: {BOARDS[board]} image for {board}, ")
    assert re.search(r"\d+\.\d KiB", summary) and "plugins: " + BOARDS[board] in summary
    assert re.search(r"\d+\.\d\d s", summary)
    r = hermit("run", str(out), "--timeout", BOOT_TIMEOUT, "--", "from-image")
    assert r.rc == 0, r
    assert banner(r).group(2) == board
    assert r.lines[-1] == "argv[1] = from-image"


@pytest.mark.parametrize("status", ["0", "7", "200"])
def test_guest_exit_status_reaches_the_host(board, status):
    r = hermit("run", "--board", board, str(APPS / "exitcode.c"), "--timeout", BOOT_TIMEOUT, "--", status)
    assert f"exiting with {status}" in r.lines, r
    assert r.rc == int(status), r


def test_panic_fails_with_message_and_symbolised_backtrace(board):
    r = hermit("run", "--board", board, str(APPS / "panic.c"), "--timeout", BOOT_TIMEOUT)
    assert r.rc == 134, r
    assert "[hermit] PANIC: deliberate panic from the test app" in r.log_lines
    assert "hermitcore: guest kernel panic: deliberate panic from the test app" in r.err
    frames = [l for l in r.err.splitlines() if re.match(r"hermitcore:\s+#\d+ 0x", l)]
    names = " ".join(frames)
    assert frames[0].split()[3].startswith("deliberate_fault+"), r  # innermost frame: panic's caller
    assert "main+" in names and "kernel_main+" in names, r
    assert "Traceback" not in r.err


#: boards that boot through firmware (SeaBIOS takes ~4 s under kvm_pvm)
FIRMWARE_SECONDS = {"qemu-q35": 15, "qemu-pc": 15}


def test_hanging_guest_is_stopped_at_the_timeout(board):
    limit = 4 + FIRMWARE_SECONDS.get(board, 0)
    r = hermit("run", "--board", board, str(APPS / "hang.c"), "--timeout", str(limit), timeout=120)
    assert r.rc == 124, r
    assert "hanging on purpose" in r.lines
    assert f"guest still running after {limit} s; stopped it" in r.err
    assert "Traceback" not in r.err


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return kids


@pytest.mark.parametrize("verbose", [(), ("-v",)], ids=["plain", "verbose"])
@pytest.mark.parametrize("arch_board", [b for b in ("qemu-microvm", "qemu-virt") if b in selected_boards()])
def test_sigterm_to_run_takes_qemu_down(arch_board, verbose):
    """kill, timeout(1) or a closed terminal end `hermitcore run` with
    SIGTERM/SIGHUP: its QEMU must not run on, orphaned (plain runs and
    -v's QMP-watched ones)."""
    p = subprocess.Popen([sys.executable, "-m", "hermitcore", "run", *verbose, "--board", arch_board,
                          str(APPS / "hang.c"), "--timeout", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        for line in p.stdout:
            if "hanging on purpose" in line:
                break
        qemu = _children(p.pid)
        assert len(qemu) == 1, qemu
        p.terminate()
        assert p.wait(timeout=30) == 128 + signal.SIGTERM
        assert not os.path.exists(f"/proc/{qemu[0]}"), "QEMU outlived hermitcore run"
        assert "Traceback" not in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate()


def test_guest_reset_is_reported_not_taken_for_an_exit(board):
    # TCG: under kvm_pvm a triple fault does not reset the machine (it hangs)
    r = hermit("run", "--board", board, str(APPS / "reset.c"), "--accel", "tcg", "--timeout", BOOT_TIMEOUT)
    assert "about to reset" in r.lines, r
    assert r.rc == 125, r
    assert "QEMU exited with status 0 without a guest exit status" in r.err and "--verbose" in r.err, r
    v = hermit("run", "--board", board, str(APPS / "reset.c"), "--accel", "tcg", "--timeout", BOOT_TIMEOUT, "-v")
    assert v.rc == 125, v
    assert "shutdown reason: guest-reset" in v.err, v
    assert "Traceback" not in r.err + v.err


def test_second_run_of_an_image_starts_from_its_run_plan(board, tmp_path):
    out = tmp_path / "hello.elf"
    assert hermit("compose", "--board", board, "-o", str(out)).rc == 0
    runs = []
    for touch in (False, False, True):
        if touch:  # a changed image is a new plan
            os.utime(out, ns=(time.time_ns(), time.time_ns()))
        runs.append(hermit("run", str(out), "--accel", "tcg", "--timeout", BOOT_TIMEOUT, "-v", "--", "x"))
    origins = [re.search(r"QEMU command line from (the plugins|run plan \S+)", r.err) for r in runs]
    assert all(r.rc == 0 and r.lines[-1] == "argv[1] = x" for r in runs), runs
    assert [m.group(1).split()[0] for m in origins] == ["the", "run", "the"], runs
    plan = json.loads(Path(origins[1].group(1).split(maxsplit=2)[2].rstrip(":")).read_text())
    assert plan["argv"][-1] == str(out) and "-append" not in plan["argv"]
    assert str(out) in [d[0] for d in plan["depends"]]
    # the plan and the plugins give the same command line (but for the run directory)
    argv = [re.sub(r"hermit-run-\w+", "RUN", r.err.splitlines()[1]) for r in runs]
    assert argv[0] == argv[1] == argv[2], argv


def test_tcg_is_always_available(board):
    r = hermit("run", "--board", board, "--accel", "tcg", "--timeout", BOOT_TIMEOUT, "-v")
    assert r.rc == 0, r
    assert "-accel tcg" in r.err


def test_auto_picks_kvm_when_it_serves(board):
    """auto: KVM for a guest of the host's architecture when /dev/kvm is
    usable -- unless the KVM is PVM, which runs our kernel in its instruction
    emulator (slower than TCG); TCG otherwise."""
    from hermitcore.launch import HOST_ARCH, kvm_is_pvm, kvm_usable

    r = hermit("run", "--board", board, "--print-qemu")
    assert r.rc == 0, r
    kvm = HOST_ARCH.get(os.uname().machine) == BOARDS[board] and kvm_usable() and not kvm_is_pvm()
    assert ("-accel kvm" if kvm else "-accel tcg") in r.out


def test_kvm_runs_the_image_when_asked(board):
    """--accel kvm, on any KVM this host has (PVM included): the guest boots
    and its exit status reaches the host."""
    from hermitcore.launch import HOST_ARCH, kvm_usable

    if HOST_ARCH.get(os.uname().machine) != BOARDS[board] or not kvm_usable():
        pytest.skip("no KVM for this architecture here")
    r = hermit("run", "--board", board, "--accel", "kvm", "--timeout", BOOT_TIMEOUT, "-v", "--", "kvm")
    assert r.rc == 0, r
    assert "-accel kvm" in r.err and "Hello from hermitcore!" in r.lines and "argv[1] = kvm" in r.lines


def virtio_console(board) -> bool:
    """The board's console (the kernel log) is a virtio-console port: it has
    the virtio-serial device (a virtio,device3 node) and no UART."""
    from tests.conftest import ROOT

    dts = (ROOT / "boards" / board / "board.dts").read_text()
    return '"virtio,device3"' in dts and "ns16550" not in dts and "pl011" not in dts


def test_print_qemu_shows_board_and_plugin_arguments(board):
    r = hermit("run", "--board", board, "--print-qemu", "--accel", "tcg")
    assert r.rc == 0, r
    cmd = r.out
    if BOARDS[board] == "aarch64":
        assert "qemu-system-aarch64" in cmd and "-machine virt" in cmd and "semihosting" in cmd
        assert "-serial chardev:hcon" in cmd  # from the pl011 plugin
    else:
        assert "qemu-system-x86_64" in cmd and "isa-debug-exit,iobase=0xf4" in cmd
        if virtio_console(board):
            assert "virtconsole,chardev=hcon" in cmd and "-serial " not in cmd  # from the virtio-console plugin
        else:
            assert "-serial chardev:hcon" in cmd  # from the ns16550 plugin


def _board_copy(tmp_path, board, machine):
    import shutil

    from hermitcore.board import find_board_dir

    dst = tmp_path / "boards" / f"broken-{board}"
    shutil.copytree(find_board_dir(board), dst)
    toml = dst / "board.toml"
    toml.write_text(re.sub(r'(?m)^machine = .*$', f'machine = "{machine}"', toml.read_text()))
    return dst


def test_qemu_failing_to_start_shows_its_stderr(board, tmp_path):
    """A QEMU that exits at once must not be mistaken for a guest exit."""
    bad = _board_copy(tmp_path, board, "no-such-machine")
    r = hermit("run", "--board", str(bad), "--timeout", BOOT_TIMEOUT)
    assert r.rc == 125, r
    assert "QEMU failed to start" in r.err and "unsupported machine type" in r.err, r
    assert "Traceback" not in r.err


def test_missing_qemu_names_the_debian_package(board, tmp_path):
    import os
    import shutil

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dtc", "clang", "ld.lld"):
        os.symlink(shutil.which(tool), bindir / tool)
    r = hermit("run", "--board", board, "--timeout", BOOT_TIMEOUT, env={"PATH": str(bindir)})
    binary, package = {
        "x86_64": ("qemu-system-x86_64", "qemu-system-x86"),
        "aarch64": ("qemu-system-aarch64", "qemu-system-arm"),
    }[BOARDS[board]]
    assert r.rc == 1, r
    assert f"'{binary}' not found on PATH; install it with: apt-get install {package}" in r.err, r


def test_cpu_exception_is_reported_with_registers_and_backtrace(board):
    r = hermit("run", "--board", board, str(APPS / "fault.c"), "--timeout", BOOT_TIMEOUT)
    assert r.rc == 139, r
    line = next(l for l in r.log_lines if l.startswith("[hermit] EXCEPTION: "))
    # x86: "page fault (#PF)"; aarch64: "data abort" -- both with the address
    assert re.search(r"(page fault \(#PF\)|data abort) at pc 0x[0-9a-f]+, address 0x10 \(write, not mapped\)", line), line
    assert any(re.search(r"\b(rax|x0 )\s*=", l) for l in r.log_lines), "no register dump"
    frames = " ".join(l for l in r.err.splitlines() if re.match(r"hermitcore:\s+#\d+ 0x", l))
    assert "scribble+" in frames and "main+" in frames, r
    assert "hermitcore: guest kernel exception: " in r.err


def test_kernel_selftests_pass(board):
    """In-guest self-tests: faults caught with the right address, timers,
    1000 interrupts, tickless idle, a UART interrupt through the IOAPIC/GIC,
    heap stress with poisoning."""
    r = hermit("run", "--board", board, "--selftest", "--timeout", BOOT_TIMEOUT)
    results = {}
    for line in r.lines:
        m = re.match(r"\[selftest\] (PASS|FAIL|SKIP) (\w+)", line)
        if m:
            results[m.group(2)] = m.group(1)
    assert r.rc == 0, r
    expected = {
        "null_page_fault", "stack_guard_page_fault", "write_to_text_faults", "execute_data_faults",
        "undefined_instruction", "divide_by_zero", "timer_10ms", "sleep_5ms", "timer_1000_interrupts",
        "tickless_idle", "device_interrupt", "heap_stress",
    }
    assert set(results) == expected, r
    assert [k for k, v in results.items() if v == "FAIL"] == []
    skipped = {k for k, v in results.items() if v == "SKIP"}
    expected_skips = {"divide_by_zero"} if BOARDS[board] == "aarch64" else set()
    if virtio_console(board):
        expected_skips.add("device_interrupt")  # virtio-console raises no test interrupt
    assert skipped == expected_skips
    assert "hermitcore: self-tests passed" in r.err


def test_boot_times_kernel_option(board):
    r = hermit("run", "--board", board, "-k", "hermit.boot-times", "--timeout", BOOT_TIMEOUT)
    assert r.rc == 0, r
    m = next(re.match(r"\[hermit\] boot-times: kernel_main (\d+) ns, main (\d+) ns, exit (\d+) ns$", l)
             for l in r.log_lines if l.startswith("[hermit] boot-times"))
    kmain, amain, exit_ = map(int, m.groups())
    assert 0 < kmain < amain < exit_ < 60 * 10**9
    # then each step from the first instruction to main, in order, adding up
    # to the totals: the arch's early steps, kernel_main, the initcalls, SMP
    steps = [re.match(r"\[hermit\] boot-times:   (\S+(?: \S+)*) +(\d+) ns$", l)
             for l in r.log_lines if l.startswith("[hermit] boot-times:   ")]
    names = [s.group(1) for s in steps]
    k = names.index("to kernel_main")
    assert k >= 1 and names[k + 1] == "command line" and names[-1] == "smp" and "page frames" in names, names
    assert any(n.endswith("_init") for n in names)  # the drivers' initcalls, by name
    ns = [int(s.group(2)) for s in steps]
    assert sum(ns[: k + 1]) == pytest.approx(kmain, abs=2 * len(steps))  # ns rounding only
    assert sum(ns) == pytest.approx(amain, abs=2 * len(steps))


def test_hermit_quiet_leaves_the_informational_lines_out(board):
    """hermit.quiet (what a plain `run` passes): the kernel writes its banner
    (`run` tells a guest that started from one that did not by it) and what
    must be seen, but none of its informational lines."""
    loud = hermit("run", "--board", board, "--timeout", BOOT_TIMEOUT)
    quiet = hermit("run", "--board", board, "-k", "hermit.quiet", "--timeout", BOOT_TIMEOUT)
    assert loud.rc == quiet.rc == 0, (loud, quiet)
    assert any(line.startswith("[hermit] memory: ") for line in loud.log_lines), loud
    assert banner(quiet).group(2) == board, quiet
    assert not [line for line in quiet.log_lines if line.startswith("[hermit] ")], quiet
    assert quiet.out == loud.out, (loud, quiet)  # the application's output is the same


def test_a_plain_run_asks_for_a_quiet_kernel(tmp_path):
    """`run` passes hermit.quiet unless something would show the kernel's
    lines (-v, --kernel-log, --print-qemu): read from QEMU's own command
    line while the guest waits on its stdin."""
    from tests.containerd import _comm

    cat = tmp_path / "cat.c"
    cat.write_text("#include <unistd.h>\nint main(void) { char b[64]; return (int)read(0, b, sizeof b); }\n")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(tmp_path / "cat"), str(cat)], check=True)
    if "x86_64" not in selected_arches():
        pytest.skip("the host's gcc builds x86_64 programs (the x86_64 run covers what run passes)")
    board = BOARD["x86_64"]
    for extra, quiet in (((), True), (("-v",), False), (("--kernel-log", str(tmp_path / "log")), False)):
        proc = subprocess.Popen([sys.executable, "-m", "hermitcore", "run", "--board", board, str(tmp_path / "cat"),
                                 "--timeout", BOOT_TIMEOUT, *extra], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            append, deadline = None, time.monotonic() + 120
            while append is None and time.monotonic() < deadline and proc.poll() is None:
                for name in os.listdir("/proc"):
                    if name.isdigit() and _comm(int(name)).startswith("qemu-system"):
                        try:
                            with open(f"/proc/{name}/cmdline", "rb") as f:
                                argv = f.read().decode().split("\0")
                            with open(f"/proc/{name}/stat") as f:
                                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                        except OSError:
                            continue
                        if ppid == proc.pid and "-append" in argv:
                            append = argv[argv.index("-append") + 1]
                time.sleep(0.05)
            proc.stdin.write(b"x")
            proc.stdin.close()
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert append is not None, (extra, proc.stderr.read())
        assert ("hermit.quiet" in append.split()) == quiet, (extra, append)
        assert rc == 1, extra  # read() got the one byte


def test_unknown_kernel_option_is_reported_not_fatal(board):
    r = hermit("run", "--board", board, "-k", "hermit.nope", "--timeout", BOOT_TIMEOUT)
    assert r.rc == 0, r
    assert "[hermit] unknown kernel option 'hermit.nope' ignored" in r.log_lines


def test_pci_enumeration_names_what_the_board_describes(board):
    """The ECAM scan finds exactly the PCI functions the board's DT lists,
    each named from its pci.ids and reported as having no driver -- except
    the virtio functions, which `run` plugs in only for images that use them
    (a Linux program with the network stack, --mount); test_net and
    test_hostfs see those bound to their drivers."""
    from hermitcore.board import load_board

    expected = {d.pci_id: d.pci_name for d in load_board(board).devices if d.pci_id and d.pci_id[0] != 0x1AF4}
    r = hermit("run", "--board", board, "--timeout", BOOT_TIMEOUT)
    assert r.rc == 0, r
    found = {}
    for line in r.log_lines:
        m = re.match(r"\[hermit\] pci [0-9a-f]{2}:[0-9a-f]{2}\.\d ([0-9a-f]{4}):([0-9a-f]{4}) class [0-9a-f]{6} (.*?)"
                     r" -- no driver in this image$", line)
        if m:
            found[(int(m.group(1), 16), int(m.group(2), 16))] = m.group(3)
    if not expected:
        assert not any(l.startswith("[hermit] pci") for l in r.log_lines), "no PCI bus on this board"
        return
    assert found == expected, r
    # and the standard streams' virtio-serial function, bound to its driver
    assert f"[hermit] pci: {len(expected) + 1} function(s), {len(expected)} without a driver" in r.log_lines, r
