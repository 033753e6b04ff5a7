"""Virtual machine commands: deploy, list, the lifecycle (start, stop, reboot, destroy, recover, expunge),
updates, offering changes, migration, passwords."""

from __future__ import annotations

import ipaddress

from sqlalchemy import func, or_, select

from management.affinity.models import AffinityGroup, AffinityGroupVmMap
from management.api.native.params import Param
from management.api.native.registry import (
    ADMINS,
    Command,
    ListDomainResourcesCommand,
    ListResult,
    Prepared,
    RawResponse,
    Success,
    command,
)
from management.compute import states, vm_expunge, vm_orchestrate, vm_restore, vm_scale, vms
from management.compute.models import DiskOffering, ServiceOffering
from management.compute.vm_models import VMInstance
from management.compute.vm_responses import VirtualMachineResponse, vm_views
from management.context import Context
from management.errors import InvalidParameter, PermissionDenied
from management.guest import passwords
from management.iam import access
from management.iam.models import Domain
from management.infra.models import Cluster, Host, Pod, Zone
from management.jobs.models import AsyncJob
from management.pagination import page
from management.securitygroups.models import SecurityGroup, SecurityGroupVmMap
from management.storage.models import GuestOs, Template
from management.storage.volumes import volume_ids
from management.tags import service as tag_service

VM = "VirtualMachine"
JAVA = "org.apache.cloudstack.api.command.user.vm."


def _fresh(ctx: Context, vm_id: int) -> VMInstance:
    return ctx.session.scalars(select(VMInstance).where(VMInstance.id == vm_id)
                               .execution_options(populate_existing=True)).one()


def _view(ctx: Context, vm_id: int, **kwargs) -> VirtualMachineResponse:
    return vm_views(ctx.session, ctx.caller, [_fresh(ctx, vm_id)], **kwargs)[0]


def _address(value: str | None) -> str | None:
    """deployVirtualMachine ``ipaddress``: an IPv4 address (431 naming the parameter otherwise)."""
    if value is None or value == "":
        return None
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise InvalidParameter(f"Invalid IP address {value} (ipaddress)") from None


def _details(cmd: Command) -> dict[str, str]:
    merged: dict[str, str] = {}
    for entry in cmd.map_list("details"):
        merged.update(entry)
    return merged


class _VmCommand(Command):
    id = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")

    def prepare(self, ctx: Context) -> Prepared:
        vms.check_access(ctx.session, ctx.caller, self.id)
        self.check(ctx)
        return Prepared(instance=self.id)

    def check(self, ctx: Context) -> None:
        """State checks done in the request, before the job is queued."""


@command("deployVirtualMachine", response=VirtualMachineResponse, is_async=True, creates=True, event="VM.CREATE",
         instance_type=VM, java_class=JAVA + "DeployVMCmd")
