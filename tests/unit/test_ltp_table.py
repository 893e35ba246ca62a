"""docs/linux-abi.md's LTP section (hermitcore/linux_abi_ltp.py, made by
`python3 -m tests.ltp.abi_table`) stays true to tests/integration/test_ltp.py:
its known failures are exactly test_ltp.py's, with the same reasons, and a
test it says passes is no known failure."""

from __future__ import annotations

from hermitcore.linux_abi_ltp import LTP
from tests.integration.test_ltp import KNOWN_FAILURES, KNOWN_FAILURES_ARCH
from tests.ltp.abi_table import syscall_of


def test_known_failures_are_test_ltps():
    table = {t: w for row in LTP.values() for t, w in row["known"].items()}
    known = dict(KNOWN_FAILURES)
    for arch, extra in KNOWN_FAILURES_ARCH.items():
        for t, w in extra.items():
            known.setdefault(t, f"{arch} only: {w}")
    # the table leaves out known failures the host does not pass either
    not_on_host = {t for row in LTP.values() for t in row["host"]}
    assert table == {t: w for t, w in known.items() if t not in not_on_host}


def test_passing_tests_are_no_known_failures():
    for name, row in LTP.items():
        for t in row["pass"]:
            assert t not in KNOWN_FAILURES, t
            assert syscall_of(t) == name, t
