"""Stage 2 - reduce: TF-IDF rows -> short dense unit vectors for clustering.

Truncated SVD (latent semantic analysis) merges near-synonyms (车位 / 停车位) into shared
directions and makes k-means on thousands of messages cheap. Rows are re-normalised, so a
dot product is a cosine similarity. `PassThrough` keeps the TF-IDF space (tests, tiny months).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize


@dataclass
class SvdReducer:
    n_components: int = 24
    random_state: int = 0

    def fit_transform(self, x: sp.csr_matrix) -> np.ndarray:
        n, d = x.shape
        k = min(self.n_components, n - 1, d - 1)
        if k < 2:
            return PassThrough().fit_transform(x)
        z = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=4,
                         random_state=self.random_state).fit_transform(x)
        return normalize(z).astype(np.float64)


@dataclass
class PassThrough:
    def fit_transform(self, x: sp.csr_matrix) -> np.ndarray:
        dense = x.toarray() if sp.issparse(x) else np.asarray(x)
        return normalize(dense) if dense.shape[1] else dense
