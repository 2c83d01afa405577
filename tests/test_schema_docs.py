"""Every table and column of etl/schema.sql, and every mart column, is documented for analysts
in docs/SCHEMA.md."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb

from etl import marts
from etl.dbfile import ensure_schema

REPO = Path(__file__).resolve().parents[1]
AS_OF = "DATE '2026-06-30'"


def _undocumented(columns: list[tuple[str, str]]) -> list[str]:
    """(table, column) pairs missing from their `## table` section's first-column cells."""
    doc = (REPO / "docs" / "SCHEMA.md").read_text(encoding="utf-8")
    sections = {m.group(1): m.start() for m in re.finditer(r"^## (\w+)", doc, re.M)}
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
    return sorted(set(missing))


def test_every_table_and_column_is_documented():
    con = duckdb.connect()
    ensure_schema(con)
    columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                          "WHERE table_schema = 'main'").fetchall()
    missing = _undocumented(columns)
    assert not missing, f"undocumented in docs/SCHEMA.md: {missing}"


def test_every_mart_and_seed_column_is_documented():
    con = duckdb.connect()
    ensure_schema(con)
    base = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    marts.build(con)
    columns = [(t, c) for t, c in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main'").fetchall() if t not in base]
    for name in marts.MODELS:
        model = marts.model(name)
        if model.kind == "macro":   # a table macro's columns: describe one call
            described = con.execute(f"DESCRIBE SELECT * FROM {name}({AS_OF})").fetchall()
            columns += [(name, row[0]) for row in described]
    tables = {t for t, _ in columns}
    assert set(marts.MODELS) | set(marts.SEEDS) <= tables   # the check saw every model
    grid_cases = {c for t, c in columns if t == "grid_cases"}
    # grid_cases_at repeats grid_cases' columns: documented once, as "(every grid_cases column)"
    columns = [(t, c) for t, c in columns if not (t == "grid_cases_at" and c in grid_cases)]
    missing = _undocumented(columns)
    assert not missing, f"undocumented in docs/SCHEMA.md: {missing}"
