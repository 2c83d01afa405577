"""The participation demo: deterministic, loads through the real ETL, planted facts are in the data."""
from __future__ import annotations

import hashlib
import json
import math
import shutil

import duckdb
import pytest

from etl import demo
from etl.load import load_paths

from tests.conftest import DEMO_END
from sweep import left_to_full_run

FILES = ("社区基本情况.csv", "社区会议记录.csv", "议事决议落实台账.csv", "居民议事投票.csv", "居民参与积分台账.csv",
         "积分兑换记录.csv", "项目居民评价.csv")
KINDS = ("communities", "meetings", "resolutions", "votes", "participation", "redemptions", "evaluations")
COUNT_SQL = {k: "SELECT count(*) FROM " + k for k in KINDS}   # fixed at import from the constants above


@pytest.fixture(scope="module")
def con(demo_build):
    c = duckdb.connect(str(demo_build.db), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def truth(demo_build) -> dict:
    return json.loads((demo_build.truth_dir / "participation_truth.json").read_text(encoding="utf-8"))


@left_to_full_run
def test_generator_is_deterministic_and_leaves_older_exports_alone(tmp_path, demo_build):
    again = demo.generate(tmp_path / "inbox", seed=7, scale=0.1, end=DEMO_END, truth_dir=tmp_path / "truth")
    for path in demo_build.inbox.iterdir():
        assert hashlib.sha256(path.read_bytes()).digest() == \
            hashlib.sha256((tmp_path / "inbox" / path.name).read_bytes()).digest(), path.name
    assert {n for n in FILES} <= {p.name for p in demo_build.inbox.iterdir()}
    assert again["counts"] == demo_build.manifest["counts"]


def test_every_participation_file_loads_with_only_the_planted_rejects(demo_build, con):
    by_kind = {r.kind: r for r in demo_build.results if r.kind in KINDS}
    assert set(by_kind) == set(KINDS) and {r.status for r in by_kind.values()} == {"loaded"}
    counts = demo_build.manifest["counts"]
    bad = {}
    for b in demo_build.manifest["bad_rows"]:
        bad[b["kind"]] = bad.get(b["kind"], 0) + 1
    for kind, sql in COUNT_SQL.items():
        n = con.execute(sql).fetchall()[0][0]
        assert n == counts[kind] - bad.get(kind, 0), kind
    reasons = {b["reason"] for b in demo_build.manifest["bad_rows"] if b["kind"] in KINDS}
    assert reasons == {"unknown meeting id", "ballots cast exceed eligible voters",
                       "yes + no + abstain exceed ballots cast", "redemption above the points balance",
                       "unknown project id"}


def test_loading_the_same_files_again_changes_nothing(demo_build, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(demo_build.db, db)
    results = load_paths([demo_build.inbox / n for n in FILES], db, progress=None)
    assert {r.status for r in results} == {"skipped"}


def test_vote_results_match_the_planted_votes(con, truth):
    got = dict(con.execute("SELECT vote_id, valid FROM vote_results").fetchall())
    assert sorted(v for v, ok in got.items() if not ok) == truth["invalid_votes"]
    assert len(truth["invalid_votes"]) == 7
    passed = {r[0] for r in con.execute("SELECT vote_id FROM vote_results WHERE passed").fetchall()}
    assert sorted(passed) == truth["passed_votes"]
    assert set(truth["failed_valid_votes"]).isdisjoint(passed) and len(truth["failed_valid_votes"]) == 5
    share = con.execute("SELECT participation_share FROM vote_results WHERE vote_id = 'TP-008'").fetchall()[0][0]
    assert share == pytest.approx(0.30)   # exactly on the line: valid


def test_concentration_is_realistic_and_planted(truth):
    conc = {c["community"]: c for c in truth["concentration"]}
    planted = conc[truth["planted_community"]]
    assert planted["top_share"] == pytest.approx(0.63, abs=0.01)
    others = [c["top_share"] for name, c in conc.items() if name != truth["planted_community"]]
    assert all(0.48 <= s <= 0.62 for s in others)
    assert sum(c["tasks"] for c in conc.values()) == pytest.approx(2000, abs=8)


def test_pii_is_masked_and_residents_pseudonymised(con, demo_build):
    comments = [r[0] for r in con.execute("SELECT comment FROM evaluations WHERE comment LIKE '%电话%'").fetchall()]
    assert comments and all("****" in c for c in comments)
    raw = (demo_build.inbox / "居民参与积分台账.csv").read_text(encoding="utf-8-sig").splitlines()[1].split(",")[1]
    stored = {r[0] for r in con.execute("SELECT DISTINCT resident_pseudonym FROM participation").fetchall()}
    assert raw not in stored and all(p.startswith("R") and len(p) == 13 for p in stored)


def test_redemptions_never_exceed_the_balance(con):
    over = con.execute("""
        WITH earned AS (SELECT resident_pseudonym, sum(points) AS pts FROM participation_points GROUP BY ALL),
             spent AS (SELECT resident_pseudonym, sum(points) AS pts FROM redemptions GROUP BY ALL)
        SELECT count(*) FROM spent LEFT JOIN earned USING (resident_pseudonym)
        WHERE spent.pts > COALESCE(earned.pts, 0)""").fetchall()[0][0]
    assert over == 0
    assert con.execute("SELECT count(*) FROM redemptions").fetchall()[0][0] > 20


def test_the_badly_rated_project_is_in_the_data(con, truth):
    pid = truth["planted_low_rated_project"]
    avg, n = con.execute("SELECT avg(rating), count(*) FROM evaluations WHERE project_id = $p", {"p": pid}).fetchall()[0]
    assert avg < 3 and n >= 5
    assert [r["project_id"] for r in truth["low_rated_projects"]] == [pid]
    assert math.isclose(truth["low_rated_projects"][0]["avg_rating"], avg)


@left_to_full_run
def test_at_demo_scale_the_papers_figures_are_planted(tmp_path):
    """At scale 1 (~20k tasks): the top 10% carry 63% in the planted community, ~55% elsewhere,
    and residents under 35 take part in ~41% of its council decisions against most elsewhere."""
    import numpy as np

    from etl.demo import participation
    from etl.demo.projects import build_projects
    from etl.demo.world import Ctx, calendar

    (tmp_path / "inbox").mkdir()
    ctx = Ctx(np.random.default_rng(7), 1.0, DEMO_END, tmp_path / "inbox", calendar(DEMO_END))
    projects, _ = build_projects(ctx)
    counts = participation.generate(ctx, 7, projects, tmp_path)
    assert counts["participation"] == 20000 and 2800 <= counts["evaluations"] <= 3200
    assert 20 <= counts["votes"] - 2 <= 40
    facts = json.loads((tmp_path / "participation_truth.json").read_text(encoding="utf-8"))
    conc = {c["community"]: c for c in facts["concentration"]}
    planted = conc.pop(facts["planted_community"])
    assert planted["top_share"] == pytest.approx(0.63, abs=0.005)
    assert planted["young_decision_share"] == pytest.approx(0.41, abs=0.02)
    assert all(0.48 <= c["top_share"] <= 0.60 for c in conc.values())
    assert all(c["young_decision_share"] > 0.7 for c in conc.values())
