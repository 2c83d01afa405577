"""Cell typing for staging (etl/stage.py): the column types, the words they accept, the SQL.

A staging spec (`Col`) names a canonical column and its type; `_typed(col, v)` is the SQL
expression that turns its trimmed text cell `v` into the typed value (NULL when it does not
parse: etl/stage.py's checks then report the row). Dates take mixed office formats and Excel
serials, amounts take currency signs and 万/亿, enums, ratings and yes/no cells are looked up
in bound word lists ($enum_*, $rating_*, $bool_* from `etl.stage.params`). Column names come
from the specs; the SQL holds no value from a file.
"""
from __future__ import annotations

from dataclasses import dataclass

from etl.pii import mask_sql

TEXT, ID, TS, DATE, MONEY, PCT, INT, RATING, BOOL, ENUM, PSEUDO, NUMBER = (
    "text", "id", "timestamp", "date", "money", "pct", "int", "rating", "bool", "enum", "pseudonym", "number")

STATUS = {
    "待受理": "待受理", "待处理": "待受理", "未受理": "待受理", "新建": "待受理", "已上报": "待受理",
    "处置中": "处置中", "处理中": "处置中", "办理中": "处置中", "已受理": "处置中", "已派遣": "处置中",
    "已派单": "处置中", "整改中": "处置中",
    "已办结": "已办结", "办结": "已办结", "已处理": "已办结", "已解决": "已办结", "已完成": "已办结",
    "已处置": "已办结",
    "已关闭": "已关闭", "关闭": "已关闭", "已结案": "已关闭", "结案": "已关闭", "已归档": "已关闭",
    "open": "待受理", "in progress": "处置中", "resolved": "已办结", "closed": "已关闭",
}
STAGE = {"立项": "立项", "申报": "立项", "审批": "审批", "评审": "审批", "审核": "审批",
         "实施": "实施", "执行": "实施", "实施中": "实施", "验收": "验收", "评估": "验收",
         "结项": "结项", "完成": "结项", "已结项": "结项",
         "initiation": "立项", "approval": "审批", "implementation": "实施",
         "acceptance": "验收", "closed": "结项"}
FIVE_SOCIETIES = ("社区", "社会组织", "社会工作者", "社区志愿者", "社会慈善资源")
PARTY_TYPE = {**{k: k for k in FIVE_SOCIETIES},
              "居委会": "社区", "社区居委会": "社区", "社工": "社会工作者", "社工站": "社会工作者",
              "志愿者": "社区志愿者", "志愿服务队": "社区志愿者", "慈善资源": "社会慈善资源",
              "慈善组织": "社会慈善资源", "企业": "社会慈善资源", "基金会": "社会慈善资源"}
DIRECTION = {"收入": "in", "收": "in", "入": "in", "流入": "in", "到账": "in", "in": "in",
             "income": "in", "支出": "out", "支": "out", "出": "out", "流出": "out",
             "拨付": "out", "out": "out", "expense": "out"}
RATING_WORDS = {"非常满意": 5, "满意": 4, "基本满意": 3, "一般": 3, "不满意": 2, "非常不满意": 1}
BOOL_WORDS = {"是": True, "已建档": True, "有": True, "y": True, "yes": True, "true": True,
              "1": True, "√": True, "否": False, "未建档": False, "无": False, "n": False,
              "no": False, "false": False, "0": False}

DATE_FORMATS = [
    "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M", "%Y年%m月%d日", "%Y/%m/%d", "%Y-%m-%d", "%Y.%m.%d", "%Y%m%d",
]


@dataclass(frozen=True)
class Col:
    name: str
    type: str = TEXT
    required: bool = False
    enum: dict | None = None


