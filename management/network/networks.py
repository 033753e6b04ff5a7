"""Network offerings and guest networks.

A Basic zone has exactly one guest network: shared, security-group isolated (the
``DefaultSharedNetworkOfferingWithSGService`` offering), untagged, owned by the system account in the ROOT
domain with subdomain access, its addresses the pods' guest ranges. The console wizard creates it with
``createNetwork``; a zone set up without it (older scripts: createPod + createVlanIpRange, then deploy) gets it
on first need (``zone_guest_network``). ``networks.zone_guest_key`` is unique, so concurrent first deploys
agree on one row.
"""

from __future__ import annotations

import json

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter, PermissionDenied, ResourceInUse
from management.events import service as events
from management.iam.models import Account, Domain
from management.infra import ips
from management.infra.models import IpAddress, VlanRange, Zone
from management.network.models import Network, NetworkOffering, PhysicalNetwork, TrafficType

SG_OFFERING = "DefaultSharedNetworkOfferingWithSGService"
SYSTEM_ACCOUNT_ID, ROOT_DOMAIN_ID = 1, 1
GUEST_TYPES = ("Shared", "Isolated", "L2")


# --- offerings --------------------------------------------------------------------------------------

def offering_query(*, row: NetworkOffering | None = None, name: str | None = None, guest_type: str | None = None,
                   traffic_type: str | None = None, state: str | None = None, is_default: bool | None = None,
                   specify_vlan: bool | None = None, specify_ip_ranges: bool | None = None, zone: Zone | None = None,
                   supported_services: list[str] | None = None, keyword: str | None = None,
                   for_vpc: bool | None = None, display_text: str | None = None):
    q = select(NetworkOffering).where(NetworkOffering.removed.is_(None), NetworkOffering.system_only.is_(False))
    for column, value in ((NetworkOffering.name, name), (NetworkOffering.display_text, display_text)):
        if value:
            q = q.where(column == value)
    for column, value, choices in ((NetworkOffering.guest_type, guest_type, GUEST_TYPES),
                                   (NetworkOffering.traffic_type, traffic_type, ("Guest", "Public", "Management",
                                                                                 "Storage")),
                                   (NetworkOffering.state, state, ("Enabled", "Disabled", "Inactive"))):
        if value:
            match = next((c for c in choices if c.lower() == value.lower()), None)
            if match is None:
                raise InvalidParameter(f"Invalid value {value}: allowed values are {', '.join(choices)}")
            q = q.where(column == match)
    for column, value in ((NetworkOffering.is_default, is_default), (NetworkOffering.specify_vlan, specify_vlan),
                          (NetworkOffering.specify_ip_ranges, specify_ip_ranges)):
        if value is not None:
            q = q.where(column.is_(value))
    if row is not None:
        q = q.where(NetworkOffering.id == row.id)
    if keyword:
        q = q.where(or_(NetworkOffering.name.like(f"%{keyword}%"), NetworkOffering.display_text.like(f"%{keyword}%")))
    for service in supported_services or []:
        q = q.where(NetworkOffering.services.like(f'%"{service}"%'))
    if for_vpc:
        q = q.where(NetworkOffering.id.is_(None))  # no VPC offerings
    if zone is not None and zone.network_type == "Basic":
        # a Basic zone takes shared offerings only (CloudStack lists what the zone can use)
        q = q.where(NetworkOffering.guest_type == "Shared")
    return q.order_by(NetworkOffering.id)


def offering_by_name(session: Session, name: str) -> NetworkOffering:
    return session.scalars(select(NetworkOffering).where(NetworkOffering.name == name)).one()


# --- networks ---------------------------------------------------------------------------------------

def _guest_physical_network(session: Session, zone: Zone) -> PhysicalNetwork | None:
    return session.scalar(
        select(PhysicalNetwork).join(TrafficType, TrafficType.physical_network_id == PhysicalNetwork.id)
        .where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed.is_(None),
               TrafficType.traffic_type == "Guest").order_by(PhysicalNetwork.id).limit(1)) or session.scalar(
        select(PhysicalNetwork).where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed.is_(None))
        .order_by(PhysicalNetwork.id).limit(1))


