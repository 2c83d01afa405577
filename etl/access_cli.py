"""python -m etl keys add|list|revoke|rotate and python -m etl audit verify.

The key file and the audit log sit beside the database (see dashboard/access/paths.py);
--db points them at another database's folder. A key is printed once, by `add` and `rotate`.
"""
from __future__ import annotations

import os
import sys
from datetime import date

DEMO_SUFFIX = "（演示）"
DEMO_KEYS = (   # python -m etl demo --keys: one key per kind of party, to try each view
    {"role": "leader", "name": "街道办（演示）"},
    {"role": "community", "name": "社区居委会（演示）"},
    {"role": "partner", "name": "社会组织（演示）"},
    {"role": "public", "name": "社区大厅屏幕（演示）"},
)


def _use_db(args) -> None:
    if getattr(args, "db", None):
        os.environ["COCKPIT_DB"] = str(args.db)


def _expiry(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"--expires {text!r} is not a date like 2027-06-30") from None


def cmd_keys(args) -> int:
    from dashboard.access import keys
    from dashboard.access.paths import keys_path

    _use_db(args)
    try:
        if args.action == "add":
            record, key = keys.add(args.role, args.name, communities=args.community or None,
                                   party=args.party, expires_on=_expiry(args.expires))
            print(f"key {record.id} for {record.name} ({record.role}) written to {keys_path()}")
            print("the key (shown once - hand it over now, it cannot be shown again):")
            print(key)
        elif args.action == "list":
            rows = keys.records()
            if not rows:
                print(f"no keys in {keys_path()} (the cockpit runs in open mode)")
            for r in rows:
                scope = "、".join(r.communities or ()) or r.party or "whole street"
                state = ("revoked " + r.revoked_at) if r.revoked_at else \
                    ("expired" if r.refusal(date.today()) else "active")
                print(f"{r.id}  {r.role:<9} {r.name}  [{scope}]  created {r.created_at}"
                      f"  expires {r.expires_on or 'never'}  {state}")
        elif args.action == "revoke":
            record = keys.revoke(args.ident)
            print(f"key {record.id} ({record.name}) revoked at {record.revoked_at}; "
                  "its sessions end on their next page load")
        elif args.action == "rotate":
            record, key = keys.rotate(args.ident)
            print(f"key {record.id} ({record.name}) rotated; the old key and its sessions stop working")
            print("the new key (shown once):")
            print(key)
    except keys.KeyRefused as exc:
        print(f"keys {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def issue_demo_keys(communities: list[str], parties: list[str]) -> list[tuple[str, str, str]]:
    """One key per demo role: [(role, name, key)], scoped to the first community and partner."""
    from dashboard.access import keys

    for old in keys.records():        # a second `demo --keys` replaces the first one's keys
        if old.name.endswith(DEMO_SUFFIX) and not old.revoked_at:
            keys.revoke(old.id)
    issued = []
    for spec in DEMO_KEYS:
        comms = communities[:1] if spec["role"] == "community" else None
        party = parties[0] if spec["role"] == "partner" and parties else None
        if spec["role"] == "community" and not comms or spec["role"] == "partner" and not party:
            continue
        name = spec["name"] if spec["role"] not in ("community", "partner") else \
            f"{(comms or [party])[0]}{DEMO_SUFFIX}"
        record, key = keys.add(spec["role"], name, communities=comms, party=party)
        issued.append((record.role, record.name, key))
    return issued


def cmd_audit(args) -> int:
    from dashboard.access import audit
    from dashboard.access.paths import audit_path

    _use_db(args)
    verdict = audit.verify()
    if verdict.ok:
        print(f"audit log {audit_path()}: {verdict.entries} entries, chain intact")
        return 0
    print(f"audit log {audit_path()}: TAMPERED - {verdict.problem} "
          f"({verdict.entries} entries verified before it)", file=sys.stderr)
    return 1


def add_parsers(sub) -> None:
    p = sub.add_parser("keys", help="access keys: add | list | revoke | rotate (see docs/ACCESS.md)")
    ks = p.add_subparsers(dest="action", required=True)
    a = ks.add_parser("add", help="issue a key and print it once")
    a.add_argument("--role", required=True, choices=["leader", "analyst", "community", "partner", "public"])
    a.add_argument("--name", required=True, help="who holds it, e.g. 阳光社区居委会 (shown in the audit)")
    a.add_argument("--community", action="append", help="the community role's community (repeatable)")
    a.add_argument("--party", help="the partner role's organisation, as in lead_party / partner_parties")
    a.add_argument("--expires", help="last valid day, YYYY-MM-DD")
    for name, help_ in (("list", "the keys, without secrets"), ("revoke", "refuse a key from now on"),
                        ("rotate", "a new secret for a key; the old one stops working")):
        q = ks.add_parser(name, help=help_)
        if name != "list":
            q.add_argument("ident", help="the key's id or name")
    for q in ks.choices.values():
        q.add_argument("--db", help="database whose folder holds the key file")
    p.set_defaults(func=cmd_keys)
    p = sub.add_parser("audit", help="audit verify: check the audit log's hash chain")
    au = p.add_subparsers(dest="action", required=True)
    v = au.add_parser("verify", help="report the first altered or missing entry; non-zero exit if any")
    v.add_argument("--db", help="database whose folder holds audit.jsonl")
    p.set_defaults(func=cmd_audit)


