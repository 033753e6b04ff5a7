"""Resource limits and counts, as CloudStack's ResourceLimitManagerImpl keeps them.

* Effective limit of an account: its own ``resource_limit`` row, else the ``max.account.<x>`` setting
  (``max.project.<x>`` for project accounts); root admin accounts are unlimited (-1).
* Effective limit of a domain: its own row, else the nearest ancestor's row (ROOT excluded), else the
  ``max.domain.<x>`` setting; the ROOT domain is unlimited.
* ``reserve`` checks and increments the counts of an account and of every ancestor domain atomically: the
  count rows are locked (``SELECT ... FOR UPDATE`` in ascending primary-key order, so concurrent reservations
  can not deadlock) before the check; on SQLite the write transaction (``BEGIN IMMEDIATE``) serialises.
* Storage types (primary_storage, secondary_storage) are counted in bytes; their limits are given and
  shown in GiB and stored in bytes.
* Counts are rebuilt by ``recalculate`` from ``RESOURCE_COUNTERS``: other domains register a function
  ``fn(session, account_id) -> int`` for the types they own (VMs, volumes, IPs...). A type without a
  counter keeps its current count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from management.config import service as config
from management.context import Caller
from management.errors import InvalidParameter, PermissionDenied, ResourceAllocation
from management.events import service as events
from management.iam.access import account_named, check_account_access, check_domain_access
from management.iam.models import Account, AccountType, Domain
from management.limits.models import ResourceCount, ResourceLimit

GIB = 1024 ** 3
UNLIMITED = -1
ROOT_DOMAIN_ID = 1


@dataclass(frozen=True)
class ResourceType:
    number: int
    name: str
    setting: str  # suffix of max.account.* / max.domain.* / max.project.*
    field: str  # prefix of the account/domain response fields (vmlimit, vmtotal, vmavailable)
    unit: int = 1  # bytes per unit of the limit (GiB for storage)


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(0, "user_vm", "user.vms", "vm"),
    ResourceType(1, "public_ip", "public.ips", "ip"),
    ResourceType(2, "volume", "volumes", "volume"),
    ResourceType(3, "snapshot", "snapshots", "snapshot"),
    ResourceType(4, "template", "templates", "template"),
    ResourceType(5, "project", "projects", "project"),
    ResourceType(6, "network", "networks", "network"),
    ResourceType(7, "vpc", "vpcs", "vpc"),
    ResourceType(8, "cpu", "cpus", "cpu"),
    ResourceType(9, "memory", "memory", "memory"),
    ResourceType(10, "primary_storage", "primary.storage", "primarystorage", GIB),
    ResourceType(11, "secondary_storage", "secondary.storage", "secondarystorage", GIB),
)
BY_NUMBER = {t.number: t for t in RESOURCE_TYPES}
BY_NAME = {t.name: t for t in RESOURCE_TYPES}

# type name -> fn(session, account_id) -> current usage (bytes for storage types); filled by other domains.
RESOURCE_COUNTERS: dict[str, Callable[[Session, int], int]] = {}


def register_counter(resource: str, fn: Callable[[Session, int], int]) -> None:
    RESOURCE_COUNTERS[resource_type(resource).name] = fn


def resource_type(value: int | str | ResourceType, param: str = "resourcetype") -> ResourceType:
    """A resource type from its number (0-11), its number as a string, or its name."""
    if isinstance(value, ResourceType):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit() and int(text) in BY_NUMBER:
        return BY_NUMBER[int(text)]
    if text.lower() in BY_NAME:
        return BY_NAME[text.lower()]
    raise InvalidParameter(f"Invalid parameter {param} value={value}: please specify a valid resource type "
                           f"(0-{len(RESOURCE_TYPES) - 1} or one of " + ", ".join(BY_NAME) + ")")


# --- effective limits --------------------------------------------------------------------------------

def _setting_limit(session: Session, name: str, rtype: ResourceType) -> int:
    if name not in config.CATALOG:
        return UNLIMITED
    value = config.get_int(session, name)
    return UNLIMITED if value < 0 else value * rtype.unit


def default_account_limit(session: Session, account_type: int, rtype: ResourceType) -> int:
    """The limit of an account without its own row."""
    if account_type == AccountType.ADMIN:
        return UNLIMITED
    scope = "project" if account_type == AccountType.PROJECT else "account"
    return _setting_limit(session, f"max.{scope}.{rtype.setting}", rtype)


def account_limits(session: Session, accounts: list[Account],
                   types: Iterable[ResourceType] = RESOURCE_TYPES) -> dict[tuple[int, str], int]:
    """Effective limits ``{(account_id, type_name): max}`` of many accounts, in one query."""
    types = list(types)
    own: dict[tuple[int, str], int] = {}
    ids = [a.id for a in accounts]
    if ids:
        for row in session.scalars(select(ResourceLimit).where(ResourceLimit.account_id.in_(ids))):
            own[(row.account_id, row.type)] = row.max
    defaults: dict[int, dict[str, int]] = {}  # account type -> {type name: the setting}, read once per call
    result = {}
    for account in accounts:
        account_id, account_type = account.id, account.type
        if account_type == AccountType.ADMIN:
            result.update({(account_id, rtype.name): UNLIMITED for rtype in types})
            continue
        default = defaults.get(account_type)
        if default is None:
            default = defaults[account_type] = {rtype.name: default_account_limit(session, account_type, rtype)
                                                for rtype in types}
        for rtype in types:
            key = (account_id, rtype.name)
            result[key] = own.get(key, default[rtype.name])
    return result


def account_limit(session: Session, account: Account, resource: int | str | ResourceType) -> int:
    rtype = resource_type(resource)
    return account_limits(session, [account], [rtype])[(account.id, rtype.name)]


def _ancestor_paths(domain: Domain) -> list[str]:
    parts = domain.path.strip("/").split("/") if domain.path != "/" else []
    return ["/"] + ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def ancestor_chains(session: Session, domains: list[Domain]) -> dict[int, list[Domain]]:
    """Each domain's chain of ancestors, ROOT first and the domain itself last (one query)."""
    paths = {p for d in domains for p in _ancestor_paths(d)}
    found = {d.path: d for d in session.scalars(select(Domain).where(Domain.path.in_(paths),
                                                                     Domain.removed.is_(None)))} if paths else {}
    for d in domains:
        found.setdefault(d.path, d)
    return {d.id: [found[p] for p in _ancestor_paths(d) if p in found] for d in domains}


