"""The ``configuration`` table: global settings, stored as strings as CloudStack does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime


class Configuration(Base):
    __tablename__ = "configuration"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    category: Mapped[str] = mapped_column(String(255), default="Advanced")
    instance: Mapped[str] = mapped_column(String(255), default="DEFAULT")
    component: Mapped[str] = mapped_column(String(255), default="management-server")
    value: Mapped[str | None] = mapped_column(Text)
    default_value: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(32), default="global")
    is_dynamic: Mapped[bool] = mapped_column(Boolean, default=True)
    updated: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ScopedConfiguration(Base):
    """A setting's value for one zone, cluster, storage pool, account, domain or image store: CloudStack keeps
    these in each resource's details table (data_center_details, cluster_details, ...); here one table holds
    them all, keyed by the scope and the resource's internal id (resources are soft-deleted, ids never reused)."""

    __tablename__ = "configuration_scoped"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), ForeignKey("configuration.name"), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated: Mapped[datetime | None] = mapped_column(UtcDateTime)
