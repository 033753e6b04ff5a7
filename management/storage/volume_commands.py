"""Volume commands: createVolume, attachVolume, detachVolume, resizeVolume, deleteVolume, migrateVolume,
uploadVolume, extractVolume, listVolumes; and the download door of extracted volumes (``/userdata/...``)."""

from __future__ import annotations

import uuid

from anyio import to_thread
from fastapi.responses import FileResponse, PlainTextResponse, Response
from sqlalchemy import or_, select

from management.api.native.params import Param
from management.api.native.registry import (
    ADMINS,
    Command,
    ListDomainResourcesCommand,
    ListResult,
    Prepared,
    Success,
    command,
)
from management.api.native.router import router
from management.compute.models import DiskOffering, ServiceOffering
from management.compute.vm_models import VMInstance, Volume
from management.config import service as config
from management.context import Context
from management.errors import InvalidParameter
from management.iam import access
from management.iam.models import Domain
from management.infra.models import Cluster, Host, Pod, Zone
from management.jobs.models import AsyncJob
from management.pagination import page
from management.settings import get_settings
from management.storage import volume_hooks, volume_upload, volumes  # noqa: F401  (volume_hooks registers)
from management.storage import volume_orchestrate as orchestrate
from management.storage.models import StoragePool
from management.storage.volume_responses import ExtractResponse, VolumeResponse, volume_views
from management.tags import service as tag_service

VOLUME = "Volume"
USER = "org.apache.cloudstack.api.command.user.volume."
ADMIN = "org.apache.cloudstack.api.command.admin.volume."
EXTRACT_BASE = "_extractbase"  # set in the request: where this server is reached (the job builds the URL)


def _view(ctx: Context, volume_id: int) -> VolumeResponse:
    return volume_views(ctx.session, ctx.caller, [volumes.fresh(ctx.session, volume_id)])[0]


def _job_instance(ctx: Context) -> int:
    return ctx.session.get(AsyncJob, ctx.job_id).instance_id


@command("createVolume", response=VolumeResponse, is_async=True, creates=True, event="VOLUME.CREATE",
         instance_type=VOLUME, java_class=USER + "CreateVolumeCmd")
class CreateVolume(Command):
    """Creates a disk volume from a disk offering. This disk volume must still be attached to a virtual machine
    to make use of it."""

    name = Param(description="the name of the disk volume")
    zoneid = Param("uuid", entity=Zone, description="the ID of the availability zone")
    diskofferingid = Param("uuid", entity=DiskOffering, description="the ID of the disk offering. Either "
                                                                     "diskOfferingId or snapshotId must be passed in.")
    size = Param("long", description="Arbitrary volume size (GB)")
    snapshotid = Param(description="the snapshot ID for the disk volume. Either diskOfferingId or snapshotId must "
                                   "be passed in.")
    virtualmachineid = Param("uuid", entity=VMInstance, description="the ID of the virtual machine; to be used with "
                                                                    "snapshot Id, VM to which the volume gets "
                                                                    "attached after creation")
    account = Param(description="the account associated with the disk volume. Must be used with the domainId "
                                "parameter.")
    domainid = Param("uuid", entity=Domain, description="the domain ID associated with the disk offering.")
    displayvolume = Param("boolean", default=True, description="an optional field, whether to display the volume "
                                                               "to the end user or not.")
    miniops = Param("long", min=0, description="min iops")
    maxiops = Param("long", min=0, description="max iops")
    customid = Param(description="an optional field, in case you want to set a custom id to the resource.")

    def prepare(self, ctx: Context) -> Prepared:
        req = volumes.CreateRequest(name=self.name, zone=self.zoneid, disk_offering=self.diskofferingid,
                                    size_gb=self.size, snapshot_uuid=self.snapshotid, account_name=self.account,
                                    domain=self.domainid, display=self.displayvolume, min_iops=self.miniops,
                                    max_iops=self.maxiops)
        volume = volumes.create(ctx.session, ctx.caller, req)
        if self.virtualmachineid is not None:
            volumes.check_attach(ctx.session, ctx.caller, volume, self.virtualmachineid, None)
        return Prepared(instance=volume)

    def run(self, ctx: Context) -> VolumeResponse:
        volume_id = _job_instance(ctx)
        if self.virtualmachineid is not None:
            orchestrate.attach(ctx, volume_id, self.virtualmachineid.id, None)
        return _view(ctx, volume_id)


@command("attachVolume", response=VolumeResponse, is_async=True, event="VOLUME.ATTACH", instance_type=VOLUME,
         java_class=USER + "AttachVolumeCmd")
