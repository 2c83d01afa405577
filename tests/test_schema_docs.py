"""Every table and column of etl/schema.sql is documented for analysts in docs/SCHEMA.md."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb

from etl.dbfile import ensure_schema

REPO = Path(__file__).resolve().parents[1]


def test_every_table_and_column_is_documented():
    doc = (REPO / "docs" / "SCHEMA.md").read_text(encoding="utf-8")
    sections = {m.group(1): m.start() for m in re.finditer(r"^## (\w+)", doc, re.M)}
    con = duckdb.connect()
    ensure_schema(con)
    columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                          "WHERE table_schema = 'main'").fetchall()
    missing = []
    for table, column in columns:
        if table not in sections:
            missing.append(table)
            continue
        start = sections[table]
        end = min([p for p in sections.values() if p > start] + [len(doc)])
        rows = re.findall(r"^\| ([^|]+) \|", doc[start:end], re.M)
        documented = {name.strip() for row in rows for name in row.split(",")}
        if column not in documented:
            missing.append(f"{table}.{column}")
    assert not missing, f"undocumented in docs/SCHEMA.md: {sorted(set(missing))}"
