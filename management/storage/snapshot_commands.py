"""Snapshot and snapshot policy commands, and the template commands that move data between volumes,
snapshots and image stores (createTemplate, copyTemplate, extractTemplate)."""

from __future__ import annotations

from management.api.native.params import Param
from management.api.native.registry import (
    Command,
    ListDomainResourcesCommand,
    ListResult,
    Prepared,
    Success,
    command,
)
from management.api.native.responses import ResponseObject
from management.compute.vm_models import VMInstance, Volume
from management.context import Context
from management.errors import InvalidParameter
from management.iam import access
from management.iam.models import Account, Domain
from management.infra.models import Zone
from management.jobs.models import AsyncJob
from management.storage import cleanup, snapshots, template_ops  # noqa: F401  (cleanup: periodic task)
from management.storage import snapshot_policies as policies
from management.storage.models import GuestOs, Template
from management.storage.responses import TemplateResponse
from management.storage.snapshot_models import Snapshot, SnapshotPolicy
from management.storage.snapshot_responses import (
    SnapshotPolicyResponse,
    SnapshotResponse,
    policy_views,
    snapshot_views,
)

SNAP = "org.apache.cloudstack.api.command.user.snapshot."
TMPL = "org.apache.cloudstack.api.command.user.template."

snapshots.register()


def _view(ctx: Context, snapshot_id: int) -> SnapshotResponse:
    snapshot = ctx.session.get(Snapshot, snapshot_id, populate_existing=True)
    return snapshot_views(ctx.session, [snapshot])[0]


def _instance_id(ctx: Context) -> int:
    return ctx.session.get(AsyncJob, ctx.job_id).instance_id


@command("createSnapshot", response=SnapshotResponse, is_async=True, creates=True, event="SNAPSHOT.CREATE",
         instance_type="Snapshot", java_class=SNAP + "CreateSnapshotCmd")
class CreateSnapshot(Command):
    """Creates an instant snapshot of a volume."""

    volumeid = Param("uuid", entity=Volume, required=True, description="The ID of the disk volume")
    name = Param(description="the name of the snapshot")
    policyid = Param("uuid", entity=SnapshotPolicy, description="policy id of the snapshot, if this is null, then "
                                                                 "use MANUAL_POLICY.")
    account = Param(description="The account of the snapshot. The account parameter must be used with the domainId "
                                "parameter.")
    domainid = Param("uuid", entity=Domain, description="The domain ID of the snapshot. If used with the account "
                                                        "parameter, specifies a domain for the account associated "
                                                        "with the disk volume.")
    quiescevm = Param("boolean", default=False, description="quiesce vm if true")
    asyncbackup = Param("boolean", default=False, description="asynchronous backup if true")
    locationtype = Param(description="Currently applicable only for managed storage. Valid location types: "
                                     "'primary', 'secondary'. Default = 'primary'.")

    def prepare(self, ctx: Context) -> Prepared:
        if self.locationtype and self.locationtype.strip().lower() not in ("primary", "secondary"):
            raise InvalidParameter(f"Invalid location type {self.locationtype}: use primary or secondary "
                                   "(locationtype)")
        if self.policyid is not None and (self.policyid.volume_id != self.volumeid.id or not self.policyid.active):
            raise InvalidParameter(f"Snapshot policy {self.policyid.uuid} is not a policy of volume "
                                   f"{self.volumeid.uuid} (policyid)")
        req = snapshots.SnapshotRequest(volume=self.volumeid, name=self.name, policy=self.policyid)
        return Prepared(instance=snapshots.allocate(ctx.session, ctx.caller, req))

    def run(self, ctx: Context) -> SnapshotResponse:
        snapshot_id = _instance_id(ctx)
        snapshots.take(ctx, snapshot_id)
        return _view(ctx, snapshot_id)


