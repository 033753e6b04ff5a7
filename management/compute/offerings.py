"""Compute (service) and disk offerings: creation with CloudStack's validation, updates, removal,
scoped listing, and the domain/zone links that restrict an offering."""

from __future__ import annotations

import json

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import Session

from management.compute.models import (
    SYSTEM_VM_TYPES,
    DiskOffering,
    OfferingDomain,
    OfferingState,
    OfferingZone,
    ServiceOffering,
)
from management.config import service as config
from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter, PermissionDenied
from management.events import service as events
from management.iam.models import Domain
from management.infra.models import Zone
from management.pagination import page

GIB = 1024 ** 3
SERVICE, DISK = "service", "disk"
MIN_MEMORY_MB = 32


# --- domain / zone links ---------------------------------------------------------------------------

def set_scope(session: Session, kind: str, offering_id: int, *, domains: list[Domain] | None = None,
              zones: list[Zone] | None = None) -> None:
    """Replace the domain (and/or zone) links of an offering; ``None`` leaves that side unchanged."""
    if domains is not None:
        session.execute(delete(OfferingDomain).where(OfferingDomain.kind == kind,
                                                     OfferingDomain.offering_id == offering_id))
        for domain_id in dict.fromkeys(d.id for d in domains):
            session.add(OfferingDomain(kind=kind, offering_id=offering_id, domain_id=domain_id))
    if zones is not None:
        session.execute(delete(OfferingZone).where(OfferingZone.kind == kind, OfferingZone.offering_id == offering_id))
        for zone_id in dict.fromkeys(z.id for z in zones):
            session.add(OfferingZone(kind=kind, offering_id=offering_id, zone_id=zone_id))
    session.flush()


def scopes_of(session: Session, kind: str, offering_ids: list[int]) -> tuple[dict[int, list[Domain]],
                                                                               dict[int, list[Zone]]]:
    """Domains and zones of each offering, in two queries."""
    domains: dict[int, list[Domain]] = {}
    zones: dict[int, list[Zone]] = {}
    if not offering_ids:
        return domains, zones
    for link, domain in session.execute(
            select(OfferingDomain.offering_id, Domain).join(Domain, Domain.id == OfferingDomain.domain_id)
            .where(OfferingDomain.kind == kind, OfferingDomain.offering_id.in_(offering_ids))
            .order_by(OfferingDomain.id)):
        domains.setdefault(link, []).append(domain)
    for link, zone in session.execute(
            select(OfferingZone.offering_id, Zone).join(Zone, Zone.id == OfferingZone.zone_id)
            .where(OfferingZone.kind == kind, OfferingZone.offering_id.in_(offering_ids))
            .order_by(OfferingZone.id)):
        zones.setdefault(link, []).append(zone)
    return domains, zones


def parse_domain_list(session: Session, value: str | None, param: str = "domainid") -> list[Domain] | None:
    """updateXxxOffering's ``domainid``: comma-separated uuids, or ``public`` for no restriction."""
    if value is None:
        return None
    if value.strip().lower() == "public" or not value.strip():
        return []
    found = []
    for item in (v.strip() for v in value.split(",") if v.strip()):
        domain = session.scalar(select(Domain).where(or_(Domain.uuid == item.lower(),
                                                         Domain.id == (int(item) if item.isdigit() else -1))))
        if domain is None or domain.removed is not None:
            raise InvalidParameter(f"Unable to find active domain with specified id {item} (parameter {param})")
        found.append(domain)
    return found


def parse_zone_list(session: Session, value: str | None, param: str = "zoneid") -> list[Zone] | None:
    """updateXxxOffering's ``zoneid``: comma-separated uuids, or ``all`` for every zone."""
    if value is None:
        return None
    if value.strip().lower() == "all" or not value.strip():
        return []
    found = []
    for item in (v.strip() for v in value.split(",") if v.strip()):
        zone = session.scalar(select(Zone).where(or_(Zone.uuid == item.lower(),
                                                     Zone.id == (int(item) if item.isdigit() else -1))))
        if zone is None:
            raise InvalidParameter(f"Unable to find zone with specified id {item} (parameter {param})")
        found.append(zone)
    return found


