"""Tables of the ``cloud_usage`` database. The usage server issue fills in the parsers that use them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db import UsageBase, UtcDateTime


class UsageRecord(UsageBase):
    """One billable record: an account's use of one resource of one type over one period."""

    __tablename__ = "cloud_usage"
    __table_args__ = (Index("ix_cloud_usage_account_start", "account_id", "start_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(BigInteger, default=0)
    account_id: Mapped[int] = mapped_column(BigInteger)
    domain_id: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text)
    usage_display: Mapped[str] = mapped_column(String(255))
    usage_type: Mapped[int] = mapped_column(Integer, index=True)
    raw_usage: Mapped[float] = mapped_column(Float)
    vm_instance_id: Mapped[int | None] = mapped_column(BigInteger)
    vm_name: Mapped[str | None] = mapped_column(String(255))
    offering_id: Mapped[int | None] = mapped_column(BigInteger)
    template_id: Mapped[int | None] = mapped_column(BigInteger)
    usage_id: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    cpu_speed: Mapped[int | None] = mapped_column(BigInteger)
    cpu_cores: Mapped[int | None] = mapped_column(BigInteger)
    memory: Mapped[int | None] = mapped_column(BigInteger)
    network_id: Mapped[int | None] = mapped_column(BigInteger)
    start_date: Mapped[datetime] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime] = mapped_column(UtcDateTime)


class UsageJob(UsageBase):
    """A run of the usage job; only one usage server does the job at a time."""

    __tablename__ = "usage_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    job_type: Mapped[int] = mapped_column(Integer, default=0)  # 0 recurring, 1 single (generateUsageRecords)
    scheduled: Mapped[int] = mapped_column(Integer, default=0)
    start_millis: Mapped[int] = mapped_column(BigInteger, default=0)
    end_millis: Mapped[int] = mapped_column(BigInteger, default=0)
    exec_time: Mapped[int] = mapped_column(BigInteger, default=0)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    success: Mapped[bool | None] = mapped_column(Integer)
    heartbeat: Mapped[datetime | None] = mapped_column(UtcDateTime)
