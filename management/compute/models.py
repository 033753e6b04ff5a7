"""Compute and disk offerings (CloudStack's service_offering and disk_offering tables).

An offering may be restricted to domains and zones: the ``offering_domain`` / ``offering_zone`` link
rows (``kind`` = "service" or "disk") hold them; no link row means public / every zone, as in CloudStack
(which keeps them as ``domainid``/``zoneid`` offering details and answers them as comma lists).
VM code of the next issue lives beside these models in this folder.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class OfferingState:
    ACTIVE = "Active"
    INACTIVE = "Inactive"


STORAGE_TYPES = ("shared", "local")
PROVISIONING_TYPES = ("thin", "sparse", "fat")
SYSTEM_VM_TYPES = ("domainrouter", "consoleproxy", "secondarystoragevm", "internalloadbalancervm")


class ServiceOffering(UuidMixin, Base):
    __tablename__ = "service_offering"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    display_text: Mapped[str | None] = mapped_column(String(4096))
    cpu: Mapped[int | None] = mapped_column(Integer)  # cores; NULL for a customized offering
    speed: Mapped[int | None] = mapped_column(Integer)  # MHz
    ram_size: Mapped[int | None] = mapped_column(Integer)  # MB
    customized: Mapped[bool] = mapped_column(Boolean, default=False)
    min_cpu: Mapped[int | None] = mapped_column(Integer)  # bounds of a constrained customized offering
    max_cpu: Mapped[int | None] = mapped_column(Integer)
    min_memory: Mapped[int | None] = mapped_column(Integer)
    max_memory: Mapped[int | None] = mapped_column(Integer)
    storage_type: Mapped[str] = mapped_column(String(16), default="shared")
    offer_ha: Mapped[bool] = mapped_column(Boolean, default=False)
    limit_cpu_use: Mapped[bool] = mapped_column(Boolean, default=False)
    is_volatile: Mapped[bool] = mapped_column(Boolean, default=False)
    dynamic_scaling_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    host_tags: Mapped[str | None] = mapped_column(String(4096))
    storage_tags: Mapped[str | None] = mapped_column(String(4096))
    root_disk_size: Mapped[int | None] = mapped_column(BigInteger)  # GB, as rootdisksize
    provisioning_type: Mapped[str] = mapped_column(String(16), default="thin")
    network_rate: Mapped[int | None] = mapped_column(Integer)  # Mbps
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    system_vm_type: Mapped[str | None] = mapped_column(String(64))
    default_use: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=OfferingState.ACTIVE)
    details: Mapped[str | None] = mapped_column(Text)  # JSON object of serviceofferingdetails
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DiskOffering(UuidMixin, Base):
    __tablename__ = "disk_offering"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    display_text: Mapped[str | None] = mapped_column(String(4096))
    disk_size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes (disksize answers GB)
    customized: Mapped[bool] = mapped_column(Boolean, default=False)
    storage_type: Mapped[str] = mapped_column(String(16), default="shared")
    tags: Mapped[str | None] = mapped_column(String(4096))
    provisioning_type: Mapped[str] = mapped_column(String(16), default="thin")
    min_iops: Mapped[int | None] = mapped_column(BigInteger)
    max_iops: Mapped[int | None] = mapped_column(BigInteger)
    customized_iops: Mapped[bool | None] = mapped_column(Boolean)
    display_offering: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=OfferingState.ACTIVE)
    details: Mapped[str | None] = mapped_column(Text)  # JSON object
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OfferingDomain(Base):
    """An offering restricted to a domain (and its sub-domains)."""

    __tablename__ = "offering_domain"
    __table_args__ = (UniqueConstraint("kind", "offering_id", "domain_id"),
                      Index("ix_offering_domain_domain", "domain_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # service | disk
    offering_id: Mapped[int] = mapped_column(Integer)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"))


class OfferingZone(Base):
    """An offering available in a zone (no rows: every zone)."""

    __tablename__ = "offering_zone"
    __table_args__ = (UniqueConstraint("kind", "offering_id", "zone_id"),
                      Index("ix_offering_zone_zone", "zone_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    offering_id: Mapped[int] = mapped_column(Integer)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id", ondelete="CASCADE"))
