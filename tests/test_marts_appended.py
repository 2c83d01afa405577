"""Summaries that take a load's delta as appended rows (etl/marts/appended.py): a load leaves the
stored rows as they are and adds its own; every page read gives what the whole (compacted)
summary gives, including the sidebar's lists when an update moves the only report of a
community, category or day elsewhere; compaction folds a month's rows into one per group,
due months first and within a budget; a catalog from before the bookkeeping is marked whole."""
from __future__ import annotations

import random
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_marts_delta import FEEDBACK_HEADER, GRID_HEADER, feedback_row, grid_row, load, write

from dashboard.filters import Filters
from dashboard.queries import briefing, common, grid, overview
from etl import lake, marts
from etl.dbfile import ensure_schema
from etl.marts import appended
from shared_readers import reading
from sweep import left_to_full_run

GRID = ("grid_daily", "grid_resolution_monthly")


def _line(key: str, reported: str, community: str, grid_id: str, category: str, status: str = "处置中",
          resolved: str = "") -> str:
    return ",".join((key, reported, "清河街道", community, grid_id, category, "描述", status, resolved, ""))


def _rows(db: Path, table: str) -> pd.DataFrame:
    with reading(db) as con:   # table: a name of this module
        return con.execute(f"SELECT * FROM {table}").df()


def _sums(table: str) -> str:
    return "reports, opened, closed, sla_due_by, sla_met_by" if table == "grid_daily" else "resolved"


def _count(db: Path, sql: str) -> int:
    with reading(db) as con:
        return con.execute(sql).fetchone()[0]


@pytest.fixture
def moved(moved_template, tmp_path) -> Path:
    """A database after two loads: the second updates stored cases and messages, and moves the
    only report of 孤岛社区 / 孤类 / grid QH-99-01 (and the latest report, 2026-07-15, back to
    April) and the only message of grid QH-98-01 elsewhere. Not compacted (too few rows).

    A copy of the module's template folder with its catalogs' paths moved to the copy
    (tests/demo_cache.py `relocate`, as the kept demo build is moved), instead of the four
    loads again."""
    from demo_cache import relocate

    folder = tmp_path / "db"
    shutil.copytree(moved_template, folder, symlinks=True)
    relocate(folder, str(moved_template))
    return folder / "cockpit.duckdb"


@pytest.fixture(scope="module")
def moved_template(tmp_path_factory) -> Path:
    """The folder of `moved`'s database (catalog, kept version, Parquet parts, salt), loaded by
    the real ETL once per module."""
    tmp_path = tmp_path_factory.mktemp("moved")
    rng = random.Random(5)
    db = tmp_path / "db" / "cockpit.duckdb"
    db.parent.mkdir()
    keys = [f"G{i:04d}" for i in range(300)]
    lone = [_line("LONE1", "2026/03/10 09:00:00", "孤岛社区", "QH-99-01", "孤类"),
            _line("LATE1", "2026/07/15 10:00:00", "清河一社区", "QH-01-01", "噪音扰民")]
    fb = [feedback_row(rng, f"F{i}") for i in range(120)]
    fb.append("FLONE,2026-03-12 08:00:00,清河街道,美和园社区,QH-98-01,公众号,楼道灯坏了,5,,")
    assert load(db, write(tmp_path, "g1.csv", GRID_HEADER, [grid_row(rng, k) for k in keys] + lone),
                write(tmp_path, "f1.csv", FEEDBACK_HEADER, fb)) == ["loaded", "loaded"]
    update = [grid_row(rng, k) for k in rng.sample(keys, 120)]
    update += [_line("LONE1", "2026/03/10 09:00:00", "美和园社区", "QH-02-01", "噪音扰民", "已办结",
                     "2026-03-11 10:00:00"),
               _line("LATE1", "2026/04/15 10:00:00", "清河一社区", "QH-01-01", "噪音扰民")]
    fb2 = [feedback_row(rng, f"F{i}") for i in rng.sample(range(120), 40)]
    fb2.append("FLONE,2026-03-12 08:00:00,清河街道,美和园社区,QH-01-01,公众号,楼道灯坏了,5,,")
    assert load(db, write(tmp_path, "g2.csv", GRID_HEADER, update),
                write(tmp_path, "f2.csv", FEEDBACK_HEADER, fb2)) == ["loaded", "loaded"]
    return db.parent


