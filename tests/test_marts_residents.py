"""participation_residents (etl/marts/residents.py): after every load of a sequence (new records,
updates that move a record to another day, month, community or resident, a key repeated in a
file, a refused file, a load that does not touch participation) the summary equals a whole
rebuild of the same catalog (EXCEPT ALL both ways), reached by the month refresh - not a whole
rebuild; and the concentration read from it equals the one over the records, for any period
and scope, also in a catalog written before the summary existed."""
from __future__ import annotations

import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from shared_readers import share

from dashboard.filters import Filters
from dashboard.queries import participation as pq
from dashboard.queries.base import Scope, fetch, use_scope
from dashboard.queries.common import period_params
from etl import marts
from etl.marts import residents
from shared_readers import reading
from tests.test_marts_delta import load
from sweep import left_to_full_run

HEADER = "记录编号,居民,街道,社区,参与类型,参与日期,时长,年龄段\n"
COMMUNITIES = ("清河一社区", "美和园社区", "毛纺北社区")
ACTIVITIES = ("议事会", "志愿服务", "设施巡查")
START = date(2026, 3, 1)


def row(rng: random.Random, key: str, residents: int = 40, day: date | None = None) -> str:
    day = day or START + timedelta(days=rng.randrange(0, 120))
    return ",".join((key, f"居民{rng.randrange(residents):03d}", "清河街道", rng.choice(COMMUNITIES),
                     rng.choice(ACTIVITIES), day.isoformat(), str(rng.choice((1, 2, 3))),
                     rng.choice(("18-34", "50-64", ""))))