class DeployVirtualMachine(Command):
    """Creates and automatically starts a virtual machine based on a service offering, disk offering, and
    template."""

    serviceofferingid = Param("uuid", entity=ServiceOffering, required=True,
                              description="the ID of the service offering for the virtual machine")
    templateid = Param("uuid", entity=Template, required=True, description="the ID of the template for the virtual "
                                                                             "machine")
    zoneid = Param("uuid", entity=Zone, required=True, description="availability zone for the virtual machine")
    name = Param(description="host name for the virtual machine")
    displayname = Param(description="an optional user generated name for the virtual machine")
    diskofferingid = Param("uuid", entity=DiskOffering, description="the ID of the disk offering for the data disk")
    size = Param("long", description="the arbitrary size for the DATADISK volume (GB), for customized disk offerings")
    rootdisksize = Param("long", description="Optional field to resize root disk on deploy (GB)")
    hostid = Param("uuid", entity=Host, admin_only=True, description="destination Host ID to deploy the VM to")
    podid = Param("uuid", entity=Pod, admin_only=True, description="destination Pod ID to deploy the VM to")
    clusterid = Param("uuid", entity=Cluster, admin_only=True, description="destination Cluster ID to deploy the VM "
                                                                            "to")
    ipaddress = Param(description="the ip address for default vm's network")
    affinitygroupids = Param("list", description="comma separated list of affinity groups id that are going to be "
                                                 "applied to the virtual machine. Mutually exclusive with "
                                                 "affinitygroupnames parameter")
    affinitygroupnames = Param("list", description="comma separated list of affinity groups names that are going "
                                                   "to be applied to the virtual machine. Mutually exclusive with "
                                                   "affinitygroupids parameter")
    hypervisor = Param(description="the hypervisor on which to deploy the virtual machine; needed with an ISO that "
                                   "names no hypervisor")
    keypair = Param(description="name of the ssh key pair used to login to the virtual machine")
    keypairs = Param("list", description="names of the ssh key pairs used to login to the virtual machine")
    userdata = Param(length=1048576, description="an optional binary data that can be sent to the virtual machine "
                                                 "upon a successful deployment (base64)")
    securitygroupids = Param("list", description="comma separated list of security groups id")
    securitygroupnames = Param("list", description="comma separated list of security groups names")
    startvm = Param("boolean", default=True, description="true if start vm after creating; defaults to true")
    details = Param("map", description="used to specify the custom parameters (cpuNumber, cpuSpeed, memory)")
    group = Param(description="an optional group for the virtual machine")
    account = Param(description="an optional account for the virtual machine. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId for the virtual machine")
    displayvm = Param("boolean", default=True, description="an optional field, whether to the display the vm to "
                                                           "the end user or not.")

    def prepare(self, ctx: Context) -> Prepared:
        keypairs = list(self.keypairs or []) + ([self.keypair] if self.keypair else [])
        groups = list(self.securitygroupids or []) + list(self.securitygroupnames or [])
        req = vms.DeployRequest(zone=self.zoneid, offering=self.serviceofferingid, template=self.templateid,
                                name=self.name, display_name=self.displayname, disk_offering=self.diskofferingid,
                                size_gb=self.size, root_disk_size_gb=self.rootdisksize, host=self.hostid,
                                keypairs=keypairs, user_data=self.userdata, security_groups=groups,
                                details=_details(self), group=self.group, account_name=self.account,
                                domain=self.domainid, display_vm=self.displayvm, hypervisor=self.hypervisor,
                                pod=self.podid, cluster=self.clusterid, ip_address=_address(self.ipaddress),
                                affinity_group_ids=list(self.affinitygroupids or []),
                                affinity_group_names=list(self.affinitygroupnames or []))
        return Prepared(instance=vms.create_vm(ctx.session, ctx.caller, req))

    def run(self, ctx: Context) -> VirtualMachineResponse:
        job = ctx.session.get(AsyncJob, ctx.job_id)
        vm_id = job.instance_id
        if self.startvm:
            vm = ctx.session.get(VMInstance, vm_id)
            if vm.state != states.RUNNING:
                vm_orchestrate.start(ctx, vm_id, deploy=True, host_id=self.hostid.id if self.hostid else None,
                                     cluster_id=self.clusterid.id if self.clusterid else None)
        return _view(ctx, vm_id, show_password=True)


@command("startVirtualMachine", response=VirtualMachineResponse, is_async=True, event="VM.START", instance_type=VM,
         java_class=JAVA + "StartVMCmd")
class StartVirtualMachine(_VmCommand):
    """Starts a virtual machine."""

    hostid = Param("uuid", entity=Host, admin_only=True, description="destination Host ID to deploy the VM to")

    def check(self, ctx: Context) -> None:
        states.check(self.id, "StartRequested")

    def run(self, ctx: Context) -> VirtualMachineResponse:
        vm_orchestrate.start(ctx, self.id.id, host_id=self.hostid.id if self.hostid else None)
        return _view(ctx, self.id.id)


@command("stopVirtualMachine", response=VirtualMachineResponse, is_async=True, event="VM.STOP", instance_type=VM,
         java_class=JAVA + "StopVMCmd")
class StopVirtualMachine(_VmCommand):
    """Stops a virtual machine."""

    forced = Param("boolean", default=False, description="Force stop the VM (vm is marked as Stopped even when "
                                                         "command fails to be send to the backend)")

    def check(self, ctx: Context) -> None:
        if self.id.state != states.STOPPED:
            states.check(self.id, "StopRequested")

    def run(self, ctx: Context) -> VirtualMachineResponse:
        vm_orchestrate.stop(ctx, self.id.id, forced=bool(self.forced))
        return _view(ctx, self.id.id)


