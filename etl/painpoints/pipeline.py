"""The pain-point engine: a pipeline of swappable stages, fitted month by month.

    PainPointModel.fit(token lists)             one month, pure
        1. vectorise   TfidfStage       TF-IDF fitted on the month's own messages
        2. reduce      SvdReducer       truncated SVD -> unit vectors
        3. cluster     KMeansClusterer  k by best silhouette; far-from-centroid -> outlier
        4. merge       KeywordMerger    sub-clusters sharing keywords -> one pain point;
                                        tiny clusters -> outliers
        5. describe    CtfidfLabeler    class-based TF-IDF keywords, label, representatives
    process_month(...)                          one month, pure, given the earlier months
        6. identify    HungarianMatcher same problem as an earlier month -> same id
        7. rank        HeatRanker       heat per scope (全街道 + communities), top-3
    run(db_path, months)                        the ETL job: tokens -> months -> tables
        8. hot spots   HotSpotRanker    (place, pain point) pairs by burst, every month
        9. summaries   summaries.rebuild  the counts the pain-point page reads

Every stage is a small object passed into PainPointModel; a test can swap any of them for
a pass-through. docs/PAINPOINTS.md explains each choice.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from etl.dbfile import writer
from etl.painpoints import store, summaries
from etl.painpoints.cluster import ClusterResult, KMeansClusterer
from etl.painpoints.hotspots import VERSION as HOT_SPOTS_VERSION, HotSpotRanker
from etl.painpoints.identity import HungarianMatcher
from etl.painpoints.merge import KeywordMerger
from etl.painpoints.month import History, MonthResult, quote
from etl.painpoints.places import VERSION as PLACES_VERSION, PlaceExtractor
from etl.painpoints.label import CtfidfLabeler, Topic
from etl.painpoints.rank import WEIGHTS_VERSION, HeatRanker, by_scope
from etl.painpoints.reduce import SvdReducer
from etl.painpoints.tokenize import Tokenizer
from etl.painpoints.vectorize import TfidfStage, Vectors

@dataclass
class Fitted:
    """One month's clustering: vectors, clusters (with outliers) and their descriptions."""
    vectors: Vectors
    clusters: ClusterResult
    topics: list[Topic]


@dataclass
class PainPointModel:
    vectorizer: Any = field(default_factory=TfidfStage)
    reducer: Any = field(default_factory=SvdReducer)
    clusterer: Any = field(default_factory=KMeansClusterer)
    merger: Any = field(default_factory=KeywordMerger)
    labeler: Any = field(default_factory=CtfidfLabeler)
    matcher: Any = field(default_factory=HungarianMatcher)
    ranker: Any = field(default_factory=HeatRanker)

    def fit(self, docs: list[list[str]]) -> Fitted:
        """Steps 1-5 on one month's token lists (row order = input order).

        One BLAS/OpenMP thread: results are byte-identical run to run, and for matrices this
        size threads only contend (SVD of a month is ~10x slower with 2 threads here)."""
        with threadpool_limits(1):
            vectors = self.vectorizer.fit_transform(docs)                               # 1
            z = self.reducer.fit_transform(vectors.tfidf)                               # 2
            clusters = self.clusterer.fit(z)                                            # 3
            merged = self.merger.merge(vectors, clusters.labels)                  # 4
            clusters.labels, clusters.similarity = self.clusterer.finalise(z, merged)
            topics = self.labeler.describe(vectors, clusters.labels, clusters.similarity)  # 5
        return Fitted(vectors, clusters, topics)

    @property
    def version(self) -> str:
        """Changes with any stage parameter, so changed settings re-cluster every month."""
        return hashlib.md5((repr(self) + WEIGHTS_VERSION).encode()).hexdigest()[:12]


def process_month(month: date, frame: pd.DataFrame, history: History,
                  model: PainPointModel) -> MonthResult:
    """Steps 1-7 for one month. frame: the month's messages ordered by feedback_id, with
    feedback_id, community, subject, text, rating, likes, replied and tokens (space-joined)."""
    fitted = model.fit([t.split() for t in frame["tokens"]])                        # 1-5
    vectors = [dict(zip(t.keywords, t.weights)) for t in fitted.topics]
    ids = model.matcher.match(month, vectors, history.known)                       # 6
    labels = fitted.clusters.labels
    id_of = np.array(ids + [None], dtype=object)     # label -1 -> None
    members = frame.assign(pain_point_id=id_of[labels], similarity=fitted.clusters.similarity)
    top = model.ranker.rank(members, history.prev_sizes, history.prev_streak)       # 7
    clusters = pd.DataFrame({
        "month_on": month, "pain_point_id": ids,
        "label": [t.label for t in fitted.topics],
        "keywords": [t.keywords for t in fitted.topics],
        "keyword_weights": [t.weights for t in fitted.topics],
        "size": [t.size for t in fitted.topics]})
    n = len(frame)
    stats = {"month_on": month, "messages": n, "clusters": len(ids), "k": fitted.clusters.k,
             "silhouette": fitted.clusters.silhouette,
             "outlier_share": round(float((labels < 0).mean()), 6) if n else 0.0}
    assignments = pd.DataFrame({"feedback_id": frame["feedback_id"], "month_on": month,
                                "pain_point_id": members["pain_point_id"]})
    return MonthResult(month, assignments, clusters, _top_rows(month, top, clusters, members), stats)


