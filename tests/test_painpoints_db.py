"""Pain-point engine against a database: run(), incremental re-runs, real messages, demo data."""
from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from shared_readers import share

from etl import painpoints
from etl.dbfile import ensure_schema, file_identity
from etl.painpoints import normalise as norm
from etl.painpoints.synthetic import corpus
from etl.painpoints.tokenize import read_stopwords

RESULT_TABLES = ("feedback_tokens", "feedback_pain_points", "pain_point_clusters", "pain_points",
                 "pain_point_months", "pain_point_catalog", "feedback_places", "hot_spots")


def build_db(path: Path, feedback: pd.DataFrame) -> Path:
    """A cockpit file holding only `feedback` (columns of the feedback table)."""
    con = duckdb.connect(str(path))
    ensure_schema(con)
    fb = feedback.assign(source_load_id=1)  # noqa: F841 - read by DuckDB
    con.execute("INSERT INTO feedback BY NAME SELECT * FROM fb")
    con.close()
    return path


def write_feedback(path: Path, rows: pd.DataFrame, load_id: int = 2) -> None:
    """Upsert `rows` into the feedback of a database the engine has written, as a load does:
    through the writer and the storage layer (feedback is Parquet parts, etl/storage.py)."""
    from etl import stage, storage
    from etl.dbfile import writer
    frame = rows.reindex(columns=stage.target_columns("feedback"))   # absent columns: NULL, not NaN
    frame = frame.astype(object).where(frame.notna(), None)
    with writer(path) as con:
        con.register("fb_rows", frame)
        con.execute("CREATE TEMP VIEW _clean AS SELECT * FROM fb_rows")
        storage.upsert(con, "feedback", "_clean", stage.target_columns("feedback"), load_id)
        con.execute("DROP VIEW _clean")
        con.unregister("fb_rows")