@command("rebootVirtualMachine", response=VirtualMachineResponse, is_async=True, event="VM.REBOOT",
         instance_type=VM, java_class=JAVA + "RebootVMCmd")
class RebootVirtualMachine(_VmCommand):
    """Reboots a virtual machine."""

    forced = Param("boolean", default=False, description="Force reboot the VM")

    def check(self, ctx: Context) -> None:
        states.check(self.id, "RebootRequested")

    def run(self, ctx: Context) -> VirtualMachineResponse:
        vm_orchestrate.reboot(ctx, self.id.id)
        return _view(ctx, self.id.id)


@command("destroyVirtualMachine", response=VirtualMachineResponse, is_async=True, event="VM.DESTROY",
         instance_type=VM, java_class=JAVA + "DestroyVMCmd")
class DestroyVirtualMachine(_VmCommand):
    """Destroys a virtual machine."""

    expunge = Param("boolean", default=False, description="If true is passed, the vm is expunged immediately")
    volumeids = Param("list", description="Comma separated list of UUIDs for volumes that will be deleted")

    def check(self, ctx: Context) -> None:
        if self.expunge:
            vms._may_recover_or_expunge(ctx.session, ctx.caller)
        if self.id.state in (states.DESTROYED, states.EXPUNGING):
            raise InvalidParameter(f"VM {self.id.uuid} is in state {self.id.state}, cannot destroy it")
        volume_ids(ctx.session, self.id, self.volumeids)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        vm_expunge.destroy(ctx, self.id.id, expunge_now=bool(self.expunge),
                           volume_ids=volume_ids(ctx.session, self.id, self.volumeids))
        return _view(ctx, self.id.id)


@command("expungeVirtualMachine", is_async=True, event="VM.EXPUNGE", instance_type=VM,
         java_class="org.apache.cloudstack.api.command.admin.vm.ExpungeVMCmd")
class ExpungeVirtualMachine(_VmCommand):
    """Expunge a virtual machine. Once expunged, it cannot be recovered."""

    def check(self, ctx: Context) -> None:
        vms._may_recover_or_expunge(ctx.session, ctx.caller)
        if self.id.state not in (states.DESTROYED, states.ERROR, states.EXPUNGING):
            raise InvalidParameter(f"VM {self.id.uuid} is in state {self.id.state}, cannot expunge it (destroy it "
                                   "first)")

    def run(self, ctx: Context) -> Success:
        vm_expunge.expunge(ctx, self.id.id)
        return Success()


@command("recoverVirtualMachine", response=VirtualMachineResponse, java_class=JAVA + "RecoverVMCmd")
class RecoverVirtualMachine(Command):
    """Recovers a virtual machine."""

    id = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")

    def handle(self, ctx: Context) -> VirtualMachineResponse:
        vm = vms.recover(ctx.session, ctx.caller, self.id)
        return vm_views(ctx.session, ctx.caller, [vm])[0]


@command("updateVirtualMachine", response=VirtualMachineResponse, java_class=JAVA + "UpdateVMCmd")
class UpdateVirtualMachine(Command):
    """Updates properties of a virtual machine. The VM has to be stopped and restarted for the new properties
    to take effect."""

    id = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")
    displayname = Param(description="user generated name")
    name = Param(description="new host name of the vm")
    group = Param(description="group of the virtual machine")
    haenable = Param("boolean", description="true if high-availability is enabled for the virtual machine")
    ostypeid = Param("uuid", entity=GuestOs, description="the ID of the OS type that best represents this VM")
    userdata = Param(length=1048576, description="an optional binary data that can be sent to the virtual machine "
                                                 "upon a successful deployment (base64)")
    isdynamicallyscalable = Param("boolean", description="true if VM contains XS/VMWare tools inorder to support "
                                                         "dynamic scaling of VM cpu/memory")
    displayvm = Param("boolean", description="an optional field, whether to the display the vm to the end user")
    details = Param("map", description="Details in key/value pairs")
    cleanupdetails = Param("boolean", default=False, description="optional boolean field, which indicates if "
                                                                 "details should be cleaned up or not")
    securitygroupids = Param("list", description="list of security group ids to be applied on the virtual machine")
    securitygroupnames = Param("list", description="comma separated list of security groups names")

    def handle(self, ctx: Context) -> VirtualMachineResponse:
        groups = None
        if self.securitygroupids is not None or self.securitygroupnames is not None:
            groups = list(self.securitygroupids or []) + list(self.securitygroupnames or [])
        vm = vms.update(ctx.session, ctx.caller, self.id, display_name=self.displayname, name=self.name,
                        group=self.group, ha_enable=self.haenable, os_type=self.ostypeid, user_data=self.userdata,
                        dynamically_scalable=self.isdynamicallyscalable, display_vm=self.displayvm,
                        details=_details(self), cleanup_details=bool(self.cleanupdetails), security_groups=groups)
        return vm_views(ctx.session, ctx.caller, [vm])[0]


