"""Domains, accounts, users, roles, API keys and login sessions."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter, LoginFailed, PermissionDenied, Unauthorized
from management.events import service as events
from management.iam import passwords
from management.iam.access import Scope, account_named, check_account_access, check_domain_access
from management.iam.models import Account, Domain, LoginSession, Role, RoleType, User
from management.pagination import page

ACCOUNT_CLEANUP_HOOKS: list[Callable[[Session, Caller, Account], None]] = []
ACCOUNT_CREATED_HOOKS: list[Callable[[Session, Caller, Account], None]] = []  # e.g. its default security group
NAME_RE = re.compile(r"^[^\s/\\\"'`<>]+$")


# --- callers, authentication, sessions -----------------------------------------------------------

def _caller_row(session: Session, condition):
    """User, account, domain and role of one user in a single query (the per-request hot path)."""
    query = (select(User.id, User.username, User.state, User.removed, User.secret_key, Account.id, Account.account_name,
                    Account.state, Account.removed, Account.type, Account.role_id, Domain.id, Domain.path,
                    Role.role_type)
             .join(Account, Account.id == User.account_id).join(Domain, Domain.id == Account.domain_id)
             .outerjoin(Role, Role.id == Account.role_id).where(condition))
    return session.execute(query).first()


def _to_caller(row) -> Caller:
    (user_id, username, _, _, _, account_id, account_name, _, _, account_type, role_id, domain_id, path,
     role_type) = row
    return Caller(user_id=user_id, account_id=account_id, domain_id=domain_id, domain_path=path,
                  account_type=account_type, role_id=role_id,
                  role_type=role_type or RoleType.BY_ACCOUNT_TYPE.get(account_type, RoleType.USER),
                  username=username, account_name=account_name)


def _usable(row) -> bool:
    return (row is not None and row[3] is None and row[2] == "enabled" and row[8] is None
            and row[7] == "enabled")


def caller_for(session: Session, user: User) -> Caller:
    return _to_caller(_caller_row(session, User.id == user.id))


def active_caller(session: Session, user: User | None) -> Caller:
    """The caller for ``user`` if it and its account may use the API, else 401."""
    row = _caller_row(session, User.id == user.id) if user is not None else None
    if not _usable(row):
        raise Unauthorized()
    return _to_caller(row)


def api_key_caller(session: Session, api_key: str) -> tuple[Caller, str] | None:
    """The caller owning ``api_key`` and its secret, or None when the key is unknown or unusable."""
    row = _caller_row(session, User.api_key == api_key)
    if not _usable(row) or not row[4]:
        return None
    return _to_caller(row), row[4]


def user_by_api_key(session: Session, api_key: str) -> User | None:
    return session.scalar(select(User).where(User.api_key == api_key, User.removed.is_(None)))


def find_domain_by_path(session: Session, path: str) -> Domain | None:
    path = path.strip() or "/"
    if not path.startswith("/"):
        path = "/" + path
    if not path.endswith("/"):
        path += "/"
    if path.upper().startswith("/ROOT/"):
        path = path[5:]
    return session.scalar(select(Domain).where(func.lower(Domain.path) == path.lower(), Domain.removed.is_(None)))


def login(session: Session, username: str, password: str, domain: Domain | None) -> User:
    """Check a username/password in a domain (ROOT by default); 531 on any mismatch."""
    domain_id = domain.id if domain else 1
    user = session.scalar(select(User).join(Account, Account.id == User.account_id)
                          .where(User.username == username, Account.domain_id == domain_id,
                                 User.removed.is_(None), Account.removed.is_(None)))
    failure = LoginFailed(f"Failed to authenticate user {username} in domain {domain_id}; "
                          "please provide valid credentials")
    if user is None or not passwords.verify_password(password, user.password):
        if user is not None:
            user.incorrect_login_attempts += 1
        raise failure
    account = session.get(Account, user.account_id)
    if user.state != "enabled" or account.state != "enabled":
        raise LoginFailed(f"User {username} (or their account) in domain {domain_id} is disabled/locked. "
                          "Please contact the administrator.")
    user.incorrect_login_attempts = 0
    return user


def open_session(session: Session, user: User, timeout: int) -> LoginSession:
    row = LoginSession(session_id=passwords.new_session_key() + ".node0", session_key=passwords.new_session_key(),
                       user_id=user.id, timeout=timeout)
    session.add(row)
    session.flush()
    return row


def find_session(session: Session, session_id: str) -> LoginSession | None:
    row = session.scalar(select(LoginSession).where(LoginSession.session_id == session_id))
    if row is None:
        return None
    now = utcnow()
    if row.last_access + timedelta(seconds=row.timeout) < now:
        if not session.info.get("readonly"):
            session.delete(row)
        return None
    if (now - row.last_access).total_seconds() > 30:  # keep writes rare on the hot path
        if session.info.get("readonly"):
            from management.db import db

            with db.session() as writer:
                writer.execute(update(LoginSession).where(LoginSession.id == row.id).values(last_access=now))
        else:
            row.last_access = now
    return row


def close_session(session: Session, session_id: str) -> None:
    row = session.scalar(select(LoginSession).where(LoginSession.session_id == session_id))
    if row is not None:
        session.delete(row)


# --- domains -----------------------------------------------------------------------------------

def create_domain(session: Session, caller: Caller, *, name: str, parent: Domain | None,
                  network_domain: str | None, uuid: str | None = None) -> Domain:
    parent = parent or session.get(Domain, caller.domain_id if not caller.is_root_admin else 1)
    check_domain_access(caller, parent)
    if not caller.is_admin:
        raise PermissionDenied("Only administrators may create domains")
    _check_name("name", name)
    path = f"{parent.path}{name}/"
    if session.scalar(select(Domain.id).where(func.lower(Domain.path) == path.lower(), Domain.removed.is_(None))):
        raise InvalidParameter(f"Domain with name {name} already exists for the parent id={parent.uuid}")
    domain = Domain(name=name, parent=parent.id, path=path, level=parent.level + 1, network_domain=network_domain)
    if uuid:
        domain.uuid = uuid
    session.add(domain)
    session.flush()
    events.record(session, caller, "DOMAIN.CREATE", f"Domain Name: {name}, Parent DomainId: {parent.uuid}",
                  resource=domain, resource_type="Domain")
    return domain


def update_domain(session: Session, caller: Caller, domain: Domain, *, name: str | None,
                  network_domain: str | None) -> Domain:
    check_domain_access(caller, domain)
    if domain.id == 1 and name is not None and name != domain.name:
        raise InvalidParameter("ROOT domain can not be edited with a new name")
    if name is not None and name != domain.name:
        _check_name("name", name)
        parent = session.get(Domain, domain.parent)
        new_path = f"{parent.path}{name}/"
        if session.scalar(select(Domain.id).where(func.lower(Domain.path) == new_path.lower(),
                                                  Domain.removed.is_(None))):
            raise InvalidParameter(f"Domain with name {name} already exists for the parent id={parent.uuid}")
        old_path = domain.path
        for child in session.scalars(select(Domain).where(Domain.path.like(f"{old_path}%"))):
            child.path = new_path + child.path[len(old_path):]
        domain.name = name
    if network_domain is not None:
        domain.network_domain = network_domain or None
    events.record(session, caller, "DOMAIN.UPDATE", f"Domain Name: {domain.name}", resource=domain,
                  resource_type="Domain")
    return domain


def check_domain_deletable(caller: Caller, domain: Domain) -> None:
    check_domain_access(caller, domain)
    if domain.id == 1:
        raise PermissionDenied("Can't delete ROOT domain")
    if domain.id == caller.domain_id:
        raise PermissionDenied("Can't delete the domain of the calling account")


def delete_domain(session: Session, caller: Caller, domain: Domain, *, cleanup: bool) -> None:
    check_domain_deletable(caller, domain)
    subtree = list(session.scalars(select(Domain).where(Domain.path.like(f"{domain.path}%"),
                                                        Domain.removed.is_(None))))
    ids = [d.id for d in subtree]
    accounts = list(session.scalars(select(Account).where(Account.domain_id.in_(ids), Account.removed.is_(None))))
    if (accounts or len(subtree) > 1) and not cleanup:
        raise InvalidParameter(f"Cannot delete domain {domain.name}: it has sub-domains or accounts; "
                               "use cleanup=true to delete them too")
    for account in accounts:
        _remove_account(session, caller, account)
    now = utcnow()
    for d in subtree:
        d.removed, d.state = now, "Inactive"
    events.record(session, caller, "DOMAIN.DELETE", f"Domain Id: {domain.uuid}", resource=domain,
                  resource_type="Domain")


def list_domains(session: Session, caller: Caller, *, domain_id: int | None, name: str | None, level: int | None,
                 keyword: str | None, listall: bool, recursive: bool, offset: int,
                 limit: int | None) -> tuple[list[Domain], int]:
    query = select(Domain).where(Domain.removed.is_(None))
    base = session.get(Domain, domain_id) if domain_id else session.get(Domain, caller.domain_id)
    if domain_id:
        if base.removed is not None:
            return [], 0
        check_domain_access(caller, base)
    if not caller.is_admin:
        query = query.where(Domain.id == caller.domain_id)
    elif listall or recursive:
        query = query.where(Domain.path.like(f"{base.path}%"))
    else:
        query = query.where(Domain.id == base.id)
    if name:
        query = query.where(Domain.name == name)
    if level is not None:
        query = query.where(Domain.level == level)
    if keyword:
        query = query.where(Domain.name.like(f"%{keyword}%"))
    return page(session, query.order_by(Domain.id), offset, limit)


def list_domain_children(session: Session, caller: Caller, *, parent: Domain | None, recursive: bool,
                         keyword: str | None, offset: int, limit: int | None) -> tuple[list[Domain], int]:
    parent = parent or session.get(Domain, caller.domain_id)
    check_domain_access(caller, parent)
    query = select(Domain).where(Domain.removed.is_(None), Domain.id != parent.id)
    if recursive:
        query = query.where(Domain.path.like(f"{parent.path}%"))
    else:
        query = query.where(Domain.parent == parent.id)
    if keyword:
        query = query.where(Domain.name.like(f"%{keyword}%"))
    return page(session, query.order_by(Domain.id), offset, limit)


# --- roles ----------------------------------------------------------------------------------------

def default_role(session: Session, role_type: str) -> Role:
    return session.scalar(select(Role).where(Role.role_type == role_type, Role.is_default.is_(True),
                                             Role.removed.is_(None)).order_by(Role.id))


def list_roles(session: Session, *, role_id: int | None, name: str | None, role_type: str | None,
               keyword: str | None, offset: int, limit: int | None,
               public_only: bool = False) -> tuple[list[Role], int]:
    query = select(Role).where(Role.removed.is_(None))
    if public_only:  # roles that are not public are the root admins' business
        query = query.where(Role.is_public.is_(True))
    if role_id:
        query = query.where(Role.id == role_id)
    if name:
        query = query.where(Role.name.like(f"%{name}%"))
    if role_type:
        query = query.where(Role.role_type == role_type)
    if keyword:
        query = query.where(or_(Role.name.like(f"%{keyword}%"), Role.description.like(f"%{keyword}%")))
    return page(session, query.order_by(Role.id), offset, limit)


# --- accounts --------------------------------------------------------------------------------------

def _role_for(session: Session, caller: Caller, role: Role | None, account_type: int | None) -> tuple[Role, int]:
    if role is None:
        if account_type is None:
            raise InvalidParameter("Unable to execute API command createaccount due to missing parameter roleid "
                                   "(or the legacy accounttype)")
        role_type = RoleType.BY_ACCOUNT_TYPE.get(account_type)
        if role_type is None:
            raise InvalidParameter(f"Invalid parameter accounttype value={account_type}: use 0 (user), "
                                   "1 (root admin), 2 (domain admin) or 3 (resource admin)")
        role = default_role(session, role_type)
    if role.removed is not None:
        raise InvalidParameter(f"Role {role.uuid} is removed")
    if not caller.is_root_admin and role.role_type in (RoleType.ADMIN,):
        raise PermissionDenied("Only a root admin may create or promote accounts to the root admin role")
    if caller.role_type == RoleType.DOMAIN_ADMIN and role.role_type == RoleType.RESOURCE_ADMIN:
        raise PermissionDenied("A domain admin may not grant the resource admin role")
    return role, RoleType.ACCOUNT_TYPE[role.role_type]


def create_account(session: Session, caller: Caller, *, username: str, password: str, email: str | None,
                   firstname: str | None, lastname: str | None, account_name: str | None, role: Role | None,
                   account_type: int | None, domain: Domain | None, network_domain: str | None,
                   timezone: str | None, account_uuid: str | None = None,
                   user_uuid: str | None = None) -> Account:
    if not caller.is_admin:
        raise PermissionDenied("Only administrators may create accounts")
    domain = domain or session.get(Domain, caller.domain_id)
    check_domain_access(caller, domain)
    role, acct_type = _role_for(session, caller, role, account_type)
    name = account_name or username
    _check_name("account", name)
    if session.scalar(select(Account.id).where(Account.domain_id == domain.id, Account.account_name == name,
                                               Account.removed.is_(None))):
        raise InvalidParameter(f"The specified account: {name} already exists in domain {domain.uuid}")
    account = Account(account_name=name, type=acct_type, role_id=role.id, domain_id=domain.id,
                      network_domain=network_domain)
    if account_uuid:
        account.uuid = account_uuid
    session.add(account)
    session.flush()
    _new_user(session, account, domain, username=username, password=password, email=email, firstname=firstname,
              lastname=lastname, timezone=timezone, uuid=user_uuid)
    for hook in ACCOUNT_CREATED_HOOKS:
        hook(session, caller, account)
    events.record(session, caller, "ACCOUNT.CREATE", f"Account Name: {name}, Domain Id: {domain.uuid}",
                  resource=account, resource_type="Account", account_id=account.id, domain_id=domain.id)
    return account


def find_account(session: Session, caller: Caller, *, account: Account | None, name: str | None,
                 domain: Domain | None) -> Account:
    """An account named by ``id`` or by ``account`` + ``domainid`` (431 if neither or unknown)."""
    if account is None:
        if name is None or domain is None:
            raise InvalidParameter("Either id or account name together with domainid must be specified")
        account = account_named(session, name, domain)
        if account is None:
            raise InvalidParameter(f"Unable to find account by name {name} in domain {domain.uuid}")
    if account.removed is not None:
        raise InvalidParameter(f"The specified account {account.uuid} does not exist")
    check_account_access(session, caller, account)
    return account


def update_account(session: Session, caller: Caller, account: Account, *, new_name: str | None,
                   network_domain: str | None, role: Role | None) -> Account:
    if new_name is not None and new_name != account.account_name:
        _check_name("newname", new_name)
        if account.id in (1,):
            raise PermissionDenied("The system account can not be renamed")
        if session.scalar(select(Account.id).where(Account.domain_id == account.domain_id,
                                                   Account.account_name == new_name, Account.removed.is_(None))):
            raise InvalidParameter(f"There already exists an account with the name: {new_name} in the domain")
        account.account_name = new_name
    if network_domain is not None:
        account.network_domain = network_domain or None
    if role is not None and role.id != account.role_id:
        if account.id == caller.account_id:
            raise PermissionDenied("An account can not change its own role")
        new_role, acct_type = _role_for(session, caller, role, None)
        current = session.get(Role, account.role_id)
        if current is not None and current.role_type != new_role.role_type:
            raise InvalidParameter("The role can only be changed to another role of the same type "
                                   f"({current.role_type})")
        account.role_id, account.type = new_role.id, acct_type
    events.record(session, caller, "ACCOUNT.UPDATE", f"Account Name: {account.account_name}", resource=account,
                  resource_type="Account", account_id=account.id, domain_id=account.domain_id)
    return account


def check_account_state_change(caller: Caller, account: Account, state: str) -> None:
    if state != "enabled" and (account.id == 1 or account.is_default):
        raise PermissionDenied(f"The default account {account.account_name} can not be disabled or locked")
    if state != "enabled" and account.id == caller.account_id:
        raise PermissionDenied("An account can not disable or lock itself")


def set_account_state(session: Session, caller: Caller, account: Account, state: str) -> Account:
    """enabled | disabled | locked, with CloudStack's event names."""
    check_account_state_change(caller, account, state)
    account.state = state
    if state != "enabled":
        user_ids = select(User.id).where(User.account_id == account.id)
        session.execute(LoginSession.__table__.delete().where(LoginSession.user_id.in_(user_ids)))
    event = {"enabled": "ACCOUNT.ENABLE", "disabled": "ACCOUNT.DISABLE", "locked": "ACCOUNT.DISABLE"}[state]
    events.record(session, caller, event, f"Account {account.account_name} {state}", resource=account,
                  resource_type="Account", account_id=account.id, domain_id=account.domain_id)
    return account


