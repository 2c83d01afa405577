"""Data is never markup: the helpers that turn any loaded value into inert display text.

Everything that came from a file (resident messages, names of projects, communities and
parties, categories, pain-point labels) passes through `md()` before it reaches
`st.markdown`, `st.caption`, `st.title`, a link label, `st.info`/`st.warning`/`st.error`, a
metric's label or help, or the briefing. Only strings from the translation table are written
as Markdown; values are formatted into them after escaping, e.g.
`st.title(t("briefing.heading", lang, scope=md(name), week=week))`. Text bound for a plotly
figure (titles, axis and legend labels, hover text, annotations) goes through `plot()`
instead: plotly draws a subset of HTML (`<a href>`, `<b>`, `<br>`...), not Markdown. Text in
the static HTML tables a page opens with (dashboard/htmltable.py) goes through `html_text()`.

Streamlit renders Markdown (CommonMark + GFM), its own directives (`:red[...]`,
`:material/icon:`, `:smile:`), LaTeX between `$...$` and - never here - raw HTML.
Backslash-escaping every ASCII punctuation character makes each of them literal text, so
`![x](http://host/x.png)` shows as those characters and the browser fetches nothing.
Two things survive backslashes and are handled apart:
- GFM's *autolink literals*: `http://…`, `www.…` and `a@b.c` become links even when their
  punctuation is escaped (the escapes resolve before links are looked for), so an invisible
  WORD JOINER (U+2060) goes after `http`/`https`/`www` and after `@`;
- line structure: newlines and runs of blanks become one space (a leading run of four
  would start a code block), so a value is always one inline run of text.
Chinese text (and all other non-ASCII) passes unchanged.
"""
from __future__ import annotations

import html
import math
import re

WORD_JOINER = "\u2060"   # invisible, no line break: splits what GFM would turn into a link
_PUNCT = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_BLANKS = re.compile(r"[ \t\r\n\f\v]+")
_AUTOLINK = re.compile(r"(?i)(https?(?=:)|www(?=\.)|@)")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        import pandas as pd
        if value is pd.NA or value is pd.NaT:
            return ""
    except ImportError:  # pragma: no cover - pandas is a dependency of the cockpit
        pass
    return str(value)


def md(value: object) -> str:
    """`value` as Markdown source that renders as exactly its text, on one line.

    None/NaN/NA -> ''. What shows on screen is `plain(value)` (blank runs collapsed to one
    space), with an invisible WORD JOINER after `http`, `https`, `www` and `@`.
    """
    text = _BLANKS.sub(" ", _text(value)).strip()
    text = _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, text)
    return _PUNCT.sub(r"\\\1", text)


def plain(value: object) -> str:
    """The text a reader sees for `md(value)`, word joiners aside (for tests and comparisons)."""
    return _BLANKS.sub(" ", _text(value)).strip()


def html_text(value: object) -> str:
    """`value` for a static HTML block (dashboard.htmltable): `<`, `>`, `&` and both quotes as
    entities, so it is text in an element and inside a quoted attribute."""
    return html.escape(_text(value), quote=True)


def plot(value: object) -> str:
    """`value` for a plotly string (title, label, legend name, hover text, annotation):
    `<`, `>` and `&` as entities, so plotly's HTML subset draws it as text."""
    return html.escape(_text(value), quote=False)
