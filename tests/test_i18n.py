"""The translation table: every key in both languages, same placeholders, and the keys the
cockpit pages use all exist; English strings of the page sections carry no Chinese."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from dashboard.i18n import LANGS, STRINGS, t

REPO = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
PAGE_SECTIONS = ("common.", "shell.", "overview.", "projects.", "funds.", "grid.", "linkage.",
                 "painpoints.", "explore.", "sql.", "briefing.", "app.", "data.")
SOURCES = [*(REPO / "dashboard" / "charts").glob("*.py"),
           *(REPO / "dashboard").glob("*.py"), *(REPO / "pages").glob("*.py")]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(STRINGS))
def test_every_key_has_both_languages(key):
    entry = STRINGS[key]
    for lang in LANGS:
        assert entry.get(lang), f"{key} lacks {lang}"
    assert _fields(entry["zh"]) == _fields(entry["en"]), key


def test_english_page_strings_have_no_chinese():
    bad = [k for k, v in STRINGS.items()
           if k.startswith(PAGE_SECTIONS) and not k.startswith("linkage.type.")
           and CJK.search(v["en"])]
    assert bad == []


def test_literal_keys_used_by_the_pages_exist():
    used = set()
    for path in SOURCES:
        used |= set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z0-9_.]+)"', path.read_text("utf-8")))
    assert used and sorted(k for k in used if k not in STRINGS) == []


def test_t_formats_and_falls_back():
    assert t("common.query_error", "en", error="boom").endswith("boom")
    assert t("shell.nav.overview", "xx") == STRINGS["shell.nav.overview"]["zh"]
