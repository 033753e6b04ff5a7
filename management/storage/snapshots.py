"""Volume snapshots: take (on the host, backed up to secondary storage, host side cleaned), list, delete,
revert; limits (snapshot, secondary_storage) and events.

``usable_snapshot`` and ``backup_source`` are the contract with the volumes domain (createVolume from a
snapshot): an access-checked BackedUp snapshot, and a path an agent's ``CopyImage`` can read plus the
volume's virtual size.

Where a backup lives: ``snapshots/<account id>/<volume id>/<snapshot uuid>.qcow2`` under the image store of
the volume's zone: a Local store (a directory of this machine, for a single-box install) or an NFS store,
which the host writing the backup mounts itself (``secondary.agent_source``) and this node mounts to delete
or copy what is there (``secondary.node_path``).

The host takes the snapshot, copies it and removes its host-side snapshot in one agent command
(``BackupSnapshot``): a running libvirt domain must not be left writing to a temporary overlay between two
commands (a stop in between would lose the guest's writes), so the intermediate CloudStack states
CreatedOnPrimary/BackingUp are not separately visible: a snapshot goes Allocated -> Creating -> BackedUp (or
Error). Destroyed snapshots keep their row with ``removed`` set.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from agent.protocol_snapshots import BackupSnapshot, RevertSnapshot
from management.compute import vm_lifecycle
from management.compute.vm_models import VMInstance, Volume
from management.compute.vm_tx import agent_call, on_rollback, step
from management.config import service as config
from management.context import Caller, Context
from management.db import db, utcnow
from management.errors import CloudError, Conflict, InvalidParameter, ResourceUnavailable
from management.events import service as events
from management.iam.access import Scope, check_account_access
from management.iam.models import Account
from management.infra.models import Host
from management.limits import service as limits
from management.storage import secondary
from management.storage.models import ImageStore, StoragePool
from management.storage.snapshot_models import (
    INTERVALS,
    TYPE_NUMBERS,
    Snapshot,
    SnapshotPolicy,
    SnapshotState,
    SnapshotStoreRef,
)
from management.tags import service as tag_service

log = logging.getLogger(__name__)
SNAPSHOT_CAPABLE = ("KVM", "Simulator")
BACKUP_TIMEOUT = 6 * 3600
LIVE = (SnapshotState.ALLOCATED, SnapshotState.CREATING, SnapshotState.CREATED_ON_PRIMARY,
        SnapshotState.BACKING_UP, SnapshotState.BACKED_UP, SnapshotState.COPYING)


# --- the contract with the volumes domain --------------------------------------------------------------------

def usable_snapshot(session: Session, caller: Caller, snapshot_uuid: str) -> Snapshot:
    """The BackedUp snapshot ``snapshot_uuid`` if ``caller`` may use it; InvalidParameter naming snapshotid
    otherwise (unknown, removed, not backed up, or another account's)."""
    snapshot = session.scalar(select(Snapshot).where(Snapshot.uuid == str(snapshot_uuid)))
    if snapshot is None or snapshot.removed is not None:
        raise InvalidParameter(f"Unable to find a snapshot with the specified id (snapshotid={snapshot_uuid})")
    check_account_access(session, caller, session.get(Account, snapshot.account_id))
    if snapshot.status != SnapshotState.BACKED_UP:
        raise InvalidParameter(f"Snapshot {snapshot.uuid} is {snapshot.status}, not BackedUp: it cannot be used "
                               "(snapshotid)")
    return snapshot


def backup_source(session: Session, snapshot_id: int) -> tuple[str, str | None, int]:
    """(path of the snapshot's backup for an agent, the NFS store URL that path is relative to or None, virtual
    size of the volume in bytes)."""
    snapshot = session.get(Snapshot, snapshot_id)
    ref, store = _backup(session, snapshot_id)
    if snapshot is None or ref is None:
        raise InvalidParameter(f"Snapshot {getattr(snapshot, 'uuid', snapshot_id)} has no backup on secondary "
                               "storage (snapshotid)")
    path, store_url = secondary.agent_source(store, ref.install_path)
    return path, store_url, ref.size or snapshot.size


def backup_file(session: Session, snapshot_id: int) -> str:
    """The snapshot's backup file on this node (an NFS store is mounted here first)."""
    ref, store = _backup(session, snapshot_id)
    if ref is None:
        raise InvalidParameter(f"Snapshot {snapshot_id} has no backup on secondary storage (snapshotid)")
    return store_file(store, ref.install_path)


# --- helpers ------------------------------------------------------------------------------------------------

def store_file(store: ImageStore, install_path: str | None) -> str:
    """A file of an image store on this node (an NFS store is mounted here first; ResourceUnavailable when it
    cannot be)."""
    return str(secondary.node_path(store, install_path))


def remove_store_file(store: ImageStore | None, install_path: str | None) -> None:
    """Remove a file (and its ``.part``) from an image store; an unreachable store is logged, and the storage
    cleanup removes the file later (no row points at it any more)."""
    if store is None or not install_path:
        return
    try:
        path = store_file(store, install_path)
    except CloudError as error:
        log.warning("could not remove %s from image store %s: %s", install_path, store.name, error.message)
        return
    _remove_file(path)


def _backup(session: Session, snapshot_id: int) -> tuple[SnapshotStoreRef | None, ImageStore | None]:
    row = session.execute(select(SnapshotStoreRef, ImageStore).join(ImageStore, ImageStore.id == SnapshotStoreRef.store_id)
                          .where(SnapshotStoreRef.snapshot_id == snapshot_id, SnapshotStoreRef.store_role == "Image",
                                 SnapshotStoreRef.state != "Destroyed")).first()
    return (row[0], row[1]) if row else (None, None)


def transition(session: Session, snapshot: Snapshot, to: str, *, expected: tuple[str, ...], **values) -> None:
    """Compare-and-set the snapshot's state; Conflict when another actor moved it first."""
    done = session.execute(update(Snapshot).where(Snapshot.id == snapshot.id, Snapshot.status.in_(expected),
                                                  Snapshot.update_count == snapshot.update_count)
                           .values(status=to, update_count=Snapshot.update_count + 1, **values)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict(f"Snapshot {snapshot.uuid} changed state while being updated (it was {snapshot.status})")
    session.refresh(snapshot)


def _fresh(session: Session, model, row_id: int):
    return session.get(model, row_id, populate_existing=True)


def image_store_for(session: Session, zone_id: int) -> ImageStore:
    """The Local image store of the zone that backups go to."""
    from management.storage import images

    stores = images.zone_stores(session, zone_id)
    if not stores:
        raise ResourceUnavailable("No secondary storage (image store) in the zone to back the snapshot up to")
    return stores[0]


def _hypervisor(session: Session, volume: Volume) -> str | None:
    if volume.vm_id is not None:
        vm = session.get(VMInstance, volume.vm_id)
        if vm is not None and vm.hypervisor_type:
            return vm.hypervisor_type
    pool = session.get(StoragePool, volume.pool_id) if volume.pool_id else None
    if pool is not None and pool.hypervisor:
        return pool.hypervisor
    if pool is not None and pool.cluster_id:
        host = session.scalar(select(Host).where(Host.cluster_id == pool.cluster_id, Host.removed.is_(None)).limit(1))
        return host.hypervisor_type if host else None
    return None


def host_for_volume(session: Session, volume: Volume) -> tuple[Host, VMInstance | None]:
    """The host that runs the volume's VM, or an Up host that reaches the volume's pool (stopped VM, detached
    volume); ResourceUnavailable with the reason otherwise."""
    vm = session.get(VMInstance, volume.vm_id) if volume.vm_id else None
    if vm is not None and vm.host_id is not None and vm.state in ("Running", "Starting", "Stopping", "Migrating"):
        host = session.get(Host, vm.host_id)
        if host is None or host.status != "Up":
            raise ResourceUnavailable(f"Unable to take a snapshot of volume {volume.uuid}: the host of VM "
                                      f"{vm.instance_name} ({host.name if host else vm.host_id}) is "
                                      f"{host.status if host else 'gone'}")
        return host, vm
    pool = session.get(StoragePool, volume.pool_id) if volume.pool_id else None
    if pool is None:
        raise InvalidParameter(f"Volume {volume.uuid} is not on primary storage yet (volumeid)")
    from management.storage import pool_hosts

    host = next(iter(pool_hosts.reaching(session, pool, enabled_only=True)), None)
    if host is None:
        raise ResourceUnavailable(f"Unable to take a snapshot of volume {volume.uuid}: no host that reaches storage "
                                  f"pool {pool.name} is Up")
    return host, vm


# --- create -------------------------------------------------------------------------------------------------

@dataclass
class SnapshotRequest:
    volume: Volume
    name: str | None = None
    policy: SnapshotPolicy | None = None


def allocate(session: Session, caller: Caller, req: SnapshotRequest) -> Snapshot:
    """The request half of createSnapshot: validate, reserve the limits, write the Allocated row."""
    volume = req.volume
    if volume.removed is not None or volume.state in ("Destroy", "Expunging", "Expunged"):
        raise InvalidParameter(f"Unable to find a volume with the specified id (volumeid={volume.uuid})")
    owner = session.get(Account, volume.account_id)
    check_account_access(session, caller, owner)
    if volume.volume_type not in ("ROOT", "DATADISK"):
        raise InvalidParameter(f"Volume {volume.uuid} is of type {volume.volume_type}: only ROOT and DATADISK "
                               "volumes can be snapshotted (volumeid)")
    if volume.state != "Ready":
        raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}, not Ready: it cannot be "
                               "snapshotted (volumeid)")
    if volume.pool_id is None:
        raise InvalidParameter(f"Volume {volume.uuid} is not on primary storage yet (volumeid)")
    hypervisor = _hypervisor(session, volume)
    if hypervisor not in SNAPSHOT_CAPABLE:
        raise InvalidParameter(f"Volume snapshots are not supported on hypervisor {hypervisor} (volumeid)")
    host, vm = host_for_volume(session, volume)
    if vm is not None and vm.state in ("Starting", "Stopping", "Migrating"):
        raise InvalidParameter(f"VM {vm.instance_name} of volume {volume.uuid} is {vm.state}: try again when it is "
                               "Running or Stopped (volumeid)")
    if (vm is not None and vm.state == "Running" and host.hypervisor_type == "KVM"
            and not config.get_bool(session, "kvm.snapshot.enabled")):
        raise InvalidParameter("KVM snapshots of volumes of running VMs are disabled: set kvm.snapshot.enabled "
                               "to true, or stop the VM (volumeid)")
    busy = session.scalar(select(Snapshot.id).where(Snapshot.volume_id == volume.id, Snapshot.removed.is_(None),
                                                    Snapshot.status.in_((SnapshotState.ALLOCATED,
                                                                         SnapshotState.CREATING))))
    if busy is not None:
        raise InvalidParameter(f"There is another snapshot of volume {volume.uuid} in progress (volumeid)")
    store = image_store_for(session, volume.zone_id)
    limits.reserve_many(session, account_id=owner.id, amounts={"snapshot": 1, "secondary_storage": volume.size})
    kind = INTERVALS[req.policy.interval] if req.policy is not None else "MANUAL"
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    name = (req.name or "").strip() or f"{_vm_name(vm) or 'detached'}_{volume.name}_{stamp}"
    snapshot = Snapshot(name=name[:255], zone_id=volume.zone_id, account_id=owner.id, domain_id=owner.domain_id,
                        volume_id=volume.id, disk_offering_id=volume.disk_offering_id,
                        snapshot_type=TYPE_NUMBERS[kind], type_description=kind, size=volume.size,
                        hypervisor_type=hypervisor, policy_id=req.policy.id if req.policy else None,
                        location_type="SECONDARY", status=SnapshotState.ALLOCATED)
    session.add(snapshot)
    session.flush()
    session.add(SnapshotStoreRef(snapshot_id=snapshot.id, store_id=store.id, zone_id=volume.zone_id,
                                 volume_id=volume.id, state="Allocated", size=volume.size,
                                 install_path=f"snapshots/{owner.id}/{volume.id}/{snapshot.uuid}.qcow2"))
    session.flush()
    return snapshot


