"""The cockpit's own plotly.js (dashboard/plotlyjs): the committed bundle is the one its manifest
describes, of the plotly.js version plotly.py writes figures for, with every trace type the
charts draw; the PlotlyChart chunk of the installed Streamlit takes it in place of its plotly.js
module and is otherwise unchanged; anything unexpected sends Streamlit's chunk as it is.
tests/test_static_cache.py checks how the server sends it, tests/e2e/test_browser.py that every
chart draws each trace with it."""
from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from dashboard import plotlyjs
from dashboard.plotlyjs import build
from dashboard.web_assets import chunk
from sweep import left_to_full_run

REPO = Path(__file__).resolve().parents[1]
PLOTLY = chunk("PlotlyChart")


@pytest.fixture(scope="module")
def original() -> str:
    assert PLOTLY is not None, "Streamlit no longer has one PlotlyChart.<hash>.js chunk"
    return PLOTLY.read_text("utf-8")


def test_the_bundle_is_the_one_its_manifest_describes():
    manifest, data = plotlyjs.manifest(), plotlyjs.BUNDLE.read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == len(data)
    assert tuple(manifest["traces"]) == plotlyjs.TRACES, "run python -m dashboard.plotlyjs.build"
    package = json.loads((plotlyjs.HERE / "package.json").read_text("utf-8"))["dependencies"]
    assert package == {"esbuild": manifest["esbuild"], "plotly.js": manifest["plotly.js"]}   # exact pins
    lock = json.loads((plotlyjs.HERE / "package-lock.json").read_text("utf-8"))["packages"]
    assert lock["node_modules/plotly.js"]["version"] == manifest["plotly.js"]


def test_the_bundle_is_the_plotly_js_plotly_py_writes_figures_for():
    text = plotlyjs.BUNDLE.read_text("utf-8")
    assert re.findall(r'\bversion="(\d+\.\d+\.\d+)"', text) == [plotlyjs.manifest()["plotly.js"]]
    assert plotlyjs.manifest()["plotly.js"] == get_plotlyjs_version()
    assert text.startswith("var Plotly=(()=>{")          # the IIFE rewrite() expects
    assert "MIT" in text and (plotlyjs.HERE / "LICENSE-plotly.js.txt").read_text().startswith("MIT License")


def test_the_build_registers_each_trace_type():
    entry = build.entry_script(plotlyjs.TRACES)
    assert entry.startswith("var Plotly = require('plotly.js/lib/core');")
    assert re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry) == ["core", *plotlyjs.TRACES]


def _trace_types_in(path: Path) -> set[str]:
    """The plotly trace types a module builds: go.<Trace>(…) calls and type="…" in trace dicts."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "go":
            cls = getattr(go, node.attr, None)
            if isinstance(cls, type) and issubclass(cls, BaseTraceType):
                found.add(cls().type)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("add_trace", "add_traces"):
            for kw in node.keywords:
                if kw.arg == "type" and isinstance(kw.value, ast.Constant):
                    found.add(kw.value.value)
    return found


@left_to_full_run
def test_every_trace_type_the_code_draws_is_in_the_bundle():
    used = set().union(*(_trace_types_in(p) for folder in ("dashboard", "pages")
                         for p in (REPO / folder).rglob("*.py")))
    assert {"bar", "scatter", "sankey", "heatmap", "scatterpolar"} <= used    # the scan finds them
    assert used <= {"scatter", *plotlyjs.TRACES}, used - {"scatter", *plotlyjs.TRACES}
    assert not any(re.search(r"\bpx\.\w+\(", p.read_text("utf-8")) for folder in ("dashboard", "pages")
                   for p in (REPO / folder).rglob("*.py")), "plotly.express: add its trace types here"


def test_the_chunk_takes_the_bundle_in_place_of_its_plotly_js(original):
    bundle = plotlyjs.BUNDLE.read_text("utf-8")
    new = plotlyjs.rewrite(original, bundle)
    assert new is not None and bundle in new
    start = new.index(bundle)
    head = new[:start]
    # Streamlit's code before the module and after it is the chunk's, byte for byte
    assert original.startswith(head[:head.rindex("var ")]) and head.endswith("=>{")
    tail = new[start + len(bundle):]
    module = re.match(r"\n;([\w$]+)\.exports=Plotly\}\)\)", tail)
    assert module and original.endswith(tail[module.end():])
    assert len(new) < len(original) / 3
    assert "maplibre" in original and "maplibre" not in new          # maps and the rest are gone
    assert new.startswith("import") and "export{" in tail          # still the ES module Streamlit imports
    assert plotlyjs.chunk_bytes(original.encode("utf-8")) == new.encode("utf-8")


def test_a_chunk_of_another_shape_is_left_alone(original):
    bundle = plotlyjs.BUNDLE.read_text("utf-8")
    assert plotlyjs.rewrite("import{a}from'./b.js';export{a};", bundle) is None
    start = re.search(r"var [\w$]+=[\w$]+\(\(\(", original).start()
    twice = original[:start] + original[start:] + ";" + original[start:]
    assert plotlyjs.rewrite(twice, bundle) is None                    # two plotly.js modules
    no_end = original.replace("return window.Plotly=", "return window.NotPlotly=")
    assert plotlyjs.rewrite(no_end, bundle) is None
    plotlyjs.chunk_bytes.cache_clear()
    try:
        assert plotlyjs.chunk_bytes(b"import{a}from'./b.js';") == b"import{a}from'./b.js';"
    finally:
        plotlyjs.chunk_bytes.cache_clear()


def test_a_bundle_that_does_not_match_its_manifest_is_not_sent(original, tmp_path, monkeypatch, caplog):
    wrong = tmp_path / "manifest.json"
    wrong.write_text(json.dumps({**plotlyjs.manifest(), "sha256": "0" * 64}), "utf-8")
    monkeypatch.setattr(plotlyjs, "MANIFEST", wrong)
    plotlyjs.chunk_bytes.cache_clear()
    try:
        assert plotlyjs.chunk_bytes(original.encode("utf-8")) == original.encode("utf-8")
        assert "does not match" in caplog.text
    finally:
        plotlyjs.chunk_bytes.cache_clear()
