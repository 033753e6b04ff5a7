"""Volumes (request side): the volume state machine, createVolume, the checks of attach/detach/resize/migrate
done before a job is queued, device ids, deleteVolume, and the accounting (limits, pool space, events).

A volume made by createVolume is a row only (Allocated, no pool) until it is first attached to a VM whose
disks are on primary storage, or the VM it is attached to starts (``management.storage.volume_orchestrate``
and the VM start path). Its ``volume`` and ``primary_storage`` limits are reserved here, atomically, in
the request; pool space is reserved when it is placed on a pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from management.compute import planner, vm_lifecycle
from management.compute.models import DiskOffering
from management.compute.vm_models import VMInstance, Volume
from management.config import service as config
from management.context import Caller
from management.db import utcnow
from management.errors import Conflict, InvalidParameter, PermissionDenied
from management.events import service as events
from management.iam.access import check_account_access, owner_for
from management.iam.models import Account, Domain
from management.infra.models import Zone
from management.limits import service as limits
from management.storage import secondary_usage
from management.storage.models import ImageStore

log = logging.getLogger(__name__)
GIB = 1 << 30
MAX_DATA_VOLUMES = 6  # CloudStack's default for a hypervisor without its own hypervisor_capabilities limit
MAX_DEVICE_ID = 15
CDROM_DEVICE_ID = 3
DISK_LETTERS = "abcdefghijklmnopqrstuvwxyz"

# CloudStack's Volume.State and the transitions we use ((state, event) -> state).
TRANSITIONS: dict[tuple[str, str], str] = {
    ("Allocated", "CreateRequested"): "Creating",
    ("Creating", "OperationSucceeded"): "Ready",
    ("Creating", "OperationFailed"): "Allocated",
    ("Uploaded", "CopyRequested"): "Copying",
    ("Copying", "OperationSucceeded"): "Ready",
    ("Copying", "OperationFailed"): "Uploaded",
    ("Ready", "ResizeRequested"): "Resizing",
    ("Resizing", "OperationSucceeded"): "Ready",
    ("Resizing", "OperationFailed"): "Ready",
    ("Ready", "MigrationRequested"): "Migrating",
    ("Migrating", "OperationSucceeded"): "Ready",
    ("Migrating", "OperationFailed"): "Ready",
    ("Ready", "AttachRequested"): "Attaching",
    ("Attaching", "OperationSucceeded"): "Ready",
    ("Attaching", "OperationFailed"): "Ready",
    ("NotUploaded", "UploadRequested"): "UploadInProgress",
    ("UploadInProgress", "OperationSucceeded"): "Uploaded",
    ("UploadInProgress", "OperationFailed"): "UploadError",
    ("Ready", "ExtractRequested"): "Ready",
}
for _state in ("Allocated", "Ready", "Uploaded", "UploadError", "UploadAbandoned", "NotUploaded"):
    TRANSITIONS[(_state, "ExpungingRequested")] = "Expunging"
TRANSITIONS[("Expunging", "OperationSucceeded")] = "Expunged"
TRANSITIONS[("Expunging", "OperationFailed")] = "Ready"


def transition(session: Session, volume: Volume, event: str, **values) -> None:
    """Move ``volume`` by ``event`` with one compare-and-set UPDATE (state and update_count)."""
    new = TRANSITIONS.get((volume.state, event))
    if new is None:
        raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: cannot {_verb(event)} it")
    done = session.execute(update(Volume).where(Volume.id == volume.id, Volume.state == volume.state,
                                                Volume.update_count == volume.update_count)
                           .values(state=new, update_count=Volume.update_count + 1, updated=utcnow(), **values)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict(f"Volume {volume.uuid} was changed by another operation; try again")
    session.refresh(volume)


def _verb(event: str) -> str:
    return {"CreateRequested": "create", "CopyRequested": "copy", "ResizeRequested": "resize",
            "MigrationRequested": "migrate", "AttachRequested": "attach", "ExpungingRequested": "delete",
            "UploadRequested": "upload", "ExtractRequested": "extract"}.get(event, event)


def fresh(session: Session, volume_id: int) -> Volume:
    return session.scalars(select(Volume).where(Volume.id == volume_id)
                           .execution_options(populate_existing=True)).one()


def target_of(device_id: int) -> str:
    """The guest device of a CloudStack device id on KVM (0 vda, 1 vdb, 2 vdc, 4 vde...; 3 is the CD-ROM)."""
    return f"vd{DISK_LETTERS[device_id]}"


def volume_source(session: Session, volume: Volume) -> tuple[str, str | None] | None:
    """What a volume not yet on a pool is copied from, as an agent reads it: (path, NFS store URL the path is
    relative to or None) of its snapshot's backup or of its uploaded image; None for an empty new volume (and
    for ROOT volumes, made on their template)."""
    if volume.snapshot_id is not None:
        from management.storage import snapshots  # the snapshots domain's contract

        path, store_url, _size = snapshots.backup_source(session, volume.snapshot_id)
        return path, store_url
    if not volume.source_path:
        return None
    from management.storage import secondary

    store = session.get(ImageStore, volume.store_id) if volume.store_id else None
    return secondary.agent_source(store, volume.source_path) if store is not None else (volume.source_path, None)


# --- access ----------------------------------------------------------------------------------------------------

def check_access(session: Session, caller: Caller, volume: Volume) -> None:
    if volume.removed is not None:
        raise InvalidParameter(f"Unable to find volume with specified id {volume.uuid}")
    check_account_access(session, caller, session.get(Account, volume.account_id))


def owner_of(session: Session, caller: Caller, account_name: str | None, domain: Domain | None) -> Account:
    return owner_for(session, caller, account_name, domain)


def _usable_zone(session: Session, caller: Caller, zone: Zone | None) -> Zone:
    if zone is None or zone.removed is not None:
        raise InvalidParameter("Please specify a valid zone (zoneid)")
    if zone.allocation_state == "Disabled" and not caller.is_root_admin:
        raise PermissionDenied(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    return zone


# --- createVolume ----------------------------------------------------------------------------------------------

@dataclass
class CreateRequest:
    name: str | None
    zone: Zone | None
    disk_offering: DiskOffering | None
    size_gb: int | None
    snapshot_uuid: str | None
    account_name: str | None
    domain: Domain | None
    display: bool = True
    min_iops: int | None = None
    max_iops: int | None = None


def size_from_offering(session: Session, offering: DiskOffering, size_gb: int | None) -> int:
    if offering.removed is not None or offering.state != "Active":
        raise InvalidParameter(f"Disk offering {offering.uuid} is not active (diskofferingid)")
    if offering.customized:
        if size_gb is None:
            raise InvalidParameter("This disk offering requires a custom size specified (size)")
        low = config.get_int(session, "custom.diskoffering.size.min")
        high = config.get_int(session, "custom.diskoffering.size.max")
        if not low <= size_gb <= high:
            raise InvalidParameter(f"Invalid size {size_gb}: volume size should be between {low} and {high} GB "
                                   "(size)")
        return size_gb * GIB
    if size_gb is not None and size_gb * GIB != offering.disk_size:
        raise InvalidParameter(f"Disk offering {offering.name} has a fixed size; size can only be given with a "
                               "custom disk offering (size)")
    return offering.disk_size


def create(session: Session, caller: Caller, req: CreateRequest) -> Volume:
    """createVolume in the request: validate, reserve the limits, and add the Allocated row."""
    if (req.disk_offering is None) == (req.snapshot_uuid is None):
        raise InvalidParameter("Either diskofferingid or snapshotid must be passed, but not both (diskofferingid, "
                               "snapshotid)")
    owner = owner_of(session, caller, req.account_name, req.domain)
    snapshot_id = None
    if req.snapshot_uuid is not None:
        from management.storage import snapshots  # the snapshots domain's contract

        snapshot = snapshots.usable_snapshot(session, caller, req.snapshot_uuid)
        _path, _store, size = snapshots.backup_source(session, snapshot.id)
        snapshot_id = snapshot.id
        zone = req.zone or session.get(Zone, getattr(snapshot, "zone_id", None) or 0)
        source = session.get(Volume, getattr(snapshot, "volume_id", None) or 0)
        offering_id = req.disk_offering.id if req.disk_offering else (source.disk_offering_id if source else None)
        if req.size_gb is not None and req.size_gb * GIB > size:
            size = req.size_gb * GIB
    else:
        zone = req.zone
        if zone is None:
            raise InvalidParameter("Please specify a zone when creating a volume from a disk offering (zoneid)")
        size = size_from_offering(session, req.disk_offering, req.size_gb)
        offering_id = req.disk_offering.id
    zone = _usable_zone(session, caller, zone)
    limits.reserve_many(session, account_id=owner.id, amounts={"volume": 1, "primary_storage": size})
    offering = session.get(DiskOffering, offering_id) if offering_id else None
    volume = Volume(name=req.name or "", volume_type="DATADISK", state="Allocated", size=size, format="QCOW2",
                    disk_offering_id=offering_id, account_id=owner.id, domain_id=owner.domain_id, zone_id=zone.id,
                    provisioning_type=offering.provisioning_type if offering else "thin", display_volume=req.display,
                    min_iops=req.min_iops, max_iops=req.max_iops, snapshot_id=snapshot_id)
    session.add(volume)
    session.flush()
    if not volume.name:
        volume.name = f"DATA-{volume.id}"
    events.record(session, caller, "VOLUME.CREATE", f"Created volume {volume.name}", resource=volume,
                  resource_type="Volume", account_id=owner.id, domain_id=owner.domain_id)
    usage(session, "VOLUME.CREATE", volume)
    return volume


def usage(session: Session, type_: str, volume: Volume) -> None:
    events.record_usage(session, type_, account_id=volume.account_id, zone_id=volume.zone_id, resource_id=volume.id,
                        resource_name=volume.name, offering_id=volume.disk_offering_id,
                        template_id=volume.template_id, size=volume.size)


def event(session: Session, caller: Caller, type_: str, text: str, volume: Volume) -> None:
    events.record(session, caller, type_, text, resource=volume, resource_type="Volume",
                  account_id=volume.account_id, domain_id=volume.domain_id)


# --- attach / detach checks --------------------------------------------------------------------------------------

def data_volumes_of(session: Session, vm_id: int) -> list[Volume]:
    return list(session.scalars(select(Volume).where(Volume.vm_id == vm_id, Volume.removed.is_(None),
                                                     Volume.volume_type == "DATADISK")))


def device_id_for(session: Session, vm: VMInstance, wanted: int | None) -> int:
    used = {v.device_id for v in session.scalars(select(Volume).where(Volume.vm_id == vm.id,
                                                                      Volume.removed.is_(None)))}
    if wanted is not None:
        if wanted <= 0 or wanted > MAX_DEVICE_ID or wanted == CDROM_DEVICE_ID:
            raise InvalidParameter(f"deviceId should be 1,2,4-{MAX_DEVICE_ID} (deviceid)")
        if wanted in used:
            raise InvalidParameter(f"deviceId {wanted} is used by vm {vm.uuid} (deviceid)")
        return wanted
    for candidate in range(1, MAX_DEVICE_ID + 1):
        if candidate != CDROM_DEVICE_ID and candidate not in used:
            return candidate
    raise InvalidParameter(f"VM {vm.uuid} has no free device id")


def check_attach(session: Session, caller: Caller, volume: Volume, vm: VMInstance, device_id: int | None) -> None:
    from management.compute import vms

    check_access(session, caller, volume)
    vms.check_access(session, caller, vm)
    if volume.volume_type != "DATADISK":
        raise InvalidParameter("Please specify a volume with the valid type: DATADISK (id)")
    if volume.vm_id is not None:
        raise InvalidParameter(f"Volume {volume.uuid} is already attached to a VM: please specify a volume that is "
                               "not attached to any VM (id)")
    if volume.state not in ("Allocated", "Ready", "Uploaded"):
        raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: volume state must be Ready, "
                               "Allocated or Uploaded (id)")
    if vm.account_id != volume.account_id:
        raise PermissionDenied(f"Unable to attach volume {volume.uuid} to VM {vm.uuid}: the volume and the VM belong "
                               "to different accounts")
    if vm.state not in ("Running", "Stopped"):
        raise InvalidParameter(f"Please specify a VM that is either running or stopped (VM {vm.uuid} is {vm.state}) "
                               "(virtualmachineid)")
    if vm.zone_id != volume.zone_id:
        raise InvalidParameter(f"Volume {volume.uuid} and VM {vm.uuid} are in different zones (virtualmachineid)")
    vm_lifecycle.run(vm_lifecycle.BUSY_CHECKS, session, vm, "attach a volume")
    if len(data_volumes_of(session, vm.id)) >= MAX_DATA_VOLUMES:
        raise InvalidParameter(f"The specified VM already has the maximum number of data disks ({MAX_DATA_VOLUMES}). "
                               "Please specify another VM. (virtualmachineid)")
    device_id_for(session, vm, device_id)


def check_detach(session: Session, caller: Caller, volume: Volume) -> VMInstance:
    check_access(session, caller, volume)
    if volume.volume_type == "ROOT":
        raise InvalidParameter("Unable to detach volume: root volumes cannot be detached (id)")
    if volume.vm_id is None:
        raise InvalidParameter(f"Volume {volume.uuid} is already detached (id)")
    vm = session.get(VMInstance, volume.vm_id)
    if vm.state not in ("Running", "Stopped", "Destroyed"):
        raise InvalidParameter(f"Please specify a VM that is either running or stopped (VM {vm.uuid} is {vm.state})")
    if volume.state != "Ready" and volume.state != "Allocated" and volume.state != "Uploaded":
        raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: it cannot be detached now")
    vm_lifecycle.run(vm_lifecycle.BUSY_CHECKS, session, vm, "detach a volume")
    return vm


def volume_at(session: Session, caller: Caller, vm: VMInstance, device_id: int) -> Volume:
    from management.compute import vms

    vms.check_access(session, caller, vm)
    volume = session.scalar(select(Volume).where(Volume.vm_id == vm.id, Volume.device_id == device_id,
                                                 Volume.removed.is_(None)))
    if volume is None:
        raise InvalidParameter(f"Unable to find a volume at device id {device_id} of VM {vm.uuid} (deviceid)")
    return volume


# --- resize / migrate checks -------------------------------------------------------------------------------------

def new_size_of(session: Session, volume: Volume, size_gb: int | None, offering: DiskOffering | None,
                shrink_ok: bool) -> int:
    if volume.state not in ("Ready", "Allocated"):
        raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: a volume should be in Ready or "
                               "Allocated state to be resized (id)")
    if offering is not None:
        new = size_from_offering(session, offering, size_gb)
    elif size_gb is not None:
        current = session.get(DiskOffering, volume.disk_offering_id) if volume.disk_offering_id else None
        if current is not None and not current.customized and volume.volume_type == "DATADISK":
            raise InvalidParameter("To change a volume's size without providing a new disk offering, its current "
                                   "disk offering must be customizable or it must be a root volume (size)")
        if size_gb <= 0:
            raise InvalidParameter("The new size of the volume must be larger than 0 (size)")
        new = size_gb * GIB
    else:
        raise InvalidParameter("Please specify the new size (size) or a new disk offering (diskofferingid)")
    if new < volume.size and not shrink_ok:
        raise InvalidParameter(f"Going from existing size of {volume.size} to size of {new} would shrink the volume. "
                               "Need to sign off by supplying the shrinkok parameter with value of true. (size)")
    if volume.vm_id is not None:
        vm = volume.vm_id and session.get(VMInstance, volume.vm_id)
        if vm.state not in ("Running", "Stopped"):
            raise InvalidParameter(f"VM {vm.uuid} is {vm.state}: it must be Running or Stopped to resize its volumes")
        vm_lifecycle.run(vm_lifecycle.BUSY_CHECKS, session, vm, "resize its volumes")
        if new < volume.size and vm.state == "Running":
            raise InvalidParameter("Shrinking a volume of a running VM is not supported: stop the VM first (size)")
    return new


def check_migrate(session: Session, caller: Caller, volume: Volume, pool) -> None:
    check_access(session, caller, volume)
    if pool.removed is not None or pool.status != "Up":
        raise InvalidParameter(f"Storage pool {pool.uuid} is not Up (storageid)")
    if volume.state != "Ready" or volume.pool_id is None:
        raise InvalidParameter(f"Volume {volume.uuid} must be in Ready state on a storage pool to be migrated "
                               f"(it is {volume.state}) (volumeid)")
    if volume.pool_id == pool.id:
        raise InvalidParameter(f"Volume {volume.uuid} is already on storage pool {pool.name} (storageid)")
    if pool.zone_id != volume.zone_id:
        raise InvalidParameter(f"Storage pool {pool.uuid} is in another zone than volume {volume.uuid} (storageid)")
    if volume.vm_id is not None:
        vm = session.get(VMInstance, volume.vm_id)
        if vm.state != "Stopped":
            raise InvalidParameter(f"Volume {volume.uuid} is attached to VM {vm.uuid}, which is {vm.state}: live "
                                   "migration of volumes is not supported on this hypervisor; stop the VM first")
        vm_lifecycle.run(vm_lifecycle.BUSY_CHECKS, session, vm, "migrate its volumes")
        root = session.scalar(select(Volume).where(Volume.vm_id == vm.id, Volume.volume_type == "ROOT",
                                                   Volume.removed.is_(None)))
        from management.storage.models import StoragePool

        root_pool = session.get(StoragePool, root.pool_id) if root and root.pool_id else None
        if root_pool is not None and pool.scope == "CLUSTER" and root_pool.scope == "CLUSTER" and \
                pool.cluster_id != root_pool.cluster_id:
            raise InvalidParameter(f"Storage pool {pool.name} is not reachable from the cluster of VM {vm.uuid}'s "
                                   "root volume (storageid)")


# --- deleteVolume ----------------------------------------------------------------------------------------------

def check_delete(session: Session, caller: Caller, volume: Volume) -> None:
    check_access(session, caller, volume)
    if volume.volume_type == "ROOT":
        raise InvalidParameter("Unable to delete a ROOT volume: destroy its VM instead (id)")
    if volume.vm_id is not None:
        raise InvalidParameter("Please specify a volume that is not attached to any VM. (id)")
    if volume.state not in ("Allocated", "Ready", "Uploaded", "UploadError", "UploadAbandoned", "NotUploaded"):
        raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: it cannot be deleted now (id)")


def forget(session: Session, caller: Caller | None, volume: Volume, *, release_limits: bool = True) -> None:
    """The volume's file is gone: give back its pool space and limits, mark the row removed, record it."""
    if volume.pool_id is not None:
        planner.release_pool(session, volume.pool_id, volume.size)
    if release_limits:
        limits.release(session, account_id=volume.account_id, resource="volume", amount=1)
        limits.release(session, account_id=volume.account_id, resource="primary_storage", amount=volume.size)
        secondary_usage.release_upload(session, volume)
    now = utcnow()
    session.execute(update(Volume).where(Volume.id == volume.id).values(
        state="Expunged", removed=now, last_pool_id=volume.pool_id, pool_id=None, vm_id=None, device_id=None,
        update_count=Volume.update_count + 1, updated=now).execution_options(synchronize_session=False))
    if caller is not None:
        event(session, caller, "VOLUME.DELETE", f"Deleted volume {volume.name}", volume)
    usage(session, "VOLUME.DELETE", volume)


def counted_volumes(session: Session, account_id: int) -> int:
    return session.scalar(select(func.count(Volume.id)).where(Volume.account_id == account_id,
                                                              Volume.removed.is_(None))) or 0


def volume_ids(session: Session, vm: VMInstance, uuids: list[str] | None) -> list[int]:
    """destroyVirtualMachine ``volumeids``: data volumes of the VM destroyed with it."""
    found = []
    for uuid in uuids or []:
        volume = session.scalar(select(Volume).where(Volume.uuid == uuid.strip().lower(), Volume.removed.is_(None)))
        if volume is None or volume.vm_id != vm.id or volume.volume_type != "DATADISK":
            raise InvalidParameter(f"Volume {uuid} is not a data volume attached to VM {vm.uuid} (volumeids)")
        found.append(volume.id)
    return found