@command("changeServiceForVirtualMachine", response=VirtualMachineResponse, java_class=JAVA + "UpgradeVMCmd")
class ChangeServiceForVirtualMachine(Command):
    """Changes the service offering for a virtual machine. The virtual machine must be in a "Stopped" state for
    this command to take effect."""

    id = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")
    serviceofferingid = Param("uuid", entity=ServiceOffering, required=True, description="the service offering ID "
                                                                                           "to apply to the virtual "
                                                                                           "machine")
    details = Param("map", description="name value pairs of custom parameters for cpu, memory and cpunumber")

    def handle(self, ctx: Context) -> VirtualMachineResponse:
        vm = vms.change_offering(ctx.session, ctx.caller, self.id, self.serviceofferingid, _details(self))
        return vm_views(ctx.session, ctx.caller, [vm])[0]


@command("scaleVirtualMachine", is_async=True, event="VM.UPGRADE", instance_type=VM, java_class=JAVA + "ScaleVMCmd")
class ScaleVirtualMachine(_VmCommand):
    """Scales the virtual machine to a new service offering. This command also considers the volume size in the
    service offering or disk offering linked to the new service offering and apply all characteristics to the root
    volume."""

    serviceofferingid = Param("uuid", entity=ServiceOffering, required=True, description="the ID of the service "
                                                                                           "offering for the virtual "
                                                                                           "machine")
    details = Param("map", description="name value pairs of custom parameters for cpu,memory and cpunumber")

    def check(self, ctx: Context) -> None:
        if self.id.state == states.RUNNING:  # dynamic scaling (vm_scale): checked here, done by the job
            vm_scale.check(ctx.session, self.id, self.serviceofferingid, _details(self))
        elif self.id.state != states.STOPPED:
            raise InvalidParameter(f"Unable to scale VM {self.id.uuid}: it is {self.id.state}; it must be Running "
                                   "(dynamic scaling) or Stopped")

    def run(self, ctx: Context) -> Success:
        if self.id.state == states.RUNNING:
            vm_scale.scale(ctx, self.id.id, self.serviceofferingid.id, _details(self))
        else:
            vms.change_offering(ctx.session, ctx.caller, self.id, self.serviceofferingid, _details(self))
        return Success()


@command("migrateVirtualMachine", response=VirtualMachineResponse, is_async=True, event="VM.MIGRATE",
         instance_type=VM, roles=ADMINS, java_class="org.apache.cloudstack.api.command.admin.vm.MigrateVMCmd")
class MigrateVirtualMachine(Command):
    """Attempts Migration of a VM to a different host or Root volume of the vm to a different storage pool"""

    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="the ID of the virtual machine")
    hostid = Param("uuid", entity=Host, description="Destination Host ID to migrate VM to.")
    autoselect = Param("boolean", default=True, description="Automatically select a destination host which do not "
                                                            "require storage migration, if hostId and storageId are "
                                                            "not specified. false by default")

    def prepare(self, ctx: Context) -> Prepared:
        vm = self.virtualmachineid
        vms.check_access(ctx.session, ctx.caller, vm)
        if vm.state != states.RUNNING:
            raise InvalidParameter(f"VM {vm.uuid} is not Running (state {vm.state}): only running VMs can be "
                                   "migrated between hosts")
        if self.hostid is None and not self.autoselect:
            raise InvalidParameter("Please specify a hostid, or autoselect=true")
        if self.hostid is not None and (self.hostid.removed is not None or self.hostid.status != "Up"):
            raise InvalidParameter(f"Host {self.hostid.uuid} is not Up")
        return Prepared(instance=vm)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        vm_orchestrate.migrate(ctx, self.virtualmachineid.id, self.hostid.id if self.hostid else None)
        return _view(ctx, self.virtualmachineid.id)


