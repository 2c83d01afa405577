"""Access keys: `ck_<id>_<secret>`, shown once; only a salted scrypt hash is kept.

The key file (cockpit.keys.json beside the database, mode 0600) holds one record per key:
id, name, role, scope, salt, hash, created/expiry/revocation. The id in the key finds the
record without hashing every stored key; the secret is checked with scrypt and compared in
constant time (hmac.compare_digest). A key that was ever issued keeps the cockpit closed:
revoking the last key does not reopen it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from dashboard.access import store
from dashboard.access.paths import keys_path
from dashboard.queries.base import ROLES, Scope

PREFIX = "ck"
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}      # ~16 MB and ~50 ms per check
_KEY = re.compile(r"^ck_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
_DUMMY_SALT = b"\0" * 16


class KeyRefused(ValueError):
    """A refused key or a bad key command; .reason is a short code (unknown, revoked, expired...)."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    role: str
    communities: tuple[str, ...] | None
    party: str | None
    fingerprint: str          # first 16 hex of the stored hash: changes when the key is rotated
    created_at: str
    expires_on: str | None
    revoked_at: str | None

    @property
    def scope(self) -> Scope:
        return Scope(communities=self.communities, role=self.role, party=self.party)

    def refusal(self, today: date) -> str | None:
        """None while the key may be used; else 'revoked' or 'expired'."""
        if self.revoked_at:
            return "revoked"
        if self.expires_on and date.fromisoformat(self.expires_on) < today:
            return "expired"
        return None


def _empty() -> dict:
    return {"version": 1, "keys": []}


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, dklen=32, maxmem=64 * 1024 * 1024,
                          **SCRYPT)


def _record(raw: dict) -> KeyRecord:
    comms = raw.get("communities")
    return KeyRecord(id=raw["id"], name=raw["name"], role=raw["role"],
                     communities=tuple(comms) if comms is not None else None,
                     party=raw.get("party"), fingerprint=raw["hash"][:16],
                     created_at=raw["created_at"], expires_on=raw.get("expires_on"),
                     revoked_at=raw.get("revoked_at"))


def records(path: Path | None = None) -> list[KeyRecord]:
    return [_record(r) for r in store.read(path or keys_path(), _empty)["keys"]]


def find(key_id: str, path: Path | None = None) -> KeyRecord | None:
    for r in store.read(path or keys_path(), _empty)["keys"]:
        if r["id"] == key_id:
            return _record(r)
    return None


def configured(path: Path | None = None) -> bool:
    """True once any key was ever issued (revoked ones included)."""
    return bool(store.read(path or keys_path(), _empty)["keys"])


def check_scope(role: str, communities: list[str] | None, party: str | None) -> None:
    if role not in ROLES:
        raise KeyRefused("bad_role", f"role must be one of {', '.join(ROLES)}")
    if role == "community" and not communities:
        raise KeyRefused("bad_scope", "a community key needs --community NAME")
    if role == "partner" and not party:
        raise KeyRefused("bad_scope", "a partner key needs --party NAME")
    if role not in ("community",) and communities:
        raise KeyRefused("bad_scope", "--community is only for the community role")
    if role != "partner" and party:
        raise KeyRefused("bad_scope", "--party is only for the partner role")


def _new_secret(raw: dict) -> str:
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    raw["salt"] = base64.b64encode(salt).decode()
    raw["hash"] = _hash(secret, salt).hex()
    return f"{PREFIX}_{raw['id']}_{secret}"


def add(role: str, name: str, communities: list[str] | None = None, party: str | None = None,
        expires_on: date | None = None, path: Path | None = None) -> tuple[KeyRecord, str]:
    """Issue a key: (its record, the key in clear - shown once, never stored)."""
    check_scope(role, communities, party)
    path = path or keys_path()
    with store.locked(path):
        doc = store.read(path, _empty)
        raw = {"id": secrets.token_hex(6), "name": name, "role": role,
               "communities": list(communities) if communities else None, "party": party,
               "created_at": datetime.now().isoformat(timespec="seconds"),
               "expires_on": expires_on.isoformat() if expires_on else None, "revoked_at": None}
        key = _new_secret(raw)
        doc["keys"].append(raw)
        store.write(path, doc)
    return _record(raw), key


def _change(ident: str, path: Path | None, change) -> tuple[KeyRecord, object]:
    """Apply change(raw) to the one key whose id or name is `ident`."""
    path = path or keys_path()
    with store.locked(path):
        doc = store.read(path, _empty)
        hits = [r for r in doc["keys"] if ident in (r["id"], r["name"])]
        if not hits:
            raise KeyRefused("unknown", f"no key with id or name {ident!r}")
        if len(hits) > 1:
            raise KeyRefused("ambiguous", f"{len(hits)} keys are named {ident!r}: use the id")
        result = change(hits[0])
        store.write(path, doc)
    return _record(hits[0]), result


def revoke(ident: str, path: Path | None = None) -> KeyRecord:
    def change(raw):
        raw["revoked_at"] = raw.get("revoked_at") or datetime.now().isoformat(timespec="seconds")
    return _change(ident, path, change)[0]


def rotate(ident: str, path: Path | None = None) -> tuple[KeyRecord, str]:
    """A new secret for the same key id, name and scope; the old key and its sessions stop working."""
    def change(raw):
        if raw.get("revoked_at"):
            raise KeyRefused("revoked", f"key {raw['id']} is revoked")
        return _new_secret(raw)
    record, key = _change(ident, path, change)
    return record, key


def verify(key: str, today: date | None = None, path: Path | None = None) -> KeyRecord:
    """The record of a valid key; raises KeyRefused (unknown, revoked, expired) otherwise."""
    match = _KEY.match((key or "").strip())
    raw = None
    if match:
        raw = next((r for r in store.read(path or keys_path(), _empty)["keys"]
                    if r["id"] == match.group(1)), None)
    secret = match.group(2) if match else (key or "")
    # hash even for an unknown id, so a wrong id and a wrong secret take the same time
    salt = base64.b64decode(raw["salt"]) if raw else _DUMMY_SALT
    computed = _hash(secret, salt).hex()
    stored = raw["hash"] if raw else "0" * 64
    if not hmac.compare_digest(computed, stored) or raw is None:
        raise KeyRefused("unknown")
    record = _record(raw)
    refusal = record.refusal(today or date.today())
    if refusal:
        raise KeyRefused(refusal)
    return record
