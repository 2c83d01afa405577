"""Who did what to the data: the actor name for the load history, and the audit shim.

The load history itself lives in the database (etl_loads with loaded_by, etl_rejects,
etl_rollbacks; etl/versions.py carries it through rollbacks). The audit log belongs to
sign-in (`dashboard.access.audit.record(action, **fields)`); until that module exists
`audit()` records nothing and returns False.
"""
from __future__ import annotations

import getpass
import logging

log = logging.getLogger(__name__)


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:   # no user name in a bare container
        return "?"


def default_actor() -> str:
    """'shell:<OS user>' for loads started from a terminal, cron or systemd."""
    return f"shell:{os_user()}"


def audit(action: str, **fields) -> bool:
    """Record `action` in the sign-in audit log if it is installed; True when recorded."""
    try:
        from dashboard.access import audit as audit_log
    except ImportError:
        return False
    try:
        audit_log.record(action, **fields)
    except Exception:   # the data change happened; a failing audit must be visible, not fatal
        log.exception("audit record failed for %s", action)
        return False
    return True