def _vm_name(vm: VMInstance | None) -> str | None:
    return vm.instance_name if vm is not None else None


def take(ctx: Context, snapshot_id: int) -> None:
    """The worker half: the host takes the snapshot, copies it to the image store and cleans up."""
    on_rollback(ctx.session, partial(fail_snapshot, snapshot_id))
    with step(ctx) as s:
        snapshot = _fresh(s, Snapshot, snapshot_id)
        volume = _fresh(s, Volume, snapshot.volume_id)
        moved = s.execute(update(Volume).where(Volume.id == volume.id, Volume.state == "Ready")
                          .values(state="Snapshotting", update_count=Volume.update_count + 1)
                          .execution_options(synchronize_session=False))
        if moved.rowcount != 1:
            raise ResourceUnavailable(f"Volume {volume.uuid} is {volume.state}, not Ready: cannot snapshot it now")
        transition(s, snapshot, SnapshotState.CREATING, expected=(SnapshotState.ALLOCATED,))
        s.execute(update(SnapshotStoreRef).where(SnapshotStoreRef.snapshot_id == snapshot_id)
                  .values(state="Creating", last_updated=utcnow()))
        host, vm = host_for_volume(s, volume)
        ref, store = _backup(s, snapshot_id)
        destination, store_url = secondary.agent_source(store, ref.install_path)
        command = BackupSnapshot(volume_path=volume.path, vm_name=vm.instance_name if vm and vm.host_id else None,
                                 snapshot_name=f"snap-{snapshot.uuid[:8]}", destination=destination,
                                 store_url=store_url, size_bytes=volume.size)
    answer = agent_call(host, command, timeout=BACKUP_TIMEOUT)
    if not answer.ok:
        raise ResourceUnavailable(f"Failed to back up snapshot {snapshot.name} of volume {volume.uuid} on host "
                                  f"{host.name}: {answer.details}")
    with step(ctx) as s:
        snapshot = _fresh(s, Snapshot, snapshot_id)
        transition(s, snapshot, SnapshotState.BACKED_UP, expected=(SnapshotState.CREATING,))
        physical = int(answer.data.get("physical_size") or 0)
        s.execute(update(SnapshotStoreRef).where(SnapshotStoreRef.snapshot_id == snapshot_id)
                  .values(state="Ready", physical_size=physical, size=answer.data.get("virtual_size") or snapshot.size,
                          last_updated=utcnow()))
        s.execute(update(Volume).where(Volume.id == snapshot.volume_id, Volume.state == "Snapshotting")
                  .values(state="Ready", update_count=Volume.update_count + 1)
                  .execution_options(synchronize_session=False))
        _events(s, ctx.caller, snapshot, "SNAPSHOT.CREATE", f"Successfully created snapshot {snapshot.name} of "
                                                            f"volume {volume.uuid}", physical)


