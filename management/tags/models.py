"""CloudStack's ``resource_tags``: a key/value pair on one resource of one type, owned by its account."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UuidMixin


class ResourceTag(UuidMixin, Base):
    __tablename__ = "resource_tags"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id", "key", name="uq_resource_tags_resource_key"),
                      Index("ix_resource_tags_account", "account_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))
    resource_type: Mapped[str] = mapped_column(String(32))  # CloudStack's ResourceObjectType: UserVm, Volume...
    resource_id: Mapped[int] = mapped_column(BigInteger)
    resource_uuid: Mapped[str] = mapped_column(String(40))
    customer: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
