"""Response objects of the snapshot, snapshot policy and template-from-volume commands, built in batches."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject, cs_date
from management.compute.vm_models import Volume
from management.iam.models import Account, Domain
from management.iam.responses import domain_display_path
from management.infra.models import Zone
from management.storage.models import GuestOs, ImageStore
from management.storage.snapshot_models import INTERVALS, SnapshotPolicy, SnapshotState, SnapshotStoreRef
from management.tags import service as tag_service


class SnapshotResponse(ResponseObject):
    object_name = "snapshot"
    id: str
    name: str
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    volumeid: str | None = None
    volumename: str | None = None
    volumetype: str | None = None
    volumestate: str | None = None
    snapshottype: str | None = None
    intervaltype: str | None = None
    created: str | None = None
    state: str | None = None
    physicalsize: int | None = None
    virtualsize: int | None = None
    zoneid: str | None = None
    zonename: str | None = None
    revertable: bool = False
    locationtype: str | None = None
    osdisplayname: str | None = None
    ostypeid: str | None = None
    datastoreid: str | None = None
    datastorename: str | None = None
    datastoretype: str | None = None
    tags: list = []


class SnapshotPolicyResponse(ResponseObject):
    object_name = "snapshotpolicy"
    id: str
    volumeid: str | None = None
    volumename: str | None = None
    schedule: str | None = None
    intervaltype: int | None = None
    maxsnaps: int | None = None
    timezone: str | None = None
    fordisplay: bool = True
    tags: list = []


def _by_id(session: Session, model, ids) -> dict:
    ids = {i for i in ids if i is not None}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}


def snapshot_views(session: Session, snapshots: list) -> list[SnapshotResponse]:
    tag_map = tag_service.tags_of(session, "Snapshot", [s.id for s in snapshots])
    volumes = _by_id(session, Volume, [s.volume_id for s in snapshots])
    accounts = _by_id(session, Account, [s.account_id for s in snapshots])
    domains = _by_id(session, Domain, [s.domain_id for s in snapshots])
    zones = _by_id(session, Zone, [s.zone_id for s in snapshots])
    refs = {r.snapshot_id: r for r in session.scalars(select(SnapshotStoreRef).where(
        SnapshotStoreRef.snapshot_id.in_([s.id for s in snapshots]), SnapshotStoreRef.state != "Destroyed"))} \
        if snapshots else {}
    stores = _by_id(session, ImageStore, [r.store_id for r in refs.values()])
    from management.storage.models import Template

    templates = _by_id(session, Template, [v.template_id for v in volumes.values()])
    oses = _by_id(session, GuestOs, [t.guest_os_id for t in templates.values()])
    views = []
    for s in snapshots:
        volume, account, domain, zone = (volumes.get(s.volume_id), accounts.get(s.account_id),
                                         domains.get(s.domain_id), zones.get(s.zone_id))
        ref = refs.get(s.id)
        store = stores.get(ref.store_id) if ref else None
        template = templates.get(volume.template_id) if volume is not None else None
        guest_os = oses.get(template.guest_os_id) if template is not None else None
        usable_volume = volume is not None and volume.removed is None and volume.pool_id is not None
        views.append(SnapshotResponse(tags=tag_map.get(s.id, []),
            id=s.uuid, name=s.name, account=account.account_name if account else None,
            domainid=domain.uuid if domain else None, domain=domain.name if domain else None,
            domainpath=domain_display_path(domain) if domain else None,
            volumeid=volume.uuid if volume else None, volumename=volume.name if volume else None,
            volumetype=volume.volume_type if volume else None, volumestate=volume.state if volume else None,
            snapshottype=s.type_description, intervaltype=s.type_description if s.type_description in INTERVALS
            else None, created=cs_date(s.created), state=s.status,
            physicalsize=ref.physical_size if ref and s.status == SnapshotState.BACKED_UP else None,
            virtualsize=s.size, zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
            revertable=s.status == SnapshotState.BACKED_UP and usable_volume,
            locationtype=s.location_type, osdisplayname=guest_os.display_name if guest_os else None,
            ostypeid=guest_os.uuid if guest_os else None, datastoreid=store.uuid if store else None,
            datastorename=store.name if store else None, datastoretype="ImageStore" if store else None))
    return views


def policy_views(session: Session, policies: list[SnapshotPolicy]) -> list[SnapshotPolicyResponse]:
    volumes = _by_id(session, Volume, [p.volume_id for p in policies])
    views = []
    for p in policies:
        volume = volumes.get(p.volume_id)
        views.append(SnapshotPolicyResponse(id=p.uuid, volumeid=volume.uuid if volume else None,
                                            volumename=volume.name if volume else None, schedule=p.schedule,
                                            intervaltype=p.interval, maxsnaps=p.max_snaps, timezone=p.timezone,
                                            fordisplay=p.display))
    return views
