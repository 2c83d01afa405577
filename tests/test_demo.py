"""The demo generator: deterministic bytes, volumes, encodings, headers, planted truth, bad rows."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from etl import aliases, demo
from etl.demo import text as T

END = date(2026, 11, 22)
KIND_BY_FILE = [("网格事件_", "grid_reports"), ("资金流水", "fund_transactions"), ("项目台账.xlsx[项目]", "projects"),
                ("项目台账.xlsx[里程碑]", "project_milestones")] + [(c[0], "feedback") for c in demo.CHANNELS.values()] + [
    ("社区基本情况", "communities"), ("社区会议记录", "meetings"), ("议事决议落实台账", "resolutions"),
    ("居民议事投票", "votes"), ("居民参与积分台账", "participation"), ("积分兑换记录", "redemptions"),
    ("项目居民评价", "evaluations"), ("平台易用性评分", "usability_ratings")]   # issue 15
BOM = b"\xef\xbb\xbf"


def _gen(root: Path, seed: int = 7, scale: float = 0.05) -> dict:
    return demo.generate(root / "inbox", seed=seed, scale=scale, end=END, truth_dir=root / "truth")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("small")
    return root, _gen(root)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("full")
    return root, _gen(root, scale=1.0)


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    """Every table of an export as text, keyed 'file' or 'file[sheet]' (the loader's labels)."""
    if path.suffix == ".xlsx":
        book = CalamineWorkbook.from_path(str(path))
        out = {}
        for sheet in book.sheet_names:
            rows = book.get_sheet_by_name(sheet).to_python()
            label = path.name if len(book.sheet_names) == 1 else f"{path.name}[{sheet}]"
            out[label] = pd.DataFrame(rows[1:], columns=[str(h) for h in rows[0]])
        return out
    data = path.read_bytes()
    encoding = "utf-8-sig" if data.startswith(BOM) else "utf-8" if _is_utf8(data) else "gbk"
    return {path.name: pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)}


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _all_tables(manifest: dict) -> dict[str, pd.DataFrame]:
    return {k: v for f in manifest["files"] for k, v in _tables(Path(f)).items()}


@pytest.mark.slow   # three demo generations
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, small):
    root, manifest = small
    again = _gen(tmp_path / "again")
    other = _gen(tmp_path / "other", seed=8)
    for f in manifest["files"] + [str(p) for p in sorted((root / "truth").glob("*.csv"))]:
        rel = Path(f).relative_to(root)
        assert (tmp_path / "again" / rel).read_bytes() == Path(f).read_bytes(), rel
    differ = [f for f in manifest["files"]
              if (tmp_path / "other" / Path(f).relative_to(root)).read_bytes() != Path(f).read_bytes()]
    assert len(differ) == len(manifest["files"])
    assert again["counts"] == manifest["counts"] and other["bad_rows"] != manifest["bad_rows"]


@pytest.mark.parametrize("which, scale", [("small", 0.05),
                                          pytest.param("full", 1.0, marks=pytest.mark.slow)])
def test_volumes_within_ten_percent(which, scale, request):
    counts = request.getfixturevalue(which)[1]["counts"]
    projects = max(60, round(60 * scale))
    assert counts["projects"] == projects
    for kind, target in (("grid_reports", 30000 * scale), ("feedback", 15000 * scale),
                         ("fund_transactions", max(2000 * scale, 10 * projects))):
        assert abs(counts[kind] / target - 1) <= 0.10, (kind, counts[kind], target)
    assert 3 * projects < counts["project_milestones"] <= 6 * projects + 1


def test_counts_match_the_files(small):
    _, manifest = small
    tables = _all_tables(manifest)
    grid = pd.concat([t.iloc[:, 0] for k, t in tables.items() if k.startswith("网格事件_")])
    assert grid.nunique() == manifest["counts"]["grid_reports"]
    assert len(grid) > grid.nunique()           # duplicates and the update repeat some ids
    money = pd.concat([t.iloc[:, 0] for k, t in tables.items() if k.startswith("资金流水")])
    assert money.is_unique and len(money) == manifest["counts"]["fund_transactions"]
    assert len(tables["项目台账.xlsx[项目]"]) == manifest["counts"]["projects"]
    assert len(tables["项目台账.xlsx[里程碑]"]) == manifest["counts"]["project_milestones"]
    feedback = sum(len(t) for k, t in tables.items() if any(k == c[0] for c in demo.CHANNELS.values()))
    assert feedback == manifest["counts"]["feedback"]


