"""Action events (listEvents) and usage events (what the usage server bills from)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class Event(UuidMixin, Base):
    __tablename__ = "event"
    __table_args__ = (Index("ix_event_account_created", "account_id", "created"),
                      Index("ix_event_domain_created", "domain_id", "created"))

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), default="Completed")  # Created|Scheduled|Started|Completed
    description: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16), default="INFO")
    user_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    resource_id: Mapped[int | None] = mapped_column(BigInteger)
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_uuid: Mapped[str | None] = mapped_column(String(40))
    start_id: Mapped[int | None] = mapped_column(BigInteger)
    display: Mapped[bool] = mapped_column(Boolean, default=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class UsageEvent(Base):
    __tablename__ = "usage_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    zone_id: Mapped[int] = mapped_column(Integer, default=0)
    resource_id: Mapped[int | None] = mapped_column(BigInteger)
    resource_name: Mapped[str | None] = mapped_column(String(255))
    offering_id: Mapped[int | None] = mapped_column(BigInteger)
    template_id: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int | None] = mapped_column(BigInteger)
    resource_type: Mapped[str | None] = mapped_column(String(32))
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    processed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    details: Mapped[str | None] = mapped_column(Text)  # JSON of usage_event_details (cpu, speed, memory)
