"""Dry run, confirm, partner uploads and undo on real DuckDB files through the real ETL."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from etl import dryrun, versions
from etl.load import load_paths
from shared_readers import reading
from sweep import left_to_full_run

PROJECTS = ("项目编号,项目名称,社区,项目类别,牵头单位,主体类型,合作方,项目阶段,预算(元),进度\n"
            "P-1,加装电梯一期,清河一社区,加装电梯,阳光社工站,社会工作者,红枫志愿队、清河居委会,实施,100000,40\n"
            "P-2,长者食堂,美和园社区,养老,暖心基金会,社会慈善资源,,实施,50000,10\n")
TXN_HEADER = "流水号,日期,项目编号,收支,资金来源类型,来源方,金额\n"
GRID = ("事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"
        "G-1,2026-11-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,夜间施工,处置中\n"
        "G-2,2026-11-02 08:00:00,清河街道,清河一社区,QH-01-02,违规停车,占用通道,待受理\n")
DATA_TABLES = ("grid_reports", "projects", "project_milestones", "fund_transactions", "feedback")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def checksums(db: Path, tables=DATA_TABLES) -> dict[str, tuple]:
    """Per table: row count and an order-independent hash of every row (minus load lineage)."""
    with reading(db) as con:
        return {t: con.execute(f"SELECT count(*), bit_xor(hash(COLUMNS(* EXCLUDE (source_load_id)))) "
                               f"FROM {t}").fetchall()[0] for t in tables}


@pytest.fixture(scope="module")
def live_template(tmp_path_factory) -> Path:
    """The folder of `live`'s database (its catalog, Parquet parts and salt file), loaded by the
    real ETL once per module."""
    root = tmp_path_factory.mktemp("live-template")
    db = root / "live" / "cockpit.duckdb"
    db.parent.mkdir()
    src = root / "src"
    src.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("COCKPIT_PSEUDONYM_SALT", raising=False)     # the salt file beside the db is used
        load_paths([write(src / "projects.csv", PROJECTS), write(src / "grid.csv", GRID)], db,
                   progress=None)
    return db.parent


@pytest.fixture
def live(live_template, tmp_path, monkeypatch) -> Path:
    """A live database with two projects and two grid reports, loaded by the real ETL: a copy
    of the module's template folder, its catalog's paths moved to the copy (tests/demo_cache.py
    `relocate`, as the kept demo build is moved; a quarter of the CPU of loading it again)."""
    from demo_cache import relocate

    monkeypatch.delenv("COCKPIT_PSEUDONYM_SALT", raising=False)   # the salt file beside the db is used
    folder = tmp_path / "live"
    shutil.copytree(live_template, folder, symlinks=True)
    relocate(folder, str(live_template))
    return folder / "cockpit.duckdb"


def staged(tmp_path: Path, name: str, text: str, encoding="utf-8") -> Path:
    folder = tmp_path / "up"
    folder.mkdir(exist_ok=True)
    return write(folder / name, text, encoding)


def run_preview(live: Path, files: list[Path], **kw) -> dryrun.Preview:
    return dryrun.preview(files, live, workdir=dryrun.new_workdir(live), loaded_by="tester", **kw)


def test_dry_run_reports_new_updated_unchanged_rejected_and_changes_nothing(tmp_path, live):
    before = live.read_bytes()
    grid = staged(tmp_path, "网格.csv", (
        "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"
        "G-1,2026-11-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,夜间施工,处置中\n"      # unchanged
        "G-2,2026-11-02 08:00:00,清河街道,清河一社区,QH-01-02,违规停车,占用通道,已办结\n"      # updated
        "G-3,2026-11-03 08:00:00,清河街道,美和园社区,MH-01-01,垃圾分类,满溢,待受理\n"          # new
        "G-4,不是日期,清河街道,美和园社区,MH-01-01,垃圾分类,满溢,待受理\n"), "gbk")             # rejected
    p = run_preview(live, [grid])
    [rep] = p.reports
    assert (rep.kind, rep.status, rep.encoding) == ("grid_reports", "loaded", "gb18030")
    assert (rep.rows_read, rep.new, rep.updated, rep.unchanged, rep.rejected) == (4, 1, 1, 1, 1)
    assert ("上报时间", "reported_at") in rep.mapping and ("处置状态", "status") in rep.mapping
    r = rep.rejects.iloc[0]
    assert (r["file"], r["row"], r["column"], r["value"], r["reason"]) == (
        "网格.csv", 5, "上报时间", "不是日期", "unparseable date")
    assert live.read_bytes() == before and p.changes


@left_to_full_run
def test_confirm_loads_exactly_the_dry_run_which_equals_a_cli_load(tmp_path, live):
    twin = tmp_path / "twin" / "cockpit.duckdb"
    twin.parent.mkdir()
    shutil.copyfile(live, twin)
    shutil.copyfile(live.parent / ".cockpit_salt", twin.parent / ".cockpit_salt")
    txns = staged(tmp_path, "流水.csv", TXN_HEADER + "T-1,2026-11-01,P-1,收入,财政拨款,区民政局,50000\n"
                                                     "T-2,2026-11-02,P-9,支出,,,100\n"
                                                     "T-3,2026-11-03,P-2,支出,,某超市,-5\n"
                                                     "T-4,2026-11-04,P-2,支出,,某超市,300\n")
    p = run_preview(live, [txns])
    [rep] = p.reports
    assert (rep.new, rep.rejected) == (2, 2)
    previewed = checksums(p.candidate)
    dryrun.confirm(p)
    assert checksums(live) == previewed
    load_paths([txns], twin, progress=None)                  # what `python -m etl load` does
    assert checksums(twin) == checksums(live)
    with reading(live) as con:
        assert con.execute("SELECT loaded_by, rows_loaded, rows_rejected FROM etl_loads "
                           "WHERE source_kind = 'fund_transactions'").fetchall() == [("tester", 2, 2)]
    assert not p.workdir.exists()


@pytest.mark.slow   # a dry run and a concurrent load
def test_confirm_after_a_concurrent_load_asks_to_preview_again(tmp_path, live):
    p = run_preview(live, [staged(tmp_path, "g.csv", GRID.replace("G-2", "G-5"))])
    load_paths([write(tmp_path / "other.csv", GRID.replace("G-1", "G-8"))], live, progress=None)
    after_other = live.read_bytes()
    with pytest.raises(versions.StaleDatabase):
        dryrun.confirm(p)
    assert live.read_bytes() == after_other
    again = run_preview(live, [staged(tmp_path, "g.csv", GRID.replace("G-2", "G-5"))])
    dryrun.confirm(again)
    with reading(live) as con:
        assert con.execute("SELECT list(report_id ORDER BY report_id) FROM grid_reports").fetchall()[0][0] == [
            "G-1", "G-2", "G-5", "G-8"]


def test_partner_rows_for_a_foreign_project_are_rejected_not_your_project(tmp_path, live):
    txns = staged(tmp_path, "ledger.csv", TXN_HEADER + "T-1,2026-11-01,P-1,收入,财政拨款,区民政局,500\n"
                                                       "T-2,2026-11-01,P-2,收入,财政拨款,区民政局,700\n"
                                                       "T-3,2026-11-02,P-1,支出,,物业,80\n")
    for party in ("阳光社工站", "红枫志愿队"):          # the lead party, and a partner party
        p = run_preview(live, [txns], partner=party)
        [rep] = p.reports
        assert (rep.status, rep.new, rep.rejected) == ("loaded", 2, 1)
        assert rep.rejects[["row", "column", "value", "reason"]].values.tolist() == [
            [3, "项目编号", "P-2", "not your project"]]
        p.discard()
    # two of three rows foreign: more than half invalid refuses the file, as `etl load` does
    [rep] = run_preview(live, [txns], partner="暖心基金会").reports
    assert rep.status == "refused" and rep.problem.code == "refused"
    assert "not your project" in rep.problem.detail and set(rep.rejects["value"]) == {"P-1"}


def test_partner_cannot_upload_grid_reports_and_bad_files_get_one_problem(tmp_path, live):
    grid = staged(tmp_path, "grid.csv", GRID)
    empty = staged(tmp_path, "empty.csv", "")
    notes = staged(tmp_path, "notes.docx", "x")
    lacking = staged(tmp_path, "lacking.csv", "事件编号,社区\nG-1,清河一社区\n")
    big = staged(tmp_path, "big.csv", GRID * 50)
    p = run_preview(live, [grid, empty, notes, lacking, big], partner="阳光社工站", max_bytes=4000)
    problems = {r.file: (r.problem.code, r.problem.detail) for r in p.reports}
    assert problems["grid.csv"] == ("kind_not_allowed", "grid.csv: grid_reports")
    assert problems["empty.csv"][0] == "empty"
    assert problems["notes.docx"] == ("format", ".docx")
    assert problems["lacking.csv"][0] == "missing_columns" and "上报时间 (reported_at)" in problems["lacking.csv"][1]
    assert problems["big.csv"][0] == "too_large"
    assert not p.changes


@pytest.mark.slow   # several loads and an undo
def test_undo_restores_the_exact_previous_contents_and_keeps_later_history(tmp_path, live, monkeypatch):
    monkeypatch.setenv("COCKPIT_KEEP_VERSIONS", "3")
    before = checksums(live)
    first = run_preview(live, [staged(tmp_path, "a.csv", GRID.replace("处置中", "已办结").replace("G-2", "G-3"))])
    dryrun.confirm(first)
    bad = GRID.replace("G-2,2026-11-02 08:00:00", "G-4,bad").replace("G-1", "G-5")
    second = run_preview(live, [staged(tmp_path, "b.csv", bad)])
    dryrun.confirm(second)
    with reading(live) as con:
        first_id, second_id = [r[0] for r in con.execute(
            "SELECT load_id FROM etl_loads WHERE loaded_by = 'tester' ORDER BY 1").fetchall()]
    plan = versions.plan_rollback(first_id, live)
    assert [r["load_id"] for r in plan.removed] == [first_id, second_id]
    assert plan.table_rows["grid_reports"] == (4, 2)
    versions.rollback(plan, "boss", live)
    assert checksums(live) == before
    with reading(live) as con:
        loads = con.execute("SELECT load_id, status FROM etl_loads ORDER BY 1").fetchall()
        assert loads[-2:] == [(first_id, "rolled back"), (second_id, "rolled back")]
        assert con.execute("SELECT row_number, reason FROM etl_rejects WHERE load_id = $id",
                           {"id": second_id}).fetchall() == [(3, "unparseable date")]
        rb = con.execute("SELECT rolled_back_by, before_load_id, removed_load_ids, rows_removed "
                         "FROM etl_rollbacks").fetchall()
        assert rb == [("boss", first_id, [first_id, second_id], 3)]
    # the same file loads again after the undo (it is no longer 'already loaded'), with a new id
    [res] = load_paths([tmp_path / "up" / "b.csv"], live, progress=None)
    assert res.status == "loaded"
    with reading(live) as con:
        assert con.execute("SELECT max(load_id) FROM etl_loads").fetchall()[0][0] == second_id + 1


@pytest.mark.slow   # several loads
def test_versions_are_pruned_to_the_configured_count(tmp_path, live, monkeypatch):
    monkeypatch.setenv("COCKPIT_KEEP_VERSIONS", "2")
    for i in range(4):
        load_paths([write(tmp_path / f"g{i}.csv", GRID.replace("G-1", f"N-{i}"))], live, progress=None)
    kept = versions.list_versions(live)
    assert len(kept) == 2 and kept[0].last_load_id > kept[1].last_load_id
    with pytest.raises(versions.NoVersion):
        versions.plan_rollback(1, live)


def test_load_paths_itself_refuses_a_partners_grid_file(tmp_path, live):
    before = live.read_bytes()
    [res] = load_paths([staged(tmp_path, "grid.csv", GRID.replace("G-", "Z-"))], live, progress=None,
                       partner="阳光社工站")
    assert res.status == "refused" and "a partner cannot upload grid_reports" in res.message
    assert live.read_bytes() == before