def _events(session: Session, caller: Caller, snapshot: Snapshot, type_: str, text: str, size: int | None) -> None:
    events.record(session, caller, type_, text, resource=snapshot, resource_type="Snapshot",
                  account_id=snapshot.account_id, domain_id=snapshot.domain_id)
    events.record_usage(session, type_, account_id=snapshot.account_id, zone_id=snapshot.zone_id,
                        resource_id=snapshot.id, resource_name=snapshot.name, size=size,
                        virtual_size=snapshot.size, offering_id=snapshot.disk_offering_id)


def fail_snapshot(snapshot_id: int, reason: str | None = None) -> None:
    """After a failed take (its transaction rolled back, or its worker dead): Error, the volume Ready again, the
    limits given back, the partial backup removed. Idempotent."""
    leftover = None
    with db.session() as s:
        snapshot = _fresh(s, Snapshot, snapshot_id)
        if snapshot is None or snapshot.status not in (SnapshotState.ALLOCATED, SnapshotState.CREATING,
                                                       SnapshotState.CREATED_ON_PRIMARY, SnapshotState.BACKING_UP):
            return
        s.execute(update(Snapshot).where(Snapshot.id == snapshot_id)
                  .values(status=SnapshotState.ERROR, update_count=Snapshot.update_count + 1,
                          error_str=(reason or "the snapshot could not be backed up")[:1024]))
        ref, store = _backup(s, snapshot_id)
        if ref is not None:
            leftover = (store, ref.install_path)
            ref.state, ref.last_updated = "Destroyed", utcnow()
        s.execute(update(Volume).where(Volume.id == snapshot.volume_id, Volume.state == "Snapshotting")
                  .values(state="Ready", update_count=Volume.update_count + 1)
                  .execution_options(synchronize_session=False))
        limits.release(s, account_id=snapshot.account_id, resource="snapshot", amount=1)
        limits.release(s, account_id=snapshot.account_id, resource="secondary_storage", amount=snapshot.size)
    if leftover:
        remove_store_file(*leftover)