@left_to_full_run
def test_a_load_appends_its_delta_and_rewrites_no_stored_row(tmp_path):
    rng = random.Random(3)
    db = tmp_path / "cockpit.duckdb"
    keys = [f"G{i:04d}" for i in range(400)]
    assert load(db, write(tmp_path, "g1.csv", GRID_HEADER, [grid_row(rng, k) for k in keys])) == ["loaded"]
    before = tmp_path / "before.duckdb"
    shutil.copyfile(db, before)
    assert load(db, write(tmp_path, "g2.csv", GRID_HEADER, [grid_row(rng, k) for k in rng.sample(keys, 150)])
                ) == ["loaded"]
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("ATTACH $p AS before (READ_ONLY)", {"p": str(before)})
        for t, count in (("grid_daily", "reports"), ("grid_resolution_monthly", "resolved")):  # names of this test
            old, now = (con.execute(f"SELECT count(*) FROM {s}.{t}").fetchone()[0] for s in ("before", "main"))
            groups = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT * EXCLUDE ({_sums(t)}) FROM before.{t})"
                                 ).fetchone()[0]
            gone = con.execute(f"SELECT count(*) FROM (SELECT * FROM before.{t} EXCEPT ALL SELECT * FROM main.{t})"
                               ).fetchone()[0]
            negative = con.execute(f"SELECT count(*) FROM main.{t} WHERE {count} < 0").fetchone()[0]
            assert old == groups > 20          # whole after the first build: one row per group
            assert gone == 0                   # every stored row still there, unchanged
            assert now > old and negative > 0  # the update's delta: rows of its own, superseded ones negative
        grouped = con.execute(appended.grouped_sql(con, "grid_daily", "grid_daily")).df()
        assert (grouped["reports"] >= 0).all() and (grouped["closed"] >= 0).all()
        assert grouped["reports"].sum() == con.execute("SELECT count(*) FROM grid_reports").fetchone()[0]


@left_to_full_run
def test_the_sidebar_lists_sum_the_rows_of_a_group(moved):
    """The only report of a community, category and grid moved elsewhere: its stored row is
    still there (reports 1) beside the load's (reports -1); the lists must not name it."""
    assert _count(moved, "SELECT count(*) FROM grid_daily WHERE community = '孤岛社区' AND reports > 0") == 1
    assert _count(moved, "SELECT count(*) FROM feedback_daily WHERE grid_id = 'QH-98-01' AND messages > 0") == 1
    with reading(moved) as con:
        raw_dims = con.execute("""
            SELECT DISTINCT street, community, grid_id FROM (
                SELECT street, community, grid_id FROM grid_reports
                UNION ALL SELECT street, community, grid_id FROM feedback
                UNION ALL SELECT street, community, NULL FROM projects) WHERE community IS NOT NULL""").df()
        raw_latest = con.execute("SELECT max(d) FROM (SELECT max(reported_at)::DATE d FROM grid_reports "
                                 "UNION ALL SELECT max(submitted_at)::DATE FROM feedback)").fetchone()[0]
        dims = common.dimension_rows(con)
        cats = set(common.categories(con)["category"])
        latest = common.latest_data_date(con)
        bounds = common.date_bounds(con)
    key = ["street", "community", "grid_id"]
    assert (dims[key].sort_values(key).fillna("-").reset_index(drop=True)
            .equals(raw_dims.sort_values(key).fillna("-").reset_index(drop=True)))
    assert "孤岛社区" not in set(dims["community"]) and "QH-98-01" not in set(dims["grid_id"])
    assert "孤类" not in cats and "噪音扰民" in cats
    assert latest == raw_latest < date(2026, 7, 15)
    assert pd.Timestamp(bounds["last_on"].iloc[0]) == pd.Timestamp(raw_latest)


PERIODS = (Filters(), Filters(date_from=date(2026, 3, 1), date_to=date(2026, 5, 31)),
           Filters(date_from=date(2026, 4, 6), date_to=date(2026, 4, 12)),
           Filters(date_from=date(2026, 3, 1), date_to=date(2026, 5, 31), community="美和园社区"))


