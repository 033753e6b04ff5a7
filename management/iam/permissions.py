"""Role-based command permissions (CloudStack's dynamic roles).

A role's ordered rules (``rule`` = command name or wildcard, ``permission`` ALLOW/DENY) decide
first; a command no rule matches falls back to the role types its declaration allows. The
default Root Admin role may call everything.
"""

from __future__ import annotations

import fnmatch
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.context import Caller
from management.iam.models import RolePermission

CACHE_SECONDS = 2.0
ROOT_ADMIN_ROLE_ID = 1
_rules: dict[int, tuple[list[tuple[str, bool]], float]] = {}


def clear_cache() -> None:
    _rules.clear()


def role_rules(session: Session, role_id: int) -> list[tuple[str, bool]]:
    hit = _rules.get(role_id)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    rows = session.execute(select(RolePermission.rule, RolePermission.permission)
                           .where(RolePermission.role_id == role_id)
                           .order_by(RolePermission.sort_order, RolePermission.id)).all()
    rules = [(rule, permission.upper() == "ALLOW") for rule, permission in rows]
    _rules[role_id] = (rules, now + CACHE_SECONDS)
    return rules


def is_allowed(session: Session, caller: Caller, name: str, declared_roles: tuple[str, ...]) -> bool:
    if caller.role_id == ROOT_ADMIN_ROLE_ID:
        return True
    if caller.role_id is not None:
        for rule, allow in role_rules(session, caller.role_id):
            if fnmatch.fnmatchcase(name, rule):
                return allow
    return caller.role_type in declared_roles
