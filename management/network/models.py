"""Physical networks, their traffic types and service providers, network offerings, guest networks and
NIC secondary addresses (CloudStack's physical_network, physical_network_traffic_types,
physical_network_service_providers, virtual_router_providers, network_offerings, networks and
nic_secondary_ips tables). Public addresses and static NAT live on ``user_ip_address``
(``management.infra.models.IpAddress``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class PhysicalNetwork(UuidMixin, Base):
    __tablename__ = "physical_network"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"))
    vlan: Mapped[str | None] = mapped_column(String(255))
    speed: Mapped[str | None] = mapped_column(String(32))
    isolation_methods: Mapped[str | None] = mapped_column(String(255))  # comma-separated: VLAN, VXLAN...
    broadcast_domain_range: Mapped[str] = mapped_column(String(32), default="ZONE")  # ZONE | POD
    tags: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), default="Disabled")  # Disabled | Enabled
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TrafficType(UuidMixin, Base):
    """A kind of traffic (Guest, Management, Public, Storage) a physical network carries, with the name of
    the host device (label) per hypervisor."""

    __tablename__ = "physical_network_traffic_types"
    __table_args__ = (UniqueConstraint("physical_network_id", "traffic_type", name="uq_pntt_network_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    physical_network_id: Mapped[int] = mapped_column(ForeignKey("physical_network.id"), index=True)
    traffic_type: Mapped[str] = mapped_column(String(32))
    kvm_label: Mapped[str | None] = mapped_column(String(255))
    xen_label: Mapped[str | None] = mapped_column(String(255))
    vmware_label: Mapped[str | None] = mapped_column(String(255))
    hyperv_label: Mapped[str | None] = mapped_column(String(255))
    ovm3_label: Mapped[str | None] = mapped_column(String(255))
    vlan: Mapped[str | None] = mapped_column(String(255))
    isolation_method: Mapped[str | None] = mapped_column(String(32))


class ServiceProvider(UuidMixin, Base):
    """A network service provider on a physical network (VirtualRouter, SecurityGroupProvider...)."""

    __tablename__ = "physical_network_service_providers"
    __table_args__ = (UniqueConstraint("physical_network_id", "provider_name", name="uq_pnsp_network_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    physical_network_id: Mapped[int] = mapped_column(ForeignKey("physical_network.id"), index=True)
    provider_name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), default="Disabled")  # Disabled | Enabled | Shutdown
    destination_physical_network_id: Mapped[int | None] = mapped_column(BigInteger)
    services: Mapped[str | None] = mapped_column(String(1024))  # comma-separated service names


class VirtualRouterElement(UuidMixin, Base):
    __tablename__ = "virtual_router_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    nsp_id: Mapped[int] = mapped_column(ForeignKey("physical_network_service_providers.id"), index=True)
    type: Mapped[str] = mapped_column(String(32), default="VirtualRouter")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class NetworkOffering(UuidMixin, Base):
    __tablename__ = "network_offerings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    unique_name: Mapped[str | None] = mapped_column(String(64))
    display_text: Mapped[str] = mapped_column(String(255))
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    guest_type: Mapped[str | None] = mapped_column(String(32))  # Shared | Isolated | L2
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    availability: Mapped[str] = mapped_column(String(32), default="Optional")  # Required | Optional
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    system_only: Mapped[bool] = mapped_column(Boolean, default=False)
    specify_vlan: Mapped[bool] = mapped_column(Boolean, default=False)
    specify_ip_ranges: Mapped[bool] = mapped_column(Boolean, default=False)
    conserve_mode: Mapped[bool] = mapped_column(Boolean, default=True)
    egress_default_policy: Mapped[bool] = mapped_column(Boolean, default=False)
    is_persistent: Mapped[bool] = mapped_column(Boolean, default=False)
    services: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {service: provider}
    tags: Mapped[str | None] = mapped_column(String(4096))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Network(UuidMixin, Base):
    """A guest network. A Basic zone has one: shared, security-group isolated, untagged, the pods' guest
    IP ranges (vlan rows with ``network_id``) are its addresses. ``zone_guest_key`` (the zone id on that
    network, NULL elsewhere) is unique, so two concurrent deploys in a new zone cannot both create one."""

    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(255))
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    guest_type: Mapped[str] = mapped_column(String(32), default="Shared")
    broadcast_domain_type: Mapped[str] = mapped_column(String(32), default="Native")
    broadcast_uri: Mapped[str | None] = mapped_column(String(255))
    gateway: Mapped[str | None] = mapped_column(String(64))
    cidr: Mapped[str | None] = mapped_column(String(64))
    network_offering_id: Mapped[int] = mapped_column(ForeignKey("network_offerings.id"))
    physical_network_id: Mapped[int | None] = mapped_column(ForeignKey("physical_network.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    zone_guest_key: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    state: Mapped[str] = mapped_column(String(32), default="Setup")  # Allocated | Setup | Implemented
    acl_type: Mapped[str] = mapped_column(String(32), default="Domain")  # Domain | Account
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    subdomain_access: Mapped[bool] = mapped_column(Boolean, default=True)
    network_domain: Mapped[str | None] = mapped_column(String(255))
    display_network: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class NicSecondaryIp(UuidMixin, Base):
    __tablename__ = "nic_secondary_ips"

    id: Mapped[int] = mapped_column(primary_key=True)
    nic_id: Mapped[int] = mapped_column(ForeignKey("nics.id"), index=True)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id"), index=True)
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"))
    ip_id: Mapped[int] = mapped_column(ForeignKey("user_ip_address.id"), unique=True)
    ip_address: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    device_count: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
