"""Capacity (listCapacity and ``showcapacities``), computed from the tables on demand.

Each provider in ``CAPACITY_PROVIDERS`` is called as ``provider(session, zone_id, pod_id, cluster_id)``
for one scope (a zone; a pod when ``pod_id`` is set; a cluster when ``cluster_id`` is set) and returns
``CapacityRow``s for that scope. Storage capacities (types 2 STORAGE, 3 STORAGE_ALLOCATED,
6 SECONDARY_STORAGE, 9 LOCAL_STORAGE) are the storage code's: it appends its provider to
``CAPACITY_PROVIDERS``.

Rules (as CloudStack's capacity checker counts them): only hosts that are not removed, of type Routing,
with status Up and resource state Enabled count. Memory total = host memory x the cluster's memory
overcommit ratio (else ``mem.overprovisioning.factor``), CPU total = cores x MHz x the cluster's CPU ratio
(else ``cpu.overprovisioning.factor``); used = what VMs reserved on the host rows. Public (4) and direct
(8) IPs count the rows of ``user_ip_address`` (allocated = not Free); private IPs (5) count the pods'
management ranges against the hosts using addresses in them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from management.config import service as config
from management.infra import net
from management.infra.models import Cluster, Host, IpAddress, Pod, VlanRange, Zone

MEMORY, CPU, STORAGE, STORAGE_ALLOCATED, PUBLIC_IP, PRIVATE_IP, SECONDARY_STORAGE = 0, 1, 2, 3, 4, 5, 6
VLAN, DIRECT_IP, LOCAL_STORAGE, CPU_CORE = 7, 8, 9, 90
NAMES = {MEMORY: "MEMORY", CPU: "CPU", STORAGE: "STORAGE", STORAGE_ALLOCATED: "STORAGE_ALLOCATED",
         PUBLIC_IP: "VIRTUAL_NETWORK_PUBLIC_IP", PRIVATE_IP: "PRIVATE_IP", SECONDARY_STORAGE: "SECONDARY_STORAGE",
         VLAN: "VLAN", DIRECT_IP: "DIRECT_ATTACHED_PUBLIC_IP", LOCAL_STORAGE: "LOCAL_STORAGE", CPU_CORE: "CPU_CORE"}


@dataclass
class CapacityRow:
    type: int
    zone_id: int
    total: int
    used: int
    pod_id: int | None = None
    cluster_id: int | None = None
    allocated: int | None = None

    @property
    def percent(self) -> float:
        return self.used * 100.0 / self.total if self.total else 0.0


def percent_text(row: CapacityRow) -> str:
    return f"{row.percent:.2f}"


def _active_hosts(zone_id: int, pod_id: int | None, cluster_id: int | None):
    query = select(Host, Cluster).outerjoin(Cluster, Cluster.id == Host.cluster_id).where(
        Host.zone_id == zone_id, Host.removed.is_(None), Host.type == "Routing", Host.status == "Up",
        Host.resource_state == "Enabled")
    if pod_id is not None:
        query = query.where(Host.pod_id == pod_id)
    if cluster_id is not None:
        query = query.where(Host.cluster_id == cluster_id)
    return query


def host_capacity(session: Session, zone_id: int, pod_id: int | None, cluster_id: int | None) -> list[CapacityRow]:
    """Memory and CPU of the active hosts of the scope, summed in the database (one query, any size)."""
    cpu_factor = config.get_float(session, "cpu.overprovisioning.factor")
    mem_factor = config.get_float(session, "mem.overprovisioning.factor")
    cpu_ratio = func.coalesce(func.nullif(Cluster.cpu_overcommit_ratio, 0), cpu_factor)
    mem_ratio = func.coalesce(func.nullif(Cluster.mem_overcommit_ratio, 0), mem_factor)
    query = _active_hosts(zone_id, pod_id, cluster_id).with_only_columns(
        func.sum(Host.memory * mem_ratio), func.sum(Host.memory_allocated),
        func.sum(Host.cpus * Host.speed * cpu_ratio), func.sum(Host.cpu_allocated))
    mem_total, mem_used, cpu_total, cpu_used = session.execute(query).one()
    scope = {"zone_id": zone_id, "pod_id": pod_id, "cluster_id": cluster_id}
    return [CapacityRow(MEMORY, total=int(mem_total or 0), used=int(mem_used or 0), **scope),
            CapacityRow(CPU, total=int(cpu_total or 0), used=int(cpu_used or 0), **scope)]


def ip_capacity(session: Session, zone_id: int, pod_id: int | None, cluster_id: int | None) -> list[CapacityRow]:
    if cluster_id is not None:
        return []
    rows = []
    for kind, virtual in ((PUBLIC_IP, True), (DIRECT_IP, False)):
        if kind == PUBLIC_IP and pod_id is not None:
            continue  # public ranges are zone-wide
        query = (select(func.count(IpAddress.id), func.sum(case((IpAddress.state != "Free", 1), else_=0)))
                 .join(VlanRange, VlanRange.id == IpAddress.vlan_id)
                 .where(IpAddress.zone_id == zone_id, VlanRange.removed.is_(None),
                        VlanRange.for_virtual_network.is_(virtual)))
        if pod_id is not None:
            query = query.where(VlanRange.pod_id == pod_id)
        total, used = session.execute(query).one()
        rows.append(CapacityRow(kind, zone_id=zone_id, pod_id=pod_id, total=total or 0, used=int(used or 0)))
    return rows


def private_ip_capacity(session: Session, zone_id: int, pod_id: int | None,
                        cluster_id: int | None) -> list[CapacityRow]:
    if cluster_id is not None:
        return []
    query = select(Pod).where(Pod.zone_id == zone_id, Pod.removed.is_(None), Pod.start_ip.is_not(None))
    if pod_id is not None:
        query = query.where(Pod.id == pod_id)
    pods = session.scalars(query).all()
    total = sum(net.size(p.start_ip, p.end_ip or p.start_ip) for p in pods)
    used = 0
    if pods:
        hosts = session.execute(select(Host.pod_id, Host.private_ip).where(
            Host.pod_id.in_([p.id for p in pods]), Host.removed.is_(None))).all()
        by_id = {p.id: p for p in pods}
        used = sum(1 for pid, address in hosts
                   if net.contains(by_id[pid].start_ip, by_id[pid].end_ip or by_id[pid].start_ip, address))
    return [CapacityRow(PRIVATE_IP, zone_id=zone_id, pod_id=pod_id, total=total, used=used)]


CapacityProvider = Callable[[Session, int, "int | None", "int | None"], list[CapacityRow]]
CAPACITY_PROVIDERS: list[CapacityProvider] = [host_capacity, ip_capacity, private_ip_capacity]


def capacities(session: Session, *, zone_id: int, pod_id: int | None = None, cluster_id: int | None = None,
               types: set[int] | None = None) -> list[CapacityRow]:
    """Every provider's rows for one scope, ordered by type."""
    rows: list[CapacityRow] = []
    for provider in CAPACITY_PROVIDERS:
        rows.extend(provider(session, zone_id, pod_id, cluster_id))
    if types is not None:
        rows = [r for r in rows if r.type in types]
    return sorted(rows, key=lambda r: r.type)


def list_capacity(session: Session, *, zone: Zone | None, pod: Pod | None, cluster: Cluster | None,
                  type_: int | None, sort_by_usage: bool) -> list[CapacityRow]:
    """listCapacity: one row per type for each zone, or for the pod / cluster asked for."""
    types = {type_} if type_ is not None else None
    if cluster is not None:
        rows = capacities(session, zone_id=cluster.zone_id, pod_id=cluster.pod_id, cluster_id=cluster.id,
                          types=types)
    elif pod is not None:
        rows = capacities(session, zone_id=pod.zone_id, pod_id=pod.id, types=types)
    else:
        zone_ids = [zone.id] if zone is not None else session.scalars(
            select(Zone.id).where(Zone.removed.is_(None)).order_by(Zone.id)).all()
        rows = [row for zid in zone_ids for row in capacities(session, zone_id=zid, types=types)]
    if sort_by_usage:
        rows.sort(key=lambda r: r.percent, reverse=True)
    return rows
