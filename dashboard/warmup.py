"""Server start-up: import what the pages import, open the database, before the first visitor.

A freshly started cockpit used to import pandas' extras, plotly's figure classes, the query and
chart modules on the first page run, while that visitor's browser waited. `preload()` imports
them while the server starts (dashboard/web.py's lifespan, before /_stcore/health answers), so
the first visit after a restart costs what a later one does. The module list is read from the
scripts' own import statements (dashboard/app.py and pages/*.py), so it follows the code.

`warm_streamlit()` pays what Streamlit does once per process on a page's first elements
(measured, docs/BENCHMARKS.md "What a freshly started server's first page pays"): its first
element calls `env_util.is_repl()`, whose `inspect.stack()` maps every imported module to its
file on first use (~0.06 s CPU), and the first alert or label in Chinese imports
`streamlit.emojis` and compiles its emoji pattern to look for a leading icon (~0.1 s CPU).

`warm_database()` then opens the pages' shared read-only connection (dashboard.cache: the
DuckDB instance, its sandbox settings, the has-data check) and reads once through every catalog
table the page queries name (`page_tables()`, read from the query constants of
dashboard/queries), so DuckDB has their blocks in its buffer pool. Nothing user-specific is
computed or cached: the scans' results are dropped, no query result enters dashboard.cache's
result cache, and what a page shows is still read under its visitor's scope and filters.
Parquet-backed tables (views over the parts) are not read: DuckDB reads their footers once per
file at the first query anyway (parquet_metadata_cache) and keeps no decoded data to warm.
`start()` runs the three (dashboard/web.py's lifespan). A step failing is logged and the
server starts all the same.

`freeze()` then moves everything start-up built (~125k objects: modules, classes, functions, the
connection) into the garbage collector's permanent generation (`gc.freeze()`). Streamlit runs a
full collection after every script run (`runner.postScriptGC`), holding the GIL while the page's
last messages wait to be sent; it walked all of those objects each time (~0.07 s CPU per page
view) and now walks only what was made since (~0.005 s). What is frozen is still freed by
reference counting; only a reference cycle among those start-up objects, were it to become
garbage, would wait for `gc.unfreeze()` (web.py's lifespan calls it when the server stops).
"""
from __future__ import annotations

import ast
import gc
import importlib
import logging
import pkgutil
import string
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = (ROOT / "dashboard" / "app.py", *sorted((ROOT / "pages").glob("*.py")))
ALSO = ("plotly.graph_objects", "plotly.io")
QUERIES = "dashboard.queries"
# one scan over every column of a catalog table that loads its blocks and keeps nothing
# (any_value reads each value; count(col) would be answered from statistics without reading)
SCAN = "SELECT any_value(COLUMNS(*)) FROM {{{table}}}"
# tables stored in the catalog file (not views over Parquet parts), small enough to scan at start:
# the summaries are well below it at 10M reports (the largest, pain_point_daily, 1.2M rows); a
# record table still inside an old single-file catalog is not read whole while the server starts
MAX_ROWS = 3_000_000
CATALOG_TABLES = """
    SELECT table_name FROM duckdb_tables()
    WHERE database_name = current_database() AND schema_name = 'main'
      AND estimated_size <= $max_rows"""
log = logging.getLogger(__name__)


def script_imports(scripts=SCRIPTS) -> list[str]:
    """The modules the Streamlit scripts import at their top level (not run: they are scripts)."""
    names: set[str] = set()
    for script in scripts:
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return sorted(names)


def preload() -> list[str]:
    """Import every module the scripts import, and draw one figure's JSON (plotly's validators)."""
    loaded = []
    for name in [*script_imports(), *ALSO]:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except ImportError:          # `from package import function`: the name is not a module
            continue
    import plotly.graph_objects as go
    go.Figure(go.Bar(x=["a"], y=[1])).to_json()
    log.debug("preloaded %d modules", len(loaded))
    return loaded


def start() -> None:
    """Everything above, before the server answers its health check; never raises."""
    t0 = time.perf_counter()
    for step in (preload, warm_streamlit, warm_database):
        try:
            step()
        except Exception:   # a warm-up is an optimisation: the pages do the same work when it fails
            log.warning("start-up warm-up step %s failed", step.__name__, exc_info=True)
    log.info("start-up warm-up done in %.2f s", time.perf_counter() - t0)


def freeze() -> int:
    """Collect once, then leave every object alive now out of later collections (module
    docstring); returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("froze %d start-up objects out of the garbage collector's passes", frozen)
    return frozen


def warm_streamlit() -> None:
    """Streamlit's once-per-process costs of a page's first elements (module docstring), with
    a text of the UI's own default language."""
    from streamlit import env_util, string_util

    from dashboard.i18n import t

    env_util.is_repl()
    string_util.extract_leading_emoji(t("app.title", "zh"))


def page_tables() -> set[str]:
    """The tables (access-rule names) the page queries read: every `{table}` reference in the
    string constants of dashboard/queries' modules."""
    from dashboard.queries import base

    names: set[str] = set()
    package = importlib.import_module(QUERIES)
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{QUERIES}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, str) and "{" in value:
                try:
                    names.update(n for _, n, _, _ in string.Formatter().parse(value) if n in base.RULES)
                except ValueError:          # not a format template (e.g. a regex)
                    continue
    return names


def warm_database() -> list[str]:
    """Open the pages' shared connection and scan the catalog tables the pages read (module
    docstring); returns the tables scanned. Failures are logged, never raised."""
    try:
        return _warm_database()
    except Exception:        # a broken or missing file must not stop the server: pages report it
        log.warning("database warm-up failed; the first page opens it instead", exc_info=True)
        return []


def _warm_database() -> list[str]:
    from dashboard import cache
    from dashboard.queries.base import FULL_SCOPE, fetch, use_scope

    t0 = time.perf_counter()
    con = cache.connection()
    if con is None or not cache.has_data():
        return []
    cursor = con.cursor()
    try:
        with use_scope(FULL_SCOPE):
            stored = set(fetch(cursor, CATALOG_TABLES, {"max_rows": MAX_ROWS})["table_name"])
            tables = sorted(page_tables() & stored)
            for table in tables:
                fetch(cursor, SCAN.format(table=table))
    finally:
        cursor.close()
    log.info("database warmed in %.2f s: %d catalog tables", time.perf_counter() - t0, len(tables))
    return tables
