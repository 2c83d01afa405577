"""The ETL command line: python -m etl demo | load | status | painpoints | watch | briefing | keys | audit
| migrate-storage | compact | lake-export.

Every command works on the database named by env COCKPIT_DB (default data/cockpit.duckdb)
unless --db is given.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from etl import access_cli
from etl.aliases import KIND_ORDER
from etl.dbpath import db_path


def _db(args) -> Path:
    return Path(args.db).resolve() if getattr(args, "db", None) else db_path()


def _existing_db(args) -> Path | None:
    """The database file, or None after saying on stderr that there is none."""
    db = _db(args)
    if db.exists():
        return db
    print(f"no database at {db}", file=sys.stderr)
    return None


def cmd_load(args) -> int:
    from etl.load import explain, load_paths
    db = _db(args)
    try:
        results = load_paths(args.paths, db, kind=args.kind, strict=args.strict)
    except Exception as exc:   # one masked sentence, not a traceback quoting file content
        print(f"load failed, nothing loaded: {explain(exc)}", file=sys.stderr)
        return 2
    refused = [r for r in results if r.status == "refused"]
    loaded = [r for r in results if r.status == "loaded"]
    skipped = [r for r in results if r.status == "skipped"]
    print(f"{len(loaded)} loaded, {len(skipped)} skipped, {len(refused)} refused -> {db}")
    for r in skipped + refused:   # messages are masked by load_paths
        print(f"  {r.status}: {r.label}: {r.message.removeprefix(f'{r.label}: ')}")
    if loaded and any(r.kind == "feedback" for r in loaded) and not args.no_painpoints:
        _painpoints(db)
    return 1 if refused else 0


def _painpoints(db: Path) -> dict:
    from etl import painpoints
    t0 = time.perf_counter()
    print("pain points: clustering resident feedback ...", file=sys.stderr, flush=True)
    summary = painpoints.run(db_path=db)
    print(f"pain points: done in {time.perf_counter() - t0:.1f} s {summary or ''}", file=sys.stderr)
    return summary


def cmd_demo(args) -> int:
    """Generate demo exports, load them through the normal ETL into a fresh file, swap it in."""
    from etl import demo
    from etl.load import load_paths
    db = _db(args)
    inbox = Path(args.inbox).resolve() if args.inbox else db.parent / "inbox"
    end = date.fromisoformat(args.end) if args.end else None
    shutil.rmtree(inbox, ignore_errors=True)
    t0 = time.perf_counter()
    manifest = demo.generate(inbox, seed=args.seed, scale=args.scale, end=end,
                             truth_dir=db.parent / "demo_truth")
    print(f"demo: {len(manifest['files'])} export files written to {inbox} "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    build = db.with_name(db.name + ".demo-build")
    with contextlib.suppress(FileNotFoundError):
        build.unlink()
    from etl import storage
    from etl.lake import compact_unpublished
    with storage.publish_to(db):           # the build's Parquet parts go where `db` will find them
        results = load_paths([inbox], build)
        if not args.no_painpoints:
            _painpoints(build)
        # the demo stands for two years of daily loads, each night followed by the scheduled
        # `etl compact` (docs/OPERATIONS.md); loaded in one go, it is compacted once, at the end,
        # so the cockpit opens on the database an office has in the morning
        compact_unpublished(build)
    db.parent.mkdir(parents=True, exist_ok=True)
    os.replace(build, db)
    shutil.rmtree(build.with_name(build.name + ".versions"), ignore_errors=True)   # the build's own swaps
    rejected = sum(r.rows_rejected for r in results)
    refused = [r for r in results if r.status == "refused"]
    print(f"demo database ready: {db} ({rejected} deliberately bad rows rejected)")
    for r in refused:
        print(f"unexpected refusal: {r.message}", file=sys.stderr)
    if args.keys and not refused:
        _demo_keys(db)
    return 1 if refused else cmd_status(args)


def _demo_keys(db: Path) -> None:
    """--keys: one access key per role, printed once (switches the cockpit from open mode to keys)."""
    import duckdb

    from etl.access_cli import issue_demo_keys
    os.environ["COCKPIT_DB"] = str(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        comms = [r[0] for r in con.execute(
            "SELECT community FROM feedback GROUP BY community ORDER BY count(*) DESC").fetchall()]
        parties = [r[0] for r in con.execute(
            "SELECT lead_party FROM projects WHERE lead_party_type <> '社区' "
            "GROUP BY lead_party ORDER BY count(*) DESC, lead_party").fetchall()]
    finally:
        con.close()
    print("demo access keys (shown once; sign in with one to see that party's view):")
    for role, name, key in issue_demo_keys(comms, parties):
        print(f"  {role:<9} {name}: {key}")


def cmd_status(args) -> int:
    from etl.load import status
    info = status(_db(args))
    if not info["exists"]:
        print(f"no database at {info['db']} - run `python -m etl demo` or `python -m etl load FILES`")
        return 0
    print(f"database: {info['db']}")
    for table, n in info["counts"].items():
        print(f"  {table:<22} {n:>10,}")
    if info["loads"] is not None and len(info["loads"]):
        print("last loads:")
        for r in info["loads"].itertuples():
            name = Path(r.path).name + (f"[{r.sheet}]" if isinstance(r.sheet, str) and r.sheet else "")
            print(f"  #{r.load_id} {r.finished_at:%Y-%m-%d %H:%M} {name} -> {r.source_kind}: "
                  f"{r.rows_loaded:,} loaded, {r.rows_rejected:,} rejected")
    if info["reject_reasons"] is not None and len(info["reject_reasons"]):
        print("rejects by reason:")
        for r in info["reject_reasons"].itertuples():
            print(f"  {r.n:>6,}  {r.reason}")
    return 0


def cmd_painpoints(args) -> int:
    db = _existing_db(args)
    if db is None:
        return 1
    _painpoints(db)
    return 0


def cmd_watch(args) -> int:
    from etl.watch import watch
    return watch(Path(args.dir).resolve(), _db(args), interval=args.interval, once=args.once,
                 settle=args.settle)


def cmd_migrate_storage(args) -> int:
    from etl.lake import migrate
    db = _existing_db(args)
    if db is None:
        return 1
    before, after, moved = migrate(db)
    print(f"{db.name}: catalog {before / 1e6:,.1f} MB -> {after / 1e6:,.1f} MB; "
          f"stored as Parquet files: {', '.join(moved)}")
    return 0


def cmd_compact(args) -> int:
    from etl.lake import compact_all
    db = _existing_db(args)
    if db is None:
        return 1
    done = compact_all(db)
    print("; ".join(f"{t}: {len(m)} months compacted" for t, m in done.items()) or "nothing to compact")
    return 0


def cmd_marts(args) -> int:
    from etl import marts
    if not args.rebuild:
        print("nothing to do: use --rebuild to recompute every mart from the records", file=sys.stderr)
        return 2
    db = _existing_db(args)
    if db is None:
        return 1
    done = marts.rebuild(db)
    print("; ".join(f"{t}: {rows:,} rows rebuilt, {drift:,} differed" for t, (rows, drift) in done.items()))
    return 0


def cmd_lake_export(args) -> int:
    from etl.lake import lake_export
    db = _existing_db(args)
    if db is None:
        return 1
    try:
        counts = lake_export(db, Path(args.dir).resolve())
    except FileExistsError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.dir}: {sum(counts.values())} Parquet files, {len(counts)} tables (Hive layout)")
    return 0


def cmd_briefing(argv: list[str]) -> int:
    from etl import briefing
    return briefing.main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m etl", description="Community Governance Cockpit ETL")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load", help="load CSV/Excel exports (files or folders)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--kind", choices=list(KIND_ORDER), help="skip detection")
    p.add_argument("--strict", action="store_true", help="refuse a file with any invalid row")
    p.add_argument("--no-painpoints", action="store_true", help="do not re-cluster feedback after the load")
    p.add_argument("--db")
    p.set_defaults(func=cmd_load)
    p = sub.add_parser("demo", help="generate and load the built-in demo data")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--end", help="last day of demo data, YYYY-MM-DD (default today)")
    p.add_argument("--inbox", help="where the demo exports go (default: next to the database)")
    p.add_argument("--no-painpoints", action="store_true")
    p.add_argument("--keys", action="store_true",
                   help="also issue one access key per role (leader, community, partner, public)")
    p.add_argument("--db")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("status", help="row counts, last loads, rejects")
    p.add_argument("--db")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("painpoints", help="re-cluster resident feedback into monthly pain points")
    p.add_argument("--db")
    p.set_defaults(func=cmd_painpoints)
    p = sub.add_parser("watch", help="load files dropped into a folder (moved to loaded/ or refused/)")
    p.add_argument("dir")
    p.add_argument("--interval", type=float, default=60, help="seconds between looks (default 60)")
    p.add_argument("--once", action="store_true", help="one pass: two looks --settle seconds apart")
    p.add_argument("--settle", type=float, default=5, help="with --once: seconds between the looks")
    p.add_argument("--db")
    p.set_defaults(func=cmd_watch)
    p = sub.add_parser("migrate-storage", help="move the big tables of an older database file into Parquet parts")
    p.add_argument("--db")
    p.set_defaults(func=cmd_migrate_storage)
    p = sub.add_parser("compact", help="rewrite months with many small files or superseded rows, fold the summaries' appended deltas (nightly)")
    p.add_argument("--db")
    p.set_defaults(func=cmd_compact)
    p = sub.add_parser("marts", help="the marts layer: --rebuild recomputes every mart from the records")
    p.add_argument("--rebuild", action="store_true",
                   help="rebuild every mart whole (drift repair; one atomic write)")
    p.add_argument("--db")
    p.set_defaults(func=cmd_marts)
    p = sub.add_parser("lake-export", help="write the database as a Hive-layout Parquet lake (Spark, Trino)")
    p.add_argument("dir", help="a new folder")
    p.add_argument("--db")
    p.set_defaults(func=cmd_lake_export)
    sub.add_parser("briefing", help="export the weekly briefing as PNG + PDF (see --help)", add_help=False)
    access_cli.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["briefing"]:
        return cmd_briefing(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
