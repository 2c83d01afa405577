#!/usr/bin/env python3
"""One-command setup and run, needing nothing but Python 3.11 (standard library only).

    python3 cockpit.py demo     set up, load the demo data, start the cockpit on :8501
                                (demo --keys: also print one access key per role, see docs/ACCESS.md)
    python3 cockpit.py test     set up (incl. Debian chromium for browser tests), run all tests
                                (on two cores where the machine has them; pytest's own -n wins)
    python3 cockpit.py setup    only create .venv and install requirements.txt
    python3 cockpit.py run      start the cockpit on whatever COCKPIT_DB holds
    python3 cockpit.py bench    run the benchmarks (each writes its figures into docs/BENCHMARKS.md)

The virtual environment lives in .venv and is reinstalled when requirements.txt changes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".requirements.sha256"
APT_PACKAGES = ["chromium", "fonts-wqy-microhei"]


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def setup() -> None:
    """Create .venv and install the pinned requirements when they changed."""
    if sys.version_info[:2] < (3, 11):
        sys.exit(f"Python 3.11+ is required (this is {sys.version.split()[0]})")
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PY.exists():
        run([sys.executable, "-m", "venv", str(VENV)])
    run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", "requirements.txt"])
    STAMP.write_text(wanted)


def ensure_browser() -> None:
    """Debian's chromium and a CJK font for the briefing export and browser tests."""
    if Path("/usr/bin/chromium").exists() and Path("/usr/share/fonts/truetype/wqy").exists():
        return
    apt = shutil.which("apt-get")
    if not apt:
        sys.exit("chromium is missing and apt-get is not available: install chromium and "
                 "fonts-wqy-microhei with your package manager")
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    run([*prefix, apt, "update", "-qq"])
    run([*prefix, apt, "install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def streamlit_cmd(port: str = "8501") -> list[str]:
    return [str(PY), "-m", "streamlit", "run", "dashboard/web.py", "--server.port", port,
            "--browser.gatherUsageStats", "false", "--server.headless", "true"]


def test_workers(args: list[str]) -> list[str]:
    """pytest-xdist's `-n 2` when the machine has two cores or more and the arguments name no
    worker count: the full run takes about half the time (8 min against 14.5 on 2 cores). Two,
    not every core: each worker may start a Streamlit server and a Chromium of its own."""
    if (os.cpu_count() or 1) < 2 or "no:xdist" in args or any(
            a.startswith(("-n", "--numprocesses")) for a in args):
        return []
    return ["-n", "2"]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    rest = argv[1:]
    if command == "setup":
        setup()
    elif command == "demo":
        setup()
        run([str(PY), "-m", "etl", "demo", *rest])
        print("\nCockpit: http://localhost:8501  (Ctrl+C to stop)", flush=True)
        run(streamlit_cmd())
    elif command == "run":
        setup()
        run(streamlit_cmd(*rest[:1]))
    elif command == "test":
        setup()
        ensure_browser()
        run([str(PY), "-m", "pytest", *test_workers(rest), *rest])
    elif command == "bench":
        setup()
        ensure_browser()
        for script in sorted((ROOT / "bench").glob("bench_*.py")):
            run([str(PY), "-m", f"bench.{script.stem}", *rest])
    else:
        print(__doc__)
        return 0 if command in ("help", "-h", "--help") else 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
    except KeyboardInterrupt:
        sys.exit(130)
