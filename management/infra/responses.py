"""Response objects of the infrastructure commands and the functions that build them from rows."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject, cs_date
from management.config import service as config
from management.iam.models import Account, Domain
from management.infra import capacity as cap
from management.infra import net
from management.infra.models import Cluster, Host, Pod, VlanRange, Zone


class CapacityResponse(ResponseObject):
    object_name = "capacity"
    type: int
    name: str | None = None
    zoneid: str | None = None
    zonename: str | None = None
    podid: str | None = None
    podname: str | None = None
    clusterid: str | None = None
    clustername: str | None = None
    capacitytotal: int
    capacityused: int
    capacityallocated: int | None = None
    percentused: str


class ZoneResponse(ResponseObject):
    object_name = "zone"
    id: str
    name: str
    description: str | None = None
    dns1: str | None = None
    dns2: str | None = None
    internaldns1: str | None = None
    internaldns2: str | None = None
    ip6dns1: str | None = None
    ip6dns2: str | None = None
    guestcidraddress: str | None = None
    networktype: str
    securitygroupsenabled: bool = False
    localstorageenabled: bool = False
    allocationstate: str
    zonetoken: str | None = None
    dhcpprovider: str | None = None
    domain: str | None = None
    domainid: str | None = None
    domainname: str | None = None
    type: str | None = None
    capacity: list[CapacityResponse] | None = None
    tags: list = Field(default_factory=list)


class PodResponse(ResponseObject):
    object_name = "pod"
    id: str
    name: str
    zoneid: str
    zonename: str
    gateway: str | None = None
    netmask: str | None = None
    # lists since CloudStack 4.12: a pod may have several management ranges
    startip: list[str] = Field(default_factory=list)
    endip: list[str] = Field(default_factory=list)
    forsystemvms: list[str] = Field(default_factory=list)
    vlanid: list[str] = Field(default_factory=list)
    allocationstate: str
    capacity: list[CapacityResponse] | None = None


class ClusterResponse(ResponseObject):
    object_name = "cluster"
    id: str
    name: str
    podid: str
    podname: str
    zoneid: str
    zonename: str
    hypervisortype: str
    clustertype: str
    allocationstate: str
    managedstate: str
    cpuovercommitratio: str
    memoryovercommitratio: str
    capacity: list[CapacityResponse] | None = None


class HostResponse(ResponseObject):
    object_name = "host"
    id: str
    name: str
    state: str
    resourcestate: str
    type: str
    ipaddress: str | None = None
    zoneid: str
    zonename: str
    podid: str | None = None
    podname: str | None = None
    clusterid: str | None = None
    clustername: str | None = None
    clustertype: str | None = None
    hypervisor: str
    hypervisorversion: str | None = None
    cpunumber: int | None = None
    cpusockets: int | None = None
    cpuspeed: int | None = None
    cpuallocated: str | None = None
    cpuallocatedvalue: int | None = None
    cpuallocatedpercentage: str | None = None
    cpuwithoverprovisioning: str | None = None
    memorytotal: int | None = None
    memoryallocated: int | None = None
    memoryallocatedbytes: int | None = None
    memoryallocatedpercentage: str | None = None
    memorywithoverprovisioning: str | None = None
    disksizetotal: int | None = None
    islocalstorageactive: bool = False
    hosttags: str | None = None
    capabilities: str | None = None
    lastpinged: str | None = None
    created: str | None = None
    disconnected: str | None = None
    removed: str | None = None
    version: str | None = None
    managementserverid: str | None = None
    hahost: bool = False


class VlanIpRangeResponse(ResponseObject):
    object_name = "vlan"
    id: str
    forvirtualnetwork: bool
    zoneid: str
    vlan: str
    description: str | None = None
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    podid: str | None = None
    podname: str | None = None
    gateway: str
    netmask: str
    cidr: str
    startip: str
    endip: str
    networkid: str | None = None
    physicalnetworkid: str | None = None
    forsystemvms: bool = False


class ListedVlanIpRange(VlanIpRangeResponse):
    object_name = "vlaniprange"


def java_percent(value: float) -> str:
    """Java's DecimalFormat("#.##"): 12.5, 0, 33.33 (CloudStack's cpuallocated is "12.5%")."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


