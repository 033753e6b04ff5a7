"""Volumes (worker side): placing a volume on a pool, attach/detach (hot-plug on running VMs), resize, migration
between pools, deletion of files, upload from a URL and extract to a download link.

Every step that others must see is its own short transaction (``vm_tx.step``); agent calls happen between
steps. A failing agent call is undone before the job fails: a file the job made is deleted, reserved pool
space is given back and the volume returns to the state it had (``Allocated``, ``Uploaded``, ``Ready``).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time

from sqlalchemy import select, update

from agent.protocol import CreateVolume, DeleteVolume, DiskSpec
from agent.protocol_storage import AttachDisk, CopyVolume, DetachDisk, ResizeVolume
from management.compute import planner
from management.compute.models import DiskOffering
from management.compute.vm_models import VMInstance, Volume
from management.compute.vm_orchestrate import AgentFailure, _call
from management.compute.vm_tx import agent_call, step
from management.config import service as config
from management.context import Context
from management.db import db, utcnow
from management.errors import CloudError, InsufficientCapacity, InvalidParameter, ResourceUnavailable
from management.infra.models import Host
from management.limits import service as limits
from management.storage import pool_hosts, secondary, volumes
from management.storage.models import ImageStore, StoragePool

log = logging.getLogger(__name__)
COPY_TIMEOUT = 3600
# ``status`` of a volume in the middle of an operation: what a dead worker's clean-up must undo
RESIZING, MIGRATING = "resizing:", "migrating:"


# --- where a volume lives --------------------------------------------------------------------------------------

hosts_for_pool = pool_hosts.reaching


def host_for(session, pool: StoragePool, prefer: int | None = None) -> Host:
    hosts = pool_hosts.reaching(session, pool, prefer=prefer)
    if not hosts:
        raise ResourceUnavailable(f"No host that is Up can reach storage pool {pool.name}")
    return hosts[0]


def root_of(session, vm_id: int) -> Volume | None:
    return session.scalar(select(Volume).where(Volume.vm_id == vm_id, Volume.volume_type == "ROOT",
                                               Volume.removed.is_(None)))


def _reserve_pool(session, volume: Volume, host: Host, preferred: StoragePool | None) -> StoragePool:
    offering = session.get(DiskOffering, volume.disk_offering_id) if volume.disk_offering_id else None
    need = planner.Need(cpu_mhz=0, memory_bytes=0, hypervisor=None, storage_tags=offering.tags if offering else None,
                        local_storage=bool(offering and offering.storage_type == "local"))
    candidates = planner.pools_for_host(session, host, need)
    if preferred is not None and any(p.id == preferred.id for p in candidates):
        candidates.sort(key=lambda p: p.id != preferred.id)
    for pool in candidates:
        if planner.reserve_pool(session, pool, volume.size):
            return pool
    raise InsufficientCapacity(f"Unable to find a storage pool with enough space for volume {volume.uuid} "
                               f"({volume.size} bytes) reachable from host {host.name}")


def _delete_file(host: Host, path: str) -> None:
    try:
        answer = agent_call(host, DeleteVolume(path=path))
        if not answer.ok:
            log.warning("could not delete volume file %s: %s", path, answer.details)
    except Exception:
        log.warning("could not delete volume file %s", path, exc_info=True)


def materialise(ctx: Context, volume_id: int, vm_id: int) -> tuple[Host, str]:
    """Create an Allocated (or copy an Uploaded) volume on a pool the VM's host reaches (next to its ROOT)."""
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        vm = s.get(VMInstance, vm_id, populate_existing=True)
        root = root_of(s, vm_id)
        root_pool = s.get(StoragePool, root.pool_id) if root and root.pool_id else None
        if vm.host_id:
            host = s.get(Host, vm.host_id)
        elif root_pool is not None:
            host = host_for(s, root_pool, vm.last_host_id)
        else:
            raise InvalidParameter(f"VM {vm.uuid} has no volume on primary storage yet")
        pool = _reserve_pool(s, volume, host, root_pool)
        source = volumes.volume_source(s, volume)
        path = f"{pool_hosts.local_path(pool)}/{volume.uuid}"
        volumes.transition(s, volume, "CopyRequested" if volume.state == "Uploaded" else "CreateRequested",
                           pool_id=pool.id, path=path, pod_id=host.pod_id)
        size, uploaded = volume.size, volume.state == "Copying"
    try:
        if source:
            answer = _call(host, CopyVolume(source=source[0], source_store=source[1], destination=path, size_bytes=size), timeout=COPY_TIMEOUT)
        else:
            answer = _call(host, CreateVolume(path=path, size_bytes=size, format="qcow2"))
    except AgentFailure as error:
        _delete_file(host, path)
        with step(ctx) as s:
            volume = volumes.fresh(s, volume_id)
            planner.release_pool(s, pool.id, size)
            volumes.transition(s, volume, "OperationFailed", pool_id=None, path=None, pod_id=None)
        raise ResourceUnavailable(f"Unable to create volume {volume.uuid} on storage pool {pool.name}: {error}") \
            from None
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        real = int(answer.data.get("size") or size)
        values = {}
        if real > size:  # a copy is never smaller than its source: account for what was really made
            planner.release_pool(s, pool.id, size)
            planner.reserve_pool(s, s.get(StoragePool, pool.id), real) or log.warning("pool %s overcommitted", pool.id)
            limits.release(s, account_id=volume.account_id, resource="primary_storage", amount=size)
            limits.reserve(s, account_id=volume.account_id, resource="primary_storage", amount=real)
            values["size"] = real
        volumes.transition(s, volume, "OperationSucceeded", **values)
    if uploaded:
        log.info("uploaded volume %s copied to pool %s", volume_id, pool.name)
    return host, path


