"""The ``configuration`` table: global settings, stored as strings as CloudStack does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
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
