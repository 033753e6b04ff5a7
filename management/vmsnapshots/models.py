"""The ``vm_snapshots`` table (CloudStack's vm_snapshots): a named point in time of all a VM's disks, kept
as an internal qcow2 snapshot in each disk file on primary storage. ``state`` follows CloudStack's
VMSnapshot.State; ``current`` marks the snapshot the VM's disks were last taken at or reverted to, and
``parent_id`` the snapshot that was current when this one was taken (the tree the console draws)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class VMSnapshotState:
    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    REVERTING = "Reverting"
    EXPUNGING = "Expunging"
    ERROR = "Error"
    BUSY = (CREATING, REVERTING, EXPUNGING)
    ALL = (ALLOCATED, CREATING, READY, REVERTING, EXPUNGING, ERROR)


class VMSnapshot(UuidMixin, Base):
    __tablename__ = "vm_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # i-<account>-<vm>-VM_VS_<timestamp>: the disks' snapshot name
    display_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    type: Mapped[str] = mapped_column(String(32), default="Disk")  # Disk | DiskAndMemory
    state: Mapped[str] = mapped_column(String(32), default=VMSnapshotState.ALLOCATED)
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)
