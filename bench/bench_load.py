"""A load's cost against the size of the database (issue 14): the same 35k-row slice of the demo's
own grid export, loaded in a new process into an empty database, the 1M-report demo and a 10M one.

    python -m bench.bench_load [--repeat 3] [--db1m PATH] [--db10m PATH | --synthetic10m] [--kinds new updates] [--no-write]

Defaults: the lead's /work/bench-data/demo1m.duckdb and its inbox's update export when they are
there; otherwise the 1M demo is built once into bench/out/demo-33.4.duckdb (as bench_pages does)
and the slice is the update export the demo generator writes at that scale.

Each database (an old single-file one is migrated first, `python -m etl migrate-storage`, timed)
is restored before every run by copying its catalog only: its Parquet parts are immutable, so the
copy's catalog reads the same files and the load writes its own. A run is `load_paths` of the
slice in a fresh Python process (its own time, and the process's wall clock and peak memory);
the extra disk is the catalog copy plus the new Parquet files. While each 10M run loads, a reader
process counts grid_reports over and over through the dashboard's sandboxed connection: every
count must be the one before or the one after, never an error. `--synthetic10m` builds the 10M
database from the migrated 1M one: grid reports and the other record tables kept as Parquet
x10 (new keys, same months), and etl_rejects x10, when no real 10M demo is at hand.

Two kinds of slice, each measured in every database (`--kinds`, both by default):
- `new`: the export with every key made new (事件编号 SJ… -> SN…, the same month): a load of
  new reports, the same load in every database;
- `updates`: the export with each key replaced by a stored key of the same month of the database
  loaded into (into the empty one: the export as it is), so every row supersedes a stored
  report: in the compacted demo its month's whole file is read for the old rows' summary
  contributions (docs/ARCHITECTURE.md section 3, "Ninth round"). The export itself is neither
  at 10M: its keys are the 1M demo's, stored in the 1M database and new in the 10M one.
Section in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import machine, write_section  # noqa: E402

DEFAULT_SLICE = Path("/work/bench-data/inbox1m/网格事件_更新_20261122.csv")
DEFAULT_1M = Path("/work/bench-data/demo1m.duckdb")
SCALE_1M = 33.4                       # demo scale of ~0.99M grid reports (bench_pages.REPORTS)
END = date(2026, 11, 22)
# record tables x10 besides grid_reports: kept as Parquet parts (etl/storage.py), like it
PARTS_X10 = {"evaluations": "evaluation_id", "fund_transactions": "txn_id", "usability_ratings": "rating_id",
             "redemptions": "redemption_id"}

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from etl.load import load_paths
t1 = time.perf_counter()
res = load_paths([Path(sys.argv[2])], Path(sys.argv[1]), progress=None)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "rows": [r.rows_loaded for r in res],
                  "status": [r.status for r in res],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

READER = r"""
import json, sys, time
from pathlib import Path
import os
os.environ["COCKPIT_DB"] = sys.argv[1]
from dashboard import db
seen, errors, stop = [], [], Path(sys.argv[2])
while not stop.exists():
    try:
        con = db.connect()
        seen.append(tuple(con.execute("SELECT count(*), max(source_load_id) FROM grid_reports").fetchall()[0]))
        con.close()
    except Exception as exc:
        errors.append(str(exc).splitlines()[0])
    time.sleep(0.02)
print(json.dumps({"seen": sorted(set(seen)), "reads": len(seen), "errors": errors[:3]}))
"""


def default_1m() -> Path:
    """The lead's 1M demo, else one built once by the real ETL (bench/out, git-ignored)."""
    if DEFAULT_1M.exists():
        return DEFAULT_1M
    db = REPO / "bench" / "out" / f"demo-{SCALE_1M:g}.duckdb"
    if not db.exists():
        from bench.report import build_demo
        build_demo(db, SCALE_1M, END)
    return db