def check_account_deletable(caller: Caller, account: Account) -> None:
    if account.id == 1 or account.is_default:
        raise PermissionDenied(f"The default account {account.account_name} can not be removed")
    if account.id == caller.account_id:
        raise PermissionDenied("An account can not delete itself")


def delete_account(session: Session, caller: Caller, account: Account) -> None:
    check_account_deletable(caller, account)
    _remove_account(session, caller, account)


def _remove_account(session: Session, caller: Caller, account: Account) -> None:
    for hook in ACCOUNT_CLEANUP_HOOKS:
        hook(session, caller, account)
    now = utcnow()
    users = list(session.scalars(select(User).where(User.account_id == account.id, User.removed.is_(None))))
    for user in users:
        _retire_user(session, user, now)
    account.removed, account.state = now, "disabled"
    events.record(session, caller, "ACCOUNT.DELETE", f"Account Name: {account.account_name}", resource=account,
                  resource_type="Account", account_id=account.id, domain_id=account.domain_id)


def list_accounts(session: Session, scope: Scope, *, account_id: int | None, name: str | None,
                  account_type: int | None, state: str | None, keyword: str | None, offset: int,
                  limit: int | None) -> tuple[list[Account], int]:
    query = select(Account).where(Account.removed.is_(None), Account.id != 1,
                                  scope.where(Account.id, Account.domain_id))
    if account_id:
        query = query.where(Account.id == account_id)
    if name:
        query = query.where(Account.account_name == name)
    if account_type is not None:
        query = query.where(Account.type == account_type)
    if state:
        query = query.where(func.lower(Account.state) == state.lower())
    if keyword:
        query = query.where(Account.account_name.like(f"%{keyword}%"))
    return page(session, query.order_by(Account.id), offset, limit)


