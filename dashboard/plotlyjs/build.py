"""Build the cockpit's plotly.js bundle: `python -m dashboard.plotlyjs.build` (needs node and npm).

Only needed after changing TRACES or the pinned versions in package.json; the built file
(plotly-cockpit.min.js) and its manifest are committed, so running or testing the cockpit needs
no node. Steps, in a temporary directory: `npm ci` of package.json/package-lock.json (plotly.js
and esbuild at exact versions, from the npm registry), an entry script that registers TRACES
with plotly.js's core (which holds scatter), esbuild to one minified IIFE that defines
`var Plotly` (license comments kept at its end, non-ASCII characters as they are), then the
manifest: plotly.js's and esbuild's versions, the traces and the file's sha256 (checked when
the server sends it).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dashboard.plotlyjs import BUNDLE, HERE, MANIFEST, TRACES


def entry_script(traces: tuple[str, ...]) -> str:
    lines = [f"  require('plotly.js/lib/{name}')," for name in traces]
    return ("var Plotly = require('plotly.js/lib/core');\n"
            "Plotly.register([\n" + "\n".join(lines) + "\n]);\nmodule.exports = Plotly;\n")


def build() -> dict:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: building the plotly.js bundle needs node and npm")
    with tempfile.TemporaryDirectory(prefix="plotlyjs-") as tmp:
        work = Path(tmp)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, work / name)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=work, check=True)
        (work / "entry.js").write_text(entry_script(TRACES), "utf-8")
        subprocess.run([str(work / "node_modules" / ".bin" / "esbuild"), "entry.js", "--bundle",
                        "--minify", "--format=iife", "--global-name=Plotly", "--define:global=window",
                        "--legal-comments=eof", "--charset=utf8", "--log-level=warning",
                        f"--outfile={work / 'out.js'}"],
                       cwd=work, check=True)
        versions = {name: json.loads((work / "node_modules" / name / "package.json").read_text())["version"]
                    for name in ("plotly.js", "esbuild")}
        shutil.copy(work / "out.js", BUNDLE)
    data = BUNDLE.read_bytes()
    manifest = {**versions, "traces": list(TRACES), "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return manifest


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
