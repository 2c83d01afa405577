"""Data is never markup: the one helper that turns any loaded value into inert display text.

Everything that came from a file (resident messages, names of projects, communities and
parties, categories, pain-point labels) passes through `md()` before it reaches
`st.markdown`, `st.caption`, a link label, `st.info`/`st.warning`/`st.error`, a metric's help
or the briefing. Only strings from the translation table are written as Markdown; values are
formatted into them after escaping: `st.caption(t(KEY, lang, name=md(name)))`.

Streamlit renders Markdown (CommonMark + GFM), its own directives (`:red[...]`,
`:material/icon:`), LaTeX between `$...$` and - never here - raw HTML. Backslash-escaping every
ASCII punctuation character makes each of them literal text, so `![x](http://host/x.png)`
shows as those characters and the browser fetches nothing.
"""
from __future__ import annotations

import math
import re

_PUNCT = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_NEWLINES = re.compile(r"\r\n?|\n")


def md(value: object) -> str:
    """`value` as Markdown source that renders as exactly its text (one line; None -> '')."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _NEWLINES.sub(" ", str(value))
    return _PUNCT.sub(r"\\\1", text)