def dump(path: Path) -> dict[str, list]:
    """Every result table, sorted, as plain rows: equal dumps = byte-identical results."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in RESULT_TABLES}
    finally:
        con.close()


def query(path: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def synthetic_feedback() -> pd.DataFrame:
    fb, _ = corpus(n_months=4, per_month=250, seed=11)
    return fb.drop(columns=["topic"])


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory, synthetic_feedback) -> Path:
    db = build_db(tmp_path_factory.mktemp("pp") / "c.duckdb", synthetic_feedback)
    painpoints.run(db_path=db)
    return share(db)        # read-only from here: one DuckDB instance for the module's readers


def test_run_fills_every_table(synthetic_db, synthetic_feedback):
    counts = {t: len(rows) for t, rows in dump(synthetic_db).items()}
    n = len(synthetic_feedback)
    assert counts["feedback_tokens"] == n and counts["feedback_pain_points"] == n
    assert counts["pain_point_months"] == 4
    per = query(synthetic_db, "SELECT month_on, scope, count(*) n, list(rank ORDER BY rank) r "
                              "FROM pain_points GROUP BY ALL")
    assert len(per) == 4 * 5 and (per["n"] == 3).all()
    assert all(list(r) == [1, 2, 3] for r in per["r"])


def test_top3_rows_match_feedback(synthetic_db):
    """size, share and quotes of each street-wide row recomputed from the raw tables."""
    top = query(synthetic_db, "SELECT * FROM pain_points WHERE scope = '全街道'")
    fpp = query(synthetic_db, "SELECT * FROM feedback_pain_points")
    for r in top.itertuples():
        month = fpp[fpp["month_on"] == r.month_on]
        assert r.size == (month["pain_point_id"] == r.pain_point_id).sum()
        assert r.share == pytest.approx(r.size / len(month))
        mine = set(month.loc[month["pain_point_id"] == r.pain_point_id, "feedback_id"])
        assert set(r.representative_ids) <= mine and len(r.representative_ids) == 3


def test_identity_is_stable_across_months(synthetic_db):
    ids = query(synthetic_db, "SELECT DISTINCT pain_point_id FROM pain_point_clusters")
    catalog = query(synthetic_db, "SELECT * FROM pain_point_catalog")
    assert len(ids) == len(catalog) <= 12        # 9 true topics, 4 months: ids are reused
    assert (catalog["last_month_on"] > catalog["first_month_on"]).sum() >= 7
    streak = query(synthetic_db, "SELECT max(months_in_top3) m FROM pain_points")
    assert streak["m"][0] >= 2


def test_rerun_without_changes_leaves_the_file_alone(synthetic_db):
    before = file_identity(synthetic_db)
    summary = painpoints.run(db_path=synthetic_db)
    assert summary["segmented"] == 0 and summary["months"] == 0
    assert file_identity(synthetic_db) == before


@pytest.mark.slow   # two engine runs
def test_new_month_clusters_only_that_month(tmp_path, synthetic_feedback):
    fb = synthetic_feedback
    last = fb["submitted_at"].max().replace(day=1, hour=0, minute=0)
    incremental = build_db(tmp_path / "inc.duckdb", fb[fb["submitted_at"] < last])
    painpoints.run(db_path=incremental)
    write_feedback(incremental, fb[fb["submitted_at"] >= last])
    summary = painpoints.run(db_path=incremental)
    assert summary["months"] == 1 and summary["segmented"] == len(fb[fb["submitted_at"] >= last])
    full = build_db(tmp_path / "full.duckdb", fb)
    painpoints.run(db_path=full)
    assert dump(incremental) == dump(full)


@pytest.mark.slow   # two engine runs
def test_changed_text_resegments_and_reclusters_from_its_month(tmp_path, synthetic_feedback):
    db = build_db(tmp_path / "c.duckdb", synthetic_feedback)
    painpoints.run(db_path=db)
    first = synthetic_feedback.sort_values("feedback_id").iloc[0]
    write_feedback(db, synthetic_feedback[synthetic_feedback["feedback_id"] == first["feedback_id"]]
                   .assign(text="小区流浪猫太多"))
    summary = painpoints.run(db_path=db)
    assert summary["segmented"] == 1 and summary["months"] == 4
    tokens = query(db, f"SELECT tokens FROM feedback_tokens WHERE feedback_id = '{first['feedback_id']}'")
    assert list(tokens["tokens"][0]) == ["流浪猫"]


@pytest.mark.slow   # a second engine run
def test_forced_months_recluster(synthetic_db, tmp_path):
    db = Path(shutil.copy(synthetic_db, tmp_path / "copy.duckdb"))
    before = dump(db)
    summary = painpoints.run(db_path=db, months=[date(2026, 6, 1)])
    assert summary["months"] == 1 and dump(db) == before


def test_no_database_no_file(tmp_path):
    painpoints.run(db_path=tmp_path / "none.duckdb")
    assert not (tmp_path / "none.duckdb").exists()


# --- the real messages ------------------------------------------------------------------------
def real_feedback(xlsx: Path) -> pd.DataFrame:
    df = pd.read_excel(xlsx, engine="calamine")       # python_calamine underneath
    return pd.DataFrame({
        "feedback_id": df["留言编号"].astype(str),
        "submitted_at": pd.to_datetime(df["留言时间"].astype(str), format="mixed"),
        "subject": df["留言主题"], "text": df["留言详情"].fillna(""), "reply": df["答复意见"],
        "replied_at": pd.to_datetime(df["答复时间"].astype(str), format="mixed", errors="coerce")})


@pytest.fixture(scope="module")
def real_db(tmp_path_factory, real_messages) -> Path:
    db = build_db(tmp_path_factory.mktemp("real") / "real.duckdb", real_feedback(real_messages))
    painpoints.run(db_path=db)
    return db


BAD_KEYWORD = re.compile(r"\d|^[A-Za-z]\d*(省|市|区|县|镇|乡|街道|村)?$")


@pytest.mark.slow
def test_real_messages_end_to_end(real_db):
    months = query(real_db, "SELECT * FROM pain_point_months")
    assert months["messages"].sum() == 2816
    assert (months.loc[months["messages"] >= 30, "k"] >= 2).all()
    assert (months.loc[months["messages"] >= 30, "clusters"] >= 1).all()
    top = query(real_db, "SELECT * FROM pain_points")
    assert len(top) >= 100


@pytest.mark.slow
def test_real_labels_and_keywords_are_content_words(real_db):
    stop = read_stopwords()
    rows = query(real_db, "SELECT label, keywords FROM pain_point_clusters")
    words = {w for kws in rows["keywords"] for w in list(kws)[:5]}
    words |= {part for label in rows["label"] for part in label.split("·")}
    assert words and not words & stop
    assert not [w for w in words if BAD_KEYWORD.search(w)]
    assert not [w for w in words if norm.normalise(w) != w or norm.GREETING.search(w)]
    assert not [w for w in words if len(w) < 2]


@pytest.mark.slow
def test_real_hot_spots_are_place_bound(real_db):
    """Province-wide messages (at most 114 a month, no estate with a burst): few hot spots,
    and each one's messages really name its place."""
    spots = query(real_db, "SELECT * FROM hot_spots")
    assert len(spots) >= 2 and (spots["size"] >= 3).all() and spots["share"].between(0, 1).all()
    places = query(real_db, "SELECT feedback_id, places FROM feedback_places")
    named = dict(zip(places["feedback_id"], places["places"].map(set)))
    for spot in spots.itertuples():
        assert all(spot.place in named[i] for i in spot.representative_ids), spot.place
    mentions = query(real_db, "SELECT count(*) AS n FROM feedback_places WHERE len(mentions) > 0")
    assert mentions["n"].iloc[0] > 1000             # most real messages name a place