def test_encodings_are_what_offices_send(small):
    _, manifest = small
    by_name = {Path(f).name: Path(f).read_bytes() for f in manifest["files"]}
    gbk = [n for n, b in by_name.items() if n.endswith(".csv") and not b.startswith(BOM) and not _is_utf8(b)]
    assert sorted(gbk) == sorted(["网格事件_202506-202511.csv", "网格事件_202606-202611.csv", "资金流水.csv",
                                  "民意直通车_反馈导出.csv", "12345热线工单.csv", "议事决议落实台账.csv"])
    for name in gbk:
        by_name[name].decode("gbk")                  # strictly GBK, not just GB18030
        assert b"\r\n" in by_name[name][:400]        # Windows line ends
    boms = {n for n, b in by_name.items() if b.startswith(BOM)}
    assert {"网格事件_202412-202505.csv", "网格事件_更新_20261122.csv", "微信群留言汇总.csv",
            "网格员走访记录.csv", "资金流水_近12个月.csv", "社区基本情况.csv", "社区会议记录.csv",
            "居民参与积分台账.csv", "积分兑换记录.csv", "项目居民评价.csv", "平台易用性评分.csv"} == boms
    plain = {n for n, b in by_name.items() if n.endswith(".csv") and n not in boms and n not in gbk}
    assert plain == {"网格事件_202601-202605.csv", "居民议事会记录.csv", "居民议事投票.csv"}
    assert {n for n in by_name if n.endswith(".xlsx")} == {"网格事件_202512.xlsx", "公众号留言.xlsx", "项目台账.xlsx"}


def test_headers_map_to_the_intended_kind(small):
    _, manifest = small
    spellings = set()
    for label, table in _all_tables(manifest).items():
        kind = next(k for prefix, k in KIND_BY_FILE if label.startswith(prefix))
        headers = list(table.columns)
        assert aliases.detect_kind(headers) == (kind, {}), label
        assert len(aliases.map_headers(kind, headers)) == len(headers), label    # every column understood
        if kind == "grid_reports":
            spellings.add(headers[1])
    assert spellings == {"上报时间", "登记时间", "发现时间"}


@pytest.mark.slow   # the full-scale demo
def test_planted_top3_is_what_the_messages_say(full):
    root, manifest = full
    truth = pd.read_csv(root / "truth" / "feedback_topics.csv", dtype=str, keep_default_na=False)
    planted = pd.read_csv(root / "truth" / "planted_top3.csv")
    assert len(truth) == manifest["counts"]["feedback"]
    assert 0.08 < (truth.topic == demo.NOISE_TOPIC).mean() < 0.12
    assert truth.text.nunique() > 0.9 * len(truth)            # varied sentences, not a handful
    truth["month"] = truth.submitted_at.str.slice(0, 8) + "01"
    assert truth.submitted_at.max() <= f"{END} 23:59:59"
    counts = truth[truth.topic != demo.NOISE_TOPIC].groupby(["month", "topic"]).size()
    months = [m.isoformat() for m in manifest["months"]]
    assert sorted(planted.month.unique()) == months and months[-1] == "2026-11-01"
    sets = []
    for month in months:
        ranked = counts[month].sort_values(ascending=False)
        top = planted[planted.month == month].sort_values("rank")
        assert set(top.topic) == set(ranked.index[:3]), month
        assert list(top.n) == sorted(ranked.iloc[:3], reverse=True)
        assert ranked.iloc[2] >= 1.3 * ranked.iloc[3], month            # the promised margin
        sets.append(frozenset(top.topic))
    assert len(set(sets)) >= 8                                          # the mix really shifts
    parking = [counts[m].get("停车难", 0) for m in ("2025-09-01", "2025-10-01", "2025-11-01")]
    assert parking == sorted(parking) and all("停车难" in sets[months.index(m)]
                                               for m in ("2025-09-01", "2025-10-01", "2025-11-01"))


def test_truth_rows_point_at_the_exported_messages(small):
    root, manifest = small
    truth = pd.read_csv(root / "truth" / "feedback_topics.csv", dtype=str, keep_default_na=False)
    tables = _all_tables(manifest)
    for channel, (file, _, _, prefix, spec) in demo.CHANNELS.items():
        table, rows = tables[file], truth[truth.source_file == file]
        text_col = next(h.split(":")[1] for h in spec.split() if h.startswith("text:"))
        assert list(table[text_col]) == list(rows.text)
        assert list(rows.row_number.astype(int)) == list(range(1, len(table) + 1))
        if prefix:
            assert list(table.iloc[:, 0]) == list(rows.feedback_id) and rows.feedback_id.is_unique
        else:
            assert (rows.feedback_id == "").all()


def test_mixed_date_formats_and_real_excel_datetimes(small):
    _, manifest = small
    tables = _all_tables(manifest)
    reported = tables["网格事件_202412-202505.csv"]["上报时间"]
    for pattern in (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}:\d{2}",
                    r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}"):
        assert reported.str.fullmatch(pattern).sum() > 10, pattern
    assert all(isinstance(v, datetime) for v in tables["网格事件_202512.xlsx"]["发现时间"])
    assert all(isinstance(v, datetime) for v in tables["公众号留言.xlsx"]["提交时间"])
    amounts = tables["资金流水.csv"]["金额"]
    assert amounts.str.startswith("￥").any() and amounts.str.endswith("万").any()
    assert amounts.str.fullmatch(r"\d+\.\d{2}").any()
    statuses = set(pd.concat([t["处置状态"] for k, t in tables.items() if "处置状态" in t]))
    assert {"已办结", "办结", "处置中", "处理中", "已关闭"} <= statuses