def _page_reads(db: Path) -> list[pd.DataFrame]:
    """Every read of the summaries the pages make, for a few periods and filters."""
    out = []
    with reading(db) as con:
        out += [common.dimension_rows(con), common.categories(con), common.date_bounds(con)]
        for f in PERIODS:
            out += [overview.grid_kpis(con, f), overview.feedback_kpis(con, f), grid.volume(con, f),
                    grid.heatmap(con, f), briefing.daily_activity(con, f if f.date_from else PERIODS[1])]
            out += [grid.sla_by(con, f, d, min_cases=1) for d in grid.DAILY_DIMENSIONS]
    return out


@left_to_full_run
def test_every_page_read_is_the_same_before_and_after_compaction(moved, tmp_path):
    """The pages read the appended summary (a group on several rows, some negative) and get
    exactly what they get from the same catalog compacted by `python -m etl compact`."""
    compacted = tmp_path / "compacted" / "cockpit.duckdb"
    compacted.parent.mkdir()
    shutil.copyfile(moved, compacted)
    shutil.copyfile(moved.with_name(".cockpit_salt"), compacted.with_name(".cockpit_salt"))
    rows = {t: _count(moved, f"SELECT count(*) FROM {t}") for t in appended.APPENDED}
    done = lake.compact_all(compacted)
    assert all(done[t] for t in appended.APPENDED), done     # every summary had months to fold
    after = {t: _count(compacted, f"SELECT count(*) FROM {t}") for t in appended.APPENDED}
    assert all(after[t] < rows[t] for t in appended.APPENDED), (rows, after)
    with reading(compacted) as con:
        whole = con.execute("SELECT table_name, sum(rows) FROM etl_storage.summary_rows GROUP BY 1").fetchall()
    assert dict(whole) == after                              # marked whole as they are now
    for got, want in zip(_page_reads(moved), _page_reads(compacted)):
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def _bare(months: dict[date, tuple[int, int]]) -> duckdb.DuckDBPyConnection:
    """grid_daily with, per month, (groups whole, groups appended again as a second row)."""
    con = duckdb.connect()
    ensure_schema(con)
    marts.build(con)
    for month, (whole, again) in months.items():
        con.execute("INSERT INTO grid_daily SELECT $m, $m + to_days(CAST(i % 28 AS INTEGER)), '清河街道', "
                    "'美和园社区', 'QH-' || i, '噪音扰民', 1, 1, 0, [0, 1], [0, 0] FROM range($n) t(i)",
                    {"m": month, "n": whole})
    appended.mark_whole(con, "grid_daily")
    for month, (whole, again) in months.items():
        con.execute("INSERT INTO grid_daily SELECT $m, $m + to_days(CAST(i % 28 AS INTEGER)), '清河街道', "
                    "'美和园社区', 'QH-' || i, '噪音扰民', 1, 0, 1, [1, 1], [0, 1] FROM range($n) t(i)",
                    {"m": month, "n": again})
    return con


def test_due_months_are_compacted_worst_first_within_the_budget(monkeypatch):
    monkeypatch.setattr(appended, "COMPACT_FLOOR", 10)
    jan, feb, mar, apr = (date(2026, m, 1) for m in (1, 2, 3, 4))
    con = _bare({jan: (100, 30), feb: (100, 120), mar: (50, 100), apr: (100, 5)})
    # appended beyond COMPACT_SHARE (1.0) of the whole rows: feb (1.2) and mar (2.0); jan, apr not
    assert [(m, n) for _, m, n in appended.due(con, "grid_daily")] == [(mar, 150), (feb, 220)]
    totals = con.execute("SELECT sum(reports), sum(opened), sum(closed), sum(count_at(sla_due_by, day_on, "
                         "DATE '2026-12-31')) FROM grid_daily").fetchone()
    assert appended.compact(con, "grid_daily", budget=200) == [mar]          # feb does not fit after mar
    assert appended.compact(con, "grid_daily", budget=200) == []             # ... nor alone
    assert appended.compact(con, "grid_daily", budget=400) == [feb]
    per_month = dict(con.execute("SELECT month_on, count(*) FROM grid_daily GROUP BY 1").fetchall())
    assert per_month == {jan: 130, feb: 120, mar: 100, apr: 105}             # one row per group
    assert con.execute("SELECT reports, opened, closed, sla_due_by, sla_met_by FROM grid_daily "
                       "WHERE month_on = $m AND grid_id = 'QH-7'", {"m": mar}).fetchall() == [(2, 1, 1, [1, 2], [0, 1])]
    assert con.execute("SELECT sum(reports), sum(opened), sum(closed), sum(count_at(sla_due_by, day_on, "
                       "DATE '2026-12-31')) FROM grid_daily").fetchone() == totals
    assert sorted(m for _, m, _ in appended.due(con, "grid_daily", force=True)) == [jan, apr]
    assert sorted(appended.compact_all(con)["grid_daily"]) == [jan, apr]
    assert appended.due(con, "grid_daily", force=True) == []


