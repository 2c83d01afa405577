"""Explorer: filter builder -> SQL with bound values; page results equal an independent pandas computation."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.filters import Filters
from dashboard.queries import explore as q
from etl import marts
from etl.dbfile import ensure_schema

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "explore.py")
COMMUNITIES = ["东湖社区", "西岭社区", "南苑社区", "北辰社区"]
CATEGORIES = ["环境卫生", "加装电梯", "停车管理", "噪音扰民", "=HYPERLINK(1)"]


def _reports(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    reported = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h")
    hours = rng.integers(1, 200, n).astype(float)
    resolved = reported + pd.to_timedelta(hours, unit="h")
    open_ = rng.random(n) < 0.2
    return pd.DataFrame({
        "report_id": [f"R{i}" for i in range(n)],
        "reported_at": reported,
        "street": "滨江街道",
        "community": rng.choice(COMMUNITIES, n),
        "grid_id": rng.choice([f"G{i:02d}" for i in range(8)], n),
        "category": rng.choice(CATEGORIES, n),
        "description": rng.choice(["楼道堆物无人清理", "电梯故障停运", "夜间施工噪音", "车位被占"], n),
        "status": np.where(open_, "处置中", "已办结"),
        "resolved_at": resolved.where(~open_),
        "satisfaction": rng.integers(1, 6, n),
        "source_load_id": 1,
    })


@pytest.fixture(scope="module")
def explore_template(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """Built once per module; each test gets its own copy of the file (explore_db)."""
    path = tmp_path_factory.mktemp("explore") / "cockpit.duckdb"
    reports = _reports()
    con = duckdb.connect(str(path))
    ensure_schema(con)
    con.register("r", reports)
    con.execute("INSERT INTO grid_reports BY NAME SELECT * FROM r")
    marts.build(con)          # as every ETL write ends
    con.close()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]    # one file to copy
    return path, reports


@pytest.fixture()
def explore_db(explore_template, tmp_path, monkeypatch) -> tuple[Path, pd.DataFrame]:
    template, reports = explore_template
    path = tmp_path / "cockpit.duckdb"
    shutil.copyfile(template, path)
    monkeypatch.setenv("COCKPIT_DB", str(path))
    return path, reports.copy()


# --- query builder ---
def test_values_are_bound_never_spliced(explore_db):
    evil = "x'); DROP TABLE grid_reports; --"
    spec = q.Spec("grid_reports", ((q.Condition("community", values=(evil,)),
                                    q.Condition("description", text=evil)),))
    sql, params = q.build_sql(spec, Filters())
    assert evil not in sql and evil in params["g0c0_in"]
    con = duckdb.connect(str(explore_db[0]), read_only=True)
    df, truncated = q.run(con, Filters(), spec)
    assert df.empty and not truncated
    assert con.execute("SELECT count(*) FROM grid_reports").fetchone()[0] == 400


def test_only_whitelisted_columns():
    with pytest.raises(KeyError):
        q.build_sql(q.Spec("grid_reports", ((q.Condition("1=1; --", values=("a",)),),)), Filters())
    with pytest.raises(KeyError):
        q.build_sql(q.Spec("grid_reports", group_by=("reporter",)), Filters())
    with pytest.raises(ValueError):
        q.build_sql(q.Spec("grid_reports", group_by=("community",), measure="sum",
                           measure_col="community"), Filters())


def test_and_within_groups_or_between(explore_db):
    path, reports = explore_db
    groups = ((q.Condition("community", values=("东湖社区",)), q.Condition("satisfaction", lo=4)),
              (q.Condition("category", values=("噪音扰民",)),))
    con = duckdb.connect(str(path), read_only=True)
    df, _ = q.run(con, Filters(), q.Spec("grid_reports", groups))
    expected = reports[((reports.community == "东湖社区") & (reports.satisfaction >= 4))
                       | (reports.category == "噪音扰民")]
    assert sorted(df["reported_at"]) == sorted(expected["reported_at"])


def test_global_filters_apply(explore_db):
    path, reports = explore_db
    con = duckdb.connect(str(path), read_only=True)
    f = Filters(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 31), community="西岭社区")
    df, _ = q.run(con, f, q.Spec("grid_reports", group_by=("community",)))
    expected = reports[(reports.reported_at >= "2026-03-01") & (reports.reported_at < "2026-04-01")
                       & (reports.community == "西岭社区")]
    assert df["value"].tolist() == [len(expected)]


# --- the page (AppTest) ---
def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def _table(at: AppTest) -> pd.DataFrame:
    assert not at.exception, at.exception
    return at.dataframe[0].value


def test_page_filters_and_grouping_match_pandas(explore_db):
    _, reports = explore_db
    at = _page()
    at.selectbox(key="explore_dataset").set_value("grid_reports").run()   # descriptions (a new builder: conditions from c1)
    at.selectbox(key="explore_c1_col").set_value("community").run()
    at.multiselect(key="explore_c1_community_in").set_value(["东湖社区", "南苑社区"]).run()
    at.button(key="explore_add_0").click().run()                   # AND ...
    at.selectbox(key="explore_c2_col").set_value("satisfaction").run()
    at.number_input(key="explore_c2_satisfaction_lo").set_value(3).run()
    at.button(key="explore_add_group").click().run()               # OR ...
    at.selectbox(key="explore_c3_col").set_value("description").run()
    at.text_input(key="explore_c3_description_text").set_value("电梯").run()
    at.multiselect(key="explore_grid_reports_groupby").set_value(["category"]).run()

    got = _table(at)
    mask = (reports.community.isin(["东湖社区", "南苑社区"]) & (reports.satisfaction >= 3)) \
        | reports.description.str.contains("电梯")
    expected = reports[mask].groupby("category").size()
    assert dict(zip(got["类别"], got["数量"])) == expected.to_dict()
    assert got["数量"].is_monotonic_decreasing
    assert len(at.get("plotly_chart")) == 1


def test_page_median_and_share_match_pandas(explore_db):
    _, reports = explore_db
    at = _page()
    at.multiselect(key="explore_grid_cases_groupby").set_value(["community"]).run()
    at.selectbox(key="explore_grid_cases_measure").set_value("median").run()
    at.selectbox(key="explore_grid_cases_mcol").set_value("resolution_hours").run()
    got = _table(at)
    hours = (reports.resolved_at - reports.reported_at).dt.total_seconds() / 3600
    expected = hours.groupby(reports.community).median()
    col = [c for c in got.columns if c.startswith("中位数")][0]
    for community, value in zip(got["社区"], got[col]):
        assert value == pytest.approx(expected[community])

    at.selectbox(key="explore_grid_cases_measure").set_value("share").run()
    got = _table(at)
    share = reports.community.value_counts(normalize=True) * 100
    for community, value in zip(got["社区"], got["占比（%）"]):
        assert value == pytest.approx(share[community], abs=0.01)


def test_page_date_range_on_rows(explore_db):
    _, reports = explore_db
    at = _page()
    at.selectbox(key="explore_c0_col").set_value("reported_at").run()
    at.date_input(key="explore_c0_reported_at_lo").set_value(dt.date(2026, 2, 1)).run()
    at.date_input(key="explore_c0_reported_at_hi").set_value(dt.date(2026, 2, 28)).run()
    got = _table(at)
    expected = reports[(reports.reported_at >= "2026-02-01") & (reports.reported_at < "2026-03-01")]
    assert len(got) == len(expected) > 0
    assert set(got["社区"]) == set(expected.community)


def test_page_caps_large_results_with_a_message(explore_db, monkeypatch):
    monkeypatch.setattr(q, "RESULT_CAP", 50)
    at = _page()
    assert len(_table(at)) == 50
    assert any("50" in w.value for w in at.warning)


def test_page_dataset_switch_resets_the_builder(explore_db):
    at = _page()
    at.selectbox(key="explore_c0_col").set_value("community").run()
    at.selectbox(key="explore_dataset").set_value("feedback_enriched").run()
    assert not at.exception
    assert at.selectbox(key="explore_c1_col").value is None
    assert len(at.dataframe) == 0 and len(at.info) == 1   # no feedback rows in this database


def _downloads(monkeypatch) -> dict:
    """Spy on Streamlit's deferred downloads: the page's data callables by file name. Streamlit
    still registers and serves them as usual; the test calls them the way a click would."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    seen: dict = {}
    real = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = data_callable
        return real(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)
    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


