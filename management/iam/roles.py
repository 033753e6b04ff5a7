"""Dynamic roles (CloudStack's createRole ... deleteRolePermission): roles of a type (Admin, ResourceAdmin,
DomainAdmin, User), each with an ordered list of rules (an API name or a wildcard pattern, allowed or denied)
that ``permissions.is_allowed`` consults before the role type's defaults.

The four default roles cannot be renamed, retyped or deleted; the Root Admin role's rules cannot be changed
(it may call everything). A role in use by an account cannot be deleted. Rules take API names and ``*``
wildcards only, as CloudStack's ``Rule`` does."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter, ResourceInUse
from management.events import service as events
from management.iam import permissions
from management.iam.models import Account, Role, RolePermission, RoleType

RULE = re.compile(r"^[a-zA-Z0-9*]+$")
PERMISSIONS = ("allow", "deny")


def _check_name(session: Session, name: str | None, *, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidParameter("Invalid role name provided (name)")
    if len(name) > 255:
        raise InvalidParameter("Role name must be at most 255 characters (name)")
    clash = select(Role.id).where(func.lower(Role.name) == name.lower(), Role.removed.is_(None))
    if exclude is not None:
        clash = clash.where(Role.id != exclude)
    if session.scalar(clash.limit(1)) is not None:
        raise InvalidParameter(f"Role with name {name} already exists (name)")
    return name


def _check_type(role_type: str | None) -> str:
    match = next((t for t in RoleType.ALL if t.lower() == (role_type or "").strip().lower()), None)
    if match is None:
        raise InvalidParameter(f"Invalid role type {role_type} (type): use one of {', '.join(RoleType.ALL)}")
    return match


def create_role(session: Session, caller: Caller, *, name: str, role_type: str | None, source: Role | None,
                description: str | None, is_public: bool | None) -> Role:
    """A new role of ``role_type``, or a copy of ``source`` (its type and rules) when one is given."""
    if (role_type is None) == (source is None):
        raise InvalidParameter("Either the type or the roleid (of a role to copy) must be given, not both "
                               "(type, roleid)")
    if source is not None and source.removed is not None:
        raise InvalidParameter(f"Role {source.uuid} was removed (roleid)")
    role = Role(name=_check_name(session, name), role_type=source.role_type if source else _check_type(role_type),
                description=description if description is not None else (source.description if source else None),
                is_default=False, is_public=True if is_public is None else is_public)
    session.add(role)
    session.flush()
    if source is not None:
        for rule in _rules(session, source.id):
            session.add(RolePermission(role_id=role.id, rule=rule.rule, permission=rule.permission,
                                       sort_order=rule.sort_order, description=rule.description))
        session.flush()
    events.record(session, caller, "ROLE.CREATE", f"Created role {role.name} ({role.role_type})", resource=role,
                  resource_type="Role")
    return role


def update_role(session: Session, caller: Caller, role: Role, *, name: str | None, role_type: str | None,
                description: str | None, is_public: bool | None) -> Role:
    _alive(role)
    if role.is_default and (name is not None or role_type is not None):
        raise InvalidParameter("Default roles cannot be renamed or given another type")
    if name is not None:
        role.name = _check_name(session, name, exclude=role.id)
    if role_type is not None:
        new_type = _check_type(role_type)
        if new_type != role.role_type and _in_use(session, role):
            raise ResourceInUse(f"Role {role.name} is in use by accounts: its type cannot change (type)")
        role.role_type = new_type
    if description is not None:
        role.description = description
    if is_public is not None:
        role.is_public = is_public
    session.flush()
    events.record(session, caller, "ROLE.UPDATE", f"Updated role {role.name}", resource=role, resource_type="Role")
    return role


def delete_role(session: Session, caller: Caller, role: Role) -> None:
    _alive(role)
    if role.is_default:
        raise InvalidParameter("Default roles cannot be deleted")
    if _in_use(session, role):
        raise ResourceInUse(f"Role {role.name} is in use by accounts and cannot be deleted")
    for rule in _rules(session, role.id):
        session.delete(rule)
    role.removed = utcnow()
    session.flush()
    permissions.clear_cache()
    events.record(session, caller, "ROLE.DELETE", f"Deleted role {role.name}", resource=role, resource_type="Role")


def _alive(role: Role) -> None:
    if role.removed is not None:
        raise InvalidParameter(f"Role {role.uuid} was removed (id)")


def _in_use(session: Session, role: Role) -> bool:
    return session.scalar(select(Account.id).where(Account.role_id == role.id, Account.removed.is_(None))
                          .limit(1)) is not None


def _rules(session: Session, role_id: int) -> list[RolePermission]:
    return list(session.scalars(select(RolePermission).where(RolePermission.role_id == role_id)
                                .order_by(RolePermission.sort_order, RolePermission.id)))


def _editable(role: Role) -> None:
    _alive(role)
    if role.id == permissions.ROOT_ADMIN_ROLE_ID:
        raise InvalidParameter("The rules of the Root Admin role cannot be changed: it may call every API")


def _check_permission(permission: str | None) -> str:
    value = (permission or "").strip().lower()
    if value not in PERMISSIONS:
        raise InvalidParameter(f"Invalid permission {permission} (permission): use allow or deny")
    return value.upper()


def create_permission(session: Session, caller: Caller, role: Role, *, rule: str, permission: str,
                      description: str | None) -> RolePermission:
    _editable(role)
    rule = (rule or "").strip()
    if not RULE.match(rule):
        raise InvalidParameter(f"Only API names and wildcards are allowed, invalid rule provided: {rule} (rule)")
    if any(r.rule == rule for r in _rules(session, role.id)):
        raise InvalidParameter(f"Role {role.name} already has a rule {rule} (rule)")
    last = session.scalar(select(func.max(RolePermission.sort_order)).where(RolePermission.role_id == role.id))
    row = RolePermission(role_id=role.id, rule=rule, permission=_check_permission(permission),
                         sort_order=(last + 1) if last is not None else 0, description=description)
    session.add(row)
    session.flush()
    permissions.clear_cache()
    events.record(session, caller, "ROLE.PERMISSION.CREATE", f"Rule {rule} ({row.permission}) added to role "
                  f"{role.name}", resource=role, resource_type="Role")
    return row


def list_permissions(session: Session, role: Role | None) -> list[tuple[RolePermission, Role]]:
    query = (select(RolePermission, Role).join(Role, Role.id == RolePermission.role_id)
             .where(Role.removed.is_(None)).order_by(Role.id, RolePermission.sort_order, RolePermission.id))
    if role is not None:
        query = query.where(Role.id == role.id)
    return [(p, r) for p, r in session.execute(query).all()]


def update_permission(session: Session, caller: Caller, role: Role, *, order: list[RolePermission] | None,
                      rule: RolePermission | None, permission: str | None) -> None:
    """Either put the role's rules in a new order (all of them, each once) or change one rule's permission."""
    _editable(role)
    if (order is None) == (rule is None):
        raise InvalidParameter("Give either ruleorder (every rule of the role, in the new order) or ruleid and "
                               "permission (ruleorder, ruleid)")
    current = _rules(session, role.id)
    if order is not None:
        if sorted(r.id for r in order) != sorted(r.id for r in current):
            raise InvalidParameter("The ruleorder must list every rule of the role exactly once (ruleorder)")
        for index, row in enumerate(order):
            row.sort_order = index
        text = f"Rules of role {role.name} put in a new order"
    else:
        if rule.role_id != role.id:
            raise InvalidParameter(f"Rule {rule.uuid} does not belong to role {role.name} (ruleid)")
        if permission is None:
            raise InvalidParameter("Missing parameter permission: the new permission of the rule (permission)")
        rule.permission = _check_permission(permission)
        text = f"Rule {rule.rule} of role {role.name} set to {rule.permission}"
    session.flush()
    permissions.clear_cache()
    events.record(session, caller, "ROLE.PERMISSION.UPDATE", text, resource=role, resource_type="Role")


def delete_permission(session: Session, caller: Caller, rule: RolePermission) -> None:
    role = session.get(Role, rule.role_id)
    _editable(role)
    session.delete(rule)
    session.flush()
    permissions.clear_cache()
    events.record(session, caller, "ROLE.PERMISSION.DELETE", f"Rule {rule.rule} removed from role {role.name}",
                  resource=role, resource_type="Role")
