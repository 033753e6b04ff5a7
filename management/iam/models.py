"""Domains, accounts, users, roles and login sessions (CloudStack's cloud.domain/account/user/roles)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class AccountType:
    NORMAL = 0
    ADMIN = 1
    DOMAIN_ADMIN = 2
    RESOURCE_DOMAIN_ADMIN = 3
    READ_ONLY_ADMIN = 4
    PROJECT = 5


class RoleType:
    ADMIN = "Admin"
    RESOURCE_ADMIN = "ResourceAdmin"
    DOMAIN_ADMIN = "DomainAdmin"
    USER = "User"
    ALL = (ADMIN, RESOURCE_ADMIN, DOMAIN_ADMIN, USER)

    # The account type each role type implies, and back (CloudStack's RoleType/Account.Type link).
    ACCOUNT_TYPE = {ADMIN: AccountType.ADMIN, RESOURCE_ADMIN: AccountType.RESOURCE_DOMAIN_ADMIN,
                    DOMAIN_ADMIN: AccountType.DOMAIN_ADMIN, USER: AccountType.NORMAL}
    BY_ACCOUNT_TYPE = {v: k for k, v in ACCOUNT_TYPE.items()}


class Domain(UuidMixin, Base):
    __tablename__ = "domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent: Mapped[int | None] = mapped_column(ForeignKey("domain.id"))
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(255), index=True)  # "/" for ROOT, "/a/b/" below
    level: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(32), default="Active")
    network_domain: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Role(UuidMixin, Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RolePermission(UuidMixin, Base):
    __tablename__ = "role_permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(255))
    permission: Mapped[str] = mapped_column(String(8))  # ALLOW | DENY
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str | None] = mapped_column(Text)


class Account(UuidMixin, Base):
    __tablename__ = "account"
    __table_args__ = (Index("ix_account_domain_name", "domain_id", "account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_name: Mapped[str] = mapped_column(String(255))
    type: Mapped[int] = mapped_column(Integer)
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="enabled")  # enabled | disabled | locked
    network_domain: Mapped[str | None] = mapped_column(String(255))
    cleanup_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class User(UuidMixin, Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(255), index=True)
    password: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    firstname: Mapped[str | None] = mapped_column(String(255))
    lastname: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="enabled")
    api_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    secret_key: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="native")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    incorrect_login_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginSession(Base):
    """A console/API login session, kept in the database so any management server can serve it."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)  # JSESSIONID cookie value
    session_key: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_access: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    timeout: Mapped[int] = mapped_column(Integer, default=1800)
