"""Primary storage pools: create, update, maintenance, delete, list (CloudStack's StorageManagerImpl).

The management server never mounts anything: the host agents of the pool's scope mount an NFS pool (see
``management.storage.pool_hosts``, which also sizes pools from their answers); a local path that exists on this machine is measured with ``shutil.disk_usage``; a pool
of a Simulator cluster (or zone-wide Simulator pool) is simulated, with a fixed capacity.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import CloudError, Conflict, InvalidParameter, PermissionDenied
from management.infra.models import Cluster, Host, Pod, Zone
from management.pagination import page
from management.storage.models import PoolStatus, StoragePool

log = logging.getLogger(__name__)
SIMULATED_CAPACITY = 1 << 40  # 1 TiB, when a simulated pool is created without capacitybytes
ZONE_WIDE_HYPERVISORS = ("KVM", "VMware", "Hyperv", "LXC", "Any", "Simulator")

# Counters of what still uses a pool (volumes, once they exist): each returns how many non-destroyed
# objects are on the pool. deleteStoragePool refuses while any is non-zero unless ``forced``.
POOL_USAGE_COUNTERS: list[Callable[[Session, StoragePool], int]] = []
# Work done when a pool goes into maintenance (stop/migrate the VMs on it, later issues); a hook that
# raises leaves the pool in ErrorInMaintenance.
MAINTENANCE_HOOKS: list[Callable[[Session, Caller, StoragePool], None]] = []


@dataclass
class PoolUrl:
    pool_type: str
    host: str
    path: str
    port: int


def parse_pool_url(url: str) -> PoolUrl:
    """nfs://host/path, SharedMountPoint://localhost/path, file:///path (or file://host/path)."""
    try:
        parsed = urlparse(url.strip())
        port = parsed.port or 0
    except ValueError:
        raise InvalidParameter(f"{url} is not a valid uri") from None
    scheme = (parsed.scheme or "").lower()
    host, path = parsed.hostname or "", unquote(parsed.path or "")
    if scheme == "nfs":
        if not host or not path or path == "/":
            raise InvalidParameter("host or path is null, should be nfs://hostname/path")
        return PoolUrl("NetworkFilesystem", host, path.rstrip("/") or "/", port or 2049)
    if scheme == "sharedmountpoint":
        if not path or path == "/":
            raise InvalidParameter("host or path is null, should be sharedmountpoint://localhost/path")
        return PoolUrl("SharedMountPoint", host or "localhost", path.rstrip("/"), 0)
    if scheme == "file":
        if not path or path == "/":
            raise InvalidParameter("path is null, should be file:///path or file://host/path")
        return PoolUrl("Filesystem", host, path.rstrip("/"), 0)
    raise InvalidParameter(f"{parsed.scheme or url} is not a supported scheme: use nfs://, "
                           "SharedMountPoint:// or file://")


def measure(path: str) -> tuple[int, int] | None:
    """(capacity, used) of a directory on this machine, or None if it does not exist here."""
    if not path or not os.path.isdir(path):
        return None
    usage = shutil.disk_usage(path)
    return usage.total, usage.total - usage.free


