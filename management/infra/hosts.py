"""Hosts: registration from an agent's startup report, addHost, admin state and maintenance.

``status`` is the connection state (Connecting, Up, Down, Alert, Disconnected, Removed) and
``resource_state`` the admin state (Enabled, Disabled, PrepareForMaintenance, Maintenance...).

Simulator hosts need no process: ``addHost hypervisor=Simulator url=http://sim/c1/h1`` builds the startup
report itself from ``SIMULATOR_DEFAULTS`` (16 cores x 2000 MHz in 2 sockets, 32 GiB RAM, 1 TiB local
storage), overridable in the URL query: ``?cpus=8&cpu_speed=2400&sockets=1&memory_gb=16&local_gb=500&ip=
10.1.1.5``. Its guid is derived from the URL (host and path, query ignored), so adding the same URL twice
is refused. KVM hosts are registered by their running agent (``register_host``, called by the agent
channel) and ``addHost url=http://IP`` attaches that registered host to the cluster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from agent.protocol import StartupReport
from management.context import Caller
from management.db import utcnow
from management.errors import CloudError, Conflict, InvalidParameter, ResourceInUse
from management.events import service as events
from management.infra import clusters as cluster_service
from management.infra import net
from management.infra.models import Cluster, Host, Pod, Zone
from management.version import CLOUDSTACK_VERSION

GIB = 1024**3
SIMULATOR_DEFAULTS = {"cpus": 16, "cpu_speed": 2000, "sockets": 2, "memory_gb": 32, "local_gb": 1024}
SIMULATOR_VERSION = "1.0"
MAINTENANCE_STATES = ("PrepareForMaintenance", "Maintenance", "ErrorInMaintenance", "ErrorInPrepareForMaintenance")
DELETABLE_STATES = ("Maintenance", "Disabled", "ErrorInMaintenance", "ErrorInPrepareForMaintenance", "Error",
                    "Degraded")

# Hooks for the VM code. HOST_DELETE_CHECKS: (session, host, forced) -> reason the host can't go, or None
# ("there are 3 VMs on it"). HOST_EVACUATORS: (session, host) -> True once no VM is left on the host
# (migrating them away); prepareHostForMaintenance reaches Maintenance only when all return True.
# RECONNECT_HANDLERS: hypervisor -> (session, host) asking its agent to reconnect (KVM, next issue).
HOST_DELETE_CHECKS: list[Callable[[Session, Host, bool], str | None]] = []
HOST_EVACUATORS: list[Callable[[Session, Host], bool]] = []
RECONNECT_HANDLERS: dict[str, Callable[[Session, Host], None]] = {}


class AgentNotFound(CloudError):
    code, cs_code = 530, 4250


def _tags(value: str | None) -> str | None:
    if value is None:
        return None
    return ",".join(t.strip() for t in value.split(",") if t.strip())


def register_host(session: Session, report: StartupReport, *, zone: Zone, pod: Pod | None = None,
                  cluster: Cluster | None = None, url: str | None = None, tags: str | None = None) -> Host:
    """Create or update the host an agent reported (by guid) and bring it Up (Connecting -> Up)."""
    host = session.scalar(select(Host).where(Host.guid == report.guid, Host.removed.is_(None)))
    if host is None:
        host = Host(guid=report.guid, name=report.name, type="Routing", status="Creating", resource_state="Enabled",
                    zone_id=zone.id, hypervisor_type=report.hypervisor)
        session.add(host)
    elif host.cluster_id and ((cluster is not None and host.cluster_id != cluster.id) or host.zone_id != zone.id):
        raise InvalidParameter(f"The host {host.name} (guid {report.guid}) already belongs to another cluster")
    host.status = "Connecting"  # AgentConnected
    host.zone_id = zone.id
    if pod is not None:
        host.pod_id = pod.id
    if cluster is not None:
        host.cluster_id, host.pod_id = cluster.id, cluster.pod_id
    if url is not None:
        host.url = url
    if tags is not None:
        host.host_tags = _tags(tags)
    host.hypervisor_type, host.hypervisor_version = report.hypervisor, report.hypervisor_version
    host.cpus, host.cpu_sockets, host.speed = report.cpus, report.cpu_sockets, report.cpu_speed_mhz
    host.memory, host.local_storage = report.memory_bytes, report.local_storage_bytes
    host.private_ip, host.version = report.private_ip, report.agent_version
    host.capabilities = ",".join(report.capabilities) or None
    host.details = json.dumps(report.model_dump(mode="json"))
    host.status = "Up"  # Ready: the startup report was processed
    host.last_ping, host.disconnected = utcnow(), None
    session.flush()
    return host


def simulator_report(url: str) -> StartupReport:
    """The startup report of a simulated host, from its URL (see the module docstring)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise InvalidParameter(f"Invalid parameter url value={url}: expected a URL like http://sim/c1/h1")
    values = dict(SIMULATOR_DEFAULTS)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    for key in [k for k in values if k in query]:
        try:
            values[key] = int(query[key])
        except ValueError:
            raise InvalidParameter(f"Invalid parameter url value={url}: {key} must be a number") from None
        if values[key] < 1:
            raise InvalidParameter(f"Invalid parameter url value={url}: {key} must be positive")
    path = parts.path.rstrip("/")
    guid = f"sim://{parts.hostname.lower()}{path}"
    digest = int(hashlib.sha1(guid.encode()).hexdigest(), 16)
    address = query.get("ip") or f"172.{16 + digest % 16}.{(digest >> 4) % 256}.{(digest >> 12) % 254 + 1}"
    net.ip("url", address)
    name = "-".join(p for p in [parts.hostname, *path.split("/")] if p)
    return StartupReport(guid=guid, name=name, hypervisor="Simulator", hypervisor_version=SIMULATOR_VERSION,
                         cpus=values["cpus"], cpu_sockets=values["sockets"], cpu_speed_mhz=values["cpu_speed"],
                         memory_bytes=values["memory_gb"] * GIB, local_storage_bytes=values["local_gb"] * GIB,
                         private_ip=address, capabilities=["hvm", "snapshot"], agent_version=CLOUDSTACK_VERSION)


