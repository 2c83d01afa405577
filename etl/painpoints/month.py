"""What one month of the engine reads from the months before it and what it produces.

Plain data shared by pipeline.py (which computes a month) and store.py (which reads the
history from and writes the result to the database); neither imports the other at module
level, so the two stay free of an import cycle.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from etl.painpoints.identity import Known

QUOTE_CHARS = 160
_WS = re.compile(r"\s+")


@dataclass
class History:
    """What a month needs from the months before it (read by store.history)."""
    known: list[Known] = field(default_factory=list)                 # catalog for matching
    prev_sizes: dict[tuple[str, str], int] = field(default_factory=dict)   # (scope, id) -> size
    prev_streak: dict[tuple[str, str], int] = field(default_factory=dict)  # (scope, id) -> months


@dataclass
class MonthResult:
    """Rows for the tables of one month (see etl/schema.sql)."""
    month: date
    assignments: pd.DataFrame      # feedback_pain_points
    clusters: pd.DataFrame         # pain_point_clusters
    top: pd.DataFrame              # pain_points
    stats: dict                    # pain_point_months (without input_hash)


def quote(subject: str | None, text: str | None) -> str:
    """A message as a one-line quote for a card (subject first when the export has one)."""
    subject = subject if isinstance(subject, str) else ""
    text = text if isinstance(text, str) else ""
    body = _WS.sub(" ", f"{subject}：{text}" if subject else text).strip()
    return body if len(body) <= QUOTE_CHARS else body[:QUOTE_CHARS] + "…"
