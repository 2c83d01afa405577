"""python -m etl briefing: the command line of the briefing export (dashboard/briefing_export.py).

    python -m etl briefing --week 2026-W47 [--community NAME | --all-communities] --out DIR [--db PATH]
                           [--format desktop|phone]

Exit 0 when every scope was exported, 1 when some scope failed (its files are deleted), 2 when
nothing could be tried (bad week, no database, unknown community, the cockpit did not start).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from dashboard.briefing_export import FORMATS, BriefingError, export, scopes_for
from etl.dbfile import db_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m etl briefing",
                                description="PNG + one-page PDF of the weekly briefing per scope")
    p.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last complete week, "
                                  "so a Monday cron job needs no date arithmetic)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--community", help="one community (default: the whole street)")
    scope.add_argument("--all-communities", action="store_true",
                       help="the whole street and every community")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--db", help="database file (default: env COCKPIT_DB or data/cockpit.duckdb)")
    p.add_argument("--format", choices=list(FORMATS), default="desktop",
                   help="desktop: 1400 px PNG + one-page PDF; phone: a 1080 px wide portrait long PNG "
                        "for forwarding in a WeChat group")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from dashboard.queries.briefing import last_complete_week, parse_week

    args = parse_args(argv)
    args.week = args.week or last_complete_week(date.today())
    db = Path(args.db).resolve() if args.db else db_path()
    os.environ["COCKPIT_DB"] = str(db)      # the key file, sessions and audit log sit beside it
    started = time.perf_counter()
    try:
        if parse_week(args.week) is None:
            raise BriefingError(f"--week {args.week!r} is not an ISO week like 2026-W47")
        if not db.exists():
            raise BriefingError(f"no database at {db} - run `python -m etl demo` or `load` first")
        scopes = scopes_for(db, args.community, args.all_communities)
        done, failed = export(db, args.week.upper(), scopes, Path(args.out).resolve(), args.format)
    except BriefingError as exc:
        print(f"briefing FAILED: {exc}", file=sys.stderr)
        return 2
    for c in done:
        print(f"{c.scope}: {c.png}{f' {c.pdf}' if c.pdf else ''} ({c.height}px, {c.seconds:.1f} s)")
    for message in failed:
        print(f"briefing FAILED: {message}", file=sys.stderr)
    print(f"{len(done)} of {len(scopes)} scopes exported in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
