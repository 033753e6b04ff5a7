"""NICs of a VM as the network sees them (listNics) and their secondary addresses (addIpToNic,
removeIpFromNic). A secondary address comes from the same IP range as the NIC's primary one and is held by
the same compare-and-set allocation (``management.infra.ips``)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management.compute.vm_models import Nic, VMInstance
from management.compute.vms import check_access as check_vm_access
from management.context import Caller
from management.db import utcnow
from management.errors import InsufficientCapacity, InvalidParameter, NetworkRuleConflict
from management.events import service as events
from management.infra import ips, net
from management.infra.models import IpAddress, VlanRange
from management.network.models import Network, NicSecondaryIp


def nic_query(*, vm: VMInstance, nic: Nic | None = None, network: Network | None = None):
    q = select(Nic).where(Nic.vm_id == vm.id, Nic.removed.is_(None))
    if nic is not None:
        q = q.where(Nic.id == nic.id)
    if network is not None:
        q = q.where(Nic.network_id == network.id)
    return q.order_by(Nic.device_id, Nic.id)


def list_nics(session: Session, caller: Caller, vm: VMInstance, *, nic: Nic | None, network: Network | None):
    check_vm_access(session, caller, vm)
    return nic_query(vm=vm, nic=nic, network=network)


def _nic_of(session: Session, caller: Caller, nic: Nic) -> VMInstance:
    if nic.removed is not None:
        raise InvalidParameter(f"Unable to find nic with id {nic.uuid}")
    vm = session.get(VMInstance, nic.vm_id)
    check_vm_access(session, caller, vm)
    return vm


def check_add(session: Session, caller: Caller, nic: Nic, address: str | None) -> None:
    _nic_of(session, caller, nic)
    if nic.vlan_id is None:
        raise InvalidParameter(f"Nic {nic.uuid} has no guest address range: a secondary address can't be added")
    if address is not None:
        vlan = session.get(VlanRange, nic.vlan_id)
        net.ip("ipaddress", address)
        if not net.contains(vlan.start_ip, vlan.end_ip, address.strip()):
            raise InvalidParameter(f"Invalid parameter ipaddress value={address}: not in the range {vlan.start_ip}-"
                                   f"{vlan.end_ip} of the nic")


def add_secondary_ip(session: Session, caller: Caller, nic: Nic, address: str | None) -> NicSecondaryIp:
    check_add(session, caller, nic, address)
    vm = session.get(VMInstance, nic.vm_id)
    if address is None:
        row = ips.allocate_ip(session, zone_id=vm.zone_id, vlan_ids=[nic.vlan_id], account_id=vm.account_id,
                              domain_id=vm.domain_id, vm_id=vm.id, nic_id=nic.id)
        if row is None:
            raise InsufficientCapacity(f"Insufficient address capacity: no free address left in the range of nic "
                                       f"{nic.uuid}")
    else:
        row = session.scalar(select(IpAddress).where(IpAddress.vlan_id == nic.vlan_id,
                                                     IpAddress.address == address.strip()))
        taken = row is not None and session.execute(
            update(IpAddress).where(IpAddress.id == row.id, IpAddress.state == "Free").values(
                state="Allocated", account_id=vm.account_id, domain_id=vm.domain_id, vm_id=vm.id, nic_id=nic.id,
                allocated=utcnow()).execution_options(synchronize_session=False)).rowcount == 1
        if not taken:
            raise InvalidParameter(f"Invalid parameter ipaddress value={address}: the address is already in use")
        session.refresh(row)
    secondary = NicSecondaryIp(nic_id=nic.id, vm_id=vm.id, network_id=nic.network_id, ip_id=row.id,
                               ip_address=row.address, account_id=vm.account_id, domain_id=vm.domain_id)
    session.add(secondary)
    session.flush()
    events.record(session, caller, "NIC.SECONDARY.IP.ASSIGN", f"Assigned secondary IP {row.address} to nic "
                  f"{nic.uuid}", resource=secondary, resource_type="Nic", account_id=vm.account_id,
                  domain_id=vm.domain_id)
    return secondary


def check_remove(session: Session, caller: Caller, secondary: NicSecondaryIp) -> None:
    _nic_of(session, caller, session.get(Nic, secondary.nic_id))
    used = session.scalar(select(IpAddress.address).where(IpAddress.vm_id == secondary.vm_id,
                                                          IpAddress.one_to_one_nat.is_(True),
                                                          IpAddress.vm_ip_address == secondary.ip_address))
    if used:
        raise NetworkRuleConflict(f"Can't remove the secondary ip {secondary.ip_address}: static NAT of {used} maps "
                                  "to it; disable static NAT first")


def remove_secondary_ip(session: Session, caller: Caller, secondary: NicSecondaryIp) -> None:
    check_remove(session, caller, secondary)
    row = session.get(IpAddress, secondary.ip_id)
    address, account_id, domain_id = secondary.ip_address, secondary.account_id, secondary.domain_id
    session.delete(secondary)
    session.flush()
    if row is not None:
        ips.release_ip(session, row)
    events.record(session, caller, "NIC.SECONDARY.IP.UNASSIGN", f"Removed secondary IP {address}",
                  resource_type="Nic", account_id=account_id, domain_id=domain_id)
