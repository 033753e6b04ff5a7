"""Zones and pods: create, update, delete (refused while anything lives in them), list."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import new_uuid, utcnow
from management.errors import InvalidParameter, ResourceInUse
from management.events import service as events
from management.iam.models import Domain
from management.infra import net
from management.infra.models import Cluster, Host, Pod, VlanRange, Zone

# Extra refusals for deleteZone / deletePod: each returns a reason ("there are primary storage pools")
# or None. Other domains (storage, networking) append to these lists.
ZONE_DELETE_CHECKS: list[Callable[[Session, Zone], str | None]] = []
POD_DELETE_CHECKS: list[Callable[[Session, Pod], str | None]] = []


def _alive(model, **where):
    query = select(func.count(model.id)).where(model.removed.is_(None))
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return query


def _allocation(value: str | None, default: str) -> str:
    if value is None:
        return default
    for choice in ("Enabled", "Disabled"):
        if value.lower() == choice.lower():
            return choice
    raise InvalidParameter(f"Invalid parameter allocationstate value={value}: allowed values are Enabled, Disabled")


def _dns(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value:
            net.ip(name, value)


# --- zones ------------------------------------------------------------------------------------------

def create_zone(session: Session, caller: Caller, *, name: str, network_type: str, dns1: str, internal_dns1: str,
                dns2: str | None = None, internal_dns2: str | None = None, ip6_dns1: str | None = None,
                ip6_dns2: str | None = None, guest_cidr: str | None = None, security_groups: bool = False,
                local_storage: bool = False, allocation_state: str | None = None, domain: Domain | None = None,
                network_domain: str | None = None) -> Zone:
    _dns({"dns1": dns1, "dns2": dns2, "internaldns1": internal_dns1, "internaldns2": internal_dns2})
    if guest_cidr:
        net.cidr("guestcidraddress", guest_cidr)
    elif network_type == "Advanced":
        guest_cidr = "10.1.1.0/24"  # CloudStack's default guest CIDR of advanced zones
    if session.scalar(_alive(Zone).where(func.lower(Zone.name) == name.lower())):
        raise InvalidParameter(f"A zone with name {name} already exists")
    zone = Zone(name=name, network_type=network_type, dns1=dns1, dns2=dns2, internal_dns1=internal_dns1,
                internal_dns2=internal_dns2, ip6_dns1=ip6_dns1, ip6_dns2=ip6_dns2, guest_cidr=guest_cidr,
                security_groups_enabled=security_groups, local_storage_enabled=local_storage,
                allocation_state=_allocation(allocation_state, "Disabled"), domain_id=domain.id if domain else None,
                domain=network_domain, zone_token=new_uuid(), dhcp_provider="VirtualRouter")
    session.add(zone)
    session.flush()
    events.record(session, caller, "ZONE.CREATE", f"Successfully created zone {name}", resource=zone,
                  resource_type="Zone")
    return zone


def update_zone(session: Session, caller: Caller, zone: Zone, *, name: str | None = None,
                allocation_state: str | None = None, dns1: str | None = None, dns2: str | None = None,
                internal_dns1: str | None = None, internal_dns2: str | None = None, ip6_dns1: str | None = None,
                ip6_dns2: str | None = None, guest_cidr: str | None = None, local_storage: bool | None = None,
                network_domain: str | None = None, dhcp_provider: str | None = None) -> Zone:
    _check_alive(zone, "zone")
    _dns({"dns1": dns1, "dns2": dns2, "internaldns1": internal_dns1, "internaldns2": internal_dns2})
    if guest_cidr:
        net.cidr("guestcidraddress", guest_cidr)
    if name and name.lower() != zone.name.lower() and session.scalar(
            _alive(Zone).where(func.lower(Zone.name) == name.lower())):
        raise InvalidParameter(f"A zone with name {name} already exists")
    changes = {"name": name, "dns1": dns1, "dns2": dns2, "internal_dns1": internal_dns1,
               "internal_dns2": internal_dns2, "ip6_dns1": ip6_dns1, "ip6_dns2": ip6_dns2, "guest_cidr": guest_cidr,
               "local_storage_enabled": local_storage, "domain": network_domain, "dhcp_provider": dhcp_provider}
    for attr, value in changes.items():
        if value is not None:
            setattr(zone, attr, value)
    if allocation_state is not None:
        zone.allocation_state = _allocation(allocation_state, zone.allocation_state)
    session.flush()
    events.record(session, caller, "ZONE.EDIT", f"Successfully updated zone {zone.name}", resource=zone,
                  resource_type="Zone")
    return zone


def set_details(session: Session, zone: Zone, details: dict[str, str]) -> None:
    """updateZone ``details``: the given keys take the given values (others stay)."""
    from management.infra.models import ZoneDetail

    for name, value in details.items():
        if not name or len(name) > 255 or len(value) > 1024:
            raise InvalidParameter(f"Invalid parameter details: key {name[:40]!r} or its value is empty or too long")
        row = session.scalar(select(ZoneDetail).where(ZoneDetail.zone_id == zone.id, ZoneDetail.name == name))
        if row is None:
            session.add(ZoneDetail(zone_id=zone.id, name=name, value=value))
        else:
            row.value = value
    session.flush()


def details_of(session: Session, zone_ids: list[int]) -> dict[int, dict[str, str]]:
    from management.infra.models import ZoneDetail

    result: dict[int, dict[str, str]] = {}
    if zone_ids:
        for row in session.scalars(select(ZoneDetail).where(ZoneDetail.zone_id.in_(zone_ids)).order_by(ZoneDetail.id)):
            result.setdefault(row.zone_id, {})[row.name] = row.value
    return result


def delete_zone(session: Session, caller: Caller, zone: Zone) -> None:
    _check_alive(zone, "zone")
    for label, model in (("pods", Pod), ("clusters", Cluster), ("hosts", Host), ("IP ranges", VlanRange)):
        if session.scalar(_alive(model, zone_id=zone.id)):
            raise ResourceInUse(f"The zone {zone.name} is not deletable because there are {label} in this zone")
    for check in ZONE_DELETE_CHECKS:
        reason = check(session, zone)
        if reason:
            raise ResourceInUse(f"The zone {zone.name} is not deletable because {reason}")
    zone.removed = utcnow()
    events.record(session, caller, "ZONE.DELETE", f"Successfully deleted zone {zone.name}", resource=zone,
                  resource_type="Zone")


def _check_alive(row, what: str) -> None:
    if row.removed is not None:
        raise InvalidParameter(f"Unable to find the {what} with id {row.uuid}: it was removed")


# --- pods -------------------------------------------------------------------------------------------

def _pod_network(session: Session, zone: Zone, *, gateway, mask, start, end, exclude: int | None = None):
    if not end and gateway and mask and start:  # CloudStack fills the rest of the network in
        network, gw, first = net.network_of(gateway, mask), net.ip("gateway", gateway), net.ip("startip", start)
        end = str(gw - 1 if first < gw else network.broadcast_address - (1 if network.prefixlen < 31 else 0))
    network, first, last = net.check_range(gateway=gateway, mask=mask, start=start, end=end, what="pod IP range")
    others = select(Pod).where(Pod.zone_id == zone.id, Pod.removed.is_(None), Pod.start_ip.is_not(None))
    if exclude is not None:
        others = others.where(Pod.id != exclude)
    for other in session.scalars(others):
        if net.overlaps(str(first), str(last), other.start_ip, other.end_ip or other.start_ip):
            raise InvalidParameter(f"The pod IP range {first}-{last} overlaps the range of pod {other.name} "
                                   f"({other.start_ip}-{other.end_ip}) in zone {zone.name}")
    return network, str(first), str(last)


def create_pod(session: Session, caller: Caller, *, zone: Zone, name: str, gateway: str | None = None,
               netmask: str | None = None, start_ip: str | None = None, end_ip: str | None = None,
               allocation_state: str | None = None) -> Pod:
    _check_alive(zone, "zone")
    if session.scalar(_alive(Pod, zone_id=zone.id).where(func.lower(Pod.name) == name.lower())):
        raise InvalidParameter(f"A pod with name {name} already exists in zone {zone.name}")
    pod = Pod(name=name, zone_id=zone.id, allocation_state=_allocation(allocation_state, "Enabled"))
    if any((gateway, netmask, start_ip, end_ip)):
        network, first, last = _pod_network(session, zone, gateway=gateway, mask=netmask, start=start_ip, end=end_ip)
        pod.gateway, pod.cidr_address, pod.cidr_size = gateway, str(network.network_address), network.prefixlen
        pod.start_ip, pod.end_ip = first, last
    session.add(pod)
    session.flush()
    events.record(session, caller, "POD.CREATE", f"Successfully created pod {name}", resource=pod,
                  resource_type="Pod")
    return pod


def update_pod(session: Session, caller: Caller, pod: Pod, *, name: str | None = None, gateway: str | None = None,
               netmask: str | None = None, start_ip: str | None = None, end_ip: str | None = None,
               allocation_state: str | None = None) -> Pod:
    _check_alive(pod, "pod")
    zone = session.get(Zone, pod.zone_id)
    if name and name.lower() != pod.name.lower() and session.scalar(
            _alive(Pod, zone_id=zone.id).where(func.lower(Pod.name) == name.lower())):
        raise InvalidParameter(f"A pod with name {name} already exists in zone {zone.name}")
    if any((gateway, netmask, start_ip, end_ip)):
        mask = netmask or (net.mask_of(pod.cidr_size) if pod.cidr_size is not None else None)
        network, first, last = _pod_network(
            session, zone, gateway=gateway or pod.gateway, mask=mask, start=start_ip or pod.start_ip,
            end=end_ip or (pod.end_ip if not start_ip else None), exclude=pod.id)
        pod.gateway, pod.cidr_address, pod.cidr_size = gateway or pod.gateway, str(network.network_address), \
            network.prefixlen
        pod.start_ip, pod.end_ip = first, last
    if name:
        pod.name = name
    if allocation_state is not None:
        pod.allocation_state = _allocation(allocation_state, pod.allocation_state)
    session.flush()
    events.record(session, caller, "POD.EDIT", f"Successfully updated pod {pod.name}", resource=pod,
                  resource_type="Pod")
    return pod


def delete_pod(session: Session, caller: Caller, pod: Pod) -> None:
    _check_alive(pod, "pod")
    for label, model in (("clusters", Cluster), ("hosts", Host), ("guest IP ranges", VlanRange)):
        if session.scalar(_alive(model, pod_id=pod.id)):
            raise ResourceInUse(f"The pod {pod.name} is not deletable because there are {label} in this pod")
    for check in POD_DELETE_CHECKS:
        reason = check(session, pod)
        if reason:
            raise ResourceInUse(f"The pod {pod.name} is not deletable because {reason}")
    pod.removed = utcnow()
    events.record(session, caller, "POD.DELETE", f"Successfully deleted pod {pod.name}", resource=pod,
                  resource_type="Pod")


def pod_query(*, pod: Pod | None = None, name: str | None = None, zone: Zone | None = None,
              allocation_state: str | None = None, keyword: str | None = None):
    query = select(Pod).where(Pod.removed.is_(None))
    if pod is not None:
        query = query.where(Pod.id == pod.id)
    if name:
        query = query.where(Pod.name == name)
    if zone is not None:
        query = query.where(Pod.zone_id == zone.id)
    if allocation_state:
        query = query.where(Pod.allocation_state == allocation_state)
    if keyword:
        query = query.where(or_(Pod.name.like(f"%{keyword}%")))
    return query.order_by(Pod.id)
