"""Starting, stopping, rebooting and migrating VMs on hosts (the worker half of the async VM commands).

A start moves the VM Stopped -> Starting, then tries up to ``MAX_TRIES`` hosts: reserve a host (and pool
space for volumes not yet on primary storage), copy the template to the pool once, create the volumes,
start the VM; a host that fails is avoided on the next try. On success the VM is Running; when every try
failed the job fails and ``_start_failed`` (run after the job's transaction is rolled back) leaves a
never-started VM in Error with its address, capacity and limits given back, or an existing VM Stopped.
"""

from __future__ import annotations

import logging
import os
import time
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from agent.protocol import (
    CopyImage,
    CreateVolume,
    DeleteVolume,
    DiskSpec,
    GetVmStates,
    MigrateVm,
    PrepareForMigration,
    NicSpec,
    RebootVm,
    StartVm,
    StopVm,
    VmSpec,
)
from agent.protocol_storage import CopyVolume
from management.compute import planner, states, vm_lifecycle
from management.compute.models import ServiceOffering
from management.compute.vm_models import Nic, TemplatePoolRef, VMInstance, Volume
from management.compute.vm_tx import agent_call, on_rollback, step
from management.context import Context, system_caller
from management.db import db, utcnow
from management.errors import CloudError, InsufficientCapacity, InvalidParameter, ResourceUnavailable
from management.events import service as events
from management.infra.models import Host
from management.jobs import service as jobs
from management.storage import pool_hosts, secondary
from management.storage.models import DownloadState, ImageStore, StoragePool, Template, TemplateStoreRef
from management.storage.volumes import volume_source

log = logging.getLogger(__name__)
MAX_TRIES = 3
COPY_WAIT_SECONDS = 600
COPY_STALE_SECONDS = 1800
DISK_TARGETS = "abcdefghijklmnopqrstuvwxyz"


class AgentFailure(Exception):
    pass


def _call(host: Host, command, timeout: float = 120):
    try:
        answer = agent_call(host, command, timeout=timeout)
    except CloudError as error:
        raise AgentFailure(error.message) from error
    except Exception as error:
        log.warning("%s on host %s failed", command.kind, host.name, exc_info=True)
        raise AgentFailure(f"{command.kind} on host {host.name} failed: {error}") from error
    if not answer.ok:
        raise AgentFailure(answer.details or f"{command.kind} failed on host {host.name}")
    return answer


def _progress(ctx: Context, percent: int) -> None:
    if ctx.job_id is not None:
        with step(ctx) as s:
            jobs.set_progress(s, ctx.job_id, percent)


def _vm(session, vm_id: int) -> VMInstance:
    return session.scalars(select(VMInstance).where(VMInstance.id == vm_id)
                           .execution_options(populate_existing=True)).one()


def _volumes(session, vm_id: int) -> list[Volume]:
    return list(session.scalars(select(Volume).where(Volume.vm_id == vm_id, Volume.removed.is_(None))
                                .order_by(Volume.device_id, Volume.id).execution_options(populate_existing=True)))


def _event(session, ctx: Context, vm: VMInstance, type_: str, text: str, usage: bool = True) -> None:
    events.record(session, ctx.caller, type_, text, resource=vm, resource_type="VirtualMachine",
                  account_id=vm.account_id, domain_id=vm.domain_id)
    if usage:
        events.record_usage(session, type_, account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                            resource_name=vm.instance_name, offering_id=vm.service_offering_id,
                            template_id=vm.template_id, resource_type=vm.hypervisor_type)


# --- start ---------------------------------------------------------------------------------------------------

