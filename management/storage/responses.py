"""Response objects of the storage commands and the batch-loading functions that build them."""

from __future__ import annotations

import json

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject, cs_date
from management.config import service as config
from management.iam.models import Account, Domain
from management.iam.responses import domain_display_path
from management.infra.models import Cluster, Pod, Zone
from management.storage.models import (
    DownloadState,
    GuestOs,
    GuestOsCategory,
    ImageStore,
    StoragePool,
    Template,
    TemplateStoreRef,
)
from management.tags import service as tag_service


class StoragePoolResponse(ResponseObject):
    object_name = "storagepool"
    id: str
    name: str
    zoneid: str | None = None
    zonename: str | None = None
    podid: str | None = None
    podname: str | None = None
    clusterid: str | None = None
    clustername: str | None = None
    ipaddress: str | None = None
    path: str | None = None
    type: str | None = None
    scope: str | None = None
    state: str | None = None
    disksizetotal: int | None = None
    disksizeused: int | None = None
    disksizeallocated: int | None = None
    capacitybytes: int | None = None
    overprovisionfactor: str | None = None
    tags: str | None = None
    istagarule: bool = False
    provider: str | None = None
    hypervisor: str | None = None
    managed: bool = False
    created: str | None = None
    details: dict | None = None


class ImageStoreResponse(ResponseObject):
    object_name = "imagestore"
    id: str
    name: str
    url: str | None = None
    protocol: str | None = None
    providername: str | None = None
    scope: str | None = None
    zoneid: str | None = None
    zonename: str | None = None
    readonly: bool = False
    disksizetotal: int | None = None
    disksizeused: int | None = None


class TemplateResponse(ResponseObject):
    object_name = "template"
    id: str
    name: str
    displaytext: str | None = None
    ispublic: bool = False
    isfeatured: bool = False
    isextractable: bool = False
    isready: bool = False
    status: str | None = None
    created: str | None = None
    removed: str | None = None
    format: str | None = None
    hypervisor: str | None = None
    ostypeid: str | None = None
    ostypename: str | None = None
    passwordenabled: bool = False
    sshkeyenabled: bool = False
    isdynamicallyscalable: bool = False
    bootable: bool | None = None
    requireshvm: bool | None = None
    bits: int | None = None
    crossZones: bool = False
    templatetype: str | None = None
    size: int | None = None
    physicalsize: int | None = None
    checksum: str | None = None
    url: str | None = None
    zoneid: str | None = None
    zonename: str | None = None
    account: str | None = None
    accountid: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    directdownload: bool = False
    deployasis: bool = False
    details: dict | None = None
    downloaddetails: list[dict] | None = None
    tags: list = Field(default_factory=list)


class IsoResponse(TemplateResponse):
    object_name = "iso"


class TemplatePermissionResponse(ResponseObject):
    object_name = "templatepermission"
    id: str
    ispublic: bool
    domainid: str
    account: list[str] = Field(default_factory=list)
    projectids: list[str] = Field(default_factory=list)


class IsoPermissionResponse(TemplatePermissionResponse):
    object_name = "isopermission"


class OsTypeResponse(ResponseObject):
    object_name = "ostype"
    id: str
    name: str | None = None
    description: str
    oscategoryid: str | None = None
    oscategoryname: str | None = None
    isuserdefined: bool = False
    fordisplay: bool = True


class OsCategoryResponse(ResponseObject):
    object_name = "oscategory"
    id: str
    name: str
    isfeatured: bool = False
    created: str | None = None


def _by_id(session: Session, model, ids) -> dict:
    ids = {i for i in ids if i is not None}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}


def pool_views(session: Session, pools: list[StoragePool]) -> list[StoragePoolResponse]:
    zones = _by_id(session, Zone, [p.zone_id for p in pools])
    pods = _by_id(session, Pod, [p.pod_id for p in pools])
    clusters = _by_id(session, Cluster, [p.cluster_id for p in pools])
    views = []
    for p in pools:
        zone, pod, cluster = zones.get(p.zone_id), pods.get(p.pod_id), clusters.get(p.cluster_id)
        views.append(StoragePoolResponse(
            id=p.uuid, name=p.name, zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
            podid=pod.uuid if pod else None, podname=pod.name if pod else None,
            clusterid=cluster.uuid if cluster else None, clustername=cluster.name if cluster else None,
            ipaddress=p.host_address, path=p.path, type=p.pool_type, scope=p.scope, state=p.status,
            disksizetotal=p.capacity_bytes, disksizeused=p.used_bytes, disksizeallocated=p.allocated_bytes,
            capacitybytes=p.capacity_bytes,
            overprovisionfactor=(config.get_value(session, "storage.overprovisioning.factor", pool=p.id)
                                 if p.pool_type in ("NetworkFilesystem", "SharedMountPoint") else "1.0"),
            tags=p.tags, provider=p.provider, hypervisor=p.hypervisor, created=cs_date(p.created),
            details=json.loads(p.details) if p.details else None))
    return views


