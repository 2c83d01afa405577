"""The 数据管理 page in AppTest on a database loaded by the real ETL: roles, history, undo."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from pages_fixture import APP
from streamlit.testing.v1 import AppTest

from dashboard import cache
from dashboard.queries.base import Scope
from etl.load import load_paths
from sweep import case

GRID = ("事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"
        "G-1,2026-11-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,夜间施工,处置中\n"
        "G-2,不是日期,清河街道,清河一社区,QH-01-02,违规停车,占用通道,待受理\n"
        "G-3,2026-11-03 08:00:00,清河街道,清河一社区,QH-01-02,违规停车,占用通道,待受理\n")


def _two_loads(folder: Path) -> Path:
    """A database with two loads by the real ETL (clerk's, then boss's)."""
    db = folder / "cockpit.duckdb"
    (folder / "a.csv").write_text(GRID, encoding="utf-8")
    (folder / "b.csv").write_text(GRID.replace("G-", "H-"), encoding="utf-8")
    load_paths([folder / "a.csv"], db, progress=None, loaded_by="clerk")
    load_paths([folder / "b.csv"], db, progress=None, loaded_by="boss")
    return db


@pytest.fixture
def live(tmp_path, monkeypatch) -> Path:
    """Its own loaded database, for a test that writes (undo, a concurrent load)."""
    monkeypatch.setenv("COCKPIT_KEEP_VERSIONS", "3")
    db = _two_loads(tmp_path)
    monkeypatch.setenv("COCKPIT_DB", str(db))
    return db


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """The same database built once per module, for the tests that only read it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_KEEP_VERSIONS", "3")
        return _two_loads(tmp_path_factory.mktemp("data_page"))


@pytest.fixture
def shared(loaded, monkeypatch) -> Path:
    monkeypatch.setenv("COCKPIT_DB", str(loaded))
    monkeypatch.setenv("COCKPIT_KEEP_VERSIONS", "3")
    return loaded


def data_page(scope: Scope | None = None, lang: str = "zh") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = lang
    if scope is not None:
        at.session_state["scope"] = scope
    at.run()
    at.switch_page("../pages/data.py")
    return at.run()


def texts(at) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "success")
                    for e in getattr(at, kind))


def test_leader_sees_upload_limit_history_and_a_loads_rejects(shared):
    at = data_page()
    assert not at.exception and [t.label for t in at.tabs] == ["上传", "加载记录", "撤销加载"]
    assert "50 MB" in texts(at) or "200 MB" in texts(at)
    history = at.dataframe[0].value
    assert history["操作人"].tolist() == ["boss", "clerk"] and history["拒收"].tolist() == [1, 1]
    at.selectbox(key="data_history_pick").set_value(int(history["加载编号"].iloc[1])).run()
    rejects = at.dataframe[1].value
    assert rejects[["行号", "列", "原值", "原因"]].values.tolist() == [[3, "上报时间", "不是日期", "日期无法识别"]]


# the fast loop keeps the aggregate-only role; the others: tests/sweep.py left_to_full_run
@pytest.mark.parametrize("role", [case(r, fast=r == "public", id=r) for r in ("analyst", "community", "public")])
def test_other_roles_are_refused_and_do_not_see_the_page(shared, role):
    scope = Scope(role=role, communities=("清河一社区",) if role == "community" else None)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["scope"] = scope
    at.run()
    with pytest.raises(Exception):
        at.switch_page("../pages/data.py")          # not registered for this role
    from streamlit.testing.v1 import AppTest as _AT
    direct = _AT.from_file(str(Path(APP).parents[1] / "pages" / "data.py"), default_timeout=60)
    direct.session_state["scope"] = scope
    direct.run()
    assert [e.value for e in direct.error] == ["您的账号无权使用数据管理。"] and not direct.tabs


def test_partner_sees_its_scope_and_only_its_own_loads(shared):
    at = data_page(Scope(role="partner", party="boss"), lang="en")
    assert not at.exception and [t.label for t in at.tabs] == ["Upload", "Load history"]
    assert 'partner organisation "boss"' in " ".join(i.value for i in at.info)
    assert at.dataframe[0].value["By"].tolist() == ["boss"]


@pytest.mark.slow   # its own loads, then an undo
def test_leader_undoes_the_last_load_after_confirming_what_disappears(live):
    at = data_page(lang="en")
    last = int(at.dataframe[0].value["Load"].iloc[0])
    at.selectbox(key="data_undo_pick").set_value(last).run()
    assert "1 load(s) below, 2 rows, will disappear" in " ".join(w.value for w in at.warning)
    assert at.dataframe[-2].value["By"].tolist() == ["boss"]
    assert at.dataframe[-1].value.values.tolist() == [["grid reports (grid_reports)", 4, 2]]
    assert at.button(key="data_undo_go").disabled
    at.checkbox(key="data_undo_sure").check().run()
    at.button(key="data_undo_go").click().run()
    assert not at.exception
    assert "Undid 1 load(s) (2 rows)" in " ".join(s.value for s in at.success)
    cache.clear()           # the page's read-only connection has its own configuration
    with duckdb.connect(str(live), read_only=True) as con:
        assert con.execute("SELECT list(report_id ORDER BY report_id) FROM grid_reports").fetchall()[0][0] == ["G-1", "G-3"]
    history = at.dataframe[0].value
    assert history["Status"].tolist() == ["rolled back", "loaded"]
    assert at.dataframe[1].value["By"].tolist() == ["leader"]


@pytest.mark.slow   # its own loads, a dry run and a concurrent load
def test_report_shows_counts_mapping_and_a_concurrent_load_asks_for_a_new_dry_run(live, tmp_path):
    from etl import dryrun
    up = tmp_path / "up"
    up.mkdir()
    (up / "新.csv").write_text(GRID.replace("G-", "N-"), encoding="gbk")
    pending = dryrun.preview([up / "新.csv"], live, workdir=dryrun.new_workdir(live), loaded_by="leader")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["data_pending"] = pending        # as the 试运行 button leaves it
    at.run()
    at.switch_page("../pages/data.py")
    at.run()
    assert not at.exception
    counts = {m.label: m.value for m in at.metric}
    assert counts == {"读取行数": "3", "新增": "2", "更新（以最新为准）": "0", "未变": "0", "拒收": "1"}
    captions = " ".join(c.value for c in at.caption)
    assert "网格事件（grid_reports）" in captions and "gb18030" in captions
    assert "上报时间 → reported\\_at" in captions
    cache.clear()        # DuckDB: one configuration per file per process (the loader's differs)
    (tmp_path / "c.csv").write_text(GRID.replace("G-", "K-"), encoding="utf-8")
    load_paths([tmp_path / "c.csv"], live, progress=None)                # someone else loads
    at.button(key="data_confirm").click().run()
    assert [w.value for w in at.warning][0].startswith("试运行之后数据库已发生变化")
    assert "data_pending" not in at.session_state and not pending.workdir.exists()
    cache.clear()
    with duckdb.connect(str(live), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM grid_reports WHERE report_id LIKE 'N-%'").fetchall() == [(0,)]
