"""Stage 5 - describe: each cluster's keywords, label and most representative messages.

Class-based TF-IDF (as in BERTopic): all messages of a cluster are one document; a term's
weight is its frequency in the cluster (L1-normalised) times log(1 + A / f_t), where A is the
average number of words per cluster and f_t the term's frequency over all clusters, outliers
included - so a word every cluster uses (小区, 情况) sinks and the cluster's own words rise.
The label is the top one or two keywords; the representatives are the members closest to
the centroid (ties: earliest message).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from etl.painpoints.vectorize import Vectors


@dataclass
class Topic:
    cluster: int
    size: int
    keywords: list[str]
    weights: list[float]
    label: str
    representatives: list[int]     # row positions of the closest members, best first


def ctfidf(counts: sp.csr_matrix, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, class x term weight matrix); classes are the sorted distinct labels."""
    classes, inverse = np.unique(labels, return_inverse=True)
    onehot = sp.csr_matrix((np.ones(len(labels)), (inverse, np.arange(len(labels)))),
                           shape=(len(classes), len(labels)))
    per_class = np.asarray((onehot @ counts).todense(), dtype=np.float64)
    totals = per_class.sum(axis=1, keepdims=True)
    tf = per_class / np.where(totals == 0, 1, totals)
    freq = per_class.sum(axis=0)
    avg = per_class.sum() / max(len(classes), 1)
    idf = np.log1p(avg / np.where(freq == 0, 1, freq))
    return classes, tf * idf


def make_label(keywords: list[str]) -> str:
    """Top keyword, plus the second unless one contains the other (加装电梯 / 电梯)."""
    if not keywords:
        return ""
    if len(keywords) == 1 or keywords[0] in keywords[1] or keywords[1] in keywords[0]:
        return max(keywords[:2], key=len) if len(keywords) > 1 else keywords[0]
    return f"{keywords[0]}·{keywords[1]}"


@dataclass
class CtfidfLabeler:
    n_keywords: int = 10
    n_representatives: int = 3

    def describe(self, vectors: Vectors, labels: np.ndarray, similarity: np.ndarray) -> list[Topic]:
        n_clusters = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
        if n_clusters == 0 or vectors.counts.shape[1] == 0:
            return []
        classes, weights = ctfidf(vectors.counts, labels)
        row_of = {int(c): i for i, c in enumerate(classes)}
        topics = []
        for c in range(n_clusters):
            w = weights[row_of[c]]
            order = np.lexsort((vectors.vocab, -np.round(w, 12)))   # weight desc, then term
            top = [int(i) for i in order[: self.n_keywords] if w[i] > 0]
            keywords = [str(vectors.vocab[i]) for i in top]
            members = np.flatnonzero(labels == c)
            best = members[np.lexsort((members, -similarity[members]))][: self.n_representatives]
            topics.append(Topic(c, int(len(members)), keywords,
                                [round(float(w[i]), 6) for i in top],
                                make_label(keywords), [int(i) for i in best]))
        return topics
