"""The one door every UI read goes through: bound parameters, whitelisted tables, scope.

Query modules write table references as `{grid_reports}`; `fetch` resolves each to the
table, or - when a governance party signs in with a narrower `Scope` - to a subquery
holding only what that role may read (RULES, dashboard/queries/access_rules.py: one rule per
table per role, texts and names replaced by NULL where the role may not see them). That is the
single place a row-level filter is applied. For the aggregate-only roles (partner, public) a read of resident records must
declare its small groups (`min_group` / `mask`), or it is refused: see fetch(). What each
role sees is documented in docs/ACCESS.md. Values are always bound (`$name`), never spliced.
Marts (etl/marts) resolve the same way; a table-macro mart such as `{project_status}`
becomes its call with $as_of bound.

How a query module writes SQL (one convention for every module in dashboard/queries):
- Each query is a module-level constant, composed once at import, never per call:
      KPIS = sql('''
          SELECT sum(reports) AS reports FROM {grid_daily} g
          WHERE {where} AND g.day_on BETWEEN $date_from AND $as_of
      ''', where=GRID_FILTERS)
- `{name}` is a table or mart (resolved by fetch for the signed-in scope); a `{name}` given as
  a keyword to `sql()` is a named fragment: another module-level constant of SQL text (a
  predicate such as `filter_sql("g", ...)`, a column list), itself built only from code
  constants. Whatever sql() is not given stays a table reference.
- Every value - filters, dates, ids, limits, anything a person typed or picked - is a bound
  `$name` parameter. No user value ever enters the SQL text; identifiers (a group-by column,
  a dataset's table) are chosen from a constant whitelist, and a query that needs one is
  composed from per-identifier constants (e.g. a dict of queries keyed by the column).
- The function that runs it is one `fetch(con, QUERY, params)`; ratios and shares are
  finished in the SQL (the marts' definitions), pages only format.
"""
from __future__ import annotations

import contextlib
import contextvars
import pickle
import re
import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterator

from dashboard.filters import Filters
# the rules the door applies, importable from here as before (tests, pages, dashboard/access)
from dashboard.queries.access_rules import (  # noqa: F401
    FULL, MIN_GROUP, NOTHING, RECORD_TABLES, ROLES, RULES, STREET_SCOPE, TABLES, Rule, _COMMUNITY_OF,
    _MACRO_CALLS)

if TYPE_CHECKING:       # pandas only where a frame is filtered (below): the access CLI
    import duckdb       # (`python -m etl keys|audit`) imports Scope from here and reads no database
    import pandas as pd


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

FULL_ROLES = ("leader", "analyst")          # every row, every column, the SQL console
AGGREGATE_ROLES = ("partner", "public")     # resident records: aggregates only, see fetch()


class ScopeError(PermissionError):
    """A read the signed-in role may not run (row-level resident data for an aggregate role)."""


# where fetch_shared keeps a result (set by dashboard/cache.py for the file being read)
Store = Callable[[Hashable, Callable[[], Any]], Any]
_store: contextvars.ContextVar[Store | None] = contextvars.ContextVar("shared_reads", default=None)

_NONCE = secrets.token_hex(16)      # keys the aggregate roles' opaque resident tokens
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


def effective_role(scope: Scope) -> str:
    """The role whose rules apply; a leader or analyst narrowed to communities reads as one.

    An unknown role is refused (fail closed), never read as everything."""
    if scope.role not in ROLES:
        raise ScopeError(f"unknown role {scope.role!r}")
    if scope.role in FULL_ROLES and scope.communities is not None:
        return "community"
    return scope.role


def _source(table: str, rule: Rule, extra_where: str | None = None) -> str:
    call = _MACRO_CALLS.get(table, table)
    if rule is FULL and extra_where is None:
        return call
    select = "s.*"
    if rule.replace:
        select += " REPLACE (" + ", ".join(f"{e} AS {c}" for c, e in rule.replace) + ")"
    where = rule.where if extra_where is None else f"({rule.where}) AND ({extra_where})"
    return f"(SELECT {select} FROM {call} s WHERE {where})"


def _sources(scope: Scope) -> dict[str, str]:
    role = effective_role(scope)
    narrow = scope.communities is not None and role != "community"
    return {t: _source(t, rules[role], _COMMUNITY_OF[t] if narrow else None)
            for t, rules in RULES.items()}


def sql_text(sql: str, scope: Scope | None = None) -> str:
    """The SQL with {table} references resolved for the scope (exposed for tests)."""
    return sql.format(**_sources(scope or current_scope()))


class _Fragments(dict):
    """format_map helper: named fragments filled in, every other {name} kept as a table."""
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def sql(template: str, **fragments: str) -> str:
    """A query constant: `template` with its named `{fragment}`s filled in (code constants
    only, see the module docstring); `{table}` references stay for fetch to resolve."""
    return template.format_map(_Fragments(fragments))


