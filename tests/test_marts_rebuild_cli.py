"""`python -m etl marts --rebuild` (drift repair): run through the CLI as an operator would, it
recomputes every summary mart from the records, says how many rows differed, and leaves the
summaries equal to a full rebuild; a second run finds nothing to repair."""
from __future__ import annotations

import pytest

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.test_marts_delta import (FEEDBACK_HEADER, GRID_HEADER, differences, feedback_row, grid_row, load,
                                    write)

REPO = Path(__file__).resolve().parents[1]


def etl(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "etl", *args, "--db", str(db)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)


def _drift(text: str, table: str) -> int:
    found = re.search(rf"{table}: ([\d,]+) rows rebuilt, ([\d,]+) differed", text)
    assert found, text
    return int(found.group(2).replace(",", ""))


@pytest.mark.slow   # CLI subprocesses (the fast loop keeps tests/test_catalog_bloat.py, marts.rebuild in-process)
def test_marts_rebuild_repairs_drift_through_the_cli(tmp_path):
    rng = random.Random(3)
    db = tmp_path / "cockpit.duckdb"
    assert load(db, write(tmp_path, "g.csv", GRID_HEADER, [grid_row(rng, f"G{i}") for i in range(300)]),
                write(tmp_path, "f.csv", FEEDBACK_HEADER, [feedback_row(rng, f"F{i}") for i in range(200)])
                ) == ["loaded", "loaded"]
    with duckdb.connect(str(db)) as con:   # drift: a hand edit, a lost row
        con.execute("UPDATE grid_daily SET reports = reports + 5 WHERE day_on = (SELECT min(day_on) FROM grid_daily)")
        con.execute("DELETE FROM feedback_daily WHERE day_on = (SELECT max(day_on) FROM feedback_daily)")
    before = differences(db)
    assert before["grid_daily"] > 0 and before["feedback_daily"] > 0, before

    out = etl("marts", "--rebuild", db=db)
    assert out.returncode == 0, out.stderr
    assert _drift(out.stdout, "grid_daily") > 0 and _drift(out.stdout, "feedback_daily") > 0
    after = differences(db)
    assert after["grid_daily"] == 0 and after["feedback_daily"] == 0, after
    assert after["grid_daily rows"] > 20 and after["feedback_daily rows"] > 20

    again = etl("marts", "--rebuild", db=db)
    assert again.returncode == 0, again.stderr
    assert _drift(again.stdout, "grid_daily") == 0 and _drift(again.stdout, "feedback_daily") == 0
    # every summary is reported, the resident one too (built by etl/marts/residents.py)
    assert all(_drift(again.stdout, t) == 0 for t in ("fund_daily", "grid_resolution_monthly",
                                                      "participation_residents"))


@pytest.mark.slow   # CLI subprocesses
def test_marts_without_rebuild_or_database_says_so(tmp_path):
    none = etl("marts", "--rebuild", db=tmp_path / "none.duckdb")
    assert none.returncode == 1 and "no database" in none.stderr
    bare = etl("marts", db=tmp_path / "none.duckdb")
    assert bare.returncode == 2 and "--rebuild" in bare.stderr
