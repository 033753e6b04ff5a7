"""Virtual machines, their NICs and volumes (CloudStack's vm_instance/user_vm, nics and volumes tables),
and the copies of templates on primary storage (template_spool_ref).

``vm_instance.state`` only ever changes through ``management.compute.states.transition`` (a compare-and-set
on ``update_count``). A VM holds host capacity while ``host_id`` is set (Starting, Running, Stopping,
Migrating); its volumes hold pool space while ``volumes.pool_id`` is set and the volume is not expunged.
The volumes table is general: the storage issue adds data disks, snapshots and attach/detach on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class VMInstance(UuidMixin, Base):
    __tablename__ = "vm_instance"
    __table_args__ = (Index("ix_vm_instance_account_removed", "account_id", "removed"),
                      Index("ix_vm_instance_state_removed", "state", "removed"),
                      Index("ix_vm_instance_host_state", "host_id", "state"),
                      Index("ix_vm_instance_power_host", "power_host_id", "power_state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # host name
    instance_name: Mapped[str | None] = mapped_column(String(255), unique=True)  # i-<account>-<id>-VM
    display_name: Mapped[str | None] = mapped_column(String(255))
    vm_type: Mapped[str] = mapped_column(String(32), default="User")
    state: Mapped[str] = mapped_column(String(32), default="Stopped")
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"), index=True)
    last_host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"))
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    service_offering_id: Mapped[int] = mapped_column(ForeignKey("service_offering.id"))
    disk_offering_id: Mapped[int | None] = mapped_column(ForeignKey("disk_offering.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id"), index=True)
    iso_id: Mapped[int | None] = mapped_column(ForeignKey("vm_template.id"))
    guest_os_id: Mapped[int | None] = mapped_column(ForeignKey("guest_os.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    user_data: Mapped[str | None] = mapped_column(Text)  # base64, as given
    keypairs: Mapped[str | None] = mapped_column(String(1024))  # comma-separated SSH key pair names
    ssh_public_key: Mapped[str | None] = mapped_column(Text)
    password: Mapped[str | None] = mapped_column(String(255))  # password-enabled templates: the current one
    security_groups: Mapped[str | None] = mapped_column(Text)  # JSON list, kept for the networking issue
    group_name: Mapped[str | None] = mapped_column(String(255))
    ha_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    limit_cpu_use: Mapped[bool] = mapped_column(Boolean, default=False)
    dynamically_scalable: Mapped[bool] = mapped_column(Boolean, default=False)
    display_vm: Mapped[bool] = mapped_column(Boolean, default=True)
    cpu: Mapped[int] = mapped_column(Integer)  # cores
    speed: Mapped[int] = mapped_column(Integer)  # MHz
    memory: Mapped[int] = mapped_column(Integer)  # MB
    details: Mapped[str | None] = mapped_column(Text)  # JSON object
    hypervisor_type: Mapped[str | None] = mapped_column(String(32))
    power_state: Mapped[str] = mapped_column(String(32), default="PowerUnknown")
    power_state_update: Mapped[datetime | None] = mapped_column(UtcDateTime)
    power_host_id: Mapped[int | None] = mapped_column(BigInteger)
    migration_host_id: Mapped[int | None] = mapped_column(BigInteger)  # while Migrating: the destination host
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated: Mapped[datetime | None] = mapped_column(UtcDateTime)  # last state change
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Nic(UuidMixin, Base):
    __tablename__ = "nics"

    id: Mapped[int] = mapped_column(primary_key=True)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id"), index=True)
    mac_address: Mapped[str] = mapped_column(String(17), unique=True)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    netmask: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(64))
    ip_id: Mapped[int | None] = mapped_column(ForeignKey("user_ip_address.id"))
    vlan_id: Mapped[int | None] = mapped_column(ForeignKey("vlan.id"))
    network_id: Mapped[int | None] = mapped_column(BigInteger)  # the zone's guest network (networking issue)
    device_id: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    broadcast_uri: Mapped[str | None] = mapped_column(String(255), default="vlan://untagged")
    isolation_uri: Mapped[str | None] = mapped_column(String(255), default="vlan://untagged")
    network_type: Mapped[str] = mapped_column(String(32), default="Basic")  # zone network type
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    mode: Mapped[str] = mapped_column(String(32), default="Dhcp")
    state: Mapped[str] = mapped_column(String(32), default="Reserved")  # Allocated|Reserved|Deallocating
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Volume(UuidMixin, Base):
    __tablename__ = "volumes"
    __table_args__ = (Index("ix_volumes_pool_state", "pool_id", "state"),
                      Index("ix_volumes_account_removed", "account_id", "removed"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    vm_id: Mapped[int | None] = mapped_column(ForeignKey("vm_instance.id"), index=True)
    volume_type: Mapped[str] = mapped_column(String(16), default="ROOT")  # ROOT | DATADISK
    state: Mapped[str] = mapped_column(String(32), default="Allocated")
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("storage_pool.id"))
    last_pool_id: Mapped[int | None] = mapped_column(BigInteger)
    path: Mapped[str | None] = mapped_column(String(1024))
    format: Mapped[str | None] = mapped_column(String(16))  # QCOW2 | RAW
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    min_iops: Mapped[int | None] = mapped_column(BigInteger)
    max_iops: Mapped[int | None] = mapped_column(BigInteger)
    disk_offering_id: Mapped[int | None] = mapped_column(ForeignKey("disk_offering.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("vm_template.id"))
    device_id: Mapped[int | None] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(BigInteger)
    provisioning_type: Mapped[str] = mapped_column(String(16), default="thin")
    display_volume: Mapped[bool] = mapped_column(Boolean, default=True)
    attached: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated: Mapped[datetime | None] = mapped_column(UtcDateTime)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # volumes domain (migration 0007v): where a new volume's content comes from, uploads and extracts
    snapshot_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    source_path: Mapped[str | None] = mapped_column(String(1024))
    store_id: Mapped[int | None] = mapped_column(BigInteger)
    url: Mapped[str | None] = mapped_column(String(2048))
    checksum: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(1024))
    extract_path: Mapped[str | None] = mapped_column(String(1024))
    extract_token: Mapped[str | None] = mapped_column(String(64))
    upload_size: Mapped[int | None] = mapped_column(BigInteger)  # migration 0009: bytes of the upload on its store


class TemplatePoolRef(Base):
    """A template copied onto a primary storage pool (CloudStack's template_spool_ref). The unique key and
    a compare-and-set on ``state`` make one deploy copy it while concurrent ones wait for it."""

    __tablename__ = "template_spool_ref"
    __table_args__ = (UniqueConstraint("template_id", "pool_id", name="uq_template_spool_ref_template_pool"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id"), index=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("storage_pool.id"), index=True)
    state: Mapped[str] = mapped_column(String(32), default="Copying")  # Copying | Ready | Error
    install_path: Mapped[str | None] = mapped_column(String(1024))
    size: Mapped[int | None] = mapped_column(BigInteger)
    error_str: Mapped[str | None] = mapped_column(String(1024))
    owner: Mapped[str | None] = mapped_column(String(255))  # job/node copying it
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
