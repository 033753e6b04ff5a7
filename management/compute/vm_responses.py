"""The virtualmachine response object and the batch loading that builds it from rows."""

from __future__ import annotations

import json

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.affinity import service as affinity_service
from management.api.native.responses import ResponseObject, cs_date
from management.compute.models import DiskOffering, ServiceOffering
from management.compute.vm_models import Nic, VMInstance, Volume
from management.context import Caller
from management.guest import passwords
from management.iam.models import Account, Domain, User
from management.iam.responses import domain_display_path
from management.infra.models import Host, IpAddress, Zone
from management.network.models import Network
from management.securitygroups.models import SecurityGroup, SecurityGroupVmMap
from management.storage.models import GuestOs, Template
from management.tags import service as tag_service


class NicResponse(ResponseObject):
    object_name = "nic"
    id: str
    networkid: str | None = None
    networkname: str | None = None
    ipaddress: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    macaddress: str
    isdefault: bool
    traffictype: str
    type: str
    broadcasturi: str | None = None
    isolationuri: str | None = None
    deviceid: str
    virtualmachineid: str


class VmSecurityGroup(ResponseObject):
    object_name = "securitygroup"
    id: str
    name: str
    description: str | None = None
    account: str | None = None


class VirtualMachineResponse(ResponseObject):
    object_name = "virtualmachine"
    id: str
    name: str
    displayname: str | None = None
    instancename: str | None = None
    state: str
    haenable: bool
    account: str | None = None
    userid: str | None = None
    username: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    created: str | None = None
    lastupdated: str | None = None
    zoneid: str | None = None
    zonename: str | None = None
    hostid: str | None = None
    hostname: str | None = None
    templateid: str | None = None
    templatename: str | None = None
    templatedisplaytext: str | None = None
    templatetype: str | None = None
    templateformat: str | None = None
    passwordenabled: bool = False
    password: str | None = None
    isoid: str | None = None
    isoname: str | None = None
    isodisplaytext: str | None = None
    serviceofferingid: str | None = None
    serviceofferingname: str | None = None
    diskofferingid: str | None = None
    diskofferingname: str | None = None
    cpunumber: int
    cpuspeed: int
    memory: int
    guestosid: str | None = None
    ostypeid: str | None = None
    osdisplayname: str | None = None
    rootdeviceid: int | None = None
    rootdevicetype: str | None = None
    pooltype: str | None = None
    hypervisor: str | None = None
    group: str | None = None
    keypairs: str | None = None
    userdata: str | None = None
    isdynamicallyscalable: bool = False
    displayvm: bool = True
    vmtype: str = "User"
    details: dict[str, str] | None = None
    jobid: str | None = None
    jobstatus: int | None = None
    publicip: str | None = None
    publicipid: str | None = None
    nic: list[NicResponse] = Field(default_factory=list)
    securitygroup: list[VmSecurityGroup] = Field(default_factory=list)
    affinitygroup: list = Field(default_factory=list)
    tags: list = Field(default_factory=list)


def _by_id(session: Session, model, ids) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}


