"""Stage 1 - vectorise: token lists -> term counts and TF-IDF, fitted on the month's own corpus.

The IDF comes from the feedback itself, never from jieba's general-news table: in resident
feedback 电梯 is common and distinctive at once, and only this corpus knows it. Terms in
fewer than `min_df` messages (typos, names) or in more than `max_df` of them (words every
message uses) are dropped. Counts are kept too: class-based TF-IDF labels need them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer


def _pretokenised(tokens: list[str]) -> list[str]:
    return tokens


@dataclass
class Vectors:
    """One month's document-term matrices; rows follow the input order."""
    counts: sp.csr_matrix        # raw term counts
    tfidf: sp.csr_matrix         # sublinear tf * idf, rows L2-normalised
    vocab: np.ndarray            # term of each column


@dataclass
class TfidfStage:
    min_df: int = 2
    max_df: float = 0.5
    max_features: int = 20000

    def fit_transform(self, docs: list[list[str]]) -> Vectors:
        n = len(docs)
        min_df = self.min_df if n >= 4 * self.min_df else 1
        max_df = self.max_df if n >= 20 else 1.0
        cv = CountVectorizer(analyzer=_pretokenised, min_df=min_df, max_df=max_df,
                             max_features=self.max_features, dtype=np.float64)
        try:
            counts = cv.fit_transform(docs).tocsr()
        except ValueError:                     # no term survives (empty or tiny month)
            return Vectors(sp.csr_matrix((n, 0)), sp.csr_matrix((n, 0)), np.array([], dtype=object))
        tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
        return Vectors(counts, tfidf, cv.get_feature_names_out())
