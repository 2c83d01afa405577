"""The one table of user-facing strings: zh-CN (default) and en.

Usage: `t("overview.title", lang)`; `t("kpi.delta", lang, pct=12.5)` formats with str.format.
Each page owns a section below (keys prefixed with the page name); add keys inside your
section only. Data values (community names, categories from the data) are not translated.
A missing key raises in tests (tests/test_i18n.py checks both languages are complete).
"""
from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

STRINGS: dict[str, dict[str, str]] = {
    # --- common ---------------------------------------------------------------
    "app.title": {"zh": "社区治理驾驶舱", "en": "Community Governance Cockpit"},
    "common.all": {"zh": "全部", "en": "All"},
    "common.whole_street": {"zh": "全街道", "en": "Whole street"},
    "common.no_data": {"zh": "当前筛选条件下没有数据。", "en": "No data for the current filters."},
    "common.query_error": {"zh": "该板块查询失败：{error}", "en": "This panel failed to load: {error}"},
    "common.empty_db": {
        "zh": "还没有数据。请先加载演示数据：`python -m etl demo`，或加载您的导出文件：`python -m etl load 文件或文件夹`。",
        "en": "No data yet. Load the demo data with `python -m etl demo`, or your own exports with `python -m etl load FILES_OR_FOLDERS`.",
    },
    "common.download_csv": {"zh": "下载 CSV", "en": "Download CSV"},
    "common.download_xlsx": {"zh": "下载 Excel", "en": "Download Excel"},
    "common.yuan": {"zh": "元", "en": "yuan"},
    # --- shell / sidebar (app.py) ---------------------------------------------
    # --- overview ---------------------------------------------------------------
    # --- projects ---------------------------------------------------------------
    # --- funds ------------------------------------------------------------------
    # --- grid -------------------------------------------------------------------
    # --- linkage ----------------------------------------------------------------
    # --- painpoints -------------------------------------------------------------
    # --- explore ----------------------------------------------------------------
    # --- sql console ------------------------------------------------------------
    # --- briefing ---------------------------------------------------------------
}


def t(key: str, lang: str = DEFAULT_LANG, **kwargs) -> str:
    """The string for `key` in `lang` (falls back to zh), formatted with kwargs."""
    entry = STRINGS[key]
    text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**kwargs) if kwargs else text
