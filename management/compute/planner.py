"""Placement: which host (and which primary storage pool) a VM starts on, with capacity reserved atomically.

Candidates are the Up, Enabled hosts of Enabled clusters and pods of the zone whose hypervisor matches the
template, whose tags include the offering's host tags, and that are not in ``avoid``. Each candidate is
tried in order (``vm.allocation.algorithm``: random or firstfit) with one conditional UPDATE that adds the
VM's CPU and memory only if the host still has room (overprovisioning factors of the cluster or the global
settings): concurrent placements can never overcommit a host. Pool space is reserved the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from management.config import service as config
from management.errors import InsufficientCapacity
from management.infra.models import Cluster, Host, Pod, VlanRange
from management.storage.models import PoolStatus, StoragePool

MB = 1024 * 1024
SHARED_POOL_TYPES = ("NetworkFilesystem", "SharedMountPoint")


@dataclass
class Need:
    cpu_mhz: int  # cores x speed
    memory_bytes: int
    hypervisor: str | None  # None or "Any": whatever the host runs
    host_tags: str | None = None
    storage_tags: str | None = None
    local_storage: bool = False


def need_of(vm, offering, template) -> Need:
    hypervisor = vm.hypervisor_type or (template.hypervisor if template is not None else None)
    return Need(cpu_mhz=vm.cpu * vm.speed, memory_bytes=vm.memory * MB,
                hypervisor=None if hypervisor in (None, "", "Any", "None") else hypervisor,
                host_tags=offering.host_tags if offering else None,
                storage_tags=offering.storage_tags if offering else None,
                local_storage=bool(offering and offering.storage_type == "local"))


def _tags(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def ratios(session: Session, cluster: Cluster | None) -> tuple[float, float]:
    cpu = (cluster.cpu_overcommit_ratio if cluster and cluster.cpu_overcommit_ratio
           else config.get_float(session, "cpu.overprovisioning.factor"))
    mem = (cluster.mem_overcommit_ratio if cluster and cluster.mem_overcommit_ratio
           else config.get_float(session, "mem.overprovisioning.factor"))
    return cpu, mem


def candidate_hosts(session: Session, zone_id: int, need: Need, *, avoid: set[int] = frozenset(),
                    host_id: int | None = None, cluster_id: int | None = None,
                    pod_id: int | None = None) -> list[tuple[Host, Cluster]]:
    query = (select(Host, Cluster).join(Cluster, Cluster.id == Host.cluster_id).join(Pod, Pod.id == Host.pod_id)
             .where(Host.zone_id == zone_id, Host.removed.is_(None), Host.type == "Routing", Host.status == "Up",
                    Host.resource_state == "Enabled", Cluster.allocation_state == "Enabled",
                    Cluster.removed.is_(None), Pod.allocation_state == "Enabled", Pod.removed.is_(None)))
    if need.hypervisor:
        query = query.where(Host.hypervisor_type == need.hypervisor)
    for column, value in ((Host.id, host_id), (Host.cluster_id, cluster_id), (Host.pod_id, pod_id)):
        if value is not None:
            query = query.where(column == value)
    rows = [(h, c) for h, c in session.execute(query.order_by(Host.id)).all()
            if h.id not in avoid and _tags(need.host_tags) <= _tags(h.host_tags)]
    if config.get_value(session, "vm.allocation.algorithm") in ("random", "userdispersing", None):
        random.shuffle(rows)
    return rows


def guest_pod(session: Session, vm) -> int | None:
    """The pod whose range the VM's default NIC address comes from (None: a zone-wide range, or no address)."""
    from management.compute.vm_models import Nic

    return session.scalar(select(VlanRange.pod_id).join(Nic, Nic.vlan_id == VlanRange.id).where(
        Nic.vm_id == vm.id, Nic.is_default.is_(True), Nic.removed.is_(None)).limit(1))


def reserve_host(session: Session, host: Host, cluster: Cluster | None, need: Need) -> bool:
    """Add the VM's CPU and memory to the host's allocation if it still fits; False when it does not."""
    cpu_ratio, mem_ratio = ratios(session, cluster)
    cap_cpu = int(host.cpus * host.speed * cpu_ratio)
    cap_mem = int(host.memory * mem_ratio)
    done = session.execute(update(Host).where(
        Host.id == host.id, Host.cpu_allocated + need.cpu_mhz <= cap_cpu,
        Host.memory_allocated + need.memory_bytes <= cap_mem)
        .values(cpu_allocated=Host.cpu_allocated + need.cpu_mhz,
                memory_allocated=Host.memory_allocated + need.memory_bytes)
        .execution_options(synchronize_session=False))
    return done.rowcount == 1


