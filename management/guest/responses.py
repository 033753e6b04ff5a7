"""Response objects of the guest-access commands (key pairs)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject
from management.compute.vm_responses import _by_id
from management.guest.models import SSHKeyPair
from management.iam.models import Account, Domain


class SSHKeyPairResponse(ResponseObject):
    object_name = "keypair"
    id: str
    name: str
    fingerprint: str
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None


class CreatedSSHKeyPairResponse(SSHKeyPairResponse):
    privatekey: str | None = None


class ListedSSHKeyPairResponse(SSHKeyPairResponse):
    object_name = "sshkeypair"


def keypair_views(session: Session, rows: list[SSHKeyPair], model=SSHKeyPairResponse, **extra) -> list:
    accounts = _by_id(session, Account, (r.account_id for r in rows))
    domains = _by_id(session, Domain, (r.domain_id for r in rows))
    views = []
    for row in rows:
        account, domain = accounts.get(row.account_id), domains.get(row.domain_id)
        views.append(model(id=row.uuid, name=row.keypair_name, fingerprint=row.fingerprint,
                           account=account.account_name if account else None,
                           domainid=domain.uuid if domain else None, domain=domain.name if domain else None,
                           **extra))
    return views
