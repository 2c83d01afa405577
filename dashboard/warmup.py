"""Server start-up: import what the pages import before the first visitor arrives.

A freshly started cockpit used to import pandas' extras, plotly's figure classes, the query and
chart modules on the first page run, while that visitor's browser waited. `preload()` imports
them while the server starts (dashboard/web.py's lifespan, before /_stcore/health answers), so
the first visit after a restart costs what a later one does. The module list is read from the
scripts' own import statements (dashboard/app.py and pages/*.py), so it follows the code.
"""
from __future__ import annotations

import ast
import importlib
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = (ROOT / "dashboard" / "app.py", *sorted((ROOT / "pages").glob("*.py")))
ALSO = ("plotly.graph_objects", "plotly.io")
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
