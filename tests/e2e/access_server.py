"""A real cockpit server with sign-in switched on, for the access browser tests.

Started like dashboard.cockpit_server.cockpit starts it, plus env COCKPIT_ACCESS_DIR for a
private key file / session store / SSO mapping / audit log, and optionally a secrets.toml
(--secrets.files) holding the [auth] section for st.login().
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from dashboard.cockpit_server import Server, free_port
from etl.dbfile import REPO_ROOT


@contextlib.contextmanager
def cockpit(db: Path, access_dir: Path, port: int | None = None,
            secrets: Path | None = None) -> Iterator[Server]:
    port = port or free_port()
    env = {**os.environ, "COCKPIT_DB": str(db), "COCKPIT_ACCESS_DIR": str(access_dir),
           "PYTHONUNBUFFERED": "1"}
    log = tempfile.NamedTemporaryFile(prefix="cockpit-access-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    if secrets is not None:
        cmd += ["--secrets.files", str(secrets)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, Path(log.name))
    try:
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
