"""The one door every UI read goes through: bound parameters, whitelisted tables, scope.

Query modules write table references as `{grid_reports}`; `fetch` resolves each to the
table, or - when a governance party signs in with a narrower `Scope` - to a subquery
holding only what that role may read (RULES: one rule per table per role, texts and names
replaced by NULL where the role may not see them). That is the single place a row-level
filter lives. For the aggregate-only roles (partner, public) a read of resident records must
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
import re
import secrets
import string
from dataclasses import dataclass
from typing import Iterator

import duckdb
import pandas as pd

from dashboard.filters import Filters
from etl import codes


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

FULL_ROLES = ("leader", "analyst")          # every row, every column, the SQL console
AGGREGATE_ROLES = ("partner", "public")     # resident records: aggregates only, see fetch()
MIN_GROUP = 5                # an aggregate over 1..4 resident records is hidden (AGGREGATE_ROLES)
STREET_SCOPE = codes.WHOLE_STREET   # pain_points.scope of the street-wide ranking
# one row per resident message or grid case (or derived from one): the tables whose reads an
# aggregate-only role may run only through a query that declares its small-group column
RECORD_TABLES = frozenset({"grid_reports", "feedback", "feedback_pain_points", "feedback_tokens",
                           "feedback_places", "grid_cases", "grid_cases_at", "grid_daily",
                           "grid_resolutions", "grid_resolution_monthly", "feedback_enriched",
                           "feedback_daily", "pain_point_daily", "pain_point_places",
                           "pain_point_keywords", "usability_ratings"})


class ScopeError(PermissionError):
    """A read the signed-in role may not run (row-level resident data for an aggregate role)."""


@dataclass(frozen=True)
class Rule:
    """What one role reads of one table: the rows where `where` holds (SQL over alias s,
    values bound as $_scope_*), with each (column, SQL expression) of `replace` swapped in,
    e.g. ("text", "NULL::VARCHAR"). FULL is the bare table."""
    where: str = "TRUE"
    replace: tuple[tuple[str, str], ...] = ()


_NONCE = secrets.token_hex(16)      # keys the aggregate roles' opaque resident tokens

FULL = Rule()
NOTHING = Rule("FALSE")

_IN_COMMUNITIES = "IN (SELECT unnest($_scope_communities))"
_COMMUNITY_FEEDBACK = f"(SELECT feedback_id FROM feedback WHERE community {_IN_COMMUNITIES})"
_COMMUNITY_PROJECTS = f"(SELECT project_id FROM projects WHERE community {_IN_COMMUNITIES})"
# the partner's projects: it leads them or is named in partner_parties (split like linkage.py)
_PARTY_PROJECTS = ("(SELECT project_id FROM projects WHERE $_scope_party IS NOT NULL"
                   " AND (lead_party = $_scope_party OR list_contains(list_transform("
                   "regexp_split_to_array(COALESCE(partner_parties, ''), '[、,，;；/]+'),"
                   " lambda x: trim(x)), $_scope_party)))")
_NULL = "NULL::VARCHAR"
_OWN_LOAD = ("s.load_id IN (SELECT load_id FROM etl_loads WHERE $_scope_party IS NOT NULL"
             " AND loaded_by = $_scope_party)")
_NO_QUOTES = (("representative_ids", "[]::VARCHAR[]"), ("representative_texts", "[]::VARCHAR[]"))


def _own_quotes(column: str) -> str:
    """representative_ids/texts kept only where the quoted message is the community's own."""
    return ("(SELECT COALESCE(list(r.v ORDER BY r.i), []::VARCHAR[]) FROM ("
            f"SELECT unnest(s.representative_ids) AS id, unnest(s.{column}) AS v,"
            " generate_subscripts(s.representative_ids, 1) AS i) r"
            f" WHERE r.id IN {_COMMUNITY_FEEDBACK})")


_OWN_QUOTES = tuple((c, _own_quotes(c)) for c in ("representative_ids", "representative_texts"))
_REPORT_TEXT = (("reporter", _NULL), ("description", _NULL), ("location_text", _NULL))
_FEEDBACK_TEXT = (("subject", _NULL), ("text", _NULL), ("reply", _NULL),
                  ("resident_pseudonym", _NULL))
# aggregate roles never see a resident's pseudonym; the participation measures still need to
# tell residents apart (top-10% share, Gini), so they get an opaque per-process token instead
_PSEUDONYM = (("resident_pseudonym", "'T' || left(md5(s.resident_pseudonym || $_scope_nonce), 12)"),)
_BIG_ENOUGH = Rule(f"s.size >= {MIN_GROUP}")

