"""Shared page helpers: the page's filters, panels that fail alone, KPI cards, tables, formats.

Pages stay thin: `f, lang = ui.context()`, then one `with ui.panel(...)` per panel. A query
or chart that raises inside a panel shows an error box there; the rest of the page renders.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import htmltable
from dashboard.charts.common import yuan_short
from dashboard.filters import Filters
from dashboard.i18n import STRINGS, t
from dashboard.safe import md

log = logging.getLogger(__name__)
PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"


def context() -> tuple[Filters, str]:
    """The filters app.py stored for this run (defaults when a page runs on its own)."""
    f = st.session_state.get("filters")
    if not isinstance(f, Filters):
        f = Filters()
    return f, f.lang


@contextlib.contextmanager
def panel(lang: str, title: str | None = None, caption: str | None = None) -> Iterator[None]:
    """A titled block whose failures stay inside it (an error box, then the page goes on)."""
    with st.container():
        if title:
            st.subheader(title)
        if caption:
            st.caption(caption)
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - the point is to contain any panel failure
            log.exception("panel %r failed", title)
            detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            st.error(t("common.query_error", lang, error=md(detail)))


def empty_state(lang: str) -> None:
    """The friendly 'no data yet' box with the load commands."""
    st.info(t("common.empty_db", lang))


def no_data(lang: str) -> None:
    st.caption(t("common.no_data", lang))


# --- formats (no locale magic: the same digits in both languages) --------------------------
def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA or x is pd.NaT


def fmt_int(x) -> str:
    return "–" if _missing(x) else f"{int(round(float(x))):,}"


def fmt_num(x, digits: int = 1) -> str:
    return "–" if _missing(x) else f"{float(x):,.{digits}f}"


def fmt_pct(x, digits: int = 1) -> str:
    """x is a share 0..1."""
    return "–" if _missing(x) else f"{100 * float(x):.{digits}f}%"


def fmt_yuan(x) -> str:
    return "–" if _missing(x) else f"¥{float(x):,.0f}"


def fmt_hours(x, lang: str) -> str:
    return "–" if _missing(x) else t("common.hours", lang, value=fmt_num(x))


def fmt_yuan_short(x, lang: str) -> str:
    """Yuan for a KPI card, short enough not to be cut: ¥292.7万 (zh) / ¥2.93M (en).

    Pair it with `help=t("common.exact_yuan", ...)` so the exact figure stays one hover away.
    """
    return "–" if _missing(x) else yuan_short(x, lang, card=True)


def yuan_kpi(key: str, label: str, x, lang: str, help: str | None = None, **kw) -> "Kpi":
    """A KPI card for an amount: the short value, the exact amount in the help tooltip."""
    exact = t("common.exact_yuan", lang, value=fmt_yuan(x))
    return Kpi(key, label, fmt_yuan_short(x, lang), help=f"{help} {exact}" if help else exact,
               **kw)


def sla_rules(lang: str) -> str:
    """The per-category SLA deadlines as one caption line (queries.common.SLA_HOURS), naming
    only the categories the data has."""
    from dashboard import cache
    from dashboard.queries import common
    from dashboard.queries.common import DEFAULT_SLA_HOURS, SLA_HOURS

    present = set(cache.run(common.categories, Filters())["category"].dropna())
    by_hours: dict[int, list[str]] = {}
    for category, hours in SLA_HOURS.items():
        if category in present:
            by_hours.setdefault(hours, []).append(category)
    unit = " 小时" if lang == "zh" else " h"
    sep = "、" if lang == "zh" else ", "
    rules = ("；" if lang == "zh" else "; ").join(
        f"{sep.join(md(c) for c in cats)} {hours}{unit}" for hours, cats in sorted(by_hours.items()))
    return t("grid.sla_help", lang, rules=rules or "–", default=DEFAULT_SLA_HOURS)


def warning_value(rule: str, value, lang: str) -> str:
    """An early warning's measure with its unit: 'behind by 34 points', '38 days', '¥4,879'."""
    shown = fmt_int(value) if rule in ("overdue_milestones", "stalled", "over_budget") \
        else fmt_num(value, 1) if rule == "low_rating" else fmt_num(value, 0)
    return t(f"projects.rule_value.{rule}", lang, value=shown)


@dataclass(frozen=True)
class Kpi:
    """One KPI card: label and value already formatted; delta text optional."""
    key: str
    label: str
    value: str
    delta: str | None = None
    delta_color: str = "normal"   # 'normal' | 'inverse' | 'off'
    help: str | None = None
    delta_arrow: str = "auto"     # 'off' for a plain second line that is not a change


