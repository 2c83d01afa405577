"""Place extraction: estates, buildings, roads and villages in resident messages, their
canonical names, and precision / recall on 220 hand-labelled real messages."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from etl.painpoints.places import PlaceExtractor, PlaceNormaliser, clean

LABELS = Path(__file__).resolve().parent / "fixtures" / "places_labelled.tsv"
# Floors a little under what the extractor measures today (docs/PAINPOINTS.md#places):
# a change that makes it worse fails here.
PRECISION_FLOOR, RECALL_FLOOR = 0.82, 0.72


@pytest.fixture(scope="module")
def ex() -> PlaceExtractor:
    return PlaceExtractor(known=("安宁里社区", "清上园社区", "毛纺北社区"))


@pytest.mark.parametrize("text, places", [
    ("伊景园滨河苑小区门口最近噪音大", ["伊景园滨河苑"]),
    ("伊景园·滨河苑的搅拌站太吵了", ["伊景园滨河苑"]),
    ("反映滨河苑噪音扰民", ["滨河苑"]),
    ("A2区南湖路金泰小区不文明现象", ["南湖路", "金泰小区"]),        # road and estate stay two
    ("希望B市红旗路、黄河路等路段加上道路中间护栏", ["红旗路", "黄河路"]),
    ("最近清河中街一侧有人占道经营", ["清河中街"]),                    # time words are context
    ("咨询A3区西湖街道茶场村公路规划问题", ["茶场村"]),                # no 街 of 街道, no 公路
    ("我们清上园这边晚上很吵", ["清上园社区"]),                        # a known community
    ("清上园·桂香苑3号楼漏水", ["清上园桂香苑"]),                      # an estate inside it
    ("毛纺北小区的流浪狗", ["毛纺北小区"]),
    ("晚上广场舞音响太大，马路上车也多，这里的农村道路很差", []),     # generic words
    ("家里老人住在幼儿园旁边的公园里", []),
    ("", []),
])
def test_extract(ex, text, places):
    assert ex.extract(text) == places


def test_extract_many_equals_extract(ex):
    texts = ["伊景园·滨河苑小区门口", None, "南湖路金泰小区", "A市的问题"]
    assert ex.extract_many(texts) == [ex.extract(t) for t in texts]


def test_three_spellings_of_one_estate_are_one_place(ex):
    mentions = [ex.extract(t) for t in ("伊景园滨河苑搅拌站噪音", "滨河苑搅拌站粉尘",
                                        "伊景园·滨河苑夜间施工", "滨河苑小区又开工了")]
    norm = PlaceNormaliser().fit(mentions)
    assert {p for m in mentions for p in norm.canonical(m)} == {"伊景园滨河苑"}


def test_a_name_shared_by_two_estates_stays_apart():
    norm = PlaceNormaliser().fit([["伊景园滨河苑"], ["金色花园滨河苑"], ["滨河苑"]])
    assert norm("滨河苑") == "滨河苑"            # which one? the data cannot tell
    assert norm("伊景园滨河苑") == "伊景园滨河苑" and norm("金色花园滨河苑") == "金色花园滨河苑"


def test_context_the_boundary_missed_is_dropped():
    norm = PlaceNormaliser().fit([["造成特立路"], ["特立路"], ["特立路"], ["东一路东三路"], ["东三路"]])
    assert norm("造成特立路") == "特立路"
    assert norm("东三路") == "东三路"             # a road is never part of another road


def test_clean():
    assert clean("伊景园 · 滨河苑小区") == "伊景园滨河苑"
    assert clean("金泰小区") == "金泰小区"        # 小区 stays when the rest is no place name


def labelled(real_messages) -> pd.DataFrame:
    lab = pd.read_csv(LABELS, sep="\t", comment="#", dtype=str, keep_default_na=False)
    df = pd.read_excel(real_messages, engine="calamine")
    subjects = dict(zip(df["留言编号"].astype(str), df["留言主题"]))
    return lab.assign(subject=lab["message_no"].map(subjects))


def test_precision_and_recall_on_hand_labelled_real_messages(real_messages):
    lab = labelled(real_messages)
    assert len(lab) >= 200 and lab["subject"].notna().all()
    assert (lab["places"] != "").sum() >= 60              # enough positives to measure recall
    ex = PlaceExtractor()
    tp = fp = fn = 0
    for places, subject in zip(lab["places"], lab["subject"]):
        gold = {clean(p) for p in places.split("|") if p}
        found = {clean(p) for p in ex.extract(subject)}
        tp, fp, fn = tp + len(gold & found), fp + len(found - gold), fn + len(gold - found)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"places: precision {precision:.3f}, recall {recall:.3f} ({tp} tp, {fp} fp, {fn} fn)")
    assert precision >= PRECISION_FLOOR and recall >= RECALL_FLOOR, (precision, recall)
