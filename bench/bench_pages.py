"""Page speed: each cockpit page's full script run (app.py + page) under AppTest, cold and warm.

    python -m bench.bench_pages                       # from the repo root; builds or reuses
                                                      # bench/out/pages.duckdb
    python -m bench.bench_pages --source demo         # build it with the demo generator + ETL
    python -m bench.bench_pages --db PATH --reps 7    # measure an existing database file

Target volume (issue 3): 1M grid reports, 200k feedback, 2k projects, 50k transactions.
`--source synthetic` (the default) writes those rows straight into a file created from
etl/schema.sql with DuckDB SQL (seconds); `--source demo` runs etl.demo.generate at
`--scale` and loads the inbox through etl.load.load_paths (minutes, realistic text).

Cold = every st.cache_data / st.cache_resource entry cleared before the run; warm = the
same session run again. Medians over --reps runs are printed as a Markdown table.
Budget: warm <= 0.4 s, cold <= 1.5 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PAGES = ("overview", "projects", "funds", "grid", "linkage",      # issue 3's budget
         "painpoints", "explore", "sql_console", "briefing")       # measured alongside
APP = str(REPO / "dashboard" / "app.py")
DEFAULT_DB = REPO / "bench" / "out" / "pages.duckdb"   # git-ignored
END = date(2026, 11, 22)
COMMUNITIES = ["东湖社区", "西岭社区", "南苑社区", "北辰社区", "春晖社区", "秋实社区", "夏荷社区", "冬青社区"]
CATEGORIES = ["噪音扰民", "环境卫生", "停车管理", "设施维修", "邻里纠纷", "占道经营", "楼道堆物",
              "流浪动物", "垃圾分类", "安全隐患", "物业服务", "加装电梯"]
PROJECT_CATS = ["养老", "托育", "加装电梯", "环境整治", "矛盾调解", "文体"]
FIVE = ["社区", "社会组织", "社会工作者", "社区志愿者", "社会慈善资源"]
SOURCES = ["财政拨款", "企业社会责任", "公众小额捐赠", "慈善信托", "社区基金", "商户公益·实物折价"]
STAGES = ["立项", "审批", "实施", "实施", "实施", "验收", "结项"]


def build_synthetic(path: Path, reports: int = 1_000_000, feedback: int = 200_000,
                    projects: int = 2_000, txns: int = 50_000) -> None:
    """Write the target volume into `path` with set-based DuckDB SQL (seeded, deterministic)."""
    import duckdb

    from etl.dbfile import ensure_schema

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    ensure_schema(con)
    con.execute("SELECT setseed(0.7)")
    p = {"comms": COMMUNITIES, "cats": CATEGORIES, "pcats": PROJECT_CATS, "five": FIVE,
         "sources": SOURCES, "stages": STAGES, "end": END}
    con.execute("""
        INSERT INTO grid_reports BY NAME
        WITH r AS (
            SELECT i, $end::TIMESTAMP - to_seconds((random() * 730 * 86400)::BIGINT) AS reported_at,
                   1 + (random() * 8)::INT % 8 AS c, random() AS roll, random() AS h
            FROM range($n) t(i))
        SELECT 'R' || i AS report_id, reported_at, '梧桐街道' AS street, $comms[c] AS community,
               'G' || c || '-' || lpad(((i * 7) % 9 + 1)::VARCHAR, 2, '0') AS grid_id,
               $cats[1 + (i * 13) % 12] AS category, '居民反映' AS description,
               ['物业', '居委会', '社会组织', '职能部门'][1 + i % 4] AS responsible_party,
               CASE WHEN roll < 0.8 THEN '已办结' WHEN roll < 0.85 THEN '已关闭'
                    WHEN roll < 0.93 THEN '处置中' ELSE '待受理' END AS status,
               CASE WHEN roll < 0.8 THEN least(reported_at + to_seconds((h * 240 * 3600)::BIGINT),
                                               $end::TIMESTAMP) END AS resolved_at,
               1 + (i % 5) AS satisfaction, 1 AS source_load_id
        FROM r
    """, {**{k: p[k] for k in ("end", "comms", "cats")}, "n": reports})
    # varied Chinese messages with planted monthly topics, so the pain-point page has real
    # clusters to show (etl/painpoints/synthetic.py), spread over all the communities
    from etl.painpoints.synthetic import corpus
    fb, _ = corpus(n_months=24, per_month=feedback // 24, seed=1, end=END)
    fb = fb.drop(columns=["topic"]).assign(
        street="梧桐街道", community=[COMMUNITIES[i % len(COMMUNITIES)] for i in range(len(fb))],
        channel=[("微信群", "公众号", "民意直通车", "12345热线")[i % 4] for i in range(len(fb))],
        source_load_id=1)
    con.register("_fb", fb)
    con.execute("INSERT INTO feedback BY NAME SELECT * FROM _fb")
    con.unregister("_fb")
    con.execute("""
        INSERT INTO projects BY NAME
        SELECT 'P' || lpad(i::VARCHAR, 5, '0') AS project_id, $pcats[1 + i % 6] || '项目' || i AS name,
               '梧桐街道' AS street, $comms[1 + i % 8] AS community, $pcats[1 + i % 6] AS category,
               '牵头方' || (i % 300) AS lead_party, $five[1 + (i % 300) % 5] AS lead_party_type,
               '社工站' || (i % 40) || '、爱心企业' || (i % 70) || '、志愿服务队' || (i % 50) AS partner_parties,
               $stages[1 + i % 7] AS stage,
               $end::DATE - (30 + (i * 37) % 700)::INT AS planned_start_on,
               $end::DATE - (30 + (i * 37) % 700)::INT + (120 + i % 300)::INT AS planned_end_on,
               $end::DATE - (30 + (i * 37) % 700)::INT AS actual_start_on,
               (10000 + (i * 7919) % 490000)::DECIMAL(14, 2) AS budget_yuan,
               (i * 17) % 101 AS progress_pct,
               $end::TIMESTAMP - to_days((i * 11) % 90) AS last_updated_at,
               i % 4 <> 0 AS archived, 50 + i % 500 AS beneficiaries, i % 40 AS volunteer_count,
               1 AS source_load_id
        FROM range($n) t(i)
    """, {k: p[k] for k in ("pcats", "comms", "five", "stages", "end")} | {"n": projects})
    con.execute("""
        INSERT INTO project_milestones BY NAME
        SELECT project_id, m AS milestone, planned_start_on + (k * 30)::INT AS planned_on,
               CASE WHEN (hash(project_id) + k) % 3 <> 0 THEN planned_start_on + (k * 30 + 2)::INT END AS done_on,
               1 AS source_load_id
        FROM projects, (VALUES (1, '启动'), (2, '中期'), (3, '验收准备'), (4, '结项')) v(k, m)
    """)
    con.execute("""
        INSERT INTO fund_transactions BY NAME
        SELECT 'T' || i AS txn_id, $end::DATE - ((i * 13) % 720)::INT AS txn_on,
               'P' || lpad((i % $np)::VARCHAR, 5, '0') AS project_id,
               CASE WHEN i % 5 < 2 THEN 'in' ELSE 'out' END AS direction,
               CASE WHEN i % 5 < 2 THEN $sources[1 + (i // 5) % 6] END AS source_type,
               CASE WHEN i % 5 < 2 THEN '来源方' || (i % 120) ELSE '收款方' || (i % 300) END AS source_name,
               CASE WHEN i % 5 >= 2 THEN ['人员', '物资', '场地', '活动', '工程', '转拨'][1 + i % 6] END
                   AS expense_category,
               (100 + (i * 7919) % 20000)::DECIMAL(14, 2) AS amount_yuan,
               i % 5 < 2 AND $sources[1 + (i // 5) % 6] LIKE '%实物%' AS in_kind, 1 AS source_load_id
        FROM range($n) t(i)
    """, {"end": END, "np": projects, "sources": SOURCES, "n": txns})
    con.execute("CHECKPOINT")
    con.close()
    from etl.painpoints import run as painpoints
    print(f"pain points: {painpoints(db_path=tmp)}", flush=True)
    os.replace(tmp, path)


def build_demo(path: Path, scale: float) -> None:
    """The realistic way: the demo generator's exports loaded by the real ETL."""
    import tempfile

    from etl import demo
    from etl.load import load_paths

    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        demo.generate(inbox, seed=7, scale=scale, end=END)
        load_paths([inbox], path)


def measure(page: str, reps: int, query: dict[str, str] | None = None) -> tuple[float, float]:
    """Median seconds of the page's full script run: (cold, warm); `query` = URL parameters."""
    from streamlit.testing.v1 import AppTest

    from dashboard import cache

    cold, warm = [], []
    for _ in range(reps):
        cache.clear()
        at = AppTest.from_file(APP, default_timeout=300)
        for k, v in (query or {}).items():
            at.query_params[k] = v
        if page != "overview":
            at.switch_page(f"../pages/{page}.py")
        t0 = time.perf_counter()
        at.run()
        cold.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
    return statistics.median(cold), statistics.median(warm)


def counts(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(con.execute("""
            SELECT 'grid_reports', count(*) FROM grid_reports UNION ALL
            SELECT 'feedback', count(*) FROM feedback UNION ALL
            SELECT 'projects', count(*) FROM projects UNION ALL
            SELECT 'fund_transactions', count(*) FROM fund_transactions""").fetchall())
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB)
    ap.add_argument("--source", choices=("synthetic", "demo"), default="synthetic")
    ap.add_argument("--scale", type=float, default=33.4, help="demo scale (33.4 ~ 1M reports)")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pages", nargs="*", default=list(PAGES))
    ap.add_argument("--from-date", help="URL ?from= (default: the app's last-30-days view)")
    args = ap.parse_args()
    if args.rebuild or not args.db.exists():
        t0 = time.perf_counter()
        (build_synthetic(args.db) if args.source == "synthetic" else build_demo(args.db, args.scale))
        print(f"built {args.db} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    os.environ["COCKPIT_DB"] = str(args.db)
    import logging
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts(args.db).items()))
    query = {"from": args.from_date} if args.from_date else None
    measure("overview", 1, query)   # imports and first-use costs out of the way
    view = f"from {args.from_date}" if args.from_date else "default view (last 30 days)"
    print(f"\n{view}; median of {args.reps}; budget cold 1.5 s, warm 0.4 s")
    print("\n| page | cold (s) | warm (s) |")
    print("|---|---:|---:|")
    for page in args.pages:
        cold, warm = measure(page, args.reps, query)
        print(f"| {page} | {cold:.2f} | {warm:.2f} |", flush=True)


if __name__ == "__main__":
    main()