def _visible_to(session: Session, caller: Caller, kind: str, id_col):
    """SQL filter: public offerings, or offerings of the caller's domain, its ancestors (and, for a domain
    admin, its sub-domains) — CloudStack's rule for non-root callers."""
    parts = caller.domain_path.strip("/").split("/") if caller.domain_path != "/" else []
    paths = ["/"] + ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]
    domain_cond = Domain.path.in_(paths)
    if caller.is_admin:
        domain_cond = or_(domain_cond, Domain.path.like(f"{caller.domain_path}%"))
    linked = select(OfferingDomain.id).where(OfferingDomain.kind == kind, OfferingDomain.offering_id == id_col)
    allowed = linked.where(OfferingDomain.domain_id.in_(select(Domain.id).where(domain_cond)))
    return or_(~exists(linked), exists(allowed))


def _in_zone(kind: str, id_col, zone: Zone):
    linked = select(OfferingZone.id).where(OfferingZone.kind == kind, OfferingZone.offering_id == id_col)
    return or_(~exists(linked), exists(linked.where(OfferingZone.zone_id == zone.id)))


def _of_domain(kind: str, id_col, domain: Domain):
    return exists(select(OfferingDomain.id).where(OfferingDomain.kind == kind, OfferingDomain.offering_id == id_col,
                                                  OfferingDomain.domain_id == domain.id))