def _top_rows(month: date, top: pd.DataFrame, clusters: pd.DataFrame,
              members: pd.DataFrame) -> pd.DataFrame:
    """pain_points rows: ranked stats + cluster label/keywords + the scope's best quotes."""
    if top.empty:
        return pd.DataFrame()
    best = by_scope(members[members["pain_point_id"].notna()]).sort_values(
        ["similarity", "feedback_id"], ascending=[False, True])
    best = best.groupby(["scope", "pain_point_id"], sort=False).head(3)
    quotes = {key: (g["feedback_id"].tolist(), [quote(s, t) for s, t in zip(g["subject"], g["text"])])
              for key, g in best.groupby(["scope", "pain_point_id"], sort=False)}
    info = clusters.set_index("pain_point_id")
    out = pd.DataFrame({
        "month_on": month, "scope": top["scope"], "rank": top["rank"].astype(int),
        "pain_point_id": top["pain_point_id"],
        "label": info.loc[top["pain_point_id"], "label"].to_numpy(),
        "keywords": [list(k) for k in info.loc[top["pain_point_id"], "keywords"]],
        "size": top["size"].astype(int), "share": top["share"].round(6),
        "growth": top["growth"].astype(float), "heat": top["heat"].astype(float),
        "unresolved_share": top["unresolved_share"].round(6),
        "avg_rating": top["avg_rating"].astype(float).round(6),
        "likes": top["likes"].astype(int), "months_in_top3": top["months_in_top3"].astype(int)})
    keys = list(zip(top["scope"], top["pain_point_id"]))
    out["representative_ids"] = [quotes[k][0] for k in keys]
    out["representative_texts"] = [quotes[k][1] for k in keys]
    return out.reset_index(drop=True)


class _Unchanged(Exception):
    """Aborts the DB writer so the live file stays untouched when nothing changed."""


def run(db_path: Path | str | None = None, months: list[date] | None = None,
        model: PainPointModel | None = None, tokenizer: Tokenizer | None = None,
        hot_spots: HotSpotRanker | None = None) -> dict:
    """The ETL job: segment new/changed messages, re-cluster months whose input changed
    (plus `months`, forced) and every later month, store everything, then (step 8) extract
    places and rebuild the hot spots when anything they depend on changed; return a summary."""
    model, tokenizer = model or PainPointModel(), tokenizer or Tokenizer()
    ranker = hot_spots or HotSpotRanker()
    t0, summary = time.perf_counter(), {"segmented": 0, "months": 0, "pain_points": 0,
                                        "places": 0, "hot_spots": 0, "hot_spot_seconds": 0.0}
    try:
        with writer(Path(db_path) if db_path else None) as con:
            extractor = PlaceExtractor(known=store.known_places(con))
            place_version = hashlib.md5((PLACES_VERSION + tokenizer.version + "|".join(
                extractor.known)).encode()).hexdigest()[:12]
            places = store.PlaceSync(extractor, place_version)
            summary["segmented"] = store.sync_tokens(con, tokenizer, places=places)
            summary["places"] = store.sync_places(con, places)
            todo = store.months_to_cluster(con, tokenizer.version + model.version, months)
            hot_version = f"{HOT_SPOTS_VERSION}:{place_version}:{ranker!r}"
            stale_hot = summary["places"] or (store.hot_spots_version(con) != hot_version
                                              and store.has_pain_points(con))
            if todo.start is None and not summary["segmented"] and not stale_hot \
                    and not summaries.stale(con):
                raise _Unchanged
            store.clear_from(con, todo.start)
            for month, input_hash in todo.months:
                result = process_month(month, store.read_month(con, month),
                                       store.history(con, month, model.matcher.memory_months),
                                       model)
                store.write_month(con, result, input_hash)
                summary["months"] += 1
                summary["pain_points"] += len(result.clusters)
            store.rebuild_catalog(con)
            t1 = time.perf_counter()
            summary["hot_spots"] = store.rebuild_hot_spots(con, ranker, hot_version)
            summaries.rebuild(con)      # step 9: the counts the page reads (etl/painpoints/summaries.py)
            summary["hot_spot_seconds"] = round(places.seconds + time.perf_counter() - t1, 2)
    except _Unchanged:
        pass
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary
