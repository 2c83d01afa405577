"""The fast loop's slice of a big parametrised sweep, and the tests it leaves to the full run.

The fast loop (`pytest -m "not slow and not e2e"`, README) runs a representative slice of each
sweep (scope matrix, every query under every role, every page in both languages); the full run
(`pytest`) runs every case. A case outside the slice is marked `slow` by `case()`, so which cases
the fast loop keeps is written next to the sweep in its test module.
"""
from __future__ import annotations

import pytest


def case(*values, fast: bool, id: str | None = None):
    """One parametrised case; `fast=False` leaves it to the full run (marked slow)."""
    return pytest.param(*values, id=id, marks=() if fast else (pytest.mark.slow,))


# A test of seconds whose every line of dashboard/, etl/ and pages/ the fast loop's other tests
# execute too (tests/loop_coverage.py finds them): the full run keeps it, the fast loop does not
# need it to run that code. Its subject is then one the fast loop still touches but does not
# dwell on: a further case of a sweep, a cost property (what a write skips, which files a read
# opens), a concurrent or multi-load scenario, a child process's life. docs/TESTING.md.
left_to_full_run = pytest.mark.slow
