"""The fast loop's slice of a big parametrised sweep.

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