def _cluster_for(session: Session, caller: Caller, *, zone: Zone, pod: Pod, cluster: Cluster | None,
                 cluster_name: str | None, hypervisor: str) -> Cluster:
    if cluster is None and cluster_name:
        cluster = session.scalar(select(Cluster).where(Cluster.pod_id == pod.id, Cluster.name == cluster_name,
                                                       Cluster.removed.is_(None)))
        if cluster is None:  # as CloudStack: addHost with a new cluster name creates the cluster
            return cluster_service.add_cluster(session, caller, zone=zone, pod=pod, name=cluster_name,
                                               cluster_type="CloudManaged", hypervisor=hypervisor)
    if cluster is None:
        raise InvalidParameter("Unable to add the host: parameter clusterid or clustername is required")
    if cluster.removed is not None or cluster.pod_id != pod.id:
        raise InvalidParameter(f"Invalid parameter clusterid value={cluster.uuid}: the cluster is not in pod "
                               f"{pod.name}")
    if cluster.hypervisor_type != hypervisor:
        raise InvalidParameter(f"Invalid parameter hypervisor value={hypervisor}: cluster {cluster.name} is a "
                               f"{cluster.hypervisor_type} cluster")
    return cluster


def add_host(session: Session, caller: Caller, *, zone: Zone, pod: Pod, url: str, hypervisor: str,
             cluster: Cluster | None = None, cluster_name: str | None = None, tags: str | None = None,
             allocation_state: str | None = None) -> Host:
    hypervisor = cluster_service.hypervisor_name(hypervisor)
    cluster_service.check_placement(zone, pod)
    state = {None: "Enabled", "enabled": "Enabled", "enable": "Enabled", "disabled": "Disabled",
             "disable": "Disabled"}.get(allocation_state.lower() if allocation_state else None)
    if state is None:
        raise InvalidParameter(f"Invalid parameter allocationstate value={allocation_state}: allowed values are "
                               "Enabled, Disabled")
    if hypervisor == "Simulator":
        report = simulator_report(url)
        if session.scalar(select(Host.id).where(Host.guid == report.guid, Host.removed.is_(None))):
            raise InvalidParameter(f"A host with url {url} ({report.guid}) already exists")
        cluster = _cluster_for(session, caller, zone=zone, pod=pod, cluster=cluster, cluster_name=cluster_name,
                               hypervisor=hypervisor)
        host = register_host(session, report, zone=zone, pod=pod, cluster=cluster, url=url, tags=tags)
    else:
        host = _attach_agent_host(session, caller, zone=zone, pod=pod, url=url, cluster=cluster,
                                  cluster_name=cluster_name, tags=tags)
    host.resource_state = state
    session.flush()
    events.record(session, caller, "HOST.ADD", f"Added host {host.name}", resource=host, resource_type="Host")
    return host


def _attach_agent_host(session: Session, caller: Caller, *, zone: Zone, pod: Pod, url: str, cluster: Cluster | None,
                       cluster_name: str | None, tags: str | None) -> Host:
    """KVM: attach the host a running agent registered (by its IP or guid) to the cluster."""
    address = urlsplit(url if "://" in url else f"http://{url}").hostname or url
    cluster = _cluster_for(session, caller, zone=zone, pod=pod, cluster=cluster, cluster_name=cluster_name,
                           hypervisor="KVM")
    host = session.scalar(select(Host).where(
        Host.removed.is_(None), Host.hypervisor_type == "KVM", Host.zone_id == zone.id,
        Host.status.in_(("Connecting", "Up")), or_(Host.private_ip == address, Host.guid == address),
        or_(Host.cluster_id.is_(None), Host.cluster_id == cluster.id)).order_by(Host.id))
    if host is None:
        raise AgentNotFound(f"Unable to find an agent at {address}; is cloudstack-agent running and configured "
                            f"for this zone?")
    host.pod_id, host.cluster_id, host.url = pod.id, cluster.id, url
    if tags is not None:
        host.host_tags = _tags(tags)
    return host


