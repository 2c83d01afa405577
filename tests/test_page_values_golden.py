"""Every number on every page keeps its value: the demo's cards compared with a snapshot.

Each page is run through the real entry point (dashboard/app.py, AppTest) on the demo database
(tests/conftest.py `demo_db`, fixed seed and end date), once in the default view and once
filtered; every metric card's label, value, change and tooltip (which carries the exact yuan
figure) is compared with tests/golden/page_values.json. This guards refactors such as
switching the pages to the marts layer.

Regenerate the snapshot only when a number is meant to change, and say why in the commit:

    COCKPIT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_page_values_golden.py -q
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pages_fixture import app

GOLDEN = Path(__file__).resolve().parent / "golden" / "page_values.json"
PAGES = ("overview", "grid", "projects", "funds", "linkage", "painpoints", "briefing")
VIEWS = {
    "default": {},
    "filtered": {"from": "2026-10-01", "to": "2026-10-31", "community": "清河一社区"},
}


def page_values(page: str, query: dict) -> dict[str, dict]:
    """Card label -> {value, delta, help} as the page renders them (label made unique)."""
    at = app(page, timeout=120, **query)
    assert not at.exception, f"{page} {query}: {at.exception}"
    cards: dict[str, dict] = {}
    for m in at.metric:
        label = m.label
        n = 2
        while label in cards:
            label, n = f"{m.label} ({n})", n + 1
        cards[label] = {"value": m.value, "delta": m.delta or None, "help": m.proto.help or None}
    return cards


@pytest.mark.slow
def test_page_values_equal_the_snapshot(demo_db, monkeypatch):
    monkeypatch.setenv("COCKPIT_DB", str(demo_db))
    now = {f"{view}/{page}": page_values(page, query)
           for view, query in VIEWS.items() for page in PAGES}
    # a page without any card would make its snapshot check vacuous
    empty = sorted(k for k, cards in now.items() if not cards)
    assert not empty, f"pages without metric cards: {empty}"
    if os.environ.get("COCKPIT_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                          encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert set(now) == set(golden)
    changed = {key: {label: (golden[key].get(label), card)
                     for label, card in now[key].items() if golden[key].get(label) != card}
               for key in now}
    changed = {k: v for k, v in changed.items() if v}
    gone = {k: sorted(set(golden[k]) - set(now[k])) for k in now if set(golden[k]) - set(now[k])}
    assert not changed and not gone, f"page values changed: {changed}; cards gone: {gone}"
