"""Staging rules of the deliberation and participation kinds (issue 15).

Column specs, keys, row rules and derived columns for communities, meetings, resolutions,
votes, participation, redemptions, evaluations and usability ratings; etl.stage dispatches here, so these kinds
go through the same typed, vectorised SQL path (and the same rejects) as the others.

Cross-file checks get their reference values as bound lists (`context`): the known meetings
(a resolution of an unknown meeting is rejected), the known projects, each resident's
points balance (a redemption above it is rejected).
"""
from __future__ import annotations

import duckdb

from etl import stage as _stage
from etl.stage import DATE, ENUM, ID, INT, NUMBER, PSEUDO, RATING, TEXT, TS, Col

RESOLUTION_STATUS = {
    "待执行": "待执行", "未执行": "待执行", "未开始": "待执行", "待落实": "待执行",
    "执行中": "执行中", "落实中": "执行中", "推进中": "执行中", "进行中": "执行中",
    "已完成": "已完成", "已落实": "已完成", "完成": "已完成", "已办结": "已完成",
    "搁置": "搁置", "暂缓": "搁置", "已搁置": "搁置", "中止": "搁置",
    "pending": "待执行", "in progress": "执行中", "done": "已完成", "shelved": "搁置",
}
AGE_BAND = {
    "18-34": "18-34", "18-34岁": "18-34", "35岁以下": "18-34", "青年": "18-34", "<35": "18-34",
    "35-49": "35-49", "35-49岁": "35-49", "50-64": "50-64", "50-64岁": "50-64",
    "65+": "65+", "65岁以上": "65+", "65岁及以上": "65+", "老年": "65+",
}
SPECS: dict[str, tuple[Col, ...]] = {
    "communities": (
        Col("community", TEXT, True), Col("street"), Col("households", INT, True), Col("residents", INT),
        Col("grids", INT)),
    "meetings": (
        Col("meeting_id", ID, True), Col("held_on", DATE, True), Col("street"), Col("community", TEXT, True),
        Col("kind", TEXT, True), Col("topic"), Col("convener"), Col("attendees", INT),
        Col("parties")),
    "resolutions": (
        Col("resolution_id", ID, True), Col("meeting_id", ID, True), Col("community"),
        Col("text", TEXT, True), Col("responsible_party"), Col("due_on", DATE),
        Col("status", ENUM, True, enum=RESOLUTION_STATUS), Col("disclosed_on", DATE)),
    "votes": (
        Col("vote_id", ID, True), Col("street"), Col("community", TEXT, True), Col("topic", TEXT, True),
        Col("opened_on", DATE), Col("closed_on", DATE, True), Col("eligible_voters", INT, True),
        Col("ballots_cast", INT, True), Col("yes_votes", INT, True), Col("no_votes", INT, True),
        Col("abstain_votes", INT)),
    "participation": (
        Col("record_id", ID), Col("resident_id", PSEUDO, True), Col("street"), Col("community", TEXT, True),
        Col("activity", TEXT, True), Col("occurred_on", DATE, True), Col("hours", NUMBER),
        Col("project_id", ID), Col("age_band", ENUM, enum=AGE_BAND)),
    "redemptions": (
        Col("redemption_id", ID), Col("resident_id", PSEUDO, True), Col("community"),
        Col("redeemed_on", DATE, True), Col("item", TEXT, True), Col("points", INT, True)),
    "evaluations": (
        Col("evaluation_id", ID), Col("project_id", ID, True), Col("submitted_at", TS, True),
        Col("rating", RATING, True), Col("comment"), Col("resident_id", PSEUDO)),
    "usability_ratings": (
        Col("rating_id", ID), Col("submitted_at", TS, True), Col("street"), Col("community", TEXT, True),
        Col("channel"), Col("ease_score", RATING, True), Col("comment"),
        Col("resident_id", PSEUDO)),
}
KEYS: dict[str, tuple[str, ...]] = {
    "communities": ("community",), "meetings": ("meeting_id",), "resolutions": ("resolution_id",),
    "votes": ("vote_id",), "participation": ("record_id",), "redemptions": ("redemption_id",),
    "evaluations": ("evaluation_id",), "usability_ratings": ("rating_id",),
}

ROW_RULES: dict[str, list[tuple[str, str, str]]] = {
    "communities": [("households", "households must be positive", "households <= 0"),
                    ("residents", "negative count", "residents < 0"),
                    ("grids", "negative count", "grids < 0")],
    "meetings": [("attendees", "negative count", "attendees < 0")],
    "resolutions": [("meeting_id", "unknown meeting id", "NOT list_contains($known_meetings, meeting_id)")],
    "votes": [
        ("eligible_voters", "eligible voters must be positive", "eligible_voters <= 0"),
        ("ballots_cast", "negative count", "ballots_cast < 0 OR yes_votes < 0 OR no_votes < 0 OR abstain_votes < 0"),
        ("ballots_cast", "ballots cast exceed eligible voters", "ballots_cast > eligible_voters"),
        ("yes_votes", "yes + no + abstain exceed ballots cast",
         "yes_votes + no_votes + COALESCE(abstain_votes, 0) > ballots_cast"),
        ("closed_on", "closed before opened", "closed_on < opened_on")],
    "participation": [
        ("hours", "hours must be 0-24", "hours NOT BETWEEN 0 AND 24"),
        ("project_id", "unknown project id", "project_id IS NOT NULL AND NOT list_contains($known_projects, project_id)")],
    "redemptions": [
        ("points", "points must be positive", "points <= 0"),
        ("points", "redemption above the points balance", "_balance_after < 0")],
    "evaluations": [("project_id", "unknown project id", "NOT list_contains($known_projects, project_id)")],
    # the ease score's 1-5 range is the RATING type's check ("rating must be 1-5")
    "usability_ratings": [],
}

