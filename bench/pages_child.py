"""One page, one new Python process: `python -m bench.pages_child PAGE [--from DATE]`.

Runs the page's full script (dashboard/app.py + the page) under Streamlit's AppTest twice in
this fresh process and prints one JSON line: {"cold": s, "warm": s} - cold is the first run
(nothing imported by the app yet, no cache, a new database connection), warm the second run of
the same session. What a real server does once when it starts, before any page - scanning the
installed packages for components (streamlit Runtime.__init__, ~0.2-0.4 s with this venv's
~300 distributions) - is done before the clock starts; AppTest would otherwise do it inside the
first run. The database is $COCKPIT_DB. Used by bench/bench_pages.py, one process per
measurement, so "cold" means what a freshly started server meets.
"""
from __future__ import annotations

import argparse
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


def run(page: str, date_from: str | None) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)
    at._bidi_component_manager = started_components()
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
    return {"cold": cold, "warm": warm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("--from", dest="date_from", default=None)
    args = ap.parse_args()
    for name in ("streamlit", *[n for n in logging.root.manager.loggerDict if n.startswith("streamlit")]):
        logging.getLogger(name).setLevel(logging.ERROR)
    print(json.dumps(run(args.page, args.date_from)), flush=True)


if __name__ == "__main__":
    main()