@command("restoreVirtualMachine", response=VirtualMachineResponse, is_async=True, event="VM.RESTORE",
         instance_type=VM, java_class=JAVA + "RestoreVMCmd")
class RestoreVirtualMachine(Command):
    """Restore a VM to original template/ISO or new template/ISO"""

    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="Virtual Machine ID")
    templateid = Param("uuid", entity=Template, description="the template to restore the VM from (default: its "
                                                            "own; an ISO only for a VM deployed from that ISO)")
    diskofferingid = Param("uuid", entity=DiskOffering, description="Override root volume's diskoffering.")
    rootdisksize = Param("long", description="Override root volume's size (in GB).")
    expunge = Param("boolean", default=False, description="Optional field to expunge old root volume after restore.")

    def prepare(self, ctx: Context) -> Prepared:
        vm_restore.check(ctx.session, ctx.caller, self.virtualmachineid, self.templateid, self.diskofferingid,
                         self.rootdisksize)
        return Prepared(instance=self.virtualmachineid)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        vm_id = self.virtualmachineid.id
        new_password = vm_restore.restore(ctx, vm_id, self.templateid.id if self.templateid else None,
                                          self.diskofferingid.id if self.diskofferingid else None,
                                          self.rootdisksize, bool(self.expunge))
        return _view(ctx, vm_id, show_password=new_password)


@command("resetPasswordForVirtualMachine", response=VirtualMachineResponse, is_async=True,
         event="VM.RESETPASSWORD", instance_type=VM, java_class=JAVA + "ResetVMPasswordCmd")
class ResetPasswordForVirtualMachine(_VmCommand):
    """Resets the password for virtual machine. The virtual machine must be in a "Stopped" state and the template
    must already support this feature for this command to take effect."""

    password = Param(description="The new password of the virtual machine. If null, a random password will be "
                                 "generated for the VM.")

    def check(self, ctx: Context) -> None:
        template = ctx.session.get(Template, self.id.template_id)
        if template is None or not template.password_enabled:
            raise InvalidParameter("Fail to reset password for the virtual machine, the template is not password "
                                   "enabled")
        if self.id.state != states.STOPPED:
            raise InvalidParameter(f"VM {self.id.uuid} is in state {self.id.state}: stop it to reset its password")
        passwords.check_new(self.password)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        from management.events import service as events

        vm = self.id
        vm.password = passwords.seal(self.password or vms.new_password(ctx.session))
        events.record(ctx.session, ctx.caller, "VM.RESETPASSWORD", f"Reset the password of VM {vm.instance_name}",
                      resource=vm, resource_type=VM, account_id=vm.account_id, domain_id=vm.domain_id)
        ctx.session.flush()
        return vm_views(ctx.session, ctx.caller, [vm], show_password=True)[0]


@command("getVMPassword", java_class=JAVA + "GetVMPasswordCmd")
class GetVMPassword(Command):
    """Returns an encrypted password for the VM"""

    id = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")

    def handle(self, ctx: Context) -> RawResponse:
        vms.check_access(ctx.session, ctx.caller, self.id)
        return RawResponse({"password": {"encryptedpassword": vms.encrypted_password(self.id)}})


@command("listVirtualMachines", response=VirtualMachineResponse, list_key="virtualmachine",
         java_class=JAVA + "ListVMsCmd")