def _check_name(param: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidParameter(f"Invalid parameter {param}: it can not be empty")
    return value.strip()


def _check_domains(caller: Caller, domains: list[Domain] | None) -> None:
    for domain in domains or []:
        if domain.removed is not None:
            raise InvalidParameter(f"Unable to find active domain with specified id {domain.uuid} (parameter domainid)")


# --- service offerings -------------------------------------------------------------------------------

def create_service_offering(
        session: Session, caller: Caller, *, name: str, display_text: str | None, cpu: int | None,
        speed: int | None, memory: int | None, customized: bool | None = None, min_cpu: int | None = None,
        max_cpu: int | None = None, min_memory: int | None = None, max_memory: int | None = None,
        storage_type: str | None = None, offer_ha: bool = False, limit_cpu_use: bool = False,
        host_tags: str | None = None, storage_tags: str | None = None, root_disk_size: int | None = None,
        provisioning_type: str | None = None, is_system: bool = False, system_vm_type: str | None = None,
        is_volatile: bool = False, dynamic_scaling: bool = True, network_rate: int | None = None,
        domains: list[Domain] | None = None, zones: list[Zone] | None = None, details: dict | None = None,
        default_use: bool = False, record_event: bool = True) -> ServiceOffering:
    name = _check_name("name", name)
    display_text = display_text if display_text and display_text.strip() else name
    given = {"cpunumber": cpu, "cpuspeed": speed, "memory": memory}
    if customized is None:
        customized = cpu is None and memory is None
    if customized:
        for param in ("cpunumber", "memory"):
            if given[param] is not None:
                raise InvalidParameter(f"Invalid parameter {param}: a customized offering takes no {param}; "
                                       "give mincpunumber/maxcpunumber/minmemory/maxmemory to constrain it")
        bounds = {"mincpunumber": min_cpu, "maxcpunumber": max_cpu, "minmemory": min_memory,
                  "maxmemory": max_memory}
        present = [k for k, v in bounds.items() if v is not None]
        if present and len(present) != 4:
            missing = next(k for k, v in bounds.items() if v is None)
            raise InvalidParameter(f"Missing parameter {missing}: a constrained customized offering needs "
                                   "mincpunumber, maxcpunumber, minmemory and maxmemory together")
        if present:
            if min_cpu > max_cpu:
                raise InvalidParameter("Invalid parameter mincpunumber: it is greater than maxcpunumber")
            if min_memory > max_memory:
                raise InvalidParameter("Invalid parameter minmemory: it is greater than maxmemory")
            if min_memory < MIN_MEMORY_MB:
                raise InvalidParameter(f"Invalid parameter minmemory: specify a value of at least {MIN_MEMORY_MB} MB")
    else:
        missing = [k for k, v in given.items() if v is None]
        if missing:
            raise InvalidParameter(f"Missing parameter {missing[0]}: cpunumber, cpuspeed and memory must be given "
                                   "together for a fixed offering (or none of them, or customized=true, for a "
                                   "customized one)")
        if min_cpu is not None or max_cpu is not None or min_memory is not None or max_memory is not None:
            raise InvalidParameter("Invalid parameter mincpunumber: the min/max bounds apply only to customized "
                                   "offerings")
    if memory is not None and memory < MIN_MEMORY_MB:
        raise InvalidParameter(f"Invalid parameter memory value={memory}: specify the memory value between "
                               f"{MIN_MEMORY_MB} and 2147483647 MB")
    if system_vm_type is not None and not is_system:
        raise InvalidParameter("Invalid parameter systemvmtype: it applies only to system offerings (issystem=true)")
    if is_system:
        system_vm_type = (system_vm_type or "domainrouter").lower()
        if system_vm_type not in SYSTEM_VM_TYPES:
            raise InvalidParameter(f"Invalid parameter systemvmtype value={system_vm_type}: supported types are "
                                   + ", ".join(SYSTEM_VM_TYPES))
        if domains:
            raise InvalidParameter("Invalid parameter domainid: system offerings can not be restricted to domains")
    _check_domains(caller, domains)
    details = dict(details or {})
    if customized and min_cpu is not None:
        details.update(mincpunumber=str(min_cpu), maxcpunumber=str(max_cpu), minmemory=str(min_memory),
                       maxmemory=str(max_memory))
    offering = ServiceOffering(
        name=name, display_text=display_text, cpu=cpu, speed=speed, ram_size=memory, customized=bool(customized),
        min_cpu=min_cpu, max_cpu=max_cpu, min_memory=min_memory, max_memory=max_memory,
        storage_type=(storage_type or "shared").lower(), offer_ha=bool(offer_ha), limit_cpu_use=bool(limit_cpu_use),
        host_tags=host_tags or None, storage_tags=storage_tags or None, root_disk_size=root_disk_size,
        provisioning_type=(provisioning_type or "thin").lower(), is_system=bool(is_system),
        system_vm_type=system_vm_type, is_volatile=bool(is_volatile), dynamic_scaling_enabled=dynamic_scaling,
        network_rate=network_rate, default_use=default_use, details=json.dumps(details) if details else None)
    session.add(offering)
    session.flush()
    set_scope(session, SERVICE, offering.id, domains=domains or [], zones=zones or [])
    if record_event:
        events.record(session, caller, "SERVICE.OFFERING.CREATE", f"Service offering {name} created",
                      resource=offering, resource_type="ServiceOffering")
    return offering


def _active_service_offering(offering: ServiceOffering) -> ServiceOffering:
    if offering.removed is not None:
        raise InvalidParameter(f"Unable to find service offering by id {offering.uuid} (parameter id)")
    return offering


def update_service_offering(session: Session, caller: Caller, offering: ServiceOffering, *, name: str | None = None,
                            display_text: str | None = None, sort_key: int | None = None,
                            domains: list[Domain] | None = None, zones: list[Zone] | None = None,
                            host_tags: str | None = None, storage_tags: str | None = None,
                            state: str | None = None) -> ServiceOffering:
    _active_service_offering(offering)
    if name is not None:
        offering.name = _check_name("name", name)
    if display_text is not None:
        offering.display_text = display_text
    if sort_key is not None:
        offering.sort_key = sort_key
    if host_tags is not None:
        offering.host_tags = host_tags or None
    if storage_tags is not None:
        offering.storage_tags = storage_tags or None
    if state is not None:
        offering.state = state
    if domains is not None and offering.is_system and domains:
        raise InvalidParameter("Invalid parameter domainid: system offerings can not be restricted to domains")
    _check_domains(caller, domains)
    set_scope(session, SERVICE, offering.id, domains=domains, zones=zones)
    events.record(session, caller, "SERVICE.OFFERING.EDIT", f"Service offering {offering.name} updated",
                  resource=offering, resource_type="ServiceOffering")
    return offering


def delete_service_offering(session: Session, caller: Caller, offering: ServiceOffering) -> None:
    _active_service_offering(offering)
    if offering.default_use:
        raise InvalidParameter(f"Default service offering {offering.name} can not be deleted (parameter id)")
    offering.state, offering.removed = OfferingState.INACTIVE, utcnow()
    events.record(session, caller, "SERVICE.OFFERING.DELETE", f"Service offering {offering.name} deleted",
                  resource=offering, resource_type="ServiceOffering")


def _common_filters(query, o, kind: str, *, offering_id, name, keyword, domain, zone, storage_type, state):
    """The filters service and disk offerings share (id, name, keyword, domain, zone, storage type, state)."""
    if offering_id is not None:
        query = query.where(o.id == offering_id)
    if name:
        query = query.where(o.name == name)
    if keyword:
        query = query.where(or_(o.name.like(f"%{keyword}%"), o.display_text.like(f"%{keyword}%")))
    if domain is not None:
        query = query.where(_of_domain(kind, o.id, domain))
    if zone is not None:
        query = query.where(_in_zone(kind, o.id, zone))
    if storage_type:
        query = query.where(o.storage_type == storage_type.lower())
    if state is None or state.lower() == "active":
        return query.where(o.state == OfferingState.ACTIVE)
    if state.lower() == "inactive":
        return query.where(o.state == OfferingState.INACTIVE)
    return query


def list_service_offerings(session: Session, caller: Caller, *, offering_id: int | None = None,
                           name: str | None = None, keyword: str | None = None, domain: Domain | None = None,
                           zone: Zone | None = None, is_system: bool | None = None,
                           system_vm_type: str | None = None, cpu: int | None = None, memory: int | None = None,
                           speed: int | None = None, storage_type: str | None = None, state: str | None = None,
                           offset: int = 0, limit: int | None = None) -> tuple[list[ServiceOffering], int]:
    o = ServiceOffering
    if is_system and not caller.is_root_admin:
        raise PermissionDenied("Only ROOT admins can access system's offering")
    query = select(o).where(o.removed.is_(None), o.is_system.is_(bool(is_system)))
    if not caller.is_root_admin:
        query = query.where(_visible_to(session, caller, SERVICE, o.id))
    query = _common_filters(query, o, SERVICE, offering_id=offering_id, name=name, keyword=keyword, domain=domain,
                            zone=zone, storage_type=storage_type, state=state)
    if system_vm_type:
        query = query.where(o.system_vm_type == system_vm_type.lower())
    # cpunumber/memory/cpuspeed: offerings able to give that much (fixed equal, or customized within bounds)
    for value, fixed, low, high in ((cpu, o.cpu, o.min_cpu, o.max_cpu), (memory, o.ram_size, o.min_memory,
                                                                         o.max_memory)):
        if value is not None:
            query = query.where(or_(fixed == value, and_(o.customized.is_(True), or_(
                low.is_(None), and_(low <= value, high >= value)))))
    if speed is not None:
        query = query.where(or_(o.speed == speed, and_(o.customized.is_(True), o.speed.is_(None))))
    return page(session, query.order_by(o.sort_key, o.id), offset, limit)


def find_service_offering(session: Session, name: str) -> ServiceOffering | None:
    """An active offering by exact name (the EC2 door maps instance types this way)."""
    return session.scalar(select(ServiceOffering).where(ServiceOffering.name == name,
                                                        ServiceOffering.removed.is_(None))
                          .order_by(ServiceOffering.id))


# --- disk offerings ------------------------------------------------------------------------------------

def create_disk_offering(
        session: Session, caller: Caller, *, name: str, display_text: str | None, disk_size_gb: int | None,
        customized: bool | None = None, storage_type: str | None = None, tags: str | None = None,
        provisioning_type: str | None = None, min_iops: int | None = None, max_iops: int | None = None,
        customized_iops: bool | None = None, display_offering: bool = True, domains: list[Domain] | None = None,
        zones: list[Zone] | None = None, details: dict | None = None, record_event: bool = True) -> DiskOffering:
    name = _check_name("name", name)
    display_text = display_text if display_text and display_text.strip() else name
    if disk_size_gb is not None:
        if disk_size_gb < 1:
            raise InvalidParameter(f"Invalid parameter disksize value={disk_size_gb}: please specify a disk size "
                                   "of at least 1 GB")
        largest = config.get_int(session, "storage.max.volume.size")
        if largest > 0 and disk_size_gb > largest:
            raise InvalidParameter(f"Invalid parameter disksize value={disk_size_gb}: the maximum size for a disk "
                                   f"is {largest} GB")
        if customized:
            raise InvalidParameter("Invalid parameter disksize: a disk size can not be given for a customized "
                                   "disk offering")
    elif customized is False:
        raise InvalidParameter("Missing parameter disksize: it is required for a non-customized disk offering")
    customized = disk_size_gb is None
    if customized_iops:
        if min_iops is not None or max_iops is not None:
            raise InvalidParameter("Invalid parameter miniops: min/max IOPS can not be given when customizediops "
                                   "is true")
    elif min_iops is not None and max_iops is not None and min_iops > max_iops:
        raise InvalidParameter("Invalid parameter miniops: the min IOPS must be less than or equal to the max IOPS")
    _check_domains(caller, domains)
    offering = DiskOffering(
        name=name, display_text=display_text, disk_size=(disk_size_gb or 0) * GIB, customized=customized,
        storage_type=(storage_type or "shared").lower(), tags=tags or None,
        provisioning_type=(provisioning_type or "thin").lower(), min_iops=min_iops, max_iops=max_iops,
        customized_iops=customized_iops, display_offering=display_offering,
        details=json.dumps(details) if details else None)
    session.add(offering)
    session.flush()
    set_scope(session, DISK, offering.id, domains=domains or [], zones=zones or [])
    if record_event:
        events.record(session, caller, "DISK.OFFERING.CREATE", f"Disk offering {name} created", resource=offering,
                      resource_type="DiskOffering")
    return offering


def _active_disk_offering(offering: DiskOffering) -> DiskOffering:
    if offering.removed is not None:
        raise InvalidParameter(f"Unable to find disk offering by id {offering.uuid} (parameter id)")
    return offering


def update_disk_offering(session: Session, caller: Caller, offering: DiskOffering, *, name: str | None = None,
                         display_text: str | None = None, sort_key: int | None = None, tags: str | None = None,
                         display_offering: bool | None = None, domains: list[Domain] | None = None,
                         zones: list[Zone] | None = None, state: str | None = None) -> DiskOffering:
    _active_disk_offering(offering)
    if name is not None:
        offering.name = _check_name("name", name)
    if display_text is not None:
        offering.display_text = display_text
    if sort_key is not None:
        offering.sort_key = sort_key
    if tags is not None:
        offering.tags = tags or None
    if display_offering is not None:
        offering.display_offering = display_offering
    if state is not None:
        offering.state = state
    _check_domains(caller, domains)
    set_scope(session, DISK, offering.id, domains=domains, zones=zones)
    events.record(session, caller, "DISK.OFFERING.EDIT", f"Disk offering {offering.name} updated",
                  resource=offering, resource_type="DiskOffering")
    return offering


def delete_disk_offering(session: Session, caller: Caller, offering: DiskOffering) -> None:
    _active_disk_offering(offering)
    offering.state, offering.removed = OfferingState.INACTIVE, utcnow()
    events.record(session, caller, "DISK.OFFERING.DELETE", f"Disk offering {offering.name} deleted",
                  resource=offering, resource_type="DiskOffering")


def list_disk_offerings(session: Session, caller: Caller, *, offering_id: int | None = None,
                        name: str | None = None, keyword: str | None = None, domain: Domain | None = None,
                        zone: Zone | None = None, storage_type: str | None = None, state: str | None = None,
                        offset: int = 0, limit: int | None = None) -> tuple[list[DiskOffering], int]:
    o = DiskOffering
    query = select(o).where(o.removed.is_(None))
    if not caller.is_root_admin:
        query = query.where(_visible_to(session, caller, DISK, o.id))
        if not caller.is_admin:
            query = query.where(o.display_offering.is_(True))
    query = _common_filters(query, o, DISK, offering_id=offering_id, name=name, keyword=keyword, domain=domain,
                            zone=zone, storage_type=storage_type, state=state)
    return page(session, query.order_by(o.sort_key, o.id), offset, limit)


def find_disk_offering(session: Session, name: str) -> DiskOffering | None:
    return session.scalar(select(DiskOffering).where(DiskOffering.name == name, DiskOffering.removed.is_(None))
                          .order_by(DiskOffering.id))
