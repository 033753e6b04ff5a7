"""Guest and public IP ranges (CloudStack's vlan table) and the addresses in them.

``allocate_ip`` / ``release_ip`` are what VMs and networks call: an address moves Free -> Allocated
with a compare-and-set UPDATE, so two concurrent callers can never get the same address.
"""

from __future__ import annotations

import ipaddress
import random

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import new_uuid, utcnow
from management.errors import InvalidParameter, ResourceInUse
from management.events import service as events
from management.iam.models import Account, Domain
from management.infra import net
from management.infra.models import IpAddress, Pod, VlanRange, Zone

ALLOCATE_ATTEMPTS = 10
CANDIDATES = 16  # pick among the first few free rows so that concurrent callers rarely collide


def create_range(session: Session, caller: Caller, *, zone: Zone | None, pod: Pod | None, gateway: str | None,
                 netmask: str | None, start_ip: str | None, end_ip: str | None, for_virtual_network: bool | None,
                 vlan: str | None = None, account: Account | None = None, domain: Domain | None = None,
                 for_system_vms: bool = False) -> VlanRange:
    if zone is None and pod is None:
        raise InvalidParameter("Please specify a valid zoneid or podid")
    if pod is not None:
        if zone is not None and pod.zone_id != zone.id:
            raise InvalidParameter(f"Invalid parameter podid value={pod.uuid}: pod {pod.name} is not in zone "
                                   f"{zone.name}")
        zone = zone or session.get(Zone, pod.zone_id)
    for row, what in ((zone, "zone"), (pod, "pod")):
        if row is not None and row.removed is not None:
            raise InvalidParameter(f"Unable to find the {what} with id {row.uuid}: it was removed")
    virtual = bool(for_virtual_network) or zone.network_type == "Advanced"
    if not virtual and pod is None:
        raise InvalidParameter("Invalid parameter podid: a guest IP range in a Basic zone belongs to a pod")
    if virtual:
        pod = None  # public ranges are zone-wide
    _network, first, last = net.check_range(gateway=gateway, mask=netmask, start=start_ip, end=end_ip)
    count = int(last) - int(first) + 1
    if count > net.MAX_RANGE_ADDRESSES:
        raise InvalidParameter(f"Invalid parameter endip value={last}: the range has {count} addresses; "
                               f"at most {net.MAX_RANGE_ADDRESSES} are allowed in one range")
    for other in session.scalars(select(VlanRange).where(VlanRange.zone_id == zone.id, VlanRange.removed.is_(None))):
        if net.overlaps(str(first), str(last), other.start_ip, other.end_ip):
            raise InvalidParameter(f"The IP range {first}-{last} overlaps the range {other.start_ip}-"
                                   f"{other.end_ip} already in zone {zone.name}")
    tag = _vlan_tag(vlan)
    if account is not None:
        domain = domain or session.get(Domain, account.domain_id)
    row = VlanRange(vlan_tag=tag, gateway=gateway, netmask=netmask, start_ip=str(first), end_ip=str(last),
                    vlan_type="VirtualNetwork" if virtual else "DirectAttached", for_virtual_network=virtual,
                    zone_id=zone.id, pod_id=pod.id if pod else None, account_id=account.id if account else None,
                    domain_id=domain.id if domain else None, for_system_vms=for_system_vms)
    session.add(row)
    session.flush()
    rows = [{"uuid": new_uuid(), "address": str(ipaddress.IPv4Address(a)), "zone_id": zone.id, "vlan_id": row.id,
                 "state": "Free"} for a in range(int(first), int(last) + 1)]
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(IpAddress), rows[chunk:chunk + 5000])
    events.record(session, caller, "VLAN.IP.RANGE.CREATE", f"Created IP range {first}-{last} in zone {zone.name}",
                  resource=row, resource_type="Vlan")
    return row


def _vlan_tag(vlan: str | None) -> str:
    tag = (vlan or "untagged").strip()
    if tag.lower().startswith("vlan://"):
        tag = tag[7:]
    if tag.lower() == "untagged":
        return "untagged"
    if not tag.isdigit() or not 1 <= int(tag) <= 4094:
        raise InvalidParameter(f"Invalid parameter vlan value={vlan}: expected untagged or a VLAN id 1-4094")
    return tag