def start(ctx: Context, vm_id: int, *, deploy: bool = False, host_id: int | None = None,
          cluster_id: int | None = None) -> None:
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        if vm.state == states.RUNNING and not deploy:
            raise InvalidParameter(f"VM {vm.uuid} is already Running")
        vm_lifecycle.run(vm_lifecycle.BUSY_CHECKS, s, vm, "start")
        states.transition(s, vm, "StartRequested")
    created: list = []  # (volume id, path, host) made by this start
    on_rollback(ctx.session, partial(_start_failed, vm_id, deploy, created))
    _progress(ctx, 10)
    avoid: set[int] = set()
    failure: str | None = None
    for _ in range(MAX_TRIES):
        try:
            host_uuid = _try_host(ctx, vm_id, avoid, host_id, created, cluster_id)
        except InsufficientCapacity as error:
            failure = failure or error.message
            break
        except AgentFailure as error:
            failure = str(error)
            continue
        log.info("VM %s started on host %s", vm_id, host_uuid)
        return
    _delete_created(created)
    created.clear()
    with step(ctx) as s:
        vm = _vm(s, vm_id)
    raise InsufficientCapacity(f"Unable to create a deployment for VM[User|{vm.instance_name}]"
                               + (f": {failure}" if failure else ""))


def _try_host(ctx: Context, vm_id: int, avoid: set[int], host_id: int | None,
              created: list, cluster_id: int | None = None) -> str:
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        offering = s.get(ServiceOffering, vm.service_offering_id)
        template = s.get(Template, vm.template_id)
        need = planner.need_of(vm, offering, template)
        volumes = _volumes(s, vm_id)
        placed = next((v for v in volumes if v.pool_id is not None), None)
        volume_pool = s.get(StoragePool, placed.pool_id) if placed else None
        unplaced = [v for v in volumes if v.pool_id is None]
        placement = planner.place(s, vm, need, volume_size=sum(v.size for v in unplaced), volume_pool=volume_pool,
                                  avoid=avoid, host_id=host_id, cluster_id=cluster_id)
        host, pool = placement.host, placement.pool or volume_pool
        for volume in unplaced:
            volume.pool_id, volume.path, volume.state = pool.id, f"{pool_hosts.local_path(pool)}/{volume.uuid}", "Creating"
        s.execute(update(VMInstance).where(VMInstance.id == vm_id).values(host_id=host.id, pod_id=host.pod_id)
                  .execution_options(synchronize_session=False))
        to_create = [(v.id, v.path, v.size, v.template_id, volume_source(s, v)) for v in unplaced]
    avoid.add(host.id)
    try:
        for volume_id, path, size, template_id, source in to_create:
            backing = _ensure_template(ctx, template, pool, host) if template_id else None
            backing_format = (template.format or "QCOW2").lower() if backing else None
            if source:  # a data volume made from a snapshot or an upload: its content is copied
                _call(host, CopyVolume(source=source[0], source_store=source[1], destination=path, size_bytes=size), timeout=3600)
            else:
                _call(host, CreateVolume(path=path, size_bytes=size, format="qcow2", backing=backing,
                                         backing_format=backing_format))
            created.append((volume_id, path, host))
            with step(ctx) as s:
                s.execute(update(Volume).where(Volume.id == volume_id).values(state="Ready", pod_id=host.pod_id,
                                                                              updated=utcnow()))
        _progress(ctx, 50)
        with step(ctx) as s:
            spec = vm_spec(s, _vm(s, vm_id), pool, host)
        _call(host, StartVm(vm=spec))
    except AgentFailure as error:
        log.warning("starting VM %s on host %s failed: %s", vm_id, host.name, error)
        _delete_created(created)
        with step(ctx) as s:
            for volume_id, _path, _host in created:
                _unplace(s, volume_id)
            for volume in _volumes(s, vm_id):
                if volume.state == "Creating":
                    _unplace(s, volume.id)
            planner.release_host(s, host.id, need.cpu_mhz, need.memory_bytes)
            s.execute(update(VMInstance).where(VMInstance.id == vm_id).values(host_id=None)
                      .execution_options(synchronize_session=False))
        created.clear()
        raise
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        states.transition(s, vm, "OperationSucceeded", host_id=host.id, last_host_id=host.id, pod_id=host.pod_id,
                          power_state="PowerOn", power_state_update=utcnow(), power_host_id=host.id)
        vm_lifecycle.run(vm_lifecycle.STARTED_HOOKS, s, vm, host)
        _event(s, ctx, vm, "VM.START", f"Started VM {vm.instance_name} on host {host.name}")
    created.clear()
    vm_lifecycle.run_after(vm_lifecycle.AFTER_START, ctx, vm_id, host)
    _progress(ctx, 100)
    return host.uuid