def delta_text(now, before, kind: str, lang: str | None = None) -> str | None:
    """Change versus the previous period, formatted like the value (pts for shares; short
    yuan when `lang` is given, as on the amount cards)."""
    if _missing(now) or _missing(before):
        return None
    diff = float(now) - float(before)
    if kind == "share":
        return f"{100 * diff:+.1f} pts"
    if kind == "yuan":
        amount = fmt_yuan_short(abs(diff), lang) if lang else f"¥{abs(diff):,.0f}"
        return f"{'+' if diff >= 0 else '-'}{amount}"
    if kind == "int":
        return f"{diff:+,.0f}"
    return f"{diff:+,.1f}"


def _no_change(delta: str | None) -> bool:
    """True for a delta that rounds to zero ('+0', '-0.0 pts', '+¥0'): no arrow, no colour."""
    return bool(delta) and not any(ch in "123456789" for ch in delta)


def kpi_row(cards: list[Kpi], per_row: int = 4) -> None:
    """KPI cards in rows of `per_row`."""
    for start in range(0, len(cards), per_row):
        cols = st.columns(per_row)
        for col, card in zip(cols, cards[start:start + per_row]):
            flat = _no_change(card.delta)
            delta = card.delta.lstrip("+-") if flat else card.delta
            col.metric(card.label, card.value, delta,
                       delta_color="off" if flat else card.delta_color,
                       help=card.help, border=True,
                       delta_arrow="off" if flat else card.delta_arrow)


MISSING = "—"      # an empty number or date cell; an empty text cell is blank
def _cell_text(v) -> object:
    """A non-missing cell of a text column with gaps: strings as they are, anything else
    (a big integer, bytes, a list from the SQL console) as text, so the column stays one type."""
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "0x" + bytes(v).hex()
    return str(v)