def _remove_file(path: str) -> None:
    for candidate in (path, path + ".part"):
        try:
            os.remove(candidate)
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("could not remove snapshot backup %s", candidate, exc_info=True)


def recover_orphan(orphan) -> None:
    """A snapshot job whose worker died: the snapshot goes to Error and what it held is released."""
    if orphan.instance_type == "Snapshot" and orphan.instance_id is not None and orphan.command == "createSnapshot":
        fail_snapshot(orphan.instance_id, "the worker taking the snapshot stopped before finishing it")


# --- delete, revert ---------------------------------------------------------------------------------------

def check_deletable(session: Session, caller: Caller, snapshot: Snapshot) -> None:
    if snapshot.removed is not None or snapshot.status == SnapshotState.DESTROYED:
        raise InvalidParameter(f"Unable to find a snapshot with the specified id (id={snapshot.uuid})")
    check_account_access(session, caller, session.get(Account, snapshot.account_id))
    if snapshot.status not in (SnapshotState.BACKED_UP, SnapshotState.ERROR):
        raise InvalidParameter(f"Snapshot {snapshot.uuid} is {snapshot.status}: it can be deleted only when "
                               "BackedUp or Error (id)")
    pending = getattr(Volume, "snapshot_id", None)
    if pending is not None and session.scalar(select(Volume.id).where(
            pending == snapshot.id, Volume.removed.is_(None), Volume.pool_id.is_(None))) is not None:
        raise InvalidParameter(f"Snapshot {snapshot.uuid} is the source of a volume not created yet (id)")