class AttachVolume(Command):
    """Attaches a disk volume to a virtual machine."""

    id = Param("uuid", entity=Volume, required=True, description="the ID of the disk volume")
    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="the ID of the virtual machine")
    deviceid = Param("long", description="The ID of the device to map the volume to the guest OS. If no deviceID is "
                                         "informed, the next available deviceID will be chosen.")

    def prepare(self, ctx: Context) -> Prepared:
        volumes.check_attach(ctx.session, ctx.caller, self.id, self.virtualmachineid, self.deviceid)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> VolumeResponse:
        orchestrate.attach(ctx, self.id.id, self.virtualmachineid.id, self.deviceid)
        return _view(ctx, self.id.id)


@command("detachVolume", response=VolumeResponse, is_async=True, event="VOLUME.DETACH", instance_type=VOLUME,
         java_class=USER + "DetachVolumeCmd")
class DetachVolume(Command):
    """Detaches a disk volume from a virtual machine."""

    id = Param("uuid", entity=Volume, description="the ID of the disk volume")
    virtualmachineid = Param("uuid", entity=VMInstance, description="the ID of the virtual machine where the volume "
                                                                    "is detached from")
    deviceid = Param("long", description="the device ID on the virtual machine where volume is detached from")

    def validate(self) -> None:
        if self.id is None and (self.virtualmachineid is None or self.deviceid is None):
            raise InvalidParameter("Please provide either a volume id (id), or the tuple (virtualmachineid, "
                                   "deviceid)")
        if self.id is not None and (self.virtualmachineid is not None or self.deviceid is not None):
            raise InvalidParameter("Please provide either a volume id (id), or the tuple (virtualmachineid, "
                                   "deviceid), not both")

    def _volume(self, ctx: Context) -> Volume:
        if self.id is not None:
            return self.id
        return volumes.volume_at(ctx.session, ctx.caller, self.virtualmachineid, self.deviceid)

    def prepare(self, ctx: Context) -> Prepared:
        volume = self._volume(ctx)
        volumes.check_detach(ctx.session, ctx.caller, volume)
        return Prepared(instance=volume)

    def run(self, ctx: Context) -> VolumeResponse:
        volume_id = self._volume(ctx).id
        orchestrate.detach(ctx, volume_id)
        return _view(ctx, volume_id)


@command("resizeVolume", response=VolumeResponse, is_async=True, event="VOLUME.RESIZE", instance_type=VOLUME,
         java_class=USER + "ResizeVolumeCmd")
class ResizeVolume(Command):
    """Resizes a volume"""

    id = Param("uuid", entity=Volume, required=True, description="the ID of the disk volume")
    size = Param("long", description="New volume size in GB")
    diskofferingid = Param("uuid", entity=DiskOffering, description="new disk offering id")
    shrinkok = Param("boolean", default=False, description="Verify OK to Shrink")
    miniops = Param("long", min=0, description="New minimum number of IOPS")
    maxiops = Param("long", min=0, description="New maximum number of IOPS")

    def _new_size(self, ctx: Context) -> int:
        return volumes.new_size_of(ctx.session, self.id, self.size, self.diskofferingid, bool(self.shrinkok))

    def prepare(self, ctx: Context) -> Prepared:
        volumes.check_access(ctx.session, ctx.caller, self.id)
        self._new_size(ctx)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> VolumeResponse:
        new_size = self._new_size(ctx)
        if new_size != self.id.size or self.diskofferingid is not None:
            orchestrate.resize(ctx, self.id.id, new_size, self.diskofferingid.id if self.diskofferingid else None,
                               bool(self.shrinkok))
        return _view(ctx, self.id.id)


@command("deleteVolume", java_class=USER + "DeleteVolumeCmd")
class DeleteVolume(Command):
    """Deletes a detached disk volume."""

    id = Param("uuid", entity=Volume, required=True, description="The ID of the disk volume")

    def handle(self, ctx: Context) -> Success:
        orchestrate.delete(ctx.session, ctx.caller, self.id)
        return Success()


@command("migrateVolume", response=VolumeResponse, is_async=True, event="VOLUME.MIGRATE", instance_type=VOLUME,
         roles=ADMINS, java_class=USER + "MigrateVolumeCmd")