class Lookups:
    """Batch-loads the zones, pods and clusters a list of rows refers to."""

    def __init__(self, session: Session, zone_ids=(), pod_ids=(), cluster_ids=()) -> None:
        def load(model, ids):
            ids = {i for i in ids if i}
            return {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}

        self.clusters = load(Cluster, cluster_ids)
        self.pods = load(Pod, set(pod_ids) | {c.pod_id for c in self.clusters.values()})
        self.zones = load(Zone, set(zone_ids) | {p.zone_id for p in self.pods.values()})


def capacity_views(session: Session, rows: list[cap.CapacityRow]) -> list[CapacityResponse]:
    lk = Lookups(session, [r.zone_id for r in rows], [r.pod_id for r in rows], [r.cluster_id for r in rows])
    views = []
    for r in rows:
        zone, pod, cluster = lk.zones.get(r.zone_id), lk.pods.get(r.pod_id), lk.clusters.get(r.cluster_id)
        views.append(CapacityResponse(
            type=r.type, name=cap.NAMES.get(r.type), zoneid=zone.uuid if zone else None,
            zonename=zone.name if zone else None, podid=pod.uuid if pod else None, podname=pod.name if pod else None,
            clusterid=cluster.uuid if cluster else None, clustername=cluster.name if cluster else None,
            capacitytotal=r.total, capacityused=r.used, capacityallocated=r.allocated,
            percentused=cap.percent_text(r)))
    return views


def zone_views(session: Session, zones: list[Zone], *, admin: bool, show_capacities: bool = False
               ) -> list[ZoneResponse]:
    domain_ids = {z.domain_id for z in zones if z.domain_id}
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_(domain_ids)))} if domain_ids else {}
    views = []
    for zone in zones:
        domain = domains.get(zone.domain_id) if zone.domain_id else None
        capacity = (capacity_views(session, cap.capacities(session, zone_id=zone.id))
                    if show_capacities and admin else None)
        views.append(ZoneResponse(
            id=zone.uuid, name=zone.name, description=zone.description, dns1=zone.dns1, dns2=zone.dns2,
            internaldns1=zone.internal_dns1 if admin else None, internaldns2=zone.internal_dns2 if admin else None,
            ip6dns1=zone.ip6_dns1, ip6dns2=zone.ip6_dns2, guestcidraddress=zone.guest_cidr,
            networktype=zone.network_type, securitygroupsenabled=zone.security_groups_enabled,
            localstorageenabled=zone.local_storage_enabled, allocationstate=zone.allocation_state,
            zonetoken=zone.zone_token if admin else None, dhcpprovider=zone.dhcp_provider, domain=zone.domain,
            domainid=domain.uuid if domain else None, domainname=domain.name if domain else None, type="Core",
            capacity=capacity))
    return views


def pod_views(session: Session, pods: list[Pod], *, show_capacities: bool = False) -> list[PodResponse]:
    lk = Lookups(session, zone_ids=[p.zone_id for p in pods])
    views = []
    for pod in pods:
        zone = lk.zones[pod.zone_id]
        has_range = pod.start_ip is not None
        capacity = (capacity_views(session, cap.capacities(session, zone_id=pod.zone_id, pod_id=pod.id))
                    if show_capacities else None)
        views.append(PodResponse(
            id=pod.uuid, name=pod.name, zoneid=zone.uuid, zonename=zone.name, gateway=pod.gateway,
            netmask=net.mask_of(pod.cidr_size) if pod.cidr_size is not None else None,
            startip=[pod.start_ip] if has_range else [], endip=[pod.end_ip or pod.start_ip] if has_range else [],
            forsystemvms=["0"] if has_range else [], vlanid=[] if not has_range else ["untagged"],
            allocationstate=pod.allocation_state, capacity=capacity))
    return views


def cluster_views(session: Session, clusters: list[Cluster], *, show_capacities: bool = False
                  ) -> list[ClusterResponse]:
    lk = Lookups(session, pod_ids=[c.pod_id for c in clusters], zone_ids=[c.zone_id for c in clusters])
    cpu = config.get_float(session, "cpu.overprovisioning.factor")
    mem = config.get_float(session, "mem.overprovisioning.factor")
    views = []
    for c in clusters:
        zone, pod = lk.zones[c.zone_id], lk.pods[c.pod_id]
        capacity = (capacity_views(session, cap.capacities(session, zone_id=c.zone_id, pod_id=c.pod_id,
                                                           cluster_id=c.id)) if show_capacities else None)
        views.append(ClusterResponse(
            id=c.uuid, name=c.name, podid=pod.uuid, podname=pod.name, zoneid=zone.uuid, zonename=zone.name,
            hypervisortype=c.hypervisor_type, clustertype=c.cluster_type, allocationstate=c.allocation_state,
            managedstate=c.managed_state, cpuovercommitratio=str(c.cpu_overcommit_ratio or cpu),
            memoryovercommitratio=str(c.mem_overcommit_ratio or mem), capacity=capacity))
    return views