def delete(session: Session, caller: Caller, snapshot: Snapshot) -> None:
    """Destroy the snapshot and its backup (the file goes once the transaction commits)."""
    from management.jobs.service import after_commit

    check_deletable(session, caller, snapshot)
    was_error = snapshot.status == SnapshotState.ERROR
    transition(session, snapshot, SnapshotState.DESTROYED, expected=(SnapshotState.BACKED_UP, SnapshotState.ERROR),
               removed=utcnow())
    ref, store = _backup(session, snapshot.id)
    leftover = None
    if ref is not None:
        leftover = (store, ref.install_path)
        ref.state, ref.last_updated = "Destroyed", utcnow()
        session.flush()
    if not was_error:
        limits.release(session, account_id=snapshot.account_id, resource="snapshot", amount=1)
        limits.release(session, account_id=snapshot.account_id, resource="secondary_storage", amount=snapshot.size)
        _events(session, caller, snapshot, "SNAPSHOT.DELETE", f"Successfully deleted snapshot {snapshot.name}",
                ref.physical_size if ref else None)
    else:
        events.record(session, caller, "SNAPSHOT.DELETE", f"Deleted snapshot {snapshot.name} (in Error)",
                      resource=snapshot, resource_type="Snapshot", account_id=snapshot.account_id,
                      domain_id=snapshot.domain_id)
    if leftover:
        after_commit(session, lambda: remove_store_file(*leftover))


