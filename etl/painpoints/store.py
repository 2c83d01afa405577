"""Database I/O of the pain-point engine (the only module that runs SQL).

- feedback_tokens: one row per message, keyed by feedback_id with the hash of (tokenizer
  version, subject, text); a message is segmented again only when that hash changes.
- pain_point_months: one row per clustered month with the hash of everything the month's
  result depends on; a month is re-clustered only when its hash changes, and then every
  later month too (their ids, growth and streaks depend on it).
- feedback_pain_points, pain_point_clusters, pain_points: written per month;
  pain_point_catalog: rebuilt from pain_point_clusters at the end of a run.
All writes happen on the connection of `etl.dbfile.writer()` (a copy swapped in atomically).
The per-message tables (feedback_tokens, feedback_places, feedback_pain_points) are kept as
Parquet files outside the catalog between runs (etl/storage.py WHOLE): each function that
writes one first brings it back into the writer's catalog (`storage_upkeep.writable`); the writer
moves it out again when the run ends.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from etl import storage_upkeep
from etl.painpoints.hotspots import HotSpotRanker
from etl.painpoints import normalise as norm
from etl.painpoints.identity import Known
from etl.painpoints.month import History, MonthResult, quote
from etl.painpoints.rank import STREET
from etl.painpoints.places import PlaceExtractor, PlaceNormaliser
from etl.painpoints.tokenize import Tokenizer, message_text

RESULT_TABLES = ("feedback_pain_points", "pain_point_clusters", "pain_points", "pain_point_months")
HOT_SPOTS_KEY = "hot_spots_version"     # etl_meta: the version the stored hot spots were built with
# SQL texts are fixed here, from the constants above; values are always bound ($start).
_CLEAR_FROM = {t: f"DELETE FROM {t} WHERE month_on >= $start" for t in RESULT_TABLES}
_INSERT_ROWS = {t: f"INSERT INTO {t} BY NAME SELECT * FROM _pp_rows" for t in RESULT_TABLES}


_TODO_SQL = """
    WITH f AS (
        SELECT feedback_id, subject, text,
               md5($version || chr(31) || coalesce(subject, '') || chr(31) || text) AS text_hash
        FROM feedback)
    SELECT f.feedback_id, f.subject, f.text, f.text_hash
    FROM f LEFT JOIN {table} t USING (feedback_id)
    WHERE t.text_hash IS DISTINCT FROM f.text_hash
    ORDER BY f.feedback_id"""
_TODO = {t: _TODO_SQL.format(table=t) for t in ("feedback_tokens", "feedback_places")}


@dataclass
class PlaceSync:
    """The place extractor and its version (part of feedback_places.text_hash)."""
    extractor: PlaceExtractor
    version: str
    seconds: float = 0.0          # time spent extracting (the hot-spot share of a run)


def _write_places(con: duckdb.DuckDBPyConnection, part: pd.DataFrame, found: list[list[str]]) -> None:
    storage_upkeep.writable(con, "feedback_places")
    rows = pd.DataFrame({"feedback_id": part["feedback_id"], "text_hash": part["place_hash"],
                         "mentions": found})
    con.register("_pp_places", rows)
    con.execute("DELETE FROM feedback_places WHERE feedback_id IN (SELECT feedback_id FROM _pp_places)")
    con.execute("""INSERT INTO feedback_places
        SELECT feedback_id, text_hash, mentions::VARCHAR[], mentions::VARCHAR[] FROM _pp_places""")
    con.unregister("_pp_places")


def sync_tokens(con: duckdb.DuckDBPyConnection, tokenizer: Tokenizer, batch: int = 50_000,
                places: PlaceSync | None = None) -> int:
    """Segment messages that are new or whose text changed; drop tokens of deleted messages.
    With `places`, the same cleaned texts also give those messages' place mentions."""
    storage_upkeep.writable(con, "feedback_tokens")
    con.execute("DELETE FROM feedback_tokens WHERE feedback_id NOT IN (SELECT feedback_id FROM feedback)")
    todo = con.execute(_TODO["feedback_tokens"],
                       {"version": tokenizer.version}).df()
    if places is not None and not todo.empty:
        todo = todo.merge(con.execute("""
            SELECT feedback_id, md5($version || chr(31) || coalesce(subject, '') || chr(31) || text)
                   AS place_hash FROM feedback""", {"version": places.version}).df(), on="feedback_id")
    for start in range(0, len(todo), batch):
        part = todo.iloc[start:start + batch]
        cleaned = norm.normalise_many(message_text(s, t) for s, t in zip(part["subject"], part["text"]))
        toks = pd.DataFrame({"feedback_id": part["feedback_id"], "text_hash": part["text_hash"],
                             "joined": [" ".join(x) for x in tokenizer.tokens_of_clean(cleaned)]})
        con.register("_pp_tokens", toks)
        con.execute("DELETE FROM feedback_tokens WHERE feedback_id IN (SELECT feedback_id FROM _pp_tokens)")
        con.execute("""INSERT INTO feedback_tokens
            SELECT feedback_id, text_hash,
                   CASE WHEN joined = '' THEN []::VARCHAR[] ELSE string_split(joined, ' ') END
            FROM _pp_tokens""")
        con.unregister("_pp_tokens")
        if places is not None:
            t0 = time.perf_counter()
            _write_places(con, part, [places.extractor.extract_clean(c) for c in cleaned])
            places.seconds += time.perf_counter() - t0
    return len(todo)


