"""Storage capacity for listCapacity / showcapacities: types 2 (storage used), 3 (storage allocated, with
``storage.overprovisioning.factor`` on shared pools), 6 (secondary storage) and 9 (local storage)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.config import service as config
from management.infra import capacity as infra_capacity
from management.infra import zones
from management.infra.capacity import (
    LOCAL_STORAGE,
    SECONDARY_STORAGE,
    STORAGE,
    STORAGE_ALLOCATED,
    CapacityRow,
)
from management.storage.models import ImageStore, PoolStatus, StoragePool

OVERPROVISIONED_TYPES = ("NetworkFilesystem", "SharedMountPoint")  # as CloudStack: NFS and shared mount points


def storage_capacity(session: Session, zone_id: int, pod_id: int | None, cluster_id: int | None) -> list[CapacityRow]:
    query = select(StoragePool).where(StoragePool.zone_id == zone_id, StoragePool.removed.is_(None),
                                      StoragePool.status.in_((PoolStatus.UP, PoolStatus.DISABLED)))
    if pod_id is not None:
        query = query.where(StoragePool.pod_id == pod_id)
    if cluster_id is not None:
        query = query.where(StoragePool.cluster_id == cluster_id)
    shared_total = shared_used = shared_alloc_total = shared_allocated = 0
    local_total = local_used = 0
    shared = local = False
    for pool in session.scalars(query):
        if pool.scope == "HOST":
            local = True
            local_total += pool.capacity_bytes
            local_used += pool.used_bytes
            continue
        shared = True
        shared_total += pool.capacity_bytes
        shared_used += pool.used_bytes
        ratio = (config.get_float(session, "storage.overprovisioning.factor", pool=pool.id)
                 if pool.pool_type in OVERPROVISIONED_TYPES else 1.0)
        shared_alloc_total += int(pool.capacity_bytes * ratio)
        shared_allocated += pool.allocated_bytes
    scope = {"zone_id": zone_id, "pod_id": pod_id, "cluster_id": cluster_id}
    rows = []
    if shared:  # no row for a scope without pools, as CloudStack has no capacity entry for it
        rows += [CapacityRow(STORAGE, total=shared_total, used=shared_used, **scope),
                 CapacityRow(STORAGE_ALLOCATED, total=shared_alloc_total, used=shared_allocated, **scope)]
    if local:
        rows.append(CapacityRow(LOCAL_STORAGE, total=local_total, used=local_used, **scope))
    if pod_id is None and cluster_id is None:  # image stores are zone-wide
        stores = session.scalars(select(ImageStore).where(ImageStore.zone_id == zone_id,
                                                          ImageStore.removed.is_(None))).all()
        if stores:
            rows.append(CapacityRow(SECONDARY_STORAGE, total=sum(s.total_bytes or 0 for s in stores),
                                    used=sum(s.used_bytes or 0 for s in stores), zone_id=zone_id))
    return rows


if storage_capacity not in infra_capacity.CAPACITY_PROVIDERS:
    infra_capacity.CAPACITY_PROVIDERS.append(storage_capacity)


def _zone_storage(session: Session, zone) -> str | None:
    """A zone keeps its primary and secondary storage until they are deleted first."""
    pools = session.scalar(select(func.count(StoragePool.id)).where(StoragePool.zone_id == zone.id,
                                                                     StoragePool.removed.is_(None)))
    stores = session.scalar(select(func.count(ImageStore.id)).where(ImageStore.zone_id == zone.id,
                                                                     ImageStore.removed.is_(None)))
    if pools:
        return f"it still has {pools} primary storage pool(s)"
    if stores:
        return f"it still has {stores} image store(s)"
    return None


def _pod_storage(session: Session, pod) -> str | None:
    pools = session.scalar(select(func.count(StoragePool.id)).where(StoragePool.pod_id == pod.id,
                                                                     StoragePool.removed.is_(None)))
    return f"it still has {pools} primary storage pool(s)" if pools else None


if _zone_storage not in zones.ZONE_DELETE_CHECKS:
    zones.ZONE_DELETE_CHECKS.append(_zone_storage)
    zones.POD_DELETE_CHECKS.append(_pod_storage)