def check_revertable(session: Session, caller: Caller, snapshot: Snapshot) -> Volume:
    if snapshot.removed is not None:
        raise InvalidParameter(f"Unable to find a snapshot with the specified id (id={snapshot.uuid})")
    check_account_access(session, caller, session.get(Account, snapshot.account_id))
    if snapshot.status != SnapshotState.BACKED_UP:
        raise InvalidParameter(f"Snapshot {snapshot.uuid} is {snapshot.status}: only BackedUp snapshots can be "
                               "reverted to (id)")
    volume = session.get(Volume, snapshot.volume_id)
    if volume is None or volume.removed is not None or volume.pool_id is None:
        raise InvalidParameter(f"The volume of snapshot {snapshot.uuid} no longer exists on primary storage (id)")
    if volume.state != "Ready":
        raise InvalidParameter(f"Volume {volume.uuid} is {volume.state}, not Ready (id)")
    vm = session.get(VMInstance, volume.vm_id) if volume.vm_id else None
    if vm is not None and vm.state != "Stopped":
        raise InvalidParameter(f"VM {vm.instance_name} of volume {volume.uuid} is {vm.state}: stop it before "
                               "reverting the volume to a snapshot (id)")
    if vm is not None:
        vm_lifecycle.run(vm_lifecycle.BUSY_CHECKS, session, vm, "revert a volume to a snapshot")
    if snapshot.hypervisor_type not in SNAPSHOT_CAPABLE:
        raise InvalidParameter(f"Reverting to a snapshot is not supported on {snapshot.hypervisor_type} (id)")
    return volume


def revert(ctx: Context, snapshot_id: int) -> None:
    """Replace the volume's content with the snapshot's backup, on a host that reaches its pool."""
    with step(ctx) as s:
        snapshot = _fresh(s, Snapshot, snapshot_id)
        volume = check_revertable(s, ctx.caller, snapshot)
        moved = s.execute(update(Volume).where(Volume.id == volume.id, Volume.state == "Ready")
                          .values(state="RevertSnapshotting", update_count=Volume.update_count + 1)
                          .execution_options(synchronize_session=False))
        if moved.rowcount != 1:
            raise ResourceUnavailable(f"Volume {volume.uuid} changed state: try again")
        host, _vm = host_for_volume(s, volume)
        source, store_url, size = backup_source(s, snapshot_id)
        command = RevertSnapshot(backup=source, backup_store=store_url, volume_path=volume.path, size_bytes=size)
    on_rollback(ctx.session, partial(_volume_ready, volume.id, "RevertSnapshotting"))
    answer = agent_call(host, command, timeout=BACKUP_TIMEOUT)
    if not answer.ok:
        raise ResourceUnavailable(f"Failed to revert volume {volume.uuid} to snapshot {snapshot.uuid}: "
                                  f"{answer.details}")
    with step(ctx) as s:
        s.execute(update(Volume).where(Volume.id == volume.id, Volume.state == "RevertSnapshotting")
                  .values(state="Ready", update_count=Volume.update_count + 1, updated=utcnow())
                  .execution_options(synchronize_session=False))
        snapshot = _fresh(s, Snapshot, snapshot_id)
        events.record(s, ctx.caller, "SNAPSHOT.REVERT", f"Reverted volume {volume.uuid} to snapshot {snapshot.name}",
                      resource=snapshot, resource_type="Snapshot", account_id=snapshot.account_id,
                      domain_id=snapshot.domain_id)


def _volume_ready(volume_id: int, from_state: str) -> None:
    with db.session() as s:
        s.execute(update(Volume).where(Volume.id == volume_id, Volume.state == from_state)
                  .values(state="Ready", update_count=Volume.update_count + 1)
                  .execution_options(synchronize_session=False))


# --- list ---------------------------------------------------------------------------------------------------

@dataclass
class ListFilter:
    scope: Scope
    snapshot_id: int | None = None
    ids: list[int] | None = None
    name: str | None = None
    volume_id: int | None = None
    zone_id: int | None = None
    snapshot_type: str | None = None
    interval_type: str | None = None
    keyword: str | None = None
    tags: list[dict[str, str]] | None = None  # tags[i].key/value


