"""Physical networks of a zone, the traffic types they carry and their network service providers — what the
console's zone wizard sets up before the first pod (CloudStack's NetworkServiceImpl physical-network part).

A new physical network gets CloudStack's default providers, all Disabled: VirtualRouter and
VpcVirtualRouter (each with its virtual router element, not yet enabled), InternalLbVm, ConfigDrive and
SecurityGroupProvider. A virtual router provider can be Enabled only once its element is
(``configureVirtualRouterElement enabled=true``), as in CloudStack.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter, ResourceInUse
from management.events import service as events
from management.iam.models import Domain
from management.infra.models import Zone
from management.network.models import Network, PhysicalNetwork, ServiceProvider, TrafficType, VirtualRouterElement

TRAFFIC_TYPES = ("Public", "Guest", "Management", "Storage")
ISOLATION_METHODS = ("VLAN", "VXLAN", "GRE", "STT", "BCF_SEGMENT", "SSP", "ODL", "L3VPN", "VCS", "NSX", "NETRIS")
STATES = ("Enabled", "Disabled")
PROVIDER_STATES = ("Enabled", "Disabled", "Shutdown")
SERVICES = ("Vpn", "Dhcp", "Dns", "SourceNat", "PortForwarding", "Lb", "UserData", "StaticNat", "NetworkACL",
            "Firewall", "Gateway", "SecurityGroup", "Connectivity", "BaremetalPxeService")
DEFAULT_PROVIDERS = {
    "VirtualRouter": ("Dhcp", "Dns", "UserData", "Firewall", "Gateway", "Lb", "SourceNat", "StaticNat",
                      "PortForwarding", "Vpn"),
    "VpcVirtualRouter": ("Dhcp", "Dns", "UserData", "Gateway", "Lb", "SourceNat", "StaticNat", "PortForwarding",
                         "Vpn", "NetworkACL"),
    "InternalLbVm": ("Lb",),
    "ConfigDrive": ("UserData",),
    "SecurityGroupProvider": ("SecurityGroup",),
}
ROUTER_ELEMENTS = {"VirtualRouter": "VirtualRouter", "VpcVirtualRouter": "VPCVirtualRouter"}


def _choice(param: str, value: str, choices) -> str:
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise InvalidParameter(f"Invalid parameter {param} value={value}: allowed values are {', '.join(choices)}")


def _alive(row, what: str) -> None:
    if getattr(row, "removed", None) is not None:
        raise InvalidParameter(f"Unable to find the {what} with id {row.uuid}: it was removed")


def _vlan(value: str | None) -> str | None:
    """A VLAN range list as CloudStack takes it: ``100-200,300`` (1-4094)."""
    if not value:
        return value
    for part in value.split(","):
        bounds = part.strip().split("-")
        if len(bounds) > 2 or not all(b.strip().isdigit() and 1 <= int(b) <= 4094 for b in bounds) or (
                len(bounds) == 2 and int(bounds[0]) > int(bounds[1])):
            raise InvalidParameter(f"Invalid parameter vlan value={value}: expected VLAN ids or ranges such as "
                                   "100-200,300 (1-4094)")
    return value.replace(" ", "")


# --- physical networks ------------------------------------------------------------------------------

def create(session: Session, caller: Caller, *, zone: Zone, name: str, isolation_methods: list[str] | None,
           vlan: str | None, broadcast_domain_range: str | None, tags: list[str] | None, speed: str | None,
           domain: Domain | None) -> PhysicalNetwork:
    _alive(zone, "zone")
    if not name.strip():
        raise InvalidParameter("Invalid parameter name: the name of the physical network can't be empty")
    methods = [_choice("isolationmethods", m, ISOLATION_METHODS) for m in (isolation_methods or [])]
    if len(methods) > 1:
        raise InvalidParameter("Invalid parameter isolationmethods: only one isolation method is supported per "
                               "physical network")
    default_range = "POD" if zone.network_type == "Basic" else "ZONE"
    scope = _choice("broadcastdomainrange", broadcast_domain_range or default_range, ("POD", "ZONE"))
    if zone.network_type == "Basic" and scope != "POD":
        raise InvalidParameter("Invalid parameter broadcastdomainrange: a Basic zone's physical network has the "
                               "POD broadcast domain range")
    if len(tags or []) > 1:
        raise InvalidParameter("Invalid parameter tags: only one tag is supported per physical network")
    if zone.network_type == "Basic" and session.scalar(
            select(func.count(PhysicalNetwork.id)).where(PhysicalNetwork.zone_id == zone.id,
                                                         PhysicalNetwork.removed.is_(None))):
        raise InvalidParameter(f"Cannot add the physical network: zone {zone.name} is a Basic zone and already has "
                               "one (a Basic zone has a single physical network)")
    row = PhysicalNetwork(name=name.strip(), zone_id=zone.id, domain_id=domain.id if domain else None,
                          vlan=_vlan(vlan), speed=speed, isolation_methods=",".join(methods) or None,
                          broadcast_domain_range=scope, tags=(tags or [None])[0], state="Disabled")
    session.add(row)
    session.flush()
    for provider, services in DEFAULT_PROVIDERS.items():
        nsp = ServiceProvider(physical_network_id=row.id, provider_name=provider, state="Disabled",
                              services=",".join(services))
        session.add(nsp)
        session.flush()
        if provider in ROUTER_ELEMENTS:
            session.add(VirtualRouterElement(nsp_id=nsp.id, type=ROUTER_ELEMENTS[provider], enabled=False))
    session.flush()
    events.record(session, caller, "PHYSICAL.NETWORK.CREATE", f"Successfully created physical network {row.name}",
                  resource=row, resource_type="PhysicalNetwork")
    return row


def update(session: Session, caller: Caller, row: PhysicalNetwork, *, state: str | None, vlan: str | None,
           tags: list[str] | None, speed: str | None) -> PhysicalNetwork:
    _alive(row, "physical network")
    if state is not None:
        row.state = _choice("state", state, STATES)
    if vlan is not None:
        row.vlan = _vlan(vlan) or None
    if tags is not None:
        if len(tags) > 1:
            raise InvalidParameter("Invalid parameter tags: only one tag is supported per physical network")
        row.tags = (tags or [None])[0]
    if speed is not None:
        row.speed = speed
    session.flush()
    events.record(session, caller, "PHYSICAL.NETWORK.UPDATE", f"Successfully updated physical network {row.name}",
                  resource=row, resource_type="PhysicalNetwork")
    return row


def delete(session: Session, caller: Caller, row: PhysicalNetwork) -> None:
    _alive(row, "physical network")
    used = session.scalar(select(func.count(Network.id)).where(Network.physical_network_id == row.id,
                                                               Network.removed.is_(None)))
    if used:
        raise ResourceInUse(f"Unable to delete the physical network {row.name}: {used} network(s) are using it")
    nsp_ids = select(ServiceProvider.id).where(ServiceProvider.physical_network_id == row.id)
    for element in session.scalars(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id.in_(nsp_ids))):
        session.delete(element)
    session.flush()
    for model in (ServiceProvider, TrafficType):
        for child in session.scalars(select(model).where(model.physical_network_id == row.id)):
            session.delete(child)
    row.removed = utcnow()
    session.flush()
    events.record(session, caller, "PHYSICAL.NETWORK.DELETE", f"Successfully deleted physical network {row.name}",
                  resource=row, resource_type="PhysicalNetwork")


def query(*, row: PhysicalNetwork | None = None, zone: Zone | None = None, name: str | None = None,
          keyword: str | None = None):
    q = select(PhysicalNetwork).where(PhysicalNetwork.removed.is_(None))
    if row is not None:
        q = q.where(PhysicalNetwork.id == row.id)
    if zone is not None:
        q = q.where(PhysicalNetwork.zone_id == zone.id)
    if name:
        q = q.where(PhysicalNetwork.name == name)
    if keyword:
        q = q.where(PhysicalNetwork.name.like(f"%{keyword}%"))
    return q.order_by(PhysicalNetwork.id)


# --- traffic types ----------------------------------------------------------------------------------

def add_traffic_type(session: Session, caller: Caller, *, physical: PhysicalNetwork, traffic_type: str,
                     labels: dict[str, str | None], vlan: str | None, isolation_method: str | None) -> TrafficType:
    _alive(physical, "physical network")
    kind = _choice("traffictype", traffic_type, TRAFFIC_TYPES)
    if session.scalar(select(TrafficType.id).where(TrafficType.physical_network_id == physical.id,
                                                   TrafficType.traffic_type == kind)):
        raise InvalidParameter(f"Traffic type {kind} is already added to the physical network {physical.name}")
    zone = session.get(Zone, physical.zone_id)
    if kind == "Guest" and zone.network_type == "Basic" and session.scalar(
            select(TrafficType.id).join(PhysicalNetwork, PhysicalNetwork.id == TrafficType.physical_network_id)
            .where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed.is_(None),
                   TrafficType.traffic_type == "Guest")):
        raise InvalidParameter(f"Zone {zone.name} already has a physical network with Guest traffic")
    row = TrafficType(physical_network_id=physical.id, traffic_type=kind, vlan=vlan,
                      isolation_method=isolation_method, **_labels(labels))
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the unique key: a concurrent add of the same type won
        raise InvalidParameter(f"Traffic type {kind} is already added to the physical network "
                               f"{physical.name}") from None
    events.record(session, caller, "TRAFFIC.TYPE.CREATE", f"Added traffic type {kind} to physical network "
                  f"{physical.name}", resource=row, resource_type="TrafficType")
    return row


def _labels(labels: dict[str, str | None]) -> dict[str, str]:
    return {attr: value for attr, value in labels.items() if value is not None}


def update_traffic_type(session: Session, caller: Caller, row: TrafficType,
                        labels: dict[str, str | None]) -> TrafficType:
    for attr, value in _labels(labels).items():
        setattr(row, attr, value or None)
    session.flush()
    events.record(session, caller, "TRAFFIC.TYPE.UPDATE", f"Updated traffic type {row.traffic_type}", resource=row,
                  resource_type="TrafficType")
    return row


def delete_traffic_type(session: Session, caller: Caller, row: TrafficType) -> None:
    physical = session.get(PhysicalNetwork, row.physical_network_id)
    if row.traffic_type == "Guest" and session.scalar(select(func.count(Network.id)).where(
            Network.physical_network_id == physical.id, Network.traffic_type == "Guest", Network.removed.is_(None))):
        raise ResourceInUse(f"Unable to delete the Guest traffic type of {physical.name}: guest networks use it")
    session.delete(row)
    session.flush()
    events.record(session, caller, "TRAFFIC.TYPE.DELETE", f"Deleted traffic type {row.traffic_type} of physical "
                  f"network {physical.name}", resource_type="TrafficType")


def traffic_label(session: Session, zone_id: int, traffic_type: str) -> str | None:
    """The KVM host device (bridge) named for this traffic in the zone, if the admin named one."""
    return session.scalar(
        select(TrafficType.kvm_label).join(PhysicalNetwork, PhysicalNetwork.id == TrafficType.physical_network_id)
        .where(PhysicalNetwork.zone_id == zone_id, PhysicalNetwork.removed.is_(None),
               TrafficType.traffic_type == traffic_type, TrafficType.kvm_label.is_not(None)).limit(1))


# --- service providers ------------------------------------------------------------------------------

def _services(value: list[str] | None) -> str | None:
    if value is None:
        return None
    return ",".join(_choice("servicelist", s, SERVICES) for s in value)


def add_provider(session: Session, caller: Caller, *, physical: PhysicalNetwork, name: str,
                 destination: PhysicalNetwork | None, services: list[str] | None) -> ServiceProvider:
    _alive(physical, "physical network")
    if session.scalar(select(ServiceProvider.id).where(ServiceProvider.physical_network_id == physical.id,
                                                       func.lower(ServiceProvider.provider_name) == name.lower())):
        raise InvalidParameter(f"The provider {name} is already added to the physical network {physical.name}")
    known = next((p for p in DEFAULT_PROVIDERS if p.lower() == name.lower()), None)
    if known is None:
        raise InvalidParameter(f"Invalid parameter name value={name}: unknown network service provider; known "
                               f"providers are {', '.join(DEFAULT_PROVIDERS)}")
    row = ServiceProvider(physical_network_id=physical.id, provider_name=known, state="Disabled",
                          destination_physical_network_id=destination.id if destination else None,
                          services=_services(services) or ",".join(DEFAULT_PROVIDERS[known]))
    session.add(row)
    session.flush()
    if known in ROUTER_ELEMENTS:
        session.add(VirtualRouterElement(nsp_id=row.id, type=ROUTER_ELEMENTS[known], enabled=False))
        session.flush()
    events.record(session, caller, "SERVICE.PROVIDER.CREATE", f"Added provider {known} to physical network "
                  f"{physical.name}", resource=row, resource_type="NetworkServiceProvider")
    return row


def update_provider(session: Session, caller: Caller, row: ServiceProvider, *, state: str | None,
                    services: list[str] | None) -> ServiceProvider:
    if state is not None:
        state = _choice("state", state, PROVIDER_STATES)
        if state == "Enabled" and row.provider_name in ROUTER_ELEMENTS:
            element = session.scalar(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == row.id))
            if element is None or not element.enabled:
                raise InvalidParameter(f"Provider {row.provider_name} is not ready, cannot Enable the provider: "
                                       "please configure the provider first (configureVirtualRouterElement)")
        row.state = state
    if services is not None:
        if row.state == "Enabled":
            raise InvalidParameter("The service list of an Enabled provider can't be changed: disable it first")
        row.services = _services(services)
    session.flush()
    events.record(session, caller, "SERVICE.PROVIDER.UPDATE", f"Updated provider {row.provider_name}", resource=row,
                  resource_type="NetworkServiceProvider")
    return row


def provider_query(*, physical: PhysicalNetwork | None = None, name: str | None = None, state: str | None = None,
                   keyword: str | None = None):
    q = select(ServiceProvider).join(PhysicalNetwork, PhysicalNetwork.id == ServiceProvider.physical_network_id).where(
        PhysicalNetwork.removed.is_(None))
    if physical is not None:
        q = q.where(ServiceProvider.physical_network_id == physical.id)
    if name:
        q = q.where(func.lower(ServiceProvider.provider_name) == name.lower())
    if state:
        q = q.where(ServiceProvider.state == _choice("state", state, PROVIDER_STATES))
    if keyword:
        q = q.where(ServiceProvider.provider_name.like(f"%{keyword}%"))
    return q.order_by(ServiceProvider.id)


def configure_router_element(session: Session, caller: Caller, row: VirtualRouterElement,
                             enabled: bool) -> VirtualRouterElement:
    _alive(row, "virtual router element")
    row.enabled = enabled
    session.flush()
    events.record(session, caller, "NETWORK.ELEMENT.CONFIGURE", f"Configured virtual router element {row.uuid}: "
                  f"enabled={str(enabled).lower()}", resource=row, resource_type="VirtualRouterElement")
    return row


def router_element_query(*, row: VirtualRouterElement | None = None, nsp: ServiceProvider | None = None,
                         enabled: bool | None = None):
    q = select(VirtualRouterElement).where(VirtualRouterElement.removed.is_(None))
    if row is not None:
        q = q.where(VirtualRouterElement.id == row.id)
    if nsp is not None:
        q = q.where(VirtualRouterElement.nsp_id == nsp.id)
    if enabled is not None:
        q = q.where(VirtualRouterElement.enabled.is_(enabled))
    return q.order_by(VirtualRouterElement.id)
