"""A real cockpit server with sign-in switched on, for the access browser tests.

Started by dashboard.cockpit_server.cockpit like every test cockpit, plus env
COCKPIT_ACCESS_DIR for a private key file / session store / SSO mapping / audit log, and
optionally a secrets.toml (--secrets.files) holding the [auth] section for st.login().
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from dashboard.cockpit_server import Server
from dashboard.cockpit_server import cockpit as start_cockpit


@contextlib.contextmanager
def cockpit(db: Path, access_dir: Path, port: int | None = None,
            secrets: Path | None = None) -> Iterator[Server]:
    args = ("--secrets.files", str(secrets)) if secrets is not None else ()
    with start_cockpit(db, port, env={"COCKPIT_ACCESS_DIR": str(access_dir)}, args=args) as server:
        yield server
