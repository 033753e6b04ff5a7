"""VM creation (the synchronous half of deployVirtualMachine), updates, offering changes, recovery, passwords.

Starting, stopping and the rest of the lifecycle that talks to hosts is in ``vm_orchestrate``; destroying
and expunging in ``vm_expunge``; host reports and HA in ``vm_sync``.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import secrets
import string
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.compute import states, vm_lifecycle
from management.compute.models import DiskOffering, OfferingState, OfferingZone, ServiceOffering
from management.compute.vm_models import Nic, VMInstance, Volume
from management.config import service as config
from management.context import Caller
from management.errors import InsufficientCapacity, InvalidParameter, PermissionDenied
from management.events import service as events
from management.guest import passwords
from management.iam.access import check_account_access
from management.iam.models import Account, Domain
from management.infra import ips
from management.infra.models import Cluster, Host, Pod, VlanRange, Zone
from management.limits import service as limits
from management.network import networks
from management.storage import templates as tmpl
from management.storage.models import DownloadState, Template, TemplateStoreRef

GIB = 1024 ** 3
MB = 1024 * 1024
HOSTNAME_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
INVALID_NAME = ("Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', and "
                "the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and "
                "can't start with digit")


# (session, caller, vm, [group ids or names]) — updateVirtualMachine securitygroupids/securitygroupnames
GROUP_UPDATE_HOOKS: list = []


@dataclass
class DeployRequest:
    zone: Zone
    offering: ServiceOffering
    template: Template
    name: str | None = None
    display_name: str | None = None
    disk_offering: DiskOffering | None = None
    size_gb: int | None = None
    root_disk_size_gb: int | None = None
    host: Host | None = None
    keypairs: list[str] = field(default_factory=list)
    user_data: str | None = None
    security_groups: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    group: str | None = None
    account_name: str | None = None
    domain: Domain | None = None
    display_vm: bool = True
    hypervisor: str | None = None
    pod: Pod | None = None  # admins: deploy in this pod / cluster (the guest address comes from the pod)
    cluster: Cluster | None = None
    ip_address: str | None = None  # a given guest address (free, in the pod's or the zone's ranges)
    affinity_group_ids: list[str] = field(default_factory=list)
    affinity_group_names: list[str] = field(default_factory=list)


DEPLOY_HYPERVISORS = ("KVM", "Simulator")


def instance_name(session: Session, vm: VMInstance) -> str:
    return f"i-{vm.account_id}-{vm.id}-{config.get_value(session, 'instance.name') or 'VM'}"


def check_access(session: Session, caller: Caller, vm: VMInstance) -> None:
    if vm.removed is not None:
        raise InvalidParameter(f"Unable to find virtual machine with specified id {vm.uuid}")
    check_account_access(session, caller, session.get(Account, vm.account_id))


def compute_of(offering: ServiceOffering, details: dict[str, str]) -> tuple[int, int, int]:
    """(cores, MHz, MB) of an offering; customized offerings take cpuNumber/cpuSpeed/memory from details."""
    def number(key: str, current: int | None) -> int:
        value = details.get(key)
        if value is None:
            if current is None:
                raise InvalidParameter(f"Need to specify {key} in details for the customized service offering "
                                       f"{offering.name}")
            return current
        try:
            parsed = int(value)
        except ValueError:
            raise InvalidParameter(f"Invalid {key} value {value} in details") from None
        if parsed <= 0:
            raise InvalidParameter(f"Invalid {key} value {value} in details")
        return parsed

    if not offering.customized:
        return offering.cpu, offering.speed, offering.ram_size
    cpu, speed, memory = number("cpuNumber", offering.cpu), number("cpuSpeed", offering.speed), \
        number("memory", offering.ram_size)
    if offering.min_cpu and cpu < offering.min_cpu or offering.max_cpu and cpu > offering.max_cpu:
        raise InvalidParameter(f"Invalid cpu cores value, specify a value between {offering.min_cpu} and "
                               f"{offering.max_cpu}")
    if offering.min_memory and memory < offering.min_memory or offering.max_memory and memory > offering.max_memory:
        raise InvalidParameter(f"Invalid memory value, specify a value between {offering.min_memory} and "
                               f"{offering.max_memory}")
    return cpu, speed, memory


def check_offering(session: Session, offering: ServiceOffering, zone: Zone) -> None:
    if offering.removed is not None or offering.state != OfferingState.ACTIVE or offering.is_system:
        raise InvalidParameter(f"Unable to find service offering: {offering.uuid}")
    zones = session.scalars(select(OfferingZone.zone_id).where(OfferingZone.kind == "service",
                                                               OfferingZone.offering_id == offering.id)).all()
    if zones and zone.id not in zones:
        raise InvalidParameter(f"Service offering {offering.uuid} is not available in zone {zone.uuid}")


def check_user_data(session: Session, data: str | None) -> str | None:
    """As CloudStack's UserDataManager: base64 (whitespace ignored), at most ``vm.userdata.max.length``
    characters, not empty once decoded; 431 naming userdata."""
    if data is None or data == "":
        return None
    data = "".join(data.split())
    try:
        decoded = base64.b64decode(data.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter("User data is not base64 encoded (userdata)") from None
    limit = config.get_int(session, "vm.userdata.max.length")
    if len(data) > limit or len(decoded) > limit:
        raise InvalidParameter(f"User data has exceeded configurable max length : {limit} (userdata is "
                               f"{len(data)} characters)")
    if not decoded:
        raise InvalidParameter("User data is too short (userdata)")
    return data


def template_ready_in_zone(session: Session, template: Template, zone: Zone) -> bool:
    return session.scalar(select(TemplateStoreRef.id).where(
        TemplateStoreRef.template_id == template.id, TemplateStoreRef.zone_id == zone.id,
        TemplateStoreRef.download_state == DownloadState.DOWNLOADED).limit(1)) is not None


def _check_name(session: Session, owner: Account, name: str) -> None:
    if not HOSTNAME_RE.match(name):
        raise InvalidParameter(INVALID_NAME)
    taken = session.scalar(select(VMInstance.id).where(VMInstance.account_id == owner.id,
                                                       func.lower(VMInstance.name) == name.lower(),
                                                       VMInstance.removed.is_(None)).limit(1))
    if taken is not None:
        raise InvalidParameter(f"The vm with hostName {name} already exists in the account {owner.account_name}")


def new_mac(session: Session) -> str:
    """02:00:xx:xx:xx:xx, unique among NICs (the unique key guards against a concurrent twin)."""
    for _ in range(20):
        mac = "02:00:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(4))
        if session.scalar(select(Nic.id).where(Nic.mac_address == mac)) is None:
            return mac
    raise InsufficientCapacity("Unable to generate a unique MAC address")


def new_password(session: Session) -> str:
    length = max(6, config.get_int(session, "vm.password.length"))
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _sizes(session: Session, req: DeployRequest) -> tuple[int, int | None]:
    """(root volume bytes, data volume bytes or None)."""
    template_size = req.template.size or 0
    root = template_size
    if req.root_disk_size_gb is not None:
        if req.root_disk_size_gb <= 0:
            raise InvalidParameter("Root disk size should be a positive number.")
        root = req.root_disk_size_gb * GIB
        if template_size and root < template_size:
            raise InvalidParameter(f"Root disk size {req.root_disk_size_gb} GB is smaller than the template size "
                                   f"{template_size / GIB:.2f} GB")
    elif req.offering.root_disk_size:
        root = max(root, req.offering.root_disk_size * GIB)
    data = None
    if req.disk_offering is not None:
        offering = req.disk_offering
        if offering.removed is not None or offering.state != OfferingState.ACTIVE:
            raise InvalidParameter(f"Unable to find disk offering by id {offering.uuid}")
        if offering.customized:
            if not req.size_gb or req.size_gb <= 0:
                raise InvalidParameter("Disk offering is customized: specify the size parameter (GB)")
            data = req.size_gb * GIB
        else:
            data = offering.disk_size
    return root, data


def create_vm(session: Session, caller: Caller, req: DeployRequest) -> VMInstance:
    """Validate a deploy request and create the VM (Stopped), its volumes (Allocated) and its NIC."""
    owner = tmpl.template_owner(session, caller, req.account_name, req.domain)
    zone, offering, template = req.zone, req.offering, req.template
    if zone.removed is not None:
        raise InvalidParameter(f"Unable to find zone by id {zone.uuid}")
    if zone.allocation_state == "Disabled" and not caller.is_root_admin:
        raise PermissionDenied(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    check_offering(session, offering, zone)
    if template.removed is not None or not tmpl.can_use(session, caller, template):
        raise InvalidParameter(f"Unable to use template {template.uuid}")
    hypervisor = _deploy_hypervisor(template, req.hypervisor)
    if template.is_iso and not template.bootable:
        raise InvalidParameter("Please specify a bootable ISO.")
    if template.is_iso and req.disk_offering is None:
        raise InvalidParameter("Installing from ISO requires a disk offering to be specified for the root disk.")
    if not template_ready_in_zone(session, template, zone):
        raise InvalidParameter(f"Template {template.uuid} has not been completely downloaded to zone {zone.uuid}")
    if req.host is not None and (req.host.zone_id != zone.id or req.host.removed is not None):
        raise InvalidParameter(f"Host {req.host.uuid} is not in zone {zone.uuid}")
    pod_id = _placement_pod(req)
    cpu, speed, memory = compute_of(offering, req.details)
    root_size, data_size = _sizes(session, req)
    if template.is_iso:  # the disk offering sizes a blank ROOT disk; the ISO goes on the CD-ROM
        root_size, data_size = data_size, None
    user_data = check_user_data(session, req.user_data)
    name = req.name
    if name is not None:
        _check_name(session, owner, name)
    display = req.display_name or name
    if display is not None and len(display) > 255:
        raise InvalidParameter("displayname is too long (255 characters at most)")
    volumes = 1 + (1 if data_size is not None else 0)
    limits.reserve_many(session, account_id=owner.id, amounts={
        "user_vm": 1, "cpu": cpu, "memory": memory, "volume": volumes,
        "primary_storage": root_size + (data_size or 0)})
    custom = {k: v for k, v in req.details.items() if k in ("cpuNumber", "cpuSpeed", "memory")}
    vm = VMInstance(name=name or "pending", display_name=display, state=states.STOPPED, zone_id=zone.id,
                    service_offering_id=offering.id, disk_offering_id=req.disk_offering.id if req.disk_offering else None,
                    template_id=template.id, guest_os_id=template.guest_os_id, account_id=owner.id,
                    domain_id=owner.domain_id, user_id=caller.user_id if owner.id == caller.account_id else None,
                    user_data=user_data, keypairs=",".join(req.keypairs) or None,
                    security_groups=json.dumps(req.security_groups) if req.security_groups else None,
                    group_name=req.group, ha_enabled=offering.offer_ha, limit_cpu_use=offering.limit_cpu_use,
                    dynamically_scalable=template.dynamically_scalable, display_vm=req.display_vm, cpu=cpu,
                    speed=speed, memory=memory, details=json.dumps(req.details) if req.details else None,
                    hypervisor_type=hypervisor, iso_id=template.id if template.is_iso else None,
                    password=passwords.seal(new_password(session)) if template.password_enabled else None)
    session.add(vm)
    session.flush()
    vm.instance_name = instance_name(session, vm)
    if name is None:
        vm.name = vm.uuid
        vm.display_name = vm.display_name or vm.uuid
    add_volume(session, vm, "ROOT", f"ROOT-{vm.id}", root_size, template_id=None if template.is_iso else template.id,
                disk_offering_id=req.disk_offering.id if template.is_iso else None, device_id=0)
    if data_size is not None:
        add_volume(session, vm, "DATADISK", f"DATA-{vm.id}", data_size, template_id=None,
                    disk_offering_id=req.disk_offering.id, device_id=1)
    _add_nic(session, vm, zone, pod_id, req.ip_address)
    vm_lifecycle.run(vm_lifecycle.DEPLOY_HOOKS, session, caller, vm, req)
    events.record(session, caller, "VM.CREATE", f"Successfully created VM instance {vm.instance_name}", resource=vm,
                  resource_type="VirtualMachine", account_id=owner.id, domain_id=owner.domain_id)
    events.record_usage(session, "VM.CREATE", account_id=owner.id, zone_id=zone.id, resource_id=vm.id,
                        resource_name=vm.instance_name, offering_id=offering.id, template_id=template.id,
                        resource_type=vm.hypervisor_type, details=custom or None)
    return vm


def _deploy_hypervisor(template: Template, requested: str | None) -> str | None:
    """The VM's hypervisor: the template's; for an ISO naming none, the ``hypervisor`` parameter."""
    own = template.hypervisor if template.hypervisor not in (None, "", "Any", "None") else None
    if requested is None:
        return own
    match = next((h for h in DEPLOY_HYPERVISORS if h.lower() == requested.strip().lower()), None)
    if match is None:
        raise InvalidParameter(f"Invalid hypervisor type {requested}: use one of {', '.join(DEPLOY_HYPERVISORS)}")
    if own is not None and own != match:
        raise InvalidParameter(f"hypervisor {match} does not match the hypervisor {own} of template {template.uuid}")
    return match


def add_volume(session: Session, vm: VMInstance, kind: str, name: str, size: int, *, template_id: int | None,
                disk_offering_id: int | None, device_id: int) -> Volume:
    volume = Volume(name=name, vm_id=vm.id, volume_type=kind, state="Allocated", size=size, format="QCOW2",
                    template_id=template_id, disk_offering_id=disk_offering_id, device_id=device_id,
                    account_id=vm.account_id, domain_id=vm.domain_id, zone_id=vm.zone_id)
    session.add(volume)
    session.flush()
    events.record_usage(session, "VOLUME.CREATE", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=volume.id,
                        resource_name=name, offering_id=disk_offering_id, template_id=template_id, size=size)
    return volume


def _placement_pod(req: DeployRequest) -> int | None:
    """The pod a deploy is pinned to by ``hostid``, ``clusterid`` or ``podid`` (431 when they disagree)."""
    zone, pods = req.zone, set()
    for what, row, pod_id in (("hostid", req.host, req.host.pod_id if req.host else None),
                              ("clusterid", req.cluster, req.cluster.pod_id if req.cluster else None),
                              ("podid", req.pod, req.pod.id if req.pod else None)):
        if row is None:
            continue
        if row.zone_id != zone.id or row.removed is not None:
            raise InvalidParameter(f"{what} {row.uuid} is not in zone {zone.uuid}")
        pods.add(pod_id)
    if req.host is not None and req.cluster is not None and req.host.cluster_id != req.cluster.id:
        raise InvalidParameter(f"Host {req.host.uuid} is not in cluster {req.cluster.uuid} (clusterid)")
    if len(pods) > 1:
        raise InvalidParameter("hostid, clusterid and podid name different pods")
    return next(iter(pods), None)


def _add_nic(session: Session, vm: VMInstance, zone: Zone, pod_id: int | None, address: str | None = None) -> Nic:
    nic = Nic(vm_id=vm.id, mac_address=new_mac(session), device_id=0, is_default=True,
              network_type=zone.network_type)
    session.add(nic)
    session.flush()
    ip = ips.allocate_ip(session, zone_id=zone.id, pod_id=pod_id, account_id=vm.account_id, domain_id=vm.domain_id,
                         for_virtual_network=False, vm_id=vm.id, nic_id=nic.id, address=address)
    if ip is None and address is not None:
        raise InvalidParameter(f"IP address {address} is not a free guest address of zone {zone.uuid}"
                               + (" in the pod the VM is placed in" if pod_id is not None else "") + " (ipaddress)")
    if ip is None:
        raise InsufficientCapacity(f"Insufficient address capacity: no free address for a VM in zone {zone.uuid}")
    vlan = session.get(VlanRange, ip.vlan_id)
    nic.ip_address, nic.ip_id, nic.vlan_id = ip.address, ip.id, vlan.id
    nic.netmask, nic.gateway = vlan.netmask, vlan.gateway
    nic.network_id = vlan.network_id or networks.nic_network_id(session, zone)
    vm.pod_id = vlan.pod_id
    return nic


def release_nics(session: Session, vm: VMInstance, *, remove: bool) -> None:
    """Give the VM's addresses back (and mark its NICs removed when the VM goes)."""
    from management.db import utcnow
    from management.infra.models import IpAddress

    for nic in session.scalars(select(Nic).where(Nic.vm_id == vm.id, Nic.removed.is_(None))):
        if nic.ip_id is not None:
            ip = session.get(IpAddress, nic.ip_id)
            if ip is not None and ip.vm_id == vm.id:
                ips.release_ip(session, ip)
            nic.ip_id, nic.ip_address = None, None
        if remove:
            nic.removed, nic.state = utcnow(), "Deallocating"