# --- users -----------------------------------------------------------------------------------------

def _new_user(session: Session, account: Account, domain: Domain, *, username: str, password: str,
              email: str | None, firstname: str | None, lastname: str | None, timezone: str | None,
              uuid: str | None = None) -> User:
    _check_name("username", username)
    if not password:
        raise InvalidParameter("Unable to execute API command due to invalid value. Invalid parameter password: "
                               "the password can not be empty")
    taken = session.scalar(select(User.id).join(Account, Account.id == User.account_id)
                           .where(User.username == username, Account.domain_id == domain.id,
                                  User.removed.is_(None)))
    if taken:
        raise InvalidParameter(f"The user {username} already exists in domain {domain.uuid}")
    user = User(username=username, password=passwords.hash_password(password), account_id=account.id,
                firstname=firstname, lastname=lastname, email=email, timezone=timezone)
    if uuid:
        user.uuid = uuid
    session.add(user)
    session.flush()
    return user


def create_user(session: Session, caller: Caller, *, account: Account, username: str, password: str,
                email: str | None, firstname: str | None, lastname: str | None, timezone: str | None,
                uuid: str | None = None) -> User:
    if not caller.is_admin:
        raise PermissionDenied("Only administrators may create users")
    check_account_access(session, caller, account)
    domain = session.get(Domain, account.domain_id)
    user = _new_user(session, account, domain, username=username, password=password, email=email,
                     firstname=firstname, lastname=lastname, timezone=timezone, uuid=uuid)
    events.record(session, caller, "USER.CREATE", f"User Name: {username}, Account: {account.account_name}",
                  resource=user, resource_type="User", account_id=account.id, domain_id=account.domain_id)
    return user


