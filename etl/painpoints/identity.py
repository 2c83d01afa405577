"""Stage 6 - identify: give a month's clusters the ids of the same problems in earlier months.

Each pain point in the catalog is remembered by the keyword weights (class-based TF-IDF) of
its latest month. A new month's clusters are compared with every catalog entry seen in the
last `memory_months` months by cosine similarity of those keyword vectors, and paired by the
Hungarian algorithm (one cluster per id, maximal total similarity). A pair counts only when
its similarity reaches `threshold`; an unpaired cluster is a new pain point with a new id.
Keyword vectors are used rather than centroids because each month has its own vocabulary
and SVD basis, while words mean the same thing every month.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Known:
    """A catalog entry as the matcher sees it."""
    pain_point_id: str
    keywords: tuple[str, ...]
    weights: tuple[float, ...]


def similarity_matrix(a: list[dict[str, float]], b: list[dict[str, float]]) -> np.ndarray:
    """Cosine similarity between two lists of sparse keyword-weight vectors."""
    terms = sorted({t for v in a + b for t in v})
    col = {t: i for i, t in enumerate(terms)}

    def dense(vs):
        m = np.zeros((len(vs), len(terms)))
        for r, v in enumerate(vs):
            for t, w in v.items():
                m[r, col[t]] = w
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms == 0, 1, norms)

    return dense(a) @ dense(b).T if a and b else np.zeros((len(a), len(b)))


def new_id(month: date, index: int) -> str:
    """PP<yyyymm>-<nn>: the month a pain point first appeared and its size rank then."""
    return f"PP{month:%Y%m}-{index + 1:02d}"


@dataclass
class HungarianMatcher:
    threshold: float = 0.3
    memory_months: int = 12

    def match(self, month: date, clusters: list[dict[str, float]], known: list[Known]) -> list[str]:
        """An id for each cluster (same order): a known one when matched, else a new one."""
        ids: list[str | None] = [None] * len(clusters)
        if clusters and known:
            sim = np.round(similarity_matrix(clusters, [dict(zip(k.keywords, k.weights))
                                                        for k in known]), 9)
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] >= self.threshold:
                    ids[r] = known[c].pain_point_id
        taken = {k.pain_point_id for k in known}
        out = []
        for i, pid in enumerate(ids):
            if pid is None:
                pid = new_id(month, i)
                while pid in taken:           # only when a month is re-clustered differently
                    pid += "b"
            taken.add(pid)
            out.append(pid)
        return out
