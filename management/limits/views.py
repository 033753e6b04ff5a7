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


# per type: (type, name, unit, limit key, total key, available key), the response keys made once
_KEYS = tuple((t, t.name, t.unit, f"{t.field}limit", f"{t.field}total", f"{t.field}available")
              for t in limits.RESOURCE_TYPES)


def _fields(owner_id: int, scope: str, effective: dict, counts: dict, unlimited: bool) -> dict:
    """The triples of one account or domain: limit and available as text (a number or "Unlimited"), the total
    as a number (GiB for storage; secondary storage with decimals, as CloudStack shows it)."""
    fields: dict = {}
    for _rtype, name, unit, limit_key, total_key, available_key in _KEYS:
        count = counts.get((scope, owner_id, name), 0)
        total = count / unit if name == "secondary_storage" else count // unit
        limit = effective[(owner_id, name)]
        if unlimited or limit == limits.UNLIMITED:
            fields[limit_key] = fields[available_key] = UNLIMITED_TEXT
        else:
            fields[limit_key], fields[available_key] = str(limit // unit), str(limit // unit - total)
        fields[total_key] = total
    return fields


def account_limit_fields(session: Session, accounts: list[Account]) -> dict[int, dict]:
    """``{account_id: {vmlimit: "20", vmtotal: 0, vmavailable: "20", ...}}`` (root admins: "Unlimited")."""
    if not accounts:
        return {}
    effective = limits.account_limits(session, accounts)
    counts = limits.counts_of(session, account_ids=[a.id for a in accounts])
    return {a.id: _fields(a.id, "account", effective, counts, a.type == AccountType.ADMIN) for a in accounts}


def domain_limit_fields(session: Session, domains: list[Domain]) -> dict[int, dict]:
    """The same triples for domains (the ROOT domain is unlimited)."""
    if not domains:
        return {}
    effective = limits.domain_limits(session, domains)
    counts = limits.counts_of(session, domain_ids=[d.id for d in domains])
    return {d.id: _fields(d.id, "domain", effective, counts, False) for d in domains}
