"""First-run data, as CloudStack seeds it: ROOT domain, default roles, SYSTEM and admin accounts, settings."""

from __future__ import annotations

import importlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.config import service as config
from management.iam.models import Account, AccountType, Domain, Role, RolePermission, RoleType, User
from management.iam.passwords import hash_password

DEFAULT_ROLES = (
    (1, "Root Admin", RoleType.ADMIN, "Default root admin role"),
    (2, "Resource Admin", RoleType.RESOURCE_ADMIN, "Default resource admin role"),
    (3, "Domain Admin", RoleType.DOMAIN_ADMIN, "Default domain admin role"),
    (4, "User", RoleType.USER, "Default user role"),
)


# Each domain's own seeds: ``module:function(session)``, run at every start and idempotent (they insert
# only what is missing, so an upgraded cloud gets the new defaults and keeps its edits).
DOMAIN_SEEDS = (
    "management.compute.seed:seed",
    "management.storage.seed:seed",
)


def seed(session: Session, admin_password: str = "password") -> bool:
    """Insert what a new cloud needs; returns False if the base (ROOT, admin) was already there."""
    config.seed(session)
    created = _seed_base(session, admin_password)
    for target in DOMAIN_SEEDS:
        module, _, func = target.partition(":")
        getattr(importlib.import_module(module), func)(session)
    return created


def _seed_base(session: Session, admin_password: str) -> bool:
    if session.get(Domain, 1) is not None:
        return False
    session.add(Domain(id=1, name="ROOT", path="/", level=0, parent=None))
    for role_id, name, role_type, description in DEFAULT_ROLES:
        session.add(Role(id=role_id, name=name, role_type=role_type, description=description, is_default=True))
    session.flush()
    session.add(RolePermission(role_id=1, rule="*", permission="ALLOW", sort_order=0,
                               description="The root admin may call every API"))
    session.add(Account(id=1, account_name="system", type=AccountType.ADMIN, role_id=1, domain_id=1, is_default=True))
    session.add(Account(id=2, account_name="admin", type=AccountType.ADMIN, role_id=1, domain_id=1, is_default=True))
    session.flush()
    session.add(User(id=1, username="system", password=hash_password(secrets.token_urlsafe(32)), account_id=1,
                     firstname="system", lastname="cloud", is_default=True))
    session.add(User(id=2, username="admin", password=hash_password(admin_password), account_id=2,
                     firstname="admin", lastname="cloud", is_default=True))
    session.flush()
    return True


def is_seeded(session: Session) -> bool:
    return session.scalar(select(Domain.id).where(Domain.id == 1)) is not None