# a monthly ranking with quotes (pain_points, hot_spots): a community sees its own and the
# street-wide ones, quoting only its own messages; aggregate roles see rows of at least MIN_GROUP
# messages, without quotes
_RANKING = {"leader": FULL, "analyst": FULL,
            "community": Rule(f"(s.scope {_IN_COMMUNITIES} OR s.scope = '{STREET_SCOPE}')",
                              _OWN_QUOTES),
            "partner": Rule(_BIG_ENOUGH.where, _NO_QUOTES),
            "public": Rule(_BIG_ENOUGH.where, _NO_QUOTES)}
# one row per message derived from it (tokens, pain point, places): no text of its own
_PER_MESSAGE = {"leader": FULL, "analyst": FULL,
                "community": Rule(f"s.feedback_id IN {_COMMUNITY_FEEDBACK}"),
                "partner": FULL, "public": FULL}

# table -> role -> Rule. Every table the UI reads needs a rule for every role (tested).
# community: its own rows only (pain_points: its own and the street-wide rankings, quoting only
# its own messages). partner: its projects with their milestones and ledgers; resident records
# as aggregates without texts or names. public: aggregates without texts, quotes, pseudonyms or
# names of people; groups under MIN_GROUP hidden. etl_* tables are the office's own.
RULES: dict[str, dict[str, Rule]] = {
    "grid_reports": {"leader": FULL, "analyst": FULL,
                     "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                     "partner": Rule(replace=_REPORT_TEXT), "public": Rule(replace=_REPORT_TEXT)},
    "feedback": {"leader": FULL, "analyst": FULL,
                 "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                 "partner": Rule(replace=_FEEDBACK_TEXT), "public": Rule(replace=_FEEDBACK_TEXT)},
    "projects": {"leader": FULL, "analyst": FULL,
                 "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                 "partner": Rule(f"s.project_id IN {_PARTY_PROJECTS}"), "public": FULL},
    "project_milestones": {"leader": FULL, "analyst": FULL,
                           "community": Rule(f"s.project_id IN {_COMMUNITY_PROJECTS}"),
                           "partner": Rule(f"s.project_id IN {_PARTY_PROJECTS}"), "public": FULL},
    "fund_transactions": {"leader": FULL, "analyst": FULL,
                          "community": Rule(f"s.project_id IN {_COMMUNITY_PROJECTS}"),
                          "partner": Rule(f"s.project_id IN {_PARTY_PROJECTS}"),
                          "public": Rule(replace=(("note", _NULL),))},
    "pain_points": _RANKING,
    "feedback_pain_points": _PER_MESSAGE,
    "feedback_tokens": _PER_MESSAGE,
    "hot_spots": _RANKING,
    "feedback_places": _PER_MESSAGE,
    # marts (etl/marts): each follows the rule of the table it is derived from
    "grid_cases": {"leader": FULL, "analyst": FULL,
                   "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                   "partner": FULL, "public": FULL},          # no reporter or description columns
    "grid_cases_at": {"leader": FULL, "analyst": FULL,
                      "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                      "partner": FULL, "public": FULL},
    "grid_resolutions": {"leader": FULL, "analyst": FULL,          # no text columns
                         "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                         "partner": FULL, "public": FULL},
    "grid_resolution_monthly": {"leader": FULL, "analyst": FULL,   # counts only
                                "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                                "partner": FULL, "public": FULL},
    "grid_daily": {"leader": FULL, "analyst": FULL,                 # counts only
                   "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                   "partner": FULL, "public": FULL},
    "project_status": {"leader": FULL, "analyst": FULL,
                       "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                       "partner": Rule(f"s.project_id IN {_PARTY_PROJECTS}"), "public": FULL},
    "fund_flows": {"leader": FULL, "analyst": FULL,
                   "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                   "partner": Rule(f"s.project_id IN {_PARTY_PROJECTS}"), "public": FULL},
    "fund_daily": {"leader": FULL, "analyst": FULL,                 # fund_flows summed by day
                   "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                   "partner": Rule(f"s.project_id IN {_PARTY_PROJECTS}"), "public": FULL},
    "feedback_enriched": {"leader": FULL, "analyst": FULL,
                          "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                          "partner": Rule(replace=(("subject", _NULL), ("text", _NULL))),
                          "public": Rule(replace=(("subject", _NULL), ("text", _NULL)))},
    "feedback_daily": {"leader": FULL, "analyst": FULL,             # counts only
                       "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                       "partner": FULL, "public": FULL},
    # the pain-point run's summaries (etl/painpoints/summaries.py): counts of messages, read as
    # feedback_enriched would be; the one-row state table holds no resident data
    **{t: {"leader": FULL, "analyst": FULL, "community": Rule(f"s.community {_IN_COMMUNITIES}"),
           "partner": FULL, "public": FULL}
       for t in ("pain_point_daily", "pain_point_places", "pain_point_keywords")},
    "pain_point_summaries": {r: FULL for r in ROLES},
    "sla_rules": {r: FULL for r in ROLES},           # seeded business rules, no data rows
    "named_codes": {r: FULL for r in ROLES},
    "warning_rules": {r: FULL for r in ROLES},
    # deliberation and participation (issue 15): governance records by community; residents'
    # tasks, redemptions and evaluations are resident records (pseudonyms, comments)
    "communities": {"leader": FULL, "analyst": FULL,
                    "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                    "partner": FULL, "public": FULL},
    "meetings": {"leader": FULL, "analyst": FULL,
                 "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                 "partner": Rule(replace=(("convener", _NULL),)),
                 "public": Rule(replace=(("convener", _NULL),))},
    "resolutions": {"leader": FULL, "analyst": FULL,
                    "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                    "partner": FULL, "public": FULL},
    "votes": {"leader": FULL, "analyst": FULL,
              "community": Rule(f"s.community {_IN_COMMUNITIES}"),
              "partner": FULL, "public": FULL},
    "vote_results": {"leader": FULL, "analyst": FULL,
                     "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                     "partner": FULL, "public": FULL},
    "participation": {"leader": FULL, "analyst": FULL,
                      "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                      "partner": Rule(replace=_PSEUDONYM), "public": Rule(replace=_PSEUDONYM)},
    "participation_points": {"leader": FULL, "analyst": FULL,
                             "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                             "partner": Rule(replace=_PSEUDONYM),
                             "public": Rule(replace=_PSEUDONYM)},
    # the summary of participation by resident (etl/marts/residents.py): read as participation
    "participation_residents": {"leader": FULL, "analyst": FULL,
                                "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                                "partner": Rule(replace=_PSEUDONYM),
                                "public": Rule(replace=_PSEUDONYM)},
    "redemptions": {"leader": FULL, "analyst": FULL,
                    "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                    "partner": Rule(replace=_PSEUDONYM), "public": Rule(replace=_PSEUDONYM)},
    "evaluations": {"leader": FULL, "analyst": FULL,
                    "community": Rule(f"s.project_id IN {_COMMUNITY_PROJECTS}"),
                    "partner": Rule(f"s.project_id IN {_PARTY_PROJECTS}"),
                    "public": Rule(replace=(("comment", _NULL), *_PSEUDONYM))},
    # residents rating the platform itself: a community reads its own; the aggregate roles get
    # neither the comment nor the pseudonym (as for evaluations)
    "usability_ratings": {"leader": FULL, "analyst": FULL,
                          "community": Rule(f"s.community {_IN_COMMUNITIES}"),
                          "partner": Rule(replace=(("comment", _NULL), *_PSEUDONYM)),
                          "public": Rule(replace=(("comment", _NULL), *_PSEUDONYM))},
    "participation_rules": {r: FULL for r in ROLES},     # settings, no resident rows
    "points_rules": {r: FULL for r in ROLES},
    # labels, keywords and street-wide sizes: aggregates, no resident rows
    "pain_point_catalog": {"leader": FULL, "analyst": FULL, "community": FULL,
                           "partner": FULL, "public": FULL},
    "pain_point_clusters": {"leader": FULL, "analyst": FULL, "community": FULL,
                            "partner": _BIG_ENOUGH, "public": _BIG_ENOUGH},
    "pain_point_months": {"leader": FULL, "analyst": FULL, "community": FULL,
                          "partner": FULL, "public": FULL},
    # the load history: a partner sees the loads it made itself (data management page)
    "etl_loads": {"leader": FULL, "analyst": FULL, "community": FULL,
                  "partner": Rule(_OWN_LOAD),
                  "public": Rule(replace=(("path", _NULL), ("message", _NULL)))},
    "etl_rejects": {"leader": FULL, "analyst": FULL, "community": NOTHING,
                    "partner": Rule(_OWN_LOAD), "public": NOTHING},
    "etl_rollbacks": {"leader": FULL, "analyst": FULL, "community": NOTHING,
                      "partner": NOTHING, "public": NOTHING},
    "etl_meta": {"leader": NOTHING, "analyst": NOTHING, "community": NOTHING,
                 "partner": NOTHING, "public": NOTHING},
}
TABLES = tuple(RULES)
# how a community restriction narrows a partner or public scope that also names communities
_COMMUNITY_OF: dict[str, str] = {t: r["community"].where for t, r in RULES.items()}
# table-macro marts: a {reference} becomes the macro's call ($as_of, $date_from bound)
_MACRO_CALLS: dict[str, str] = {
    "grid_cases_at": "grid_cases_at($as_of)",
    "project_status": "project_status($as_of, date_from := $date_from)",
}

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
    n = pd.to_numeric(values, errors="coerce")
    return (n > 0) & (n < MIN_GROUP)


def suppress_small_groups(df: pd.DataFrame, min_group: str | tuple[str, ...] | None,
                          mask: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Rows whose group count is 1..MIN_GROUP-1 dropped (min_group) or blanked (mask). Pure."""
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
