"""Timer jitter: lateness of a 1 ms one-shot timer over 1000 shots, in the
guest (its own clock), per board and accelerator.

    python3 -m benchmarks.timer [--boards B ...]
"""

from __future__ import annotations

import argparse

from benchmarks.common import APPS, BOARDS, Runner, accelerators, field


def measure(board: str) -> list[dict]:
    runner = Runner(board, str(APPS / "timer_jitter.c"))
    rows = []
    for accel in accelerators(runner.arch):
        _, out = runner.run(accel, timeout=300)
        m = field(r"timer_1ms_lateness_ns min=(\d+) median=(\d+) p99=(\d+) max=(\d+)", out)
        rows.append({"board": board, "accel": accel, **{k: int(v) for k, v in zip(("min", "median", "p99", "max"), m.groups())}})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boards", nargs="+", default=list(BOARDS))
    args = ap.parse_args(argv)
    print(f"{'board':<16} {'accel':<5} {'min us':>8} {'median us':>10} {'p99 us':>8} {'max us':>8}   (1 ms one-shot, 1000 shots, lateness)")
    for board in args.boards:
        for r in measure(board):
            print(f"{r['board']:<16} {r['accel']:<5} {r['min'] / 1e3:>8.1f} {r['median'] / 1e3:>10.1f} "
                  f"{r['p99'] / 1e3:>8.1f} {r['max'] / 1e3:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
