"""Server-side sessions: a random token in a cookie, only its sha-256 on disk.

cockpit.sessions.json beside the key file maps sha256(token) to the key id (plus the key's
fingerprint, so rotating a key ends its sessions) or, for the briefing job, to a service
identity. Every page load resolves the token again, so a revoked, expired or rotated key
and a signed-out session stop working at once. Lifetime: env COCKPIT_SESSION_HOURS (default 8).
"""
from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from dashboard.access import keys, store
from dashboard.access.identity import Identity
from dashboard.access.paths import sessions_path
from dashboard.queries.base import Scope

COOKIE = "cockpit_session"
DEFAULT_HOURS = 8.0


def lifetime() -> timedelta:
    return timedelta(hours=float(os.environ.get("COCKPIT_SESSION_HOURS") or DEFAULT_HOURS))


def _empty() -> dict:
    return {"version": 1, "sessions": {}}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _save(entry: dict, path: Path | None, now: datetime) -> str:
    path = path or sessions_path()
    token = secrets.token_urlsafe(32)
    with store.locked(path):
        doc = store.read(path, _empty)
        doc["sessions"] = {h: s for h, s in doc["sessions"].items()
                           if datetime.fromisoformat(s["expires_at"]) > now}
        doc["sessions"][_digest(token)] = entry
        store.write(path, doc)
    return token


def start(record: keys.KeyRecord, now: datetime | None = None, path: Path | None = None,
          duration: timedelta | None = None) -> str:
    """A new session for a verified key; returns the token (for the cookie only)."""
    now = now or datetime.now()
    entry = {"key_id": record.id, "fingerprint": record.fingerprint,
             "created_at": now.isoformat(timespec="seconds"),
             "expires_at": (now + (duration or lifetime())).isoformat(timespec="seconds")}
    return _save(entry, path, now)


def start_service(name: str, scope: Scope, duration: timedelta, now: datetime | None = None,
                  path: Path | None = None) -> str:
    """A short session for a server-side job (the briefing export), with no key behind it."""
    now = now or datetime.now()
    entry = {"service": {"name": name, "role": scope.role, "party": scope.party,
                         "communities": list(scope.communities) if scope.communities else None},
             "created_at": now.isoformat(timespec="seconds"),
             "expires_at": (now + duration).isoformat(timespec="seconds")}
    return _save(entry, path, now)


def resolve(token: str | None, now: datetime | None = None, path: Path | None = None,
            keys_file: Path | None = None) -> Identity | None:
    """The identity behind a live token, or None (unknown, expired, key revoked/expired/rotated)."""
    if not token:
        return None
    now = now or datetime.now()
    entry = store.read(path or sessions_path(), _empty)["sessions"].get(_digest(token))
    if entry is None or datetime.fromisoformat(entry["expires_at"]) <= now:
        return None
    if "service" in entry:
        s = entry["service"]
        comms = tuple(s["communities"]) if s.get("communities") else None
        return Identity(name=s["name"], via="service",
                        scope=Scope(communities=comms, role=s["role"], party=s.get("party")))
    record = keys.find(entry["key_id"], keys_file)
    if record is None or record.fingerprint != entry["fingerprint"] or record.refusal(now.date()):
        return None
    return Identity(name=record.name, scope=record.scope, via="key", key_id=record.id)


def end(token: str | None, path: Path | None = None) -> None:
    """Sign out: the token stops working everywhere."""
    if not token:
        return
    path = path or sessions_path()
    with store.locked(path):
        doc = store.read(path, _empty)
        if doc["sessions"].pop(_digest(token), None) is not None:
            store.write(path, doc)