def check_user_access(session: Session, caller: Caller, user: User) -> Account:
    if user.removed is not None:
        raise InvalidParameter(f"Unable to find active user by id {user.uuid}")
    account = session.get(Account, user.account_id)
    if user.id != caller.user_id:
        check_account_access(session, caller, account)
        if not caller.is_admin:
            raise PermissionDenied("A user may only act on its own user")
    return account


def update_user(session: Session, caller: Caller, user: User, *, username: str | None, password: str | None,
                current_password: str | None, email: str | None, firstname: str | None, lastname: str | None,
                timezone: str | None, api_key: str | None, secret_key: str | None) -> User:
    account = check_user_access(session, caller, user)
    if username is not None and username != user.username:
        _check_name("username", username)
        taken = session.scalar(select(User.id).join(Account, Account.id == User.account_id)
                               .where(User.username == username, Account.domain_id == account.domain_id,
                                      User.removed.is_(None)))
        if taken:
            raise InvalidParameter(f"The user {username} already exists in the domain")
        user.username = username
    if password is not None:
        if not password:
            raise InvalidParameter("Invalid parameter password: the password can not be empty")
        if not caller.is_admin or user.id == caller.user_id:
            if current_password is None or not passwords.verify_password(current_password, user.password):
                raise InvalidParameter("Current password is incorrect (parameter currentpassword)")
        user.password = passwords.hash_password(password)
    for attr, value in (("email", email), ("firstname", firstname), ("lastname", lastname), ("timezone", timezone)):
        if value is not None:
            setattr(user, attr, value)
    if (api_key is None) != (secret_key is None):
        raise InvalidParameter("Please provide both userapikey and usersecretkey to update them")
    if api_key is not None:
        clash = session.scalar(select(User.id).where(User.api_key == api_key, User.id != user.id))
        if clash:
            raise InvalidParameter("The api key is already in use by another user (parameter userapikey)")
        user.api_key, user.secret_key = api_key, secret_key
    events.record(session, caller, "USER.UPDATE", f"User Name: {user.username}", resource=user,
                  resource_type="User", account_id=account.id, domain_id=account.domain_id)
    return user


