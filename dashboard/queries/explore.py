"""自助分析: whitelisted datasets, a filter builder's conditions, group-by + measure -> SQL.

The datasets are the marts (etl/marts: grid_cases, feedback_enriched, project_status,
fund_flows), so what an analyst filters and exports carries the same definitions as the pages
(deadline, on time, pain point, schedule and spending measures), plus the raw grid reports for
their description and location texts. Column names and expressions come only from `DATASETS`
(code constants); every value an analyst types or picks is bound as a parameter. Conditions
inside a group are ANDed, groups are ORed: (a AND b) OR (c). The sidebar's global filters
apply on top; project_status is measured at the as-of day (dashboard.queries.common.as_of).
This module builds SQL from the whitelist per question, so it composes text at call time from
those constants only (the one exception to base.py's composed-at-import convention).
No streamlit import.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import aggregates_only, fetch, filter_sql
from dashboard.queries.common import as_of

RESULT_CAP = 50_000          # rows read and downloaded; more gives a clear message
SHOWN_ROWS = 1_000           # rows the table sends to the browser at first; "show more" adds as many
RECORDS = "records"          # grouped results of an aggregate-only role: records per group
OPTION_CAP = 500             # distinct values offered in a multi-select


@dataclass(frozen=True)
class Column:
    """One whitelisted column: kind decides its filter widget and whether it can group."""
    name: str
    kind: str                # cat | num | date | text | period
    expr: str | None = None  # SQL over alias s when not a plain column (a code constant)

    @property
    def sql(self) -> str:
        return self.expr or f"s.{self.name}"


@dataclass(frozen=True)
class Dataset:
    table: str
    date_col: str
    columns: tuple[Column, ...]
    has_community: bool = True
    has_grid: bool = False
    category_col: str | None = None

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"column {name!r} is not whitelisted for {self.table}")

    def names(self, *kinds: str) -> list[str]:
        return [c.name for c in self.columns if not kinds or c.kind in kinds]


def _month(col: str) -> Column:
    return Column("month", "period", f"strftime(s.{col}, '%Y-%m')")


def _text(column: str) -> Column:
    return Column(column, "cat", f"CAST(s.{column} AS VARCHAR)")


DATASETS: dict[str, Dataset] = {
    "grid_cases": Dataset("grid_cases", "reported_at", (
        Column("reported_at", "date"), _month("reported_at"), Column("community", "cat"),
        Column("grid_id", "cat"), Column("category", "cat"), Column("subcategory", "cat"),
        Column("responsible_party", "cat"), Column("status", "cat"), _text("closed"),
        _text("on_time"), Column("sla_hours", "num"), Column("satisfaction", "num"),
        Column("resolution_hours", "num", "s.hours_to_resolve"),
    ), has_grid=True, category_col="category"),
    "feedback_enriched": Dataset("feedback_enriched", "submitted_at", (
        Column("submitted_at", "date"), _month("submitted_at"), Column("community", "cat"),
        Column("grid_id", "cat"), Column("channel", "cat"), Column("pain_point_label", "cat"),
        Column("rating", "num"), Column("likes", "num"), _text("replied"),
        Column("subject", "text"), Column("text", "text"),
    ), has_grid=True),
    "project_status": Dataset("project_status", "planned_start_on", (
        Column("planned_start_on", "date"), Column("planned_end_on", "date"),
        _month("planned_start_on"), Column("community", "cat"), Column("category", "cat"),
        Column("lead_party_type", "cat"), Column("lead_party", "cat"), Column("stage", "cat"),
        _text("archived"), Column("budget_yuan", "num", "CAST(s.budget_yuan AS DOUBLE)"),
        Column("progress_pct", "num"), Column("elapsed_pct", "num"),
        Column("spent_yuan", "num"), Column("spent_pct", "num"),
        Column("beneficiaries", "num"), Column("volunteer_count", "num"),
        Column("name", "text"),
    ), category_col="category"),
    "fund_flows": Dataset("fund_flows", "txn_on", (
        Column("txn_on", "date"), _month("txn_on"), Column("community", "cat"),
        Column("project_id", "cat"), Column("project_category", "cat"),
        Column("direction", "cat"), Column("source_type", "cat"), Column("source_name", "cat"),
        Column("expense_category", "cat"), _text("in_kind"),
        Column("amount_yuan", "num", "CAST(s.amount_yuan AS DOUBLE)"),
    ), category_col="project_category"),
    # the raw reports, for their texts (the grid_cases mart carries no description)
    "grid_reports": Dataset("grid_reports", "reported_at", (
        Column("reported_at", "date"), _month("reported_at"), Column("community", "cat"),
        Column("grid_id", "cat"), Column("category", "cat"), Column("subcategory", "cat"),
        Column("responsible_party", "cat"), Column("status", "cat"),
        Column("satisfaction", "num"),
        Column("resolution_hours", "num", "date_diff('minute', s.reported_at, s.resolved_at) / 60.0"),
        Column("description", "text"), Column("location_text", "text"),
    ), has_grid=True, category_col="category"),
}
MEASURES = ("count", "sum", "median", "share")

# The rows of a dataset per day under the sidebar filters alone, from its daily summary (one
# grid_cases row per report, one feedback_enriched row per message; day_on is the day of the
# dataset's date column, so the date filter selects the same rows): how many rows a question
# without conditions has, and the newest day whose rows and the later ones make a screenful
# (its rows are read from that day on, not from every month).
DAILY_SINCE = {dataset: f"""
    WITH days AS (
        SELECT g.day_on, sum(g.{count}) AS n FROM {{{summary}}} g WHERE {where} GROUP BY g.day_on),
    newer AS (
        SELECT day_on, sum(n) OVER (ORDER BY day_on DESC ROWS UNBOUNDED PRECEDING) AS n FROM days)
    SELECT max(day_on) FILTER (WHERE n >= $wanted) AS since_on, coalesce(max(n), 0)::BIGINT AS rows
    FROM newer""" for dataset, summary, count, where in (
    ("grid_cases", "grid_daily", "reports", filter_sql("g", "day_on", grid=True, category="category")),
    ("feedback_enriched", "feedback_daily", "messages", filter_sql("g", "day_on", grid=True)))}


@dataclass(frozen=True)
class Condition:
    """column IN values (cat) | lo <= column <= hi (num, date; either open) | column contains text."""
    column: str
    values: tuple = ()
    lo: object = None
    hi: object = None
    text: str | None = None

    def is_active(self) -> bool:
        return bool(self.values) or self.lo is not None or self.hi is not None or bool(self.text)


@dataclass(frozen=True)
class Spec:
    """One explorer question; hashable so it can key st.cache_data."""
    dataset: str
    groups: tuple[tuple[Condition, ...], ...] = ()   # OR of ANDs
    group_by: tuple[str, ...] = ()                    # empty: the matching rows themselves
    measure: str = "count"
    measure_col: str | None = None


def condition_sql(ds: Dataset, cond: Condition, name: str, params: dict) -> str | None:
    """SQL for one condition with its values added to params under `name`_*; None if inactive."""
    col = ds.column(cond.column)
    parts = []
    if cond.values:
        params[f"{name}_in"] = [str(v) for v in cond.values]
        parts.append(f"CAST({col.sql} AS VARCHAR) IN (SELECT unnest(${name}_in))")
    if cond.lo is not None:
        params[f"{name}_lo"] = cond.lo
        parts.append(f"{col.sql} >= ${name}_lo")
    if cond.hi is not None:
        hi = cond.hi
        if col.kind == "date":        # inclusive day -> exclusive next midnight
            hi = dt.datetime.combine(hi, dt.time()) + dt.timedelta(days=1)
            parts.append(f"{col.sql} < ${name}_hi")
        else:
            parts.append(f"{col.sql} <= ${name}_hi")
        params[f"{name}_hi"] = hi
    if cond.text:
        params[f"{name}_text"] = cond.text.lower()
        parts.append(f"contains(lower(CAST({col.sql} AS VARCHAR)), ${name}_text)")
    return " AND ".join(parts) if parts else None


def where_sql(ds: Dataset, groups, params: dict) -> str:
    """(c1 AND c2) OR (c3): empty groups are dropped; nothing active means TRUE."""
    ors = []
    for gi, group in enumerate(groups):
        ands = [s for ci, c in enumerate(group)
                if (s := condition_sql(ds, c, f"g{gi}c{ci}", params))]
        if ands:
            ors.append("(" + " AND ".join(ands) + ")")
    return "(" + " OR ".join(ors) + ")" if ors else "TRUE"


def global_sql(ds: Dataset) -> str:
    """The sidebar filters for this dataset (fund transactions follow their project)."""
    if ds.has_community:
        return filter_sql("s", ds.date_col, grid=ds.has_grid, category=ds.category_col)
    projects = filter_sql("p", None, category="category")
    return (filter_sql("s", ds.date_col, street=False, community=False) +
            f" AND s.project_id IN (SELECT p.project_id FROM {{projects}} p WHERE {projects})")


def build_sql(spec: Spec, filters: Filters, cap: int | None = None,
              records: bool = False, as_of: dt.date | None = None,
              since: dt.date | None = None) -> tuple[str, dict]:
    """(SQL with {table} placeholders, bound params) for the spec; at most cap + 1 rows.

    records: grouped results also count each group's rows (column RECORDS), so small groups
    can be hidden from an aggregate-only role. as_of: the day project_status is measured at.
    since: a day before which none of the rows asked for lies (see `since_day`)."""
    cap = RESULT_CAP if cap is None else cap
    ds = DATASETS[spec.dataset]
    params = {**filters.params(), "cap": cap + 1, "as_of": as_of or filters.date_to}
    where = f"{global_sql(ds)} AND {where_sql(ds, spec.groups, params)}"
    if since is not None:
        params["since_on"] = since
        where += f" AND s.{ds.date_col} >= $since_on"
    source = f"FROM {{{ds.table}}} s WHERE {where}"
    if not spec.group_by:
        cols = ", ".join(f"{c.sql} AS {c.name}" for c in ds.columns if c.kind != "period")
        return f"SELECT {cols} {source} ORDER BY s.{ds.date_col} DESC LIMIT $cap", params
    keys = [ds.column(g) for g in spec.group_by]
    select = ", ".join(f"{k.sql} AS {k.name}" for k in keys)
    order = ", ".join(k.name for k in keys) if keys[0].kind == "period" else "value DESC"
    counted = f", count(*) AS {RECORDS}" if records else ""
    return (f"SELECT {select}, {measure_sql(ds, spec)} AS value{counted} {source} "
            f"GROUP BY ALL ORDER BY {order} LIMIT $cap"), params


def measure_sql(ds: Dataset, spec: Spec) -> str:
    if spec.measure == "count":
        return "count(*)"
    if spec.measure == "share":
        return "round(count(*) * 100.0 / sum(count(*)) OVER (), 2)"
    if spec.measure not in ("sum", "median") or not spec.measure_col:
        raise ValueError(f"measure {spec.measure!r} needs a numeric column")
    col = ds.column(spec.measure_col)
    if col.kind != "num":
        raise ValueError(f"{spec.measure_col} is not numeric")
    return f"CAST({spec.measure}({col.sql}) AS DOUBLE)"


def run(con: duckdb.DuckDBPyConnection, filters: Filters, spec: Spec,
        cap: int | None = None) -> tuple[pd.DataFrame, bool]:
    """(result, truncated): grouped measure or the matching rows, at most `cap` rows.

    For a role that sees the dataset only as aggregates, groups come with their record count
    and groups under the minimum are hidden; the matching rows themselves are refused."""
    cap = RESULT_CAP if cap is None else cap
    counted = bool(spec.group_by) and aggregates_only(DATASETS[spec.dataset].table)
    since = None if spec.group_by else since_day(con, filters, spec, cap + 1)
    sql, params = build_sql(spec, filters, cap, records=counted, as_of=as_of(con, filters),
                            since=since)
    df = fetch(con, sql, params, min_group=RECORDS if counted else None)
    return df.head(cap), len(df) > cap


def _daily(con: duckdb.DuckDBPyConnection, filters: Filters, spec: Spec, wanted: int) -> pd.DataFrame | None:
    """DAILY_SINCE's row for a question without conditions on a dataset with a daily summary."""
    if spec.dataset not in DAILY_SINCE or any(c.is_active() for g in spec.groups for c in g):
        return None
    return fetch(con, DAILY_SINCE[spec.dataset], {**filters.params(), "wanted": wanted},
                 min_group=())


