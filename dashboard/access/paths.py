"""Where the access files live: beside the database file (env COCKPIT_DB), or env COCKPIT_ACCESS_DIR."""
from __future__ import annotations

import os
from pathlib import Path

from etl.dbpath import db_path

KEYS_FILE = "cockpit.keys.json"         # salted scrypt hashes of the access keys
SESSIONS_FILE = "cockpit.sessions.json"  # sha-256 of the live session tokens
SSO_FILE = "cockpit.sso.json"           # identity (email or subject) -> role and scope
AUDIT_FILE = "audit.jsonl"              # the hash-chained audit log
AUDIT_HEAD_FILE = "audit.head"          # the last entry's number and hash (catches a cut tail)


def access_dir() -> Path:
    configured = os.environ.get("COCKPIT_ACCESS_DIR")
    return Path(configured).resolve() if configured else db_path().parent


def keys_path() -> Path:
    return access_dir() / KEYS_FILE


def sessions_path() -> Path:
    return access_dir() / SESSIONS_FILE


def sso_path() -> Path:
    return access_dir() / SSO_FILE


def audit_path() -> Path:
    return access_dir() / AUDIT_FILE


def private_write(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, readable by the owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