def _unplace(session, volume_id: int) -> None:
    volume = session.get(Volume, volume_id, populate_existing=True)
    if volume is None or volume.pool_id is None:
        return
    planner.release_pool(session, volume.pool_id, volume.size)
    volume.pool_id, volume.path, volume.state = None, None, "Allocated"
    session.flush()


def _delete_created(created: list) -> None:
    """Remove the volume files this start made, so a failed start leaves nothing behind on the pools."""
    for _volume_id, path, host in created:
        try:
            answer = agent_call(host, DeleteVolume(path=path))
            if not answer.ok:
                log.warning("could not delete volume file %s: %s", path, answer.details)
        except Exception:
            log.warning("could not delete volume file %s", path, exc_info=True)


def _start_failed(vm_id: int, deploy: bool, created: list) -> None:
    """After a failed start's transaction is gone: free what the VM holds; a new VM goes to Error."""
    from management.compute import vms

    _delete_created(created)
    with db.session() as s:
        vm = _vm(s, vm_id)
        for volume in _volumes(s, vm_id):
            if volume.state == "Creating" or (deploy and volume.pool_id is not None):
                _unplace(s, volume.id)
        if vm.host_id is not None and vm.state in (states.STARTING, states.STOPPED):
            planner.release_host(s, vm.host_id, vm.cpu * vm.speed, vm.memory * planner.MB)
        if deploy and vm.state in (states.STARTING, states.STOPPED):
            states.transition(s, vm, "OperationFailedToError", host_id=None)
            vms.release_nics(s, vm, remove=False)
            vms.release_limits(s, vm)
            events.record_usage(s, "VM.DESTROY", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                                resource_name=vm.instance_name, offering_id=vm.service_offering_id,
                                template_id=vm.template_id, resource_type=vm.hypervisor_type)
        elif vm.state == states.STARTING:
            states.transition(s, vm, "OperationFailed", host_id=None)


def recover_orphan(orphan) -> None:
    """A VM job whose worker died mid-run (the reaper failed it): put the VM back in a consistent state.

    A VM left Starting is stopped on its host if it got that far, the volume files being made are deleted,
    then it is treated as a failed start (a new VM goes to Error and frees its capacity, address and
    limits; an existing one goes back to Stopped). A VM left Stopping is stopped (forced) and marked
    Stopped with its host capacity released. A VM left Migrating is settled where it runs (below)."""
    if orphan.instance_type != "VirtualMachine" or orphan.instance_id is None:
        return
    with db.session() as s:
        vm = s.get(VMInstance, orphan.instance_id)
        if vm is not None and vm.state == states.MIGRATING:
            _settle_migration(orphan.instance_id)
            return
        if vm is None or vm.state not in (states.STARTING, states.STOPPING):
            return
        host = s.get(Host, vm.host_id) if vm.host_id else None
        state, name = vm.state, vm.instance_name
        creating = [(v.id, v.path, host) for v in _volumes(s, vm.id) if v.state == "Creating" and v.path and host]
    if host is not None:
        answer = agent_call(host, StopVm(name=name, force=True), timeout=60)
        if not answer.ok:
            log.warning("orphaned VM %s: stop on host %s failed: %s", name, host.name, answer.details)
    if state == states.STARTING:
        _start_failed(orphan.instance_id, orphan.command == "deployVirtualMachine", creating)
        return
    with db.session() as s:
        vm = _vm(s, orphan.instance_id)
        if vm.state == states.STOPPING:
            planner.release_host(s, vm.host_id, vm.cpu * vm.speed, vm.memory * planner.MB)
            states.transition(s, vm, "OperationSucceeded", host_id=None, last_host_id=vm.host_id)


