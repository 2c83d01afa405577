"""The one door every UI read goes through: bound parameters, whitelisted tables, scope.

Query modules write table references as `{grid_reports}`; `fetch` resolves each to the
table, or - when a governance party signs in with a narrower `Scope` - to a subquery
holding only that party's rows. That is the single place a row-level filter lives.
Values are always bound (`$name`), never spliced into SQL text.
"""
from __future__ import annotations

import contextlib
import contextvars
import re
from dataclasses import dataclass
from typing import Iterator

import duckdb
import pandas as pd

from dashboard.filters import Filters


ROLES = ("leader", "analyst", "community", "partner", "public")


@dataclass(frozen=True)
class Scope:
    """Which rows a signed-in party may see.

    role: one of ROLES (leader and analyst see everything); communities: the community role's
    own communities (None = the whole street); party: the partner role's organisation name as
    it appears in projects.lead_party / partner_parties.
    """
    communities: tuple[str, ...] | None = None
    role: str = "leader"
    party: str | None = None


FULL_SCOPE = Scope()
_current: contextvars.ContextVar[Scope] = contextvars.ContextVar("scope", default=FULL_SCOPE)

# table -> SQL predicate (over alias s) that restricts it to $_scope_communities
_SCOPED_BY: dict[str, str] = {
    "grid_reports": "s.community IN (SELECT unnest($_scope_communities))",
    "feedback": "s.community IN (SELECT unnest($_scope_communities))",
    "projects": "s.community IN (SELECT unnest($_scope_communities))",
    "project_milestones": "s.project_id IN (SELECT project_id FROM projects"
                          " WHERE community IN (SELECT unnest($_scope_communities)))",
    "fund_transactions": "s.project_id IN (SELECT project_id FROM projects"
                         " WHERE community IN (SELECT unnest($_scope_communities)))",
    "pain_points": "s.scope IN (SELECT unnest($_scope_communities))",
    "feedback_pain_points": "s.feedback_id IN (SELECT feedback_id FROM feedback"
                            " WHERE community IN (SELECT unnest($_scope_communities)))",
    "feedback_tokens": "s.feedback_id IN (SELECT feedback_id FROM feedback"
                       " WHERE community IN (SELECT unnest($_scope_communities)))",
    "pain_point_catalog": "TRUE",
    "pain_point_clusters": "TRUE",      # street-wide aggregates, no resident rows
    "pain_point_months": "TRUE",
    "etl_loads": "TRUE",
    "etl_rejects": "TRUE",
    "etl_meta": "FALSE",
    # deliberation and participation (issue 15)
    "communities": "s.community IN (SELECT unnest($_scope_communities))",
    "meetings": "s.community IN (SELECT unnest($_scope_communities))",
    "resolutions": "s.community IN (SELECT unnest($_scope_communities))",
    "votes": "s.community IN (SELECT unnest($_scope_communities))",
    "vote_results": "s.community IN (SELECT unnest($_scope_communities))",
    "participation": "s.community IN (SELECT unnest($_scope_communities))",
    "participation_points": "s.community IN (SELECT unnest($_scope_communities))",
    "redemptions": "s.community IN (SELECT unnest($_scope_communities))",
    "evaluations": "s.project_id IN (SELECT project_id FROM projects"
                   " WHERE community IN (SELECT unnest($_scope_communities)))",
    "participation_rules": "TRUE",      # settings, no resident rows
    "points_rules": "TRUE",
}
TABLES = tuple(_SCOPED_BY)

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@contextlib.contextmanager
def use_scope(scope: Scope) -> Iterator[None]:
    """Run the queries inside the block under `scope` (sign-in sets this once per session)."""
    token = _current.set(scope)
    try:
        yield
    finally:
        _current.reset(token)


def current_scope() -> Scope:
    return _current.get()


def _sources(scope: Scope) -> dict[str, str]:
    if scope.communities is None:
        return {t: t for t in TABLES}
    return {t: f"(SELECT * FROM {t} s WHERE {pred})" for t, pred in _SCOPED_BY.items()}


def sql_text(sql: str, scope: Scope | None = None) -> str:
    """The SQL with {table} references resolved for the scope (exposed for tests)."""
    return sql.format(**_sources(scope or current_scope()))


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run one read and return a DataFrame; binds only the parameters the SQL names."""
    scope = current_scope()
    text = sql_text(sql, scope)
    available = dict(params or {})
    if scope.communities is not None:
        available["_scope_communities"] = list(scope.communities)
    names = set(_PARAM.findall(text))
    missing = names - available.keys()
    if missing:
        raise KeyError(f"query needs parameters {sorted(missing)}")
    bound = {k: v for k, v in available.items() if k in names}
    return con.execute(text, bound).df()


def filter_sql(alias: str, date_col: str | None, *, street: bool = True, community: bool = True,
               grid: bool = False, category: str | None = None) -> str:
    """The global-filter predicate for one table alias (columns are code constants, values bound).

    Uses $date_from, $date_to_excl, $street, $community, $grid_id, $category from Filters.params().
    """
    parts = ["TRUE"]
    if date_col:
        parts.append(f"($date_from IS NULL OR {alias}.{date_col} >= $date_from)")
        parts.append(f"($date_to_excl IS NULL OR {alias}.{date_col} < $date_to_excl)")
    if street:
        parts.append(f"($street IS NULL OR {alias}.street = $street)")
    if community:
        parts.append(f"($community IS NULL OR {alias}.community = $community)")
    if grid:
        parts.append(f"($grid_id IS NULL OR {alias}.grid_id = $grid_id)")
    if category:
        parts.append(f"($category IS NULL OR {alias}.{category} = $category)")
    return " AND ".join(parts)


def params_of(filters: Filters, **extra) -> dict:
    """Filters.params() plus query-specific values."""
    return {**filters.params(), **extra}
