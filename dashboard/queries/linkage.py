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
from dashboard.queries import fund_reads
from dashboard.queries.base import fetch, sql
from dashboard.queries.common import period_params
from dashboard.queries.projects import IN_VIEW
from etl import codes

PARTY_TYPES = codes.PARTY_TYPES
CHARITY_TYPE = codes.CHARITY_TYPE
CHARITY_SOURCE_TYPES = codes.CHARITY_SOURCE_TYPES
_COMMUNITY, _ORGANISATION, _SOCIAL_WORKER, _VOLUNTEER, _CHARITY = codes.PARTY_TYPES
# name pattern -> five-society type, tried in order (regular expressions, bound as values)
PARTNER_TYPE_PATTERNS = (
    (_CHARITY, "基金|慈善|爱心|企业|公司|商户|商会|银行|超市|药房|集团|商家"),
    (_SOCIAL_WORKER, "社工|社会工作"),
    (_VOLUNTEER, "志愿|义工"),
    (_ORGANISATION, "协会|中心|服务社|社会组织|促进会|研究会|工作室|俱乐部|联合会"),
    (_COMMUNITY, "居委|社区|业委会|党支部|网格"),
)
MEASURES = ("projects_led", "partner_appearances", "led_funds_yuan", "charity_yuan", "volunteers")

# CASE over a partner name: its type by PARTNER_TYPE_PATTERNS ($pat_i / $typ_i bound)
PARTNER_TYPE = "CASE " + " ".join(f"WHEN regexp_matches(party, $pat_{i}) THEN $typ_{i}"
                                  for i in range(len(PARTNER_TYPE_PATTERNS))) + " END"
# the projects in view, and each partner named in their partner lists
_IN_VIEW_MENTIONS = sql("""
    p AS (SELECT p.* FROM {project_status} p WHERE {in_view}),
    mentions AS (
        SELECT community, trim(party) AS party FROM (
            SELECT community,
                   unnest(regexp_split_to_array(COALESCE(partner_parties, ''), '[、,，;；/]+')) AS party
            FROM p)
        WHERE length(trim(party)) > 0)""", in_view=IN_VIEW)

# the inflows summed from fund_daily (dashboard/queries/fund_reads.py)
MATRIX = fund_reads.summed("""
    WITH {in_view_mentions},
    types AS (SELECT unnest($party_types) AS party_type),
    comms AS (SELECT DISTINCT community FROM p),
    led AS (SELECT community, lead_party_type AS party_type, count(*) AS projects_led,
                   COALESCE(sum(volunteer_count), 0) AS volunteers
            FROM p GROUP BY ALL),
    known AS (SELECT lead_party AS party, min(lead_party_type) AS party_type
              FROM {projects} GROUP BY lead_party),
    typed AS (SELECT m.community, COALESCE(k.party_type, {partner_type}) AS party_type
              FROM mentions m LEFT JOIN known k USING (party)),
    partners AS (SELECT community, party_type, count(*) AS partner_appearances
                 FROM typed GROUP BY ALL),
    inflow AS (SELECT t.project_id, t.source_type, t.amount_yuan
               FROM {flows} t
               WHERE t.direction = 'in' AND ($date_from IS NULL OR t.day_on >= $date_from)
                 AND t.day_on <= $as_of),
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
""", in_view_mentions=_IN_VIEW_MENTIONS, partner_type=PARTNER_TYPE)

UNCLASSIFIED = sql("""
    WITH {in_view_mentions},
    known AS (SELECT DISTINCT lead_party AS party FROM {projects})
    SELECT party, count(*) AS appearances FROM mentions
    WHERE party NOT IN (SELECT party FROM known) AND ({partner_type}) IS NULL
    GROUP BY party ORDER BY appearances DESC, party
""", in_view_mentions=_IN_VIEW_MENTIONS, partner_type=PARTNER_TYPE)


def _pattern_params() -> dict:
    params = {}
    for i, (ptype, pattern) in enumerate(PARTNER_TYPE_PATTERNS):
        params[f"pat_{i}"], params[f"typ_{i}"] = pattern, ptype
    return params


def matrix(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (community, party type) for communities with projects in view: MEASURES."""
    params = period_params(con, f, party_types=list(PARTY_TYPES), charity_type=CHARITY_TYPE,
                           charity_sources=list(CHARITY_SOURCE_TYPES), **_pattern_params())
    return fund_reads.read(con, MATRIX, params)


def unclassified_partners(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per partner name in view whose five-society type could not be determined."""
    return fetch(con, UNCLASSIFIED, period_params(con, f, **_pattern_params()))


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