@left_to_full_run
def test_groups_that_sum_to_nothing_are_dropped_by_compaction():
    con = _bare({date(2026, 1, 1): (3, 0)})
    con.execute("INSERT INTO grid_daily SELECT month_on, day_on, street, community, grid_id, category, "
                "-reports, -opened, -closed, list_transform(sla_due_by, lambda x: -x), "
                "list_transform(sla_met_by, lambda x: -x) FROM grid_daily WHERE grid_id = 'QH-1'")
    assert appended.compact_all(con)["grid_daily"] == [date(2026, 1, 1)]
    assert sorted(r[0] for r in con.execute("SELECT grid_id FROM grid_daily").fetchall()) == ["QH-0", "QH-2"]


def test_a_catalog_from_before_the_bookkeeping_is_marked_whole_once():
    con = _bare({date(2026, 1, 1): (40, 0), date(2026, 2, 1): (25, 0)})
    con.execute("DROP TABLE etl_storage.summary_rows")        # as a catalog of the merging code
    appended.ensure(con)
    marked = con.execute("SELECT month_on, rows FROM etl_storage.summary_rows WHERE table_name = 'grid_daily' "
                         "ORDER BY 1").fetchall()
    assert marked == [(date(2026, 1, 1), 40), (date(2026, 2, 1), 25)]
    con.execute("INSERT INTO grid_daily SELECT * FROM grid_daily")   # appended rows: not marked again
    appended.ensure(con)
    assert con.execute("SELECT sum(rows) FROM etl_storage.summary_rows WHERE table_name = 'grid_daily'"
                       ).fetchone()[0] == 65


@left_to_full_run
def test_a_load_compacts_the_months_it_made_due(tmp_path, monkeypatch):
    """With a small floor the update load's months are due: the load folds them itself."""
    monkeypatch.setattr(appended, "COMPACT_FLOOR", 1)
    rng = random.Random(9)
    db = tmp_path / "cockpit.duckdb"
    keys = [f"G{i:04d}" for i in range(200)]
    base = [grid_row(rng, k, datetime(2026, 3, 1 + i % 28, 8)) for i, k in enumerate(keys)]
    assert load(db, write(tmp_path, "g1.csv", GRID_HEADER, base)) == ["loaded"]
    whole = _count(db, "SELECT count(*) FROM grid_daily")
    again = [grid_row(rng, k, datetime(2026, 3, 1 + i % 28, 9)) for i, k in enumerate(keys)]
    assert load(db, write(tmp_path, "g2.csv", GRID_HEADER, again)) == ["loaded"]
    with reading(db) as con:
        groups = con.execute(f"SELECT count(*) FROM ({appended.grouped_sql(con, 'grid_daily', 'grid_daily')})"
                             ).fetchone()[0]
        rows = con.execute("SELECT count(*) FROM grid_daily").fetchone()[0]
        marked = con.execute("SELECT sum(rows) FROM etl_storage.summary_rows WHERE table_name = 'grid_daily'"
                             ).fetchone()[0]
    assert whole > 50 and rows == groups == marked        # folded by the load, marked whole


def test_marts_rebuild_reports_no_drift_for_appended_rows(moved):
    """`python -m etl marts --rebuild` compares a summary's summed groups with the rebuild:
    rows a load appended are not drift; a group that is wrong is."""
    assert _count(moved, "SELECT count(*) FROM grid_daily") > _count(
        moved, "SELECT count(*) FROM (SELECT DISTINCT month_on, day_on, street, community, grid_id, category "
               "FROM grid_daily)")                              # a group on several rows
    out = marts.rebuild(moved)
    assert all(out[t][1] == 0 for t in appended.APPENDED), out
    with duckdb.connect(str(moved)) as con:
        con.execute("UPDATE grid_daily SET reports = reports + 2 WHERE rowid = (SELECT min(rowid) FROM grid_daily)")
    assert marts.rebuild(moved)["grid_daily"][1] == 2         # the wrong row, and the right one it replaced