def release_limits(session: Session, vm: VMInstance, volume_ids: list[int] | None = None) -> None:
    """Give back the VM's limits and those of its volumes (only ``volume_ids`` when given: on destroy, data
    volumes that outlive the VM keep theirs)."""
    volumes = session.scalars(select(Volume).where(Volume.vm_id == vm.id, Volume.removed.is_(None))).all()
    if volume_ids is not None:
        volumes = [v for v in volumes if v.id in volume_ids]
    for resource, amount in (("user_vm", 1), ("cpu", vm.cpu), ("memory", vm.memory), ("volume", len(volumes)),
                             ("primary_storage", sum(v.size for v in volumes))):
        limits.release(session, account_id=vm.account_id, resource=resource, amount=amount)


def reserve_limits(session: Session, vm: VMInstance) -> None:
    """recoverVirtualMachine: take back what destroy gave back (the VM, its ROOT and destroyed volumes)."""
    volumes = session.scalars(select(Volume).where(Volume.vm_id == vm.id, Volume.removed.is_(None))).all()
    volumes = [v for v in volumes if v.volume_type == "ROOT" or v.state == "Destroy"]
    limits.reserve_many(session, account_id=vm.account_id, amounts={
        "user_vm": 1, "cpu": vm.cpu, "memory": vm.memory, "volume": len(volumes),
        "primary_storage": sum(v.size for v in volumes)})