def test_bad_rows_are_where_the_manifest_says(small):
    _, manifest = small
    tables = _all_tables(manifest)
    reasons = {b["reason"] for b in manifest["bad_rows"]}
    assert reasons == {"unparseable date", "resolved before reported", "unknown status value",
                       "rating must be 1-5", "unknown project id", "negative amount",
                       # issue 15
                       "unknown meeting id", "ballots cast exceed eligible voters",
                       "yes + no + abstain exceed ballots cast", "redemption above the points balance"}
    for bad in manifest["bad_rows"]:
        label = bad["file"] + (f"[{bad['sheet']}]" if bad["sheet"] else "")
        row = tables[label].iloc[bad["row_number"] - 2]           # sheet row: header = 1
        assert str(row[bad["column"]]) == bad["value"], bad
    assert {"待定", "搁置中", "9", "XM-9999", "-3,500.00"} <= {b["value"] for b in manifest["bad_rows"]}


@pytest.mark.slow   # the full-scale demo
def test_update_export_moves_cases_to_done(full):
    _, manifest = full
    files = [Path(f) for f in manifest["files"] if Path(f).name.startswith("网格事件_")]
    update = _tables(files[-1])[files[-1].name]
    assert files[-1].name == "网格事件_更新_20261122.csv" and files[-1] == sorted(files)[-1]   # loads last
    earlier = pd.concat([next(iter(_tables(f).values())).iloc[:, [0, 11]].set_axis(["id", "status"], axis=1)
                         for f in files[:-1]]).drop_duplicates("id").set_index("id").status
    repeated = update[update["事件编号"].isin(earlier.index)]
    assert 0.01 < len(repeated) / manifest["counts"]["grid_reports"] < 0.03
    assert set(earlier[repeated["事件编号"]]) <= set(demo.STATUS_WORDS["open"] + demo.STATUS_WORDS["new"])
    assert set(repeated["处置状态"]) <= set(demo.STATUS_WORDS["done"] + demo.STATUS_WORDS["closed"])
    assert (repeated["办结时间"] != "").all()


@pytest.mark.slow   # the full-scale demo
def test_planted_project_warnings_exist_and_most_projects_are_healthy(full):
    root, manifest = full
    warnings = pd.read_csv(root / "truth" / "project_warnings.csv")
    assert set(warnings.warning) == set(demo.WARNINGS)
    assert warnings.project_id.nunique() < 0.5 * manifest["counts"]["projects"]
    projects = _tables(Path(manifest["files"][[Path(f).name for f in manifest["files"]].index("项目台账.xlsx")]))
    table = projects["项目台账.xlsx[项目]"]
    assert set(table["项目阶段"]) <= {"立项", "审批", "实施", "验收", "结项"} and "实施" in set(table["项目阶段"])
    assert set(table["五社类型"]) <= set(T.PARTIES)
    assert table["合作方"].str.contains("、").any()
    money = pd.concat([t for k, t in _all_tables(manifest).items() if k.startswith("资金流水")], ignore_index=True)
    regrant = money[(money.iloc[:, 6] == "转拨")]
    assert len(regrant) and set(regrant.iloc[:, 5]) & set(table["牵头单位"])   # re-granted to another project's lead


def test_vocabulary_is_gbk_safe():
    strings = [s for topic in T.TOPICS.values() for s in topic] + T.NOISE.copy() + T.REPLIES + T.NICKS
    strings += [str(v) for v in (T.GRID_CATEGORIES, T.PROJECT_CATS, T.PARTIES, T.SOURCES, T.PAYEES)]
    for s in strings:
        s.translate(T.TRAD).encode("gbk")


@pytest.mark.slow   # a whole demo through the ETL
def test_loads_through_the_etl_with_exactly_the_planted_rejects(small, tmp_path):
    from etl.load import load_paths
    import duckdb

    _, manifest = small
    db = tmp_path / "demo.duckdb"
    results = load_paths([Path(manifest["files"][0]).parent], db, progress=None)
    assert [r.label for r in results if r.status != "loaded"] == []
    with duckdb.connect(str(db), read_only=True) as con:
        rejects = con.execute("SELECT l.path, l.sheet, r.row_number, r.column_name, r.reason "
                              "FROM etl_rejects r JOIN etl_loads l USING (load_id)").fetchall()
        counts = {k: con.execute(f"SELECT count(*) FROM {k}").fetchone()[0] for k in manifest["counts"]}
    assert sorted((Path(p).name, s, n, c, why) for p, s, n, c, why in rejects) == sorted(
        (b["file"], b["sheet"], b["row_number"], b["column"], b["reason"]) for b in manifest["bad_rows"])
    bad = pd.Series([b["kind"] for b in manifest["bad_rows"]]).value_counts()
    assert counts == {k: n - bad.get(k, 0) for k, n in manifest["counts"].items()}


def test_default_end_is_today(tmp_path):
    manifest = demo.generate(tmp_path / "inbox", scale=0.05)
    assert manifest["end"] == date.today() and manifest["months"][-1] == date.today().replace(day=1)
    assert len(manifest["months"]) == 24 and (tmp_path / "demo_truth" / "planted_top3.csv").exists()
