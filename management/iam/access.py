"""Who may see and touch what: CloudStack's domain-tree scoping, applied in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from management.context import Caller
from management.errors import InvalidParameter, PermissionDenied
from management.iam.models import Account, Domain


def domain_visible(caller: Caller, domain: Domain) -> bool:
    """Root admins see every domain; others their own domain and (admins) its subtree."""
    if caller.is_root_admin:
        return True
    if caller.is_admin:
        return domain.path.startswith(caller.domain_path)
    return domain.id == caller.domain_id


def check_domain_access(caller: Caller, domain: Domain) -> None:
    if domain.removed is not None:
        raise InvalidParameter(f"Domain {domain.uuid} is removed")
    if not domain_visible(caller, domain):
        raise PermissionDenied(f"Account {caller.account_name} does not have permission to access domain {domain.uuid}")


def check_account_access(session: Session, caller: Caller, account: Account) -> None:
    """The caller may act on ``account``: its own, or one in its subtree if it is an admin."""
    if caller.is_root_admin or account.id == caller.account_id:
        return
    if caller.is_admin:
        domain = session.get(Domain, account.domain_id)
        if domain is not None and domain.path.startswith(caller.domain_path):
            return
    raise PermissionDenied(f"Caller {caller.username} does not have permission to operate with resource {account.uuid}")


@dataclass(frozen=True)
class Scope:
    """The result of CloudStack's buildACLSearchParameters: what a list call may return."""

    account_ids: tuple[int, ...] = ()
    domain_path: str | None = None
    domain_id: int | None = None
    recursive: bool = False

    def where(self, account_col, domain_col) -> ColumnElement[bool]:
        if self.account_ids:
            return account_col.in_(self.account_ids)
        if self.domain_id is not None and not self.recursive:
            return domain_col == self.domain_id
        if self.domain_path is not None:
            subtree = select(Domain.id).where(Domain.path.like(f"{self.domain_path}%"))
            return domain_col.in_(subtree)
        return true()


def account_named(session: Session, name: str, domain: Domain) -> Account | None:
    """The live account called ``name`` in ``domain`` (None when there is none)."""
    return session.scalar(select(Account).where(Account.domain_id == domain.id, Account.account_name == name,
                                                Account.removed.is_(None)))


def owner_for(session: Session, caller: Caller, account_name: str | None, domain: Domain | None) -> Account:
    """The account a new resource belongs to: the caller's own, or ``account`` + ``domainid`` (both, as
    CloudStack wants them) when the caller may act for that account."""
    if account_name is None and domain is None:
        return session.get(Account, caller.account_id)
    if account_name is None or domain is None:
        raise InvalidParameter("Account name and domainid must be specified together")
    owner = account_named(session, account_name, domain)
    if owner is None:
        raise InvalidParameter(f"Unable to find account {account_name} in domain {domain.uuid}")
    check_account_access(session, caller, owner)
    return owner


def list_scope(session: Session, caller: Caller, *, account_name: str | None = None, domain: Domain | None = None,
               recursive: bool = False, listall: bool = False, by_id: bool = False) -> Scope:
    """Scope of a list of owned resources, exactly as CloudStack scopes it."""
    if domain is not None:
        check_domain_access(caller, domain)
        if account_name is not None:
            account = session.scalar(select(Account).where(Account.domain_id == domain.id,
                                                           Account.account_name == account_name,
                                                           Account.removed.is_(None)))
            if account is None:
                raise InvalidParameter(f"Unable to find account {account_name} in domain {domain.uuid}")
            check_account_access(session, caller, account)
            return Scope(account_ids=(account.id,))
        return Scope(domain_path=domain.path, domain_id=domain.id, recursive=recursive)
    if not caller.is_admin:
        return Scope(account_ids=(caller.account_id,))
    if not listall:
        if not by_id:
            return Scope(account_ids=(caller.account_id,))
        if not caller.is_root_admin:
            return Scope(domain_path=caller.domain_path, domain_id=caller.domain_id, recursive=True)
        return Scope()
    if not caller.is_root_admin:
        return Scope(domain_path=caller.domain_path, domain_id=caller.domain_id, recursive=True)
    return Scope()


def admin_subtree_scope(session: Session, caller: Caller, *, domain: Domain | None, recursive: bool,
                        listall: bool) -> Scope:
    """Scope of listAccounts/listUsers: a user sees its account, an admin its domain (and below with
    isrecursive or listall), a root admin every domain when listall is set."""
    if not caller.is_admin:
        return Scope(account_ids=(caller.account_id,))
    if domain is not None:
        check_domain_access(caller, domain)
        return Scope(domain_path=domain.path, domain_id=domain.id, recursive=recursive or listall)
    if caller.is_root_admin and listall:
        return Scope()
    return Scope(domain_path=caller.domain_path, domain_id=caller.domain_id, recursive=True)
