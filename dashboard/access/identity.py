"""The signed-in party as the rest of the cockpit sees it: a name for the audit and a Scope."""
from __future__ import annotations

from dataclasses import dataclass

from dashboard.queries.base import FULL_SCOPE, Scope


@dataclass(frozen=True)
class Identity:
    """name: the key's name or the SSO identity (never a key); via: key | sso | service | open."""
    name: str
    scope: Scope
    via: str
    key_id: str | None = None

    @property
    def role(self) -> str:
        return self.scope.role


OPEN = Identity(name="(open mode)", scope=FULL_SCOPE, via="open")