def since_day(con: duckdb.DuckDBPyConnection, filters: Filters, spec: Spec,
              wanted: int) -> dt.date | None:
    """The newest day whose rows, with the later ones, make at least `wanted` rows of the
    question (newest first), or None when unknown or when the question has fewer rows."""
    found = _daily(con, filters, spec, wanted)
    if found is None or pd.isna(found["since_on"].iloc[0]):
        return None
    return pd.Timestamp(found["since_on"].iloc[0]).date()


def row_count(con: duckdb.DuckDBPyConnection, filters: Filters, spec: Spec) -> int | None:
    """How many rows the question (without group-by) has, from the daily summary; None when it
    has conditions the summary does not know (count them with `run` grouped instead)."""
    found = _daily(con, filters, spec, 1)
    return None if found is None else int(found["rows"].iloc[0])


def _measured_at(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict:
    """$as_of and $date_from for project_status (the other datasets bind neither)."""
    return {"as_of": as_of(con, filters), "date_from": filters.date_from}


def distinct_values(con: duckdb.DuckDBPyConnection, _filters: Filters, dataset: str, column: str,
                    limit: int = OPTION_CAP) -> list[str]:
    """The most frequent values of a categorical column (for its multi-select; all periods)."""
    ds = DATASETS[dataset]
    col = ds.column(column)
    df = fetch(con, f"SELECT CAST({col.sql} AS VARCHAR) AS v, count(*) AS n FROM {{{ds.table}}} s "
                    "WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT $limit",
               {"limit": limit, **_measured_at(con, _filters)},
               min_group="n" if aggregates_only(ds.table) else ())
    return df["v"].tolist()


def column_range(con: duckdb.DuckDBPyConnection, _filters: Filters, dataset: str,
                 column: str) -> tuple:
    """(min, max) of a numeric or date column; dates as datetime.date."""
    ds = DATASETS[dataset]
    col = ds.column(column)
    expr = f"CAST({col.sql} AS DATE)" if col.kind == "date" else col.sql
    row = fetch(con, f"SELECT min({expr}) AS lo, max({expr}) AS hi FROM {{{ds.table}}} s",
                _measured_at(con, _filters), min_group=()).iloc[0]
    lo, hi = row["lo"], row["hi"]
    if col.kind == "date":
        lo, hi = (None if pd.isna(v) else pd.Timestamp(v).date() for v in (lo, hi))
    return lo, hi