def without_missing(df: pd.DataFrame, formats: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """`df` with no None/NaN/NaT left (pure): a number or date column with a gap becomes text
    ("—" in the gap, the others formatted as the table would), text gaps become blank.
    Returns the frame and the columns turned into text."""
    out, texts = df.copy(), []
    for c in df.columns:
        col = df[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            gaps = col.map(_missing)
            if gaps.any():
                flags = col[~gaps].map(lambda v: isinstance(v, (bool, np.bool_))).all()
                out[c] = (col.map(lambda v: "" if _missing(v) else ("✓" if v else "✗")) if flags
                          else col.map(lambda v: "" if _missing(v) else _cell_text(v))).astype(object)
            continue
        gaps = col.isna()
        if not gaps.any():
            continue
        if pd.api.types.is_bool_dtype(col.dtype) or str(col.dtype) == "boolean":
            shown = col.map(lambda v: "" if _missing(v) else ("✓" if v else "✗"))
        elif pd.api.types.is_datetime64_any_dtype(col.dtype):
            d = pd.to_datetime(col)
            pattern = "%Y-%m-%d" if (d.dropna() == d.dropna().dt.normalize()).all() else "%Y-%m-%d %H:%M:%S"
            shown = d.dt.strftime(pattern).where(~gaps, MISSING)
        elif pd.api.types.is_numeric_dtype(col.dtype):
            fmt = (formats or {}).get(c)
            shown = col.map(lambda v, f=fmt: MISSING if _missing(v) else htmltable.number_text(float(v), f))
        else:
            shown = col.astype(object).where(~gaps, "")
        out[c] = shown.astype(object)
        texts.append(c)
    return out, texts


def previewed(df: pd.DataFrame, labels: dict[str, str], lang: str, *, key: str,
              height: int | None = None, formats: dict[str, str] | None = None,
              progress: tuple[str, ...] = ()) -> bool:
    """The switch to the interactive grid (widget `<key>__full`); while it is off, the table's
    first rows as a static HTML table (dashboard/htmltable.py) and True: draw no grid then.
    `df` has no gaps left (`without_missing`); a list with a `height` is one page of a pager
    (messages): all of it, in a box that scrolls as the grid would."""
    if st.toggle(t("common.table_full", lang, n=fmt_int(len(df))), key=f"{key}__full"):
        return False
    rows = len(df) if height else htmltable.PREVIEW_ROWS
    st.html(htmltable.render(df, labels, formats=formats, rows=rows, height=height,
                             progress=progress))
    if len(df) > rows:
        st.caption(t("common.table_preview", lang, rows=rows, n=fmt_int(len(df))))
    return True


def table(df: pd.DataFrame, lang: str, *, key: str, height: int | None = None,
          formats: dict[str, str] | None = None, coded: dict[str, str] | None = None,
          progress: tuple[str, ...] = (), warning_values: bool = False,
          preview: bool = False) -> None:
    """A dataframe with translated headers ("common.col.<name>" when present) and no
    None/NaN/NaT shown: gaps are blank or "—" (see `without_missing`).

    `coded` maps a column holding codes (e.g. rule names) to the i18n prefix of their labels.
    `progress` names 0..100 columns drawn as bars. `warning_values` writes an early-warning
    table's `value` with its rule's unit ("落后 34 个百分点", "38 天未更新").
    `preview` (a page's tables as it opens): the first rows (all of them, in a box of `height`,
    when a height is given: one page of a pager) as a static HTML table, formatted the same,
    with a switch (widget `<key>__full`) to the interactive grid of all rows - the grid's code
    costs every new browser document ~0.15 s of main thread (dashboard/htmltable.py).
    """
    if warning_values and {"rule", "value"} <= set(df.columns):
        df = df.assign(value=[warning_value(r, v, lang) for r, v in zip(df["rule"], df["value"])])
    if coded:
        df = df.assign(**{c: df[c].map(lambda v, p=prefix: t(f"{p}.{v}", lang)
                                       if f"{p}.{v}" in STRINGS else v)
                          for c, prefix in coded.items() if c in df.columns})
    df, as_text = without_missing(df, formats)
    labels = {c: t(f"common.col.{c}", lang) if f"common.col.{c}" in STRINGS else c
              for c in df.columns}
    if preview and previewed(df, labels, lang, key=key, height=height,
                             formats={c: f for c, f in (formats or {}).items() if c not in as_text},
                             progress=tuple(c for c in progress if c not in as_text)):
        return
    config = {c: st.column_config.Column(labels[c]) for c in df.columns}
    for c, fmt in (formats or {}).items():
        if c in df.columns and c not in as_text:
            config[c] = st.column_config.NumberColumn(labels[c], format=fmt)
    for c in progress:
        if c in df.columns and c not in as_text:
            # blue, the house "in progress" colour: the theme's red would read as an alarm
            config[c] = st.column_config.ProgressColumn(labels[c], format="%.0f%%",
                                                        min_value=0, max_value=100,
                                                        color="#2F6FB2")
    kwargs = {"height": height} if height else {}
    st.dataframe(df, hide_index=True, column_config=config, key=key, width="stretch",
                 **kwargs)


def pager(total: int, lang: str, *, key: str, page_size: int, context: object = None) -> int:
    """A page-number input (widget `key`) over `total` rows shown `page_size` at a time, and the
    "第 x / y 页" caption; returns the chosen page's row offset. Back to page 1 when `context`
    (the list's identity: picked item, filters) changes; clamped when the list shrinks."""
    pages = max(1, math.ceil(total / page_size))
    state = st.session_state
    if state.get(f"{key}__context") != context:
        state[f"{key}__context"] = context
        state[key] = 1
    elif state.get(key, 1) > pages:
        state[key] = pages
    page = 1
    if pages > 1:
        page = int(st.number_input(t("common.page", lang), min_value=1, max_value=pages, step=1,
                                   key=key))
    st.caption(t("common.page_of", lang, page=fmt_int(page), pages=fmt_int(pages)))
    return (page - 1) * page_size


def chart(fig, *, key: str) -> None:
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})


def header(title: str, f: Filters, lang: str) -> None:
    """Page title plus the 'as of' line (the date time-based measures use) and the period."""
    from dashboard import cache
    from dashboard.queries import common

    st.title(title)
    day = cache.run(common.as_of, f)
    period = (f"{f.date_from.isoformat()} – {f.date_to.isoformat()}"
              if f.date_from and f.date_to else t("common.all_dates", lang))
    st.caption(t("common.as_of", lang, date=day.isoformat(), period=period))


def page_link(name: str, label: str, **query: str) -> None:
    """A link to another cockpit page (pages/<name>.py) carrying extra query parameters.

    `label` is Markdown: a translation string with any data in it escaped by `safe.md`."""
    try:
        st.page_link(str(PAGES_DIR / f"{name}.py"), label=label,
                     query_params={k: v for k, v in query.items() if v is not None} or None)
    except Exception:  # the page runs outside the app's navigation (a test, a script)
        st.markdown(label)