@pytest.mark.slow
def test_real_messages_byte_identical_twice(real_db, real_messages, tmp_path):
    again = build_db(tmp_path / "again.duckdb", real_feedback(real_messages))
    painpoints.run(db_path=again)
    assert dump(again) == dump(real_db)


# --- the demo data (generator plants a monthly top-3) --------------------------------------------
@pytest.fixture(scope="module")
def demo_full(tmp_path_factory) -> Path:
    """The demo at its real volume (scale 1, ~620 messages a month over 14 topics): the shared
    scale-0.1 fixture has ~60 a month, too few to tell 14 topics apart."""
    demo = pytest.importorskip("etl.demo")
    from etl.load import load_paths
    from tests.conftest import DEMO_END
    root = tmp_path_factory.mktemp("demo_full")
    demo.generate(root / "inbox", seed=7, scale=1.0, end=DEMO_END, truth_dir=root / "demo_truth")
    db = root / "cockpit.duckdb"
    load_paths([root / "inbox"], db, progress=None)
    painpoints.run(db_path=db)
    return db


def truth_topics(db: Path, truth: Path) -> pd.DataFrame:
    """feedback_id -> true topic; ids the export lacked are derived as the loader does."""
    topics = pd.read_csv(truth / "feedback_topics.csv", dtype=str, keep_default_na=False)
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.register("t", topics)
        return con.execute("""
            SELECT CASE WHEN feedback_id <> '' THEN feedback_id
                        ELSE 'H' || left(sha256(concat_ws('|', CAST(submitted_at::TIMESTAMP AS VARCHAR),
                                                          community, channel, text)), 15) END AS feedback_id,
                   topic
            FROM t""").df()
    finally:
        con.close()


@pytest.mark.slow
def test_demo_planted_top3_recovered(demo_full):
    truth = demo_full.parent / "demo_truth"
    fpp = query(demo_full, "SELECT feedback_id, month_on, pain_point_id FROM feedback_pain_points")
    fpp = fpp.merge(truth_topics(demo_full, truth), on="feedback_id").dropna(subset=["pain_point_id"])
    assert len(fpp) > 10_000
    fpp["month_on"] = pd.to_datetime(fpp["month_on"]).dt.date
    major = fpp.groupby(["month_on", "pain_point_id"])["topic"].agg(lambda s: s.value_counts().index[0])
    top = query(demo_full, "SELECT month_on, pain_point_id FROM pain_points WHERE scope = '全街道'")
    top["month_on"] = pd.to_datetime(top["month_on"]).dt.date
    planted = pd.read_csv(truth / "planted_top3.csv", dtype=str)
    planted["month_on"] = pd.to_datetime(planted["month"]).dt.date
    hits, months = 0, sorted(planted["month_on"].unique())
    for m in months:
        got = {major.get((m, p)) for p in top.loc[top["month_on"] == m, "pain_point_id"]}
        hits += got == set(planted.loc[planted["month_on"] == m, "topic"])
    assert len(months) == 24 and hits / len(months) >= 0.9, f"{hits}/{len(months)} months recovered"


@pytest.mark.slow   # needs the demo build
def test_demo_fixture_has_pain_points(demo_db):
    """The shared small demo database (conftest) comes with pain points for the pages."""
    top = query(demo_db, "SELECT count(*) n, count(DISTINCT month_on) m FROM pain_points")
    assert top["n"][0] > 0 and top["m"][0] >= 20