def list_snapshots(session: Session, f: ListFilter, offset: int, limit: int | None) -> tuple[list[Snapshot], int]:
    from management.pagination import page

    query = select(Snapshot).where(Snapshot.removed.is_(None), f.scope.where(Snapshot.account_id, Snapshot.domain_id))
    if f.snapshot_id is not None:
        query = query.where(Snapshot.id == f.snapshot_id)
    if f.ids:
        query = query.where(Snapshot.id.in_(f.ids))
    if f.name:
        query = query.where(Snapshot.name == f.name)
    if f.volume_id is not None:
        query = query.where(Snapshot.volume_id == f.volume_id)
    if f.zone_id is not None:
        query = query.where(Snapshot.zone_id == f.zone_id)
    if f.snapshot_type:
        kind = f.snapshot_type.upper()
        if kind not in TYPE_NUMBERS:
            raise InvalidParameter(f"Unsupported snapshot type {f.snapshot_type} (snapshottype)")
        query = query.where(Snapshot.snapshot_type == TYPE_NUMBERS[kind]) if kind != "RECURRING" else \
            query.where(Snapshot.snapshot_type >= TYPE_NUMBERS["HOURLY"])
    if f.interval_type:
        kind = f.interval_type.upper()
        if kind not in INTERVALS:
            raise InvalidParameter(f"Unsupported interval type {f.interval_type} (intervaltype)")
        query = query.where(Snapshot.type_description == kind)
    if f.keyword:
        query = query.where(or_(Snapshot.name.like(f"%{f.keyword}%")))
    query = tag_service.filtered(query, "Snapshot", Snapshot.id, f.tags or [])
    return page(session, query.order_by(Snapshot.created.desc(), Snapshot.id.desc()), offset, limit)


# --- limits -------------------------------------------------------------------------------------------------

def _count_snapshots(session: Session, account_id: int) -> int:
    return session.scalar(select(func.count(Snapshot.id)).where(
        Snapshot.account_id == account_id, Snapshot.removed.is_(None), Snapshot.status.in_(LIVE))) or 0


def count_secondary(session: Session, account_id: int) -> int:
    """Bytes of the live snapshots counted against secondary_storage (the size of their volume, as reserved);
    ``secondary_usage.count`` adds the templates."""
    return int(session.scalar(select(func.coalesce(func.sum(Snapshot.size), 0)).where(
        Snapshot.account_id == account_id, Snapshot.removed.is_(None), Snapshot.status.in_(LIVE))) or 0)


def account_cleanup(session: Session, caller: Caller, account: Account) -> None:
    """deleteAccount: its snapshots are deleted (backups removed after commit), its volumes' policies stopped."""
    for snapshot in session.scalars(select(Snapshot).where(
            Snapshot.account_id == account.id, Snapshot.removed.is_(None),
            Snapshot.status.in_((SnapshotState.BACKED_UP, SnapshotState.ERROR)))).all():
        try:
            with session.begin_nested():
                delete(session, caller, snapshot)
        except Exception:
            log.warning("could not delete snapshot %s of account %s", snapshot.uuid, account.account_name,
                        exc_info=True)
    session.execute(update(SnapshotPolicy).where(SnapshotPolicy.volume_id.in_(
        select(Volume.id).where(Volume.account_id == account.id))).values(active=False, next_run=None)
        .execution_options(synchronize_session=False))


def register() -> None:
    from management.iam import service as iam
    from management.jobs import runner

    if account_cleanup not in iam.ACCOUNT_CLEANUP_HOOKS:
        iam.ACCOUNT_CLEANUP_HOOKS.append(account_cleanup)

    limits.register_counter("snapshot", _count_snapshots)
    from management.storage import secondary_usage

    secondary_usage.register()
    from management.storage import template_ops

    for handler in (recover_orphan, template_ops.recover_orphan):
        if handler not in runner.ORPHAN_HANDLERS:
            runner.ORPHAN_HANDLERS.append(handler)