def zone_guest_network(session: Session, zone: Zone, *, create: bool = True) -> Network | None:
    """The Basic zone's guest network; created (as the wizard would) when the zone has none yet."""
    found = session.scalar(select(Network).where(Network.zone_guest_key == zone.id))
    if found is not None or not create or zone.network_type != "Basic":
        return found
    plain = "DefaultSharedNetworkOffering"
    offering = offering_by_name(session, SG_OFFERING if zone.security_groups_enabled else plain)
    physical = _guest_physical_network(session, zone)
    row = _new_network(zone, offering, physical, name="defaultGuestNetwork", display_text="defaultGuestNetwork")
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # a concurrent caller created it first
        return session.scalars(select(Network).where(Network.zone_guest_key == zone.id)).one()
    return row


def _new_network(zone: Zone, offering: NetworkOffering, physical: PhysicalNetwork | None, *, name: str,
                 display_text: str | None, network_domain: str | None = None) -> Network:
    return Network(name=name, display_text=display_text or name, traffic_type="Guest", guest_type="Shared",
                   broadcast_domain_type="Native", broadcast_uri="vlan://untagged", network_offering_id=offering.id,
                   physical_network_id=physical.id if physical else None, zone_id=zone.id, zone_guest_key=zone.id,
                   state="Setup", acl_type="Domain", account_id=SYSTEM_ACCOUNT_ID, domain_id=ROOT_DOMAIN_ID,
                   subdomain_access=True, network_domain=network_domain, display_network=True)


def create_network(session: Session, caller: Caller, *, zone: Zone, offering: NetworkOffering, name: str,
                   display_text: str | None, physical: PhysicalNetwork | None, acl_type: str | None,
                   network_domain: str | None, gateway: str | None) -> Network:
    if zone.removed is not None:
        raise InvalidParameter(f"Unable to find zone by id {zone.uuid}")
    if offering.removed is not None or offering.state != "Enabled":
        raise InvalidParameter(f"Network offering {offering.name} is not in Enabled state: it can't be used")
    if zone.network_type != "Basic":
        raise InvalidParameter(f"Invalid parameter zoneid value={zone.uuid}: creating guest networks in Advanced "
                               "zones is not supported by this server yet (Basic zones only)")
    if not caller.is_root_admin:
        raise PermissionDenied("Only root admins can create the guest network of a Basic zone")
    if offering.guest_type != "Shared":
        raise InvalidParameter(f"Invalid parameter networkofferingid value={offering.uuid}: a Basic zone's guest "
                               "network takes a Shared network offering")
    if json.loads(offering.services or "{}").get("SecurityGroup") is None and zone.security_groups_enabled:
        raise InvalidParameter(f"Invalid parameter networkofferingid value={offering.uuid}: zone {zone.name} has "
                               "security groups enabled; use an offering with the SecurityGroup service")
    if acl_type and acl_type.lower() != "domain":
        raise InvalidParameter("Invalid parameter acltype: a Basic zone's guest network has the Domain ACL type")
    if gateway:
        raise InvalidParameter("Invalid parameter gateway: in a Basic zone the gateway belongs to each pod's IP range "
                               "(createVlanIpRange podid=...)")
    if physical is not None and (physical.zone_id != zone.id or physical.removed is not None):
        raise InvalidParameter(f"Invalid parameter physicalnetworkid value={physical.uuid}: not a physical network "
                               f"of zone {zone.name}")
    if not name.strip():
        raise InvalidParameter("Invalid parameter name: the network name can't be empty")
    if session.scalar(select(Network.id).where(Network.zone_guest_key == zone.id)):
        raise InvalidParameter(f"Zone {zone.name} already has a guest network: a Basic zone has only one")
    row = _new_network(zone, offering, physical or _guest_physical_network(session, zone), name=name.strip(),
                       display_text=display_text, network_domain=network_domain)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise InvalidParameter(f"Zone {zone.name} already has a guest network: a Basic zone has only one") from None
    session.execute(update(VlanRange).where(VlanRange.zone_id == zone.id, VlanRange.network_id.is_(None),
                                            VlanRange.for_virtual_network.is_(False), VlanRange.removed.is_(None))
                    .values(network_id=row.id).execution_options(synchronize_session=False))
    events.record(session, caller, "NETWORK.CREATE", f"Successfully created network {row.name}", resource=row,
                  resource_type="Network")
    return row


