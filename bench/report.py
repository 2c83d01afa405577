"""What every benchmark shares: the demo database it measures, the machine line, and writing its
own section of docs/BENCHMARKS.md (between its start/end markers, so a rerun replaces it)."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "BENCHMARKS.md"


def build_demo(db: Path, scale: float, end: date, inbox: Path | None = None) -> None:
    """The demo generator's exports through the real ETL (`python -m etl demo`) into `db`."""
    inbox = inbox or db.with_name(db.stem + "_inbox")
    db.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "etl", "demo", "--scale", f"{scale:g}",
                    "--end", end.isoformat(), "--db", str(db), "--inbox", str(inbox)],
                   check=True, cwd=REPO)
    shutil.rmtree(inbox, ignore_errors=True)


def machine() -> str:
    """CPU, memory, OS and versions, and the load average when the run starts."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except OSError:
        mem = float("nan")
    import duckdb
    import streamlit
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} vCPU {model}, {mem:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
            f"Streamlit {streamlit.__version__}; load average at start {load:.1f}")


def write_section(start: str, end: str, section: str, doc: Path = DOC) -> None:
    """Put `section` between the markers `start` and `end` (appended when they are missing)."""
    text = doc.read_text("utf-8")
    block = f"{start}\n{section.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, "utf-8")
