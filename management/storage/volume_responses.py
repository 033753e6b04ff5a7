"""The volume response object (listVolumes, createVolume, attachVolume...) and extractVolume's, built in batches."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject, cs_date
from management.compute.models import DiskOffering, ServiceOffering
from management.compute.vm_models import VMInstance, Volume
from management.context import Caller
from management.iam.models import Account, Domain
from management.iam.responses import domain_display_path
from management.infra.models import Cluster, Pod, Zone
from management.storage.models import StoragePool, Template
from management.tags import service as tag_service


class VolumeResponse(ResponseObject):
    object_name = "volume"
    id: str
    name: str
    type: str
    state: str
    zoneid: str | None = None
    zonename: str | None = None
    podid: str | None = None
    podname: str | None = None
    clusterid: str | None = None
    clustername: str | None = None
    deviceid: int | None = None
    virtualmachineid: str | None = None
    vmname: str | None = None
    vmdisplayname: str | None = None
    vmstate: str | None = None
    vmtype: str | None = None
    size: int
    virtualsize: int | None = None
    physicalsize: int | None = None
    miniops: int | None = None
    maxiops: int | None = None
    created: str | None = None
    attached: str | None = None
    destroyed: bool = False
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    storagetype: str = "shared"
    hypervisor: str | None = None
    diskofferingid: str | None = None
    diskofferingname: str | None = None
    diskofferingdisplaytext: str | None = None
    serviceofferingid: str | None = None
    serviceofferingname: str | None = None
    serviceofferingdisplaytext: str | None = None
    storageid: str | None = None
    storage: str | None = None
    path: str | None = None
    provisioningtype: str | None = None
    snapshotid: str | None = None
    templateid: str | None = None
    templatename: str | None = None
    templatedisplaytext: str | None = None
    status: str | None = None
    isextractable: bool = True
    displayvolume: bool = True
    quiescevm: bool = False
    supportsstoragesnapshot: bool = False
    jobid: str | None = None
    jobstatus: int | None = None
    tags: list = Field(default_factory=list)


class ExtractResponse(ResponseObject):
    object_name = "volume"
    id: str
    name: str
    extractId: str | None = None
    extractMode: str = "HTTP_DOWNLOAD"
    state: str = "DOWNLOAD_URL_CREATED"
    status: str | None = None
    storagetype: str | None = None
    uploadpercentage: int | None = None
    url: str | None = None
    zoneid: str | None = None
    zonename: str | None = None
    accountid: str | None = None
    created: str | None = None
    resultstring: str | None = None


def _by_id(session: Session, model, ids) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}


def _snapshots(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    try:
        from management.storage.snapshot_models import Snapshot
    except ImportError:  # the snapshots domain is not there
        return {}
    return dict(session.execute(select(Snapshot.id, Snapshot.uuid).where(Snapshot.id.in_(ids))).all())


def volume_views(session: Session, caller: Caller, rows: list[Volume]) -> list[VolumeResponse]:
    tag_map = tag_service.tags_of(session, "Volume", [v.id for v in rows])
    zones = _by_id(session, Zone, (v.zone_id for v in rows))
    vms = _by_id(session, VMInstance, (v.vm_id for v in rows))
    pools = _by_id(session, StoragePool, (v.pool_id for v in rows))
    pods = _by_id(session, Pod, [p.pod_id for p in pools.values()] + [v.pod_id for v in rows])
    clusters = _by_id(session, Cluster, (p.cluster_id for p in pools.values()))
    offerings = _by_id(session, DiskOffering, (v.disk_offering_id for v in rows))
    services = _by_id(session, ServiceOffering, (vm.service_offering_id for vm in vms.values()))
    templates = _by_id(session, Template, (v.template_id for v in rows))
    accounts = _by_id(session, Account, (v.account_id for v in rows))
    domains = _by_id(session, Domain, (v.domain_id for v in rows))
    snapshots = _snapshots(session, (v.snapshot_id for v in rows))
    admin = caller.is_root_admin
    views = []
    for v in rows:
        zone, vm, pool = zones.get(v.zone_id), vms.get(v.vm_id), pools.get(v.pool_id)
        pod = pods.get(pool.pod_id if pool and pool.pod_id else v.pod_id)
        cluster = clusters.get(pool.cluster_id) if pool else None
        offering, template = offerings.get(v.disk_offering_id), templates.get(v.template_id)
        service = services.get(vm.service_offering_id) if vm and v.volume_type == "ROOT" else None
        account, domain = accounts.get(v.account_id), domains.get(v.domain_id)
        views.append(VolumeResponse(tags=tag_map.get(v.id, []),
            id=v.uuid, name=v.name, type=v.volume_type, state=v.state,
            zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
            podid=pod.uuid if pod else None, podname=pod.name if pod else None,
            clusterid=cluster.uuid if admin and cluster else None,
            clustername=cluster.name if admin and cluster else None,
            deviceid=v.device_id if vm else None, virtualmachineid=vm.uuid if vm else None,
            vmname=vm.name if vm else None, vmdisplayname=(vm.display_name or vm.name) if vm else None,
            vmstate=vm.state if vm else None, vmtype=vm.vm_type if vm else None,
            size=v.size, virtualsize=v.size, miniops=v.min_iops, maxiops=v.max_iops,
            created=cs_date(v.created), attached=cs_date(v.attached) if vm else None,
            destroyed=v.state in ("Destroy", "Expunging", "Expunged"),
            account=account.account_name if account else None, domainid=domain.uuid if domain else None,
            domain=domain.name if domain else None, domainpath=domain_display_path(domain) if domain else None,
            storagetype="local" if (offering and offering.storage_type == "local") or
                                   (pool is not None and pool.scope == "HOST") else "shared",
            hypervisor=vm.hypervisor_type if vm else None,
            diskofferingid=offering.uuid if offering else None, diskofferingname=offering.name if offering else None,
            diskofferingdisplaytext=offering.display_text if offering else None,
            serviceofferingid=service.uuid if service else None,
            serviceofferingname=service.name if service else None,
            serviceofferingdisplaytext=service.display_text if service else None,
            storageid=pool.uuid if admin and pool else None, storage=pool.name if admin and pool else None,
            path=(v.path.rsplit("/", 1)[-1] if v.path else None) if admin else None,
            provisioningtype=v.provisioning_type, snapshotid=snapshots.get(v.snapshot_id),
            templateid=template.uuid if template else None, templatename=template.name if template else None,
            templatedisplaytext=template.display_text if template else None,
            status=None if (v.status or '').startswith(('resizing:', 'migrating:')) else v.status,
            displayvolume=v.display_volume,
            supportsstoragesnapshot=False, quiescevm=False))
    return views
