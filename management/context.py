"""Who is calling, and the request or job they are calling in."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from management.iam.models import AccountType, RoleType


@dataclass(frozen=True)
class Caller:
    user_id: int
    account_id: int
    domain_id: int
    domain_path: str
    account_type: int
    role_id: int | None
    role_type: str
    username: str = ""
    account_name: str = ""

    @property
    def is_root_admin(self) -> bool:
        return self.role_type == RoleType.ADMIN

    @property
    def is_domain_admin(self) -> bool:
        return self.role_type in (RoleType.DOMAIN_ADMIN, RoleType.RESOURCE_ADMIN)

    @property
    def is_admin(self) -> bool:
        """Root, resource or domain admin: anyone who may see beyond its own account."""
        return self.account_type in (AccountType.ADMIN, AccountType.DOMAIN_ADMIN,
                                     AccountType.RESOURCE_DOMAIN_ADMIN, AccountType.READ_ONLY_ADMIN)


SYSTEM_USER_ID = 1
SYSTEM_ACCOUNT_ID = 1
ROOT_DOMAIN_ID = 1


def system_caller() -> Caller:
    """The SYSTEM user (id 1, account 1): what the integration port and periodic work run as."""
    return Caller(user_id=SYSTEM_USER_ID, account_id=SYSTEM_ACCOUNT_ID, domain_id=ROOT_DOMAIN_ID,
                  domain_path="/", account_type=AccountType.ADMIN, role_id=1, role_type=RoleType.ADMIN,
                  username="system", account_name="system")


@dataclass
class Context:
    """Everything a command handler needs: a session in an open transaction and the caller."""

    session: Session
    caller: Caller
    command: str = ""
    request_id: str = ""
    job_id: int | None = None
    integration: bool = False
    extras: dict = field(default_factory=dict)
