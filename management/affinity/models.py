"""CloudStack's ``affinity_group`` and ``affinity_group_vm_map``."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UuidMixin

ANTI_AFFINITY, AFFINITY = "host anti-affinity", "host affinity"
TYPES = (ANTI_AFFINITY, AFFINITY)


class AffinityGroup(UuidMixin, Base):
    __tablename__ = "affinity_group"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_affinity_group_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(4096))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)


class AffinityGroupVmMap(Base):
    __tablename__ = "affinity_group_vm_map"
    __table_args__ = (UniqueConstraint("affinity_group_id", "vm_id", name="uq_affinity_group_vm_map"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    affinity_group_id: Mapped[int] = mapped_column(ForeignKey("affinity_group.id"), index=True)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id"), index=True)
