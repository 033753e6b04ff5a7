"""Volume snapshots, where their backups live on secondary storage, and recurring snapshot policies
(CloudStack's snapshots, snapshot_store_ref and snapshot_policy tables).

A snapshot is taken on the host that reaches its volume, copied (flattened) to an image store, and the
host-side snapshot is removed at once: only the backup on secondary storage remains (``SnapshotStoreRef``
with ``store_role`` Image). ``snapshots.status`` follows CloudStack's Snapshot.State and changes only
through ``management.storage.snapshots.transition`` (a compare-and-set on ``update_count``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class SnapshotState:
    """CloudStack's Snapshot.State."""

    ALLOCATED = "Allocated"
    CREATING = "Creating"
    CREATED_ON_PRIMARY = "CreatedOnPrimary"
    BACKING_UP = "BackingUp"
    BACKED_UP = "BackedUp"
    COPYING = "Copying"
    DESTROYING = "Destroying"
    DESTROYED = "Destroyed"
    ERROR = "Error"


# CloudStack's Snapshot.Type ordinals (snapshots.snapshot_type) and their names (type_description).
SNAPSHOT_TYPES = {0: "MANUAL", 1: "RECURRING", 2: "TEMPLATE", 3: "HOURLY", 4: "DAILY", 5: "WEEKLY", 6: "MONTHLY"}
TYPE_NUMBERS = {name: number for number, name in SNAPSHOT_TYPES.items()}
# DateUtil.IntervalType ordinals (snapshot_policy.interval) as the API shows them.
INTERVALS = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY")


class Snapshot(UuidMixin, Base):
    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_account_removed", "account_id", "removed"),
                      Index("ix_snapshots_volume_status", "volume_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    volume_id: Mapped[int] = mapped_column(ForeignKey("volumes.id"))
    disk_offering_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32), default=SnapshotState.ALLOCATED)
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    snapshot_type: Mapped[int] = mapped_column(Integer, default=0)
    type_description: Mapped[str] = mapped_column(String(25), default="MANUAL")
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # virtual size of the volume, bytes
    hypervisor_type: Mapped[str | None] = mapped_column(String(32))
    policy_id: Mapped[int | None] = mapped_column(BigInteger)
    location_type: Mapped[str | None] = mapped_column(String(32))  # PRIMARY | SECONDARY (always SECONDARY here)
    error_str: Mapped[str | None] = mapped_column(String(1024))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SnapshotStoreRef(Base):
    """The backup of a snapshot on an image store (``install_path`` relative to the store)."""

    __tablename__ = "snapshot_store_ref"

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("image_store.id"), index=True)
    store_role: Mapped[str] = mapped_column(String(32), default="Image")
    zone_id: Mapped[int] = mapped_column(BigInteger)
    volume_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32), default="Allocated")  # Allocated | Creating | Ready | Destroyed
    install_path: Mapped[str | None] = mapped_column(String(1024))
    size: Mapped[int | None] = mapped_column(BigInteger)  # virtual size
    physical_size: Mapped[int | None] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SnapshotPolicy(UuidMixin, Base):
    """A recurring snapshot schedule of one volume; ``next_run`` (UTC) is when the periodic task takes the next."""

    __tablename__ = "snapshot_policy"
    __table_args__ = (Index("ix_snapshot_policy_active_next", "active", "next_run"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    volume_id: Mapped[int] = mapped_column(ForeignKey("volumes.id"), index=True)
    schedule: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(100))
    interval: Mapped[int] = mapped_column(Integer)  # 0 HOURLY, 1 DAILY, 2 WEEKLY, 3 MONTHLY
    max_snaps: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    display: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_run: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TemplateExtract(Base):
    """A download URL of a template (extractTemplate HTTP_DOWNLOAD): ``token`` is the secret part of the URL,
    served by the management server until ``expires``."""

    __tablename__ = "template_extract"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id"), index=True)
    zone_id: Mapped[int] = mapped_column(BigInteger)
    store_id: Mapped[int] = mapped_column(BigInteger)
    install_path: Mapped[str] = mapped_column(String(1024))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(32), default="DOWNLOAD_URL_NOT_CREATED")
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires: Mapped[datetime] = mapped_column(UtcDateTime)
