"""cockpit.py, the one-command launcher: how `python3 cockpit.py test` runs pytest."""
from __future__ import annotations

import cockpit


def test_the_full_run_uses_two_workers_unless_told_otherwise(monkeypatch):
    monkeypatch.setattr(cockpit.os, "cpu_count", lambda: 2)
    assert cockpit.test_workers([]) == ["-n", "2"]
    assert cockpit.test_workers(["tests/test_i18n.py", "-x"]) == ["-n", "2"]
    for own in (["-n", "4"], ["-n0"], ["--numprocesses=3"], ["-p", "no:xdist"]):
        assert cockpit.test_workers(own) == [], own


def test_one_core_runs_in_one_process(monkeypatch):
    monkeypatch.setattr(cockpit.os, "cpu_count", lambda: 1)
    assert cockpit.test_workers([]) == []
