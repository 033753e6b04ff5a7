"""Destroying and expunging VMs.

destroy: a VM on a host is stopped first, then Destroyed: its limits are given back and its volumes go to
Destroy (recoverable until expunged). expunge: Destroyed/Error -> Expunging, volume files deleted on a host
that reaches their pool, pool space and addresses released, rows marked removed. A VM whose files could
not be deleted stays Expunging and the periodic expunge task tries again.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from agent.protocol import DeleteVolume
from management.compute import planner, states, vm_lifecycle
from management.compute.vm_models import VMInstance, Volume
from management.compute.vm_orchestrate import _event, _vm, _volumes, stop
from management.compute.vm_tx import agent_call, step
from management.context import Context
from management.db import utcnow
from management.errors import ResourceUnavailable
from management.events import service as events
from management.infra.models import Host
from management.storage.models import StoragePool

log = logging.getLogger(__name__)


def destroy(ctx: Context, vm_id: int, *, expunge_now: bool = False, volume_ids: list[int] = ()) -> None:
    """Data volumes stay attached (detached at expunge) unless named in ``volume_ids`` (destroyed with the VM)."""
    from management.compute import vms

    with step(ctx) as s:
        vm = _vm(s, vm_id)
        state = vm.state
    if state in states.ON_HOST:
        stop(ctx, vm_id, forced=True)
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        if vm.state == states.STOPPED:
            going = [v for v in _volumes(s, vm_id) if v.volume_type == "ROOT" or v.id in volume_ids]
            vms.release_limits(s, vm, [v.id for v in going])
            states.transition(s, vm, "DestroyRequested")
            for volume in going:
                volume.state = "Destroy"
            _event(s, ctx, vm, "VM.DESTROY", f"Destroyed VM {vm.instance_name}")
        elif vm.state == states.ERROR:
            states.transition(s, vm, "DestroyRequested")  # Error -> Expunging: nothing to keep
            for volume in _volumes(s, vm_id):
                volume.state = "Destroy"  # a failed deploy gave back every volume's limits
            events.record(s, ctx.caller, "VM.DESTROY", f"Destroyed VM {vm.instance_name}", resource=vm,
                          resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)
            expunge_now = True
    if expunge_now:
        expunge(ctx, vm_id)


def expunge(ctx: Context, vm_id: int) -> None:
    from management.compute import vms

    with step(ctx) as s:
        vm = _vm(s, vm_id)
        if vm.removed is not None:
            return
        states.transition(s, vm, "ExpungeOperation")
        for volume in _volumes(s, vm_id):  # data volumes outlive the VM: detached, still Ready (as CloudStack)
            if volume.volume_type != "ROOT" and volume.state != "Destroy":
                volume.vm_id, volume.device_id, volume.attached = None, None, None
        s.flush()
        targets = [(v.id, v.path, v.pool_id) for v in _volumes(s, vm_id) if v.path and v.pool_id]
        hosts = {pool_id: _host_for_pool(s, pool_id, vm) for _v, _p, pool_id in targets}
    failures = []
    for _volume_id, path, pool_id in targets:
        host = hosts.get(pool_id)
        if host is None:
            failures.append(f"{path}: no Up host reaches its pool")
            continue
        try:
            answer = agent_call(host, DeleteVolume(path=path))
            if not answer.ok:
                failures.append(f"{path}: {answer.details}")
        except Exception as error:  # the expunge task tries again later
            log.warning("deleting volume %s failed", path, exc_info=True)
            failures.append(f"{path}: {error}")
    if failures:
        raise ResourceUnavailable(f"Unable to expunge VM {vm.uuid}: could not delete volumes ({'; '.join(failures)})")
    with step(ctx) as s:
        vm = _vm(s, vm_id)
        now = utcnow()
        for volume in _volumes(s, vm_id):
            if volume.pool_id is not None:
                planner.release_pool(s, volume.pool_id, volume.size)
            events.record_usage(s, "VOLUME.DELETE", account_id=volume.account_id, zone_id=volume.zone_id,
                                resource_id=volume.id, resource_name=volume.name, size=volume.size)
            volume.state, volume.removed, volume.last_pool_id, volume.pool_id = "Expunged", now, volume.pool_id, None
        vm_lifecycle.run(vm_lifecycle.EXPUNGE_HOOKS, s, vm)
        vms.release_nics(s, vm, remove=True)
        vm.removed = now
        events.record(s, ctx.caller, "VM.EXPUNGE", f"Expunged VM {vm.instance_name}", resource=vm,
                      resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)


def _host_for_pool(session, pool_id: int, vm: VMInstance) -> Host | None:
    pool = session.get(StoragePool, pool_id)
    if pool is None:
        return None
    query = select(Host).where(Host.zone_id == pool.zone_id, Host.removed.is_(None), Host.status == "Up",
                               Host.type == "Routing")
    if pool.scope == "HOST":
        query = query.where(Host.id == pool.host_id)
    elif pool.scope == "CLUSTER":
        query = query.where(Host.cluster_id == pool.cluster_id)
    hosts = list(session.scalars(query.order_by(Host.id)))
    preferred = next((h for h in hosts if h.id == vm.last_host_id), None)
    return preferred or (hosts[0] if hosts else None)


def vms_to_expunge(session, older_than) -> list[int]:
    """Destroyed VMs past expunge.delay, Error VMs as old, and VMs left Expunging by a failed expunge."""
    return list(session.scalars(select(VMInstance.id).where(
        VMInstance.removed.is_(None),
        ((VMInstance.state.in_((states.DESTROYED, states.ERROR))) & (VMInstance.updated < older_than)) |
        (VMInstance.state == states.EXPUNGING)).order_by(VMInstance.id).limit(100)))


def volumes_on_pool(session, pool: StoragePool) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count(Volume.id)).where(Volume.pool_id == pool.id, Volume.removed.is_(None)))


def vms_on_host(session, host: Host) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count(VMInstance.id)).where(VMInstance.host_id == host.id,
                                                                  VMInstance.removed.is_(None)))
