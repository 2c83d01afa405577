"""Staging functions on tiny frames: typing, validation reasons, masking, dedupe."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from etl.load import mask_text
from etl.stage import stage
from sweep import left_to_full_run


def _grid(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"report_id": [f"R{i}" for i in range(n)], "reported_at": ["2025-03-01 08:00:00"] * n,
            "community": ["清河一社区"] * n, "grid_id": ["G1"] * n, "category": ["噪音扰民"] * n,
            "status": ["处置中"] * n}
    base.update(cols)
    return pd.DataFrame(base)


def _reasons(rejects: pd.DataFrame) -> set[tuple[int, str, str]]:
    return set(rejects.itertuples(index=False, name=None))


def test_mixed_date_formats_in_one_column_parse():
    df = _grid(reported_at=["2019/4/25 9:32:09", "2019-04-08 08:37:20", "2019年4月8日",
                            "45000.5", "2025-01-02T03:04:05", "2024.12.31"])
    clean, rejects = stage("grid_reports", df)
    assert rejects.empty
    got = dict(zip(clean.report_id, clean.reported_at))
    assert got["R0"] == datetime(2019, 4, 25, 9, 32, 9)
    assert got["R1"] == datetime(2019, 4, 8, 8, 37, 20)
    assert got["R2"] == datetime(2019, 4, 8)
    assert got["R3"] == datetime(2023, 3, 15, 12, 0)       # Excel serial 45000.5
    assert got["R4"] == datetime(2025, 1, 2, 3, 4, 5)
    assert got["R5"] == datetime(2024, 12, 31)


def test_unparseable_date_is_rejected_with_row_and_column():
    clean, rejects = stage("grid_reports", _grid(reported_at=["2025-03-01", "待定", "2025-13-45"]))
    assert list(clean.report_id) == ["R0"]
    assert _reasons(rejects) == {(3, "reported_at", "unparseable date"), (4, "reported_at", "unparseable date")}


def test_resolved_before_reported_and_unknown_status_and_bad_rating():
    df = _grid(status=["已处理", "搁置中", "办结"], resolved_at=["2025-03-02", None, "2025-02-01"],
               satisfaction=["满意", "3", "9"])
    clean, rejects = stage("grid_reports", df)
    assert list(clean.report_id) == ["R0"]
    assert clean.status[0] == "已办结" and clean.satisfaction[0] == 4
    assert _reasons(rejects) == {(3, "status", "unknown status value"),
                                 (4, "resolved_at", "resolved before reported"),
                                 (4, "satisfaction", "rating must be 1-5")}


def test_status_synonyms_map_to_four_states():
    df = _grid(status=["待处理", "处理中", "已解决", "已结案", "closed"])
    clean, _ = stage("grid_reports", df)
    assert list(clean.sort_values("report_id").status) == ["待受理", "处置中", "已办结", "已关闭", "已关闭"]


def test_missing_required_value_is_rejected():
    clean, rejects = stage("grid_reports", _grid(community=["清河一社区", None]))
    assert list(clean.report_id) == ["R0"]
    assert _reasons(rejects) == {(3, "community", "missing value")}


def test_duplicate_keys_in_one_file_keep_the_last_row():
    df = _grid(status=["处置中", "已办结"])
    df["report_id"] = ["R1", "R1"]
    clean, rejects = stage("grid_reports", df)
    assert rejects.empty and len(clean) == 1 and clean.status[0] == "已办结"


def test_blank_rows_are_ignored_not_rejected():
    df = _grid(status=["处置中", None])
    for col in df.columns:
        df.loc[1, col] = None
    clean, rejects = stage("grid_reports", df)
    assert len(clean) == 1 and rejects.empty


def test_money_formats_and_negative_amount_and_unknown_project():
    df = pd.DataFrame({"txn_id": ["T1", "T2", "T3", "T4", "T5"],
                       "txn_on": ["2025/1/2", "2025-01-03", "2025年1月4日", "2025-01-05", "2025-01-06"],
                       "project_id": ["P1", "P1", "P1", "P9", "P1"],
                       "direction": ["收入", "支出", "收入", "支出", "支出"],
                       "amount_yuan": ["¥1,234.50", "1.2万", "￥ 300元", "100", "-5"],
                       "source_type": ["商户公益·实物折价", None, "财政拨款", None, None]})
    clean, rejects = stage("fund_transactions", df, known_projects=["P1"])
    got = dict(zip(clean.txn_id, clean.amount_yuan))
    assert got == {"T1": Decimal("1234.50"), "T2": Decimal("12000.00"), "T3": Decimal("300.00")}
    assert dict(zip(clean.txn_id, clean.direction)) == {"T1": "in", "T2": "out", "T3": "in"}
    assert dict(zip(clean.txn_id, clean.in_kind)) == {"T1": True, "T2": False, "T3": False}
    assert _reasons(rejects) == {(5, "project_id", "unknown project id"), (6, "amount_yuan", "negative amount")}


def test_unknown_project_in_milestones_is_rejected():
    df = pd.DataFrame({"project_id": ["P1", "XM-9999"], "milestone": ["开工", "开工"],
                       "planned_on": ["2025-01-01", "2025-01-01"]})
    clean, rejects = stage("project_milestones", df, known_projects=["P1"])
    assert list(clean.project_id) == ["P1"]
    assert _reasons(rejects) == {(3, "project_id", "unknown project id")}


def test_project_percent_budget_flags_and_five_society_type():
    df = pd.DataFrame({"project_id": ["P1", "P2"], "name": ["助餐", "电梯"], "community": ["c", "c"],
                       "category": ["养老", "加装电梯"], "lead_party": ["社工站", "居委会"],
                       "lead_party_type": ["社工站", "社区"], "stage": ["实施中", "结项"],
                       "progress_pct": ["45%", "0.8"], "budget_yuan": ["12.5万", "¥1,000"],
                       "archived": ["是", "否"], "planned_start_on": ["2025-01-01", "2025-01-01"],
                       "planned_end_on": ["2025-12-31", "2024-12-31"]})
    clean, rejects = stage("projects", df)
    row = clean.set_index("project_id").loc["P1"]
    assert row.lead_party_type == "社会工作者" and row.stage == "实施"
    assert row.progress_pct == 45.0 and row.budget_yuan == Decimal("125000.00") and bool(row.archived)
    assert planned_end_rejected(rejects)


def planned_end_rejected(rejects: pd.DataFrame) -> bool:
    return _reasons(rejects) == {(3, "planned_end_on", "planned end before planned start")}


def test_feedback_masks_pii_hashes_resident_and_derives_stable_id():
    df = pd.DataFrame({"submitted_at": ["2025-05-01 10:00:00"] * 2,
                       "text": ["电话13812345678，身份证110105199003071234", "座机010-62345678 漏水"],
                       "resident_id": ["13812345678", "老王"], "community": ["c", "c"]})
    clean, rejects = stage("feedback", df, salt="s1")
    assert rejects.empty
    texts = sorted(clean.text)
    assert "138****5678" in texts[1] and "110105********1234" in texts[1]
    assert "010-****5678" in texts[0]
    assert all(p.startswith("R") and "1381234" not in p for p in clean.resident_pseudonym)
    again, _ = stage("feedback", df, salt="s1")
    other_salt, _ = stage("feedback", df, salt="s2")
    assert list(again.feedback_id) == list(clean.feedback_id)
    assert list(again.resident_pseudonym) == list(clean.resident_pseudonym)
    assert set(other_salt.resident_pseudonym).isdisjoint(clean.resident_pseudonym)
    assert all(len(i) == 16 and i.startswith("H") for i in clean.feedback_id)


@left_to_full_run
def test_a_big_files_typing_gives_what_a_small_files_gives():
    """stage() types as a small file is typed (its text columns masked by one expression);
    mask_once=False as a big file is (one expression per column): the same rows and rejects."""
    df = _grid(description=["电话13812345678，身份证110105199003071234", " 座机010-62345678 漏水 ", None, "无号码"],
               reporter=["13912345678/15012345678", "", "老王", "ID 11010519900307123X."],
               satisfaction=["5", "满意", "七", None], report_id=["R1", "R2", "R2", ""])
    small = stage("grid_reports", df)
    big = stage("grid_reports", df, mask_once=False)
    for a, b in zip(small, big):
        pd.testing.assert_frame_equal(a, b)
    assert "139****5678/150****5678" in set(small[0].reporter)


@pytest.mark.parametrize("text,expected", [
    ("call 13912345678 now", "call 139****5678 now"),
    ("13912345678/15012345678", "139****5678/150****5678"),
    ("ID 11010519900307123X.", "ID 110105********123X."),
    ("order 202501011234567890123", "order 202501011234567890123"),   # too long: not a phone
    ("无号码", "无号码"),
])
def test_python_mask_matches_rules(text, expected):
    assert mask_text(text) == expected


def test_stage_does_not_mutate_input():
    df = _grid(status=["办结"])
    before = df.copy()
    stage("grid_reports", df)
    pd.testing.assert_frame_equal(df, before)


def test_dates_only_column_is_a_date():
    df = pd.DataFrame({"project_id": ["P1"], "milestone": ["验收"], "planned_on": ["2025年6月30日"],
                       "done_on": ["2025/7/2"]})
    clean, _ = stage("project_milestones", df, known_projects=["P1"])
    assert clean.planned_on[0].date() == date(2025, 6, 30) and clean.done_on[0].date() == date(2025, 7, 2)