def host_views(session: Session, hosts: list[Host]) -> list[HostResponse]:
    lk = Lookups(session, [h.zone_id for h in hosts], [h.pod_id for h in hosts], [h.cluster_id for h in hosts])
    cpu_factor = config.get_float(session, "cpu.overprovisioning.factor")
    mem_factor = config.get_float(session, "mem.overprovisioning.factor")
    views = []
    for h in hosts:
        zone, pod, cluster = lk.zones[h.zone_id], lk.pods.get(h.pod_id), lk.clusters.get(h.cluster_id)
        cpu_ratio = (cluster.cpu_overcommit_ratio if cluster else None) or cpu_factor
        mem_ratio = (cluster.mem_overcommit_ratio if cluster else None) or mem_factor
        cpu_total = h.cpus * h.speed * cpu_ratio
        mem_total = h.memory * mem_ratio
        cpu_pct = java_percent(h.cpu_allocated * 100.0 / cpu_total) + "%" if cpu_total else "0%"
        mem_pct = java_percent(h.memory_allocated * 100.0 / mem_total) + "%" if mem_total else "0%"
        views.append(HostResponse(
            id=h.uuid, name=h.name, state=h.status, resourcestate=h.resource_state, type=h.type,
            ipaddress=h.private_ip, zoneid=zone.uuid, zonename=zone.name, podid=pod.uuid if pod else None,
            podname=pod.name if pod else None, clusterid=cluster.uuid if cluster else None,
            clustername=cluster.name if cluster else None, clustertype=cluster.cluster_type if cluster else None,
            hypervisor=h.hypervisor_type, hypervisorversion=h.hypervisor_version, cpunumber=h.cpus,
            cpusockets=h.cpu_sockets, cpuspeed=h.speed, cpuallocated=cpu_pct, cpuallocatedvalue=h.cpu_allocated,
            cpuallocatedpercentage=cpu_pct, cpuwithoverprovisioning=str(int(cpu_total)), memorytotal=h.memory,
            memoryallocated=h.memory_allocated, memoryallocatedbytes=h.memory_allocated,
            memoryallocatedpercentage=mem_pct, memorywithoverprovisioning=str(int(mem_total)),
            disksizetotal=h.local_storage, islocalstorageactive=bool(h.local_storage),
            hosttags=h.host_tags or None, capabilities=h.capabilities, lastpinged=cs_date(h.last_ping),
            created=cs_date(h.created), disconnected=cs_date(h.disconnected), removed=cs_date(h.removed),
            version=h.version, managementserverid=h.mgmt_server))
    return views


def vlan_views(session: Session, ranges: list[VlanRange], *, listed: bool = False) -> list[VlanIpRangeResponse]:
    lk = Lookups(session, [r.zone_id for r in ranges], [r.pod_id for r in ranges])
    account_ids = {r.account_id for r in ranges if r.account_id}
    accounts = ({a.id: a for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))}
                if account_ids else {})
    domain_ids = {r.domain_id for r in ranges if r.domain_id}
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_(domain_ids)))} if domain_ids else {}
    cls = ListedVlanIpRange if listed else VlanIpRangeResponse
    views = []
    for r in ranges:
        zone, pod = lk.zones[r.zone_id], lk.pods.get(r.pod_id)
        account, domain = accounts.get(r.account_id), domains.get(r.domain_id)
        views.append(cls(
            id=r.uuid, forvirtualnetwork=r.for_virtual_network, zoneid=zone.uuid, vlan=vlan_uri(r.vlan_tag),
            description=f"{r.start_ip}-{r.end_ip}", account=account.account_name if account else None,
            domainid=domain.uuid if domain else None, domain=domain.name if domain else None,
            podid=pod.uuid if pod else None, podname=pod.name if pod else None, gateway=r.gateway,
            netmask=r.netmask, cidr=str(net.network_of(r.gateway, r.netmask)), startip=r.start_ip, endip=r.end_ip,
            forsystemvms=r.for_system_vms))
    return views


def vlan_uri(tag: str) -> str:
    return tag if "://" in tag else f"vlan://{tag}"