def _may_recover_or_expunge(session: Session, caller: Caller) -> None:
    if not caller.is_admin and not config.get_bool(session, "allow.user.expunge.recover.vm",
                                                             account=caller.account_id):
        raise PermissionDenied("Parameter allow.user.expunge.recover.vm is false: users may not recover or expunge "
                               "virtual machines")


def recover(session: Session, caller: Caller, vm: VMInstance) -> VMInstance:
    check_access(session, caller, vm)
    _may_recover_or_expunge(session, caller)
    if vm.state != states.DESTROYED:
        raise InvalidParameter(f"VM {vm.uuid} is in state {vm.state}, cannot recover it (must be Destroyed)")
    reserve_limits(session, vm)
    states.transition(session, vm, "RecoveryRequested")
    for volume in session.scalars(select(Volume).where(Volume.vm_id == vm.id, Volume.removed.is_(None))):
        if volume.state == "Destroy":
            volume.state = "Ready" if volume.path else "Allocated"
    events.record(session, caller, "VM.RECOVER", f"Recovered VM {vm.instance_name}", resource=vm,
                  resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)
    events.record_usage(session, "VM.CREATE", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                        resource_name=vm.instance_name, offering_id=vm.service_offering_id,
                        template_id=vm.template_id, resource_type=vm.hypervisor_type)
    return vm


