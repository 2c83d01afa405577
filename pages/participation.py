"""协商与参与 Deliberation and participation: votes against the 30% line, meetings and resolutions,
residents' usage and points, concentration of tasks, residents' evaluations of projects, and the
platform's effectiveness (usage rate, problem-resolution time, residents' ease-of-use score).

The headline cards always show; below them one section at a time (URL ?section=...), so a run
only reads and draws what is on screen."""
import pandas as pd
import streamlit as st

from dashboard import cache, ui
from dashboard.charts import effectiveness as eff_charts
from dashboard.charts import participation as charts
from dashboard.i18n import STRINGS, t
from dashboard.queries import effectiveness as eq
from dashboard.queries import participation as q
from dashboard.queries.base import AGGREGATE_ROLES, current_scope, effective_role
from dashboard.safe import md

SECTIONS = ("votes", "meetings", "usage", "concentration", "evaluations", "effectiveness")

f, lang = ui.context()
ui.header(t("participation.title", lang), f, lang)
st.caption(t("participation.intro", lang))


def table(df: pd.DataFrame, *, key: str, pct: tuple[str, ...] = (), num: tuple[str, ...] = (),
          num2: tuple[str, ...] = ()) -> None:
    """A dataframe with the section's column labels; shares as %, dates as dates, numbers with one
    decimal (`num`) or two (`num2`)."""
    label = {c: t(f"participation.col.{c}", lang) if f"participation.col.{c}" in STRINGS else c for c in df.columns}
    # opens as a static preview (no grid code in a new browser document), the grid one switch away
    formats = {**{c: "%.2f" for c in num2}, **{c: "percent" for c in pct}, **{c: "%.1f" for c in num}}
    shown, as_text = ui.without_missing(df, formats)
    if ui.previewed(shown, label, lang, key=key,
                    formats={c: v for c, v in formats.items() if c in df.columns and c not in as_text}):
        return
    config = {c: st.column_config.Column(label[c]) for c in df.columns}
    config.update({c: st.column_config.DateColumn(label[c], format="YYYY-MM-DD")
                   for c in df.columns if c.endswith("_on")})
    config.update({c: st.column_config.NumberColumn(label[c], format="%.2f") for c in num2 if c in df.columns})
    config.update({c: st.column_config.NumberColumn(label[c], format="percent") for c in pct if c in df.columns})
    config.update({c: st.column_config.NumberColumn(label[c], format="%.1f") for c in num if c in df.columns})
    st.dataframe(df, hide_index=True, column_config=config, key=key, width="stretch")


def cards() -> pd.Series:
    # the overview's own cached KPI row (q.kpis = kpis_of over the same reads): a rerun does
    # not regroup the per-resident tasks (751k residents at 10M reports) in pandas
    k = cache.run(q.kpis, f).iloc[0]
    ui.kpi_row([
        ui.Kpi("usage", t("participation.kpi.usage", lang), ui.fmt_num(k["usage_rate"]),
               help=t("participation.kpi_help.usage", lang, active=ui.fmt_int(k["active_residents"]),
                      households=ui.fmt_int(k["households"]))),
        ui.Kpi("valid_votes", t("participation.kpi.valid_votes", lang), ui.fmt_pct(k["valid_vote_share"]),
               help=t("participation.kpi_help.valid_votes", lang, valid=ui.fmt_int(k["valid_votes"]),
                      votes=ui.fmt_int(k["votes"]))),
        ui.Kpi("overdue", t("participation.kpi.overdue", lang), ui.fmt_int(k["overdue_resolutions"]),
               help=t("participation.kpi_help.overdue", lang, undisclosed=ui.fmt_int(k["undisclosed_resolutions"]))),
        ui.Kpi("top_share", t("participation.kpi.top_share", lang), ui.fmt_pct(k["top_share"]),
               help=t("participation.kpi_help.top_share", lang, gini=ui.fmt_num(k["gini"], 2))),
    ], per_row=4)
    return k


def votes_section(votes: pd.DataFrame) -> None:
    with ui.panel(lang, t("participation.votes", lang), t("participation.votes_help", lang)):
        ui.chart(charts.vote_participation(votes, lang), key="participation_votes_chart")
        invalid = votes[~votes["valid"]]
        if len(invalid):
            st.warning(t("participation.invalid_votes", lang, n=len(invalid),
                         ids=md("、".join(invalid["vote_id"].tolist()))))
        table(q.vote_summary(votes), key="participation_vote_summary", pct=("avg_participation",))
        table(votes.drop(columns=["valid_share"]), key="participation_votes", pct=("participation_share",))