def default_slice(work: Path) -> Path:
    """The demo's own update export at the 1M scale (generated when the lead's inbox is absent)."""
    if DEFAULT_SLICE.exists():
        return DEFAULT_SLICE
    from etl import demo
    inbox = work.with_name(work.name + "-inbox")
    if not list(inbox.glob("网格事件_更新_*.csv")):
        shutil.rmtree(inbox, ignore_errors=True)
        demo.generate(inbox, seed=7, scale=SCALE_1M, end=END)
    return sorted(inbox.glob("网格事件_更新_*.csv"))[-1]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, **kw)


def prepare_empty(folder: Path, salt: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "cockpit.duckdb"
    shutil.copyfile(salt, folder / ".cockpit_salt")
    run([sys.executable, "-c", "from pathlib import Path; from etl.dbfile import writer\n"
         f"with writer(Path({str(db)!r})): pass"])
    return db


def migrate(src: Path, folder: Path) -> tuple[Path, dict]:
    """Copy an old single-file database and migrate it; (catalog, facts)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "cockpit.duckdb"
    shutil.copyfile(src, db)
    shutil.copyfile(src.parent / ".cockpit_salt", folder / ".cockpit_salt")
    before = db.stat().st_size
    t0 = time.perf_counter()
    run(["nice", "-n", "10", sys.executable, "-m", "etl", "migrate-storage", "--db", str(db)])
    return db, {"file_mb": before / 1e6, "migrate_s": time.perf_counter() - t0,
                "catalog_layout": src.with_name(src.name + ".parts").is_dir()}


def synthesize_10m(src_db: Path, folder: Path) -> Path:
    """x10 grid reports (as Parquet) and x10 catalog record tables, from a migrated database."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "cockpit.duckdb"
    shutil.copyfile(src_db, db)
    shutil.copyfile(src_db.parent / ".cockpit_salt", folder / ".cockpit_salt")
    code = f"""
from pathlib import Path
from etl import storage
from etl.dbfile import writer
db = Path({str(db)!r})
with writer(db) as con:
    names = ", ".join(n for n, _ in storage.columns("grid_reports"))
    for k in range(1, 10):
        select = ("SELECT * REPLACE ('R{{k}}-' || report_id AS report_id) FROM grid_reports "
                  "WHERE NOT starts_with(report_id, 'R')").replace("{{k}}", str(k))
        storage.write_files(con, "grid_reports", select, storage.parts_dir(db), f"X{{k}}", None)
    storage.compact(con, "grid_reports", None, storage.parts_dir(db), force=True)   # one file a month
    storage.refresh_view(con, "grid_reports")
    for table, key in {PARTS_X10!r}.items():
        for k in range(1, 10):
            select = f"SELECT * REPLACE ('R{{k}}-' || {{key}} AS {{key}}) FROM {{table}} WHERE NOT starts_with({{key}}, 'R')"
            storage.write_files(con, table, select, storage.parts_dir(db), f"X{{k}}", None)
        storage.compact(con, table, None, storage.parts_dir(db), force=True)
        storage.refresh_view(con, table)
    con.execute("CREATE TEMP TABLE x AS SELECT * FROM etl_rejects")
    for k in range(1, 10):
        con.execute("INSERT INTO etl_rejects SELECT * FROM temp.x")
    con.execute("DROP TABLE temp.x")
"""
    run(["nice", "-n", "10", sys.executable, "-c", code])
    packed = db.with_name("packed.duckdb")
    run([sys.executable, "-c", f"from pathlib import Path; from etl.storage_upkeep import vacuum_copy\n"
         f"vacuum_copy(Path({str(db)!r}), Path({str(packed)!r}))"])
    os.replace(packed, db)
    return db


def parts_bytes(root: Path) -> int:
    """Parquet files and their key sidecars (`<file>.parquet.keys.npy`, etl/storage_keys.py)."""
    return sum(p.stat().st_size for p in root.rglob("*.parquet*")) if root.is_dir() else 0


def manifest_bytes(db: Path) -> int:
    """The Parquet files the catalog `db` references and their key sidecars, wherever they are
    (a catalog copied from a database already in the catalog layout reads the source's files)."""
    out = run([sys.executable, "-c", "import duckdb, json, sys; c = duckdb.connect(sys.argv[1], read_only=True)\n"
               "try: print(json.dumps([r[0] for r in c.execute('SELECT path FROM etl_storage.parts').fetchall()]))\n"
               "except duckdb.CatalogException: print('[]')", str(db)])
    paths = [Path(p) for p in json.loads(out.stdout.splitlines()[-1])]
    return sum(p.stat().st_size for p in paths if p.exists()) + sum(
        s.stat().st_size for s in (Path(str(p) + ".keys.npy") for p in paths) if s.exists())


# the slice's n-th key of a month -> the n-th stored key of that month (in a fixed pseudo-random
# order): the month is the key's YYYYMM (工单号 SJ20261122...); a key without one keeps its text
_OWN_KEYS = """
    WITH s AS (SELECT i, k, substr(k, 3, 6) AS m, row_number() OVER (PARTITION BY substr(k, 3, 6) ORDER BY i) AS j
               FROM (SELECT unnest($keys) AS k, generate_subscripts($keys, 1) AS i)),
    stored AS (SELECT report_id, substr(report_id, 3, 6) AS m,
                      row_number() OVER (PARTITION BY substr(report_id, 3, 6) ORDER BY md5(report_id)) AS j
               FROM grid_reports WHERE substr(report_id, 3, 6) IN (SELECT m FROM s))
    SELECT coalesce(stored.report_id, s.k) FROM s LEFT JOIN stored USING (m, j) ORDER BY s.i"""


def own_keys_slice(slice_csv: Path, db: Path | None, out: Path) -> Path:
    """`slice_csv` with each key replaced by a stored key of `db` from the same month, the other
    cells as they are: every row supersedes a stored report, wherever the slice came from.
    db None: each key made new instead (SJ… -> SN…, its month unchanged)."""
    import csv
    import duckdb
    with open(slice_csv, encoding="utf-8-sig", newline="") as f:
        header, *rows = [r for r in csv.reader(f) if r]
    if db is None:
        keys = ["SN" + r[0][2:] for r in rows]
    else:
        with duckdb.connect(str(db), read_only=True) as con:
            keys = [k for (k,) in con.execute(_OWN_KEYS, {"keys": [r[0] for r in rows]}).fetchall()]
    with open(out, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows([k, *r[1:]] for k, r in zip(keys, rows, strict=True))
    return out


KINDS = {"new": "new reports (every key new in each database)",
         "updates": "updates (every key a stored report of the same month; into the empty database: new)"}


def one_run(base: Path, slice_csv: Path, scratch: Path, with_reader: bool) -> dict:
    """Restore `base` (its catalog) into a fresh folder, load the slice in a new process."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    db = folder / "cockpit.duckdb"
    shutil.copyfile(base, db)
    shutil.copyfile(base.parent / ".cockpit_salt", folder / ".cockpit_salt")
    catalog = db.stat().st_size
    # garbage collection runs at most every 15 minutes (etl.dbfile.collect_garbage): not in a run
    gc_stamp = db.with_name(db.name + ".parts") / ".last-gc"
    gc_stamp.parent.mkdir()
    gc_stamp.touch()
    reader = stop = None
    if with_reader:
        stop = folder / "stop"
        reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)], cwd=REPO,
                                  stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        time.sleep(3)                     # it has read the old snapshot a few times
    t0 = time.perf_counter()
    out = last_json(run([sys.executable, "-c", CHILD, str(db), str(slice_csv)]).stdout)
    out["process_s"] = time.perf_counter() - t0
    out["extra_mb"] = (catalog + parts_bytes(gc_stamp.parent)) / 1e6
    out["catalog_mb"] = catalog / 1e6
    if reader:
        time.sleep(1.5)
        stop.touch()
        said = reader.communicate(timeout=60)[0]
        out["reader"] = (last_json(said) if "{" in said
                         else {"seen": [], "reads": 0, "errors": [f"reader exited {reader.returncode}"]})
    shutil.rmtree(folder, ignore_errors=True)
    return out


def last_json(stdout: str) -> dict:
    """The child's answer: its last line (DuckDB's progress bar may print before it)."""
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--slice", type=Path)
    ap.add_argument("--db1m", type=Path)
    ap.add_argument("--db10m", type=Path, help="an old single-file 10M demo database (migrated first)")
    ap.add_argument("--synthetic10m", action="store_true", help="build the 10M database from the 1M one")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_load")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/BENCHMARKS.md")
    ap.add_argument("--reuse", action="store_true", help="keep the databases prepared in --work by a previous run")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                    help="new: every key new in each database; updates: every key a stored one of the same month")
    args = ap.parse_args(argv)
    started = machine()
    args.db1m = args.db1m or default_1m()
    args.slice = args.slice or default_slice(args.work)
    facts_file = args.work / "facts.json"
    if args.reuse and facts_file.exists():
        return measure(args, started, json.loads(facts_file.read_text()))
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    # a slice the databases have not loaded: the demo's own update export, one byte different
    slice_csv = args.work / "网格事件_切片.csv"
    slice_csv.write_bytes(args.slice.read_bytes() + b"\n")
    bases: dict[str, Path] = {"empty": prepare_empty(args.work / "empty", args.db1m.parent / ".cockpit_salt")}
    facts: dict[str, dict] = {"empty": {}}
    bases["1M"], facts["1M"] = migrate(args.db1m, args.work / "1m")
    if args.db10m:
        bases["10M"], facts["10M"] = migrate(args.db10m, args.work / "10m")
    elif args.synthetic10m:
        bases["10M"], facts["10M"] = synthesize_10m(bases["1M"], args.work / "10m"), {"synthetic": True}
    for name, db in bases.items():
        facts[name]["db"] = str(db)
        out = run([sys.executable, "-c", "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True);"
                   "print(c.execute('SELECT count(*) FROM grid_reports').fetchall()[0][0])", str(db)])
        facts[name].update(reports=int(out.stdout), catalog_mb=db.stat().st_size / 1e6,
                           parts_mb=manifest_bytes(db) / 1e6)
    facts_file.write_text(json.dumps(facts))
    return measure(args, started, facts)


def measure(args, started: str, facts: dict[str, dict]) -> int:
    bases = {name: Path(f["db"]) for name, f in facts.items()}
    slice_csv = args.work / "网格事件_切片.csv"
    slices: dict[tuple[str, str], Path] = {}
    for kind in args.kinds:
        for name, db in bases.items():
            source = None if kind == "new" or not facts[name]["reports"] else db
            if kind == "updates" and source is None:
                slices[kind, name] = slice_csv
                continue
            # in a process of its own: a child's peak memory (ru_maxrss) starts from this one's
            slices[kind, name] = args.work / f"网格事件_切片_{kind}_{name}.csv"
            run([sys.executable, "-c", "import sys; from pathlib import Path; from bench.bench_load import own_keys_slice\n"
                 "own_keys_slice(Path(sys.argv[1]), Path(sys.argv[2]) if sys.argv[2] else None, Path(sys.argv[3]))",
                 str(slice_csv), str(source or ""), str(slices[kind, name])])
    scratch = args.work / "runs"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    runs: dict[str, dict[str, list[dict]]] = {k: {n: [] for n in bases} for k in args.kinds}
    for i in range(args.repeat):
        for kind in args.kinds:
            for name in (list(bases) if i % 2 == 0 else list(reversed(bases))):
                r = one_run(bases[name], slices[kind, name], scratch,
                            with_reader=(name == "10M" or (name == "1M" and "10M" not in bases)))
                runs[kind][name].append(r)
                print(kind, name, json.dumps(r), flush=True)
    section = report(runs, facts, started, args)
    print(section)
    if not args.no_write:
        write_section("<!-- bench_load:start -->", "<!-- bench_load:end -->", section)
    return 0


def table(rs_by_db: dict[str, list[dict]], facts: dict[str, dict]) -> list[str]:
    base = statistics.median(r["load_s"] for r in rs_by_db["empty"])
    base_min = min(r["load_s"] for r in rs_by_db["empty"])
    lines = ["| database | grid reports | catalog | Parquet parts | load (median, min–max) | × empty (median) | "
             "× empty (min) | process | peak memory | extra disk |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, rs in rs_by_db.items():
        f = facts[name]
        load = [r["load_s"] for r in rs]
        label = name + (" (synthetic ×10 of 1M)" if f.get("synthetic") else "")
        lines.append(f"| {label} | {f['reports']:,} | {f['catalog_mb']:.1f} MB | {f['parts_mb']:.0f} MB | "
                     f"{fmt(load)} | {statistics.median(load) / base:.2f} | {min(load) / base_min:.2f} | "
                     f"{fmt([r['process_s'] for r in rs])} | {max(r['peak_mb'] for r in rs):.0f} MB | "
                     f"{statistics.median(r['extra_mb'] for r in rs):.1f} MB |")
    return lines


def report(runs: dict[str, dict[str, list[dict]]], facts: dict[str, dict], started: str, args) -> str:
    first = next(iter(runs.values()))
    lines = [f"## 7. A load's cost against the database's size (issue 14) — `bench/bench_load.py`",
             f"{date.today().isoformat()}, {started}.",
             f"The demo's own update export `{args.slice.name}` ({first['empty'][0]['rows'][0]:,} rows, keys in "
             "all 24 months), as two slices, each loaded with `load_paths` in a new process into each database, "
             f"restored before each of {args.repeat} runs (alternating order). Load = `load_paths` alone; process = "
             "the whole `python` run (imports included). Extra disk = the catalog copy + the new Parquet files and their key sidecars. "
             "Garbage collection (at most every 15 minutes, after a swap) is not part of a run.",
             ""]
    for kind, rs_by_db in runs.items():
        lines += [f"**{KINDS[kind]}**", "", *table(rs_by_db, facts), ""]
    for name, f in facts.items():
        if f.get("catalog_layout"):
            lines.append(f"- The {name} database was already in the catalog layout: its catalog copied and checked "
                         f"by `python -m etl migrate-storage` ({f['migrate_s']:.0f} s); its Parquet parts are read "
                         "where they are, never written.")
        elif "migrate_s" in f:
            lines.append(f"- Migration of the {name} single-file database (`python -m etl migrate-storage`, "
                         f"nice 10): {f['file_mb']:.0f} MB file → {f['catalog_mb']:.1f} MB catalog + "
                         f"{f['parts_mb']:.0f} MB Parquet in {f['migrate_s']:.0f} s (once).")
    for kind, rs_by_db in runs.items():
        for name, rs in rs_by_db.items():
            checked = [r["reader"] for r in rs if "reader" in r]
            if checked:
                reads = sum(c["reads"] for c in checked)
                errors = sum(len(c["errors"]) for c in checked)
                counts = [c["seen"] for c in checked]
                lines.append(f"- Readers during the {name} loads of {kind}: {reads} reads through the dashboard's "
                             f"sandboxed connection, {errors} errors; (count, last load id) seen per run: "
                             f"{counts} (the snapshot before and the one after, never a half-load).")
    lines.append("- Issue 14's figure before this layout (whole-file copy, another day's machine load): the "
                 "same 36k-row load took 1.14 s into the 1M database and 2.26 s into the 10M one, and needed "
                 "the whole file again in extra disk.")
    lines.append("- Goal: 10M within 1.5× of empty. The storage's share of a load that grows with the database: "
                 "the binary search of the load's keys in each current file's key sidecar, and the copy of the "
                 "catalog (record tables are Parquet parts; what is left is mostly the summary marts); the load "
                 "figure includes keeping the summary marts by delta: its rows added, the rows it superseded subtracted "
                 "(etl/marts/appended.py, delta.py). An update also reads the superseded rows' old values from their "
                 "stored files (whole months once compacted): that read follows the months it touches, "
                 "docs/ARCHITECTURE.md section 3, \"Ninth round\".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