def update(session: Session, caller: Caller, vm: VMInstance, *, display_name: str | None, name: str | None,
           group: str | None, ha_enable: bool | None, os_type=None, user_data: str | None,
           dynamically_scalable: bool | None, display_vm: bool | None, details: dict[str, str] | None,
           cleanup_details: bool, security_groups: list[str] | None) -> VMInstance:
    check_access(session, caller, vm)
    if vm.state in (states.DESTROYED, states.EXPUNGING, states.ERROR):
        raise InvalidParameter(f"VM {vm.uuid} is in state {vm.state}, cannot update it")
    if name is not None and name != vm.name:
        if vm.state != states.STOPPED:
            raise InvalidParameter("The VM must be stopped to change its host name")
        _check_name(session, session.get(Account, vm.account_id), name)
        vm.name = name
    if display_name is not None:
        vm.display_name = display_name
    if group is not None:
        vm.group_name = group or None
    if ha_enable is not None:
        vm.ha_enabled = ha_enable
    if os_type is not None:
        vm.guest_os_id = os_type.id
    if user_data is not None:
        vm.user_data = check_user_data(session, user_data)
    if dynamically_scalable is not None:
        vm.dynamically_scalable = dynamically_scalable
    if display_vm is not None:
        vm.display_vm = display_vm
    if cleanup_details:
        vm.details = None
    elif details:
        merged = json.loads(vm.details) if vm.details else {}
        merged.update(details)
        vm.details = json.dumps(merged)
    if security_groups is not None:
        vm.security_groups = json.dumps(security_groups)
        for hook in GROUP_UPDATE_HOOKS:  # security groups: the VM's membership becomes these groups
            hook(session, caller, vm, security_groups)
    events.record(session, caller, "VM.UPDATE", f"Updated VM {vm.instance_name}", resource=vm,
                  resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)
    return vm