def delete_range(session: Session, caller: Caller, vlan: VlanRange) -> None:
    if vlan.removed is not None:
        raise InvalidParameter(f"Unable to find the IP range with id {vlan.uuid}: it was removed")
    # Free rows go first; whatever is left is in use (the whole transaction rolls back then).
    session.execute(delete(IpAddress).where(IpAddress.vlan_id == vlan.id, IpAddress.state == "Free"))
    in_use = session.scalar(select(func.count(IpAddress.id)).where(IpAddress.vlan_id == vlan.id))
    if in_use:
        raise ResourceInUse(f"The IP range {vlan.start_ip}-{vlan.end_ip} can't be deleted: {in_use} of its "
                            "addresses are allocated")
    vlan.removed = utcnow()
    events.record(session, caller, "VLAN.IP.RANGE.DELETE", f"Deleted IP range {vlan.start_ip}-{vlan.end_ip}",
                  resource=vlan, resource_type="Vlan")


def range_query(*, vlan: VlanRange | None = None, zone: Zone | None = None, pod: Pod | None = None,
                tag: str | None = None, for_virtual_network: bool | None = None, account: str | None = None,
                domain: Domain | None = None, keyword: str | None = None):
    query = select(VlanRange).where(VlanRange.removed.is_(None))
    if vlan is not None:
        query = query.where(VlanRange.id == vlan.id)
    if zone is not None:
        query = query.where(VlanRange.zone_id == zone.id)
    if pod is not None:
        query = query.where(VlanRange.pod_id == pod.id)
    if tag:
        query = query.where(VlanRange.vlan_tag == _vlan_tag(tag))
    if for_virtual_network is not None:
        query = query.where(VlanRange.for_virtual_network.is_(for_virtual_network))
    if domain is not None:
        query = query.where(VlanRange.domain_id == domain.id)
    if account:
        query = query.where(VlanRange.account_id.in_(select(Account.id).where(Account.account_name == account)))
    if keyword:
        query = query.where(VlanRange.start_ip.like(f"%{keyword}%") | VlanRange.end_ip.like(f"%{keyword}%"))
    return query.order_by(VlanRange.id)


# --- addresses -------------------------------------------------------------------------------------

def allocate_ip(session: Session, *, zone_id: int, pod_id: int | None = None, vlan_ids: list[int] | None = None,
                account_id: int, domain_id: int, for_virtual_network: bool | None = None,
                vm_id: int | None = None, nic_id: int | None = None, address: str | None = None) -> IpAddress | None:
    """Take one Free address of the zone (of a pod's ranges, or of given ranges) for an account.

    Returns None when no address is free. The row moves Free -> Allocated with ``UPDATE ... WHERE
    state='Free'``: a concurrent caller that picked the same row updates nothing and tries another.
    Ranges dedicated to another account are skipped. The change commits with the caller's transaction."""
    free = (select(IpAddress.id).join(VlanRange, VlanRange.id == IpAddress.vlan_id)
            .where(IpAddress.zone_id == zone_id, IpAddress.state == "Free", VlanRange.removed.is_(None),
                   (VlanRange.account_id.is_(None)) | (VlanRange.account_id == account_id),
                   VlanRange.for_system_vms.is_(False)))
    if pod_id is not None:
        free = free.where(VlanRange.pod_id == pod_id)
    if vlan_ids is not None:
        free = free.where(VlanRange.id.in_(vlan_ids))
    if for_virtual_network is not None:
        free = free.where(VlanRange.for_virtual_network.is_(for_virtual_network))
    if address is not None:  # this address or none
        free = free.where(IpAddress.address == address)
    free = free.order_by(IpAddress.id).limit(CANDIDATES)
    for _ in range(ALLOCATE_ATTEMPTS):
        candidates = session.scalars(free).all()
        if not candidates:
            return None
        chosen = random.choice(candidates)
        taken = session.execute(
            update(IpAddress).where(IpAddress.id == chosen, IpAddress.state == "Free")
            .values(state="Allocated", account_id=account_id, domain_id=domain_id, vm_id=vm_id, nic_id=nic_id,
                    allocated=utcnow()).execution_options(synchronize_session=False))
        if taken.rowcount == 1:
            return session.scalars(select(IpAddress).where(IpAddress.id == chosen)
                                   .execution_options(populate_existing=True)).one()
    return None


def release_ip(session: Session, ip: IpAddress) -> None:
    """Give an address back (Free, no owner, no NAT), whatever state it was in; its resource tags go (the row
    will serve its next owner)."""
    from management.tags import service as tag_service

    tag_service.drop(session, "PublicIpAddress", ip.id)
    session.execute(update(IpAddress).where(IpAddress.id == ip.id).values(
        state="Free", account_id=None, domain_id=None, vm_id=None, nic_id=None, allocated=None, source_nat=False,
        one_to_one_nat=False, vm_ip_address=None, network_id=None).execution_options(synchronize_session=False))
    session.expire(ip)
