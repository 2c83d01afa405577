"""What each role may and may not receive, read straight from the demo database (no scope),
and a harvester of everything a rendered page carries (texts, chart specs, tables, exports).

Kept apart from the tests so the matrix reads as the rules it checks.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from dashboard import export
from dashboard.queries.base import MIN_GROUP, Scope

# count columns that measure resident records (grid cases, messages): never 1..MIN_GROUP-1
# for an aggregate-only role, on screen or in an export
RECORD_COUNT_COLUMNS = {"reports", "cases", "messages", "feedback", "due", "records", "size",
                        "open_cases", "sla_due", "n"}
PARTY_SPLIT = re.compile(r"[、,，;；/]+")


@dataclass
class Truth:
    """The demo database seen without scope, and the parties the matrix signs in as."""
    community: str
    others: tuple[str, ...]
    party: str
    party_projects: set[str]
    own_projects: set[str]               # the community's projects
    project_names: dict[str, str]        # project_id -> name
    project_community: dict[str, str]
    own_texts: set[str]                  # feedback texts/subjects of the community
    foreign_texts: set[str]              # of the other communities, not also the community's
    all_texts: set[str]                  # every feedback text, subject and reply
    pseudonyms: set[str]
    own_reporters: set[str]
    foreign_reporters: set[str]          # reporters of other communities only
    all_reporters: set[str]
    descriptions: set[str]
    own_report_ids: set[str]
    own_feedback_ids: set[str]

    def scope(self, role: str) -> Scope:
        if role == "community":
            return Scope(communities=(self.community,), role="community")
        if role == "partner":
            return Scope(role="partner", party=self.party)
        return Scope(role=role)


def _col(con, sql: str) -> list:
    return [r[0] for r in con.execute(sql).fetchall()]


def read_truth(db: Path) -> Truth:
    con = duckdb.connect(str(db), read_only=True)
    try:
        community = con.execute("SELECT community FROM feedback GROUP BY 1 "
                                "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
        others = tuple(c for c in _col(con, "SELECT DISTINCT community FROM grid_reports "
                                            "WHERE community IS NOT NULL ORDER BY 1")
                       if c != community)
        projects = con.execute("SELECT project_id, name, community, lead_party, partner_parties "
                               "FROM projects").df()
        members: dict[str, set[str]] = {}
        for r in projects.itertuples():
            named = r.partner_parties if isinstance(r.partner_parties, str) else ""
            parties = {r.lead_party} | {p.strip() for p in PARTY_SPLIT.split(named) if p.strip()}
            for p in parties:
                members.setdefault(p, set()).add(r.project_id)
        # the party in the most projects, leading at least one and partnering in another
        leads = set(projects["lead_party"])
        party = max(sorted(p for p in members if p in leads), key=lambda p: len(members[p]))
        fb = con.execute("SELECT feedback_id, community, subject, text, reply, resident_pseudonym "
                         "FROM feedback").df()
        gr = con.execute("SELECT report_id, community, reporter, description FROM grid_reports").df()
    finally:
        con.close()
    mine = fb["community"] == community
    texts = lambda frame: {v for c in ("subject", "text") for v in frame[c].dropna()}  # noqa: E731
    own_texts = texts(fb[mine])
    # what the community's own rows can show: texts, and quotes "subject：text"; templated demo
    # texts of other communities that read the same are not a leak
    own = fb[mine]
    own_corpus = "\n".join([*own_texts, *(f"{a}：{b}" for a, b in zip(own["subject"].fillna(""),
                                                                    own["text"].fillna("")))])
    foreign = {x for x in texts(fb[~mine]) - own_texts if x[:24] not in own_corpus}
    own_rep = set(gr.loc[gr["community"] == community, "reporter"].dropna())
    return Truth(
        community=community, others=others, party=party, party_projects=members[party],
        own_projects=set(projects.loc[projects["community"] == community, "project_id"]),
        project_names=dict(zip(projects["project_id"], projects["name"])),
        project_community=dict(zip(projects["project_id"], projects["community"])),
        own_texts=own_texts, foreign_texts=foreign,
        all_texts=texts(fb) | set(fb["reply"].dropna()),
        pseudonyms=set(fb["resident_pseudonym"].dropna()),
        own_reporters=own_rep,
        foreign_reporters=set(gr.loc[gr["community"] != community, "reporter"].dropna()) - own_rep,
        all_reporters=set(gr["reporter"].dropna()), descriptions=set(gr["description"].dropna()),
        own_report_ids=set(gr.loc[gr["community"] == community, "report_id"]),
        own_feedback_ids=set(fb.loc[mine, "feedback_id"]))


# --- what a page produced ---------------------------------------------------------------------
@dataclass
class Harvest:
    """Everything one rendered page state carries; `frames` include each frame's CSV and xlsx
    export read back (built by dashboard.export, the functions the download buttons call)."""
    where: str
    strings: list[str] = field(default_factory=list)
    frames: list[pd.DataFrame] = field(default_factory=list)
    # False where the counts shown are of projects or ledger entries, not resident records
    resident_counts: bool = True

    def blob(self) -> str:
        cells = [str(v) for df in self.frames for col in df.columns for v in df[col].tolist()]
        return "\n".join([*self.strings, *cells, *(str(c) for df in self.frames for c in df.columns)])

    def cells(self) -> set[str]:
        return {str(v) for df in self.frames for col in df.columns for v in df[col].tolist()} \
            | set(self.strings)


def _exports(df: pd.DataFrame) -> list[pd.DataFrame]:
    csv = pd.read_csv(io.BytesIO(export.to_csv_bytes(df)), encoding="utf-8-sig", dtype=str)
    xlsx = pd.read_excel(io.BytesIO(export.to_xlsx_bytes(df)), dtype=str, engine="openpyxl")
    return [csv, xlsx]


def harvest(at, where: str, resident_counts: bool = True) -> Harvest:
    from pages_fixture import page_strings

    h = Harvest(where, strings=page_strings(at), resident_counts=resident_counts)
    for el in [*at.dataframe, *at.table]:
        df = el.value
        if isinstance(df, pd.DataFrame):
            h.frames.append(df)
            h.frames.extend(_exports(df))
    return h


# --- the checks -------------------------------------------------------------------------------
COUNT_HEADERS: set[str] = set()     # filled below: raw names and their translated headers
def contained(needles: set[str], blob: str, min_len: int = 12, head: int = 24) -> list[str]:
    """Needles (long enough to be specific) whose first `head` characters occur in blob."""
    return sorted(n for n in needles if len(n) >= min_len and n[:head] in blob)


def small_groups(frames: list[pd.DataFrame]) -> list[tuple[str, object]]:
    """(column, value) of every record count 1..MIN_GROUP-1 in the frames."""
    bad = []
    for df in frames:
        for col in df.columns:
            if col not in COUNT_HEADERS:
                continue
            n = pd.to_numeric(df[col], errors="coerce")
            bad += [(col, v) for v in n[(n > 0) & (n < MIN_GROUP)].tolist()]
    return bad


def labels_of(name: str) -> set[str]:
    """A column's raw name and its translated headers (tables and the explorer rename them)."""
    from dashboard.i18n import LANGS, STRINGS

    out = {name}
    for key in (f"common.col.{name}", f"explore.col.{name}"):
        if key in STRINGS:
            out |= {STRINGS[key][lang] for lang in LANGS}
    return out


def column_values(frames: list[pd.DataFrame], name: str) -> set[str]:
    names = labels_of(name)
    return {str(v) for df in frames for c in df.columns if c in names
            for v in df[c].dropna().tolist()}


for _name in RECORD_COUNT_COLUMNS:
    COUNT_HEADERS |= labels_of(_name)
# the explorer's "count" measure column, under its translated header
COUNT_HEADERS |= {__import__("dashboard.i18n").i18n.STRINGS["explore.measure.count"][lang]
                  for lang in ("zh", "en")}
