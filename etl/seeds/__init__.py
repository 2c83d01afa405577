"""Seeds: small business-rule tables kept as committed, documented CSV files (dbt style).

`sla_rules.csv` (category,hours): the grid-report SLA - hours from report to resolution -
per category; the row whose category is `*` is the default for every category not listed.
Edit the file and run any load (or `python -m etl painpoints`) to re-seed the database; the
dashboard's Python side (dashboard.queries.common.SLA_HOURS) reads the same file.
"""
from __future__ import annotations

import csv
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent
SLA_RULES_CSV = SEEDS_DIR / "sla_rules.csv"
DEFAULT_CATEGORY = "*"


class SeedError(ValueError):
    """A seed file that cannot be used; the message names the file, row and column."""


def read_sla_rules(path: Path = SLA_RULES_CSV) -> tuple[dict[str, int], int]:
    """({category: hours}, default hours) from the SLA seed; rows in file order.

    Raises SeedError naming file, row (1-based, header = row 1) and column on bad input.
    """
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip() for c in rows[0]] != ["category", "hours"]:
        raise SeedError(f"{path}: row 1: header must be 'category,hours'")
    rules: dict[str, int] = {}
    default: int | None = None
    for number, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != 2:
            raise SeedError(f"{path}: row {number}: expected 2 columns, got {len(row)}")
        category, hours_text = row[0].strip(), row[1].strip()
        if not category:
            raise SeedError(f"{path}: row {number}, column category: empty")
        try:
            hours = int(hours_text)
        except ValueError:
            raise SeedError(f"{path}: row {number}, column hours: not a whole number: "
                            f"{hours_text!r}") from None
        if hours <= 0:
            raise SeedError(f"{path}: row {number}, column hours: must be positive: {hours}")
        if category in rules or (category == DEFAULT_CATEGORY and default is not None):
            raise SeedError(f"{path}: row {number}, column category: duplicate {category!r}")
        if category == DEFAULT_CATEGORY:
            default = hours
        else:
            rules[category] = hours
    if default is None:
        raise SeedError(f"{path}: no default row (category '{DEFAULT_CATEGORY}')")
    return rules, default
