"""Resource tags as CloudStack keeps them: key/value pairs on a resource, owned by the resource's account.

A resource is named by its type (``ResourceObjectType``, matched case-insensitively) and uuid; the caller
must be allowed to act for its owner (``check_account_access``). A key is unique per resource. A tag lives
as long as its resource: tags of removed resources are never listed or shown, and a released public IP
(whose row is used again by its next owner) loses its tags when it is released (``drop``).

Other domains use ``tags_of`` to put the ``tags`` of their response objects, ``matching`` to filter their
lists by ``tags[i].key/value``, and ``drop`` where a resource row is reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from management.compute.vm_models import VMInstance, Volume
from management.context import Caller
from management.errors import InvalidParameter
from management.events import service as events
from management.iam.access import Scope, check_account_access
from management.iam.models import Account, Domain
from management.infra.models import IpAddress
from management.network.models import Network
from management.securitygroups.models import SecurityGroup
from management.storage.models import Template
from management.storage.snapshot_models import Snapshot
from management.tags.models import ResourceTag
from management.vmsnapshots.models import VMSnapshot

MAX_LENGTH = 255


@dataclass(frozen=True)
class Kind:
    """A taggable resource type: its row class and what makes a row a live resource of this type."""

    name: str
    model: type
    live: Callable[[], object]


KINDS: dict[str, Kind] = {k.name.lower(): k for k in (
    Kind("UserVm", VMInstance, lambda: and_(VMInstance.removed.is_(None), VMInstance.vm_type == "User")),
    Kind("Volume", Volume, lambda: Volume.removed.is_(None)),
    Kind("Snapshot", Snapshot, lambda: Snapshot.removed.is_(None)),
    Kind("Template", Template, lambda: and_(Template.removed.is_(None), Template.format != "ISO")),
    Kind("ISO", Template, lambda: and_(Template.removed.is_(None), Template.format == "ISO")),
    Kind("SecurityGroup", SecurityGroup, lambda: SecurityGroup.id.is_not(None)),
    Kind("PublicIpAddress", IpAddress, lambda: and_(IpAddress.account_id.is_not(None),
                                                    IpAddress.state == "Allocated")),
    Kind("Network", Network, lambda: Network.removed.is_(None)),
    Kind("VMSnapshot", VMSnapshot, lambda: VMSnapshot.removed.is_(None)),
)}


def kind_of(name: str | None, param: str = "resourcetype") -> Kind:
    kind = KINDS.get((name or "").strip().lower())
    if kind is None:
        raise InvalidParameter(f"Invalid resource type {name} ({param}): use one of "
                               + ", ".join(k.name for k in KINDS.values()))
    return kind


def _resources(session: Session, caller: Caller, kind: Kind, uuids: list[str]) -> list:
    if not uuids:
        raise InvalidParameter("Specify at least one resource (resourceids)")
    model = kind.model
    found = []
    for raw in uuids:
        uuid = raw.strip().lower()
        row = session.scalar(select(model).where(model.uuid == uuid, kind.live()))
        if row is None:
            raise InvalidParameter(f"Unable to find {kind.name} by id {raw} (resourceids)")
        owner = session.get(Account, row.account_id)
        check_account_access(session, caller, owner)
        found.append(row)
    return found


def pairs(entries: list[dict[str, str]], *, values_required: bool) -> list[tuple[str, str | None]]:
    """The ``tags[i].key/value`` entries of a request, checked (431 naming ``tags``)."""
    result = []
    for entry in entries:
        key, value = (entry.get("key") or "").strip(), entry.get("value")
        if not key:
            raise InvalidParameter("A tag needs a key (tags[i].key)")
        if values_required and (value is None or value == ""):
            raise InvalidParameter(f"Tag {key} needs a value (tags[i].value)")
        if len(key) > MAX_LENGTH or (value is not None and len(value) > MAX_LENGTH):
            raise InvalidParameter(f"Tag {key[:40]}: keys and values take at most {MAX_LENGTH} characters (tags)")
        result.append((key, value))
    return result


def check_create(session: Session, caller: Caller, kind_name: str, uuids: list[str],
                 tags: list[tuple[str, str]]) -> tuple[Kind, list]:
    """createTags' checks (431 naming the parameter, nothing written): the kind, the resources, the tags."""
    kind = kind_of(kind_name)
    if not tags:
        raise InvalidParameter("Specify at least one tag (tags[i].key, tags[i].value)")
    keys = [k for k, _v in tags]
    if len(set(keys)) != len(keys):
        raise InvalidParameter("A key may be given once per request (tags)")
    rows = _resources(session, caller, kind, uuids)
    for row in rows:
        taken = set(session.scalars(select(ResourceTag.key).where(
            ResourceTag.resource_type == kind.name, ResourceTag.resource_id == row.id, ResourceTag.key.in_(keys))))
        if taken:
            raise InvalidParameter(f"{kind.name} {row.uuid} already has a tag with key {sorted(taken)[0]} (tags)")
    return kind, rows


def create(session: Session, caller: Caller, kind_name: str, uuids: list[str], tags: list[tuple[str, str]],
           customer: str | None = None) -> None:
    kind, rows = check_create(session, caller, kind_name, uuids, tags)
    for row in rows:
        for key, value in tags:
            session.add(ResourceTag(key=key, value=value, resource_type=kind.name, resource_id=row.id,
                                    resource_uuid=row.uuid, customer=customer, account_id=row.account_id,
                                    domain_id=row.domain_id))
        events.record(session, caller, "CREATE_TAGS", f"Tags {', '.join(k for k, _v in tags)} created for "
                      f"{kind.name} {row.uuid}", resource=row, resource_type=kind.name, account_id=row.account_id,
                      domain_id=row.domain_id)
    session.flush()


