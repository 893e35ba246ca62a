"""Boot breakdown per board and accelerator.

Host: wall time from exec of QEMU (the exact command line `hermitcore run`
builds) to its exit. Guest (kernel option hermit.boot-times, the guest's own
counter from the first instruction): first instruction -> kernel_main ->
main -> exit. "QEMU start" is host total minus the guest's part.

    python3 -m benchmarks.boot [--runs N] [--boards B ...]
"""

from __future__ import annotations

import argparse

from benchmarks.common import BOARDS, Runner, accelerators, field, summary


def measure(board: str, runs: int) -> list[dict]:
    runner = Runner(board)
    rows = []
    for accel in accelerators(runner.arch):
        host, kmain, amain, exit_ = [], [], [], []
        for _ in range(runs):
            seconds, out = runner.run(accel, kernel_args=["hermit.boot-times"])
            m = field(r"boot-times: kernel_main (\d+) ns, main (\d+) ns, exit (\d+) ns", out)
            host.append(seconds * 1e3)
            kmain.append(int(m.group(1)) / 1e3)
            amain.append(int(m.group(2)) / 1e3)
            exit_.append(int(m.group(3)) / 1e3)
        qemu_start = [h - e / 1e3 for h, e in zip(host, exit_)]
        rows.append(
            {
                "board": board, "accel": accel, "runs": runs,
                "host_exec_to_exit_ms": summary(host),
                "qemu_start_to_first_insn_ms": summary(qemu_start),
                "first_insn_to_kernel_main_us": summary(kmain),
                "first_insn_to_main_us": summary(amain),
                "first_insn_to_exit_us": summary(exit_),
            }
        )
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--boards", nargs="+", default=list(BOARDS))
    args = ap.parse_args(argv)
    print(f"{'board':<16} {'accel':<5} {'exec->exit ms':>14} {'qemu start ms':>14} "
          f"{'->kernel_main us':>17} {'->main us':>10} {'->exit us':>10}   (median of {args.runs}; min-max)")
    for board in args.boards:
        for r in measure(board, args.runs):
            h = r["host_exec_to_exit_ms"]
            print(
                f"{r['board']:<16} {r['accel']:<5} {h['median']:>14.1f} "
                f"{r['qemu_start_to_first_insn_ms']['median']:>14.1f} "
                f"{r['first_insn_to_kernel_main_us']['median']:>17.0f} {r['first_insn_to_main_us']['median']:>10.0f} "
                f"{r['first_insn_to_exit_us']['median']:>10.0f}   exec->exit {h['min']:.1f}-{h['max']:.1f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
