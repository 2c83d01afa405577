"""`python -m etl watch`: the real CLI on a real inbox folder and a real DuckDB file."""
from __future__ import annotations

import fcntl
import getpass
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"


def row(i: int) -> str:
    return f"W-{i},2026-11-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,第{i}条,处置中\n"


def watch(inbox: Path, db: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COCKPIT_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "etl", "watch", str(inbox), "--once", "--settle", "1", *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT report_id FROM grid_reports ORDER BY report_id").fetchall()]


@pytest.mark.slow   # two CLI runs in subprocesses
def test_watch_loads_good_refuses_bad_and_waits_for_a_growing_file(tmp_path):
    inbox, db = tmp_path / "inbox", tmp_path / "db" / "cockpit.duckdb"
    inbox.mkdir()
    (inbox / "good.csv").write_text(HEADER + row(1) + row(2), encoding="utf-8")
    (inbox / "bad.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    growing = inbox / "growing.csv"
    growing.write_text(HEADER + row(100), encoding="utf-8")
    stop = threading.Event()

    def keep_writing():   # an export still being copied into the share
        i = 101
        while not stop.wait(0.05):
            with open(growing, "a", encoding="utf-8") as f:
                f.write(row(i))
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        first = watch(inbox, db)
    finally:
        stop.set()
        writer.join()
    assert first.returncode == 0, first.stderr
    assert (inbox / "loaded" / "good.csv").exists() and ids(db) == ["W-1", "W-2"]
    assert (inbox / "refused" / "bad.csv").exists()
    reasons = (inbox / "refused" / "bad.csv.reasons.txt").read_text("utf-8")
    assert "bad.csv" in reasons and "missing required columns" in reasons
    assert growing.exists(), "a file still growing must wait for the next look"
    lines = [line for line in first.stderr.splitlines() if " loaded good.csv" in line or " refused bad.csv" in line]
    assert len(lines) == 2 and "2 rows read, 2 loaded, 0 rejected" in lines[0] + lines[1]

    rows_written = growing.read_text("utf-8").count("\n") - 1
    second = watch(inbox, db)
    assert second.returncode == 0, second.stderr
    assert (inbox / "loaded" / "growing.csv").exists() and not growing.exists()
    assert len(ids(db)) == 2 + rows_written
    with duckdb.connect(str(db), read_only=True) as con:
        assert {r[0] for r in con.execute("SELECT loaded_by FROM etl_loads").fetchall()} == {
            f"watch:{getpass.getuser()}"}


def test_a_second_watcher_on_the_same_inbox_exits(tmp_path):
    inbox, db = tmp_path / "inbox", tmp_path / "cockpit.duckdb"
    inbox.mkdir()
    (inbox / "good.csv").write_text(HEADER + row(1), encoding="utf-8")
    with open(inbox / ".watch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = watch(inbox, db)
    assert busy.returncode == 75 and "another watcher" in busy.stderr
    assert (inbox / "good.csv").exists() and not db.exists()
