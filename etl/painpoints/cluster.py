"""Stage 3 - cluster: unit vectors -> cluster per message, -1 for outliers (deterministic).

Choice of k (documented in docs/PAINPOINTS.md): k-means is fitted for every k in
[k_min, k_max] on a fixed random sample (at most `sample` messages) and the k with the best
silhouette score wins; a tie goes to the smaller k. k_max shrinks for small months so that a
cluster holds `per_cluster` messages on average. The winner is then refitted on all messages.

Outliers are not forced into a pain point: a message whose cosine similarity to its k-means
centroid is below `outlier_similarity` is marked -1. After merging (merge.py), `finalise`
marks -1 every member of a cluster left with fewer than max(min_abs, min_share x month)
messages, and numbers clusters by size, largest first (ties: earliest member), so the
numbering does not depend on k-means' arbitrary centroid order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances
from threadpoolctl import threadpool_limits


def silhouette(dist: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette (as sklearn.metrics.silhouette_score) from a precomputed distance
    matrix, vectorised: one matrix product instead of a pass per k over the raw vectors."""
    classes, inv = np.unique(labels, return_inverse=True)
    onehot = np.zeros((len(labels), len(classes)))
    onehot[np.arange(len(labels)), inv] = 1.0
    sums = dist @ onehot                          # distance of each point to each cluster
    counts = onehot.sum(axis=0)
    own = counts[inv]
    a = sums[np.arange(len(labels)), inv] / np.maximum(own - 1, 1)
    means = sums / counts
    means[np.arange(len(labels)), inv] = np.inf
    b = means.min(axis=1)
    s = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


@dataclass
class ClusterResult:
    labels: np.ndarray                 # cluster per message, -1 = outlier
    similarity: np.ndarray             # cosine similarity of each message to its centroid
    k: int                             # k chosen for k-means (before outliers / tiny clusters)
    silhouette: float | None           # silhouette of the chosen k on the sample
    scores: dict[int, float] = field(default_factory=dict)   # silhouette of every k tried

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size and self.labels.max() >= 0 else 0


@dataclass
class KMeansClusterer:
    k_min: int = 3
    k_max: int = 16
    per_cluster: int = 8
    min_messages: int = 10
    sample: int = 1000
    outlier_similarity: float = 0.25
    min_share: float = 0.01
    min_abs: int = 3
    random_state: int = 0

    def fit(self, z: np.ndarray) -> ClusterResult:
        n = z.shape[0]
        empty = ClusterResult(np.full(n, -1), np.zeros(n), 0, None)
        if n < self.min_messages or z.shape[1] < 2:
            return empty
        k_hi = min(self.k_max, n // self.per_cluster)
        k_lo = min(self.k_min, k_hi)
        if k_hi < 2:
            return empty
        with threadpool_limits(1):     # one thread: byte-identical results, one core
            k, best, scores = self.choose_k(z, k_lo, k_hi)
            km = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(z)
        labels, sim = self._outliers(z, km.labels_, km.cluster_centers_)
        return ClusterResult(labels, sim, k, best, scores)

    def choose_k(self, z: np.ndarray, k_lo: int, k_hi: int) -> tuple[int, float | None, dict]:
        """Best silhouette over k_lo..k_hi on a fixed sample (ties -> smaller k)."""
        n = z.shape[0]
        rng = np.random.RandomState(self.random_state)
        idx = np.sort(rng.choice(n, self.sample, replace=False)) if n > self.sample else np.arange(n)
        zs = z[idx]
        dist = pairwise_distances(zs)              # once per month, shared by every k
        scores: dict[int, float] = {}
        for k in range(max(k_lo, 2), k_hi + 1):
            if k >= len(zs):
                break
            labels = KMeans(n_clusters=k, n_init=2, random_state=self.random_state).fit_predict(zs)
            if len(np.unique(labels)) < 2:
                continue
            scores[k] = round(silhouette(dist, labels), 6)
        if not scores:
            return max(k_lo, 2), None, scores
        best_k = max(scores, key=lambda k: (scores[k], -k))
        return best_k, scores[best_k], scores

    def _outliers(self, z: np.ndarray, labels: np.ndarray, centres: np.ndarray):
        """Labels with -1 where a message is far from its k-means centroid; similarities."""
        norms = np.linalg.norm(centres, axis=1, keepdims=True)
        centres = centres / np.where(norms == 0, 1, norms)
        sim = np.round(np.einsum("ij,ij->i", z, centres[labels]), 10)
        return np.where(sim >= self.outlier_similarity, labels, -1), sim

    def finalise(self, z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """After merging: clusters under min_size -> -1, renumber by size (largest first,
        ties: earliest member), similarity of each message to its final cluster's centroid."""
        min_size = max(self.min_abs, int(np.ceil(self.min_share * len(labels))))
        ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
        keep = sorted((-c, f, i) for i, f, c in zip(ids, first, counts) if i >= 0 and c >= min_size)
        lookup = np.full(int(ids.max()) + 2 if ids.size else 1, -1, dtype=np.int64)
        for new, (_, _, old) in enumerate(keep):
            lookup[old] = new
        final = lookup[labels]                      # index -1 hits the last slot: -1
        sim = np.zeros(len(labels))
        for c in range(len(keep)):
            rows = final == c
            centre = z[rows].mean(axis=0)
            sim[rows] = z[rows] @ (centre / (np.linalg.norm(centre) or 1.0))
        return final, np.round(sim, 10)
