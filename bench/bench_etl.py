"""ETL speed and memory on the demo's realistic exports, against DuckDB's own read_csv.

    nice -n 10 python -m bench.bench_etl                    # demo grid exports at ~1M reports (default)
    python -m bench.bench_etl --inbox /path/to/inbox         # the grid files of an existing demo inbox
    python -m bench.bench_etl --big-db /path/demo10m.duckdb  # the database that already holds ~10M reports
    python -m bench.bench_etl --synthetic                    # the old constant-text CSV (fast path only)
    python -m bench.bench_etl --no-big --no-write            # skip the 2.5M-row file; print only

Data (default): the grid-report exports of `python -m etl demo --scale 33.4` (~1M reports,
byte for byte the generator's: UTF-8 with BOM, GBK and UTF-8 CSVs with three header spellings,
mixed date styles, status synonyms, duplicate rows, deliberately bad rows, phone and ID
numbers in descriptions, and the update export whose cases replace earlier rows by key),
generated into bench/out/ (git-ignored) once per scale. The CSV files are the comparison;
the one .xlsx month is loaded on its own (DuckDB cannot read .xlsx offline).

Each timed load runs in a NEW process (bench/etl_child.py; imports not timed) and the three
kinds of run are interleaved round by round, so load from other work hits them alike:
1. DuckDB `CREATE TABLE ... AS SELECT * FROM read_csv(file)` for each file into a new
   database file (the reference; GBK files read as Latin-1, DuckDB having no GBK decoder);
2. the cockpit's load (`load_paths`: sha256, transcoding, typing, validation, PII masking,
   duplicates, rejects, lineage, the atomic write) into an empty database;
3. the same load into a copy of a database that already holds millions of grid reports
   (--big-db; default bench/out/demo-338.duckdb from bench_pages --reports 10m, else the
   ~1M demo database, said so in the output). Lineage rows of these very files are removed
   from the copy first, so nothing is skipped as "already loaded".
Then one file of --big-rows grid reports (UTF-8 and GBK) is loaded alone: its peak memory
(VmHWM of the process). Targets (issue 14): load <= 2x the reference, <= 1 GB for any file.
The figures go into docs/BENCHMARKS.md between the bench_etl markers, with machine and date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench import report
from bench.etl_inputs import big_grid_file, demo_grid_exports, grid_files, synthetic_frame
from etl import storage
from etl.extract import file_sha256
from etl.lake import migrate

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"                      # git-ignored
START, STOP = "<!-- bench_etl:start -->", "<!-- bench_etl:end -->"
END = dt.date(2026, 11, 22)                       # the demo data's last day (as bench_pages)
RATIO, PEAK_MB = 2.0, 1024


def child(mode: str, db: Path, files: list[Path], code: Path = REPO) -> dict:
    """One run in a new process; `code`: the checkout whose loader runs (another one for --before)."""
    out = subprocess.run([sys.executable, str(REPO / "bench" / "etl_child.py"), mode, str(db), *map(str, files)],
                         cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{mode} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def in_fresh_dir(mode: str, files: list[Path], base: Path | None = None, forget: set[str] = frozenset(),
                 code: Path = REPO) -> dict:
    """One run into a new database, or into a copy of `base` (copy not timed)."""
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        db = Path(tmp) / "bench.duckdb"
        if base is not None:
            shutil.copyfile(base, db)
            salt = base.with_name(".cockpit_salt")
            if salt.exists():
                shutil.copyfile(salt, db.with_name(".cockpit_salt"))
            with duckdb.connect(str(db)) as con:   # the copy may already hold these very files
                con.execute("DELETE FROM etl_loads WHERE sha256 IN (SELECT unnest($s))", {"s": sorted(forget)})
        return child(mode, db, files, code)


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def inputs(args) -> tuple[list[Path], list[Path], str]:
    """(CSV files compared, .xlsx files loaded on their own, a description)."""
    if args.synthetic:
        folder = OUT / f"etl-synthetic-{args.rows}"
        csv, xlsx = folder / "grid.csv", folder / "grid.xlsx"
        if not csv.exists():
            folder.mkdir(parents=True, exist_ok=True)
            synthetic_frame(args.rows).to_csv(csv, index=False, encoding="utf-8")
            synthetic_frame(args.rows // 10, seed=2).to_excel(xlsx, index=False, engine="xlsxwriter")
        return [csv], [xlsx], (f"`--synthetic`: one generated CSV of {args.rows:,} rows (unique keys, no "
                               f"invalid row, one constant description) and a .xlsx of {args.rows // 10:,}")
    if args.inbox:
        files, where = grid_files(args.inbox), f"the grid-report files of `{args.inbox}`"
    else:
        folder = OUT / f"etl-inbox-{args.scale:g}"
        if not folder.exists():
            t0 = time.perf_counter()
            demo_grid_exports(folder, args.scale, END)
            print(f"generated {folder} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        files = grid_files(folder)
        where = f"the grid-report exports of `python -m etl demo --scale {args.scale:g} --end {END}`"
    csvs = [f for f in files if f.suffix.lower() != ".xlsx"]
    return csvs, [f for f in files if f.suffix.lower() == ".xlsx"], where


def big_db(args) -> tuple[Path | None, str]:
    if args.big_db:
        return args.big_db, ""
    for scale, note in ((338, ""), (33.4, " (the ~10M database was not built: the ~1M one instead)")):
        path = OUT / f"demo-{scale:g}.duckdb"
        if path.exists():
            return path, note
    path = OUT / "demo-33.4.duckdb"
    report.build_demo(path, 33.4, END)
    return path, " (the ~10M database was not built: the ~1M one instead)"


def current_layout(base: Path) -> tuple[Path, str]:
    """`base`, or when its catalog is in an older storage layout (record tables still inside the
    catalog), a copy converted once by `python -m etl migrate-storage` (bench/out, reused): a
    daily load meets a database in the current layout, and the one-time conversion (moving
    tables out, rebuilding every mart: tens of seconds at 10M) must not be timed as a load."""
    with duckdb.connect(str(base), read_only=True) as con:
        old = [t for t in storage.PARTITIONED if storage.table_type(con, t) == "BASE TABLE"]
    if not old:
        return base, ""
    folder = OUT / f"{base.stem}-current-layout"          # its own folder: its own salt file
    copy = folder / base.name
    done = folder / "converted"                           # written last: a finished conversion
    if not done.exists() or done.stat().st_mtime < base.stat().st_mtime:
        t0 = time.perf_counter()
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        salt = base.with_name(".cockpit_salt")
        if salt.exists():
            shutil.copyfile(salt, folder / ".cockpit_salt")
        shutil.copyfile(base, folder / "converting.tmp")
        os.replace(folder / "converting.tmp", copy)
        migrate(copy)
        shutil.rmtree(copy.with_name(copy.name + ".versions"), ignore_errors=True)   # the old catalog
        done.write_text(f"{base}\n", encoding="utf-8")
        print(f"converted a copy of {base.name} to the current layout in {time.perf_counter() - t0:.0f} s "
              f"({', '.join(old)} moved out): {copy}", file=sys.stderr, flush=True)
    return copy, (f" (`{base.name}` converted once, untimed, to the current storage layout: "
                  f"{', '.join(old)} moved out of its catalog)")


def grid_count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM grid_reports").fetchall()[0][0]


def describe(files: list[Path]) -> str:
    mb = sum(f.stat().st_size for f in files) / 1e6
    return f"{len(files)} file{'s' * (len(files) > 1)}, {mb:.1f} MB"


def rounds(args, csvs: list[Path], xlsx: list[Path], base: Path | None) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {"duckdb": [], "empty": [], "big": [], "xlsx": [], "before": [],
                                   "before_big": []}
    hashes = {file_sha256(f) for f in csvs}
    for i in range(args.repeat):
        runs["duckdb"].append(in_fresh_dir("duckdb", csvs))
        runs["empty"].append(in_fresh_dir("cockpit", csvs))
        if args.before:
            runs["before"].append(in_fresh_dir("cockpit", csvs, code=args.before))
        if base is not None:
            runs["big"].append(in_fresh_dir("cockpit", csvs, base, hashes))
            if args.before:
                runs["before_big"].append(in_fresh_dir("cockpit", csvs, base, hashes, code=args.before))
        if xlsx:
            runs["xlsx"].append(in_fresh_dir("cockpit", xlsx))
        last = {k: f"{v[-1]['seconds']:.2f}s/{v[-1]['peak_mb']:.0f}MB" for k, v in runs.items() if v}
        print(f"round {i + 1}/{args.repeat}: {last}", file=sys.stderr, flush=True)
    return runs


def big_file_runs(args) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for enc in ("utf-8", "gbk"):
        path = OUT / f"etl-big-{args.big_rows}-{enc}.csv"
        if not path.exists():
            t0 = time.perf_counter()
            big_grid_file(path, args.big_rows, enc, END)
            print(f"generated {path.name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        out[enc] = [in_fresh_dir("cockpit", [path]) for _ in range(args.big_repeat)]
        print(f"{path.name}: {[round(r['peak_mb']) for r in out[enc]]} MB", file=sys.stderr, flush=True)
    out["duckdb"] = [in_fresh_dir("duckdb", [OUT / f"etl-big-{args.big_rows}-utf-8.csv"])
                     for _ in range(args.big_repeat)]
    return out


def _row(label: str, target: str, runs: list[dict], ref: list[dict] | None = None) -> str:
    """A table row; the ratio is flagged against its target only when `target` is a ratio."""
    s, lo, hi = stats([r["seconds"] for r in runs])
    cell = f"{s:.2f} s ({lo:.2f}–{hi:.2f})"
    ratio = ""
    if ref:
        ratios = [r["seconds"] / d["seconds"] for r, d in zip(runs, ref)]
        m, rlo, rhi = stats(ratios)
        flag = " ⚠" if m > RATIO and "×" in target else ""
        ratio = f"**{m:.2f}×**{flag} ({rlo:.2f}–{rhi:.2f})"
    cpu = f"{statistics.median(r['cpu_s'] for r in runs):.2f} s"
    if ref:
        cpu += f" ({statistics.median(r['cpu_s'] / d['cpu_s'] for r, d in zip(runs, ref)):.2f}×)"
    peak = max(r["peak_mb"] for r in runs)
    mem = f"{peak:.0f} MB" + (" ⚠" if peak > PEAK_MB and "GB" in target else "")
    return f"| {label} | {target} | {cell} | {ratio} | {cpu} | {mem} |"


def section(where: str, csvs, xlsx, runs, base, base_note, big, started: str, args) -> str:
    first = runs["empty"][0]
    lines = [
        "## 1. ETL (issues 2 and 14) — `bench/bench_etl.py`",
        "",
        "Written by the bench itself (`nice -n 10 python -m bench.bench_etl`); do not edit by hand.",
        "",
        f"**Date:** {dt.datetime.now():%Y-%m-%d %H:%M}. **Machine:** {started}, at the end "
        f"{os.getloadavg()[0]:.1f}.",
        f"**Data:** {where}: {describe(csvs)} of CSV ({first['rows_read']:,} rows read, "
        f"{first['rows_loaded']:,} loaded, {first['rows_rejected']:,} rejected; repeated keys within and "
        f"across files replace earlier rows)" + (f", plus {describe(xlsx)} of .xlsx" if xlsx else "") + ".",
        f"Each run is a new process; the reference, the loads and the .xlsx are interleaved round by round, "
        f"{args.repeat} rounds: median with the spread (min–max) in brackets; the ratio is taken round by "
        f"round against that round's reference. Peak memory = the process's VmHWM (the highest of the "
        f"runs). CPU time = user + system seconds of the process, all threads, and of its child "
        f"processes (GBK transcoding) (median; steadier than wall time when other work shares the "
        f"machine). Targets (issue 14): ≤ {RATIO:g}× DuckDB's `read_csv` in "
        f"time, ≤ 1 GB for any single file.",
        "",
        "| run | target | time | ratio to read_csv | CPU time (ratio) | peak memory |",
        "|---|---|---:|---:|---:|---:|",
        _row("DuckDB `read_csv` of the same CSV files → a new database file (reference; GBK read as "
             "Latin-1)", "—", runs["duckdb"]),
        _row("cockpit load into an empty database", f"≤ {RATIO:g}×", runs["empty"], runs["duckdb"]),
    ]
    if runs["before"]:
        lines.append(_row(f"before: the loader of `{args.before}`, into an empty database", "—",
                          runs["before"], runs["duckdb"]))
    if runs["big"]:
        lines.append(_row(f"cockpit load into a copy of a database holding {grid_count(base):,} grid reports"
                          f"{base_note}", f"≤ {RATIO:g}×", runs["big"], runs["duckdb"]))
    if runs["before_big"]:
        lines.append(_row(f"before: the loader of `{args.before}`, into that database", "—",
                          runs["before_big"], runs["duckdb"]))
    if runs["xlsx"]:
        lines.append(_row(f"the .xlsx export on its own ({runs['xlsx'][0]['rows_read']:,} rows) into an "
                          f"empty database", "—", runs["xlsx"]))
    if big:
        rows = big["utf-8"][0]["rows_read"]
        lines += [_row(f"one file of {rows:,} grid reports, UTF-8, into an empty database", "≤ 1 GB",
                       big["utf-8"], big["duckdb"]),
                  _row("the same file in GBK (streamed to UTF-8 in bounded pieces)", "≤ 1 GB",
                       big["gbk"], big["duckdb"]),
                  _row("DuckDB `read_csv` of the UTF-8 file (reference)", "—", big["duckdb"])]
    over = [line.split("|")[1].strip() for line in lines if line.startswith("|") and "⚠" in line]
    lines += ["", "Result: " + ("every target met." if not over else
                                "over target (⚠): " + "; ".join(over) + ".")]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=33.4, help="demo scale of the exports (33.4: ~1M reports)")
    ap.add_argument("--inbox", type=Path, default=None, help="use the grid files of an existing demo inbox")
    ap.add_argument("--big-db", type=Path, default=None, help="the database that already holds ~10M reports")
    ap.add_argument("--no-big-db", action="store_true", help="skip the load into a populated database")
    ap.add_argument("--synthetic", action="store_true", help="the old constant-text CSV instead")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the --synthetic CSV")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-rows", type=int, default=2_500_000, help="rows of the single-file memory run")
    ap.add_argument("--big-repeat", type=int, default=2)
    ap.add_argument("--no-big", action="store_true", help="skip the single big file")
    ap.add_argument("--before", type=Path, default=None,
                    help="also time the loader of another checkout (e.g. main), interleaved")
    ap.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    started = report.machine()
    csvs, xlsx, where = inputs(args)
    base, note = (None, "") if args.no_big_db else big_db(args)
    if base is not None:
        base, converted = current_layout(base)
        note += converted
    print(f"{where}: {describe(csvs)}; populated database: {base}{note}", file=sys.stderr, flush=True)
    runs = rounds(args, csvs, xlsx, base)
    big = None if args.no_big else big_file_runs(args)
    block = section(where, csvs, xlsx, runs, base, note, big, started, args)
    print("\n" + block, flush=True)
    if not args.no_write:
        report.write_section(START, STOP, block)
        print(f"\nwritten to {report.DOC}")


if __name__ == "__main__":
    main()