@dataclass
class MonthPlan:
    start: date | None                      # earliest month whose stored result is stale
    months: list[tuple[date, str]]          # (month, input hash) to cluster, oldest first


def months_to_cluster(con: duckdb.DuckDBPyConnection, engine: str,
                      forced: list[date] | None = None) -> MonthPlan:
    """Months whose input hash differs from the stored one (or forced), and all after them."""
    df = con.execute("""
        WITH cur AS (
            SELECT date_trunc('month', f.submitted_at)::DATE AS month_on,
                   md5($engine || string_agg(concat_ws('|', f.feedback_id, t.text_hash,
                        coalesce(f.community, ''), coalesce(f.rating::VARCHAR, ''),
                        coalesce(f.likes::VARCHAR, ''),
                        (f.reply IS NOT NULL OR f.replied_at IS NOT NULL)::VARCHAR),
                        chr(10) ORDER BY f.feedback_id)) AS input_hash
            FROM feedback f JOIN feedback_tokens t USING (feedback_id)
            GROUP BY 1)
        SELECT coalesce(c.month_on, s.month_on) AS month_on, c.input_hash, s.input_hash AS stored
        FROM cur c FULL JOIN pain_point_months s USING (month_on)
        ORDER BY 1""", {"engine": engine}).df()
    df["month_on"] = pd.to_datetime(df["month_on"]).dt.date
    forced_months = {date(m.year, m.month, 1) for m in (forced or [])}
    dirty = df[(df["input_hash"] != df["stored"]) | df["input_hash"].isna() | df["stored"].isna()
               | df["month_on"].isin(forced_months)]
    if dirty.empty:
        return MonthPlan(None, [])
    start = dirty["month_on"].min()
    todo = df[(df["month_on"] >= start) & df["input_hash"].notna()]
    return MonthPlan(start, list(zip(todo["month_on"], todo["input_hash"])))


def clear_from(con: duckdb.DuckDBPyConnection, start: date | None) -> None:
    """Delete every stored result of `start` and later months (they are about to be redone)."""
    if start is None:
        return
    storage_upkeep.writable(con, "feedback_pain_points")
    for table in RESULT_TABLES:
        con.execute(_CLEAR_FROM[table], {"start": start})


def read_month(con: duckdb.DuckDBPyConnection, month: date) -> pd.DataFrame:
    """One row per message of the month, ordered by feedback_id, tokens space-joined."""
    return con.execute("""
        SELECT f.feedback_id, f.community, f.subject, f.text, f.rating::DOUBLE AS rating,
               f.likes::DOUBLE AS likes, (f.reply IS NOT NULL OR f.replied_at IS NOT NULL) AS replied,
               array_to_string(t.tokens, ' ') AS tokens
        FROM feedback f JOIN feedback_tokens t USING (feedback_id)
        WHERE f.submitted_at >= $m AND f.submitted_at < $m + INTERVAL 1 MONTH
        ORDER BY f.feedback_id""", {"m": month}).df()


def history(con: duckdb.DuckDBPyConnection, month: date, memory_months: int) -> History:
    """Catalog for matching (latest keywords of ids seen in the last memory_months months),
    last calendar month's sizes per (scope, id) and its top-3 streaks."""
    known = con.execute("""
        SELECT pain_point_id, arg_max(keywords, month_on) AS kw, arg_max(keyword_weights, month_on) AS w
        FROM pain_point_clusters
        WHERE month_on < $m AND month_on >= $m - to_months($memory)
        GROUP BY 1 ORDER BY 1""", {"m": month, "memory": memory_months}).fetchall()
    sizes = con.execute("""
        SELECT coalesce(f.community, '') AS community, p.pain_point_id, count(*) AS n
        FROM feedback_pain_points p JOIN feedback f USING (feedback_id)
        WHERE p.month_on = $m - INTERVAL 1 MONTH AND p.pain_point_id IS NOT NULL
        GROUP BY ALL""", {"m": month}).fetchall()
    prev_sizes: dict[tuple[str, str], int] = {}
    for community, pid, n in sizes:
        prev_sizes[(STREET, pid)] = prev_sizes.get((STREET, pid), 0) + n
        if community:
            prev_sizes[(community, pid)] = n
    streak = con.execute("""
        SELECT scope, pain_point_id, months_in_top3 FROM pain_points
        WHERE month_on = $m - INTERVAL 1 MONTH""", {"m": month}).fetchall()
    return History(known=[Known(pid, tuple(kw), tuple(w)) for pid, kw, w in known],
                   prev_sizes=prev_sizes,
                   prev_streak={(s, p): int(n) for s, p, n in streak})


