"""The explorer's question without conditions reads its rows from the day the daily summary
says they start and counts them from the summary: the same rows and total as reading every
month (grid_cases and feedback_enriched, several periods and filters, two scopes)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from pages_fixture import AS_OF

from dashboard.filters import Filters
from dashboard.queries import explore as q
from dashboard.queries.base import Scope, fetch, use_scope
from dashboard.queries.common import as_of
from sweep import case

PERIODS = [Filters(), Filters(date_from=date(2026, 6, 1), date_to=AS_OF),
           Filters(date_from=date(2026, 2, 3), date_to=date(2026, 4, 20), category="噪音扰民"),
           Filters(date_from=date(2026, 1, 1), date_to=AS_OF, community="秋实社区", grid_id="QS-01")]


def _every_month(con, f: Filters, spec: q.Spec, cap: int) -> pd.DataFrame:
    sql, params = q.build_sql(spec, f, cap, as_of=as_of(con, f))
    return fetch(con, sql, params)


# the fast loop keeps the street-wide grid cases (the other cases' code is the same: tests/sweep.py
# left_to_full_run); the full run every dataset under both scopes
@pytest.mark.parametrize("dataset, scope", [
    case(d, s, fast=(d, i) == ("grid_cases", 0), id=f"scope{i}-{d}")
    for i, s in enumerate((Scope(), Scope(role="community", communities=("春晖社区",))))
    for d in sorted(q.DAILY_SINCE)])
def test_rows_and_total_from_the_daily_summary(con, dataset, scope):
    spec = q.Spec(dataset)
    by = q.DATASETS[dataset].names("cat")[0]
    bounded = 0
    with use_scope(scope):
        for f in PERIODS:
            for cap in (5, 40, 100_000):
                got, more = q.run(con, f, spec, cap)
                want = _every_month(con, f, spec, cap)
                date_col = q.DATASETS[dataset].date_col
                # ties on the timestamp may come in any order: compare the rows as sets, in order of time
                key = [date_col, *[c for c in want.columns if c != date_col]]
                norm = lambda d: d.astype(str).sort_values(key, ignore_index=True)  # noqa: E731
                assert more == (len(want) > cap)
                assert norm(got).equals(norm(want.head(cap))) or \
                    list(got[date_col]) == list(want.head(cap)[date_col])
                bounded += q.since_day(con, f, spec, cap + 1) is not None
            counts, _ = q.run(con, f, q.Spec(dataset, (), (by,), "count"))
            assert q.row_count(con, f, spec) == int(counts["value"].sum())
    assert bounded >= 4            # not vacuous: the bound was used


def test_a_question_with_conditions_reads_every_month(con):
    spec = q.Spec("grid_cases", ((q.Condition("status", values=("已办结",)),),))
    assert q.row_count(con, Filters(), spec) is None
    assert q.since_day(con, Filters(), spec, 10) is None
