"""A hostile cockpit database: markup payloads in every text field of every kind.

Built by the real ETL (CSV files -> etl.load.load_paths -> the real pain-point engine) from
the hand-built page fixture's rows (tests/pages_fixture.py), with each free-text, name and
id field carrying a payload that would make a browser fetch from 127.0.0.1:<port> if it
were rendered as Markdown or HTML. Pain-point labels and keywords get theirs after
clustering (they are computed, not loaded). Code-list columns the loader validates (status,
stage, five-society type, direction) keep their valid values: a payload there is rejected.
"""
from __future__ import annotations

import http.server
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd

from tests import pages_fixture as base

HOST = "127.0.0.1"


def payload(tag: str, port: int) -> str:
    """All variants at once: Markdown image and link, HTML image, a Streamlit directive,
    LaTeX and a bare URL; `tag` names the field so a leak says where it came from."""
    return (f"![x](http://{HOST}:{port}/{tag}.png)"
            f"[link](http://{HOST}:{port}/{tag}/l)"
            f"<img src=http://{HOST}:{port}/{tag}/i.png>"
            f":red[{tag}]$x$ http://{HOST}:{port}/{tag}/u")


MARKERS = ("](http", "<img", ":red[", "$x$")      # each must show, literally, as text


def _hostile(value: object, tag: str, port: int) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return value
    return f"{value}{payload(tag, port)}"


# kind -> columns that carry a payload (everything free-form the loader accepts)
FIELDS = {
    "grid_reports": ("report_id", "street", "community", "grid_id", "reporter", "category",
                     "subcategory", "description", "location_text", "responsible_party"),
    "feedback": ("feedback_id", "street", "community", "grid_id", "channel", "subject", "text",
                 "reply"),
    "projects": ("project_id", "name", "street", "community", "category", "lead_party",
                 "partner_parties", "keywords"),
    "project_milestones": ("project_id", "milestone"),
    "fund_transactions": ("txn_id", "project_id", "source_type", "source_name",
                          "expense_category", "note"),
}
# the same name must stay the same name in every file (joins, filters, scopes)
SHARED = {"community": "community", "street": "street", "grid_id": "grid_id",
          "project_id": "project_id"}


def _frames(port: int) -> dict[str, pd.DataFrame]:
    frames = {"grid_reports": base.grid_reports(), "feedback": base.feedback(),
              "projects": base.projects(), "project_milestones": base.milestones(),
              "fund_transactions": base.transactions()}
    for kind, df in frames.items():
        df = df.drop(columns=["source_load_id"], errors="ignore")
        for col in FIELDS[kind]:
            if col not in df.columns:
                df[col] = "备注"
            tag = SHARED.get(col, f"{kind}.{col}")
            df[col] = [_hostile(v if v is not None else "无", tag, port) for v in df[col]]
        if kind == "feedback":
            df["resident_id"] = df.pop("resident_pseudonym")
        frames[kind] = df
    # a partner that is also a named party: the partner list splits on 、
    frames["projects"]["partner_parties"] = [
        f"阳光社工站{payload('partner.a', port)}、爱心企业{payload('partner.b', port)}"
        for _ in range(len(frames["projects"]))]
    return frames


def _write_csvs(frames: dict[str, pd.DataFrame], inbox: Path) -> list[Path]:
    inbox.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, df in frames.items():
        path = inbox / f"{kind}.csv"
        df.to_csv(path, index=False, encoding="utf-8")
        paths.append(path)
    return paths


def _plant_pain_point_payloads(db: Path, port: int) -> None:
    """Labels and keywords are computed by the clustering: give them payloads afterwards."""
    con = duckdb.connect(str(db))
    try:
        for table in ("pain_points", "pain_point_catalog", "pain_point_clusters"):
            con.execute(f"UPDATE {table} SET label = label || $p, "   # table names: constants
                        f"keywords = list_prepend($k, keywords)",
                        {"p": payload("painpoint.label", port),
                         "k": f"关键词{payload('painpoint.keyword', port)}"})
        con.execute("CHECKPOINT")
    finally:
        con.close()


@dataclass(frozen=True)
class HostileDb:
    path: Path
    port: int
    frames: dict


def build(root: Path, port: int) -> HostileDb:
    """Load the hostile CSVs with the real ETL, cluster, and plant the pain-point payloads."""
    from etl import painpoints
    from etl.load import load_paths

    frames = _frames(port)
    paths = _write_csvs(frames, root / "inbox")
    db = root / "cockpit.duckdb"
    results = load_paths(paths, db, progress=None)
    painpoints.run(db_path=db)
    _plant_pain_point_payloads(db, port)
    check_loaded(db, results)
    return HostileDb(db, port, frames)


def check_loaded(db: Path, results) -> None:
    """Fail early if the loader dropped the payload anywhere: the test would prove nothing."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        for kind, cols in FIELDS.items():
            for col in cols:
                n = con.execute(f"SELECT count(*) FROM {kind} WHERE {col} LIKE '%](http%'"
                                ).fetchone()[0]    # names from the FIELDS constant
                assert n > 0, f"no payload survived in {kind}.{col}: {results}"
        n = con.execute("SELECT count(*) FROM pain_points WHERE label LIKE '%<img%'").fetchone()[0]
        assert n > 0, "the clustering produced no pain points to carry a payload"
    finally:
        con.close()


def communities(db: Path) -> list[str]:
    con = base.read_only(db)      # the pages' configuration: their cached connection may be open
    try:
        return [r[0] for r in con.execute(
            "SELECT DISTINCT community FROM projects ORDER BY 1").fetchall()]
    finally:
        con.close()


# --- a tiny HTTP server that records every request it gets ---------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.server.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_HEAD = do_GET

    def log_message(self, *args):
        pass


@contextmanager
def recorder(port: int = 0) -> Iterator[http.server.HTTPServer]:
    """An HTTP server on 127.0.0.1 whose `.hits` lists every path requested of it."""
    server = http.server.ThreadingHTTPServer((HOST, port), _Recorder)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


URL = re.compile(r"https?://127\.0\.0\.1:\d+/\S*")