def create_pool(session: Session, caller: Caller, *, zone: Zone, name: str, url: str, pod: Pod | None,
                cluster: Cluster | None, scope: str | None, hypervisor: str | None, tags: str | None,
                capacity_bytes: int | None, provider: str | None, details: dict[str, str]) -> StoragePool:
    if zone.removed is not None:
        raise InvalidParameter(f"unable to find zone by id {zone.uuid}")
    if zone.allocation_state == "Disabled" and not caller.is_root_admin:
        raise PermissionDenied(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    if provider and provider != "DefaultPrimary":
        raise InvalidParameter(f"Unable to find storage provider {provider}; only DefaultPrimary is available")
    if capacity_bytes is not None and capacity_bytes < 0:
        raise InvalidParameter("capacitybytes must not be negative")
    scope_type = (scope or "cluster").upper()
    if scope_type not in ("CLUSTER", "ZONE"):
        raise InvalidParameter(f"invalid scope for pool {scope}")
    target = parse_pool_url(url)
    host: Host | None = None
    if scope_type == "ZONE":
        pod = cluster = None
        if not hypervisor:
            raise InvalidParameter("Missing parameter hypervisor. Hypervisor type is required to create zone wide "
                                   "primary storage.")
        match = next((h for h in ZONE_WIDE_HYPERVISORS if h.lower() == hypervisor.lower()), None)
        if match is None:
            raise InvalidParameter(f"Zone wide storage pool is not supported for hypervisor type {hypervisor}")
        hypervisor = match
        if target.pool_type == "Filesystem":
            raise InvalidParameter("A Filesystem (local) pool cannot be zone wide")
    else:
        if cluster is None:
            raise InvalidParameter("cluster id can't be null, if scope is cluster")
        if pod is None:
            raise InvalidParameter("Cluster id requires pod id")
        if cluster.removed is not None or pod.removed is not None:
            raise InvalidParameter("The pod or cluster is removed")
        if pod.zone_id != zone.id or cluster.pod_id != pod.id:
            raise InvalidParameter(f"Cluster {cluster.uuid} does not belong to pod {pod.uuid} in zone {zone.uuid}")
        hypervisor = cluster.hypervisor_type
        if target.pool_type == "Filesystem":
            host = _local_host(session, cluster, target.host)
            scope_type = "HOST"
    simulated = hypervisor == "Simulator"
    _check_duplicate(session, zone, target)
    total, used = _initial_capacity(target, simulated, capacity_bytes)
    pool = StoragePool(name=name, zone_id=zone.id, pod_id=pod.id if pod else None,
                       cluster_id=cluster.id if cluster else None, host_id=host.id if host else None,
                       scope=scope_type, pool_type=target.pool_type, host_address=target.host or
                       (host.private_ip if host else "localhost"), path=target.path, url=url.strip(),
                       port=target.port, status=PoolStatus.UP, capacity_bytes=total, used_bytes=used,
                       allocated_bytes=0, tags=normalise_tags(tags), hypervisor=hypervisor,
                       provider="DefaultPrimary", simulated=simulated,
                       details=json.dumps(details) if details else None)
    session.add(pool)
    session.flush()
    from management.storage import pool_hosts

    pool_hosts.prepare_on_hosts(session, pool, capacity_bytes is not None)
    return pool


def create_local_pool(session: Session, host: Host, *, path: str, capacity_bytes: int,
                      used_bytes: int = 0) -> StoragePool:
    """The HOST-scope Filesystem pool of a host's local storage (what an agent reports at connect;
    for the agent issue). Idempotent per host and path."""
    pool = session.scalar(select(StoragePool).where(StoragePool.host_id == host.id, StoragePool.path == path,
                                                    StoragePool.removed.is_(None)))
    if pool is None:
        pool = StoragePool(name=f"{host.name} Local Storage", zone_id=host.zone_id, pod_id=host.pod_id,
                           cluster_id=host.cluster_id, host_id=host.id, scope="HOST", pool_type="Filesystem",
                           host_address=host.private_ip or "localhost", path=path, url=f"file://{path}",
                           hypervisor=host.hypervisor_type, simulated=host.hypervisor_type == "Simulator")
        session.add(pool)
    pool.capacity_bytes, pool.used_bytes = capacity_bytes, used_bytes
    session.flush()
    return pool


def _local_host(session: Session, cluster: Cluster, name: str) -> Host:
    hosts = session.scalars(select(Host).where(Host.cluster_id == cluster.id, Host.removed.is_(None))).all()
    if name and name != "localhost":
        found = [h for h in hosts if name in (h.private_ip, h.name, h.uuid)]
    else:
        found = hosts if len(hosts) == 1 else []
    if len(found) != 1:
        raise InvalidParameter("A Filesystem (local) pool belongs to one host: use file://<host ip or name>/path "
                               "naming a host of the cluster (file:///path works when the cluster has one host)")
    return found[0]


def _check_duplicate(session: Session, zone: Zone, target: PoolUrl) -> None:
    query = select(StoragePool.id).where(StoragePool.zone_id == zone.id, StoragePool.removed.is_(None),
                                         StoragePool.pool_type == target.pool_type,
                                         StoragePool.host_address == target.host, StoragePool.path == target.path)
    if target.pool_type != "NetworkFilesystem":
        return  # local/shared mount points may repeat the same path on different hosts/clusters
    if session.scalar(query) is not None:
        raise InvalidParameter(f"Storage pool nfs://{target.host}{target.path} is already in use in zone {zone.name}")


def _initial_capacity(target: PoolUrl, simulated: bool, capacity_bytes: int | None) -> tuple[int, int]:
    if simulated:
        return (capacity_bytes if capacity_bytes else SIMULATED_CAPACITY), 0
    if target.pool_type != "NetworkFilesystem":
        measured = measure(target.path)
        if measured is not None:
            total, used = measured
            return (min(total, capacity_bytes) if capacity_bytes else total), used
    return capacity_bytes or 0, 0


def normalise_tags(tags: str | None) -> str | None:
    if tags is None:
        return None
    items = [t.strip() for t in tags.split(",") if t.strip()]
    return ",".join(items) or None


def update_pool(session: Session, caller: Caller, pool: StoragePool, *, name: str | None, tags: str | None,
                enabled: bool | None, capacity_bytes: int | None) -> StoragePool:
    _check_live(pool)
    if name is not None:
        if not name.strip():
            raise InvalidParameter("Storage pool name cannot be empty")
        pool.name = name.strip()
    if tags is not None:
        pool.tags = normalise_tags(tags)
    if capacity_bytes is not None:
        if capacity_bytes < max(pool.allocated_bytes, 0):
            raise InvalidParameter(f"capacitybytes {capacity_bytes} is less than what is allocated on the pool "
                                   f"({pool.allocated_bytes})")
        pool.capacity_bytes = capacity_bytes
    if enabled is not None:
        wanted = PoolStatus.UP if enabled else PoolStatus.DISABLED
        if pool.status != wanted:
            if pool.status not in (PoolStatus.UP, PoolStatus.DISABLED):
                raise InvalidParameter(f"Storage pool {pool.uuid} is in state {pool.status}; it can be enabled or "
                                       "disabled only when Up or Disabled")
            _transition(session, pool, (pool.status,), wanted)
    session.flush()
    return pool


def delete_pool(session: Session, caller: Caller, pool: StoragePool, *, forced: bool) -> None:
    _check_live(pool)
    if not forced:
        in_use = sum(counter(session, pool) for counter in POOL_USAGE_COUNTERS)
        if in_use:
            raise CloudError(f"Cannot delete pool {pool.name} as there are associated non-destroyed vols for this "
                             "pool")
    pool.status, pool.removed = PoolStatus.REMOVED, utcnow()
    session.flush()
    from management.storage import pool_hosts

    pool_hosts.release_on_hosts(session, pool)


def check_maintenance_start(pool: StoragePool) -> None:
    _check_live(pool)
    if pool.status not in (PoolStatus.UP, PoolStatus.DISABLED, PoolStatus.ERROR_IN_MAINTENANCE):
        raise InvalidParameter(f"Primary storage with id {pool.uuid} is not ready for migration, as the status "
                               f"is:{pool.status}")


def start_maintenance(session: Session, caller: Caller, pool: StoragePool) -> StoragePool:
    """Up/Disabled/ErrorInMaintenance -> PrepareForMaintenance -> Maintenance (ErrorInMaintenance when a
    maintenance hook fails)."""
    check_maintenance_start(pool)
    _transition(session, pool, (PoolStatus.UP, PoolStatus.DISABLED, PoolStatus.ERROR_IN_MAINTENANCE),
                PoolStatus.PREPARE_FOR_MAINTENANCE)
    try:
        with session.begin_nested():
            for hook in MAINTENANCE_HOOKS:
                hook(session, caller, pool)
    except CloudError as error:  # the job still succeeds: the pool shows ErrorInMaintenance (retry or cancel)
        log.warning("maintenance of storage pool %s failed: %s", pool.uuid, error.message)
        _transition(session, pool, (PoolStatus.PREPARE_FOR_MAINTENANCE,), PoolStatus.ERROR_IN_MAINTENANCE)
        return pool
    _transition(session, pool, (PoolStatus.PREPARE_FOR_MAINTENANCE,), PoolStatus.MAINTENANCE)
    return pool


def check_maintenance_cancel(pool: StoragePool) -> None:
    _check_live(pool)
    if pool.status not in (PoolStatus.MAINTENANCE, PoolStatus.PREPARE_FOR_MAINTENANCE,
                           PoolStatus.ERROR_IN_MAINTENANCE):
        raise InvalidParameter(f"Primary storage with id {pool.uuid} is not ready to complete migration, as the "
                               f"status is:{pool.status}")


def cancel_maintenance(session: Session, caller: Caller, pool: StoragePool) -> StoragePool:
    """Maintenance/PrepareForMaintenance/ErrorInMaintenance -> CancelMaintenance -> Up."""
    check_maintenance_cancel(pool)
    _transition(session, pool, (PoolStatus.MAINTENANCE, PoolStatus.PREPARE_FOR_MAINTENANCE,
                                PoolStatus.ERROR_IN_MAINTENANCE), PoolStatus.CANCEL_MAINTENANCE)
    _transition(session, pool, (PoolStatus.CANCEL_MAINTENANCE,), PoolStatus.UP)
    return pool


def _transition(session: Session, pool: StoragePool, expected: tuple[str, ...], new: str) -> None:
    """Compare-and-set of the pool's status: a concurrent change makes this fail, not overwrite."""
    result = session.execute(update(StoragePool).where(StoragePool.id == pool.id, StoragePool.status.in_(expected))
                             .values(status=new).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.refresh(pool)
        raise Conflict(entity="Storage pool", id=pool.uuid, state=pool.status, expected="|".join(expected))
    pool.status = new
    session.flush()


def _check_live(pool: StoragePool) -> None:
    if pool.removed is not None:
        raise InvalidParameter(f"Unable to find storage pool by id {pool.uuid}")


def measure_pool(pool: StoragePool) -> tuple[int, int] | None:
    """(capacity, used) of a pool whose files are on this machine (a local or shared-mount path); None for
    simulated and NFS pools, which the hosts measure (pool_hosts.refresh_stats). Writes nothing."""
    if pool.simulated or pool.pool_type == "NetworkFilesystem":
        return None
    return measure(pool.path)


def list_pools(session: Session, *, pool_id: int | None, name: str | None, zone_id: int | None,
               pod_id: int | None, cluster_id: int | None, host_id: int | None, address: str | None,
               path: str | None, scope: str | None, status: str | None, keyword: str | None, offset: int,
               limit: int | None) -> tuple[list[StoragePool], int]:
    query = select(StoragePool).where(StoragePool.removed.is_(None))
    for column, value in ((StoragePool.id, pool_id), (StoragePool.name, name), (StoragePool.zone_id, zone_id),
                          (StoragePool.pod_id, pod_id), (StoragePool.host_address, address),
                          (StoragePool.path, path), (StoragePool.host_id, host_id)):
        if value is not None:
            query = query.where(column == value)
    if cluster_id is not None:  # zone-wide pools serve every cluster of their zone
        cluster_zone = select(Cluster.zone_id).where(Cluster.id == cluster_id).scalar_subquery()
        query = query.where(or_(StoragePool.cluster_id == cluster_id,
                                (StoragePool.scope == "ZONE") & (StoragePool.zone_id == cluster_zone)))
    if scope is not None:
        query = query.where(func.upper(StoragePool.scope) == scope.upper())
    if status is not None:
        query = query.where(func.lower(StoragePool.status) == status.lower())
    if keyword:
        query = query.where(StoragePool.name.like(f"%{keyword}%"))
    return page(session, query.order_by(StoragePool.id), offset, limit)
