"""One page, one new Python process: `python -m bench.pages_child PAGE [--from DATE] [--bare]`.

Runs the page's full script (dashboard/app.py + the page) under Streamlit's AppTest twice in
this fresh process and prints one JSON line: {"startup": s, "cold": s, "warm": s} - cold is the
first run (no query result cached, no page run before it), warm the second run of the same
session. The database is $COCKPIT_DB. Used by bench/bench_pages.py, one process per
measurement, so "cold" means what the first visitor of a freshly started server meets.

Before the clock starts, the process does what the real server does once before it answers its
health check (so before any visitor can open a page), and `startup` is that time:
- scanning the installed packages for components (streamlit Runtime.__init__, ~0.2-0.4 s with
  this venv's ~300 distributions); AppTest would otherwise do it inside the first run;
- dashboard/web.py's lifespan: `warmup.start()` (import what the scripts import, Streamlit's
  once-per-process first-element costs, open the shared read-only DuckDB connection and scan
  the catalog tables the page queries name) and `warmup.freeze()`. Nothing of it is a query
  result: every page query still runs in the timed first run, under its scope and filters.
`--bare` leaves the lifespan out (the definition of "cold" before 2026-12-01: the first run
then also paid the imports and the database's opening, which no visitor of a started server
waits for).
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import time
from pathlib import Path

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def started_components():
    """The component registry a started server holds (Runtime.__init__ discovers the installed
    components once); AppTest reuses one it is given instead of scanning in its first run."""
    from streamlit.components.v2.component_manager import BidiComponentManager

    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    return manager


def server_startup() -> None:
    """dashboard/web.py's lifespan, as the server runs it before answering."""
    from dashboard import warmup

    warmup.start()
    warmup.freeze()


def run(page: str, date_from: str | None, bare: bool = False) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    t0 = time.perf_counter()
    components = started_components()
    if not bare:
        server_startup()
    startup = time.perf_counter() - t0
    at = AppTest.from_file(APP, default_timeout=600)
    at._bidi_component_manager = components
    if date_from:
        at.query_params["from"] = date_from
    if page != "overview":
        at.switch_page(f"../pages/{page}.py")
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    t0 = time.perf_counter()
    at.run()
    warm = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page} (second run): {at.exception[0].value}")
    if not bare:
        gc.unfreeze()                   # as the lifespan does when the server stops
    return {"startup": startup, "cold": cold, "warm": warm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("--from", dest="date_from", default=None)
    ap.add_argument("--bare", action="store_true", help="no server lifespan before the clock")
    args = ap.parse_args()
    for name in ("streamlit", *[n for n in logging.root.manager.loggerDict if n.startswith("streamlit")]):
        logging.getLogger(name).setLevel(logging.ERROR)
    print(json.dumps(run(args.page, args.date_from, args.bare)), flush=True)


if __name__ == "__main__":
    main()
