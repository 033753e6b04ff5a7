"""Public IP addresses of an account (CloudStack's associateIpAddress / disassociateIpAddress): taken from the
zone's public ranges (``createVlanIpRange forvirtualnetwork=true``), counted against the ``public_ip`` limit,
with NET.IPASSIGN / NET.IPRELEASE events and usage events."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import InsufficientCapacity, InvalidParameter
from management.events import service as events
from management.iam.access import check_account_access, owner_for
from management.iam.models import Account, Domain
from management.infra import ips
from management.infra.models import IpAddress, VlanRange, Zone
from management.limits import service as limits
from management.network.models import Network


def owner_of(session: Session, caller: Caller, account_name: str | None, domain: Domain | None) -> Account:
    return owner_for(session, caller, account_name, domain)


def is_public(session: Session, ip: IpAddress) -> bool:
    vlan = session.get(VlanRange, ip.vlan_id)
    return vlan is not None and vlan.for_virtual_network


def associate(session: Session, caller: Caller, *, zone: Zone | None, network: Network | None, address: str | None,
              owner: Account) -> IpAddress:
    if network is not None:
        if network.removed is not None:
            raise InvalidParameter(f"Unable to find network with specified id {network.uuid}")
        from management.network.networks import check_access

        check_access(session, caller, network)
        if zone is not None and zone.id != network.zone_id:
            raise InvalidParameter(f"Invalid parameter networkid value={network.uuid}: not in zone {zone.uuid}")
        zone = session.get(Zone, network.zone_id)
    if zone is None:
        raise InvalidParameter("Invalid parameters: one of zoneid or networkid is required")
    if zone.removed is not None:
        raise InvalidParameter(f"Unable to find zone by id {zone.uuid}")
    if zone.allocation_state == "Disabled" and not caller.is_root_admin:
        raise InvalidParameter(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    limits.reserve(session, account_id=owner.id, resource="public_ip")
    if address is not None:
        ip = _take_address(session, zone, address, owner)
    else:
        ip = ips.allocate_ip(session, zone_id=zone.id, account_id=owner.id, domain_id=owner.domain_id,
                             for_virtual_network=True)
        if ip is None:
            raise InsufficientCapacity(f"Insufficient address capacity: no free public IP address in zone "
                                       f"{zone.name}")
    if network is None and zone.network_type == "Basic":
        from management.network.networks import zone_guest_network

        network = zone_guest_network(session, zone, create=False)
    ip.network_id = network.id if network else None
    session.flush()
    events.record(session, caller, "NET.IPASSIGN", f"Assigned public IP address {ip.address}", resource=ip,
                  resource_type="IpAddress", account_id=owner.id, domain_id=owner.domain_id)
    events.record_usage(session, "NET.IPASSIGN", account_id=owner.id, zone_id=zone.id, resource_id=ip.id,
                        resource_name=ip.address, resource_type="VirtualNetwork",
                        details={"issourcenat": False, "iselastic": zone.network_type == "Basic"})
    return ip


def _take_address(session: Session, zone: Zone, address: str, owner: Account) -> IpAddress:
    from management.infra import net

    net.ip("ipaddress", address)
    row = session.scalar(select(IpAddress).join(VlanRange, VlanRange.id == IpAddress.vlan_id).where(
        IpAddress.zone_id == zone.id, IpAddress.address == address.strip(), VlanRange.for_virtual_network.is_(True),
        VlanRange.removed.is_(None)))
    if row is None:
        raise InvalidParameter(f"Invalid parameter ipaddress value={address}: not a public IP address of zone "
                               f"{zone.name}")
    taken = _cas(session, row, owner)
    if taken is None:
        raise InvalidParameter(f"Invalid parameter ipaddress value={address}: the address is already allocated")
    return taken


def _cas(session: Session, row: IpAddress, owner: Account) -> IpAddress | None:
    """Free -> Allocated for this one address (a compare-and-set, as ``ips.allocate_ip``)."""
    done = session.execute(update(IpAddress).where(IpAddress.id == row.id, IpAddress.state == "Free").values(
        state="Allocated", account_id=owner.id, domain_id=owner.domain_id, allocated=utcnow())
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        return None
    session.refresh(row)
    return row


def check_owned(session: Session, caller: Caller, ip: IpAddress) -> None:
    """The address is an allocated public IP the caller may act on."""
    if ip.state != "Allocated" or ip.account_id is None or not is_public(session, ip):
        raise InvalidParameter(f"Invalid parameter ipaddressid value={ip.uuid}: not an allocated public IP address")
    check_account_access(session, caller, session.get(Account, ip.account_id))


def release(session: Session, caller: Caller, ip: IpAddress) -> None:
    """Give the address back (static NAT must be off by now); the limit count and events follow."""
    account_id, domain_id, address, zone_id = ip.account_id, ip.domain_id, ip.address, ip.zone_id
    ips.release_ip(session, ip)
    limits.release(session, account_id=account_id, resource="public_ip")
    events.record(session, caller, "NET.IPRELEASE", f"Released public IP address {address}", resource=ip,
                  resource_type="IpAddress", account_id=account_id, domain_id=domain_id)
    events.record_usage(session, "NET.IPRELEASE", account_id=account_id, zone_id=zone_id, resource_id=ip.id,
                        resource_name=address, resource_type="VirtualNetwork")


def public_query(*, zone: Zone | None = None, allocated_only: bool = True, static_nat: bool | None = None,
                 address: str | None = None, row: IpAddress | None = None, vlan: VlanRange | None = None,
                 network: Network | None = None, state: str | None = None, for_virtual_network: bool | None = True,
                 keyword: str | None = None):
    q = select(IpAddress).join(VlanRange, VlanRange.id == IpAddress.vlan_id).where(VlanRange.removed.is_(None))
    if for_virtual_network is not None:
        q = q.where(VlanRange.for_virtual_network.is_(for_virtual_network))
    if allocated_only:
        q = q.where(IpAddress.state == "Allocated")
    if state:
        q = q.where(func.lower(IpAddress.state) == state.lower())
    for column, value in ((IpAddress.zone_id, zone), (IpAddress.id, row), (IpAddress.vlan_id, vlan),
                          (IpAddress.network_id, network)):
        if value is not None:
            q = q.where(column == value.id)
    if static_nat is not None:
        q = q.where(IpAddress.one_to_one_nat.is_(static_nat))
    if address:
        q = q.where(IpAddress.address == address)
    if keyword:
        q = q.where(IpAddress.address.like(f"%{keyword}%"))
    return q.order_by(IpAddress.id)


def count_public(session: Session, account_id: int) -> int:
    """Recalculation of the public_ip resource count."""
    return session.scalar(select(func.count(IpAddress.id)).join(VlanRange, VlanRange.id == IpAddress.vlan_id).where(
        IpAddress.account_id == account_id, IpAddress.state == "Allocated",
        VlanRange.for_virtual_network.is_(True))) or 0