def set_user_state(session: Session, caller: Caller, user: User, state: str) -> User:
    account = check_user_access(session, caller, user)
    if not caller.is_admin:
        raise PermissionDenied("Only administrators may change a user's state")
    if state != "enabled" and user.id == caller.user_id:
        raise PermissionDenied("A user can not disable or lock itself")
    if state != "enabled" and user.id in (1, 2):
        raise PermissionDenied("The system and default admin users can not be disabled or locked")
    user.state = state
    if state != "enabled":
        session.execute(LoginSession.__table__.delete().where(LoginSession.user_id == user.id))
    event = {"enabled": "USER.ENABLE", "disabled": "USER.DISABLE", "locked": "USER.LOCK"}[state]
    events.record(session, caller, event, f"User {user.username} {state}", resource=user, resource_type="User",
                  account_id=account.id, domain_id=account.domain_id)
    return user


def delete_user(session: Session, caller: Caller, user: User) -> None:
    account = check_user_access(session, caller, user)
    if not caller.is_admin:
        raise PermissionDenied("Only administrators may delete users")
    if user.id in (1, 2) or user.is_default:
        raise PermissionDenied("The system and default admin users can not be deleted")
    if user.id == caller.user_id:
        raise PermissionDenied("A user can not delete itself")
    others = session.scalar(select(func.count(User.id)).where(User.account_id == account.id, User.removed.is_(None),
                                                              User.id != user.id))
    if not others:
        raise InvalidParameter("The user is the last one of its account: delete the account instead")
    _retire_user(session, user, utcnow())
    events.record(session, caller, "USER.DELETE", f"User Name: {user.username}", resource=user,
                  resource_type="User", account_id=account.id, domain_id=account.domain_id)


