"""The marts layer: business rules as SQL in the database, so pages, console and briefing agree.

One model per SQL file (dbt style: CTEs ending in `select * from final`). The second line of
each file says how it is built:

    -- materialized: view                         -> CREATE OR REPLACE VIEW <name> AS <body>
    -- materialized: macro <name>(<parameters>)   -> CREATE OR REPLACE MACRO ... AS TABLE <body>

Views and table macros cost nothing to build (no data is copied), so `build(con)` runs at the
end of every write of the database file (etl.dbfile.writer: every load, every
`python -m etl painpoints`). Before the models it re-seeds the rule tables: `sla_rules` from
etl/seeds/sla_rules.csv, `named_codes` and `warning_rules` from etl/codes.py. Columns are
documented in docs/SCHEMA.md ("Marts"); the KPIs over them in docs/METRICS.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from etl import codes
from etl.seeds import DEFAULT_CATEGORY, read_sla_rules

MARTS_DIR = Path(__file__).resolve().parent
# dependency order: a model only reads tables, seeds and models listed before it
MODELS = ("grid_cases", "grid_cases_at", "project_status", "fund_flows", "feedback_enriched")
SEEDS = ("sla_rules", "named_codes", "warning_rules")

_HEADER = re.compile(r"^-- materialized: (view|macro (\w+)\(([^)]*)\))\s*$", re.M)

_SEED_DDL = {
    "sla_rules": "CREATE OR REPLACE TABLE sla_rules (category VARCHAR PRIMARY KEY,"
                 " hours INTEGER NOT NULL)",
    "named_codes": "CREATE OR REPLACE TABLE named_codes (kind VARCHAR NOT NULL,"
                   " code VARCHAR NOT NULL, position INTEGER NOT NULL,"
                   " PRIMARY KEY (kind, code))",
    "warning_rules": "CREATE OR REPLACE TABLE warning_rules (rule VARCHAR PRIMARY KEY,"
                     " threshold DOUBLE NOT NULL)",
}
_SEED_INSERT = {
    "sla_rules": "INSERT INTO sla_rules SELECT unnest($categories), unnest($hours)",
    "named_codes": "INSERT INTO named_codes SELECT unnest($kinds), unnest($codes),"
                   " unnest($positions)",
    "warning_rules": "INSERT INTO warning_rules SELECT unnest($rules), unnest($thresholds)",
}


@dataclass(frozen=True)
class Model:
    name: str
    kind: str            # 'view' | 'macro'
    parameters: str      # macro parameter list, '' for views
    body: str            # the SELECT (CTEs ending in select * from final)

    def ddl(self) -> str:
        if self.kind == "view":
            return f"CREATE OR REPLACE VIEW {self.name} AS\n{self.body}"
        return f"CREATE OR REPLACE MACRO {self.name}({self.parameters}) AS TABLE\n{self.body}"


def model(name: str) -> Model:
    """The model in etl/marts/<name>.sql (name from MODELS only)."""
    if name not in MODELS:
        raise ValueError(f"unknown mart {name!r}")
    text = (MARTS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    header = _HEADER.search(text)
    if header is None:
        raise ValueError(f"{name}.sql: missing '-- materialized: view|macro name(params)' line")
    if header.group(2) and header.group(2) != name:
        raise ValueError(f"{name}.sql: macro is named {header.group(2)!r}")
    body = text[header.end():].strip()
    if not re.search(r"select \* from final\s*$", body):
        raise ValueError(f"{name}.sql: must end with 'select * from final'")
    kind = "view" if header.group(1) == "view" else "macro"
    return Model(name, kind, header.group(3) or "", body)


def seed(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the rule tables from etl/seeds/*.csv and etl/codes.py."""
    rules, default = read_sla_rules()
    values = {
        "sla_rules": {"categories": [*rules, DEFAULT_CATEGORY],
                      "hours": [*rules.values(), default]},
        "named_codes": {
            "kinds": [k for k, cs in codes.NAMED_CODES.items() for _ in cs],
            "codes": [c for cs in codes.NAMED_CODES.values() for c in cs],
            "positions": [i for cs in codes.NAMED_CODES.values() for i in range(1, len(cs) + 1)]},
        "warning_rules": {"rules": list(codes.WARNING_THRESHOLDS),
                          "thresholds": [float(v) for v in codes.WARNING_THRESHOLDS.values()]},
    }
    for table in SEEDS:
        con.execute(_SEED_DDL[table])
        con.execute(_SEED_INSERT[table], values[table])


def build(con: duckdb.DuckDBPyConnection) -> None:
    """Re-seed the rule tables and create or replace every mart, in dependency order."""
    seed(con)
    for name in MODELS:
        con.execute(model(name).ddl())
