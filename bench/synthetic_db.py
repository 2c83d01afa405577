"""The synthetic page-bench corpus (`python -m bench.bench_pages --synthetic`): issue 3's target
volume written straight into a file created from etl/schema.sql with set-based DuckDB SQL
(seconds to build; near-constant texts, so the demo generator's data is the default)."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

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
