"""PII masking rules: phone, landline and ID-card numbers in any text, as SQL and as Python.

One set of patterns serves both sides: `mask_sql(expr)` builds the vectorised DuckDB
expression used at staging (every text column of every kind), `mask_text(str)` masks the
few values Python handles itself (rejects' original values, error messages). The patterns
are written in the common subset of RE2 (DuckDB) and Python `re`: no look-around, so the
neighbouring non-digit is kept in the match and put back (`\\1` ... `\\4`).

What is masked (digits may be ASCII or full-width ０-９):
- mobile numbers 1[3-9]x xxxx xxxx, alone or with +86 / 0086 / 86, separated by nothing, spaces,
  dots or hyphens: `138****5678`, `+86138****5678`;
- landlines with an area code 010, 02x or 0xxx, as `(010)12345678`, `010-12345678`,
  `010 12345678` or `01012345678`: `010-****5678`, `(010)****5678`;
- ID-card numbers: 18 digits (last may be X) or 15 digits whose birth-date digits look like a
  date, also grouped with spaces 6-8-4 or 6-4-4-4: `110105********123X`, `110105********123`.

What is not: a digit run is matched whole, never inside a longer run, so amounts
(`¥1,234,567.89`, `12345678`), dates (`20261122`, `2026-11-22 10:30`), case numbers that do
not have a phone's or ID's shape (`GR-2026-0001234`, the 12-digit 工单号 `202611220001`),
project ids and times are left as they are. A case number that *is* shaped like a mobile
number (11 digits starting 13-19) is masked: a masked case number is a smaller harm than a
leaked phone number.
"""
from __future__ import annotations

import re

_D = "[0-9０-９]"                   # a digit, ASCII or full-width
DIGITS = "0123456789０１２３４５６７８９"
_ND_BEFORE = "(^|[^0-9０-９])"      # the neighbour that proves a digit run starts here
_ND_AFTER = "($|[^0-9０-９])"
_ND_AFTER_ID = "($|[^0-9０-９XxＸｘ])"
_SEP = "[ 　-]?"                    # ID groups: space, ideographic space or hyphen
_PHONE_SEP = "[ 　.-]?"
_BIRTH = f"(?:19|20|１９|２０){_D}{{2}}{_SEP}[01０１]{_D}[0-3０-３]{_D}"

_MOBILE = (f"((?:(?:[+＋]|00|００)?(?:86|８６){_SEP})?[1１][3-9３-９]{_D}){_PHONE_SEP}{_D}{{4}}"
           f"{_PHONE_SEP}({_D}{{4}})")
_LANDLINE = f"([(（]?[0０](?:[1１][0０]|[2２]{_D}|[3-9３-９]{_D}{{2}})[)）]?{_SEP}){_D}{{3,4}}-?({_D}{{4}})"
_ID18 = f"{_BIRTH}{_SEP}({_D}{{3}}[0-9０-９XxＸｘ])"
_ID15 = f"{_D}{{2}}[01０１]{_D}[0-3０-３]{_D}{_SEP}({_D}{{3}})"

# One regex per replacement: alternatives that are not taken leave their groups empty, so
# `\3\4` keeps the tail of whichever matched. Fewer regexes, fewer passes over each cell.
ID_RE = f"{_ND_BEFORE}({_D}{{6}}){_SEP}(?:{_ID18}|{_ID15}){_ND_AFTER_ID}"
PHONE_RE = f"{_ND_BEFORE}(?:{_MOBILE}|{_LANDLINE}){_ND_AFTER}"

# (pattern, replacement, passes): a match keeps its trailing neighbour, so two numbers that
# share one separator ("a,b") need a second pass for the second number
RULES: tuple[tuple[str, str, int], ...] = (
    (ID_RE, r"\1\2********\3\4\5", 2),
    (PHONE_RE, r"\1\2\4****\3\5\6", 2),
)

# Every rule needs at least 10 digits joined by at most two separator characters each; a
# value without such a run (most cells, and any under 10 characters) is returned untouched
# without running the rules.
CANDIDATE_RE = f"{_D}(?:[ 　.()（）+＋-]{{0,2}}{_D}){{9}}"

for _pattern, _, _ in RULES:   # patterns go into SQL text as literals: keep them quote-free
    assert "'" not in _pattern


def mask_sql(v: str) -> str:
    """SQL expression: `v` (a VARCHAR expression) with every phone, landline and ID masked."""
    s = v
    for pattern, repl, passes in RULES:
        for _ in range(passes):
            s = f"regexp_replace({s}, '{pattern}', '{repl}', 'g')"
    # most cells (names, categories, short notes) are under 10 characters, and most longer
    # ones hold no digit at all: length() and contains() are far cheaper than any regex (a
    # regex call costs ~0.2 us per cell, 20 contains() ~0.05 us) and rule them out first
    any_digit = " OR ".join(f"contains({v}, '{d}')" for d in DIGITS)
    return (f"CASE WHEN length({v}) >= 10 AND ({any_digit}) AND regexp_matches({v}, '{CANDIDATE_RE}') "
            f"THEN {s} ELSE {v} END")


def mask_list_sql(values: list[str]) -> str:
    """SQL expression: the list of `values` (VARCHAR expressions), each masked as `mask_sql`
    masks it, by one lambda: DuckDB compiles a regex once per expression that holds it, so the
    five regexes are compiled once for all the values instead of once per value."""
    return f"list_transform([{', '.join(values)}], lambda _c: {mask_sql('_c')})"


_COMPILED = [(re.compile(p), r, n) for p, r, n in RULES]
_CANDIDATE = re.compile(CANDIDATE_RE)


def mask_text(value: str) -> str:
    """Python twin of `mask_sql`, for values handled outside SQL (rejects, messages)."""
    if len(value) < 10 or not _CANDIDATE.search(value):
        return value
    for pattern, repl, passes in _COMPILED:
        for _ in range(passes):
            value = pattern.sub(repl, value)
    return value
