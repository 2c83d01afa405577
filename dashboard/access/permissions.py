"""Which roles may open which pages; every other page is open to every signed-in role
(what it shows is narrowed by the role's Scope in dashboard/queries/base.py::fetch).

A page a role may not use is left out of its navigation; reached by URL it is refused
(Streamlit finds no such page for that session and falls back to the default page).
"""
from __future__ import annotations

PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "audit": ("leader",),                    # the audit log and the key list
    "sql_console": ("leader", "analyst"),    # free SQL over unscoped tables
    "data": ("leader", "partner"),           # data management; partners upload their projects' rows
}


def may_view(role: str, page: str) -> bool:
    allowed = PAGE_ROLES.get(page)
    return allowed is None or role in allowed