def ancestors(session: Session, domain: Domain) -> list[Domain]:
    """The domain and its ancestors, ROOT first."""
    return ancestor_chains(session, [domain])[domain.id]


def domain_limits(session: Session, domains: list[Domain],
                  types: Iterable[ResourceType] = RESOURCE_TYPES) -> dict[tuple[int, str], int]:
    """Effective limits ``{(domain_id, type_name): max}`` of many domains (own row, nearest ancestor's row,
    else the max.domain.* setting; ROOT unlimited)."""
    types = list(types)
    chains = ancestor_chains(session, domains)
    all_ids = {a.id for chain in chains.values() for a in chain}
    rows: dict[tuple[int, str], int] = {}
    if all_ids:
        for row in session.scalars(select(ResourceLimit).where(ResourceLimit.domain_id.in_(all_ids))):
            rows[(row.domain_id, row.type)] = row.max
    result = {}
    for domain in domains:
        for rtype in types:
            if domain.id == ROOT_DOMAIN_ID:
                result[(domain.id, rtype.name)] = UNLIMITED
                continue
            value = None
            for ancestor in reversed(chains[domain.id]):  # the domain itself first, then up
                if ancestor.id == ROOT_DOMAIN_ID:
                    break
                if (ancestor.id, rtype.name) in rows:
                    value = rows[(ancestor.id, rtype.name)]
                    break
            if value is None:
                value = _setting_limit(session, f"max.domain.{rtype.setting}", rtype)
            result[(domain.id, rtype.name)] = value
    return result


def domain_limit(session: Session, domain: Domain, resource: int | str | ResourceType) -> int:
    rtype = resource_type(resource)
    return domain_limits(session, [domain], [rtype])[(domain.id, rtype.name)]


# --- counts ----------------------------------------------------------------------------------------------

