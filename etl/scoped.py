"""Partner uploads: what a project-running organisation may load, and only for its projects.

A partner (Scope role "partner", party = its name as in projects.lead_party /
partner_parties) may load the kinds of record that belong to a project - every kind with a
project_id column except the project register itself (milestones, fund transactions,
residents' activity records and evaluations). Grid reports and the street's resident feedback
are refused as whole files; rows for projects it neither leads nor partners in - and activity
rows that name no project - are rejected "not your project".
"""
from __future__ import annotations

import duckdb

from etl import aliases, stage

NOT_YOUR_PROJECT = "not your project"
PARTY_SEPARATORS = "[、,，;；/]"     # how exports separate partner names

PARTNER_KINDS = tuple(k for k in aliases.KIND_ORDER
                      if k != "projects" and any(c.name == "project_id" for c in stage.SPECS[k]))

_PROJECTS_OF = (
    "SELECT project_id FROM projects WHERE lead_party = $party OR list_contains("
    "list_transform(regexp_split_to_array(COALESCE(partner_parties, ''), $sep), lambda x: trim(x)), $party)")
_REJECT_FOREIGN = (
    "INSERT INTO _errors SELECT _row, 'project_id', $reason FROM _typed "
    "WHERE (project_id IS NULL OR NOT list_contains($mine, project_id)) "
    "AND _row NOT IN (SELECT _row FROM _errors)")


def kind_allowed(kind: str) -> bool:
    return kind in PARTNER_KINDS


def projects_of(con: duckdb.DuckDBPyConnection, party: str) -> list[str]:
    """The project ids `party` leads or partners in."""
    rows = con.execute(_PROJECTS_OF, {"party": party, "sep": PARTY_SEPARATORS}).fetchall()
    return [r[0] for r in rows]


def restrict_to_party(con: duckdb.DuckDBPyConnection, kind: str, party: str, first_row: int) -> int:
    """After staging: reject the rows of other parties' projects; returns how many rows that adds.

    Rebuilds `_clean` so it leaves out every row now in `_errors` (staging's fast path does
    not filter)."""
    mine = projects_of(con, party)
    added = con.execute(_REJECT_FOREIGN, {"reason": NOT_YOUR_PROJECT, "mine": mine}).fetchall()[0][0]
    stage.refresh_clean(con, kind)
    return int(added)