def _ts(v: str) -> str:
    """Mixed formats in one column: ISO fast path, then the office formats, then Excel serials."""
    fmts = "[" + ", ".join(f"'{f}'" for f in DATE_FORMATS) + "]"
    serial = (f"CASE WHEN regexp_full_match({v}, '[0-9]{{5}}(\\.[0-9]+)?') "
              f"THEN TIMESTAMP '1899-12-30' + to_microseconds(CAST(round(CAST({v} AS DOUBLE) * 86400000000) AS BIGINT)) END")
    iso = f"regexp_replace({v}, '^([0-9]{{4}})[/.年-]([0-9]{{1,2}})[/.月-]([0-9]{{1,2}})日?', '\\1-\\2-\\3')"
    # COALESCE evaluates an argument only for the rows still NULL: ISO cells never reach the regex
    return f"COALESCE(TRY_CAST({v} AS TIMESTAMP), TRY_CAST({iso} AS TIMESTAMP), try_strptime({v}, {fmts}), {serial})"


def _money(v: str) -> str:
    m = f"regexp_replace({v}, '[¥￥,，\\s元]|RMB|CNY', '', 'g')"
    return (f"CAST(CASE WHEN {m} LIKE '%万' THEN TRY_CAST(replace({m}, '万', '') AS DECIMAL(18,4)) * 10000 "
            f"WHEN {m} LIKE '%亿' THEN TRY_CAST(replace({m}, '亿', '') AS DECIMAL(18,4)) * 100000000 "
            f"ELSE TRY_CAST({m} AS DECIMAL(18,4)) END AS DECIMAL(14,2))")


def _pct(v: str) -> str:
    n = f"TRY_CAST(replace(replace({v}, '％', ''), '%', '') AS DOUBLE)"
    return (f"CASE WHEN {v} NOT LIKE '%\\%%' ESCAPE '\\' AND {v} NOT LIKE '%％%' AND {v} LIKE '0.%' "
            f"THEN {n} * 100 ELSE {n} END")


def _blank_trimmed(x: str) -> str:
    """A cell without edge spaces, '' as NULL. trim() is costly on 1M values and most cells
    have no edge spaces, so they are tested for first."""
    return f"NULLIF(CASE WHEN {x} LIKE ' %' OR {x} LIKE '% ' THEN trim({x}) ELSE {x} END, '')"


def _typed(col: Col, v: str) -> str:
    """The typed value of `col` from `v`, its cell already trimmed with '' as NULL."""
    if col.type == PSEUDO:   # the identifier never reaches a table, not even a temporary one
        return f"'R' || left(sha256($salt || {v}), 12)"
    if col.type in (TEXT, ID):
        # every free-text and name column is masked (etl.pii); keys and enums are not
        return mask_sql(v) if col.type == TEXT else v
    if col.type == TS:
        return _ts(v)
    if col.type == DATE:
        return f"CAST({_ts(v)} AS DATE)"
    if col.type == MONEY:
        return _money(v)
    if col.type == PCT:
        return _pct(v)
    if col.type == NUMBER:
        return f"TRY_CAST(replace({v}, ',', '') AS DOUBLE)"
    if col.type == INT:
        return (f"CASE WHEN TRY_CAST(replace({v}, ',', '') AS DOUBLE) = "
                f"floor(TRY_CAST(replace({v}, ',', '') AS DOUBLE)) "
                f"THEN CAST(TRY_CAST(replace({v}, ',', '') AS DOUBLE) AS BIGINT) END")
    if col.type == RATING:
        n = (f"COALESCE(($rating_vals)[list_position($rating_keys, {v})], "
             f"TRY_CAST(TRY_CAST({v} AS DOUBLE) AS INTEGER))")
        return f"CASE WHEN {n} BETWEEN 1 AND 5 THEN CAST({n} AS TINYINT) END"
    if col.type == BOOL:
        return f"($bool_vals)[list_position($bool_keys, lower({v}))]"
    if col.type == ENUM:
        return f"($enum_{col.name}_vals)[list_position($enum_{col.name}_keys, lower({v}))]"
    raise ValueError(col.type)