def _insert_count(values: dict, dialect: str):
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        stmt = mysql_insert(ResourceCount).values(**values)
        return stmt.on_duplicate_key_update(count=ResourceCount.__table__.c.count)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(ResourceCount).values(**values).on_conflict_do_nothing()


def _create_missing_counts(session: Session, owners: list[tuple[int | None, int | None]],
                           types: list[ResourceType]) -> None:
    """Create the count rows (at 0) that do not exist yet.

    On MySQL they are created in a separate short transaction that commits at once, so the reserving
    transaction never holds insert or duplicate-key locks (two transactions that both met a duplicate key
    hold shared locks and deadlock when both upgrade to exclusive). If that side transaction can not
    finish quickly (the owner row itself is still uncommitted in the caller's transaction), the rows are
    created in the caller's transaction instead. On SQLite the write transaction (BEGIN IMMEDIATE) already
    serialises every writer, so they are simply inserted there."""
    names = [t.name for t in types]
    account_ids = [a for a, _ in owners if a is not None]
    domain_ids = [d for _, d in owners if d is not None]
    conds = []
    if account_ids:
        conds.append(ResourceCount.account_id.in_(account_ids))
    if domain_ids:
        conds.append(ResourceCount.domain_id.in_(domain_ids))
    have = {tuple(row) for row in session.execute(
        select(ResourceCount.account_id, ResourceCount.domain_id, ResourceCount.type)
        .where(ResourceCount.type.in_(names), or_(*conds)))}
    missing = [dict(type=n, count=0, account_id=a, domain_id=d) for n in names for a, d in owners
               if (a, d, n) not in have]
    if not missing:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "mysql":
        from sqlalchemy.exc import OperationalError

        try:
            with session.get_bind().connect() as conn:
                conn.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 3")
                conn.commit()
                try:
                    for attempt in range(5):
                        try:
                            with conn.begin():
                                for values in missing:
                                    conn.execute(_insert_count(values, dialect))
                            return
                        except OperationalError as error:
                            if attempt == 4 or getattr(error.orig, "args", [None])[0] != 1213:
                                raise
                finally:
                    conn.rollback()
                    conn.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = DEFAULT")
                    conn.commit()
        except OperationalError:
            pass  # fall back to the caller's own transaction
    for values in missing:
        session.execute(_insert_count(values, dialect))


def _lock_counts(session: Session, *, account_id: int | None, domains: list[Domain],
                 types: Iterable[ResourceType]) -> list[ResourceCount]:
    """Create the missing count rows, then lock them all with one ``SELECT ... FOR UPDATE`` by primary key in
    ascending order: every reservation takes its rows in that one global order, so concurrent reservations
    queue instead of deadlocking (on SQLite the write transaction serialises anyway)."""
    types = sorted(types, key=lambda t: t.number)
    owners = [(None, d.id) for d in domains] + ([(account_id, None)] if account_id is not None else [])
    _create_missing_counts(session, owners, types)
    conds = []
    if account_id is not None:
        conds.append(ResourceCount.account_id == account_id)
    if domains:
        conds.append(ResourceCount.domain_id.in_([d.id for d in domains]))
    ids = list(session.scalars(select(ResourceCount.id).where(ResourceCount.type.in_([t.name for t in types]),
                                                              or_(*conds))))
    query = (select(ResourceCount).where(ResourceCount.id.in_(ids)).order_by(ResourceCount.id)
             .with_for_update().execution_options(populate_existing=True))
    return list(session.scalars(query))


def counts_of(session: Session, *, account_ids: Iterable[int] = (), domain_ids: Iterable[int] = ()
              ) -> dict[tuple[str, int, str], int]:
    """Current counts ``{("account"|"domain", owner_id, type_name): count}`` (missing rows mean 0)."""
    result = {}
    account_ids, domain_ids = list(account_ids), list(domain_ids)
    if account_ids:
        for row in session.scalars(select(ResourceCount).where(ResourceCount.account_id.in_(account_ids))):
            result[("account", row.account_id, row.type)] = row.count
    if domain_ids:
        for row in session.scalars(select(ResourceCount).where(ResourceCount.domain_id.in_(domain_ids))):
            result[("domain", row.domain_id, row.type)] = row.count
    return result