@command("listSnapshots", response=SnapshotResponse, list_key="snapshot", java_class=SNAP + "ListSnapshotsCmd")
class ListSnapshots(ListDomainResourcesCommand):
    """Lists all available snapshots for the account."""

    id = Param("uuid", entity=Snapshot, description="lists snapshot by snapshot ID")
    ids = Param("list", item_type="uuid", entity=Snapshot, description="the IDs of the snapshots, mutually "
                                                                       "exclusive with id")
    name = Param(description="lists snapshot by snapshot name")
    volumeid = Param("uuid", entity=Volume, description="the ID of the disk volume")
    zoneid = Param("uuid", entity=Zone, description="list snapshots by zone id")
    snapshottype = Param(description="valid values are MANUAL or RECURRING.")
    intervaltype = Param(description="valid values are HOURLY, DAILY, WEEKLY, and MONTHLY.")
    tags = Param("map", description="List resources by tags (key/value pairs)")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=self.id is not None)
        f = snapshots.ListFilter(scope=scope, snapshot_id=self.id.id if self.id else None,
                                 ids=[s.id for s in self.ids] if self.ids else None, name=self.name,
                                 volume_id=self.volumeid.id if self.volumeid else None,
                                 zone_id=self.zoneid.id if self.zoneid else None, snapshot_type=self.snapshottype,
                                 interval_type=self.intervaltype, keyword=self.keyword, tags=self.map_list("tags"))
        offset, limit = self.window(ctx.session)
        rows, total = snapshots.list_snapshots(ctx.session, f, offset, limit)
        return ListResult(snapshot_views(ctx.session, rows), total)


@command("deleteSnapshot", is_async=True, event="SNAPSHOT.DELETE", instance_type="Snapshot",
         java_class=SNAP + "DeleteSnapshotCmd")
class DeleteSnapshot(Command):
    """Deletes a snapshot of a disk volume."""

    id = Param("uuid", entity=Snapshot, required=True, description="The ID of the snapshot")
    zoneid = Param("uuid", entity=Zone, description="The ID of the zone for the snapshot")

    def prepare(self, ctx: Context) -> Prepared:
        snapshots.check_deletable(ctx.session, ctx.caller, self.id)
        if self.zoneid is not None and self.zoneid.id != self.id.zone_id:
            raise InvalidParameter(f"Snapshot {self.id.uuid} is not in zone {self.zoneid.uuid} (zoneid)")
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> Success:
        snapshots.delete(ctx.session, ctx.caller, ctx.session.get(Snapshot, self.id.id, populate_existing=True))
        return Success()


@command("revertSnapshot", response=SnapshotResponse, is_async=True, event="SNAPSHOT.REVERT",
         instance_type="Snapshot", java_class=SNAP + "RevertSnapshotCmd")
class RevertSnapshot(Command):
    """This is supposed to revert a volume snapshot. This command is only supported with KVM so far"""

    id = Param("uuid", entity=Snapshot, required=True, description="The ID of the snapshot")

    def prepare(self, ctx: Context) -> Prepared:
        snapshots.check_revertable(ctx.session, ctx.caller, self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> SnapshotResponse:
        snapshots.revert(ctx, self.id.id)
        return _view(ctx, self.id.id)


# --- policies ----------------------------------------------------------------------------------------------

@command("createSnapshotPolicy", response=SnapshotPolicyResponse, java_class=SNAP + "CreateSnapshotPolicyCmd")
class CreateSnapshotPolicy(Command):
    """Creates a snapshot policy for the account."""

    volumeid = Param("uuid", entity=Volume, required=True, description="the ID of the disk volume")
    intervaltype = Param(required=True, description="valid values are HOURLY, DAILY, WEEKLY, and MONTHLY")
    schedule = Param(required=True, description="time the snapshot is scheduled to be taken. Format is: * if "
                                                "HOURLY, MM * if DAILY, MM:HH * if WEEKLY, MM:HH:DD (1-7) * if "
                                                "MONTHLY, MM:HH:DD (1-28)")
    timezone = Param(required=True, description="Specifies a timezone for this command.")
    maxsnaps = Param("integer", required=True, description="maximum number of snapshots to retain")
    fordisplay = Param("boolean", description="an optional field, whether to the display the policy to the end user "
                                              "or not")

    def handle(self, ctx: Context) -> SnapshotPolicyResponse:
        policy = policies.create_policy(ctx.session, ctx.caller, volume=self.volumeid, interval_type=self.intervaltype,
                                        schedule=self.schedule, tz_name=self.timezone, max_snaps=self.maxsnaps,
                                        display=self.fordisplay)
        return policy_views(ctx.session, [policy])[0]


@command("updateSnapshotPolicy", response=SnapshotPolicyResponse, is_async=True, event="SNAPSHOTPOLICY.UPDATE",
         instance_type="Snapshot", java_class=SNAP + "UpdateSnapshotPolicyCmd")
class UpdateSnapshotPolicy(Command):
    """Updates the snapshot policy."""

    id = Param("uuid", entity=SnapshotPolicy, description="the ID of the snapshot policy")
    fordisplay = Param("boolean", description="an optional field, whether to the display the snapshot policy to the "
                                              "end user or not.")
    customid = Param(description="an optional field, in case you want to set a custom id to the resource. Allowed "
                                 "to Root Admins only")

    def prepare(self, ctx: Context) -> Prepared:
        if self.id is None:
            raise InvalidParameter("Unable to find a snapshot policy: id is required (id)")
        policies.check_policy_access(ctx.session, ctx.caller, self.id)
        return Prepared(instance=None)

    def run(self, ctx: Context) -> SnapshotPolicyResponse:
        policy = policies.update_policy(ctx.session, ctx.caller, self.id, display=self.fordisplay)
        return policy_views(ctx.session, [policy])[0]


@command("listSnapshotPolicies", response=SnapshotPolicyResponse, list_key="snapshotpolicy",
         java_class=SNAP + "ListSnapshotPoliciesCmd")
class ListSnapshotPolicies(ListDomainResourcesCommand):
    """Lists snapshot policies."""

    id = Param("uuid", entity=SnapshotPolicy, description="the ID of the snapshot policy")
    volumeid = Param("uuid", entity=Volume, description="the ID of the disk volume")
    fordisplay = Param("boolean", description="list resources by display flag; only ROOT admin is eligible to pass "
                                              "this parameter")

    def handle(self, ctx: Context) -> ListResult:
        if self.volumeid is not None:
            access.check_account_access(ctx.session, ctx.caller, ctx.session.get(Account, self.volumeid.account_id))
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall or self.volumeid is not None,
                                  by_id=self.id is not None)
        offset, limit = self.window(ctx.session)
        rows, total = policies.list_policies(ctx.session, scope, policy_id=self.id.id if self.id else None,
                                             volume_id=self.volumeid.id if self.volumeid else None,
                                             display=self.fordisplay, offset=offset, limit=limit)
        return ListResult(policy_views(ctx.session, rows), total)