def _selected(kind: Kind, row, tags: list[tuple[str, str | None]]):
    condition = and_(ResourceTag.resource_type == kind.name, ResourceTag.resource_id == row.id)
    if tags:
        condition = and_(condition, or_(*[and_(ResourceTag.key == key, ResourceTag.value == value) if value
                                          else ResourceTag.key == key for key, value in tags]))
    return condition


def check_delete(session: Session, caller: Caller, kind_name: str, uuids: list[str],
                 tags: list[tuple[str, str | None]]) -> tuple[Kind, list]:
    """deleteTags' checks (nothing written): the resources, and with keys given, that each has a match."""
    kind = kind_of(kind_name)
    rows = _resources(session, caller, kind, uuids)
    for row in rows:
        if tags and session.scalar(select(func.count(ResourceTag.id)).where(_selected(kind, row, tags))) == 0:
            raise InvalidParameter(f"{kind.name} {row.uuid} has no tag matching the given keys and values (tags)")
    return kind, rows


def delete_tags(session: Session, caller: Caller, kind_name: str, uuids: list[str],
                tags: list[tuple[str, str | None]]) -> None:
    """Remove the given keys (a value given must match too) or, with none given, every tag of the resources."""
    kind, rows = check_delete(session, caller, kind_name, uuids, tags)
    for row in rows:
        session.execute(delete(ResourceTag).where(_selected(kind, row, tags))
                        .execution_options(synchronize_session=False))
        events.record(session, caller, "DELETE_TAGS", f"Tags deleted from {kind.name} {row.uuid}", resource=row,
                      resource_type=kind.name, account_id=row.account_id, domain_id=row.domain_id)


def drop(session: Session, kind_name: str, resource_id: int) -> None:
    """The resource is gone (or its row goes to someone else): its tags go too."""
    session.execute(delete(ResourceTag).where(ResourceTag.resource_type == kind_of(kind_name).name,
                                              ResourceTag.resource_id == resource_id)
                    .execution_options(synchronize_session=False))


def matching(kind_name: str, id_column, entries: list[dict[str, str]]):
    """A condition on ``id_column`` for list commands' ``tags`` filter: the resource has every given key (with
    its value, when one is given). None when no tag is given."""
    wanted = pairs(entries, values_required=False)
    if not wanted:
        return None
    name = kind_of(kind_name).name
    conditions = []
    for key, value in wanted:
        sub = select(ResourceTag.resource_id).where(ResourceTag.resource_type == name, ResourceTag.key == key)
        if value:
            sub = sub.where(ResourceTag.value == value)
        conditions.append(id_column.in_(sub))
    return and_(*conditions)


def filtered(query, kind_name: str, id_column, entries: list[dict[str, str]]):
    """``query`` narrowed to the resources carrying every ``tags[i].key/value`` given (unchanged without)."""
    condition = matching(kind_name, id_column, entries)
    return query if condition is None else query.where(condition)


def list_query(scope: Scope, *, kind_name: str | None, resource_uuid: str | None, key: str | None,
               value: str | None, customer: str | None, keyword: str | None):
    """listTags: the caller's visible tags of live resources."""
    query = select(ResourceTag).where(scope.where(ResourceTag.account_id, ResourceTag.domain_id))
    kinds = [kind_of(kind_name)] if kind_name else list(KINDS.values())
    query = query.where(or_(*[and_(ResourceTag.resource_type == k.name, ResourceTag.resource_id.in_(
        select(k.model.id).where(k.live()))) for k in kinds]))
    if resource_uuid:
        query = query.where(ResourceTag.resource_uuid == resource_uuid.strip().lower())
    if key:
        query = query.where(ResourceTag.key == key)
    if value:
        query = query.where(ResourceTag.value == value)
    if customer:
        query = query.where(ResourceTag.customer == customer)
    if keyword:
        like = f"%{keyword.lower()}%"
        query = query.where(or_(func.lower(ResourceTag.key).like(like), func.lower(ResourceTag.value).like(like)))
    return query.order_by(ResourceTag.id)


def views(session: Session, rows: list[ResourceTag]) -> list[dict]:
    """Tags as CloudStack renders them (in listTags and inside resource responses)."""
    from management.iam.responses import domain_display_path

    if not rows:
        return []
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_({r.account_id for r in rows})))}
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_({r.domain_id for r in rows})))}
    result = []
    for r in rows:
        account, domain = accounts.get(r.account_id), domains.get(r.domain_id)
        view = {"key": r.key, "value": r.value, "resourcetype": r.resource_type, "resourceid": r.resource_uuid,
                "account": account.account_name if account else None, "domainid": domain.uuid if domain else None,
                "domain": domain.name if domain else None,
                "domainpath": domain_display_path(domain) if domain else None, "customer": r.customer}
        result.append({k: v for k, v in view.items() if v is not None})
    return result


def tags_of(session: Session, kind_name: str, ids) -> dict[int, list[dict]]:
    """``{resource id: [tag view, ...]}`` for the ``tags`` of many resources of one type (one query)."""
    ids = list(ids)
    if not ids:
        return {}
    rows = list(session.scalars(select(ResourceTag).where(ResourceTag.resource_type == kind_of(kind_name).name,
                                                          ResourceTag.resource_id.in_(ids))
                                .order_by(ResourceTag.id)))
    result: dict[int, list[dict]] = {}
    for row, view in zip(rows, views(session, rows), strict=True):
        result.setdefault(row.resource_id, []).append(view)
    return result
