"""Pain-point engine, stage by stage, on tiny inputs (no database)."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from etl.painpoints import normalise as norm
from etl.painpoints.cluster import KMeansClusterer, silhouette
from etl.painpoints.identity import HungarianMatcher, Known, new_id
from etl.painpoints.label import CtfidfLabeler, ctfidf, make_label
from etl.painpoints.merge import KeywordMerger, NoMerge
from etl.painpoints.month import History, quote
from etl.painpoints.pipeline import PainPointModel, process_month
from etl.painpoints.rank import STREET, HeatRanker, heat
from etl.painpoints.reduce import PassThrough, SvdReducer
from etl.painpoints.synthetic import corpus
from etl.painpoints.tokenize import Tokenizer, message_text, read_stopwords, read_userdict
from etl.painpoints.vectorize import TfidfStage
from sweep import left_to_full_run


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer()


# --- normalise -------------------------------------------------------------------------
def test_normalise_width_and_traditional():
    assert norm.normalise("ＡＢＣ１２３，電梯") == "ABC123,电梯"


@pytest.mark.parametrize("text", ["您好，", "尊敬的市政府领导：", "谢谢！", "此致敬礼", "盼复。", "各位领导"])
def test_normalise_strips_greetings(text):
    assert "加装电梯" in norm.normalise(text + "加装电梯")
    assert not any(w in norm.normalise(text + "加装电梯") for w in ("您好", "谢谢", "此致", "领导"))


def test_normalise_strips_places_and_masks():
    out = norm.normalise("A市A2区B7县C3街道的电话138****5678，身份证110105********123X，用户A00045581")
    assert not any(s in out for s in ("A市", "A2区", "B7县", "C3街道", "****", "A00045581", "138"))


def test_normalise_many_equals_one_by_one():
    texts = ["您好，A市停車難", None, "", "谢谢\x1e此致敬礼", "楼道堆物"]
    assert norm.normalise_many(texts, batch=2) == [norm.normalise(t) for t in texts]


# --- tokenize --------------------------------------------------------------------------
def test_userdict_words_stay_whole(tok):
    words = tok.tokens("小区想加装电梯，楼道堆物严重，广场舞噪音扰民，充电桩不够，物业费太贵")
    for w in ("加装电梯", "楼道堆物", "广场舞", "噪音扰民", "充电桩", "物业费"):
        assert w in words


def test_tokens_drop_stopwords_numbers_single_chars(tok):
    words = tok.tokens("您好！2019年4月8日我们小区的问题：3号楼 漏水 了，谢谢。A市A2区")
    assert words == ["漏水"]
    assert not set(words) & tok.stopwords


def test_tokens_many_equals_tokens(tok):
    texts = ["尊敬的领导：停车难", "流浪猫太多了", None]
    assert tok.tokens_many(texts) == [tok.tokens(t) for t in texts]


def test_dictionary_files_parse():
    assert ("加装电梯", 20000, "n") in read_userdict()
    assert {"您好", "谢谢", "问题"} <= read_stopwords()


def test_message_text_prefers_subject():
    assert message_text("停车难", "车位不够") == "停车难。车位不够"
    assert message_text(None, "车位不够") == "车位不够"


# --- vectorize / reduce ------------------------------------------------------------------
def test_tfidf_on_pretokenised_lists():
    docs = [["电梯", "加装电梯"], ["电梯", "老人"], ["停车位", "车位"], ["车位", "停车位"]]
    v = TfidfStage(min_df=1).fit_transform(docs)
    assert v.counts.shape == (4, len(v.vocab)) and "加装电梯" in set(v.vocab)
    assert np.allclose(np.asarray(v.tfidf.multiply(v.tfidf).sum(axis=1)).ravel(), 1.0)


def test_tfidf_empty_month():
    v = TfidfStage().fit_transform([[], []])
    assert v.counts.shape == (2, 0)


def test_reducers_give_unit_rows():
    docs = [["a" + str(i % 5), "b" + str(i % 3)] for i in range(30)]
    x = TfidfStage(min_df=1).fit_transform(docs).tfidf
    for reducer in (SvdReducer(4), PassThrough()):
        z = reducer.fit_transform(x)
        assert np.allclose(np.linalg.norm(z, axis=1), 1.0)


# --- cluster / merge -----------------------------------------------------------------------
def _blobs(n_per=30, k=4, d=8, seed=0):
    rng = np.random.RandomState(seed)
    centres = np.eye(d)[:k] * 5
    x = np.vstack([c + rng.normal(0, 0.3, (n_per, d)) for c in centres])
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(k), n_per)


def test_silhouette_matches_sklearn():
    from sklearn.metrics import pairwise_distances, silhouette_score
    x, y = _blobs()
    y = y.copy()
    y[0] = 9        # a singleton cluster scores 0, as in sklearn
    assert silhouette(pairwise_distances(x), y) == pytest.approx(silhouette_score(x, y))


def test_k_chosen_by_silhouette_finds_the_blobs():
    x, y = _blobs(k=4)
    res = KMeansClusterer(k_min=2, k_max=8, per_cluster=5).fit(x)
    assert res.k == 4 and res.scores[4] == max(res.scores.values())
    labels, _ = KMeansClusterer().finalise(x, res.labels)
    assert len(set(labels)) == 4


def test_outliers_are_not_forced_in():
    x, _ = _blobs(k=3, d=8)
    odd = np.zeros((1, 8))
    odd[0, 7] = 1.0                                   # points nowhere near a blob
    res = KMeansClusterer(k_min=3, k_max=3, per_cluster=5).fit(np.vstack([x, odd]))
    assert res.labels[-1] == -1 and (res.labels[:-1] >= 0).all()


def test_tiny_month_is_all_outliers():
    res = KMeansClusterer().fit(np.eye(5))
    assert (res.labels == -1).all() and res.k == 0


def test_finalise_numbers_by_size_and_drops_tiny():
    z = np.tile(np.eye(3), (1, 1))[[0] * 2 + [1] * 10 + [2] * 5]
    labels = np.array([0] * 2 + [1] * 10 + [2] * 5)
    final, sim = KMeansClusterer(min_abs=3, min_share=0).finalise(z, labels)
    assert final.tolist() == [-1] * 2 + [0] * 10 + [1] * 5
    assert np.allclose(sim[2:], 1.0)


def test_merger_joins_sub_clusters_sharing_words():
    docs = [["停车位", "不足"]] * 5 + [["停车位", "收费"]] * 5 + [["流浪猫", "楼道"]] * 5
    v = TfidfStage(min_df=1, max_df=1.0).fit_transform(docs)
    labels = np.repeat([0, 1, 2], 5)
    merged = KeywordMerger(0.15).merge(v, labels)
    assert merged[0] == merged[5] != merged[10]
    assert (NoMerge().merge(v, labels) == labels).all()


# --- label ---------------------------------------------------------------------------------
def test_ctfidf_prefers_the_clusters_own_words():
    docs = [["电梯", "老人", "小区"]] * 4 + [["车位", "小区"]] * 4
    v = TfidfStage(min_df=1, max_df=1.0).fit_transform(docs)
    topics = CtfidfLabeler().describe(v, np.repeat([0, 1], 4), np.linspace(1, 0, 8))
    assert topics[0].keywords[-1] == "小区" and topics[0].keywords[0] in ("电梯", "老人")
    assert topics[1].keywords[0] == "车位"
    assert topics[0].representatives == [0, 1, 2]
    classes, _ = ctfidf(v.counts, np.repeat([0, 1], 4))
    assert classes.tolist() == [0, 1]


def test_make_label():
    assert make_label(["加装电梯", "电梯", "老人"]) == "加装电梯"
    assert make_label(["停车位", "收费"]) == "停车位·收费"
    assert make_label(["停车位"]) == "停车位" and make_label([]) == ""


# --- identity --------------------------------------------------------------------------------
def test_identity_keeps_ids_and_mints_new_ones():
    known = [Known("PP202601-01", ("停车位", "车位"), (1.0, 0.8)),
             Known("PP202601-02", ("电梯", "加装电梯"), (1.0, 0.9))]
    clusters = [{"加装电梯": 1.0, "电梯": 0.5}, {"流浪猫": 1.0}, {"车位": 1.0, "停车费": 0.5}]
    ids = HungarianMatcher(threshold=0.3).match(date(2026, 2, 1), clusters, known)
    assert ids == ["PP202601-02", "PP202602-02", "PP202601-01"]
    assert new_id(date(2026, 2, 1), 0) == "PP202602-01"


def test_identity_one_cluster_per_id():
    known = [Known("A", ("停车位",), (1.0,))]
    ids = HungarianMatcher().match(date(2026, 2, 1), [{"停车位": 1.0}, {"停车位": 0.9, "车位": 0.1}], known)
    assert ids.count("A") == 1


# --- rank ------------------------------------------------------------------------------------
def test_heat_formula():
    assert heat([10], [np.nan], [0], [0], [0])[0] == 10
    assert heat([10], [3.0], [1], [1], [5])[0] == pytest.approx(17)     # every factor capped: x1.7
    assert heat([10], [0.4], [0.5], [0.2], [0.5])[0] == pytest.approx(
        10 * (1 + 0.15 * 0.4 + 0.2 * 0.5 + 0.2 * 0.2 + 0.15 * 0.5))


def _members():
    rows = []
    for i in range(12):
        rows.append({"feedback_id": f"F{i:02d}", "community": "春晖社区" if i < 8 else "秋实社区",
                     "pain_point_id": "P1" if i < 6 else ("P2" if i < 10 else None),
                     "rating": 1.0 if i < 3 else None, "likes": float(i % 3), "replied": i % 2 == 0})
    return pd.DataFrame(rows)


def test_ranker_scopes_growth_and_streaks():
    top = HeatRanker(min_size=2).rank(_members(), {(STREET, "P1"): 3}, {(STREET, "P1"): 2})
    street = top[top["scope"] == STREET]
    assert street["pain_point_id"].tolist() == ["P1", "P2"]
    p1 = street.iloc[0]
    assert p1["size"] == 6 and p1["share"] == 0.5 and p1["growth"] == 1.0
    assert p1["months_in_top3"] == 3 and p1["unresolved_share"] == 0.5
    assert set(top["scope"]) == {STREET, "春晖社区", "秋实社区"}
    assert top[top["scope"] == "秋实社区"]["pain_point_id"].tolist() == ["P2"]
    assert pd.isna(street.iloc[1]["growth"])


# --- the whole month ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic(tok):
    fb, planted = corpus(n_months=3, per_month=500, seed=5)
    fb["tokens"] = [" ".join(t) for t in tok.tokens_many(fb["text"])]
    fb["replied"] = fb["reply"].notna()
    fb["month_on"] = fb["submitted_at"].dt.to_period("M").dt.start_time.dt.date
    return fb, planted


def _month(fb, m):
    return fb[fb["month_on"] == m].sort_values("feedback_id").reset_index(drop=True)


def test_process_month_recovers_planted_top3(synthetic):
    fb, planted = synthetic
    hits = 0
    for m in sorted(fb["month_on"].unique()):
        part = _month(fb, m)
        r = process_month(m, part, History(), PainPointModel())
        a = r.assignments.merge(part[["feedback_id", "topic"]]).dropna()
        major = a.groupby("pain_point_id")["topic"].agg(lambda s: s.value_counts().index[0])
        street = r.top[r.top["scope"] == STREET]
        hits += set(major[street["pain_point_id"]]) == set(planted[planted["month_on"] == m]["topic"])
        assert len(r.assignments) == len(part)
        assert street["rank"].tolist() == [1, 2, 3]
        assert all(len(q) == 3 for q in street["representative_texts"])
    assert hits >= 2


@left_to_full_run
def test_process_month_is_deterministic(synthetic):
    fb, _ = synthetic
    m = sorted(fb["month_on"].unique())[0]
    a = process_month(m, _month(fb, m), History(), PainPointModel())
    b = process_month(m, _month(fb, m), History(), PainPointModel())
    pd.testing.assert_frame_equal(a.top, b.top)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)


def test_stages_are_swappable(synthetic):
    fb, _ = synthetic
    m = sorted(fb["month_on"].unique())[0]
    model = PainPointModel(reducer=PassThrough(), merger=NoMerge(), clusterer=KMeansClusterer(k_max=6))
    r = process_month(m, _month(fb, m), History(), model)
    assert r.stats["k"] <= 6 and not r.top.empty


def test_quote_is_one_short_line():
    assert quote("停车难", "车位\n不够") == "停车难：车位 不够"
    assert len(quote(None, "字" * 500)) == 161


def _imported_modules(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):    # `from etl.painpoints import pipeline` too
            found |= {n.module} | {f"{n.module}.{a.name}" for a in n.names}
    return found


def test_no_import_cycle_between_pipeline_and_store():
    """pipeline -> store only: store reads and writes month.py's plain data, never the pipeline."""
    from pathlib import Path

    from etl.painpoints import month, pipeline, store

    assert "etl.painpoints.pipeline" not in _imported_modules(Path(store.__file__))
    assert "etl.painpoints.pipeline" not in _imported_modules(Path(month.__file__))
    assert "etl.painpoints.store" not in _imported_modules(Path(month.__file__))
    assert pipeline.store is store and pipeline.History is month.History
