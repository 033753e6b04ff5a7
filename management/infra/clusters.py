"""Clusters: a group of hosts of one hypervisor type in a pod."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.config import service as config
from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter, ResourceInUse
from management.events import service as events
from management.infra.models import Cluster, Host, Pod, Zone
from management.infra.zones import _allocation, _check_alive

HYPERVISORS = ("KVM", "Simulator")
CLUSTER_TYPES = ("CloudManaged", "ExternalManaged")
MANAGED_STATES = ("Managed", "PrepareUnmanaged", "Unmanaged", "PrepareUnmanagedError")
# Extra refusals for deleteCluster (the storage code adds "there are primary storage pools").
CLUSTER_DELETE_CHECKS: list[Callable[[Session, Cluster], str | None]] = []

# A cluster's own CPU and memory overprovisioning factors (updateConfiguration clusterid=...) live in its row,
# where the planner and listCapacity read them.
config.bind_column("cluster", "cpu.overprovisioning.factor", Cluster.cpu_overcommit_ratio)
config.bind_column("cluster", "mem.overprovisioning.factor", Cluster.mem_overcommit_ratio)


def hypervisor_name(value: str) -> str:
    for name in HYPERVISORS:
        if value.strip().lower() == name.lower():
            return name
    raise InvalidParameter(f"Invalid parameter hypervisor value={value}: supported hypervisors are "
                           + ", ".join(HYPERVISORS))


def check_placement(zone: Zone, pod: Pod) -> None:
    _check_alive(zone, "zone")
    _check_alive(pod, "pod")
    if pod.zone_id != zone.id:
        raise InvalidParameter(f"Invalid parameter podid value={pod.uuid}: pod {pod.name} is not in zone {zone.name}")


def add_cluster(session: Session, caller: Caller, *, zone: Zone, pod: Pod, name: str, cluster_type: str,
                hypervisor: str, allocation_state: str | None = None) -> Cluster:
    hypervisor = hypervisor_name(hypervisor)
    check_placement(zone, pod)
    if not name.strip():
        raise InvalidParameter("Invalid parameter clustername: the cluster name can not be empty")
    if session.scalar(select(func.count(Cluster.id)).where(Cluster.pod_id == pod.id, Cluster.removed.is_(None),
                                                           func.lower(Cluster.name) == name.lower())):
        raise InvalidParameter(f"A cluster with name {name} already exists in pod {pod.name}")
    cluster = Cluster(name=name, zone_id=zone.id, pod_id=pod.id, hypervisor_type=hypervisor, cluster_type=cluster_type,
                      allocation_state=_allocation(allocation_state, "Enabled"))
    session.add(cluster)
    session.flush()
    cluster.guid = cluster.uuid
    events.record(session, caller, "CLUSTER.CREATE", f"Successfully added cluster {name}", resource=cluster,
                  resource_type="Cluster")
    return cluster


def update_cluster(session: Session, caller: Caller, cluster: Cluster, *, name: str | None = None,
                   allocation_state: str | None = None, managed_state: str | None = None) -> Cluster:
    _check_alive(cluster, "cluster")
    if name and name.lower() != cluster.name.lower() and session.scalar(select(func.count(Cluster.id)).where(
            Cluster.pod_id == cluster.pod_id, Cluster.removed.is_(None), func.lower(Cluster.name) == name.lower())):
        raise InvalidParameter(f"A cluster with name {name} already exists in its pod")
    if name:
        cluster.name = name
    if allocation_state is not None:
        cluster.allocation_state = _allocation(allocation_state, cluster.allocation_state)
    if managed_state is not None:
        cluster.managed_state = managed_state
    session.flush()
    events.record(session, caller, "CLUSTER.UPDATE", f"Successfully updated cluster {cluster.name}",
                  resource=cluster, resource_type="Cluster")
    return cluster


def delete_cluster(session: Session, caller: Caller, cluster: Cluster) -> None:
    _check_alive(cluster, "cluster")
    if session.scalar(select(func.count(Host.id)).where(Host.cluster_id == cluster.id, Host.removed.is_(None))):
        raise ResourceInUse(f"The cluster {cluster.name} is not deletable because there are hosts in it")
    for check in CLUSTER_DELETE_CHECKS:
        reason = check(session, cluster)
        if reason:
            raise ResourceInUse(f"The cluster {cluster.name} is not deletable because {reason}")
    cluster.removed = utcnow()
    events.record(session, caller, "CLUSTER.DELETE", f"Successfully deleted cluster {cluster.name}",
                  resource=cluster, resource_type="Cluster")


def cluster_query(*, cluster: Cluster | None = None, name: str | None = None, zone: Zone | None = None,
                  pod: Pod | None = None, hypervisor: str | None = None, cluster_type: str | None = None,
                  allocation_state: str | None = None, managed_state: str | None = None,
                  keyword: str | None = None):
    query = select(Cluster).where(Cluster.removed.is_(None))
    filters = {Cluster.id: cluster.id if cluster else None, Cluster.name: name, Cluster.zone_id: zone.id if zone
               else None, Cluster.pod_id: pod.id if pod else None, Cluster.cluster_type: cluster_type,
               Cluster.allocation_state: allocation_state, Cluster.managed_state: managed_state}
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    if hypervisor:
        query = query.where(func.lower(Cluster.hypervisor_type) == hypervisor.lower())
    if keyword:
        query = query.where(Cluster.name.like(f"%{keyword}%"))
    return query.order_by(Cluster.id)
