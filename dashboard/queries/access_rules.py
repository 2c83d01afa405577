"""What each role reads of each table: the rules fetch (dashboard/queries/base.py) applies.

RULES maps table -> role -> Rule: the rows a role may read (a SQL condition over alias s, values
bound as $_scope_*) and the columns replaced for it (texts and names as NULL). fetch resolves a
query's `{table}` references through them; nothing else reads a table for the UI. What each
role sees is documented in docs/ACCESS.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from etl import codes

ROLES = ("leader", "analyst", "community", "partner", "public")
MIN_GROUP = 5                # an aggregate over 1..4 resident records is hidden (partner, public)
STREET_SCOPE = codes.WHOLE_STREET   # pain_points.scope of the street-wide ranking
# one row per resident message or grid case (or derived from one): the tables whose reads an
# aggregate-only role may run only through a query that declares its small-group column
RECORD_TABLES = frozenset({"grid_reports", "feedback", "feedback_pain_points", "feedback_tokens",
                           "feedback_places", "grid_cases", "grid_cases_at", "grid_daily",
                           "grid_resolutions", "grid_resolution_monthly", "feedback_enriched",
                           "feedback_daily", "pain_point_daily", "pain_point_places",
                           "pain_point_keywords", "usability_ratings"})


@dataclass(frozen=True)
class Rule:
    """What one role reads of one table: the rows where `where` holds (SQL over alias s,
    values bound as $_scope_*), with each (column, SQL expression) of `replace` swapped in,
    e.g. ("text", "NULL::VARCHAR"). FULL is the bare table."""
    where: str = "TRUE"
    replace: tuple[tuple[str, str], ...] = ()


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