def _exceeded_account(rtype: ResourceType, account: Account, domain: Domain) -> ResourceAllocation:
    return ResourceAllocation(f"Maximum number of resources of type '{rtype.name}' for account "
                              f"name={account.account_name} in domain id={domain.uuid} has been exceeded.")


def _exceeded_domain(rtype: ResourceType, domain: Domain) -> ResourceAllocation:
    return ResourceAllocation(f"Maximum number of resources of type '{rtype.name}' for domain id={domain.uuid} "
                              "has been exceeded.")


def reserve(session: Session, *, account_id: int, resource: int | str | ResourceType, amount: int = 1) -> None:
    """Check that ``amount`` more of ``resource`` fits the account's and every ancestor domain's limit, and
    count it; 535 otherwise. Call it in the transaction that creates the resource."""
    reserve_many(session, account_id=account_id, amounts={resource: amount})


def reserve_many(session: Session, *, account_id: int, amounts: dict) -> None:
    """``reserve`` for several types at once (one lock pass, so no lock-order deadlock between types)."""
    wanted = {resource_type(k): int(v) for k, v in amounts.items()}
    for rtype, amount in wanted.items():
        if amount < 0:
            raise InvalidParameter(f"Can not reserve a negative amount of {rtype.name}")
    wanted = {t: a for t, a in wanted.items() if a > 0}
    if not wanted:
        return
    account = session.get(Account, account_id)
    if account is None:
        raise InvalidParameter(f"Unable to find account by id {account_id}")
    chain = ancestors(session, session.get(Domain, account.domain_id))
    types = sorted(wanted, key=lambda t: t.number)
    rows = _lock_counts(session, account_id=account.id, domains=chain, types=types)
    by_owner = {(("account", r.account_id) if r.account_id is not None else ("domain", r.domain_id), r.type): r
                for r in rows}
    if account.type != AccountType.ADMIN:
        acc_limits = account_limits(session, [account], types)
        dom_limits = domain_limits(session, [d for d in chain if d.id != ROOT_DOMAIN_ID], types)
        own_domain = chain[-1]
        for rtype in types:
            amount = wanted[rtype]
            limit = acc_limits[(account.id, rtype.name)]
            count = by_owner[(("account", account.id), rtype.name)].count
            if limit != UNLIMITED and count + amount > limit:
                raise _exceeded_account(rtype, account, own_domain)
            for domain in chain:
                if domain.id == ROOT_DOMAIN_ID:
                    continue
                limit = dom_limits[(domain.id, rtype.name)]
                count = by_owner[(("domain", domain.id), rtype.name)].count
                if limit != UNLIMITED and count + amount > limit:
                    raise _exceeded_domain(rtype, domain)
    for row in rows:
        row.count += wanted[BY_NAME[row.type]]
    session.flush()


def release(session: Session, *, account_id: int, resource: int | str | ResourceType, amount: int = 1) -> None:
    """Uncount ``amount`` of ``resource`` for the account and its domains (never below zero: at most what the
    account has counted)."""
    rtype = resource_type(resource)
    if amount <= 0:
        return
    account = session.get(Account, account_id)
    if account is None:
        return
    chain = ancestors(session, session.get(Domain, account.domain_id))
    rows = _lock_counts(session, account_id=account.id, domains=chain, types=[rtype])
    own = next(r for r in rows if r.account_id == account.id)
    amount = min(amount, own.count)  # what was counted for the account leaves its domains as well
    for row in rows:
        row.count = max(0, row.count - amount)
    session.flush()


def _set_counts(session: Session, *, account_id: int | None, domain_id: int | None,
                values: dict[str, int]) -> None:
    if not values:
        return
    domains = [session.get(Domain, domain_id)] if domain_id is not None else []
    for row in _lock_counts(session, account_id=account_id, domains=domains, types=[BY_NAME[n] for n in values]):
        row.count = values[row.type]
    session.flush()


def recalculate(session: Session, account_id: int, types: Iterable[ResourceType] = RESOURCE_TYPES) -> dict[str, int]:
    """Rebuild an account's counts from ``RESOURCE_COUNTERS`` (types without a counter keep their count);
    returns the counts of the requested types."""
    types = list(types)
    values = {t.name: int(RESOURCE_COUNTERS[t.name](session, account_id)) for t in types
              if t.name in RESOURCE_COUNTERS}
    _set_counts(session, account_id=account_id, domain_id=None, values=values)
    current = counts_of(session, account_ids=[account_id])
    return {t.name: current.get(("account", account_id, t.name), 0) for t in types}


