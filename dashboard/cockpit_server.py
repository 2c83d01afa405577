"""The real cockpit on a free localhost port, for the briefing export and the browser tests.

`with cockpit(db) as server:` runs `python -m streamlit run dashboard/web.py` (the cockpit's web
server: Streamlit running dashboard/app.py with dashboard/web_assets.py's middleware, as
`cockpit.py run` starts it) against that database file until the block ends; `server.url` is its
base URL.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from etl.dbfile import REPO_ROOT

START_TIMEOUT_S = 60
ENTRY = "dashboard/web.py"            # what `streamlit run` starts (cockpit.py uses the same)


class CockpitError(RuntimeError):
    """The cockpit process exited or did not answer its health check; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running cockpit: its base URL; `wait()` blocks until /_stcore/health answers ok."""
    url: str
    proc: subprocess.Popen
    log: Path

    def wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CockpitError(f"the cockpit exited ({self.proc.returncode}):\n{_tail(self.log)}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.read().strip() == b"ok":
                        return
            time.sleep(0.05)
        raise CockpitError(f"the cockpit did not answer /_stcore/health in {START_TIMEOUT_S} s:\n"
                            f"{_tail(self.log)}")


@contextlib.contextmanager
def cockpit(db: Path, port: int | None = None, wait: bool = True, *,
            env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Iterator[Server]:
    """Run the real cockpit on a free localhost port until the block ends.

    wait=False returns as soon as the process is started (call .wait() before using it),
    so the browser can launch while the server boots. `env` adds variables (e.g. a private
    COCKPIT_ACCESS_DIR), `args` Streamlit options (e.g. --secrets.files for single sign-on).
    """
    port = port or free_port()
    env = {**os.environ, "COCKPIT_DB": str(db), "PYTHONUNBUFFERED": "1", **(env or {})}
    log = tempfile.NamedTemporaryFile(prefix="cockpit-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "streamlit", "run", ENTRY,
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", *args]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, Path(log.name))
    try:
        if wait:
            server.wait()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def _tail(log: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""