def change_offering(session: Session, caller: Caller, vm: VMInstance, offering: ServiceOffering,
                    details: dict[str, str]) -> VMInstance:
    """changeServiceForVirtualMachine / scaleVirtualMachine of a Stopped VM: new CPU/memory, limits adjusted."""
    check_access(session, caller, vm)
    if vm.state != states.STOPPED:
        raise InvalidParameter(f"Unable to upgrade virtual machine {vm.uuid}: it is {vm.state}; stop it first "
                               "(or grow it while it runs with scaleVirtualMachine)")
    check_offering(session, offering, session.get(Zone, vm.zone_id))
    if offering.id == vm.service_offering_id and not offering.customized:
        raise InvalidParameter(f"Not upgrading vm {vm.uuid} since it already has the requested service offering "
                               f"({offering.name})")
    current = session.get(ServiceOffering, vm.service_offering_id)
    if current is not None and (current.storage_type or "shared") != (offering.storage_type or "shared"):
        raise InvalidParameter("Unable to upgrade: the new offering uses a different storage type")
    cpu, speed, memory = compute_of(offering, details)
    grow = {k: v for k, v in (("cpu", cpu - vm.cpu), ("memory", memory - vm.memory)) if v > 0}
    limits.reserve_many(session, account_id=vm.account_id, amounts=grow)
    for resource, delta in (("cpu", vm.cpu - cpu), ("memory", vm.memory - memory)):
        if delta > 0:
            limits.release(session, account_id=vm.account_id, resource=resource, amount=delta)
    vm.cpu, vm.speed, vm.memory, vm.service_offering_id = cpu, speed, memory, offering.id
    vm.limit_cpu_use = offering.limit_cpu_use
    custom = {k: v for k, v in details.items() if k in ("cpuNumber", "cpuSpeed", "memory")}
    if custom:
        merged = json.loads(vm.details) if vm.details else {}
        merged.update(custom)
        vm.details = json.dumps(merged)
    events.record(session, caller, "VM.UPGRADE", f"Upgraded VM {vm.instance_name} to offering {offering.name}",
                  resource=vm, resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)
    events.record_usage(session, "VM.UPGRADE", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                        resource_name=vm.instance_name, offering_id=offering.id, template_id=vm.template_id,
                        resource_type=vm.hypervisor_type, details=custom or None)
    return vm


def encrypted_password(vm: VMInstance) -> str:
    """getVMPassword: the password encrypted with the VM's SSH public key (RSA PKCS#1 v1.5), base64."""
    password, key = passwords.reveal(vm.password), passwords.first_key(vm.ssh_public_key)
    if not password or not key:
        raise InvalidParameter(f"No password for VM with specified id found. {vm.uuid}")
    return passwords.encrypt_for(key, password)
