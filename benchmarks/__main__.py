"""Run every benchmark: python3 -m benchmarks [--runs N]"""

import sys

from benchmarks import boot, timer

runs = sys.argv[1:]
print("== boot breakdown")
boot.main(runs)
print("\n== timer jitter")
timer.main([])