def update_network(session: Session, caller: Caller, row: Network, *, name: str | None, display_text: str | None,
                   network_domain: str | None, display_network: bool | None) -> Network:
    check_access(session, caller, row, modify=True)
    if name is not None:
        if not name.strip():
            raise InvalidParameter("Invalid parameter name: the network name can't be empty")
        row.name = name.strip()
    if display_text is not None:
        row.display_text = display_text
    if network_domain is not None:
        row.network_domain = network_domain or None
    if display_network is not None:
        row.display_network = display_network
    session.flush()
    events.record(session, caller, "NETWORK.UPDATE", f"Successfully updated network {row.name}", resource=row,
                  resource_type="Network")
    return row


def check_deletable(session: Session, caller: Caller, row: Network) -> None:
    check_access(session, caller, row, modify=True)
    from management.compute.vm_models import Nic

    nics = session.scalar(select(func.count(Nic.id)).where(Nic.network_id == row.id, Nic.removed.is_(None)))
    if nics:
        raise ResourceInUse(f"Unable to delete network {row.name}: {nics} NIC(s) of virtual machines are in it")


def delete_network(session: Session, caller: Caller, row: Network) -> None:
    check_deletable(session, caller, row)
    for vlan in session.scalars(select(VlanRange).where(VlanRange.network_id == row.id,
                                                        VlanRange.removed.is_(None))).all():
        ips.delete_range(session, caller, vlan)
    row.removed, row.zone_guest_key, row.state = utcnow(), None, "Destroy"
    session.flush()
    events.record(session, caller, "NETWORK.DELETE", f"Successfully deleted network {row.name}", resource=row,
                  resource_type="Network")


def check_access(session: Session, caller: Caller, row: Network, *, modify: bool = False) -> None:
    if row.removed is not None:
        raise InvalidParameter(f"Unable to find network with specified id {row.uuid}")
    if caller.is_root_admin:
        return
    if modify and row.acl_type == "Domain":
        raise PermissionDenied(f"Only root admins can change the shared network {row.name}")
    domain = session.get(Domain, row.domain_id)
    if row.acl_type == "Domain" and (caller.domain_path.startswith(domain.path) if row.subdomain_access
                                     else caller.domain_id == row.domain_id):
        return
    if row.account_id == caller.account_id:
        return
    raise PermissionDenied(f"Account {caller.account_name} does not have permission to access network {row.uuid}")


def network_query(session: Session, caller: Caller, *, row: Network | None = None, zone: Zone | None = None,
                  guest_type: str | None = None, traffic_type: str | None = None, is_system: bool | None = None,
                  offering: NetworkOffering | None = None, physical: PhysicalNetwork | None = None,
                  name: str | None = None, keyword: str | None = None, acl_type: str | None = None,
                  account: str | None = None, domain: Domain | None = None, can_use_for_deploy: bool | None = None,
                  display_network: bool | None = None):
    q = select(Network).where(Network.removed.is_(None))
    if is_system:
        q = q.where(Network.id.is_(None))  # system (public, management, storage) networks are not rows here
    if row is not None:
        q = q.where(Network.id == row.id)
    for column, value in ((Network.zone_id, zone), (Network.network_offering_id, offering),
                          (Network.physical_network_id, physical)):
        if value is not None:
            q = q.where(column == value.id)
    if guest_type:
        q = q.where(func.lower(Network.guest_type) == guest_type.lower())
    if traffic_type:
        q = q.where(func.lower(Network.traffic_type) == traffic_type.lower())
    if acl_type:
        q = q.where(func.lower(Network.acl_type) == acl_type.lower())
    if name:
        q = q.where(Network.name == name)
    if keyword:
        q = q.where(or_(Network.name.like(f"%{keyword}%"), Network.display_text.like(f"%{keyword}%")))
    if can_use_for_deploy is False:
        q = q.where(Network.id.is_(None))
    if display_network is not None:
        q = q.where(Network.display_network.is_(display_network))
    if domain is not None:
        q = q.where(Network.domain_id == domain.id)
    if account:
        q = q.where(Network.acl_type == "Account", Network.account_id.in_(
            select(Account.id).where(Account.account_name == account)))
    if not caller.is_root_admin:
        # shared Domain networks of the caller's domain or an ancestor (with subdomain access); own networks
        parts = [p for p in caller.domain_path.split("/") if p]
        paths = ["/"] + ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
        ancestors = select(Domain.id).where(Domain.path.in_(paths))
        q = q.where(or_(
            (Network.acl_type == "Domain") & (Network.domain_id == caller.domain_id),
            (Network.acl_type == "Domain") & Network.subdomain_access.is_(True) & Network.domain_id.in_(ancestors),
            Network.account_id == caller.account_id))
    return q.order_by(Network.id)


