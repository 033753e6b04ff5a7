"""Response objects of the IAM commands and the functions that build them from rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject, cs_date
from management.iam.models import Account, Domain, Role, User
from management.limits.views import LimitFields, account_limit_fields, domain_limit_fields


class UserResponse(ResponseObject):
    object_name = "user"
    id: str
    username: str
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    created: str | None = None
    state: str | None = None
    account: str | None = None
    accountid: str | None = None
    accounttype: int | None = None
    roleid: str | None = None
    rolename: str | None = None
    roletype: str | None = None
    domainid: str | None = None
    domain: str | None = None
    timezone: str | None = None
    apikey: str | None = None
    isdefault: bool | None = None
    usersource: str | None = None
    is2faenabled: bool | None = None
    iscallerchilddomain: bool | None = None


class AccountResponse(ResponseObject, LimitFields):
    object_name = "account"
    id: str
    name: str
    accounttype: int
    roleid: str | None = None
    rolename: str | None = None
    roletype: str | None = None
    domainid: str
    domain: str
    domainpath: str | None = None
    state: str
    networkdomain: str | None = None
    created: str | None = None
    isdefault: bool = False
    iscleanuprequired: bool = False
    user: list[UserResponse] = []


class DomainResponse(ResponseObject, LimitFields):
    object_name = "domain"
    id: str
    name: str
    level: int
    parentdomainid: str | None = None
    parentdomainname: str | None = None
    haschild: bool = False
    path: str
    networkdomain: str | None = None
    state: str
    created: str | None = None


class RoleResponse(ResponseObject):
    object_name = "role"
    id: str
    name: str
    type: str
    description: str | None = None
    isdefault: bool = False
    ispublic: bool = True
    state: str = "ENABLED"


class UserKeysResponse(ResponseObject):
    object_name = "userkeys"
    apikey: str | None = None
    secretkey: str | None = None


def domain_display_path(domain: Domain) -> str:
    """ROOT/sub/child, as CloudStack shows ``path``."""
    return "ROOT" + domain.path.rstrip("/") if domain.path != "/" else "ROOT"


class Lookups:
    """Batch-loads the domains and roles a list of rows refers to (no lazy loads in loops)."""

    def __init__(self, session: Session, domain_ids=(), role_ids=()) -> None:
        self.domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_(set(domain_ids))))}
        ids = {r for r in role_ids if r}
        self.roles = {r.id: r for r in session.scalars(select(Role).where(Role.id.in_(ids)))} if ids else {}


def user_view(user: User, account: Account, lookups: Lookups, *, show_keys: bool = False) -> UserResponse:
    domain = lookups.domains[account.domain_id]
    role = lookups.roles.get(account.role_id)
    return UserResponse(
        id=user.uuid, username=user.username, firstname=user.firstname, lastname=user.lastname, email=user.email,
        created=cs_date(user.created), state=user.state, account=account.account_name, accountid=account.uuid,
        accounttype=account.type, roleid=role.uuid if role else None, rolename=role.name if role else None,
        roletype=role.role_type if role else None, domainid=domain.uuid, domain=domain.name,
        timezone=user.timezone, apikey=user.api_key if show_keys else None, isdefault=user.is_default,
        usersource=user.source, is2faenabled=False)


def user_views(session: Session, users: list[User], *, show_keys: bool = False) -> list[UserResponse]:
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_({u.account_id for u in users})))}
    lookups = Lookups(session, [a.domain_id for a in accounts.values()], [a.role_id for a in accounts.values()])
    return [user_view(u, accounts[u.account_id], lookups, show_keys=show_keys) for u in users]


def account_views(session: Session, accounts: list[Account]) -> list[AccountResponse]:
    lookups = Lookups(session, [a.domain_id for a in accounts], [a.role_id for a in accounts])
    users: dict[int, list[User]] = {}
    if accounts:
        for user in session.scalars(select(User).where(User.account_id.in_([a.id for a in accounts]),
                                                       User.removed.is_(None)).order_by(User.id)):
            users.setdefault(user.account_id, []).append(user)
    views = []
    limit_fields = account_limit_fields(session, accounts)
    for account in accounts:
        domain, role = lookups.domains[account.domain_id], lookups.roles.get(account.role_id)
        views.append(AccountResponse(
            id=account.uuid, name=account.account_name, accounttype=account.type,
            roleid=role.uuid if role else None, rolename=role.name if role else None,
            roletype=role.role_type if role else None, domainid=domain.uuid, domain=domain.name,
            domainpath=domain_display_path(domain), state=account.state, networkdomain=account.network_domain,
            created=cs_date(account.created), isdefault=account.is_default,
            iscleanuprequired=account.cleanup_needed,
            user=[user_view(u, account, lookups) for u in users.get(account.id, [])],
            **limit_fields.get(account.id, {})))
    return views


def domain_views(session: Session, domains: list[Domain]) -> list[DomainResponse]:
    parent_ids = {d.parent for d in domains if d.parent}
    parents = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_(parent_ids)))} if parent_ids else {}
    ids = [d.id for d in domains]
    with_children = set(session.scalars(select(Domain.parent).where(Domain.parent.in_(ids),
                                                                    Domain.removed.is_(None)))) if ids else set()
    limit_fields = domain_limit_fields(session, domains)
    return [DomainResponse(id=d.uuid, name=d.name, level=d.level,
                           parentdomainid=parents[d.parent].uuid if d.parent in parents else None,
                           parentdomainname=parents[d.parent].name if d.parent in parents else None,
                           haschild=d.id in with_children, path=domain_display_path(d),
                           networkdomain=d.network_domain, state=d.state, created=cs_date(d.created),
                           **limit_fields.get(d.id, {}))
            for d in domains]


def role_view(role: Role) -> RoleResponse:
    return RoleResponse(id=role.uuid, name=role.name, type=role.role_type, description=role.description,
                        isdefault=role.is_default, ispublic=role.is_public)