def write(folder: Path, name: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def differences(db: Path) -> tuple[int, int]:
    """(rows differing from a whole rebuild of a copy of `db`, rows in `db`'s summary)."""
    ref = db.with_name("reference.duckdb")
    shutil.copyfile(db, ref)
    try:
        with duckdb.connect(str(ref)) as con:
            marts.build(con)
            con.execute("ATTACH $p AS live (READ_ONLY)", {"p": str(db)})
            t = residents.TABLE
            diff = sum(con.execute(sql).fetchone()[0] for sql in (
                f"SELECT count(*) FROM (SELECT * FROM main.{t} EXCEPT ALL SELECT * FROM live.{t})",
                f"SELECT count(*) FROM (SELECT * FROM live.{t} EXCEPT ALL SELECT * FROM main.{t})"))
            rows = con.execute(f"SELECT count(*) FROM live.{t}").fetchone()[0]
    finally:
        ref.unlink()
    return diff, rows


@pytest.fixture
def builds(monkeypatch):
    """How residents.build was asked to bring the summary up to date, one entry per build."""
    seen: list[object] = []
    real = residents.build

    def observed(con, changed=None):
        seen.append(None if changed is None else sorted(changed.get(residents.SOURCE) or ()))
        return real(con, changed)
    monkeypatch.setattr(residents, "build", observed)
    return seen


def assert_same_as_rebuild(db: Path) -> None:
    diff, rows = differences(db)
    assert diff == 0, f"{diff} rows differ from a whole rebuild"
    assert rows > 20


@pytest.mark.slow   # several real loads (the fast loop keeps the summary against the records under three scopes)
def test_a_sequence_of_loads_keeps_the_summary_equal_to_a_whole_rebuild(tmp_path, builds):
    rng = random.Random(5)
    db = tmp_path / "cockpit.duckdb"
    keys = [f"P{i:05d}" for i in range(400)]
    assert load(db, write(tmp_path, "p1.csv", [row(rng, k) for k in keys])) == ["loaded"]
    assert_same_as_rebuild(db)                          # the first build: whole

    # updates of stored keys (another day, month, community or resident), a key twice in the
    # file (the last line wins), new keys and new residents
    builds.clear()
    updates = [row(rng, k) for k in rng.sample(keys, 120)]
    updates += [row(rng, "P00001"), row(rng, "P00001")]
    updates += [row(rng, f"N{i:04d}", residents=60) for i in range(80)]
    assert load(db, write(tmp_path, "p2.csv", updates)) == ["loaded"]
    assert builds and all(isinstance(b, list) and b for b in builds), builds   # a month refresh
    assert_same_as_rebuild(db)

    # a file refused in the same command (most dates invalid) and a good one
    bad = write(tmp_path, "p3.csv", [row(rng, k).replace("2026-", "20x6-") for k in keys[:60]])
    good = write(tmp_path, "p4.csv", [row(rng, k, day=START + timedelta(days=200)) for k in keys[200:230]])
    assert sorted(load(db, bad, good)) == ["loaded", "refused"]
    assert_same_as_rebuild(db)

    # every record of one resident moved out of the months it had (rows left empty go away)
    with reading(db) as con:
        mine = [k for (k,) in con.execute("SELECT record_id FROM participation WHERE resident_pseudonym = "
                                          "(SELECT min(resident_pseudonym) FROM participation)").fetchall()]
    moved = [row(random.Random(i), k, residents=1, day=START - timedelta(days=40)) for i, k in enumerate(mine)]
    assert load(db, write(tmp_path, "p5.csv", moved)) == ["loaded"]
    assert_same_as_rebuild(db)


def _concentration(con, query: str, f: Filters, scope: Scope):
    top = float(pq.rule_values(con, f).iloc[0]["top_share"])
    with use_scope(scope):
        return fetch(con, query, period_params(con, f, top=top)).iloc[0].tolist()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("residents")
    rng = random.Random(9)
    db = folder / "cockpit.duckdb"
    # skewed: a few residents carry many tasks, residents active in two communities
    rows = [row(rng, f"A{i:05d}", residents=rng.choice((5, 30, 300))) for i in range(1500)]
    assert load(db, write(folder, "a.csv", rows)) == ["loaded"]
    return share(db)        # read-only from here: one DuckDB instance for the module's readers


PERIODS = (Filters(), Filters(date_from=date(2026, 3, 1), date_to=date(2026, 6, 28)),
           Filters(date_from=date(2026, 4, 10), date_to=date(2026, 4, 30)),
           Filters(date_from=date(2026, 5, 17), date_to=date(2026, 5, 17)),
           Filters(date_to=date(2026, 3, 31)), Filters(date_from=date(2026, 4, 1), community="美和园社区"),
           Filters(date_from=date(2027, 1, 1), date_to=date(2027, 1, 31)))


@pytest.mark.parametrize("scope", [Scope(), Scope(communities=("清河一社区", "毛纺北社区"), role="community"),
                                   Scope(role="public")], ids=["leader", "community", "public"])
@left_to_full_run
def test_the_concentration_from_the_summary_equals_the_records(loaded, scope):
    con = duckdb.connect(str(loaded), read_only=True)
    try:
        with use_scope(scope):
            assert bool(fetch(con, pq.HAS_TABLES_SQL)["summary"].iloc[0])
        seen = []
        for f in PERIODS:
            got = _concentration(con, pq.CONCENTRATION_SQL, f, scope)
            want = _concentration(con, pq.CONCENTRATION_RECORDS_SQL, f, scope)
            assert got == pytest.approx(want, rel=0, abs=0, nan_ok=True), (f, got, want)
            seen.append(got)
    finally:
        con.close()
    assert any(s[0] > 50 and 0 < s[3] < 1 for s in seen)      # a real distribution was compared
    assert seen[-1][0] == 0                                     # and an empty period


@left_to_full_run
def test_a_catalog_without_the_summary_gives_the_same_kpis(loaded, tmp_path):
    old = tmp_path / "old.duckdb"
    shutil.copyfile(loaded, old)
    with duckdb.connect(str(old)) as con:
        con.execute(f"DROP TABLE {residents.TABLE}")       # as written before the summary existed
    f = Filters(date_from=date(2026, 1, 1), date_to=date(2026, 7, 31))
    out = []
    for path in (loaded, old):
        con = duckdb.connect(str(path), read_only=True)
        try:
            assert bool(fetch(con, pq.HAS_TABLES_SQL)["summary"].iloc[0]) == (path == loaded)
            out.append(pq.kpis(con, f).iloc[0][["active_residents", "top_share", "gini"]].tolist())
        finally:
            con.close()
    assert out[0] == out[1] and out[0][0] > 50
