"""A small hand-built cockpit database for the page and query tests, and the helpers they share.

The fixtures over it (cockpit_db, db, con, release_connections) live in tests/conftest.py,
where pytest finds them; test modules import only the helpers and constants from here.

Test data is code: every project is built from healthy defaults and changed in exactly one
way, so each early-warning rule has one project that must trigger it (P02..P06) and the
others must stay silent. Grid reports and feedback are random but seeded; tests recompute
every expected number from these raw frames with pandas.
"""
from __future__ import annotations

import os
import random
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from etl import codes
from etl.dbfile import ensure_schema

AS_OF = date(2026, 6, 30)           # the fixture's last data day
STREET = "梧桐街道"
COMMUNITIES = ("春晖社区", "秋实社区", "夏荷社区")
GRIDS = {"春晖社区": ("CH-01", "CH-02"), "秋实社区": ("QS-01", "QS-02"), "夏荷社区": ("XH-01",)}
GRID_CATEGORIES = ("噪音扰民", "环境卫生", "停车管理", "设施维修", "邻里纠纷")
PARTIES = ("物业", "居委会", "社会组织", "职能部门")


def grid_reports(n: int = 400, seed: int = 7) -> pd.DataFrame:
    """n reports between 2026-01-01 and AS_OF; ~65% resolved, some closed without a time."""
    rnd = random.Random(seed)
    rows = []
    start = datetime(2026, 1, 1)
    for i in range(n):
        community = rnd.choice(COMMUNITIES)
        reported = start + timedelta(minutes=rnd.randrange(0, 181 * 24 * 60))
        roll = rnd.random()
        if roll < 0.65:
            status, resolved = "已办结", reported + timedelta(hours=rnd.randrange(1, 200))
        elif roll < 0.72:
            status, resolved = "已关闭", None
        else:
            status, resolved = rnd.choice(("待受理", "处置中")), None
        if resolved is not None and resolved.date() > AS_OF:
            status, resolved = "处置中", None
        rows.append({
            "report_id": f"R{i:04d}", "reported_at": reported, "street": STREET,
            "community": community, "grid_id": rnd.choice(GRIDS[community]),
            "reporter": f"网格员{rnd.randrange(1, 6)}", "category": rnd.choice(GRID_CATEGORIES),
            "subcategory": None, "description": "居民反映情况", "location_text": "某小区",
            "responsible_party": rnd.choice(PARTIES), "status": status, "resolved_at": resolved,
            "satisfaction": rnd.choice((None, 3, 4, 5)), "source_load_id": 1})
    return pd.DataFrame(rows)


def feedback(n: int = 250, seed: int = 11) -> pd.DataFrame:
    rnd = random.Random(seed)
    texts = ("楼里想加装电梯，老人上下楼太难", "晚上广场舞噪音太大", "小区停车难，车位不够",
             "希望社区多办养老助餐", "垃圾分类点太脏")
    rows = []
    for i in range(n):
        community = rnd.choice(COMMUNITIES)
        rows.append({
            "feedback_id": f"F{i:04d}",
            "submitted_at": datetime(2026, 1, 1) + timedelta(minutes=rnd.randrange(0, 181 * 24 * 60)),
            "street": STREET, "community": community, "grid_id": rnd.choice(GRIDS[community]),
            "channel": rnd.choice(("微信群", "公众号", "12345热线")), "subject": None,
            "text": rnd.choice(texts), "rating": rnd.choice((None, 1, 2, 3, 4, 5)),
            "likes": rnd.randrange(0, 20), "resident_pseudonym": f"u{rnd.randrange(50)}",
            "reply": None, "replied_at": None, "source_load_id": 1})
    return pd.DataFrame(rows)


HEALTHY = dict(  # on schedule, updated last week, 40% spent at 50% progress, no late milestone
    street=STREET, community="春晖社区", category="养老", lead_party="春晖社区居委会",
    lead_party_type="社区", partner_parties="阳光社工站、爱心企业甲", stage="实施",
    planned_start_on=date(2026, 1, 1), planned_end_on=date(2026, 12, 31),
    actual_start_on=date(2026, 1, 1), actual_end_on=None, budget_yuan=100000.0,
    progress_pct=50.0, last_updated_at=datetime(2026, 6, 25, 10), archived=True,
    beneficiaries=100, volunteer_count=10, keywords="养老、助餐", source_load_id=1)

