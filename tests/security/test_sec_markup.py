"""Data is never markup: `safe.md` / `safe.plot`, and every page on a database whose every
text field carries a Markdown/HTML payload (real ETL, real pain-point engine, real AppTest).

The browser half - no request leaves, the briefing export blocks and fails - is in
test_sec_markup_browser.py.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from dashboard.safe import WORD_JOINER, md, plain, plot
from dashboard.request_guard import RequestGuard
from tests.security import markup_fixture as hostile

PORT = 18999          # AppTest renders no HTML: nothing listens, nothing could fetch anyway
BRIEFING_WEEK = "2026-W25"      # the fixture's week with due projects, warnings and money
REPO = Path(__file__).resolve().parents[2]

# an unescaped trigger of each kind of markup Streamlit renders, as it would appear in the
# Markdown source sent to the browser (md() puts a backslash before each punctuation mark)
UNESCAPED = {
    "markdown image or link": re.compile(r"(?<!\\)\]\s*(?<!\\)\(\s*https?", re.I),
    "html tag": re.compile(r"(?<!\\)<\s*(img|a|script|iframe|svg)\b", re.I),
    "streamlit directive": re.compile(r"(?<!\\):(red|material|blue|green)(?<!\\)[\[/]"),
    "latex": re.compile(r"(?<!\\)\$x(?<!\\)\$"),
    "autolink": re.compile(r"(?i)(https?\\?:|www\\?\.)"),   # no word joiner after http / www
}


def unescaped(source: str) -> list[str]:
    return [name for name, rx in UNESCAPED.items() if rx.search(source)]


# --- the helper itself -----------------------------------------------------------------------
ATTACKS = [
    "![x](http://127.0.0.1:18999/x.png)", "[link](http://127.0.0.1:18999/l)",
    "<img src=http://127.0.0.1:18999/i.png>", "<a href='http://evil'>x</a>", ":red[x]",
    ":material/home:", ":smile:", "$x$", "$$x^2$$", "http://127.0.0.1:18999/bare",
    "HTTPS://EVIL.example/x", "see www.example.com", "mail a@b.com", "<http://127.0.0.1:1/a>",
    "[x]: http://127.0.0.1:1/ref", "**bold** _it_ ~~del~~ `code`", "# heading", "1. item",
    "- item", "> quote", "    indented code", "a | b\n--|--", "&lt;img&gt; &#60;", "a\\b",
    hostile.payload("tag", PORT),
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_md_leaves_no_markup_trigger(attack):
    out = md(attack)
    assert unescaped(out) == [], out
    assert "\n" not in out and not out.startswith(" ")
    # every ASCII punctuation mark is escaped; removing escapes and joiners gives the text back
    assert re.sub(r"\\(.)", r"\1", out).replace(WORD_JOINER, "") == plain(attack)


def test_md_does_not_touch_chinese_text():
    text = "加装电梯，老人上下楼太难！（急）「物业」说：再等等……"
    assert md(text) == text
    assert md("春晖社区 3号楼") == "春晖社区 3号楼"


def test_md_joins_lines_and_treats_missing_as_empty():
    assert md("第一行\n第二行\r\n  第三行  ") == "第一行 第二行 第三行"
    assert md(None) == md(float("nan")) == md(pd.NA) == ""
    assert md(12.5) == "12\\.5"
    assert plain(math.nan) == ""


def test_md_breaks_every_autolink_with_an_invisible_joiner():
    out = md("http://a.b https://c.d www.e.f g@h.i HTTP://J.K")
    assert out.count(WORD_JOINER) == 5
    assert unescaped(out) == []


def test_plot_escapes_html_for_plotly():
    assert plot("<a href='http://x'>甲&乙</a>") == "&lt;a href='http://x'&gt;甲&amp;乙&lt;/a&gt;"
    assert plot(None) == "" and plot("社区") == "社区"


def test_request_guard_allows_only_the_cockpit_origin():
    guard = RequestGuard("http://127.0.0.1:8765")
    assert guard.allowed("http://127.0.0.1:8765/static/js/main.js")
    assert guard.allowed("ws://127.0.0.1:8765/_stcore/stream")
    assert guard.allowed("data:image/png;base64,AAAA")
    for url in ("http://127.0.0.1:18999/x.png", "http://localhost:8765/", "https://127.0.0.1:8765/",
                "ws://127.0.0.1:18999/", "http://127.0.0.1:87650/", "ftp://127.0.0.1:8765/",
                "http://evil.example/", "http://127.0.0.1:8765@evil.example/"):
        assert not guard.allowed(url), url


# --- every page on the hostile database ------------------------------------------------------
MARKDOWN_PROTOS = {"Heading", "Markdown", "Alert", "Metric", "PageLink", "Expander", "Toast"}
LABEL_FIELDS = ("label", "help", "caption")   # widget fields that render Markdown (not options)


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    return hostile.build(tmp_path_factory.mktemp("hostile"), PORT)


@pytest.fixture
def db(hostile_db, monkeypatch):
    """COCKPIT_DB pointed at the hostile database for one test."""
    monkeypatch.setenv("COCKPIT_DB", str(hostile_db.path))
    yield hostile_db
    from dashboard import cache

    cache.clear()


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def rendered(at) -> tuple[list[str], list[str]]:
    """(Markdown sources the browser would render, strings of every plotly figure)."""
    from google.protobuf.json_format import MessageToDict

    from tests.pages_fixture import _walk

    markdown, charts = [], []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        kind = type(proto).__name__
        if kind == "PlotlyChart":
            charts.extend(_strings(json.loads(proto.spec)))
        elif kind in MARKDOWN_PROTOS:
            markdown.extend(_strings(MessageToDict(proto)))
        else:
            d = MessageToDict(proto)
            markdown.extend(s for f in LABEL_FIELDS if f in d for s in _strings(d[f]))
    return markdown, charts


def open_page(page: str, **query):
    from tests.pages_fixture import app

    at = app(page, timeout=180, **query)
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(sources: list[str], tag: str) -> bool:
    """The payload of `tag` appears, escaped, in some Markdown source (so it shows as text).

    Up to its tag only: quotes are cut to a length before they are escaped."""
    want = md(f"![x](http://127.0.0.1:{PORT}/{tag}")
    assert want in md(hostile.payload(tag, PORT))
    return any(want in s for s in sources)


# the static HTML tables pages open with (dashboard/htmltable.py): only these tags and
# attributes, styles only the preview's own (a bar's width, a scroll box); data is text
HTML_TAGS = {"style", "div", "table", "thead", "tbody", "tr", "th", "td", "span", "i"}
HTML_STYLE = re.compile(r"^(width:\d+%|max-height:\d+px;overflow-y:auto)$")


def html_tables(at) -> list[tuple[list, str]]:
    """Per preview table: its (tag, attributes) and the text a reader sees (cells and titles)."""
    from html.parser import HTMLParser

    from tests.pages_fixture import preview_bodies

    class Parts(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tags, self.text = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, attrs))
            self.text.extend(v for k, v in attrs if k == "title")

        def handle_data(self, data):
            self.text.append(data)

    out = []
    for body in preview_bodies(at):
        parts = Parts()
        parts.feed(body)
        out.append((parts.tags, "\n".join(parts.text)))
    return out


def inert(tags: list) -> list:
    """Tags or attributes a preview table must not have (anything that could fetch or run)."""
    bad = []
    for tag, attrs in tags:
        if tag not in HTML_TAGS:
            bad.append(tag)
        for k, v in attrs:
            if k not in ("class", "title", "style") or (k == "style" and not HTML_STYLE.match(v or "")):
                bad.append(f"{tag} {k}={v}")
    return bad


def check(at, expect_markdown=(), expect_chart=(), expect_html=()) -> tuple[list[str], list[str]]:
    tables = html_tables(at)
    assert [b for tags, _ in tables for b in inert(tags)] == []
    for tag in expect_html:
        assert any(hostile.payload(tag, PORT) in text for _, text in tables), \
            f"{tag}'s payload is not in a preview table as text"
    markdown, charts = rendered(at)
    bad = [(s[:200], unescaped(s)) for s in markdown if unescaped(s)]
    assert bad == [], bad
    assert [s[:200] for s in charts if re.search(r"<\s*(img|a)\b", s, re.I)] == []
    for tag in expect_markdown:
        assert shown(markdown, tag), f"{tag}'s payload is not shown as text"
    for tag in expect_chart:
        want = plot(hostile.payload(tag, PORT))
        assert any(want in s for s in charts), f"{tag}'s payload is not in a chart as text"
    errors = [e.value for e in at.error]
    assert errors == [], errors
    return markdown, charts


def month_scope(db) -> str:
    return hostile.communities(db.path)[0]


@pytest.mark.slow
def test_overview_shows_payloads_as_text(db):
    check(open_page("overview"),
          expect_markdown=("painpoint.label", "feedback.subject", "projects.name", "project_id"),
          expect_chart=("painpoint.label",))


@pytest.mark.slow
def test_overview_for_a_hostile_community(db):
    check(open_page("overview", community=month_scope(db)),
          expect_markdown=("painpoint.label", "feedback.subject"))


@pytest.mark.slow
def test_painpoints_page_shows_payloads_as_text(db):
    at = open_page("painpoints", community=month_scope(db))
    check(at, expect_markdown=("community", "painpoint.label", "painpoint.keyword", "feedback.subject"),
          expect_chart=("painpoint.label",))
    # the views one click away: the keyword bars, the money chart, the message lists
    at.segmented_control(key="painpoints_view").set_value("keywords").run()
    at.toggle(key="painpoints_funding_chart").set_value(True).run()
    at.toggle(key="painpoints_drill_show").set_value(True).run()
    assert not at.exception
    check(at, expect_chart=("painpoint.label", "painpoint.keyword"), expect_html=("feedback.subject",))


@pytest.mark.slow
def test_projects_page(db):
    at = open_page("projects")
    check(at, expect_html=("project_id", "projects.name", "community"))
    # the views one click away: the Gantt with its milestones, the schedule scatter, lead types
    for view, expect in (("gantt", ("project_id", "projects.name", "project_milestones.milestone")),
                         ("schedule", ("projects.name",)), ("by_lead_type", ())):
        at.segmented_control(key="projects_view").set_value(view).run()
        assert not at.exception
        check(at, expect_chart=expect)


@pytest.mark.slow
def test_funds_page(db):
    at = open_page("funds")
    check(at, expect_chart=("fund_transactions.source_type", "fund_transactions.source_name",
                            "fund_transactions.expense_category", "projects.category",
                            "projects.name"),
          expect_html=("projects.name", "fund_transactions.source_name"))
    # the views one click away: monthly in/out, the government share per community
    for view, expect in (("monthly", ()), ("government", ("community",))):
        at.segmented_control(key="funds_view").set_value(view).run()
        assert not at.exception
        check(at, expect_chart=expect)


@pytest.mark.slow
def test_grid_page(db):
    at = open_page("grid")
    check(at, expect_chart=("grid_reports.category",))
    for view, expect in (("backlog", ("grid_reports.category",)), ("heatmap", ("grid_id",))):
        at.segmented_control(key="grid_view").set_value(view).run()
        assert not at.exception
        check(at, expect_chart=expect)


@pytest.mark.slow
def test_linkage_page(db):
    at = open_page("linkage")
    check(at, expect_chart=("community",))
    at.segmented_control(key="linkage_view").set_value("radar").run()
    assert not at.exception
    check(at)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["explore", "sql_console"])
def test_other_pages(db, name):
    check(open_page(name))


@pytest.mark.slow
def test_briefing_whole_street_and_a_hostile_community(db):
    check(open_page("briefing", week=BRIEFING_WEEK),
          expect_markdown=("painpoint.label", "projects.name", "community"),
          expect_chart=("fund_transactions.source_type", "fund_transactions.expense_category"))
    check(open_page("briefing", week=BRIEFING_WEEK, community=month_scope(db)),
          expect_markdown=("community", "painpoint.label"))


@pytest.mark.slow
@pytest.mark.parametrize("query", [{"week": "2026-W25", "community": "payload"},
                                   {"week": "payload"}])
def test_briefing_refuses_a_hostile_url_showing_it_as_text(db, query):
    """The page on its own (app.py would drop an unknown community from the URL first)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "pages" / "briefing.py"), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = hostile.payload("url", PORT) if v == "payload" else v
    at.run()
    markdown, _ = rendered(at)
    assert [s for s in markdown if unescaped(s)] == []
    assert len(at.error) == 1 and md(hostile.payload("url", PORT)) in at.error[0].value


@pytest.mark.slow
def test_sql_console_error_quoting_stored_text_shows_it_as_text(db):
    """DuckDB's message quotes the value it could not convert - a resident's message."""
    at = open_page("sql_console")
    at.text_area(key="sql_text").set_value("SELECT CAST(text AS INTEGER) FROM feedback LIMIT 1")
    at.button(key="sql_run").click()
    at.run()
    assert len(at.error) == 1 and "feedback\\.text" in at.error[0].value
    markdown, _ = rendered(at)
    assert [s[:200] for s in markdown if unescaped(s)] == []


@pytest.mark.slow
@pytest.mark.parametrize("group_by", [["category"], ["community", "category"]])
def test_explore_chart_of_hostile_groups_draws_them_as_text(db, group_by):
    at = open_page("explore")
    at.selectbox(key="explore_dataset").set_value("grid_reports").run()
    at.multiselect(key="explore_grid_reports_groupby").set_value(group_by).run()
    assert not at.exception
    check(at, expect_chart=("grid_reports.category",) if len(group_by) == 1 else
          ("grid_reports.category", "community"))