def write_month(con: duckdb.DuckDBPyConnection, result: MonthResult, input_hash: str) -> None:
    stats = pd.DataFrame([{**result.stats, "input_hash": input_hash}])
    storage_upkeep.writable(con, "feedback_pain_points")
    frames = {"pain_point_months": stats, "feedback_pain_points": result.assignments,
              "pain_point_clusters": result.clusters, "pain_points": result.top}
    for table, df in frames.items():
        if df is None or df.empty:
            continue
        con.register("_pp_rows", df)
        con.execute(_INSERT_ROWS[table])
        con.unregister("_pp_rows")


def rebuild_catalog(con: duckdb.DuckDBPyConnection) -> None:
    """One row per id ever seen: its latest label and keywords, first and last month."""
    con.execute("DELETE FROM pain_point_catalog")
    con.execute("""
        INSERT INTO pain_point_catalog
        SELECT pain_point_id, arg_max(label, month_on), arg_max(keywords, month_on),
               min(month_on), max(month_on)
        FROM pain_point_clusters GROUP BY pain_point_id""")


def known_places(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Place names the data itself knows: the communities of the feedback."""
    rows = con.execute("SELECT DISTINCT community FROM feedback WHERE community IS NOT NULL ORDER BY 1")
    return tuple(r[0] for r in rows.fetchall())


def sync_places(con: duckdb.DuckDBPyConnection, places: PlaceSync, batch: int = 50_000) -> int:
    """Extract the places of messages whose text or the extractor changed since (those
    sync_tokens just segmented are done already); drop those of deleted messages."""
    t0 = time.perf_counter()
    storage_upkeep.writable(con, "feedback_places")
    con.execute("DELETE FROM feedback_places WHERE feedback_id NOT IN (SELECT feedback_id FROM feedback)")
    todo = con.execute(_TODO["feedback_places"],
                       {"version": places.version}).df().rename(columns={"text_hash": "place_hash"})
    for start in range(0, len(todo), batch):
        part = todo.iloc[start:start + batch]
        _write_places(con, part, places.extractor.extract_many(
            message_text(s, t) for s, t in zip(part["subject"], part["text"])))
    places.seconds += time.perf_counter() - t0
    return len(todo)


def has_pain_points(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM pain_point_months").fetchone()[0] > 0


def hot_spots_version(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT value FROM etl_meta WHERE key = $k", {"k": HOT_SPOTS_KEY}).fetchone()
    return row[0] if row else None


def rebuild_hot_spots(con: duckdb.DuckDBPyConnection, ranker: HotSpotRanker, version: str) -> int:
    """Canonical places for every message (aliases learnt over all of them), then every
    month's hot spots from scratch; returns the number of rows stored."""
    storage_upkeep.writable(con, "feedback_places")
    mentions = con.execute("""SELECT feedback_id, mentions, places FROM feedback_places
                              WHERE len(mentions) > 0 ORDER BY feedback_id""").df()
    normaliser = PlaceNormaliser().fit(mentions["mentions"])
    canonical = [normaliser.canonical(list(m)) for m in mentions["mentions"]]
    changed = [c != list(p) for c, p in zip(canonical, mentions["places"])]
    update = pd.DataFrame({"feedback_id": mentions["feedback_id"], "places": canonical})[changed]
    if not update.empty:
        con.register("_pp_canonical", update)
        con.execute("""UPDATE feedback_places SET places = c.places::VARCHAR[]
                       FROM _pp_canonical c WHERE feedback_places.feedback_id = c.feedback_id""")
        con.unregister("_pp_canonical")
    messages = con.execute("""
        SELECT f.feedback_id, p.month_on, f.community, p.pain_point_id, f.likes::DOUBLE AS likes,
               (f.reply IS NOT NULL OR f.replied_at IS NOT NULL) AS replied, f.subject, f.text,
               fp.places
        FROM feedback_pain_points p JOIN feedback f USING (feedback_id)
        JOIN feedback_places fp USING (feedback_id)
        WHERE p.pain_point_id IS NOT NULL AND len(fp.places) > 0
        ORDER BY f.feedback_id""").df()
    messages["month_on"] = pd.to_datetime(messages["month_on"]).dt.date
    messages["places"] = messages["places"].map(list)
    messages["quote"] = [quote(s, t) for s, t in zip(messages["subject"], messages["text"])]
    totals = con.execute("""
        SELECT p.month_on, f.community, p.pain_point_id, count(*) AS n,
               coalesce(sum(f.likes), 0)::DOUBLE AS likes
        FROM feedback_pain_points p JOIN feedback f USING (feedback_id)
        GROUP BY ALL""").df()
    totals["month_on"] = pd.to_datetime(totals["month_on"]).dt.date
    labels = con.execute("SELECT month_on, pain_point_id, label FROM pain_point_clusters").df()
    rows = ranker.rank(messages, labels, totals)
    con.execute("DELETE FROM hot_spots")
    if not rows.empty:
        con.register("_pp_rows", rows)
        con.execute("INSERT INTO hot_spots BY NAME SELECT * FROM _pp_rows")
        con.unregister("_pp_rows")
    con.execute("INSERT OR REPLACE INTO etl_meta VALUES ($k, $v)", {"k": HOT_SPOTS_KEY, "v": version})
    return len(rows)