# project id -> (name, overrides, spent yuan, received yuan)
PROJECTS = {
    "P01": ("长者助餐", {}, 40000, 100000),
    "P02": ("托育驿站", {"progress_pct": 20.0, "category": "托育", "lead_party": "秋实邻里互助协会",
                        "lead_party_type": "社会组织", "community": "秋实社区"}, 10000, 60000),
    "P03": ("加装电梯一期", {"category": "加装电梯", "lead_party": "夏荷社工站",
                           "lead_party_type": "社会工作者", "community": "夏荷社区"}, 40000, 80000),
    "P04": ("楼道整治", {"last_updated_at": datetime(2026, 5, 1, 9), "category": "环境整治",
                        "lead_party": "秋实志愿服务队", "lead_party_type": "社区志愿者",
                        "community": "秋实社区", "volunteer_count": 40}, 40000, 90000),
    "P05": ("邻里调解室", {"category": "矛盾调解", "lead_party": "春晖社区基金会",
                         "lead_party_type": "社会慈善资源", "archived": False}, 80000, 100000),
    "P06": ("文体活动季", {"category": "文体", "stage": "验收", "progress_pct": 100.0,
                         "budget_yuan": 50000.0, "planned_end_on": date(2026, 6, 30)},
            60000, 70000),
    "P07": ("助老陪诊", {"partner_parties": "夏荷社工站、居民自管小组"}, 30000, 20000),
    "P08": ("社区花园", {"stage": "立项", "planned_start_on": date(2026, 9, 1),
                        "planned_end_on": date(2027, 6, 30), "actual_start_on": None,
                        "progress_pct": 0.0, "community": "夏荷社区", "archived": False},
            0, 0),
}
MILESTONE_OVERDUE = ("P03", "方案公示", date(2026, 5, 1))
SOURCES = (  # (source_type, source_name, in_kind) cycled over inflows
    ("财政拨款", "梧桐街道办事处", False), ("企业社会责任", "爱心企业甲", False),
    ("公众小额捐赠", "居民众筹", False), ("商户公益·实物折价", "邻里超市", True),
    ("社区基金", "春晖社区基金会", False))
EXPENSES = ("人员", "物资", "活动", "转拨")


def projects() -> pd.DataFrame:
    return pd.DataFrame([{**HEALTHY, **over, "project_id": pid, "name": name}
                         for pid, (name, over, _, _) in PROJECTS.items()])


def milestones() -> pd.DataFrame:
    rows = []
    for pid in PROJECTS:
        rows.append({"project_id": pid, "milestone": "启动会", "planned_on": date(2026, 1, 15),
                     "done_on": date(2026, 1, 14), "source_load_id": 1})
        rows.append({"project_id": pid, "milestone": "中期评估", "planned_on": date(2026, 8, 1),
                     "done_on": None, "source_load_id": 1})
    pid, name, planned = MILESTONE_OVERDUE
    rows.append({"project_id": pid, "milestone": name, "planned_on": planned, "done_on": None,
                 "source_load_id": 1})
    return pd.DataFrame(rows)


def transactions() -> pd.DataFrame:
    """Inflows split over SOURCES and outflows over EXPENSES, dated Mar..Jun 2026."""
    rows, n = [], 0
    for pid, (_, _, spent, received) in PROJECTS.items():
        for direction, total, labels in (("in", received, SOURCES), ("out", spent, EXPENSES)):
            if not total:
                continue
            parts = 4
            for k in range(parts):
                amount = round(total / parts, 2)
                label = labels[(n + k) % len(labels)]
                stype, sname, kind = (label if direction == "in" else (None, "春晖社区基金会"
                                      if label == "转拨" else "某供应商", False))
                rows.append({
                    "txn_id": f"T{n:04d}", "txn_on": date(2026, 3 + k, 10 + (n % 10)),
                    "project_id": pid, "direction": direction, "source_type": stype,
                    "source_name": sname, "expense_category": None if direction == "in" else label,
                    "amount_yuan": amount, "in_kind": kind, "note": None, "source_load_id": 1})
                n += 1
    return pd.DataFrame(rows)