def tables_of(sql: str) -> set[str]:
    """The {table} references of a query (unknown names raise KeyError)."""
    names = {name for _, name, _, _ in string.Formatter().parse(sql) if name}
    unknown = names - set(RULES)
    if unknown:
        raise KeyError(f"no access rule for tables {sorted(unknown)}")
    return names


def aggregates_only(table: str, scope: Scope | None = None) -> bool:
    """True when the scope may read `table` only as aggregates (no row-level drill-down)."""
    return effective_role(scope or current_scope()) in AGGREGATE_ROLES and table in RECORD_TABLES


@contextlib.contextmanager
def use_store(store: Store | None) -> Iterator[None]:
    """Inside the block, fetch_shared keeps its results in `store(key, compute)`. The UI's cache
    layer sets one per database file version (dashboard/cache.py); without one fetch_shared is
    fetch."""
    token = _store.set(store)
    try:
        yield
    finally:
        _store.reset(token)


def fetch_shared(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None, *,
                 min_group: str | tuple[str, ...] | None = None) -> pd.DataFrame:
    """fetch, asked once per file version, scope and parameters: for a check many query
    functions repeat within one page run (e.g. painpoints.summaries_fresh, five times per run),
    which the result cache cannot share because it keys whole query functions. The key holds
    the SQL, the scope and the parameters, so no scope ever reads another's result."""
    store = _store.get()
    if store is None:
        return fetch(con, sql, params, min_group=min_group)
    key: Hashable = ("fetch_shared", sql, current_scope(), min_group,
                     tuple(sorted((params or {}).items(), key=lambda kv: kv[0])))
    try:
        hash(key)
    except TypeError:                    # a parameter such as a list: key by its value
        key = pickle.dumps(key)
    return store(key, lambda: fetch(con, sql, params, min_group=min_group))


def console_allowed(scope: Scope | None = None) -> bool:
    """The SQL console reads the whole file: only an unrestricted leader or analyst may use it."""
    scope = scope or current_scope()
    return scope.role in FULL_ROLES and scope.communities is None


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None, *,
          min_group: str | tuple[str, ...] | None = None,
          mask: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Run one read under the current scope and return a DataFrame; binds only the parameters
    the SQL names.

    A query over resident records (RECORD_TABLES) declares its small groups: `min_group`
    names the count column(s) whose rows are dropped when 1..MIN_GROUP-1 (`()` = a read
    without groups: date bounds, dimension lists), `mask` maps a count column to the columns
    blanked with it (one-row KPIs). Under an aggregate-only role an undeclared read of
    those tables - e.g. a message list - raises ScopeError instead of returning rows.
    """
    scope = current_scope()
    role = effective_role(scope)
    tables = tables_of(sql)
    aggregate = role in AGGREGATE_ROLES
    if aggregate and tables & RECORD_TABLES and min_group is None and mask is None:
        raise ScopeError(f"row-level read of {sorted(tables & RECORD_TABLES)} refused for "
                         f"role {role!r}: aggregates only")
    text = sql_text(sql, scope)
    available = dict(params or {})
    available["_scope_communities"] = list(scope.communities or ())
    available["_scope_party"] = scope.party
    available["_scope_nonce"] = _NONCE
    names = set(_PARAM.findall(text))
    missing = names - available.keys()
    if missing:
        raise KeyError(f"query needs parameters {sorted(missing)}")
    bound = {k: v for k, v in available.items() if k in names}
    df = con.execute(text, bound).df()
    return suppress_small_groups(df, min_group, mask) if aggregate else df


def _small(values: pd.Series) -> pd.Series:
    import pandas as pd
    n = pd.to_numeric(values, errors="coerce")
    return (n > 0) & (n < MIN_GROUP)


def suppress_small_groups(df: pd.DataFrame, min_group: str | tuple[str, ...] | None,
                          mask: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Rows whose group count is 1..MIN_GROUP-1 dropped (min_group) or blanked (mask). Pure."""
    import pandas as pd
    out = df
    cols = (min_group,) if isinstance(min_group, str) else tuple(min_group or ())
    if cols:
        hidden = pd.Series(False, index=out.index)
        for c in cols:
            hidden |= _small(out[c])
        out = out.loc[~hidden].reset_index(drop=True)
    for count_col, blanked in (mask or {}).items():
        small = _small(out[count_col])
        if small.any():
            out = out.copy()
            for c in (count_col, *blanked):
                out[c] = out[c].astype("float64" if pd.api.types.is_numeric_dtype(out[c])
                                       else object)
                out.loc[small, c] = None
    return out


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
