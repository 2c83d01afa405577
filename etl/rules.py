"""The participation rules file (etl/rules.toml) -> the seeded tables every reader uses.

`seed(con)` replaces the rows of `participation_rules` (one row per rule: a number or a list
of names) and `points_rules` (points per activity) with what the file says; the ETL runs it
whenever it opens the database, so the file is the one place to change a rule.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

import duckdb

RULES_FILE = Path(__file__).with_name("rules.toml")


@lru_cache(maxsize=4)
def _read(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def load(path: Path | None = None) -> dict:
    """The rules file as a dict (sections votes, meetings, resolutions, concentration, evaluations, points)."""
    return _read(Path(path or RULES_FILE))


def rule_rows(rules: dict) -> list[tuple[str, float | None, list[str] | None]]:
    """(rule 'section.name', number, names) for every setting except the points table."""
    rows = []
    for section, values in rules.items():
        if section == "points":
            continue
        for name, value in values.items():
            key = f"{section}.{name}"
            if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
                raise ValueError(f"{RULES_FILE.name}: {key} must be a number, a name or a list of names")
            if isinstance(value, (int, float)):
                rows.append((key, float(value), None))
            else:
                rows.append((key, None, [value] if isinstance(value, str) else [str(v) for v in value]))
    return rows


def point_rows(rules: dict) -> list[tuple[str, int]]:
    """(activity, points) from the [points] table; points are whole and not negative."""
    rows = []
    for activity, points in rules.get("points", {}).items():
        if isinstance(points, bool) or not isinstance(points, int) or points < 0:
            raise ValueError(f"{RULES_FILE.name}: points for {activity} must be a whole number >= 0")
        rows.append((activity, points))
    return rows


_STORED = ("SELECT rule, value, names FROM participation_rules",
           "SELECT activity, points FROM points_rules")


def _key(row: tuple) -> tuple:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def seed(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> None:
    """Make participation_rules and points_rules equal the rules file (idempotent); the tables
    are rewritten only when their rows differ from the file's (every write runs this)."""
    rules = load(path)
    wanted = ([(n, v, ls) for n, v, ls in rule_rows(rules)], point_rows(rules))
    stored = [con.execute(q).fetchall() for q in _STORED]
    if all(sorted(map(_key, have)) == sorted(map(_key, want)) for have, want in zip(stored, wanted)):
        return
    names, numbers, lists = zip(*wanted[0]) if wanted[0] else ((), (), ())
    activities, points = zip(*wanted[1]) if wanted[1] else ((), ())
    con.execute("DELETE FROM participation_rules")
    con.execute("INSERT INTO participation_rules SELECT unnest($n), unnest($v), unnest($l)",
                {"n": list(names), "v": list(numbers), "l": list(lists)})
    con.execute("DELETE FROM points_rules")
    con.execute("INSERT INTO points_rules SELECT unnest($a), unnest($p)",
                {"a": list(activities), "p": list(points)})