def _settle_migration(vm_id: int) -> None:
    """A migration whose worker died: ask the source host, then the destination, which one runs the domain.
    The VM is Running where it is found (the other host's capacity given back); found on neither, it is
    Stopped with both given back (its next start places it anew)."""
    with db.session() as s:
        vm = _vm(s, vm_id)
        name = vm.instance_name
        source = s.get(Host, vm.host_id) if vm.host_id else None
        target = s.get(Host, vm.migration_host_id) if vm.migration_host_id else None
        for host in (source, target):
            if host is not None:
                s.expunge(host)
    where = None
    for host in (source, target):
        if host is None:
            continue
        try:
            answer = agent_call(host, GetVmStates(), timeout=30)
        except Exception:  # unreachable: the host's own health handling takes over
            log.warning("orphaned migration of VM %s: host %s did not answer", name, host.name, exc_info=True)
            continue
        if answer.ok and answer.data.get("vm_states", {}).get(name) == "PowerOn":
            where = host
            break
    with db.session() as s:
        vm = _vm(s, vm_id)
        if vm.state != states.MIGRATING:
            return
        cpu, memory = vm.cpu * vm.speed, vm.memory * planner.MB
        if where is not None and target is not None and where.id == target.id:
            planner.release_host(s, source.id if source else None, cpu, memory)
            states.transition(s, vm, "OperationSucceeded", host_id=target.id, pod_id=target.pod_id,
                              last_host_id=source.id if source else vm.last_host_id, power_host_id=target.id,
                              migration_host_id=None)
            text = f"Migrated VM {name} to host {target.name} (its migration's worker stopped; the host runs it)"
        elif where is not None:
            planner.release_host(s, target.id if target else None, cpu, memory)
            states.transition(s, vm, "OperationFailed", migration_host_id=None)
            text = f"Migration of VM {name} did not happen (its worker stopped); it runs on host {where.name}"
        else:
            planner.release_host(s, target.id if target else None, cpu, memory)
            vm.migration_host_id = None
            stopped_on(s, Context(session=s, caller=system_caller(), command="vm-sync"), vm,
                       "FollowAgentPowerOffReport", f"VM {name} stopped: its migration's worker stopped and neither "
                                                    "host runs it")
            return
        events.record(s, system_caller(), "VM.MIGRATE", text, resource=vm, resource_type="VirtualMachine",
                      account_id=vm.account_id, domain_id=vm.domain_id)


def _ensure_template(ctx: Context, template: Template, pool: StoragePool, host: Host) -> str:
    """The template's copy on ``pool`` (made once per pool; concurrent deploys wait for the one copying)."""
    destination = f"{pool_hosts.local_path(pool)}/{template.uuid}"
    deadline = time.monotonic() + COPY_WAIT_SECONDS
    me = f"job-{ctx.job_id}-{os.getpid()}"
    while True:
        mine = False
        with step(ctx) as s:
            ref = s.scalar(select(TemplatePoolRef).where(TemplatePoolRef.template_id == template.id,
                                                         TemplatePoolRef.pool_id == pool.id)
                           .execution_options(populate_existing=True))
            now = utcnow()
            if ref is None:
                try:
                    with s.begin_nested():
                        s.add(TemplatePoolRef(template_id=template.id, pool_id=pool.id, state="Copying",
                                              install_path=destination, owner=me, last_updated=now))
                    mine = True
                except IntegrityError:
                    pass
            elif ref.state == "Ready":
                return ref.install_path or destination
            elif ref.state == "Error" or (now - ref.last_updated).total_seconds() > COPY_STALE_SECONDS:
                done = s.execute(update(TemplatePoolRef).where(
                    TemplatePoolRef.id == ref.id, TemplatePoolRef.state == ref.state,
                    TemplatePoolRef.last_updated == ref.last_updated)
                    .values(state="Copying", owner=me, last_updated=now, error_str=None))
                mine = done.rowcount == 1
            source = _template_source(s, template, pool.zone_id)
        if mine:
            try:
                answer = _call(host, CopyImage(source=source[0], source_store=source[1], destination=destination),
                               timeout=3600)
            except AgentFailure as error:
                with step(ctx) as s:
                    s.execute(update(TemplatePoolRef).where(TemplatePoolRef.template_id == template.id,
                                                            TemplatePoolRef.pool_id == pool.id)
                              .values(state="Error", error_str=str(error)[:1024], last_updated=utcnow()))
                raise
            with step(ctx) as s:
                s.execute(update(TemplatePoolRef).where(TemplatePoolRef.template_id == template.id,
                                                        TemplatePoolRef.pool_id == pool.id)
                          .values(state="Ready", size=answer.data.get("size"), last_updated=utcnow()))
            return destination
        if time.monotonic() > deadline:
            raise AgentFailure(f"Timed out waiting for template {template.uuid} to be copied to pool {pool.name}")
        time.sleep(1.0)


