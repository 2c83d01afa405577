"""Single sign-on: Streamlit's st.login() identity -> role and scope, from cockpit.sso.json.

    {"identities": {"leader@city.example": {"role": "leader"},
                    "sunshine@city.example": {"role": "community", "communities": ["阳光社区"]},
                    "sub:248289761001": {"role": "partner", "party": "阳光社工站"}}}

An identity is matched by its e-mail (case-insensitive), else by its subject ("sub:<sub>").
An unmapped identity gets nothing: the cockpit shows it a refusal and no data.
"""
from __future__ import annotations

from pathlib import Path

from dashboard.access import keys, store
from dashboard.access.identity import Identity
from dashboard.access.paths import sso_path
from dashboard.queries.base import Scope


def _empty() -> dict:
    return {"identities": {}}


def mapping(path: Path | None = None) -> dict[str, dict]:
    raw = store.read(path or sso_path(), _empty).get("identities", {})
    return {k.lower() if "@" in k else k: v for k, v in raw.items()}


def lookup(user: dict, path: Path | None = None) -> Identity | None:
    """The mapped identity for st.user's claims (email, sub), or None when unmapped."""
    table = mapping(path)
    email = str(user.get("email") or "").strip().lower()
    sub = str(user.get("sub") or "").strip()
    for ident in ([email] if email else []) + ([f"sub:{sub}"] if sub else []):
        entry = table.get(ident)
        if entry is None:
            continue
        comms = entry.get("communities")
        keys.check_scope(entry.get("role", ""), comms, entry.get("party"))
        scope = Scope(communities=tuple(comms) if comms else None, role=entry["role"],
                      party=entry.get("party"))
        return Identity(name=entry.get("name") or email or f"sub:{sub}", scope=scope, via="sso")
    return None