@command("deleteSnapshotPolicies", java_class=SNAP + "DeleteSnapshotPoliciesCmd")
class DeleteSnapshotPolicies(Command):
    """Deletes snapshot policies for the account."""

    id = Param("uuid", entity=SnapshotPolicy, description="the Id of the snapshot policy")
    ids = Param("list", item_type="uuid", entity=SnapshotPolicy, description="list of snapshots policy IDs separated "
                                                                             "by comma")

    def handle(self, ctx: Context) -> Success:
        chosen = ([self.id] if self.id is not None else []) + list(self.ids or [])
        policies.delete_policies(ctx.session, ctx.caller, chosen)
        return Success()


# --- templates from volumes and snapshots, copies, extraction ---------------------------------------------------

@command("createTemplate", response=TemplateResponse, is_async=True, creates=True, event="TEMPLATE.CREATE",
         instance_type="Template", java_class=TMPL + "CreateTemplateCmd")
class CreateTemplate(Command):
    """Creates a template of a virtual machine. The virtual machine must be in a STOPPED state. A template created
    from this command is automatically designated as a private template visible to the account that created it."""

    name = Param(required=True, description="the name of the template")
    displaytext = Param(required=True, length=4096, description="The display text of the template, defaults to name")
    ostypeid = Param("uuid", entity=GuestOs, required=True, description="the ID of the OS Type that best represents "
                                                                          "the OS of this template.")
    volumeid = Param("uuid", entity=Volume, description="the ID of the disk volume the template is being created "
                                                        "from. Either this parameter, or snapshotId has to be passed "
                                                        "in")
    snapshotid = Param("uuid", entity=Snapshot, description="the ID of the snapshot the template is being created "
                                                            "from. Either this parameter, or volumeId has to be "
                                                            "passed in")
    virtualmachineid = Param("uuid", entity=VMInstance, description="Optional, VM ID")
    zoneid = Param("uuid", entity=Zone, description="the zone for the template (with snapshotid)")
    ispublic = Param("boolean", default=False, description="true if this template is a public template, false "
                                                           "otherwise")
    isfeatured = Param("boolean", default=False, description="true if this template is a featured template, false "
                                                             "otherwise")
    passwordenabled = Param("boolean", default=False, description="true if the template supports the password "
                                                                  "reset feature; default is false")
    sshkeyenabled = Param("boolean", default=False, description="true if the template supports the sshkey upload "
                                                                "feature; default is false")
    isdynamicallyscalable = Param("boolean", default=False, description="true if template contains XS/VMWare tools "
                                                                        "inorder to support dynamic scaling of VM "
                                                                        "cpu/memory")
    requireshvm = Param("boolean", default=True, description="true if the template requires HVM, false otherwise")
    bits = Param("integer", default=64, description="32 or 64 bit")
    details = Param("map", description="Template details in key/value pairs using format "
                                       "details[i].keyname=keyvalue.")

    def prepare(self, ctx: Context) -> Prepared:
        merged: dict[str, str] = {}
        for entry in self.map_list("details"):
            merged.update(entry)
        req = template_ops.TemplateRequest(
            name=self.name, display_text=self.displaytext, guest_os=self.ostypeid, volume=self.volumeid,
            snapshot=self.snapshotid, vm=self.virtualmachineid, zone=self.zoneid, is_public=self.ispublic,
            featured=self.isfeatured, password_enabled=self.passwordenabled, sshkey_enabled=self.sshkeyenabled,
            dynamically_scalable=self.isdynamicallyscalable, requires_hvm=self.requireshvm, bits=self.bits,
            details=merged or None)
        return Prepared(instance=template_ops.allocate(ctx.session, ctx.caller, req))

    def run(self, ctx: Context) -> TemplateResponse:
        template_id = _instance_id(ctx)
        template_ops.make(ctx, template_id)
        return template_ops.view(ctx.session, ctx.caller, template_id)