def _template_source(session, template: Template, zone_id: int) -> tuple[str, str | None]:
    row = session.execute(select(TemplateStoreRef, ImageStore).join(ImageStore, ImageStore.id == TemplateStoreRef.store_id)
                          .where(TemplateStoreRef.template_id == template.id, TemplateStoreRef.zone_id == zone_id,
                                 TemplateStoreRef.download_state == DownloadState.DOWNLOADED,
                                 ImageStore.removed.is_(None)).limit(1)).first()
    if row is None:
        raise AgentFailure(f"Template {template.uuid} is not on any image store of the zone")
    ref, store = row
    return secondary.agent_source(store, ref.install_path or "")


def vm_spec(session, vm: VMInstance, pool: StoragePool | None, host: Host | None = None) -> VmSpec:
    disks = []
    for index, volume in enumerate(_volumes(session, vm.id)):
        letter = DISK_TARGETS[volume.device_id if volume.device_id is not None else index]  # CloudStack: by deviceid
        disks.append(DiskSpec(path=volume.path, format="qcow2", target=f"vd{letter}",
                              device_id=volume.device_id or index))
    nics = [NicSpec(mac=n.mac_address, ip=n.ip_address, device_id=n.device_id)
            for n in session.scalars(select(Nic).where(Nic.vm_id == vm.id, Nic.removed.is_(None)).order_by(Nic.device_id))]
    if pool is None and disks:
        root = _volumes(session, vm.id)[0]
        pool = session.get(StoragePool, root.pool_id)
    serial = f"{pool_hosts.local_path(pool)}/{vm.instance_name}.console.log" if pool is not None else None
    spec = VmSpec(name=vm.instance_name, uuid=vm.uuid, vcpus=vm.cpu, cpu_speed_mhz=vm.speed, memory_mb=vm.memory,
                  disks=disks, nics=nics, serial_log=serial, limit_cpu_use=vm.limit_cpu_use,
                  boot_from_cdrom=vm.iso_id is not None and vm.iso_id == vm.template_id)
    vm_lifecycle.run(vm_lifecycle.SPEC_HOOKS, session, vm, spec, host)
    return spec


# --- stop, reboot, migrate -----------------------------------------------------------------------------------

def stop(ctx: Context, vm_id: int, *, forced: bool = False) -> None:
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        if vm.state == states.STOPPED:
            return
        states.transition(s, vm, "StopRequested")
        host = s.get(Host, vm.host_id) if vm.host_id else None
    on_rollback(ctx.session, partial(_stop_failed, vm_id))
    error = None
    if host is not None:
        try:
            _call(host, StopVm(name=vm.instance_name, force=forced))
        except AgentFailure as failure:
            error = str(failure)
    if error and not forced:
        with step(ctx) as s:
            states.transition(s, _vm(s, vm_id), "OperationFailed")
        raise ResourceUnavailable(f"Unable to stop VM {vm.uuid}: {error}")
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        stopped_on(s, ctx, vm, "OperationSucceeded", f"Stopped VM {vm.instance_name}")


def stopped_on(session, ctx: Context, vm: VMInstance, event: str, text: str) -> None:
    """The VM is off its host: release the host capacity, state Stopped, VM.STOP events."""
    host_id = vm.host_id
    planner.release_host(session, host_id, vm.cpu * vm.speed, vm.memory * planner.MB)
    states.transition(session, vm, event, host_id=None, last_host_id=host_id or vm.last_host_id,
                      power_state="PowerOff", power_state_update=utcnow())
    vm_lifecycle.run(vm_lifecycle.STOPPED_HOOKS, session, vm, host_id)
    _event(session, ctx, vm, "VM.STOP", text)


