"""自助分析: pick a dataset, build filters (AND within a group, OR between groups),
group and measure, then read the chart and table and download them."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, export, ui
from dashboard.charts.explore import result_figure
from dashboard.filters import Filters
from dashboard.i18n import t
from dashboard.queries import explore as q
from dashboard.queries.base import MIN_GROUP, aggregates_only, current_scope, use_scope

filters, lang = ui.context()
ANY = Filters()    # option lists do not depend on the sidebar


def label(column: str) -> str:
    return t(f"explore.col.{column}", lang)


def new_id() -> int:
    st.session_state["explore_next_id"] = st.session_state.get("explore_next_id", 0) + 1
    return st.session_state["explore_next_id"] - 1


def reset_layout() -> None:
    st.session_state["explore_layout"] = [[new_id()]]


def add_condition(group: int) -> None:
    st.session_state["explore_layout"][group].append(new_id())


def add_group() -> None:
    st.session_state["explore_layout"].append([new_id()])


def remove_condition(cid: int) -> None:
    layout = [[c for c in g if c != cid] for g in st.session_state["explore_layout"]]
    st.session_state["explore_layout"] = [g for g in layout if g] or [[new_id()]]


def condition_widgets(dataset: str, cid: int) -> q.Condition | None:
    """One row of the filter builder: a column, then the widget its kind calls for."""
    ds = q.DATASETS[dataset]
    left, mid, right = st.columns([2, 5, 0.6], vertical_alignment="bottom")
    column = left.selectbox(t("explore.column", lang), ds.names("cat", "num", "date", "text"),
                            index=None, format_func=label, key=f"explore_c{cid}_col",
                            placeholder=t("explore.pick_column", lang))
    right.button("✕", key=f"explore_c{cid}_rm", on_click=remove_condition, args=(cid,),
                 help=t("explore.remove", lang))
    if column is None:
        return None
    kind, key = ds.column(column).kind, f"explore_c{cid}_{column}"
    if kind == "cat":
        options = cache.run(q.distinct_values, ANY, dataset, column)
        values = mid.multiselect(t("explore.is_one_of", lang), options, key=f"{key}_in",
                                 placeholder=t("explore.pick_values", lang))
        return q.Condition(column, values=tuple(values))
    if kind == "text":
        text = mid.text_input(t("explore.contains", lang), key=f"{key}_text")
        return q.Condition(column, text=text.strip() or None)
    lo_col, hi_col = mid.columns(2)
    if kind == "date":
        lo_b, hi_b = cache.run(q.column_range, ANY, dataset, column)
        lo = lo_col.date_input(t("explore.from", lang), value=None, min_value=lo_b,
                               max_value=hi_b, key=f"{key}_lo")
        hi = hi_col.date_input(t("explore.to", lang), value=None, min_value=lo_b,
                               max_value=hi_b, key=f"{key}_hi")
    else:
        lo = lo_col.number_input(t("explore.min", lang), value=None, key=f"{key}_lo")
        hi = hi_col.number_input(t("explore.max", lang), value=None, key=f"{key}_hi")
    return q.Condition(column, lo=lo, hi=hi)


def filter_builder(dataset: str) -> tuple[tuple[q.Condition, ...], ...]:
    if "explore_layout" not in st.session_state:
        reset_layout()
    groups = []
    for gi, group in enumerate(st.session_state["explore_layout"]):
        if gi:
            st.markdown(f"**{t('explore.or', lang)}**")
        with st.container(border=True):
            conds = [condition_widgets(dataset, cid) for cid in group]
            groups.append(tuple(c for c in conds if c is not None and c.is_active()))
            st.button(t("explore.add_and", lang), key=f"explore_add_{gi}",
                      on_click=add_condition, args=(gi,))
    st.button(t("explore.add_or", lang), key="explore_add_group", on_click=add_group)
    return tuple(g for g in groups if g)


def shown_rows(spec: q.Spec) -> int:
    """How many result rows the table sends to the browser: SHOWN_ROWS, plus as many per
    "show more" click; back to SHOWN_ROWS when the question or the filters change."""
    state = st.session_state
    if state.get("explore_shown_for") != (spec, filters):
        state["explore_shown_for"] = (spec, filters)
        state["explore_shown"] = q.SHOWN_ROWS
    return state["explore_shown"]


def show_more() -> None:
    st.session_state["explore_shown"] += q.SHOWN_ROWS


def result(spec: q.Spec) -> tuple[pd.DataFrame, int, bool]:
    """(rows for the screen, how many rows the question has, whether that is over RESULT_CAP).

    Grouped questions read their (small) result whole. The matching rows themselves are read
    one screenful at a time (SHOWN_ROWS, more per "show more"), never the whole capped result
    on every rerun; their number is the sum of the same question's counts per value of the
    dataset's first categorical column (a plain column: 10x cheaper than grouping by month), or
    for a question without conditions the dataset's daily summary (q.row_count)."""
    if spec.group_by:
        df, truncated = cache.run(q.run, filters, spec)
        return df, len(df), truncated
    limit = min(shown_rows(spec), q.RESULT_CAP)
    head, more = cache.run(q.run, filters, spec, limit)
    if not more:
        return head, len(head), False
    total = cache.run(q.row_count, filters, spec)
    if total is None:
        by = q.DATASETS[spec.dataset].names("cat")[0]
        counts, _ = cache.run(q.run, filters, q.Spec(spec.dataset, spec.groups, (by,), "count"))
        total = int(counts["value"].sum())
    return head, min(total, q.RESULT_CAP), total > q.RESULT_CAP