def vm_views(session: Session, caller: Caller, rows: list[VMInstance], *, show_password: bool = False,
             user_data: bool = False) -> list[VirtualMachineResponse]:
    tag_map = tag_service.tags_of(session, "UserVm", [vm.id for vm in rows])
    affinity = affinity_service.of_vms(session, [vm.id for vm in rows])
    ids = [vm.id for vm in rows]
    zones = _by_id(session, Zone, (vm.zone_id for vm in rows))
    offerings = _by_id(session, ServiceOffering, (vm.service_offering_id for vm in rows))
    disk_offerings = _by_id(session, DiskOffering, (vm.disk_offering_id for vm in rows))
    templates = _by_id(session, Template, [vm.template_id for vm in rows] + [vm.iso_id for vm in rows])
    hosts = _by_id(session, Host, (vm.host_id for vm in rows))
    accounts = _by_id(session, Account, (vm.account_id for vm in rows))
    domains = _by_id(session, Domain, (vm.domain_id for vm in rows))
    users = _by_id(session, User, (vm.user_id for vm in rows))
    oses = _by_id(session, GuestOs, (vm.guest_os_id for vm in rows))
    nics: dict[int, list[Nic]] = {}
    roots: dict[int, Volume] = {}
    public: dict[int, IpAddress] = {}
    groups: dict[int, list[SecurityGroup]] = {}
    if ids:
        for nic in session.scalars(select(Nic).where(Nic.vm_id.in_(ids), Nic.removed.is_(None)).order_by(Nic.device_id)):
            nics.setdefault(nic.vm_id, []).append(nic)
        for ip in session.scalars(select(IpAddress).where(IpAddress.vm_id.in_(ids), IpAddress.one_to_one_nat.is_(True))
                                  .order_by(IpAddress.id)):
            public.setdefault(ip.vm_id, ip)
        for vm_id, group in session.execute(select(SecurityGroupVmMap.vm_id, SecurityGroup).join(
                SecurityGroup, SecurityGroup.id == SecurityGroupVmMap.security_group_id)
                .where(SecurityGroupVmMap.vm_id.in_(ids)).order_by(SecurityGroup.id)):
            groups.setdefault(vm_id, []).append(group)
        for volume in session.scalars(select(Volume).where(Volume.vm_id.in_(ids), Volume.volume_type == "ROOT")
                                      .order_by(Volume.id)):
            roots.setdefault(volume.vm_id, volume)
    networks = _by_id(session, Network, (n.network_id for vm_nics in nics.values() for n in vm_nics))
    admin = caller.is_admin
    views = []
    for vm in rows:
        zone, offering, template = zones.get(vm.zone_id), offerings.get(vm.service_offering_id), \
            templates.get(vm.template_id)
        host, account, domain = hosts.get(vm.host_id), accounts.get(vm.account_id), domains.get(vm.domain_id)
        disk_offering, user, os_ = disk_offerings.get(vm.disk_offering_id), users.get(vm.user_id), \
            oses.get(vm.guest_os_id)
        root, ip = roots.get(vm.id), public.get(vm.id)
        views.append(VirtualMachineResponse(tags=tag_map.get(vm.id, []), affinitygroup=affinity.get(vm.id, []),
            id=vm.uuid, name=vm.name, displayname=vm.display_name or vm.name,
            instancename=vm.instance_name if admin else None, state=vm.state, haenable=vm.ha_enabled,
            account=account.account_name if account else None, userid=user.uuid if user else None,
            username=user.username if user else None, domainid=domain.uuid if domain else None,
            domain=domain.name if domain else None, domainpath=domain_display_path(domain) if domain else None,
            created=cs_date(vm.created), lastupdated=cs_date(vm.updated),
            zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
            hostid=host.uuid if admin and host else None, hostname=host.name if admin and host else None,
            templateid=template.uuid if template else None, templatename=template.name if template else None,
            templatedisplaytext=template.display_text if template else None,
            templatetype=template.type if template else None, templateformat=template.format if template else None,
            passwordenabled=bool(template and template.password_enabled),
            password=passwords.reveal(vm.password) if show_password and vm.password else None,
            isoid=templates[vm.iso_id].uuid if vm.iso_id in templates else None,
            isoname=templates[vm.iso_id].name if vm.iso_id in templates else None,
            isodisplaytext=templates[vm.iso_id].display_text if vm.iso_id in templates else None,
            serviceofferingid=offering.uuid if offering else None,
            serviceofferingname=offering.name if offering else None,
            diskofferingid=disk_offering.uuid if disk_offering else None,
            diskofferingname=disk_offering.name if disk_offering else None,
            cpunumber=vm.cpu, cpuspeed=vm.speed, memory=vm.memory,
            guestosid=os_.uuid if os_ else None, ostypeid=os_.uuid if os_ else None,
            osdisplayname=os_.display_name if os_ else None,
            rootdeviceid=root.device_id if root else None, rootdevicetype=root.volume_type if root else None,
            hypervisor=vm.hypervisor_type or (host.hypervisor_type if host else None), group=vm.group_name,
            keypairs=vm.keypairs, userdata=vm.user_data if user_data else None,
            isdynamicallyscalable=vm.dynamically_scalable, displayvm=vm.display_vm,
            details=json.loads(vm.details) if vm.details else None,
            publicip=ip.address if ip else None, publicipid=ip.uuid if ip else None,
            securitygroup=[VmSecurityGroup(id=g.uuid, name=g.name, description=g.description,
                                           account=account.account_name if account else None)
                           for g in groups.get(vm.id, [])],
            nic=[NicResponse(id=n.uuid, networkid=networks[n.network_id].uuid if n.network_id in networks else None,
                             networkname=networks[n.network_id].name if n.network_id in networks else None,
                             ipaddress=n.ip_address, netmask=n.netmask, gateway=n.gateway,
                             macaddress=n.mac_address, isdefault=n.is_default, traffictype=n.traffic_type,
                             type="Shared", broadcasturi=n.broadcast_uri, isolationuri=n.isolation_uri,
                             deviceid=str(n.device_id), virtualmachineid=vm.uuid) for n in nics.get(vm.id, [])],
        ))
    return views