def meetings_section(res: pd.DataFrame) -> None:
    with ui.panel(lang, t("participation.meetings", lang), t("participation.meetings_help", lang)):
        monthly = cache.run(q.meetings_monthly, f)
        ui.chart(charts.meetings_per_month(monthly, lang), key="participation_meetings_chart")
        table(q.meetings_by_community(monthly), key="participation_meetings_by_community")
        gaps = cache.run(q.joint_meeting_gaps, f)
        if gaps.empty:
            st.success(t("participation.no_gaps", lang))
        else:
            st.warning(t("participation.gaps", lang, n=len(gaps)))
            table(gaps, key="participation_gaps")
    with ui.panel(lang, t("participation.resolutions", lang), t("participation.resolutions_help", lang)):
        left, right = st.columns([1, 2])
        with left:
            ui.chart(charts.resolution_status(q.status_counts(res), lang), key="participation_status_chart")
        with right:
            for flag in ("overdue", "undisclosed"):
                rows = q.flagged(res, flag)
                if rows.empty:
                    st.success(t(f"participation.no_{flag}", lang))
                    continue
                st.warning(t(f"participation.{flag}", lang, n=len(rows)))
                table(rows, key=f"participation_{flag}")


def usage_section(tasks: pd.DataFrame) -> None:
    with ui.panel(lang, t("participation.usage", lang), t("participation.usage_help", lang)):
        ui.chart(charts.usage_lines(cache.run(q.usage_monthly, f), lang), key="participation_usage_chart")
        table(q.usage_of(tasks, cache.run(q.households, f)), key="participation_usage",
              num=("per_1000_households", "hours"))
    with ui.panel(lang, t("participation.points", lang), t("participation.points_help", lang)):
        pts = q.points_of(tasks, cache.run(q.redeemed, f)).iloc[0]
        ui.kpi_row([ui.Kpi("earned", t("participation.kpi.earned", lang), ui.fmt_int(pts["points_earned"])),
                    ui.Kpi("redeemed", t("participation.kpi.redeemed", lang), ui.fmt_int(pts["points_redeemed"]),
                           help=t("participation.kpi_help.redeemed", lang, n=ui.fmt_int(pts["redemptions"])))],
                   per_row=4)
        if effective_role(current_scope()) in AGGREGATE_ROLES:   # pseudonyms are not public
            st.info(t("scope.no_messages", lang))
        else:
            st.caption(t("participation.leaderboard", lang))
            table(cache.run(q.leaderboard, f), key="participation_leaderboard", num=("hours",))


def concentration_section(tasks: pd.DataFrame, conc: pd.DataFrame) -> None:
    with ui.panel(lang, t("participation.concentration", lang), t("participation.concentration_help", lang)):
        conc = conc.assign(scope=conc["scope"].replace(q.STREET_SCOPE, t("common.whole_street", lang)))
        left, right = st.columns(2)
        with left:
            ui.chart(charts.concentration_bars(conc, lang), key="participation_concentration_chart")
        with right:
            ui.chart(charts.lorenz_curve(q.lorenz_of(tasks), lang), key="participation_lorenz_chart")
        table(conc, key="participation_concentration", pct=("top_share",), num2=("gini",))
        ui.chart(charts.concentration_trend(cache.run(q.concentration_monthly, f), lang),
                 key="participation_concentration_trend")
        young = cache.run(q.young_share, f)
        st.caption(t("participation.young", lang))
        ui.chart(charts.young_bars(young, lang), key="participation_young_chart")
        table(young, key="participation_young", pct=("young_share",))


def evaluations_section() -> None:
    with ui.panel(lang, t("participation.evaluations", lang), t("participation.evaluations_help", lang)):
        ev = cache.run(q.evaluations, f)
        for row in ev[ev["low_rated"]].itertuples():
            st.error(t("participation.low_rated", lang, project=md(row.project_id), name=md(row.name),
                       avg=ui.fmt_num(row.avg_rating), n=ui.fmt_int(row.ratings)))
        ui.chart(charts.rating_bars(ev, lang), key="participation_rating_chart")
        table(ev, key="participation_evaluations", num=("avg_rating",))


