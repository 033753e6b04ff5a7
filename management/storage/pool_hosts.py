"""Primary storage pools on the hosts that use them (CloudStack's ModifyStoragePool / GetStorageStats).

A pool of a KVM cluster (or a zone-wide KVM pool) lives on every host of its scope at ``local_path(pool)``:
an NFS export is mounted by each host's agent at ``/mnt/<pool uuid>``; a SharedMountPoint or local path is
used where it is. createStoragePool asks the Up hosts of the scope to prepare the pool and takes its size
from their answer (so ``capacitybytes`` is not needed); an agent that (re)connects is asked to prepare the
pools it should reach; a periodic task refreshes each pool's used bytes from one Up host. Simulated pools
(Simulator clusters) have no hosts to ask.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent.protocol import GetStorageStats, ModifyStoragePool
from management.db import db
from management.errors import ResourceUnavailable
from management.infra import agent_link, agent_tasks
from management.infra.models import Host
from management.jobs.periodic import periodic
from management.storage.models import PoolStatus, StoragePool

log = logging.getLogger(__name__)
NFS_MOUNT_ROOT = "/mnt"
STATS_INTERVAL = 60.0  # seconds between refreshes of the pools' used bytes (CloudStack: storage.stats.interval)


def local_path(pool: StoragePool) -> str:
    """Where the pool's files are on a host: the NFS mount point, or the path itself."""
    if pool.pool_type == "NetworkFilesystem":
        return f"{NFS_MOUNT_ROOT}/{pool.uuid}"
    return pool.path


def _command(pool: StoragePool, add: bool = True) -> ModifyStoragePool:
    return ModifyStoragePool(add=add, pool_uuid=pool.uuid, pool_type=pool.pool_type, host=pool.host_address or "",
                             path=pool.path, local_path=local_path(pool))


def reaching(session: Session, pool: StoragePool, *, prefer: int | None = None,
             enabled_only: bool = False) -> list[Host]:
    """The Up hosts that reach ``pool`` (its own host, its cluster's, or the zone's for a zone-wide pool),
    ``prefer`` first: where an operation on the pool's files can run."""
    query = select(Host).where(Host.removed.is_(None), Host.status == "Up", Host.type == "Routing")
    if pool.scope == "HOST":
        query = query.where(Host.id == pool.host_id)
    elif pool.scope == "ZONE":
        query = query.where(Host.zone_id == pool.zone_id)
    else:
        query = query.where(Host.cluster_id == pool.cluster_id)
    if enabled_only:
        query = query.where(Host.resource_state == "Enabled")
    hosts = list(session.scalars(query.order_by(Host.id)))
    hosts.sort(key=lambda h: h.id != prefer)
    return hosts


def hosts_of(session: Session, pool: StoragePool, *, up: bool = True) -> list[Host]:
    """The agent-driven hosts that should reach ``pool``."""
    if pool.simulated or pool.scope == "HOST":
        return []
    query = select(Host).where(Host.removed.is_(None), Host.type == "Routing", Host.hypervisor_type != "Simulator")
    if pool.scope == "CLUSTER":
        query = query.where(Host.cluster_id == pool.cluster_id)
    else:
        query = query.where(Host.zone_id == pool.zone_id)
        if pool.hypervisor and pool.hypervisor not in ("Any",):
            query = query.where(Host.hypervisor_type == pool.hypervisor)
    if up:
        query = query.where(Host.status == "Up")
    return list(session.scalars(query.order_by(Host.id)))


def prepare_on_hosts(session: Session, pool: StoragePool, capacity_given: bool) -> None:
    """createStoragePool: the Up hosts of the scope prepare the pool; the first answer sizes it. With Up
    hosts and none able to use the pool, creation fails with their reasons (and nothing is kept)."""
    hosts = hosts_of(session, pool)
    if not hosts:
        if not capacity_given and not pool.capacity_bytes:
            log.info("storage pool %s has no Up host to measure it yet", pool.name)
        return
    errors, sized = [], False
    for host in hosts:
        answer = agent_link.call(host, _command(pool), timeout=120)
        if not answer.ok:
            errors.append(f"{host.name}: {answer.details}")
            continue
        if not sized:
            capacity, used = int(answer.data.get("capacity", 0)), int(answer.data.get("used", 0))
            if not capacity_given or not pool.capacity_bytes:
                pool.capacity_bytes = capacity
            elif capacity:
                pool.capacity_bytes = min(pool.capacity_bytes, capacity)
            pool.used_bytes, sized = used, True
    if not sized:
        raise ResourceUnavailable(f"Failed to add storage pool {pool.name}: no host could use it ({'; '.join(errors)})")
    session.flush()


def release_on_hosts(session: Session, pool: StoragePool) -> None:
    """deleteStoragePool: the hosts unmount it (best effort, not waited for)."""
    for host in hosts_of(session, pool):
        agent_link.post(host, _command(pool, add=False))


def prepare_for_host(session: Session, host: Host) -> None:
    """An agent (re)connected: ask it to prepare the pools it should reach (not waited for)."""
    if host.hypervisor_type == "Simulator":
        return
    reach = (StoragePool.scope == "ZONE") & (StoragePool.zone_id == host.zone_id)
    if host.cluster_id is not None:
        reach = or_(reach, (StoragePool.scope == "CLUSTER") & (StoragePool.cluster_id == host.cluster_id))
    pools = session.scalars(select(StoragePool).where(
        StoragePool.removed.is_(None), StoragePool.simulated.is_(False), reach)).all()
    for pool in pools:
        agent_link.post(host, _command(pool))


def _save_local_figures() -> None:
    """Persist the size of what this node sees itself (Local image stores, mounted NFS stores, local and
    shared-mount pools): listCapacity sums the saved figures, the list commands only show fresh ones."""
    from management.storage import images, pools as pool_service
    from management.storage.models import ImageStore

    with db.session() as session:
        for store in session.scalars(select(ImageStore).where(ImageStore.removed.is_(None))).all():
            measured = images.measure(store)
            if measured is not None and measured != (store.total_bytes, store.used_bytes):
                store.total_bytes, store.used_bytes = measured
        for pool in session.scalars(select(StoragePool).where(StoragePool.removed.is_(None))).all():
            measured = pool_service.measure_pool(pool)
            if measured is not None and measured != (pool.capacity_bytes, pool.used_bytes):
                pool.capacity_bytes, pool.used_bytes = measured


@periodic("storage.stats", interval=STATS_INTERVAL)
def refresh_stats() -> None:
    _save_local_figures()
    with db.read_session() as session:
        pools = session.scalars(select(StoragePool).where(
            StoragePool.removed.is_(None), StoragePool.simulated.is_(False), StoragePool.scope != "HOST",
            StoragePool.status == PoolStatus.UP)).all()
        work = [(pool.id, _command(pool).local_path, (hosts_of(session, pool) or [None])[0]) for pool in pools]
    for pool_id, path, host in work:
        if host is None:
            continue
        answer = agent_link.call(host, GetStorageStats(local_path=path), timeout=60)
        if not answer.ok:
            log.info("storage stats of pool %s from host %s: %s", pool_id, host.name, answer.details)
            continue
        with db.session() as session:
            pool = session.get(StoragePool, pool_id)
            if pool is not None and pool.removed is None:
                pool.used_bytes = int(answer.data.get("used", pool.used_bytes or 0))
                if answer.data.get("capacity") and not pool.capacity_bytes:
                    pool.capacity_bytes = int(answer.data["capacity"])


if prepare_for_host not in agent_tasks.STARTUP_HANDLERS:
    agent_tasks.STARTUP_HANDLERS.append(prepare_for_host)
