"""The audit log: one JSON line per action, append-only, hash-chained, outside the database.

    {"seq": 42, "at": "2026-11-29T18:05:14.123456", "who": "阳光社区居委会", "via": "key",
     "role": "community", "scope": {"communities": ["阳光社区"], "party": null},
     "action": "export", "page": "explore", "format": "csv", "rows": 120, ...,
     "prev": "<hash of entry 41>", "hash": "<sha-256 of this entry without 'hash'>"}

`record(action, **fields)` is the one API. Appends take an exclusive flock on the file opened
O_APPEND, read the last entry for its number and hash, and write one line; audit.head keeps
the last number and hash so a cut tail is noticed too. `verify()` walks the chain and names
the first altered or missing entry (`python -m etl audit verify`). The key is never written:
`who` is the key's name or the SSO identity.
"""
from __future__ import annotations

import contextlib
import contextvars
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from dashboard.access.identity import OPEN, Identity
from dashboard.access.paths import AUDIT_HEAD_FILE, audit_path, private_write

ACTIONS = ("sign_in", "sign_in_failed", "sign_out", "page_view", "export",
           "briefing_export", "drill_down", "sql_query")
GENESIS = "0" * 64
_actor: contextvars.ContextVar[Identity] = contextvars.ContextVar("audit_actor", default=OPEN)


@contextlib.contextmanager
def use_actor(identity: Identity) -> Iterator[None]:
    """Attribute the records made inside the block to `identity` (app.py sets it per run)."""
    token = _actor.set(identity)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> Identity:
    return _actor.get()


def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


def entry_hash(entry: dict) -> str:
    """sha-256 over the entry without its own 'hash' (it includes 'prev', which chains it)."""
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _last_line(fd: int) -> bytes | None:
    end = os.lseek(fd, 0, os.SEEK_END)
    pos, tail = end, b""
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        os.lseek(fd, pos, os.SEEK_SET)
        tail = os.read(fd, step) + tail
        lines = tail.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or pos == 0:
            return lines[-1] or None
    return None


def head_path(path: Path) -> Path:
    return path.with_name(AUDIT_HEAD_FILE) if path.name == "audit.jsonl" else path.with_suffix(".head")


def record(action: str, *, actor: Identity | None = None, path: Path | None = None, **fields) -> dict:
    """Append one entry; fields are what happened (page, filters, sql, rows, format, ...)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who = actor or current_actor()
    path = path or audit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        prev = json.loads(last) if last else {"seq": 0, "hash": GENESIS}
        scope = who.scope
        entry = {"seq": prev["seq"] + 1, "at": datetime.now().isoformat(timespec="microseconds"),
                 "who": who.name, "via": who.via, "role": scope.role,
                 "scope": {"communities": list(scope.communities) if scope.communities else None,
                           "party": scope.party},
                 "action": action, **{k: v for k, v in fields.items() if v is not None},
                 "prev": prev["hash"]}
        entry["hash"] = entry_hash(entry)
        os.write(fd, _canonical(entry) + b"\n")
        private_write(head_path(path), _canonical({"seq": entry["seq"], "hash": entry["hash"]}))
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return entry


@dataclass
class Verdict:
    ok: bool
    entries: int
    problem: str | None = None
    line: int | None = None


def verify(path: Path | None = None) -> Verdict:
    """Walk the chain; the first altered, reordered or missing entry makes it fail, named by line."""
    path = path or audit_path()
    if not path.exists():
        return Verdict(True, 0)
    expected_prev, n = GENESIS, 0
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                entry = json.loads(raw)
            except ValueError:
                return Verdict(False, n - 1, f"line {n}: not a valid entry (altered)", n)
            seq = entry.get("seq")
            if seq != n:
                what = f"entry {n} is missing (line {n} holds entry {seq})" if isinstance(seq, int) \
                    and seq > n else f"line {n}: entry number {seq!r}, expected {n} (altered)"
                return Verdict(False, n - 1, what, n)
            if entry.get("prev") != expected_prev or entry.get("hash") != entry_hash(entry):
                return Verdict(False, n - 1, f"line {n} (entry {n}) was altered", n)
            expected_prev = entry["hash"]
    head = head_path(path)
    if head.exists():
        mark = json.loads(head.read_text("utf-8"))
        if mark["seq"] > n:
            return Verdict(False, n, f"entries {n + 1}..{mark['seq']} are missing (the log was cut)",
                           n + 1)
        if mark["seq"] == n and mark["hash"] != expected_prev:
            return Verdict(False, n, f"line {n} (entry {n}) was altered", n)
    return Verdict(True, n)


def entries(path: Path | None = None) -> list[dict]:
    """Every entry, oldest first (for the leaders' audit page)."""
    path = path or audit_path()
    if not path.exists():
        return []
    with path.open("rb") as fh:
        return [json.loads(line) for line in fh if line.strip()]
