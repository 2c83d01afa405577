"""五社联动: what each of the five kinds of party contributes, per community.

Measures per (community, party type), over the projects in view (dashboard.queries.projects):
- projects_led: projects whose lead party is of that type;
- partner_appearances: mentions in projects' partner lists. A partner's type is the type it
  has when it leads a project anywhere in the data, else guessed from its name
  (PARTNER_TYPE_PATTERNS, first match wins); partners matching nothing count as unclassified;
- led_funds_yuan: money received in the period by projects that type leads;
- charity_yuan: (社会慈善资源 only) money received in the period from charitable source
  types (CHARITY_SOURCE_TYPES), whoever leads the receiving project;
- volunteers: volunteer_count of projects that type leads.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch
from dashboard.queries.common import period_params
from dashboard.queries.projects import in_view_sql

PARTY_TYPES = ("社区", "社会组织", "社会工作者", "社区志愿者", "社会慈善资源")
CHARITY_TYPE = "社会慈善资源"
CHARITY_SOURCE_TYPES = ("企业社会责任", "公众小额捐赠", "慈善信托", "社区基金", "商户公益·实物折价")
# name pattern -> five-society type, tried in order (regular expressions, bound as values)
PARTNER_TYPE_PATTERNS = (
    ("社会慈善资源", "基金|慈善|爱心|企业|公司|商户|商会|银行|超市|药房|集团|商家"),
    ("社会工作者", "社工|社会工作"),
    ("社区志愿者", "志愿|义工"),
    ("社会组织", "协会|中心|服务社|社会组织|促进会|研究会|工作室|俱乐部|联合会"),
    ("社区", "居委|社区|业委会|党支部|网格"),
)
MEASURES = ("projects_led", "partner_appearances", "led_funds_yuan", "charity_yuan", "volunteers")


def _partner_case() -> tuple[str, dict]:
    whens, params = [], {}
    for i, (ptype, pattern) in enumerate(PARTNER_TYPE_PATTERNS):
        whens.append(f"WHEN regexp_matches(party, $pat_{i}) THEN $typ_{i}")
        params[f"pat_{i}"], params[f"typ_{i}"] = pattern, ptype
    return "CASE " + " ".join(whens) + " END", params


def matrix(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (community, party type) for communities with projects in view: MEASURES."""
    case, pattern_params = _partner_case()
    sql = f"""
    WITH p AS (
        SELECT p.*, COALESCE(p.actual_start_on, p.planned_start_on) AS started_on
        FROM {{projects}} p WHERE {in_view_sql()}),
    types AS (SELECT unnest($party_types) AS party_type),
    comms AS (SELECT DISTINCT community FROM p),
    led AS (SELECT community, lead_party_type AS party_type, count(*) AS projects_led,
                   COALESCE(sum(volunteer_count), 0) AS volunteers
            FROM p GROUP BY ALL),
    known AS (SELECT lead_party AS party, min(lead_party_type) AS party_type
              FROM {{projects}} GROUP BY lead_party),
    mentions AS (
        SELECT community, trim(party) AS party FROM (
            SELECT community,
                   unnest(regexp_split_to_array(COALESCE(partner_parties, ''), '[、,，;；/]+')) AS party
            FROM p)
        WHERE length(trim(party)) > 0),
    typed AS (SELECT m.community, COALESCE(k.party_type, {case}) AS party_type
              FROM mentions m LEFT JOIN known k USING (party)),
    partners AS (SELECT community, party_type, count(*) AS partner_appearances
                 FROM typed GROUP BY ALL),
    inflow AS (SELECT t.project_id, t.source_type, t.amount_yuan
               FROM {{fund_transactions}} t
               WHERE t.direction = 'in' AND ($date_from IS NULL OR t.txn_on >= $date_from)
                 AND t.txn_on <= $as_of),
    money AS (SELECT p.community, p.lead_party_type AS party_type,
                     sum(i.amount_yuan)::DOUBLE AS led_funds_yuan
              FROM inflow i JOIN p USING (project_id) GROUP BY ALL),
    charity AS (SELECT p.community, $charity_type AS party_type,
                       sum(i.amount_yuan)::DOUBLE AS charity_yuan
                FROM inflow i JOIN p USING (project_id)
                WHERE list_contains($charity_sources, i.source_type) GROUP BY ALL)
    SELECT c.community, ty.party_type,
           COALESCE(led.projects_led, 0) AS projects_led,
           COALESCE(partners.partner_appearances, 0) AS partner_appearances,
           COALESCE(money.led_funds_yuan, 0) AS led_funds_yuan,
           COALESCE(charity.charity_yuan, 0) AS charity_yuan,
           COALESCE(led.volunteers, 0) AS volunteers
    FROM comms c CROSS JOIN types ty
    LEFT JOIN led USING (community, party_type)
    LEFT JOIN partners USING (community, party_type)
    LEFT JOIN money USING (community, party_type)
    LEFT JOIN charity USING (community, party_type)
    ORDER BY c.community, list_position($party_types, ty.party_type)
    """
    params = period_params(con, f, party_types=list(PARTY_TYPES), charity_type=CHARITY_TYPE,
                           charity_sources=list(CHARITY_SOURCE_TYPES), **pattern_params)
    return fetch(con, sql, params)