def recalculate_domain(session: Session, domain: Domain, types: Iterable[ResourceType] = RESOURCE_TYPES,
                       *, accounts: bool = True) -> dict[str, int]:
    """Rebuild the counts of every account below ``domain`` (if ``accounts``), then of ``domain``, its
    sub-domains and its ancestors: a domain's count is the sum over the live accounts of its subtree."""
    types = list(types)
    subtree = list(session.scalars(select(Domain).where(Domain.path.like(f"{domain.path}%"),
                                                        Domain.removed.is_(None))))
    if accounts:
        for account_id in session.scalars(select(Account.id).where(Account.domain_id.in_([d.id for d in subtree]),
                                                                   Account.removed.is_(None))):
            recalculate(session, account_id, types)
    affected = {d.id: d for d in subtree} | {d.id: d for d in ancestors(session, domain)}
    for target in sorted(affected.values(), key=lambda d: d.level):
        members = select(Account.id).where(Account.removed.is_(None), Account.domain_id.in_(
            select(Domain.id).where(Domain.path.like(f"{target.path}%"))))
        sums = dict(session.execute(select(ResourceCount.type, func.coalesce(func.sum(ResourceCount.count), 0))
                                    .where(ResourceCount.account_id.in_(members),
                                           ResourceCount.type.in_([t.name for t in types]))
                                    .group_by(ResourceCount.type)).all())
        _set_counts(session, account_id=None, domain_id=target.id,
                    values={t.name: int(sums.get(t.name, 0)) for t in types})
    current = counts_of(session, domain_ids=[domain.id])
    return {t.name: current.get(("domain", domain.id, t.name), 0) for t in types}


# --- the API's view of limits ---------------------------------------------------------------------------

@dataclass
class LimitEntry:
    """One line of listResourceLimits / updateResourceLimit."""

    rtype: ResourceType
    max: int  # internal units (bytes for storage)
    account: Account | None = None
    domain: Domain | None = None


def _find_account(session: Session, caller: Caller, name: str, domain: Domain) -> Account:
    account = account_named(session, name, domain)
    if account is None:
        raise InvalidParameter(f"Unable to find account {name} in domain {domain.uuid} (parameter account)")
    check_account_access(session, caller, account)
    return account


def list_limits(session: Session, caller: Caller, *, account_name: str | None, domain: Domain | None,
                recursive: bool = False, types: list[ResourceType] | None = None,
                limit_id: int | None = None) -> list[LimitEntry]:
    types = types or list(RESOURCE_TYPES)
    if limit_id is not None:
        row = session.get(ResourceLimit, limit_id)
        if row is None or BY_NAME.get(row.type) not in types:
            return []
        if row.account_id is not None:
            account = session.get(Account, row.account_id)
            check_account_access(session, caller, account)
            return [LimitEntry(BY_NAME[row.type], row.max, account=account,
                               domain=session.get(Domain, account.domain_id))]
        target = session.get(Domain, row.domain_id)
        check_domain_access(caller, target)
        return [LimitEntry(BY_NAME[row.type], row.max, domain=target)]
    if account_name is not None and domain is None:
        raise InvalidParameter("Account name is specified, but domain id is not (parameter domainid)")
    if domain is not None:
        check_domain_access(caller, domain)
    if account_name is not None:
        accounts = [_find_account(session, caller, account_name, domain)]
    elif domain is not None and caller.is_admin:
        domains = [domain]
        if recursive:
            domains = list(session.scalars(select(Domain).where(Domain.path.like(f"{domain.path}%"),
                                                                Domain.removed.is_(None)).order_by(Domain.id)))
        limits = domain_limits(session, domains, types)
        return [LimitEntry(t, limits[(d.id, t.name)], domain=d) for d in domains for t in types]
    else:
        accounts = [session.get(Account, caller.account_id)]
    limits = account_limits(session, accounts, types)
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_({a.domain_id for a in accounts})))}
    return [LimitEntry(t, limits[(a.id, t.name)], account=a, domain=domains[a.domain_id])
            for a in accounts for t in types]