def unmaterialise(ctx: Context, volume_id: int, host: Host, path: str, back_to: str) -> None:
    """Undo ``materialise`` when the rest of the job failed: the file goes, so do its pool space and place."""
    _delete_file(host, path)
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        planner.release_pool(s, volume.pool_id, volume.size)
        s.execute(update(Volume).where(Volume.id == volume_id).values(
            state=back_to, pool_id=None, path=None, pod_id=None, update_count=Volume.update_count + 1)
            .execution_options(synchronize_session=False))


# --- attach / detach -------------------------------------------------------------------------------------------

def disk_spec(volume: Volume) -> DiskSpec:
    return DiskSpec(path=volume.path, format="qcow2", target=volumes.target_of(volume.device_id),
                    device_id=volume.device_id)


def attach(ctx: Context, volume_id: int, vm_id: int, device_id: int | None) -> None:
    with step(ctx) as s:
        vm = s.scalars(select(VMInstance).where(VMInstance.id == vm_id).with_for_update()
                       .execution_options(populate_existing=True)).one()
        volume = volumes.fresh(s, volume_id)
        volumes.check_attach(s, ctx.caller, volume, vm, device_id)
        device = volumes.device_id_for(s, vm, device_id)
        claimed = s.execute(update(Volume).where(Volume.id == volume_id, Volume.vm_id.is_(None),
                                                 Volume.update_count == volume.update_count)
                            .values(vm_id=vm_id, device_id=device, update_count=Volume.update_count + 1)
                            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            raise InvalidParameter(f"Volume {volume.uuid} was attached by another operation")
        root = root_of(s, vm_id)
        on_pool = root is not None and root.pool_id is not None
        needs_pool, prior = volume.pool_id is None, volume.state
    made = None
    try:
        if needs_pool and on_pool:
            made = materialise(ctx, volume_id, vm_id)
        with step(ctx) as s:
            vm = s.get(VMInstance, vm_id, populate_existing=True)
            volume = volumes.fresh(s, volume_id)
            host = s.get(Host, vm.host_id) if vm.state == "Running" and vm.host_id else None
            spec, name = (disk_spec(volume), vm.instance_name) if volume.path else (None, None)
        if host is not None and spec is not None:
            try:
                _call(host, AttachDisk(vm_name=name, disk=spec))
            except AgentFailure as error:
                raise ResourceUnavailable(f"Unable to attach volume {volume.uuid} to VM {vm.uuid}: {error}") from None
    except CloudError:
        if made is not None:  # the same on both backends: no volume made for an attach that did not happen
            unmaterialise(ctx, volume_id, *made, back_to=prior)
        with step(ctx) as s:
            s.execute(update(Volume).where(Volume.id == volume_id, Volume.vm_id == vm_id)
                      .values(vm_id=None, device_id=None, update_count=Volume.update_count + 1)
                      .execution_options(synchronize_session=False))
        raise
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        vm = s.get(VMInstance, vm_id)
        volume.attached = utcnow()
        volumes.event(s, ctx.caller, "VOLUME.ATTACH", f"Attached volume {volume.name} to VM {vm.instance_name} "
                                                      f"as device {volume.device_id}", volume)


def detach(ctx: Context, volume_id: int) -> None:
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        vm = volumes.check_detach(s, ctx.caller, volume)
        host = s.get(Host, vm.host_id) if vm.state == "Running" and vm.host_id else None
        spec = disk_spec(volume) if volume.path else None
        name = vm.instance_name
    if host is not None and spec is not None:
        try:
            _call(host, DetachDisk(vm_name=name, disk=spec), timeout=90)
        except AgentFailure as error:
            raise ResourceUnavailable(f"Unable to detach volume {volume.uuid} from VM {vm.uuid}: {error}") from None
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        done = s.execute(update(Volume).where(Volume.id == volume_id, Volume.vm_id == vm.id)
                         .values(vm_id=None, device_id=None, attached=None, update_count=Volume.update_count + 1)
                         .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise InvalidParameter(f"Volume {volume.uuid} was detached by another operation")
        volumes.event(s, ctx.caller, "VOLUME.DETACH", f"Detached volume {volume.name} from VM {name}", volume)


# --- resize ----------------------------------------------------------------------------------------------------

def resize(ctx: Context, volume_id: int, new_size: int, offering_id: int | None, shrink_ok: bool) -> None:
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)  # the size was checked in the request
        if volume.state not in ("Ready", "Allocated"):
            raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: cannot resize it")
        old = volume.size
        delta = new_size - old
        if delta > 0:
            limits.reserve(s, account_id=volume.account_id, resource="primary_storage", amount=delta)
        if volume.pool_id is None:  # Allocated: nothing on disk yet
            if volume.state != "Allocated":
                raise InvalidParameter(f"Volume {volume.uuid} is in state {volume.state}: cannot resize it")
            if delta < 0:
                limits.release(s, account_id=volume.account_id, resource="primary_storage", amount=-delta)
            _resized(s, ctx, volume, new_size, offering_id)
            return
        pool = s.get(StoragePool, volume.pool_id)
        if delta > 0 and not planner.reserve_pool(s, pool, delta):
            raise InsufficientCapacity(f"Storage pool {pool.name} has no room to grow volume {volume.uuid} by "
                                       f"{delta} bytes")
        vm = s.get(VMInstance, volume.vm_id) if volume.vm_id else None
        running = vm is not None and vm.state == "Running" and vm.host_id
        host = s.get(Host, vm.host_id) if running else host_for(s, pool, vm.last_host_id if vm else None)
        volumes.transition(s, volume, "ResizeRequested", status=f"{RESIZING}{delta}")
        command = ResizeVolume(path=volume.path, current_size=old, new_size=new_size, shrink_ok=shrink_ok,
                               vm_name=vm.instance_name if running else None,
                               target=volumes.target_of(volume.device_id) if running else None)
    try:
        _call(host, command)
    except AgentFailure as error:
        with step(ctx) as s:
            volume = volumes.fresh(s, volume_id)
            if delta > 0:
                planner.release_pool(s, volume.pool_id, delta)
                limits.release(s, account_id=volume.account_id, resource="primary_storage", amount=delta)
            volumes.transition(s, volume, "OperationFailed", status=None)
        raise ResourceUnavailable(f"Unable to resize volume {volume.uuid}: {error}") from None
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        if delta < 0:
            planner.release_pool(s, volume.pool_id, -delta)
            limits.release(s, account_id=volume.account_id, resource="primary_storage", amount=-delta)
        volumes.transition(s, volume, "OperationSucceeded", status=None)
        _resized(s, ctx, volume, new_size, offering_id)


def _resized(session, ctx: Context, volume: Volume, new_size: int, offering_id: int | None) -> None:
    old = volume.size
    volume.size = new_size
    if offering_id:
        volume.disk_offering_id = offering_id
    session.flush()
    volumes.event(session, ctx.caller, "VOLUME.RESIZE", f"Resized volume {volume.name} from {old} to {new_size} "
                                                        "bytes", volume)
    volumes.usage(session, "VOLUME.RESIZE", volume)


# --- migrate between pools ----------------------------------------------------------------------------------------

def migrate(ctx: Context, volume_id: int, pool_id: int) -> None:
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        target = s.get(StoragePool, pool_id)
        volumes.check_migrate(s, ctx.caller, volume, target)
        source_pool = s.get(StoragePool, volume.pool_id)
        both = [h for h in hosts_for_pool(s, source_pool) if planner.pool_reachable(h, target)]
        if not both:
            raise ResourceUnavailable(f"No host that is Up reaches both storage pool {source_pool.name} and "
                                      f"{target.name}")
        host = both[0]
        if not planner.reserve_pool(s, target, volume.size):
            raise InsufficientCapacity(f"Storage pool {target.name} has no room for volume {volume.uuid} "
                                       f"({volume.size} bytes)")
        volumes.transition(s, volume, "MigrationRequested", status=f"{MIGRATING}{pool_id}")
        old_path, new_path, size = volume.path, f"{pool_hosts.local_path(target)}/{volume.uuid}", volume.size
    try:
        _call(host, CopyVolume(source=old_path, destination=new_path, size_bytes=size), timeout=COPY_TIMEOUT)
    except AgentFailure as error:
        _delete_file(host, new_path)
        with step(ctx) as s:
            planner.release_pool(s, pool_id, size)
            volumes.transition(s, volumes.fresh(s, volume_id), "OperationFailed", status=None)
        raise ResourceUnavailable(f"Unable to migrate volume {volume.uuid} to storage pool {target.name}: {error}") \
            from None
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        planner.release_pool(s, volume.pool_id, size)
        volumes.transition(s, volume, "OperationSucceeded", pool_id=pool_id, last_pool_id=volume.pool_id,
                           path=new_path, pod_id=host.pod_id, status=None)
        volumes.event(s, ctx.caller, "VOLUME.MIGRATE", f"Migrated volume {volume.name} from storage pool "
                                                       f"{source_pool.name} to {target.name}", volume)
    _delete_file(host, old_path)


# --- delete ----------------------------------------------------------------------------------------------------

def delete(session, caller, volume: Volume) -> None:
    """deleteVolume (sync): remove the volume's file from its pool (through a host that reaches it), its upload
    and extract copies on secondary storage, then the row; its limits and pool space are given back."""
    volumes.check_delete(session, caller, volume)
    if volume.pool_id is not None and volume.path:
        pool = session.get(StoragePool, volume.pool_id)
        host = host_for(session, pool)
        answer = agent_call(host, DeleteVolume(path=volume.path))
        if not answer.ok:
            raise ResourceUnavailable(f"Unable to delete volume {volume.uuid} from storage pool {pool.name}: "
                                      f"{answer.details}")
    remove_secondary(session, volume)
    volumes.forget(session, caller, volume)


def remove_secondary(session, volume: Volume) -> None:
    """Remove the volume's upload and extract copies from its image store (an unreachable NFS store is logged;
    the storage cleanup removes the files later, no row pointing at them)."""
    store = session.get(ImageStore, volume.store_id) if volume.store_id else None
    if store is None:
        return
    try:
        folder = secondary.node_path(store, volume_dir(volume))
    except CloudError as error:
        log.warning("could not remove the copies of volume %s: %s", volume.uuid, error.message)
        return
    shutil.rmtree(folder, ignore_errors=True)


def volume_dir(volume: Volume) -> str:
    """The volume's folder on an image store, relative to the store's root (uploads and extracts)."""
    return f"volumes/{int(volume.account_id)}/{int(volume.id)}"


# --- extract ---------------------------------------------------------------------------------------------------

def extract(ctx: Context, volume_id: int) -> Volume:
    """Copy the volume to the zone's image store and give it a secret download token."""
    from management.storage import images

    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        stores = images.zone_stores(s, volume.zone_id)
        if not stores:
            raise ResourceUnavailable("No image store of the zone can hold the extracted volume")
        store = stores[0] if volume.store_id is None else s.get(ImageStore, volume.store_id)
        s.expunge(store)
        expires = int(time.time()) + config.get_int(s, "extract.url.expiration.interval")
        token = f"{secrets.token_hex(16)}-{expires}"  # the link stops working after extract.url.expiration.interval
        relative = f"{volume_dir(volume)}/extract/{volume.uuid}.qcow2"
        if volume.pool_id is None:
            if not volume.source_path:
                raise InvalidParameter(f"Volume {volume.uuid} has no data yet (state {volume.state}): attach it to "
                                       "a VM first")
            source, host = volume.source_path, None
        else:
            source = volume.path
            vm = s.get(VMInstance, volume.vm_id) if volume.vm_id else None
            host = host_for(s, s.get(StoragePool, volume.pool_id), vm.last_host_id if vm else None)
        store_id = store.id
    if host is None:  # an uploaded volume never attached: both copies are on the store, copied by this node
        destination = secondary.node_path(store, relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(secondary.node_path(store, source), destination)
    else:
        path, store_url = secondary.agent_source(store, relative)
        try:
            _call(host, CopyVolume(source=source, destination=path, destination_store=store_url),
                  timeout=COPY_TIMEOUT)
        except AgentFailure as error:
            raise ResourceUnavailable(f"Unable to extract volume {volume_id}: {error}") from None
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        old = volume.extract_path
        volume.extract_path, volume.extract_token, volume.store_id = relative, token, store_id
        s.flush()
        volumes.event(s, ctx.caller, "VOLUME.EXTRACT", f"Extracted volume {volume.name}", volume)
    if old and old != relative:
        _remove_quietly(str(secondary.node_path(store, old)))
    return volume


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def extracted_file(token: str) -> tuple[str, str] | None:
    """(file path, download name) of an extracted volume by its token, or None."""
    _secret, _, expires = token.rpartition("-")
    if not expires.isdigit() or int(expires) <= time.time():
        return None
    with db.read_session() as s:
        volume = s.scalar(select(Volume).where(Volume.extract_token == token, Volume.removed.is_(None)))
        if volume is None or not volume.extract_path or volume.store_id is None:
            return None
        store = s.get(ImageStore, volume.store_id)
        if store is None:
            return None
    try:
        return str(secondary.node_path(store, volume.extract_path)), f"{volume.uuid}.qcow2"
    except CloudError:
        return None