class ListVirtualMachines(ListDomainResourcesCommand):
    """List the virtual machines owned by the account."""

    id = Param("uuid", entity=VMInstance, description="the ID of the virtual machine")
    ids = Param("list", item_type="uuid", entity=VMInstance, description="the IDs of the virtual machines")
    name = Param(description="name of the virtual machine (a wildcard is not supported)")
    state = Param(description="state of the virtual machine. Possible values are: Running, Stopped, Present, "
                              "Destroyed, Expunged. Present is used for the state equal not destroyed.")
    zoneid = Param("uuid", entity=Zone, description="the availability zone ID")
    hostid = Param("uuid", entity=Host, admin_only=True, description="the host ID")
    templateid = Param("uuid", entity=Template, description="list vms by template")
    serviceofferingid = Param("uuid", entity=ServiceOffering, description="list by the service offering")
    haenable = Param("boolean", description="list by the High Availability offering; true if filtering VMs with HA "
                                            "enabled; false for VMs with HA disabled")
    hypervisor = Param(description="the target hypervisor for the template")
    keypair = Param(description="list vms by ssh keypair name")
    securitygroupid = Param("uuid", entity=SecurityGroup, description="the security group ID")
    displayvm = Param("boolean", description="list resources by display flag; only ROOT admin is eligible to pass "
                                             "this parameter")
    userdata = Param("boolean", default=False, description="Whether to return the VMs' user data or not.")
    tags = Param("map", description="List resources by tags (key/value pairs)")
    affinitygroupid = Param("uuid", entity=AffinityGroup, description="list vms by affinity group")

    def handle(self, ctx: Context) -> ListResult:
        by_id = self.id is not None or bool(self.ids)
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=by_id)
        query = select(VMInstance).where(scope.where(VMInstance.account_id, VMInstance.domain_id))
        state = (self.state or "").lower()
        if state == "expunged":
            if not ctx.caller.is_admin:
                raise PermissionDenied("Only admins may list expunged virtual machines")
            query = query.where(VMInstance.removed.is_not(None))
        else:
            query = query.where(VMInstance.removed.is_(None))
            if not state and not ctx.caller.is_admin:  # as CloudStack: users see destroyed VMs only on request
                query = query.where(VMInstance.state != states.DESTROYED)
            if state == "present":
                query = query.where(VMInstance.state.not_in((states.DESTROYED, states.EXPUNGING)))
            elif state:
                match = next((s for s in states.STATES if s.lower() == state), None)
                if match is None:
                    raise InvalidParameter(f"Invalid state {self.state}: use one of {', '.join(states.STATES)}, "
                                           "Present or Expunged")
                query = query.where(VMInstance.state == match)
        if self.id is not None:
            query = query.where(VMInstance.id == self.id.id)
        if self.ids:
            query = query.where(VMInstance.id.in_([v.id for v in self.ids]))
        for column, value in ((VMInstance.zone_id, self.zoneid), (VMInstance.host_id, self.hostid),
                              (VMInstance.template_id, self.templateid),
                              (VMInstance.service_offering_id, self.serviceofferingid)):
            if value is not None:
                query = query.where(column == value.id)
        if self.name:
            query = query.where(func.lower(VMInstance.name) == self.name.lower())
        if self.haenable is not None:
            query = query.where(VMInstance.ha_enabled.is_(self.haenable))
        if self.securitygroupid:
            query = query.where(VMInstance.id.in_(select(SecurityGroupVmMap.vm_id).where(
                SecurityGroupVmMap.security_group_id == self.securitygroupid.id)))
        if self.hypervisor:
            query = query.where(func.lower(VMInstance.hypervisor_type) == self.hypervisor.lower())
        if self.keypair:
            name = self.keypair  # one of the comma-separated names, not a substring of one
            query = query.where(or_(VMInstance.keypairs == name, VMInstance.keypairs.like(f"{name},%"),
                                    VMInstance.keypairs.like(f"%,{name}"), VMInstance.keypairs.like(f"%,{name},%")))
        if self.displayvm is not None and ctx.caller.is_root_admin:
            query = query.where(VMInstance.display_vm.is_(self.displayvm))
        elif not ctx.caller.is_admin:
            query = query.where(VMInstance.display_vm.is_(True))
        if self.keyword:
            like = f"%{self.keyword}%"
            query = query.where(or_(VMInstance.name.like(like), VMInstance.display_name.like(like),
                                    VMInstance.state.like(like), VMInstance.instance_name.like(like)))
        query = tag_service.filtered(query, "UserVm", VMInstance.id, self.map_list("tags"))
        if self.affinitygroupid is not None:
            query = query.where(VMInstance.id.in_(select(AffinityGroupVmMap.vm_id).where(
                AffinityGroupVmMap.affinity_group_id == self.affinitygroupid.id)))
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(VMInstance.id), offset, limit)
        return ListResult(vm_views(ctx.session, ctx.caller, rows, user_data=bool(self.userdata)), total)