def store_views(session: Session, stores: list[ImageStore]) -> list[ImageStoreResponse]:
    zones = _by_id(session, Zone, [s.zone_id for s in stores])
    return [ImageStoreResponse(id=s.uuid, name=s.name, url=s.url, protocol=s.protocol, providername=s.provider,
                               scope=s.scope, zoneid=zones[s.zone_id].uuid if s.zone_id in zones else None,
                               zonename=zones[s.zone_id].name if s.zone_id in zones else None, readonly=s.readonly,
                               disksizetotal=s.total_bytes, disksizeused=s.used_bytes)
            for s in stores]


def status_text(ref: TemplateStoreRef | None) -> str | None:
    """CloudStack's TemplateJoinDaoImpl status strings."""
    if ref is None:
        return None
    if ref.download_state == DownloadState.DOWNLOADED:
        return "Download Complete"
    if ref.download_state == DownloadState.IN_PROGRESS:
        return "Installing Template" if ref.download_pct >= 100 else f"{ref.download_pct}% Downloaded"
    if ref.error_str:
        return ref.error_str
    return "Not Downloaded" if ref.download_state == DownloadState.NOT_DOWNLOADED else ref.download_state


def template_views(session: Session, rows: list[tuple[Template, TemplateStoreRef | None]], *,
                   admin: bool) -> list[TemplateResponse]:
    tag_map = {**tag_service.tags_of(session, "Template", [t.id for t, _ in rows if not t.is_iso]),
               **tag_service.tags_of(session, "ISO", [t.id for t, _ in rows if t.is_iso])}
    templates = [t for t, _ in rows]
    zones = _by_id(session, Zone, [r.zone_id for _, r in rows if r is not None])
    stores = _by_id(session, ImageStore, [r.store_id for _, r in rows if r is not None])
    accounts = _by_id(session, Account, [t.account_id for t in templates])
    domains = _by_id(session, Domain, [t.domain_id for t in templates])
    oses = _by_id(session, GuestOs, [t.guest_os_id for t in templates])
    views = []
    for template, ref in rows:
        account, domain = accounts.get(template.account_id), domains.get(template.domain_id)
        zone = zones.get(ref.zone_id) if ref is not None else None
        guest_os = oses.get(template.guest_os_id)
        cls = IsoResponse if template.is_iso else TemplateResponse
        ready = ref is not None and ref.download_state == DownloadState.DOWNLOADED and template.removed is None
        details = None
        if ref is not None and admin:
            store = stores.get(ref.store_id)
            details = [{"datastore": store.name if store else "", "downloadPercent": str(ref.download_pct),
                        "downloadState": ref.download_state}]
        views.append(cls(tags=tag_map.get(template.id, []),
            id=template.uuid, name=template.name, displaytext=template.display_text, ispublic=template.is_public,
            isfeatured=template.featured, isextractable=template.extractable, isready=ready,
            status=status_text(ref), created=cs_date(template.created), removed=cs_date(template.removed),
            format=template.format, hypervisor=template.hypervisor if not template.is_iso else None,
            ostypeid=guest_os.uuid if guest_os else None, ostypename=guest_os.display_name if guest_os else None,
            passwordenabled=template.password_enabled, sshkeyenabled=template.sshkey_enabled,
            isdynamicallyscalable=template.dynamically_scalable, bootable=template.bootable,
            requireshvm=template.requires_hvm if not template.is_iso else None,
            bits=template.bits, crossZones=template.cross_zones, templatetype=template.type,
            size=(ref.size if ref is not None and ref.size is not None else template.size) if ready else None,
            physicalsize=(ref.physical_size if ref is not None else None) if ready else None,
            checksum=template.checksum, url=template.url, zoneid=zone.uuid if zone else None,
            zonename=zone.name if zone else None, account=account.account_name if account else None,
            accountid=account.uuid if account else None, domainid=domain.uuid if domain else None,
            domain=domain.name if domain else None, domainpath=domain_display_path(domain) if domain else None,
            details=json.loads(template.details) if template.details else None, downloaddetails=details))
    return views


def os_type_views(session: Session, rows: list[GuestOs]) -> list[OsTypeResponse]:
    categories = _by_id(session, GuestOsCategory, [r.category_id for r in rows])
    return [OsTypeResponse(id=r.uuid, name=r.display_name, description=r.display_name,
                           oscategoryid=categories[r.category_id].uuid if r.category_id in categories else None,
                           oscategoryname=categories[r.category_id].name if r.category_id in categories else None,
                           isuserdefined=r.is_user_defined, fordisplay=r.display)
            for r in rows]


def os_category_views(rows: list[GuestOsCategory]) -> list[OsCategoryResponse]:
    return [OsCategoryResponse(id=r.uuid, name=r.name, isfeatured=r.featured, created=cs_date(r.created))
            for r in rows]
