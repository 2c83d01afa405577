"""The command line as an operator uses it: python -m etl load|status, honouring COCKPIT_DB."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shared_readers import reading

REPO = Path(__file__).resolve().parents[1]


def etl(*args: str, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COCKPIT_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "etl", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_load_status_and_refusal_through_the_cli(tmp_path):
    db = tmp_path / "sub" / "cli.duckdb"
    good = tmp_path / "网格.csv"
    good.write_text("事件编号,上报时间,社区,网格,事件类型,处置状态\n"
                    "A1,2025/4/25 9:32:09,清河一社区,QH-1,噪音扰民,处理中\n"
                    "A2,不是日期,清河一社区,QH-1,噪音扰民,处理中\n"
                    "A3,2025-04-26 10:00:00,清河一社区,QH-1,噪音扰民,已办结\n", encoding="gbk")
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")

    first = etl("load", str(good), "--no-painpoints", db=db)
    assert first.returncode == 0, first.stderr
    assert "1 loaded" in first.stdout and str(db) in first.stdout
    assert "网格.csv row 3 column 上报时间: unparseable date" in first.stderr

    again = etl("load", str(good), db=db)
    assert again.returncode == 0 and "1 skipped" in again.stdout

    refused = etl("load", str(bad), db=db)
    assert refused.returncode == 1
    assert "bad.csv" in refused.stderr and "missing required columns" in refused.stderr

    status = etl("status", db=db)
    assert status.returncode == 0
    assert "grid_reports" in status.stdout and "unparseable date" in status.stdout
    with reading(db) as con:
        assert con.execute("SELECT count(*) FROM grid_reports").fetchall()[0][0] == 2


def test_status_without_database_says_how_to_load(tmp_path):
    out = etl("status", db=tmp_path / "none.duckdb")
    assert out.returncode == 0 and "python -m etl demo" in out.stdout
