"""createVMSnapshot, listVMSnapshot, revertToVMSnapshot, deleteVMSnapshot."""

from __future__ import annotations

from sqlalchemy import select

from management.api.native.params import Param
from management.api.native.registry import (
    Command,
    ListDomainResourcesCommand,
    ListResult,
    Prepared,
    Success,
    command,
)
from management.api.native.responses import ResponseObject, cs_date
from management.compute.vm_models import VMInstance
from management.compute.vm_responses import VirtualMachineResponse, vm_views
from management.context import Context
from management.iam import access
from management.iam.models import Account, Domain
from management.iam.responses import domain_display_path
from management.infra.models import Zone
from management.jobs.models import AsyncJob
from management.tags import service as tags
from management.vmsnapshots import service
from management.vmsnapshots.models import VMSnapshot

JAVA = "org.apache.cloudstack.api.command.user.vmsnapshot."


class VMSnapshotResponse(ResponseObject):
    object_name = "vmsnapshot"
    id: str
    name: str
    displayname: str
    description: str | None = None
    state: str
    type: str
    current: bool
    created: str | None = None
    parent: str | None = None
    parentName: str | None = None  # noqa: N815 (CloudStack's name)
    virtualmachineid: str
    virtualmachinename: str | None = None
    zoneid: str | None = None
    zonename: str | None = None
    hypervisor: str | None = None
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    tags: list[dict] = []


def views(session, rows: list[VMSnapshot]) -> list[VMSnapshotResponse]:
    def by_id(model, ids):
        ids = {i for i in ids if i is not None}
        return {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}

    vms = by_id(VMInstance, [r.vm_id for r in rows])
    zones = by_id(Zone, [v.zone_id for v in vms.values()])
    accounts = by_id(Account, [r.account_id for r in rows])
    domains = by_id(Domain, [r.domain_id for r in rows])
    parents = by_id(VMSnapshot, [r.parent_id for r in rows])
    tagged = tags.tags_of(session, "VMSnapshot", [r.id for r in rows])
    result = []
    for r in rows:
        vm, parent = vms[r.vm_id], parents.get(r.parent_id)
        zone, account, domain = zones.get(vm.zone_id), accounts.get(r.account_id), domains.get(r.domain_id)
        result.append(VMSnapshotResponse(
            id=r.uuid, name=r.name, displayname=r.display_name, description=r.description, state=r.state,
            type=r.type, current=r.current, created=cs_date(r.created), parent=parent.uuid if parent else None,
            parentName=parent.display_name if parent else None, virtualmachineid=vm.uuid,
            virtualmachinename=vm.name, zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
            hypervisor=vm.hypervisor_type, account=account.account_name if account else None,
            domainid=domain.uuid if domain else None, domain=domain.name if domain else None,
            domainpath=domain_display_path(domain) if domain else None, tags=tagged.get(r.id, [])))
    return result


def _snapshot(ctx: Context) -> VMSnapshot:
    job = ctx.session.get(AsyncJob, ctx.job_id)
    return ctx.session.get(VMSnapshot, job.instance_id, populate_existing=True)


@command("createVMSnapshot", response=VMSnapshotResponse, is_async=True, creates=True, event="VMSNAPSHOT.CREATE",
         instance_type="VMSnapshot", java_class=JAVA + "CreateVMSnapshotCmd")
class CreateVMSnapshot(Command):
    """Creates snapshot for a vm."""

    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="The ID of the vm")
    name = Param(description="The display name of the snapshot")
    description = Param(length=4096, description="The description of the snapshot")
    snapshotmemory = Param("boolean", default=False, description="snapshot memory if true")
    quiescevm = Param("boolean", default=False, description="quiesce vm if true")

    def prepare(self, ctx: Context) -> Prepared:
        req = service.CreateRequest(vm=self.virtualmachineid, name=self.name, description=self.description,
                                    memory=self.snapshotmemory, quiesce=self.quiescevm)
        return Prepared(instance=service.allocate(ctx.session, ctx.caller, req))

    def run(self, ctx: Context) -> VMSnapshotResponse:
        snapshot = _snapshot(ctx)
        service.take(ctx, snapshot.id)
        return views(ctx.session, [ctx.session.get(VMSnapshot, snapshot.id, populate_existing=True)])[0]


@command("listVMSnapshot", response=VMSnapshotResponse, list_key="vmsnapshot", java_class=JAVA + "ListVMSnapshotCmd")
class ListVMSnapshot(ListDomainResourcesCommand):
    """List virtual machine snapshot by conditions"""

    vmsnapshotid = Param("uuid", entity=VMSnapshot, description="The ID of the VM snapshot")
    vmsnapshotids = Param("list", item_type="uuid", entity=VMSnapshot,
                          description="the IDs of the vm snapshots, mutually exclusive with vmsnapshotid")
    virtualmachineid = Param("uuid", entity=VMInstance, description="the ID of the vm")
    name = Param(description="lists snapshot by snapshot name or display name")
    state = Param(description="state of the virtual machine snapshot")
    tags = Param("map", description="List resources by tags (key/value pairs)")

    def handle(self, ctx: Context) -> ListResult:
        ids = [self.vmsnapshotid.id] if self.vmsnapshotid else [s.id for s in self.vmsnapshotids or []]
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=bool(ids))
        f = service.ListFilter(scope=scope, vm_id=self.virtualmachineid.id if self.virtualmachineid else None,
                               ids=ids or None, name=self.name, state=self.state, keyword=self.keyword,
                               tags=self.map_list("tags"))
        offset, limit = self.window(ctx.session)
        rows, total = service.list_snapshots(ctx.session, f, offset, limit)
        return ListResult(views(ctx.session, rows), total)


@command("revertToVMSnapshot", response=VirtualMachineResponse, is_async=True, event="VMSNAPSHOT.REVERTTO",
         instance_type="VMSnapshot", java_class=JAVA + "RevertToVMSnapshotCmd")
class RevertToVMSnapshot(Command):
    """Revert VM from a vmsnapshot."""

    vmsnapshotid = Param("uuid", entity=VMSnapshot, required=True, description="The ID of the vm snapshot")

    def prepare(self, ctx: Context) -> Prepared:
        service.check_stopped_ready(ctx.session, ctx.caller, self.vmsnapshotid, "reverted")
        return Prepared(instance=self.vmsnapshotid)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        service.revert(ctx, self.vmsnapshotid.id)
        vm = ctx.session.get(VMInstance, self.vmsnapshotid.vm_id, populate_existing=True)
        return vm_views(ctx.session, ctx.caller, [vm])[0]


@command("deleteVMSnapshot", is_async=True, event="VMSNAPSHOT.DELETE", instance_type="VMSnapshot",
         java_class=JAVA + "DeleteVMSnapshotCmd")
class DeleteVMSnapshot(Command):
    """Deletes a vmsnapshot."""

    vmsnapshotid = Param("uuid", entity=VMSnapshot, required=True, description="The ID of the VM snapshot")

    def prepare(self, ctx: Context) -> Prepared:
        service.check_stopped_ready(ctx.session, ctx.caller, self.vmsnapshotid, "deleted")
        return Prepared(instance=self.vmsnapshotid)

    def run(self, ctx: Context) -> Success:
        service.delete(ctx, self.vmsnapshotid.id)
        return Success()


service.register()
