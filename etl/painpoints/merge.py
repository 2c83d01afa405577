"""Stage 4 - merge: k-means sub-clusters that share their keywords become one pain point.

Silhouette rewards the finest structure it can find, and in resident feedback that is the
phrasing, not the problem: "停车位不足", "外来车辆占用车位" and "停车费上涨" come out as
three k-means clusters of one pain point (停车难). Each sub-cluster is summarised by its top
`n_keywords` (20) class-based TF-IDF keywords (label.ctfidf), and sub-clusters are merged by
average-linkage agglomeration over the cosine similarity of those keyword vectors while the
average similarity between two groups is at least `threshold`.

Keyword vectors rather than TF-IDF centroids: a centroid of hundreds of long messages is
dominated by the words every message uses, so on the real messages any two large clusters
have centroid similarity 0.3-0.45 and everything would merge; their top keywords overlap only
when they share the problem (synthetic corpus: same problem 0.14-0.27, different <= 0.12;
docs/PAINPOINTS.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.preprocessing import normalize

from etl.painpoints.label import ctfidf
from etl.painpoints.vectorize import Vectors


def keyword_vectors(vectors: Vectors, labels: np.ndarray, n_keywords: int) -> np.ndarray:
    """Row c: cluster c's top-n c-TF-IDF weights (other terms 0), unit length."""
    classes, weights = ctfidf(vectors.counts, labels)
    rows = weights[classes >= 0]
    out = np.zeros_like(rows)
    for r, w in enumerate(rows):
        top = np.argsort(-w, kind="stable")[:n_keywords]
        out[r, top] = w[top]
    return normalize(out)


@dataclass
class KeywordMerger:
    threshold: float = 0.15
    n_keywords: int = 20

    def merge(self, vectors: Vectors, labels: np.ndarray) -> np.ndarray:
        """New labels: each sub-cluster mapped to its group (outliers stay -1)."""
        n = int(labels.max()) + 1 if labels.size else 0
        if n < 2 or vectors.counts.shape[1] == 0:
            return labels
        k = keyword_vectors(vectors, labels, self.n_keywords)
        dist = np.clip(1.0 - np.round(k @ k.T, 9), 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
        groups = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                         distance_threshold=1.0 - self.threshold).fit_predict(dist)
        return np.append(groups, -1)[labels]            # index -1 -> -1


@dataclass
class NoMerge:
    """Pass-through: every k-means cluster is its own pain point."""

    def merge(self, vectors: Vectors, labels: np.ndarray) -> np.ndarray:
        return labels