def unclassified_partners(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per partner name in view whose five-society type could not be determined."""
    case, pattern_params = _partner_case()
    sql = f"""
    WITH p AS (
        SELECT p.*, COALESCE(p.actual_start_on, p.planned_start_on) AS started_on
        FROM {{projects}} p WHERE {in_view_sql()}),
    known AS (SELECT DISTINCT lead_party AS party FROM {{projects}}),
    mentions AS (
        SELECT community, trim(party) AS party FROM (
            SELECT community,
                   unnest(regexp_split_to_array(COALESCE(partner_parties, ''), '[、,，;；/]+')) AS party
            FROM p)
        WHERE length(trim(party)) > 0)
    SELECT party, count(*) AS appearances FROM mentions
    WHERE party NOT IN (SELECT party FROM known) AND ({case}) IS NULL
    GROUP BY party ORDER BY appearances DESC, party
    """
    return fetch(con, sql, period_params(con, f, **pattern_params))


def contribution_shares(m: pd.DataFrame) -> pd.DataFrame:
    """Long frame (community, party_type, measure, value, share): each type's share (0..1) of
    its community's total for the measure. Pure, on matrix() rows. charity_yuan is left out
    (it is one type's measure by definition)."""
    long = m.melt(id_vars=["community", "party_type"], value_vars=list(MEASURES),
                  var_name="measure", value_name="value")
    long = long[long["measure"] != "charity_yuan"]
    totals = long.groupby(["community", "measure"])["value"].transform("sum")
    long["share"] = (long["value"] / totals.where(totals > 0)).fillna(0.0)
    return long.reset_index(drop=True)


def street_totals(m: pd.DataFrame) -> pd.DataFrame:
    """One row per party type: every measure summed over the communities. Pure."""
    out = m.groupby("party_type", as_index=False)[list(MEASURES)].sum()
    order = {t: i for i, t in enumerate(PARTY_TYPES)}
    return out.sort_values("party_type", key=lambda c: c.map(order), ignore_index=True)


def radar(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Long frame for the radar: per (party_type, measure) the street-wide share (0..1)."""
    m = matrix(con, f)
    totals = street_totals(m)
    long = totals.melt(id_vars="party_type", value_vars=[x for x in MEASURES
                                                          if x != "charity_yuan"],
                       var_name="measure", value_name="value")
    sums = long.groupby("measure")["value"].transform("sum")
    long["share"] = (long["value"] / sums.where(sums > 0)).fillna(0.0)
    return long


def shares(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """contribution_shares(matrix(...)): the contribution matrix's cells."""
    return contribution_shares(matrix(con, f))


def street_totals_for(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """street_totals(matrix(...)): one row per party type, summed over communities."""
    return street_totals(matrix(con, f))
