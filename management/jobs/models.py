"""Async jobs, management-server nodes and cluster-wide leases for periodic work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class JobStatus:
    IN_PROGRESS = 0
    SUCCEEDED = 1
    FAILED = 2
    CANCELLED = 3


class AsyncJob(UuidMixin, Base):
    __tablename__ = "async_job"
    __table_args__ = (Index("ix_async_job_status_heartbeat", "status", "heartbeat"),
                      Index("ix_async_job_account_created", "account_id", "created"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    command: Mapped[str] = mapped_column(String(255))  # API command name
    cmd_class: Mapped[str] = mapped_column(String(255))  # CloudStack's Java class name, for display
    params: Mapped[str] = mapped_column(Text)  # JSON of the parsed request parameters
    status: Mapped[int] = mapped_column(Integer, default=JobStatus.IN_PROGRESS)
    process_status: Mapped[int] = mapped_column(Integer, default=0)
    result_code: Mapped[int] = mapped_column(Integer, default=0)
    result_type: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    instance_type: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[int | None] = mapped_column(BigInteger)
    instance_uuid: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    node: Mapped[str | None] = mapped_column(String(255))  # worker that owns it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    completed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ManagementServer(Base):
    """One row per running management/worker process (CloudStack's mshost)."""

    __tablename__ = "mshost"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # management | worker
    version: Mapped[str] = mapped_column(String(32))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="Up")
    last_update: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Lease(Base):
    """A named, expiring lock row so only one node runs a periodic task at a time."""

    __tablename__ = "op_lease"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    expires: Mapped[datetime | None] = mapped_column(UtcDateTime)