def _times(values) -> list[pd.Timestamp]:
    return [pd.Timestamp(v) for v in values]


def test_page_shows_a_page_of_rows_and_exports_them_all(explore_db, monkeypatch):
    import io
    from dashboard.i18n import t
    _, reports = explore_db
    monkeypatch.setattr(q, "SHOWN_ROWS", 30)
    seen = _downloads(monkeypatch)
    at = _page()
    when = t("explore.col.reported_at", "zh")
    assert len(_table(at)) == 30                                   # what the browser receives
    assert t("explore.shown", "zh", shown="30", rows="400") in [c.value for c in at.caption]
    csv = pd.read_csv(io.BytesIO(seen["grid_cases.csv"]()), encoding="utf-8-sig")
    xlsx = pd.read_excel(io.BytesIO(seen["grid_cases.xlsx"]()), engine="openpyxl")
    assert len(csv) == len(xlsx) == len(reports) == 400             # what the downloads hold
    assert sorted(_times(csv[when])) == sorted(_times(xlsx[when])) == sorted(reports.reported_at)
    assert _times(_table(at)[when]) == _times(csv[when][:30])      # the table is the export's head

    at.button(key="explore_more").click().run()
    assert _times(_table(at)[when]) == _times(csv[when][:60])
    assert t("explore.shown", "zh", shown="60", rows="400") in [c.value for c in at.caption]

    # a new question starts again with one page on screen, all of it in the downloads
    at.selectbox(key="explore_c0_col").set_value("community").run()
    at.multiselect(key="explore_c0_community_in").set_value(["东湖社区"]).run()
    expected = int((reports.community == "东湖社区").sum())
    assert len(_table(at)) == 30 < expected
    csv = pd.read_csv(io.BytesIO(seen["grid_cases.csv"]()), encoding="utf-8-sig")
    assert len(csv) == expected


