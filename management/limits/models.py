"""Resource limits (explicit maxima) and resource counts (current usage) of accounts and domains.

Each row belongs to exactly one owner: ``account_id`` or ``domain_id``. ``type`` is CloudStack's resource
type name (``user_vm``, ``cpu``, ...). Storage types are kept in bytes (limits are given and shown in GiB).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base


class ResourceLimit(Base):
    __tablename__ = "resource_limit"
    __table_args__ = (UniqueConstraint("account_id", "type"), UniqueConstraint("domain_id", "type"))

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    max: Mapped[int] = mapped_column(BigInteger, default=-1)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"))


class ResourceCount(Base):
    __tablename__ = "resource_count"
    __table_args__ = (UniqueConstraint("account_id", "type"), UniqueConstraint("domain_id", "type"))

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"))