class MigrateVolume(Command):
    """Migrate volume"""

    volumeid = Param("uuid", entity=Volume, required=True, description="the ID of the volume")
    storageid = Param("uuid", entity=StoragePool, required=True, description="destination storage pool ID to "
                                                                             "migrate the volume to")
    livemigrate = Param("boolean", default=False, description="if the volume should be live migrated when it is "
                                                              "attached to a running vm")
    newdiskofferingid = Param("uuid", entity=DiskOffering, description="The new disk offering ID that replaces the "
                                                                       "current one used by the volume.")

    def prepare(self, ctx: Context) -> Prepared:
        volumes.check_migrate(ctx.session, ctx.caller, self.volumeid, self.storageid)
        return Prepared(instance=self.volumeid)

    def run(self, ctx: Context) -> VolumeResponse:
        orchestrate.migrate(ctx, self.volumeid.id, self.storageid.id)
        if self.newdiskofferingid is not None:
            volume = volumes.fresh(ctx.session, self.volumeid.id)
            volume.disk_offering_id = self.newdiskofferingid.id
            ctx.session.flush()
        return _view(ctx, self.volumeid.id)


@command("uploadVolume", response=VolumeResponse, is_async=True, event="VOLUME.UPLOAD", instance_type=VOLUME,
         java_class=USER + "UploadVolumeCmd")
class UploadVolume(Command):
    """Uploads a data disk."""

    name = Param(required=True, description="the name of the volume")
    zoneid = Param("uuid", entity=Zone, required=True, description="the ID of the zone the volume is to be hosted on")
    url = Param(required=True, length=2048, description="the URL of where the volume is hosted. Possible URL include "
                                                        "http:// and https://")
    format = Param(required=True, description="the format for the volume. Possible values include QCOW2, OVA, and "
                                              "VHD.")
    checksum = Param(description="the checksum value of this volume.")
    diskofferingid = Param("uuid", entity=DiskOffering, description="the ID of the disk offering. This must be a "
                                                                     "custom sized offering since during "
                                                                     "uploadVolume volume size is unknown.")
    account = Param(description="an optional accountName. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId. If the account parameter is used, "
                                                        "domainId must also be used.")

    def prepare(self, ctx: Context) -> Prepared:
        volume = volume_upload.create(ctx.session, ctx.caller, name=self.name, zone=self.zoneid, url=self.url,
                                      fmt=self.format, checksum=self.checksum, disk_offering=self.diskofferingid,
                                      account_name=self.account, domain=self.domainid)
        return Prepared(instance=volume)

    def run(self, ctx: Context) -> VolumeResponse:
        volume_id = _job_instance(ctx)
        volume_upload.run(ctx, volume_id)
        return _view(ctx, volume_id)


@command("extractVolume", response=ExtractResponse, is_async=True, event="VOLUME.EXTRACT", instance_type=VOLUME,
         java_class=USER + "ExtractVolumeCmd")
class ExtractVolume(Command):
    """Extracts volume"""

    id = Param("uuid", entity=Volume, required=True, description="the ID of the volume")
    zoneid = Param("uuid", entity=Zone, required=True, description="the ID of the zone where the volume is located")
    mode = Param(required=True, description="the mode of extraction - HTTP_DOWNLOAD or FTP_UPLOAD")
    url = Param(length=2048, description="the url to which the volume would be extracted")

    def prepare(self, ctx: Context) -> Prepared:
        volume = self.id
        volumes.check_access(ctx.session, ctx.caller, volume)
        if self.mode.upper() != "HTTP_DOWNLOAD":
            raise InvalidParameter(f"Please specify a valid extract Mode: HTTP_DOWNLOAD is supported, not {self.mode} "
                                   "(mode)")
        if volume.zone_id != self.zoneid.id:
            raise InvalidParameter(f"Volume {volume.uuid} is not in zone {self.zoneid.uuid} (zoneid)")
        if volume.state not in ("Ready", "Uploaded"):
            raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: it must be Ready or Uploaded to "
                                   "be extracted (id)")
        if volume.vm_id is not None:
            vm = ctx.session.get(VMInstance, volume.vm_id)
            if vm.state != "Stopped":
                raise InvalidParameter(f"Volume {volume.uuid} is attached to VM {vm.uuid}, which is {vm.state}: stop "
                                       "the VM to extract its volume (id)")
        self.raw[EXTRACT_BASE] = _base_url(ctx)
        return Prepared(instance=volume)

    def run(self, ctx: Context) -> ExtractResponse:
        volume = orchestrate.extract(ctx, self.id.id)
        zone = ctx.session.get(Zone, volume.zone_id)
        from management.iam.models import Account

        account = ctx.session.get(Account, volume.account_id)
        base = self.raw.get(EXTRACT_BASE) or _base_url(ctx)
        extract_id = str(uuid.uuid5(uuid.NAMESPACE_URL, volume.extract_token))
        return ExtractResponse(id=volume.uuid, name=volume.name, extractId=extract_id,
                               status="DOWNLOAD_URL_CREATED", storagetype="Image", uploadpercentage=100,
                               url=f"{base}/userdata/{volume.extract_token}/{volume.uuid}.qcow2",
                               zoneid=zone.uuid, zonename=zone.name, accountid=account.uuid if account else None,
                               created=None, resultstring=None)


