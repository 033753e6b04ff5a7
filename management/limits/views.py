"""The limit/total/available triples of the account and domain response objects (vmlimit, vmtotal,
vmavailable, iplimit, ...), built for a whole list of accounts or domains in a few queries."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from management.iam.models import Account, AccountType, Domain
from management.limits import service as limits

UNLIMITED_TEXT = "Unlimited"


class LimitFields(BaseModel):
    """Mixed into AccountResponse and DomainResponse: limits are strings (a number or "Unlimited")."""

    vmlimit: str | None = None
    vmtotal: int | None = None
    vmavailable: str | None = None
    iplimit: str | None = None
    iptotal: int | None = None
    ipavailable: str | None = None
    volumelimit: str | None = None
    volumetotal: int | None = None
    volumeavailable: str | None = None
    snapshotlimit: str | None = None
    snapshottotal: int | None = None
    snapshotavailable: str | None = None
    templatelimit: str | None = None
    templatetotal: int | None = None
    templateavailable: str | None = None
    projectlimit: str | None = None
    projecttotal: int | None = None
    projectavailable: str | None = None
    networklimit: str | None = None
    networktotal: int | None = None
    networkavailable: str | None = None
    vpclimit: str | None = None
    vpctotal: int | None = None
    vpcavailable: str | None = None
    cpulimit: str | None = None
    cputotal: int | None = None
    cpuavailable: str | None = None
    memorylimit: str | None = None
    memorytotal: int | None = None
    memoryavailable: str | None = None
    primarystoragelimit: str | None = None
    primarystoragetotal: int | None = None
    primarystorageavailable: str | None = None
    secondarystoragelimit: str | None = None
    secondarystoragetotal: float | None = None
    secondarystorageavailable: str | None = None


def _triple(rtype: limits.ResourceType, limit: int, count: int, unlimited: bool) -> dict:
    if rtype.name == "secondary_storage":
        total: float | int = count / rtype.unit
    else:
        total = count // rtype.unit
    if unlimited or limit == limits.UNLIMITED:
        shown = available = UNLIMITED_TEXT
    else:
        shown = str(limit // rtype.unit)
        available = str(limit // rtype.unit - total)
    return {f"{rtype.field}limit": shown, f"{rtype.field}total": total, f"{rtype.field}available": available}


def account_limit_fields(session: Session, accounts: list[Account]) -> dict[int, dict]:
    """``{account_id: {vmlimit: "20", vmtotal: 0, vmavailable: "20", ...}}`` (root admins: "Unlimited")."""
    if not accounts:
        return {}
    effective = limits.account_limits(session, accounts)
    counts = limits.counts_of(session, account_ids=[a.id for a in accounts])
    result = {}
    for account in accounts:
        fields: dict = {}
        for rtype in limits.RESOURCE_TYPES:
            fields |= _triple(rtype, effective[(account.id, rtype.name)],
                              counts.get(("account", account.id, rtype.name), 0),
                              account.type == AccountType.ADMIN)
        result[account.id] = fields
    return result


def domain_limit_fields(session: Session, domains: list[Domain]) -> dict[int, dict]:
    """The same triples for domains (the ROOT domain is unlimited)."""
    if not domains:
        return {}
    effective = limits.domain_limits(session, domains)
    counts = limits.counts_of(session, domain_ids=[d.id for d in domains])
    result = {}
    for domain in domains:
        fields: dict = {}
        for rtype in limits.RESOURCE_TYPES:
            fields |= _triple(rtype, effective[(domain.id, rtype.name)],
                              counts.get(("domain", domain.id, rtype.name), 0), False)
        result[domain.id] = fields
    return result
