"""Shared chart styling: one palette, one layout, five-society colours. DataFrame in, Figure out."""
from __future__ import annotations

import zlib

import plotly.graph_objects as go

from dashboard.i18n import STRINGS, t
from dashboard.safe import plot

PALETTE = ("#2F6FB2", "#E07B39", "#3A9D6B", "#C2474B", "#8A63B8", "#8C6D46", "#D06FA8",
           "#6F7F8F", "#B5A33A", "#38A3B0")
FIVE_COLORS = {"社区": "#2F6FB2", "社会组织": "#3A9D6B", "社会工作者": "#E07B39",
               "社区志愿者": "#C2474B", "社会慈善资源": "#8A63B8"}
IN_COLOR, OUT_COLOR, IN_KIND_COLOR = "#2F6FB2", "#E07B39", "#B5A33A"
GOOD_COLOR, BAD_COLOR, NEUTRAL_COLOR = "#3A9D6B", "#C2474B", "#6F7F8F"
# project stages in lifecycle order: pale while on paper, blue while running, green when done
STAGE_ORDER = ("立项", "审批", "实施", "验收", "结项")
STAGE_COLORS = {"立项": "#A7B4C2", "审批": "#8A63B8", "实施": "#2F6FB2", "验收": "#E07B39",
                "结项": "#3A9D6B"}
# grid-case and project categories: a fixed colour per known name so every page agrees;
# a name not listed gets a stable colour from its hash
CATEGORY_COLORS = {
    "违规停车": "#2F6FB2", "噪音扰民": "#E07B39", "环境卫生": "#3A9D6B", "垃圾分类": "#8C6D46",
    "设施损坏": "#8A63B8", "楼道堆物": "#C2474B", "邻里纠纷": "#D06FA8", "安全隐患": "#B5A33A",
    "流浪动物": "#38A3B0", "违章搭建": "#6F7F8F",
    "加装电梯": "#2F6FB2", "养老": "#E07B39", "环境整治": "#3A9D6B", "托育": "#D06FA8",
    "助残": "#8A63B8", "矛盾调解": "#C2474B", "文体": "#38A3B0", "社区治理": "#B5A33A",
}
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif"


def category_color(name: str) -> str:
    """The one colour of a grid-case or project category, on every page."""
    if name in CATEGORY_COLORS:
        return CATEGORY_COLORS[name]
    return PALETTE[zlib.crc32(str(name).encode("utf-8")) % len(PALETTE)]


def stage_color(stage: str) -> str:
    return STAGE_COLORS.get(stage, NEUTRAL_COLOR)


def value_label(prefix: str, value: str, lang: str) -> str:
    """A fixed code-list value (stage, five-society type) in the UI language, when known."""
    key = f"{prefix}.{value}"
    return t(key, lang) if key in STRINGS else plot(value)


def date_ticks(lang: str) -> str:
    """Tick format for day-grain date axes: numeric in Chinese (no English month names)."""
    return "%m-%d" if lang == "zh" else "%b %d"


def yuan_short(v: float, lang: str, *, card: bool = False) -> str:
    """Yuan short enough for a chart label: 12.3万 / 1.2亿 in Chinese, 123k / 1.2M in English.

    `card=True` is the KPI-card form, with the symbol and one more digit: ¥292.7万, ¥2.93M.
    """
    v = float(v)
    sign, big, k = ("¥", 2, 1) if card else ("", 1, 0)
    if lang == "zh":
        if abs(v) >= 1e8:
            return f"{sign}{v / 1e8:,.{big}f}亿"
        return f"{sign}{v / 1e4:,.1f}万" if abs(v) >= 1e4 else f"{sign}{v:,.0f}"
    if abs(v) >= 1e6:
        return f"{sign}{v / 1e6:,.{big}f}M"
    return f"{sign}{v / 1e3:,.{k}f}k" if abs(v) >= (1e4 if card else 1e3) else f"{sign}{v:,.0f}"


def style(fig: go.Figure, title: str | None = None, height: int = 360) -> go.Figure:
    """The house layout: compact margins, horizontal legend, CJK-capable fonts."""
    fig.update_layout(
        title={"text": title} if title else None, height=height, font={"family": FONT},
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": None},
        colorway=list(PALETTE),   # Streamlit's theme styles the rest (a template costs ~0.1 s a figure)
    )
    return fig


def empty(lang: str, height: int = 240) -> go.Figure:
    """A blank figure that says there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=t("common.no_data", lang), showarrow=False, x=0.5, y=0.5,
                       xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, height=height)