def pain_points() -> pd.DataFrame:
    rows = []
    for rank, label in enumerate(("加装电梯", "噪音扰民", "停车难"), start=1):
        rows.append({"month_on": date(2026, 6, 1), "scope": "全街道", "rank": rank,
                     "pain_point_id": f"pp{rank}", "label": label, "keywords": [label],
                     "size": 30 - rank, "share": 0.1, "growth": None, "heat": 1.0,
                     "unresolved_share": 0.5, "avg_rating": 3.0, "likes": 5, "months_in_top3": 1,
                     "representative_ids": ["F0001"], "representative_texts": [f"{label}问题"]})
    return pd.DataFrame(rows)


TABLES = {"grid_reports": grid_reports, "feedback": feedback, "projects": projects,
          "project_milestones": milestones, "fund_transactions": transactions,
          "pain_points": pain_points}


def build(path: Path) -> Path:
    """Write the fixture database to `path` (schema from etl/schema.sql, then the marts layer,
    as every ETL write ends)."""
    from etl import marts

    con = duckdb.connect(str(path))
    try:
        ensure_schema(con)
        for table, make in TABLES.items():
            df = make()  # noqa: F841 - read by DuckDB's replacement scan
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM df")
        marts.build(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


def publish_changed(source: Path, live: Path, *statements: str) -> None:
    """Publish a new version of `live`: a copy of `source` with `statements` applied, swapped
    in whole as etl.dbfile.writer does (a new file under the same name)."""
    nxt = live.with_name(live.name + ".next")
    shutil.copyfile(source, nxt)
    con = duckdb.connect(str(nxt))
    for sql in statements:
        con.execute(sql)
    con.execute("CHECKPOINT")
    con.close()
    os.replace(nxt, live)


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A reader with the dashboard's configuration: DuckDB refuses a second in-process
    connection to the same file with a different one (the pages' cached one may be open)."""
    from dashboard.db import READ_CONFIG

    return duckdb.connect(str(path), read_only=True, config=dict(READ_CONFIG))


def raw(path: Path, table: str) -> pd.DataFrame:
    """All rows of one table, read back (what the tests compute expectations from)."""
    con = read_only(path)
    try:
        return con.execute(f"SELECT * FROM {table}").df()
    finally:
        con.close()


# --- AppTest helpers -----------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "dashboard" / "app.py")
PAGE_FILES = ("overview", "projects", "funds", "grid", "linkage")
CJK = __import__("re").compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def app(page: str = "overview", timeout: float = 60, **query: str):
    """AppTest of the real entry point, opened on `page` with URL query parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    for k, v in query.items():
        at.query_params[k] = v
    return open_page(at, page)


def open_page(at, page: str):
    """Run `at` opened on `page` the way a link to the page does: the page is the first run (no
    detour through the overview). Asserts the page that ran is `page`: a page the session may
    not open is not registered, and the app would show its default page instead. (The
    overview is the app's first run as it always was: it may stop at the sign-in form.)"""
    if page == "overview":
        return at.run()
    at.switch_page(f"../pages/{page}.py")
    at.run()
    ran = at._registered_pages.get(at._finished_page_script_hash, {}).get("script_path")
    assert ran is not None and Path(str(ran)).stem == page, f"opened {ran}, not {page}"
    return at


def metrics(at) -> dict[str, str]:
    """Metric label -> displayed value."""
    return {m.label: m.value for m in at.metric}


def metric_helps(at) -> dict[str, str]:
    """Metric label -> its help tooltip (where amount cards keep the exact figure)."""
    return {m.label: m.proto.help for m in at.metric}


def previews(at) -> list[list[list[str]]]:
    """The static HTML tables a page opens with (dashboard.htmltable via ui.table(preview=True)):
    per table, its rows of cell texts as a reader sees them, the header row first."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(self.cell)
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    out = []
    for body in preview_bodies(at):
        parser = Cells()
        parser.feed(body)
        out.append(parser.rows)
    return out


def preview_bodies(at) -> list[str]:
    """The HTML of each static preview table on the page (dashboard/htmltable.py), in order."""
    return [node.proto.body for node in _walk(at._tree)
            if node.type == "html" and isinstance(getattr(getattr(node, "proto", None), "body", None), str)
            and 'class="ck-tbl"' in node.proto.body]


def _switch_on(at, suffix: str, required: bool, missing: str):
    """Turn on every toggle whose key ends with `suffix` and rerun once (`required`: the page
    must have one, else `missing` is the failure)."""
    toggles = [w for w in at.toggle if str(w.key).endswith(suffix) and not w.value]
    assert toggles or not required, missing
    if not toggles:
        return at
    for w in toggles:
        w.set_value(True)
    return at.run()


def open_drill_downs(at, required: bool = True):
    """Switch on every drill-down a page keeps one click away (the `*_drill_show` toggles: the pain
    points' message lists) and rerun (`required`: the page must have one)."""
    return _switch_on(at, "_drill_show", required, "no drill-down toggle on this page")


def full_tables(at, required: bool = True):
    """Switch every previewed table to its interactive grid (the `<key>__full` toggles) and rerun,
    so `at.dataframe` holds all of the page's tables (`required`: the page must have one)."""
    return _switch_on(at, "__full", required, "no previewed table on this page")


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _strings(obj):
    import json

    if isinstance(obj, str):
        text = obj.strip()
        if text[:1] in "{[":
            try:
                yield from _strings(json.loads(text))
                return
            except ValueError:
                pass
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def page_strings(at) -> list[str]:
    """Every string the rendered page carries: element texts, labels, options, help, column
    headers, chart specs (titles, axes, hover templates, data)."""
    from google.protobuf.json_format import MessageToDict

    out = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.extend(_strings(MessageToDict(proto)))
    return out


# (real path, inode, modification time, size) -> data_values of that version of the file
_DATA_VALUES: dict[tuple, frozenset[str]] = {}


def data_values(path: Path) -> set[str]:
    """Every text value stored in the database (exempt from the no-Chinese check). Read once
    per version of the file and process: the English-page checks of the demo and page
    databases ask for the same file's values again (each read scans every table)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_ino, st.st_mtime_ns, st.st_size)
    if key not in _DATA_VALUES:
        _DATA_VALUES[key] = frozenset(_read_data_values(path))
    return set(_DATA_VALUES[key])


def _read_data_values(path: Path) -> set[str]:
    con = read_only(path)
    values: set[str] = set()
    try:
        for table in TABLES:
            df = con.execute(f"SELECT * FROM {table}").df()
            for col in df.columns:
                for v in df[col].dropna():
                    if isinstance(v, str):
                        values.add(v)
                    elif hasattr(v, "__iter__") and not isinstance(v, bytes):
                        values.update(x for x in v if isinstance(x, str))
    finally:
        con.close()
    # partner names are split out of partner_parties; keywords likewise
    for v in list(values):
        values.update(p for p in __import__("re").split(r"[、,，;；/]+", v) if p)
    return values


def cjk_leftovers(strings: list[str], allowed: set[str]) -> list[str]:
    """Strings that still contain Chinese after removing the allowed data values."""
    ordered = sorted(allowed, key=len, reverse=True)
    bad = []
    for s in strings:
        if not CJK.search(s):
            continue
        rest = s
        for v in ordered:
            if v in rest:
                rest = rest.replace(v, "")
        if CJK.search(rest):
            bad.append(s)
    return bad


# --- independent expectations, computed in pandas from the raw rows -------------------------
def expected_grid(reports: pd.DataFrame, d_from: date | None, d_to: date,
                  sla_hours: dict, default_hours: int) -> dict:
    """Open cases at d_to, reports, SLA share and median hours for reports in [d_from, d_to]."""
    end = pd.Timestamp(d_to) + pd.Timedelta(days=1)
    r = reports
    resolved_by_end = r["resolved_at"].notna() & (r["resolved_at"] < end)
    closed_no_time = r["resolved_at"].isna() & r["status"].isin(codes.CLOSED_STATUSES)
    open_ = (r["reported_at"] < end) & ~resolved_by_end & ~closed_no_time
    in_period = (r["reported_at"] < end) & (
        True if d_from is None else r["reported_at"] >= pd.Timestamp(d_from))
    hours = r["category"].map(sla_hours).fillna(default_hours)
    deadline = r["reported_at"] + pd.to_timedelta(hours, unit="h")
    due = in_period & (resolved_by_end | (deadline <= end) | closed_no_time)
    met = in_period & resolved_by_end & (r["resolved_at"] <= deadline)
    took = (r["resolved_at"] - r["reported_at"]).dt.total_seconds() / 3600
    return {"open_cases": int(open_.sum()), "reports": int(in_period.sum()),
            "sla_share": met.sum() / due.sum() if due.sum() else None,
            "median_hours": took[in_period & resolved_by_end].median()}