def release_host(session: Session, host_id: int | None, cpu_mhz: int, memory_bytes: int) -> None:
    if host_id is None:
        return
    session.execute(update(Host).where(Host.id == host_id).values(
        cpu_allocated=case((Host.cpu_allocated > cpu_mhz, Host.cpu_allocated - cpu_mhz), else_=0),
        memory_allocated=case((Host.memory_allocated > memory_bytes, Host.memory_allocated - memory_bytes),
                              else_=0)).execution_options(synchronize_session=False))


def pool_capacity(session: Session, pool: StoragePool) -> int:
    factor = (config.get_float(session, "storage.overprovisioning.factor", pool=pool.id)
              if pool.pool_type in SHARED_POOL_TYPES else 1.0)
    return int(pool.capacity_bytes * factor)


def pools_for_host(session: Session, host: Host, need: Need) -> list[StoragePool]:
    """Up pools the host reaches: its cluster's, zone-wide ones of its hypervisor, or its local pool."""
    query = select(StoragePool).where(StoragePool.zone_id == host.zone_id, StoragePool.removed.is_(None),
                                      StoragePool.status == PoolStatus.UP)
    if need.local_storage:
        query = query.where(StoragePool.scope == "HOST", StoragePool.host_id == host.id)
    else:
        query = query.where(or_(
            (StoragePool.scope == "CLUSTER") & (StoragePool.cluster_id == host.cluster_id),
            (StoragePool.scope == "ZONE") & (StoragePool.hypervisor.in_((host.hypervisor_type, "Any")) |
                                             StoragePool.hypervisor.is_(None))))
    pools = [p for p in session.scalars(query.order_by(StoragePool.id)) if _tags(need.storage_tags) <= _tags(p.tags)]
    random.shuffle(pools)
    return pools


def pool_reachable(host: Host, pool: StoragePool) -> bool:
    if pool.scope == "HOST":
        return pool.host_id == host.id
    if pool.scope == "ZONE":
        return pool.zone_id == host.zone_id
    return pool.cluster_id == host.cluster_id


def reserve_pool(session: Session, pool: StoragePool, size: int) -> bool:
    done = session.execute(update(StoragePool).where(
        StoragePool.id == pool.id, StoragePool.status == PoolStatus.UP,
        StoragePool.allocated_bytes + size <= pool_capacity(session, pool))
        .values(allocated_bytes=StoragePool.allocated_bytes + size).execution_options(synchronize_session=False))
    return done.rowcount == 1


def release_pool(session: Session, pool_id: int | None, size: int) -> None:
    if pool_id is None or not size:
        return
    session.execute(update(StoragePool).where(StoragePool.id == pool_id).values(
        allocated_bytes=case((StoragePool.allocated_bytes > size, StoragePool.allocated_bytes - size), else_=0))
        .execution_options(synchronize_session=False))


@dataclass
class Placement:
    host: Host
    pool: StoragePool | None  # the pool reserved for a volume not yet on primary storage (else None)


# fn(session, vm) -> (hosts to avoid, host the VM must go to or None), asked at every placement; other domains
# add theirs (affinity groups)
PLACEMENT_RULES: list[Callable] = []


def place(session: Session, vm, need: Need, *, volume_size: int, volume_pool: StoragePool | None,
          avoid: set[int], host_id: int | None = None, cluster_id: int | None = None,
          room_for: Need | None = None) -> Placement:
    """Reserve a host (and, for a volume not yet placed, pool space) for ``vm``; 533 when nothing fits.

    ``volume_pool``: where the VM's root volume already is (the host must reach it). A VM whose guest address
    comes from a pod's range (Basic zones) stays in that pod (``vm.pod_id``, set from its address).
    ``room_for``: a bigger size the host must have room for (a VM moved so that it can be scaled up); only
    ``need`` stays reserved."""
    want = room_for or need
    for rule in PLACEMENT_RULES:
        excluded, required = rule(session, vm)
        avoid = avoid | excluded
        if required is not None:
            if host_id is not None and host_id != required:
                raise InsufficientCapacity(f"Unable to create a deployment for VM[User|{vm.instance_name}]: its "
                                           "host affinity group runs on another host")
            host_id = required
    for host, cluster in candidate_hosts(session, vm.zone_id, want, avoid=avoid, host_id=host_id,
                                         cluster_id=cluster_id, pod_id=guest_pod(session, vm)):
        if volume_pool is not None and not pool_reachable(host, volume_pool):
            continue
        if not reserve_host(session, host, cluster, want):
            continue
        if want is not need:
            release_host(session, host.id, want.cpu_mhz - need.cpu_mhz, want.memory_bytes - need.memory_bytes)
        if volume_pool is not None:
            return Placement(host, None)
        for pool in pools_for_host(session, host, need):
            if reserve_pool(session, pool, volume_size):
                return Placement(host, pool)
        release_host(session, host.id, need.cpu_mhz, need.memory_bytes)
    raise InsufficientCapacity(f"Unable to create a deployment for VM[User|{vm.instance_name}]")