@command("copyTemplate", response=TemplateResponse, is_async=True, event="TEMPLATE.COPY", instance_type="Template",
         java_class=TMPL + "CopyTemplateCmd")
class CopyTemplate(Command):
    """Copies a template from one zone to another."""

    id = Param("uuid", entity=Template, required=True, description="Template ID.")
    sourcezoneid = Param("uuid", entity=Zone, description="ID of the zone the template is currently hosted on. If "
                                                          "not specified and template is cross-zone, then we will "
                                                          "sync this template to region wide image store.")
    destzoneid = Param("uuid", entity=Zone, description="ID of the zone the template is being copied to.")
    destzoneids = Param("list", item_type="uuid", entity=Zone, description="A list of IDs of the zones that the "
                                                                           "template needs to be copied to.")

    def prepare(self, ctx: Context) -> Prepared:
        template_ops.check_copy(ctx.session, ctx.caller, self.id, self.sourcezoneid, self._targets())
        return Prepared(instance=self.id)

    def _targets(self) -> list[Zone]:
        zones = ([self.destzoneid] if self.destzoneid is not None else []) + list(self.destzoneids or [])
        if not zones:
            raise InvalidParameter("Please specify a valid destination zone (destzoneid)")
        return zones

    def run(self, ctx: Context) -> TemplateResponse:
        zone = template_ops.copy(ctx, self.id.id, self.sourcezoneid, self._targets())
        return template_ops.view(ctx.session, ctx.caller, self.id.id, zone_id=zone.id)


class ExtractResponse(ResponseObject):
    object_name = "template"
    id: str
    name: str | None = None
    accountid: str | None = None
    created: str | None = None
    extractId: str | None = None
    extractMode: str | None = None
    resultstring: str | None = None
    state: str | None = None
    status: str | None = None
    storagetype: str | None = None
    uploadpercentage: int | None = None
    url: str | None = None
    zoneid: str | None = None
    zonename: str | None = None


@command("extractTemplate", response=ExtractResponse, is_async=True, event="TEMPLATE.EXTRACT",
         instance_type="Template", java_class=TMPL + "ExtractTemplateCmd")
class ExtractTemplate(Command):
    """Extracts a template"""

    id = Param("uuid", entity=Template, required=True, description="the ID of the template")
    mode = Param(required=True, description="the mode of extraction - HTTP_DOWNLOAD or FTP_UPLOAD")
    url = Param(length=2048, description="the url to which the ISO would be extracted")
    zoneid = Param("uuid", entity=Zone, description="the ID of the zone where the ISO is originally located")

    def prepare(self, ctx: Context) -> Prepared:
        template_ops.check_extract(ctx.session, ctx.caller, self.id, self.mode, self.url, self.zoneid)
        template_ops.create_url(ctx.session, ctx.caller, self.id, self.zoneid)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> ExtractResponse:
        return ExtractResponse(**template_ops.extract(ctx, self.id.id))

