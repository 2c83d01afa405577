"""Segmentation, once per message before the numbered monthly stages: cleaned text -> a list of
content words (pure, deterministic).

rjieba (jieba's algorithm in Rust) with HMM off: the same words as `jieba.lcut(t, HMM=False)`
at ~10x the speed, once both have the same user dictionary (`userdict.txt`, checked in
bench/bench_painpoints.py). HMM is off on purpose: it invents words for unknown character
runs, which makes segmentation depend on the model rather than on the dictionary.

A token survives when it has at least two characters, is not a stop word (`stopwords.txt`),
holds no digit (dates, amounts, house numbers, masked ids) and is made of CJK characters or
Latin letters only (no punctuation).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

import rjieba

from etl.painpoints import normalise as norm

HERE = Path(__file__).resolve().parent
USERDICT = HERE / "userdict.txt"
STOPWORDS = HERE / "stopwords.txt"
VERSION = "tok-2"    # bump when the filtering rules below change (re-segments every message)
_WORD = re.compile(r"^(?:[\u4e00-\u9fff]{2,}|[a-z]{2,})$")


def read_userdict(path: Path = USERDICT) -> list[tuple[str, int, str]]:
    """(word, frequency, tag) rows of a jieba-format dictionary file; # lines are comments."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        freq = int(parts[1]) if len(parts) > 1 else 20000
        rows.append((parts[0], freq, parts[2] if len(parts) > 2 else "n"))
    return rows


def read_stopwords(path: Path = STOPWORDS) -> frozenset[str]:
    return frozenset(w.strip() for w in path.read_text(encoding="utf-8").splitlines()
                     if w.strip() and not w.startswith("#"))


@dataclass
class Tokenizer:
    """normalise -> rjieba.cut(hmm=False) with the user dictionary -> filter."""
    userdict: Path = USERDICT
    stopwords_path: Path = STOPWORDS
    extra_stopwords: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def stopwords(self) -> frozenset[str]:
        return read_stopwords(self.stopwords_path) | self.extra_stopwords

    @cached_property
    def segmenter(self) -> rjieba.Jieba:
        seg = rjieba.Jieba()
        for word, freq, tag in read_userdict(self.userdict):
            seg.add_word(word, freq, tag)
        return seg

    @cached_property
    def version(self) -> str:
        """Changes whenever the user dictionary, stop words or normalisation rules change."""
        h = hashlib.md5((VERSION + norm.VERSION).encode())
        h.update(self.userdict.read_bytes())
        h.update(self.stopwords_path.read_bytes())
        h.update("\n".join(sorted(self.extra_stopwords)).encode())
        return h.hexdigest()[:12]

    def cut(self, text: str) -> list[str]:
        """Raw segmentation of already-normalised text (what the jieba equality check compares)."""
        return self.segmenter.cut(text, hmm=False)

    @cached_property
    def _verdicts(self) -> dict[str, str]:
        return {}      # word -> kept form ('' = dropped): each distinct word is judged once

    def _judge(self, word: str) -> str:
        w = word.lower()
        return w if w not in self.stopwords and _WORD.match(w) else ""

    def keep(self, words: Iterable[str]) -> list[str]:
        verdicts, judge, out = self._verdicts, self._judge, []
        for word in words:
            kept = verdicts.get(word)
            if kept is None:
                kept = verdicts[word] = judge(word)
            if kept:
                out.append(kept)
        return out

    def tokens(self, text: str | None) -> list[str]:
        return self.keep(self.cut(norm.normalise(text)))

    def tokens_many(self, texts: Iterable[str | None]) -> list[list[str]]:
        return self.tokens_of_clean(norm.normalise_many(texts))

    def tokens_of_clean(self, cleaned: Iterable[str]) -> list[list[str]]:
        """tokens() of texts already normalised (normalise_many): the place extractor reads
        the same cleaned texts, so a batch is normalised once for both."""
        cut, keep = self.segmenter.cut, self.keep
        return [keep(cut(t, hmm=False)) for t in cleaned]


def message_text(subject: str | None, text: str | None) -> str:
    """What a message is about: its subject line (when the export has one) and its body.
    Missing values (None, NaN from a DataFrame) count as empty."""
    subject = subject if isinstance(subject, str) else ""
    text = text if isinstance(text, str) else ""
    return f"{subject}。{text}" if subject else text
