"""Zones (CloudStack's data_center table). Pods, clusters and hosts join them in the infrastructure issue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
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