def update_host(session: Session, caller: Caller, host: Host, *, allocation_state: str | None = None,
                tags: str | None = None, name: str | None = None) -> Host:
    check_alive(host)
    if allocation_state is not None:
        target = {"enable": "Enabled", "enabled": "Enabled", "disable": "Disabled",
                  "disabled": "Disabled"}.get(allocation_state.strip().lower())
        if target is None:
            raise InvalidParameter(f"Invalid parameter allocationstate value={allocation_state}: allowed values are "
                                   "Enable, Disable")
        if host.resource_state not in ("Enabled", "Disabled"):
            raise InvalidParameter(f"Host {host.name} is in resource state {host.resource_state}; only Enabled and "
                                   "Disabled hosts can be enabled or disabled")
        _transit(session, host, ("Enabled", "Disabled"), target)
    if tags is not None:
        host.host_tags = _tags(tags)
    if name:
        host.name = name
    session.flush()
    return host


def delete_host(session: Session, caller: Caller, host: Host, *, forced: bool = False) -> None:
    check_alive(host)
    if not forced and host.resource_state not in DELETABLE_STATES and host.status == "Up":
        raise InvalidParameter(f"Unable to delete host {host.name}: it is {host.resource_state} and Up; put it in "
                               "maintenance or disable it first, or use forced=true")
    for check in HOST_DELETE_CHECKS:  # the VM code refuses hosts that still run VMs
        reason = check(session, host, forced)
        if reason:
            raise ResourceInUse(f"Unable to delete host {host.name}: {reason}")
    host.removed, host.status, host.resource_state, host.guid = utcnow(), "Removed", "Disabled", None
    events.record(session, caller, "HOST.DELETE", f"Deleted host {host.name}", resource=host, resource_type="Host")


def check_can_prepare_maintenance(host: Host) -> None:
    check_alive(host)
    if host.resource_state in MAINTENANCE_STATES:
        raise InvalidParameter(f"Host {host.name} is already in resource state {host.resource_state}")
    if host.resource_state not in ("Enabled", "Disabled"):
        raise InvalidParameter(f"Host {host.name} in resource state {host.resource_state} can't be put into "
                               "maintenance")


def prepare_maintenance(session: Session, host: Host) -> Host:
    check_can_prepare_maintenance(host)
    _transit(session, host, ("Enabled", "Disabled"), "PrepareForMaintenance")
    if all(evacuate(session, host) for evacuate in HOST_EVACUATORS):
        _transit(session, host, ("PrepareForMaintenance",), "Maintenance")
    return host


def check_can_cancel_maintenance(host: Host) -> None:
    check_alive(host)
    if host.resource_state not in MAINTENANCE_STATES + ("Error",):
        raise InvalidParameter(f"Host {host.name} is not in maintenance (resource state {host.resource_state})")


def cancel_maintenance(session: Session, host: Host) -> Host:
    check_can_cancel_maintenance(host)
    _transit(session, host, MAINTENANCE_STATES + ("Error",), "Enabled")
    return host


def reconnect(session: Session, host: Host) -> Host:
    """Simulator hosts are Up again at once; other hypervisors ask their agent (Connecting until it reports)."""
    check_alive(host)
    handler = RECONNECT_HANDLERS.get(host.hypervisor_type)
    if handler is not None:
        host.status = "Connecting"
        handler(session, host)
    elif host.hypervisor_type == "Simulator":
        host.status, host.last_ping, host.disconnected = "Up", utcnow(), None
    else:
        host.status = "Connecting"  # Up again when its agent registers (register_host)
    session.flush()
    return host


def check_alive(host: Host) -> None:
    if host.removed is not None:
        raise InvalidParameter(f"Unable to find the host with id {host.uuid}: it was removed")


def _transit(session: Session, host: Host, expected: tuple[str, ...], target: str) -> None:
    """Compare-and-set of ``resource_state``: refuse if another request moved the host meanwhile."""
    if host.resource_state == target:
        return
    done = session.execute(update(Host).where(Host.id == host.id, Host.resource_state.in_(expected))
                           .values(resource_state=target).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.refresh(host)
        raise Conflict(entity="Host", id=host.uuid, state=host.resource_state, expected=" or ".join(expected))
    session.refresh(host)


def host_query(*, host: Host | None = None, name: str | None = None, zone: Zone | None = None, pod: Pod | None = None,
               cluster: Cluster | None = None, type_: str | None = None, state: str | None = None,
               resource_state: str | None = None, hypervisor: str | None = None, keyword: str | None = None):
    query = select(Host).where(Host.removed.is_(None))
    filters = {Host.id: host.id if host else None, Host.name: name, Host.zone_id: zone.id if zone else None,
               Host.pod_id: pod.id if pod else None, Host.cluster_id: cluster.id if cluster else None}
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    for column, value in ((Host.type, type_), (Host.status, state), (Host.resource_state, resource_state),
                          (Host.hypervisor_type, hypervisor)):
        if value:
            query = query.where(func.lower(column) == value.lower())
    if keyword:
        query = query.where(Host.name.like(f"%{keyword}%"))
    return query.order_by(Host.id)