def effectiveness_section(tasks: pd.DataFrame, k: pd.Series) -> None:
    """Usage rate (the cards' figure), problem-resolution time and the ease-of-use score."""
    least = ui.fmt_int(cache.run(eq.min_ratings, f).iloc[0]["min_ratings"])
    with ui.panel(lang, t("participation.effectiveness", lang), t("participation.effectiveness_help", lang, min=least)):
        usage = q.usage_of(tasks, cache.run(q.households, f))
        tot = cache.run(eq.totals, f).iloc[0]
        ui.kpi_row([
            ui.Kpi("eff_usage", t("participation.kpi.usage", lang), ui.fmt_num(k["usage_rate"]),
                   help=t("participation.kpi_help.usage", lang, active=ui.fmt_int(k["active_residents"]),
                          households=ui.fmt_int(k["households"]))),
            ui.Kpi("eff_resolution", t("participation.kpi.resolution_hours", lang),
                   ui.fmt_num(tot["median_resolution_hours"]),
                   help=t("participation.kpi_help.resolution_hours", lang, n=ui.fmt_int(tot["cases_resolved"]))),
            ui.Kpi("eff_ease", t("participation.kpi.ease", lang), ease_text(tot["avg_ease"]),
                   help=t("participation.kpi_help.ease", lang, n=ui.fmt_int(tot["ratings"]))),
        ], per_row=4)
        monthly = eq.joined(cache.run(eq.ease_by_month, f), cache.run(eq.resolution_by_month, f), "month_on")
        ui.chart(eff_charts.monthly_effectiveness(monthly, lang), key="participation_effectiveness_chart")
        st.caption(t("participation.effectiveness_by_community", lang))
        gapless_table(eq.joined(cache.run(eq.ease_by_community, f), cache.run(eq.resolution_by_community, f),
                                "community", usage), key="participation_effectiveness_community")
        st.caption(t("participation.effectiveness_by_month", lang))
        gapless_table(monthly, key="participation_effectiveness_month")


def ease_text(x) -> str:
    """A mean ease score with two decimals; "—" when there were too few ratings for one."""
    return ui.MISSING if pd.isna(x) else ui.fmt_num(x, 2)


def gapless_table(df: pd.DataFrame, *, key: str) -> None:
    """The section's table with gaps (too few ratings, no resolved case) shown as "—"."""
    formats = {"avg_ease": "%.2f", "median_resolution_hours": "%.1f", "per_1000_households": "%.1f"}
    shown, as_text = ui.without_missing(df, formats)
    table(shown, key=key, num=tuple(c for c in ("median_resolution_hours", "per_1000_households") if c not in as_text),
          num2=tuple(c for c in ("avg_ease",) if c not in as_text))


def resident_tasks() -> pd.DataFrame:
    """Tasks per resident (one row each): read only by the sections that chart or table them."""
    return cache.run(q.resident_tasks, f)


def concentration(tasks: pd.DataFrame) -> pd.DataFrame:
    whole = f.community or q.STREET_SCOPE
    return q.concentration_of(tasks, float(cache.run(q.rule_values, f).iloc[0]["top_share"]), whole)


# fetched once; the sections derive from them (pure functions in the queries module)
votes = cache.run(q.votes, f)
res = cache.run(q.resolutions, f)
with ui.panel(lang):
    kpis = cards()

asked = st.query_params.get("section")
if st.session_state.get("participation_section") not in SECTIONS:
    st.session_state["participation_section"] = asked if asked in SECTIONS else SECTIONS[0]
section = st.radio(t("participation.section", lang), SECTIONS, key="participation_section", horizontal=True,
                   format_func=lambda s: t(f"participation.section.{s}", lang), label_visibility="collapsed")
st.query_params["section"] = section
if section == "votes":
    votes_section(votes)
elif section == "meetings":
    meetings_section(res)
elif section == "usage":
    usage_section(resident_tasks())
elif section == "concentration":
    tasks = resident_tasks()
    concentration_section(tasks, concentration(tasks))
elif section == "evaluations":
    evaluations_section()
else:
    effectiveness_section(resident_tasks(), kpis)
