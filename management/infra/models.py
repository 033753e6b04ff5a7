"""Zones, pods, clusters, hosts and IP ranges (CloudStack's data_center, host_pod_ref, cluster, host, vlan,
user_ip_address tables)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class Zone(UuidMixin, Base):
    __tablename__ = "data_center"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    dns1: Mapped[str | None] = mapped_column(String(255))
    dns2: Mapped[str | None] = mapped_column(String(255))
    internal_dns1: Mapped[str | None] = mapped_column(String(255))
    internal_dns2: Mapped[str | None] = mapped_column(String(255))
    ip6_dns1: Mapped[str | None] = mapped_column(String(255))
    ip6_dns2: Mapped[str | None] = mapped_column(String(255))
    guest_cidr: Mapped[str | None] = mapped_column(String(32))
    network_type: Mapped[str] = mapped_column(String(16), default="Basic")
    security_groups_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    local_storage_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    allocation_state: Mapped[str] = mapped_column(String(16), default="Disabled")
    domain: Mapped[str | None] = mapped_column(String(255))  # network domain suffix
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"))  # dedicated to a domain
    zone_token: Mapped[str | None] = mapped_column(String(255))
    dhcp_provider: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ZoneDetail(Base):
    """A free key/value detail of a zone (CloudStack's data_center_details; updateZone ``details``)."""

    __tablename__ = "data_center_details"
    __table_args__ = (UniqueConstraint("zone_id", "name", name="uq_data_center_details_zone_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(1024))


class Pod(UuidMixin, Base):
    """A pod (CloudStack's host_pod_ref): a rack with its management range and gateway."""

    __tablename__ = "host_pod_ref"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    gateway: Mapped[str | None] = mapped_column(String(64))
    cidr_address: Mapped[str | None] = mapped_column(String(64))
    cidr_size: Mapped[int | None] = mapped_column(Integer)
    start_ip: Mapped[str | None] = mapped_column(String(64))  # management (private) IP range
    end_ip: Mapped[str | None] = mapped_column(String(64))
    allocation_state: Mapped[str] = mapped_column(String(16), default="Enabled")
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Cluster(UuidMixin, Base):
    __tablename__ = "cluster"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    guid: Mapped[str | None] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int] = mapped_column(ForeignKey("host_pod_ref.id"), index=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32))  # KVM | Simulator
    cluster_type: Mapped[str] = mapped_column(String(32), default="CloudManaged")
    allocation_state: Mapped[str] = mapped_column(String(16), default="Enabled")
    managed_state: Mapped[str] = mapped_column(String(32), default="Managed")
    cpu_overcommit_ratio: Mapped[float | None] = mapped_column(Float)  # None: cpu.overprovisioning.factor
    mem_overcommit_ratio: Mapped[float | None] = mapped_column(Float)  # None: mem.overprovisioning.factor
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Host(UuidMixin, Base):
    """A hypervisor host. ``status`` is the connection state (Up, Down...), ``resource_state`` the
    admin state (Enabled, Maintenance...). Allocated CPU/memory are kept on the row so that a
    placement can reserve capacity with one conditional UPDATE."""

    __tablename__ = "host"
    __table_args__ = (Index("ix_host_cluster_status", "cluster_id", "status", "resource_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32), default="Routing")
    status: Mapped[str] = mapped_column(String(32), default="Creating")
    resource_state: Mapped[str] = mapped_column(String(32), default="Enabled")
    guid: Mapped[str | None] = mapped_column(String(255), unique=True)
    url: Mapped[str | None] = mapped_column(String(255))
    private_ip: Mapped[str | None] = mapped_column(String(64))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id"), index=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32))
    hypervisor_version: Mapped[str | None] = mapped_column(String(64))
    cpus: Mapped[int] = mapped_column(Integer, default=0)
    cpu_sockets: Mapped[int | None] = mapped_column(Integer)
    speed: Mapped[int] = mapped_column(Integer, default=0)  # MHz per core
    memory: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    local_storage: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    cpu_allocated: Mapped[int] = mapped_column(BigInteger, default=0)  # MHz reserved by VMs
    memory_allocated: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes reserved by VMs
    host_tags: Mapped[str | None] = mapped_column(String(4096))  # comma-separated
    capabilities: Mapped[str | None] = mapped_column(String(1024))
    version: Mapped[str | None] = mapped_column(String(64))  # agent version
    details: Mapped[str | None] = mapped_column(Text)  # JSON: what the agent reported at start
    mgmt_server: Mapped[str | None] = mapped_column(String(255))
    last_ping: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disconnected: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VlanRange(UuidMixin, Base):
    """An IP range (CloudStack's vlan table): a pod's guest range in a Basic zone, or a public range."""

    __tablename__ = "vlan"

    id: Mapped[int] = mapped_column(primary_key=True)
    vlan_tag: Mapped[str] = mapped_column(String(255), default="untagged")
    gateway: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    start_ip: Mapped[str] = mapped_column(String(64))
    end_ip: Mapped[str] = mapped_column(String(64))
    vlan_type: Mapped[str] = mapped_column(String(32))  # DirectAttached | VirtualNetwork
    for_virtual_network: Mapped[bool] = mapped_column(Boolean, default=False)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"), index=True)
    network_id: Mapped[int | None] = mapped_column(BigInteger)
    physical_network_id: Mapped[int | None] = mapped_column(BigInteger)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))  # dedicated range
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"))
    for_system_vms: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IpAddress(UuidMixin, Base):
    """One address of a range (CloudStack's user_ip_address). The unique key keeps two allocations of
    the same address impossible, whatever the concurrency."""

    __tablename__ = "user_ip_address"
    __table_args__ = (UniqueConstraint("zone_id", "address", name="uq_user_ip_address_zone_address"),
                      Index("ix_user_ip_address_vlan_state", "vlan_id", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    vlan_id: Mapped[int] = mapped_column(ForeignKey("vlan.id"))
    state: Mapped[str] = mapped_column(String(32), default="Free")  # Free|Allocating|Allocated|Releasing|Reserved
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"))
    nic_id: Mapped[int | None] = mapped_column(BigInteger)
    vm_id: Mapped[int | None] = mapped_column(BigInteger)
    source_nat: Mapped[bool] = mapped_column(Boolean, default=False)
    one_to_one_nat: Mapped[bool] = mapped_column(Boolean, default=False)
    allocated: Mapped[datetime | None] = mapped_column(UtcDateTime)
    vm_ip_address: Mapped[str | None] = mapped_column(String(64))  # static NAT: the guest address it maps to
    network_id: Mapped[int | None] = mapped_column(BigInteger)  # public IP: its associated (guest) network
