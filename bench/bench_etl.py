"""ETL benchmark: 1M grid reports from CSV vs DuckDB's own read_csv; a 100k-row .xlsx; peak memory.

    python -m bench.bench_etl [--rows 1000000] [--xlsx-rows 100000] [--repeat 3]

Prints medians; record them in docs/BENCHMARKS.md with the machine and date.
Each timed load runs in a fresh subprocess so its peak RSS can be read.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["事件编号", "上报时间", "街道", "社区", "网格编号", "网格员", "事件类型", "事件小类", "事件描述",
          "事发地点", "责任单位", "处置状态", "办结时间", "满意度"]


def make_frame(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = np.datetime64("2024-12-01T00:00:00") + rng.integers(0, 700 * 86400, rows).astype("timedelta64[s]")
    reported = pd.Series(base)
    resolved = reported + pd.to_timedelta(rng.integers(3600, 20 * 86400, rows), unit="s")
    fmt_pick = rng.integers(0, 3, rows)
    rep_text = np.where(fmt_pick == 0, reported.dt.strftime("%Y/%-m/%-d %-H:%M:%S"),
                        np.where(fmt_pick == 1, reported.dt.strftime("%Y-%m-%d %H:%M:%S"),
                                 reported.dt.strftime("%Y年%-m月%-d日 %H:%M")))
    communities = np.array(["清河一社区", "清河二社区", "美和园社区", "毛纺南社区", "安宁里社区", "清上园社区"])
    cats = np.array(["噪音扰民", "违规停车", "垃圾分类", "邻里纠纷", "设施损坏", "楼道堆物"])
    status = np.array(["已办结", "处置中", "待受理", "已关闭", "办结", "处理中"])
    st = status[rng.integers(0, len(status), rows)]
    done = np.isin(st, ["已办结", "已关闭", "办结"])
    return pd.DataFrame({
        "事件编号": [f"WG{i:08d}" for i in range(rows)],
        "上报时间": rep_text,
        "街道": "清河街道",
        "社区": communities[rng.integers(0, len(communities), rows)],
        "网格编号": [f"QH-{a:02d}-{b:02d}" for a, b in zip(rng.integers(1, 9, rows), rng.integers(1, 10, rows))],
        "网格员": "张网格",
        "事件类型": cats[rng.integers(0, len(cats), rows)],
        "事件小类": "其他",
        "事件描述": np.where(rng.random(rows) < 0.01, "居民来电13812345678反映夜间施工噪音", "楼道内堆放杂物影响通行"),
        "事发地点": "3号楼2单元",
        "责任单位": "物业",
        "处置状态": st,
        "办结时间": np.where(done, resolved.dt.strftime("%Y-%m-%d %H:%M:%S"), ""),
        "满意度": np.where(done, rng.integers(1, 6, rows).astype(str), ""),
    })


CHILD = r"""
import json, sys, time
mode, src, db = sys.argv[1:4]
import duckdb
from etl.load import load_paths          # imports are not load time, for either side
t0 = time.perf_counter()
if mode == "duckdb":
    con = duckdb.connect(db)
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv($p)", {"p": src})
    con.close()
else:
    [r] = load_paths([src], db, progress=None)
    assert r.status == "loaded", r.message
elapsed = time.perf_counter() - t0
# VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the forking parent's size
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "peak_mb": hwm / 1024}))
"""


def timed(mode: str, src: Path, work: Path) -> dict:
    db = work / f"{mode}-{time.monotonic_ns()}.duckdb"
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(src), str(db)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    db.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv = work / "grid_1m.csv"
        make_frame(args.rows).to_csv(csv, index=False, encoding="utf-8")
        print(f"CSV: {args.rows:,} rows, {csv.stat().st_size / 1e6:.0f} MB")
        duck, ours = [], []
        for _ in range(args.repeat):   # interleaved, side by side in one run
            duck.append(timed("duckdb", csv, work))
            ours.append(timed("cockpit", csv, work))
        d, o = median_of(duck, "seconds"), median_of(ours, "seconds")
        print(f"duckdb read_csv -> file : median {d:.2f} s")
        print(f"cockpit load (validated): median {o:.2f} s, ratio {o / d:.2f}x (target <= 2x), "
              f"peak RSS {max(r['peak_mb'] for r in ours):.0f} MB (target < 2048 MB)")

        xlsx = work / "grid_100k.xlsx"
        make_frame(args.xlsx_rows, seed=2).to_excel(xlsx, index=False, engine="xlsxwriter")
        xl = [timed("cockpit", xlsx, work) for _ in range(args.repeat)]
        t0 = time.perf_counter()
        import openpyxl
        wb = openpyxl.load_workbook(xlsx, read_only=True)
        sum(1 for _ in wb.active.iter_rows(values_only=True))
        openpyxl_s = time.perf_counter() - t0
        print(f"xlsx {args.xlsx_rows:,} rows: cockpit load median {median_of(xl, 'seconds'):.2f} s "
              f"(target < 2 s); openpyxl read alone {openpyxl_s:.2f} s")


if __name__ == "__main__":
    main()