_stage.SPECS.update(SPECS)   # the same staging path as every other kind
_stage.KEYS.update(KEYS)


def row_rules(kind: str) -> list[tuple[str, str, str]]:
    return ROW_RULES[kind]


def params(kind: str, salt: str, known_projects: list[str] | None, context: dict | None) -> dict:
    """Bound values beyond the column types: the salt, and the reference lists of `context`."""
    ctx = context or {}
    out: dict = {}
    if any(c.type == PSEUDO for c in SPECS[kind]):
        out["salt"] = salt
    if kind in ("participation", "evaluations"):
        out["known_projects"] = list(known_projects or [])
    if kind == "resolutions":
        meetings = ctx.get("meetings", {})
        out["known_meetings"] = list(meetings)
        out["meeting_communities"] = [meetings[m] for m in meetings]
    if kind == "redemptions":
        earned = ctx.get("earned", {})   # pseudonym -> points earned
        prior = ctx.get("redeemed", [])  # (redemption_id, pseudonym, points) already loaded
        out["earned_who"], out["earned_points"] = list(earned), [int(v) for v in earned.values()]
        out["prior_ids"] = [r[0] for r in prior]
        out["prior_who"] = [r[1] for r in prior]
        out["prior_points"] = [int(r[2]) for r in prior]
    return out


def derive(kind: str) -> list[str]:
    """Statements over _typed_all before validation: stable ids, a resolution's community, balances."""
    if kind == "participation":
        return ["UPDATE _typed_all SET record_id = 'H' || left(sha256(concat_ws('|', resident_pseudonym, community, "
                "activity, CAST(occurred_on AS VARCHAR), CAST(hours AS VARCHAR), project_id)), 15) "
                "WHERE record_id IS NULL"]
    if kind == "redemptions":
        return [
            "UPDATE _typed_all SET redemption_id = 'H' || left(sha256(concat_ws('|', resident_pseudonym, "
            "CAST(redeemed_on AS VARCHAR), item, CAST(points AS VARCHAR))), 15) WHERE redemption_id IS NULL",
            *_balance_sql()]
    if kind == "evaluations":
        return ["UPDATE _typed_all SET evaluation_id = 'H' || left(sha256(concat_ws('|', project_id, "
                "CAST(submitted_at AS VARCHAR), resident_pseudonym, comment)), 15) WHERE evaluation_id IS NULL"]
    if kind == "usability_ratings":
        return ["UPDATE _typed_all SET rating_id = 'H' || left(sha256(concat_ws('|', community, channel, "
                "CAST(submitted_at AS VARCHAR), resident_pseudonym, CAST(ease_score AS VARCHAR), comment)), 15) "
                "WHERE rating_id IS NULL"]
    if kind == "resolutions":
        return ["UPDATE _typed_all SET community = ($meeting_communities)[list_position($known_meetings, meeting_id)] "
                "WHERE community IS NULL"]
    return []


def _balance_sql() -> list[str]:
    """_balance_after per redemption: points earned - redeemed before it (already loaded ones
    not re-exported here, then this file's in date order) - its own points."""
    return [
        "ALTER TABLE _typed_all ADD COLUMN IF NOT EXISTS _balance_after BIGINT",
        "CREATE OR REPLACE TEMP TABLE _opening AS "
        "WITH earned AS (SELECT unnest($earned_who) AS who, unnest($earned_points) AS pts), "
        "prior AS (SELECT unnest($prior_ids) AS rid, unnest($prior_who) AS who, unnest($prior_points) AS pts), "
        "spent AS (SELECT who, sum(pts) AS pts FROM prior "
        "          WHERE rid NOT IN (SELECT redemption_id FROM _typed_all WHERE redemption_id IS NOT NULL) GROUP BY who) "
        "SELECT who, COALESCE(e.pts, 0) - COALESCE(s.pts, 0) AS opening "
        "FROM earned e FULL JOIN spent s USING (who)",
        "UPDATE _typed_all SET _balance_after = b.after FROM ("
        "  SELECT t.rowid AS rid, COALESCE(o.opening, 0) - sum(t.points) OVER ("
        "      PARTITION BY t.resident_pseudonym ORDER BY t.redeemed_on, t.rowid"
        "      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS after"
        "  FROM _typed_all t LEFT JOIN _opening o ON o.who = t.resident_pseudonym"
        "  WHERE t.points > 0) b WHERE _typed_all.rowid = b.rid",
    ]


def context(con: duckdb.DuckDBPyConnection, kind: str) -> dict:
    """Reference values for staging `kind` read from the database being loaded."""
    if kind == "resolutions":
        return {"meetings": dict(con.execute("SELECT meeting_id, community FROM meetings").fetchall())}
    if kind == "redemptions":
        earned = con.execute("SELECT resident_pseudonym, sum(points) FROM participation_points "
                             "GROUP BY ALL").fetchall()
        prior = con.execute("SELECT redemption_id, resident_pseudonym, points FROM redemptions").fetchall()
        return {"earned": dict(earned), "redeemed": prior}
    return {}