def _base_url(ctx: Context) -> str:
    settings = get_settings()
    host = config.get_value(ctx.session, "host")
    if not host or host == "localhost":
        host = settings.bind if settings.bind not in (None, "", "0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.port}"


@router.get("/userdata/{token}/{filename}", include_in_schema=False)
async def download_extracted(token: str, filename: str) -> Response:
    found = await to_thread.run_sync(orchestrate.extracted_file, token)
    if found is None or filename != found[1]:
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(found[0], filename=found[1], media_type="application/octet-stream")


@command("listVolumes", response=VolumeResponse, list_key="volume", java_class=USER + "ListVolumesCmd")
class ListVolumes(ListDomainResourcesCommand):
    """Lists all volumes."""

    id = Param("uuid", entity=Volume, description="the ID of the disk volume")
    ids = Param("list", item_type="uuid", entity=Volume, description="the IDs of the volumes, mutually exclusive "
                                                                     "with id")
    name = Param(description="the name of the disk volume")
    type = Param(description="the type of disk volume")
    state = Param(description="state of the volume. Possible values are: Ready, Allocated, Destroy, Expunging, "
                              "Expunged.")
    virtualmachineid = Param("uuid", entity=VMInstance, description="the ID of the virtual machine")
    zoneid = Param("uuid", entity=Zone, description="the ID of the availability zone")
    podid = Param("uuid", entity=Pod, admin_only=True, description="the pod id the disk volume belongs to")
    clusterid = Param("uuid", entity=Cluster, admin_only=True, description="the cluster id the disk volume belongs "
                                                                           "to")
    hostid = Param("uuid", entity=Host, admin_only=True, description="list volumes on specified host")
    storageid = Param("uuid", entity=StoragePool, admin_only=True, description="the ID of the storage pool, available "
                                                                               "to ROOT admin only")
    diskofferingid = Param("uuid", entity=DiskOffering, description="list volumes by disk offering")
    serviceofferingid = Param("uuid", entity=ServiceOffering, description="list volumes by disk offering of a "
                                                                          "service offering")
    displayvolume = Param("boolean", description="list resources by display flag; only ROOT admin is eligible to "
                                                 "pass this parameter")
    listsystemvms = Param("boolean", default=False, description="list system VMs; only ROOT admin is eligible to "
                                                                "pass this parameter")
    tags = Param("map", description="List resources by tags (key/value pairs)")

    def handle(self, ctx: Context) -> ListResult:
        by_id = self.id is not None or bool(self.ids)
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=by_id)
        query = select(Volume).where(scope.where(Volume.account_id, Volume.domain_id), Volume.removed.is_(None))
        if self.id is not None:
            query = query.where(Volume.id == self.id.id)
        if self.ids:
            query = query.where(Volume.id.in_([v.id for v in self.ids]))
        if self.name:
            query = query.where(Volume.name == self.name)
        if self.type:
            query = query.where(Volume.volume_type == self.type.upper())
        if self.state:
            query = query.where(Volume.state == self.state)
        for column, value in ((Volume.vm_id, self.virtualmachineid), (Volume.zone_id, self.zoneid),
                              (Volume.pool_id, self.storageid), (Volume.disk_offering_id, self.diskofferingid)):
            if value is not None:
                query = query.where(column == value.id)
        if self.podid is not None:
            query = query.where(Volume.pod_id == self.podid.id)
        if self.clusterid is not None:
            query = query.where(Volume.pool_id.in_(select(StoragePool.id).where(
                StoragePool.cluster_id == self.clusterid.id)))
        if self.hostid is not None:
            query = query.where(Volume.vm_id.in_(select(VMInstance.id).where(VMInstance.host_id == self.hostid.id)))
        if self.serviceofferingid is not None:
            query = query.where(Volume.vm_id.in_(select(VMInstance.id).where(
                VMInstance.service_offering_id == self.serviceofferingid.id)), Volume.volume_type == "ROOT")
        if self.displayvolume is not None and ctx.caller.is_root_admin:
            query = query.where(Volume.display_volume.is_(self.displayvolume))
        elif not ctx.caller.is_admin:
            query = query.where(Volume.display_volume.is_(True))
        if self.keyword:
            like = f"%{self.keyword}%"
            query = query.where(or_(Volume.name.like(like), Volume.state.like(like)))
        query = tag_service.filtered(query, "Volume", Volume.id, self.map_list("tags"))
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(Volume.id), offset, limit)
        return ListResult(volume_views(ctx.session, ctx.caller, rows), total)
