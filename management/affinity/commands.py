"""createAffinityGroup, deleteAffinityGroup, listAffinityGroups, listAffinityGroupTypes, updateVMAffinityGroup."""

from __future__ import annotations

from pydantic import Field

from management.affinity import service
from management.affinity.models import TYPES, AffinityGroup
from management.api.native.params import Param
from management.api.native.registry import (
    Command,
    ListCommand,
    ListDomainResourcesCommand,
    ListResult,
    Prepared,
    Success,
    command,
)
from management.api.native.responses import ResponseObject
from management.compute.vm_models import VMInstance
from management.compute.vm_responses import VirtualMachineResponse, vm_views
from management.context import Context
from management.iam import access
from management.iam.models import Domain
from management.pagination import page

JAVA = "org.apache.cloudstack.api.command.user.affinitygroup."


class AffinityGroupResponse(ResponseObject):
    object_name = "affinitygroup"
    id: str
    name: str
    description: str | None = None
    type: str
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    virtualmachineIds: list[str] = Field(default_factory=list)  # noqa: N815 (CloudStack's name)


class AffinityGroupTypeResponse(ResponseObject):
    object_name = "affinitygrouptype"
    type: str


def _view(ctx: Context, group: AffinityGroup) -> AffinityGroupResponse:
    return AffinityGroupResponse(**service.views(ctx.session, [group])[0])


@command("createAffinityGroup", response=AffinityGroupResponse, is_async=True, event="AG.CREATE",
         instance_type="AffinityGroup", java_class=JAVA + "CreateAffinityGroupCmd")
class CreateAffinityGroup(Command):
    """Creates an affinity/anti-affinity group"""

    name = Param(required=True, description="name of the affinity group")
    type = Param(description="Type of the affinity group from the available affinity/anti-affinity group types")
    description = Param(length=4096, description="optional description of the affinity group")
    account = Param(description="an account for the affinity group. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="domainId of the account owning the affinity group")

    def prepare(self, ctx: Context) -> Prepared:
        owner = access.owner_for(ctx.session, ctx.caller, self.account, self.domainid)
        group = service.create(ctx.session, ctx.caller, owner, name=self.name, type_=self.type,
                               description=self.description)
        return Prepared(instance=group)

    def run(self, ctx: Context) -> AffinityGroupResponse:
        from management.jobs.models import AsyncJob

        return _view(ctx, ctx.session.get(AffinityGroup, ctx.session.get(AsyncJob, ctx.job_id).instance_id))


@command("deleteAffinityGroup", is_async=True, event="AG.DELETE", instance_type="AffinityGroup",
         java_class=JAVA + "DeleteAffinityGroupCmd")
class DeleteAffinityGroup(Command):
    """Deletes affinity group"""

    id = Param("uuid", entity=AffinityGroup, description="The ID of the affinity group. Mutually exclusive with name "
                                                         "parameter")
    name = Param(description="The name of the affinity group. Mutually exclusive with ID parameter")
    account = Param(description="the account of the affinity group. Must be specified with domain ID")
    domainid = Param("uuid", entity=Domain, description="the domain ID of account owning the affinity group")

    def _group(self, ctx: Context) -> AffinityGroup:
        owner = None
        if self.account is not None or self.domainid is not None:
            owner = access.owner_for(ctx.session, ctx.caller, self.account, self.domainid)
        return service.find(ctx.session, ctx.caller, group=self.id, name=self.name, owner=owner)

    def prepare(self, ctx: Context) -> Prepared:
        group = self._group(ctx)
        service.check_delete(ctx.session, group)
        return Prepared(instance=group)

    def run(self, ctx: Context) -> Success:
        service.delete_group(ctx.session, ctx.caller, self._group(ctx))
        return Success()


@command("listAffinityGroups", response=AffinityGroupResponse, list_key="affinitygroup",
         java_class=JAVA + "ListAffinityGroupsCmd")
class ListAffinityGroups(ListDomainResourcesCommand):
    """Lists affinity groups"""

    id = Param("uuid", entity=AffinityGroup, description="list the affinity group by the ID provided")
    name = Param(description="lists affinity groups by name")
    type = Param(description="lists affinity groups by type")
    virtualmachineid = Param("uuid", entity=VMInstance, description="lists affinity groups by virtual machine ID")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=self.id is not None)
        query = service.list_query(scope, group=self.id, name=self.name, type_=self.type,
                                   vm=self.virtualmachineid, keyword=self.keyword)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult([AffinityGroupResponse(**v) for v in service.views(ctx.session, rows)], total)


@command("listAffinityGroupTypes", response=AffinityGroupTypeResponse, list_key="affinitygrouptype",
         java_class=JAVA + "ListAffinityGroupTypesCmd")
class ListAffinityGroupTypes(ListCommand):
    """Lists affinity group types available"""

    def handle(self, ctx: Context) -> ListResult:
        return ListResult([AffinityGroupTypeResponse(type=t) for t in TYPES], len(TYPES))


@command("updateVMAffinityGroup", response=VirtualMachineResponse, is_async=True, event="VM.AG.UPDATE",
         instance_type="VirtualMachine", java_class=JAVA + "UpdateVMAffinityGroupCmd")
class UpdateVMAffinityGroup(Command):
    """Updates the affinity/anti-affinity group associations of a virtual machine. The VM has to be stopped and
    restarted for the new properties to take effect."""

    id = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")
    affinitygroupids = Param("list", description="comma separated list of affinity groups id that are going to be "
                                                 "applied to the virtual machine. Should be passed only when vm is "
                                                 "created from a zone with Basic Network support. Mutually exclusive "
                                                 "with securitygroupnames parameter")
    affinitygroupnames = Param("list", description="comma separated list of affinity groups names that are going "
                                                   "to be applied to the virtual machine. Mutually exclusive with "
                                                   "affinitygroupids parameter")

    def _ids(self) -> list[str] | None:
        return None if self.affinitygroupids is None and "affinitygroupids" not in self.raw else \
            list(self.affinitygroupids or [])

    def prepare(self, ctx: Context) -> Prepared:
        from management.compute import vms

        vms.check_access(ctx.session, ctx.caller, self.id)
        service.check_update(ctx.session, ctx.caller, self.id, self._ids(), self.affinitygroupnames)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        service.update_vm(ctx.session, ctx.caller, self.id, self._ids(), self.affinitygroupnames)
        return vm_views(ctx.session, ctx.caller, [self.id])[0]


service.register()
