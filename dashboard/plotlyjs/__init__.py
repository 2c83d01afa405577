"""The cockpit's own plotly.js: the trace types its charts draw, not the whole library.

Streamlit's PlotlyChart chunk (4.7 MB) holds all of plotly.js: maps, 3D, WebGL, finance, …
Every new page document in the browser parses and runs it before its first chart is drawn,
the biggest share of a chart page's time in the browser (docs/BENCHMARKS.md, "Where a page's
browser time goes"). The cockpit draws five trace types (TRACES, and scatter, which is part
of plotly.js's core), so dashboard/web_assets.py sends the chunk with its plotly.js module
swapped for a bundle of only those (plotly-cockpit.min.js, 1.4 MB, built from plotly.js's own
sources by build.py). Streamlit's chart element, its theme and every figure stay as they are.

`rewrite()` finds the one CommonJS module in the chunk that is plotly.js's UMD file and
replaces its body; if the chunk does not have exactly that shape (another Streamlit build),
the chunk is sent unchanged and a warning logged. tests/test_plotlyjs.py checks the shape on
the installed Streamlit, the bundle's integrity and version, and that every trace type the
code draws is in it; the browser tests draw every page with it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLE = HERE / "plotly-cockpit.min.js"
MANIFEST = HERE / "manifest.json"
# the trace types the bundle registers besides plotly.js core's scatter (build.py writes them
# into the bundle's entry; tests/test_plotlyjs.py checks the charts draw no other)
TRACES = ("bar", "heatmap", "scatterpolar", "sankey")
# "1" sends Streamlit's chunk unchanged, with the whole of plotly.js (for comparisons)
FULL_SWITCH = "COCKPIT_FULL_PLOTLY"

log = logging.getLogger(__name__)

# rolldown's CommonJS wrapper around plotly.js's UMD file:
#   var W=n(((e,t,n)=>{(function(e,n){typeof t==`object`&&t.exports?t.exports=n():e.moduleName=n()})
#   (…,()=>{…return window.Plotly=e,e})}))
_START = re.compile(
    r"var (?P<var>[\w$]+)=(?P<wrap>[\w$]+)\(\(\((?P<a>[\w$]+),(?P<module>[\w$]+),(?P<c>[\w$]+)\)=>\{"
    r"\(function\([\w$]+,[\w$]+\)\{typeof (?P=module)==`object`&&(?P=module)\.exports\?"
    r"(?P=module)\.exports=[\w$]+\(\):[\w$]+\.moduleName=[\w$]+\(\)\}\)")
_END = re.compile(r"return window\.Plotly=([\w$]+),\1\}\)\}\)\)")


def rewrite(chunk: str, bundle: str) -> str | None:
    """`chunk` with its plotly.js module's body replaced by `bundle` (an IIFE that defines
    `var Plotly`), or None if the chunk does not hold exactly one such module."""
    starts, ends = list(_START.finditer(chunk)), list(_END.finditer(chunk))
    if len(starts) != 1 or len(ends) != 1 or ends[0].start() < starts[0].end():
        return None
    s, e = starts[0], ends[0]
    head = f"var {s['var']}={s['wrap']}((({s['a']},{s['module']},{s['c']})=>{{"
    body = f"{bundle}\n;{s['module']}.exports=Plotly}}))"
    return chunk[:s.start()] + head + body + chunk[e.end():]


def manifest() -> dict:
    return json.loads(MANIFEST.read_text("utf-8"))


@lru_cache(maxsize=4)
def chunk_bytes(original: bytes) -> bytes:
    """The PlotlyChart chunk as the cockpit sends it (the original if it cannot be rewritten)."""
    bundle = BUNDLE.read_bytes()
    if hashlib.sha256(bundle).hexdigest() != manifest()["sha256"]:
        log.warning("%s does not match %s: sending Streamlit's plotly.js", BUNDLE.name, MANIFEST.name)
        return original
    new = rewrite(original.decode("utf-8"), bundle.decode("utf-8"))
    if new is None:
        log.warning("Streamlit's PlotlyChart chunk has an unknown shape: sending it unchanged")
        return original
    return new.encode("utf-8")