def export_rows(spec: q.Spec, columns: dict[str, str]):
    """The export's frame, read when someone clicks (outside the page run, so under the scope
    captured now): the whole result up to RESULT_CAP, headers as on screen."""
    scope = current_scope()

    def rows() -> pd.DataFrame:
        with use_scope(scope):
            df, _ = cache.run(q.run, filters, spec)
        return df.rename(columns=columns)
    return rows


def show_result(spec: q.Spec) -> None:
    ds = q.DATASETS[spec.dataset]
    if aggregates_only(ds.table):
        if not spec.group_by:
            st.info(t("scope.group_required", lang, n=MIN_GROUP))
            return
        st.caption(t("scope.small_groups", lang, n=MIN_GROUP))
    df, rows, truncated = result(spec)
    if truncated:
        st.warning(t("explore.truncated", lang, cap=f"{q.RESULT_CAP:,}"))
    st.caption(t("explore.rows", lang, rows=f"{rows:,}"))
    if df.empty:
        st.info(t("common.no_data", lang))
        return
    value_label = t(f"explore.measure.{spec.measure}", lang)
    if spec.measure_col:
        value_label = f"{value_label} · {label(spec.measure_col)}"
    labels = {c.name: label(c.name) for c in ds.columns} | {q.RECORDS: label(q.RECORDS)}
    chart_by = tuple(sorted(spec.group_by, key=lambda g: ds.column(g).kind != "period"))
    period = bool(chart_by) and ds.column(chart_by[0]).kind == "period"   # months go on x
    fig = result_figure(df, chart_by, period, labels, value_label)
    if fig is not None:
        st.plotly_chart(fig, key="explore_chart")
    columns = {**labels, "value": value_label}
    limit = shown_rows(spec)
    if rows > limit:                      # the browser gets a page; the downloads get it all
        st.caption(t("explore.shown", lang, shown=f"{limit:,}", rows=f"{rows:,}"))
    st.dataframe(ui.without_missing(df.head(limit).rename(columns=columns))[0], hide_index=True,
                 key="explore_table")     # no None shown
    if rows > limit:
        st.button(t("explore.more", lang, n=f"{min(q.SHOWN_ROWS, rows - limit):,}"),
                  key="explore_more", on_click=show_more)
    left, right = st.columns(2)
    name = f"{spec.dataset}"
    whole = export_rows(spec, columns)
    left.download_button(t("common.download_csv", lang), export.audited("csv", whole, "explore"),
                         file_name=f"{name}.csv", mime=export.CSV_MIME, key="explore_csv",
                         on_click="ignore")
    right.download_button(t("common.download_xlsx", lang), export.audited("xlsx", whole, "explore"),
                          file_name=f"{name}.xlsx", mime=export.XLSX_MIME, key="explore_xlsx",
                          on_click="ignore")


st.title(t("explore.title", lang))
st.caption(t("explore.intro", lang))
if not cache.has_data():
    ui.empty_state(lang)
    st.stop()

dataset = st.selectbox(t("explore.dataset", lang), list(q.DATASETS), key="explore_dataset",
                       format_func=lambda d: t(f"explore.ds.{d}", lang), on_change=reset_layout)
ds = q.DATASETS[dataset]
st.subheader(t("explore.filters", lang))
groups = filter_builder(dataset)

st.subheader(t("explore.grouping", lang))
g_col, m_col, c_col = st.columns([3, 2, 2])
group_by = g_col.multiselect(t("explore.group_by", lang), ds.names("cat", "period"),
                             max_selections=2, format_func=label, key=f"explore_{dataset}_groupby",
                             placeholder=t("explore.no_grouping", lang))
measure = m_col.selectbox(t("explore.measure", lang), q.MEASURES, key=f"explore_{dataset}_measure",
                          format_func=lambda m: t(f"explore.measure.{m}", lang),
                          disabled=not group_by)
measure_col = None
if group_by and measure in ("sum", "median"):
    measure_col = c_col.selectbox(t("explore.measure_column", lang), ds.names("num"),
                                  format_func=label, key=f"explore_{dataset}_mcol")
spec = q.Spec(dataset, groups, tuple(group_by), measure if group_by else "count", measure_col)
with ui.panel(lang):
    show_result(spec)