def test_page_shows_every_row_of_a_small_result_without_a_more_button(explore_db):
    _, reports = explore_db
    assert q.SHOWN_ROWS == 1_000 < q.RESULT_CAP
    at = _page()
    assert len(_table(at)) == len(reports)
    assert not any(b.key == "explore_more" for b in at.button)


def test_deferred_export_keeps_the_sessions_scope(explore_db, monkeypatch):
    """The downloads read their rows when clicked, outside the page run (where the query
    scope is back to its default): they must still hold only what the session may see."""
    import io
    from dashboard.queries.base import Scope
    _, reports = explore_db
    monkeypatch.setattr(q, "SHOWN_ROWS", 10)
    seen = _downloads(monkeypatch)
    at = AppTest.from_file(str(Path(PAGE).parents[1] / "dashboard" / "app.py"), default_timeout=60)
    at.session_state["scope"] = Scope(communities=("东湖社区",), role="community")
    at.query_params["from"] = "2026-01-01"
    at.run()
    at.switch_page("../pages/explore.py")
    at.run()
    assert not at.exception, at.exception
    own = reports[reports.community == "东湖社区"]
    assert len(_table(at)) == 10 < len(own)                          # one page on screen
    csv = pd.read_csv(io.BytesIO(seen["grid_cases.csv"]()), encoding="utf-8-sig")
    assert set(csv[t_col("community")]) == {"东湖社区"}
    assert len(csv) == len(own)


def t_col(name: str) -> str:
    from dashboard.i18n import t
    return t(f"explore.col.{name}", "zh")