def _retire_user(session: Session, user: User, now) -> None:
    user.removed, user.state = now, "disabled"
    user.api_key = None
    session.execute(LoginSession.__table__.delete().where(LoginSession.user_id == user.id))


def list_users(session: Session, scope: Scope, *, user_id: int | None, username: str | None,
               account_name: str | None, account_type: int | None, state: str | None, keyword: str | None,
               offset: int, limit: int | None) -> tuple[list[User], int]:
    query = (select(User).join(Account, Account.id == User.account_id)
             .where(User.removed.is_(None), User.id != 1, scope.where(Account.id, Account.domain_id)))
    if user_id:
        query = query.where(User.id == user_id)
    if username:
        query = query.where(User.username == username)
    if account_name:
        query = query.where(Account.account_name == account_name)
    if account_type is not None:
        query = query.where(Account.type == account_type)
    if state:
        query = query.where(func.lower(User.state) == state.lower())
    if keyword:
        query = query.where(or_(User.username.like(f"%{keyword}%"), User.firstname.like(f"%{keyword}%"),
                                User.lastname.like(f"%{keyword}%"), User.email.like(f"%{keyword}%")))
    return page(session, query.order_by(User.id), offset, limit)


def register_user_keys(session: Session, caller: Caller, user: User) -> User:
    account = check_user_access(session, caller, user)
    user.api_key, user.secret_key = passwords.new_api_keypair()
    events.record(session, caller, "REGISTER.USER.KEY", f"Registered keys for user {user.username}",
                  resource=user, resource_type="User", account_id=account.id, domain_id=account.domain_id)
    return user


def get_user_keys(session: Session, caller: Caller, user: User) -> User:
    check_user_access(session, caller, user)
    return user


# --- helpers ---------------------------------------------------------------------------------------

def _check_name(param: str, value: str) -> None:
    if not value or not NAME_RE.match(value) or len(value) > 255:
        raise InvalidParameter(f"Invalid parameter {param} value={value}: names may not be empty or contain "
                               "spaces, slashes or quotes")




def find_session_by_key(session: Session, key: str) -> LoginSession | None:
    """Older clients send only the session key; find its session (when the setting allows it)."""
    row = session.scalar(select(LoginSession).where(LoginSession.session_key == key))
    return find_session(session, row.session_id) if row is not None else None