def update_limit(session: Session, caller: Caller, *, resource: int | str | ResourceType, max_value: int | None,
                 account_name: str | None, domain: Domain | None) -> LimitEntry:
    rtype = resource_type(resource)
    if max_value is None:
        max_value = UNLIMITED
    if max_value < UNLIMITED:
        raise InvalidParameter("Invalid parameter max: please specify either '-1' for an infinite limit, or a limit "
                               "that is at least '0'.")
    stored = max_value * rtype.unit if max_value != UNLIMITED else UNLIMITED
    if domain is None:
        raise InvalidParameter("Unable to execute API command updateresourcelimit: specify domainid (with account "
                               "for an account's limit)")
    check_domain_access(caller, domain)
    if account_name is not None:
        account = _find_account(session, caller, account_name, domain)
        if account.id == 1:
            raise InvalidParameter("Can't update system account (parameter account)")
        if account.type == AccountType.ADMIN and stored != UNLIMITED:
            raise InvalidParameter(f"Only {UNLIMITED} limit is supported for Root Admin accounts (parameter max)")
        if account.id == caller.account_id and not caller.is_root_admin:
            raise PermissionDenied("Domain Admin and regular users can not modify their own resource limits")
        parent_limit = domain_limit(session, domain, rtype)
        if parent_limit != UNLIMITED and stored > parent_limit:
            raise InvalidParameter(f"Invalid parameter max value={max_value}: the account limit of {rtype.name} can "
                                   f"not be greater than the limit of its domain ({parent_limit // rtype.unit})")
        owner = ResourceLimit.account_id == account.id
        entry = LimitEntry(rtype, stored, account=account, domain=domain)
    else:
        if domain.id == ROOT_DOMAIN_ID:
            raise InvalidParameter("Cannot update resource limit of the ROOT domain (parameter domainid)")
        if not caller.is_root_admin and domain.id == caller.domain_id:
            raise PermissionDenied("Domain admins can not modify the resource limits of their own domain")
        parent = session.get(Domain, domain.parent)
        if parent is not None and parent.id != ROOT_DOMAIN_ID:
            parent_limit = domain_limit(session, parent, rtype)
            if parent_limit != UNLIMITED and (stored == UNLIMITED or stored > parent_limit):
                raise InvalidParameter(f"Invalid parameter max value={max_value}: the domain limit of {rtype.name} "
                                       f"can not be greater than the limit of its parent domain "
                                       f"({parent_limit // rtype.unit})")
        account = None
        owner = ResourceLimit.domain_id == domain.id
        entry = LimitEntry(rtype, stored, domain=domain)
    row = session.scalar(select(ResourceLimit).where(owner, ResourceLimit.type == rtype.name))
    if row is None:
        row = ResourceLimit(type=rtype.name, max=stored, account_id=account.id if account else None,
                            domain_id=None if account else domain.id)
        session.add(row)
    else:
        row.max = stored
    session.flush()
    target = f"account {account.account_name}" if account else f"domain {domain.name}"
    events.record(session, caller, "RESOURCE.LIMIT.UPDATE",
                  f"Resource limit of {rtype.name} for {target} set to {max_value}", resource=row,
                  resource_type="ResourceLimit")
    return entry


def update_counts(session: Session, caller: Caller, *, domain: Domain, account_name: str | None,
                  types: list[ResourceType] | None) -> tuple[Account | None, dict[str, int]]:
    """updateResourceCount: rebuild the counts of an account (and its domains) or of a whole domain."""
    types = types or list(RESOURCE_TYPES)
    check_domain_access(caller, domain)
    # Take ROOT's count rows first: every reservation starts there, so this recount runs alone.
    _lock_counts(session, account_id=None, domains=[session.get(Domain, ROOT_DOMAIN_ID)], types=types)
    if account_name is not None:
        account = _find_account(session, caller, account_name, domain)
        counts = recalculate(session, account.id, types)
        recalculate_domain(session, domain, types, accounts=False)
        return account, counts
    return None, recalculate_domain(session, domain, types)