def _stop_failed(vm_id: int) -> None:
    with db.session() as s:
        vm = _vm(s, vm_id)
        if vm.state == states.STOPPING:
            states.transition(s, vm, "OperationFailed")


def reboot(ctx: Context, vm_id: int) -> None:
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        states.check(vm, "RebootRequested")
        host = s.get(Host, vm.host_id)
    try:
        _call(host, RebootVm(name=vm.instance_name))
    except AgentFailure as error:
        raise ResourceUnavailable(f"Unable to reboot VM {vm.uuid}: {error}") from None
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        _event(s, ctx, vm, "VM.REBOOT", f"Rebooted VM {vm.instance_name}", usage=False)


def migrate(ctx: Context, vm_id: int, target_id: int | None, *, room_for: planner.Need | None = None) -> None:
    """Live-migrate a Running VM to ``target_id`` or to a host the planner picks (one with room for
    ``room_for`` when given: the size the VM is about to be scaled to)."""
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        states.check(vm, "MigrationRequested")
        source = s.get(Host, vm.host_id)
        need = planner.need_of(vm, s.get(ServiceOffering, vm.service_offering_id), s.get(Template, vm.template_id))
        root = next((v for v in _volumes(s, vm_id) if v.pool_id is not None), None)
        pool = s.get(StoragePool, root.pool_id) if root else None
        if target_id is not None:
            target = s.get(Host, target_id)
            if target.id == source.id:
                raise InvalidParameter(f"VM {vm.uuid} is already on host {target.name}")
            if target.cluster_id != source.cluster_id and (pool is None or pool.scope != "ZONE"):
                raise InvalidParameter(f"Cannot migrate VM {vm.uuid} to host {target.name}: it is in another cluster "
                                       "and cannot reach the VM's storage")
        placement = planner.place(s, vm, need, volume_size=0, volume_pool=pool, avoid={source.id},
                                  host_id=target_id, room_for=room_for)
        target = placement.host
        states.transition(s, vm, "MigrationRequested", migration_host_id=target.id)
    on_rollback(ctx.session, partial(_migrate_failed, vm_id, target.id, source.id))
    with step(ctx) as s:
        disks = [d for hook in vm_lifecycle.MIGRATE_PREPARE_HOOKS for d in hook(s, _vm(s, vm_id), target)]
    try:
        _call(target, PrepareForMigration(name=vm.instance_name, disks=disks))
        _call(source, MigrateVm(name=vm.instance_name, destination_uri=f"qemu+tcp://{target.private_ip}/system"))
    except AgentFailure as error:
        with step(ctx) as s:
            planner.release_host(s, target.id, need.cpu_mhz, need.memory_bytes)
            states.transition(s, _vm(s, vm_id), "OperationFailed", migration_host_id=None)
        raise ResourceUnavailable(f"Unable to migrate VM {vm.uuid} to host {target.name}: {error}") from None
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        planner.release_host(s, source.id, need.cpu_mhz, need.memory_bytes)
        states.transition(s, vm, "OperationSucceeded", host_id=target.id, last_host_id=source.id, pod_id=target.pod_id,
                          power_host_id=target.id, migration_host_id=None)
        vm_lifecycle.run(vm_lifecycle.MIGRATED_HOOKS, s, vm, source, target)
        _event(s, ctx, vm, "VM.MIGRATE", f"Migrated VM {vm.instance_name} from host {source.name} to host "
                                         f"{target.name}", usage=False)


def _migrate_failed(vm_id: int, target_id: int, source_id: int) -> None:
    with db.session() as s:
        vm = _vm(s, vm_id)
        if vm.state == states.MIGRATING:
            planner.release_host(s, target_id, vm.cpu * vm.speed, vm.memory * planner.MB)
            states.transition(s, vm, "OperationFailed", host_id=source_id, migration_host_id=None)