def attach_range(session: Session, vlan: VlanRange, network: Network | None,
                 physical: PhysicalNetwork | None) -> None:
    """createVlanIpRange: a pod's guest range joins the zone's guest network (the one given, or the zone's)."""
    zone = session.get(Zone, vlan.zone_id)
    if network is not None:
        if network.removed is not None:
            raise InvalidParameter(f"Unable to find network with specified id {network.uuid}")
        if network.zone_id != zone.id:
            raise InvalidParameter(f"Invalid parameter networkid value={network.uuid}: the network is not in zone "
                                   f"{zone.name}")
        if vlan.for_virtual_network:
            raise InvalidParameter("Invalid parameter forvirtualnetwork: a range of a shared guest network is not "
                                   "for the virtual network (forvirtualnetwork=false)")
    if physical is not None and (physical.zone_id != zone.id or physical.removed is not None):
        raise InvalidParameter(f"Invalid parameter physicalnetworkid value={physical.uuid}: not a physical network of "
                               f"zone {zone.name}")
    if not vlan.for_virtual_network and zone.network_type == "Basic":
        network = network or zone_guest_network(session, zone)
    if network is not None:
        vlan.network_id = network.id
        vlan.physical_network_id = network.physical_network_id
    if physical is not None:
        vlan.physical_network_id = physical.id
    session.flush()


def fill_range_views(session: Session, rows: list[VlanRange], views: list) -> None:
    """networkid/physicalnetworkid of createVlanIpRange/listVlanIpRanges responses."""
    networks = {n.id: n.uuid for n in session.scalars(select(Network).where(
        Network.id.in_({r.network_id for r in rows if r.network_id})))} if rows else {}
    physicals = {p.id: p.uuid for p in session.scalars(select(PhysicalNetwork).where(
        PhysicalNetwork.id.in_({r.physical_network_id for r in rows if r.physical_network_id})))} if rows else {}
    for row, view in zip(rows, views, strict=True):
        view.networkid = networks.get(row.network_id)
        view.physicalnetworkid = physicals.get(row.physical_network_id)


def zone_has_networks(session: Session, zone: Zone) -> str | None:
    """deleteZone refuses while physical networks, or networks with NICs or IP ranges, remain; an empty guest
    network goes with the zone (it is marked removed in the deleting transaction)."""
    from management.compute.vm_models import Nic

    for network in session.scalars(select(Network).where(Network.zone_id == zone.id, Network.removed.is_(None))):
        busy = session.scalar(select(func.count(Nic.id)).where(Nic.network_id == network.id, Nic.removed.is_(None)))
        busy = busy or session.scalar(select(func.count(VlanRange.id)).where(VlanRange.network_id == network.id,
                                                                              VlanRange.removed.is_(None)))
        if busy:
            return "there are networks in this zone"
        network.removed, network.zone_guest_key = utcnow(), None
    if session.scalar(select(func.count(PhysicalNetwork.id)).where(PhysicalNetwork.zone_id == zone.id,
                                                                   PhysicalNetwork.removed.is_(None))):
        return "there are physical networks in this zone"
    return None


def guest_ip_in_use(session: Session, network: Network) -> int:
    return session.scalar(select(func.count(IpAddress.id)).join(VlanRange, VlanRange.id == IpAddress.vlan_id)
                          .where(VlanRange.network_id == network.id, IpAddress.state != "Free")) or 0


def nic_network_id(session: Session, zone: Zone) -> int | None:
    """The network a new NIC of a VM in ``zone`` joins (the Basic zone's guest network)."""
    network = zone_guest_network(session, zone)
    return network.id if network is not None else None
