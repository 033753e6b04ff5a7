"""Primary storage pools, image (secondary) stores, templates and ISOs, guest OS types
(CloudStack's storage_pool, image_store, vm_template, template_store_ref, launch_permission,
guest_os_category and guest_os tables)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class PoolStatus:
    """CloudStack's StoragePoolStatus."""

    INITIAL = "Initial"
    UP = "Up"
    DISABLED = "Disabled"
    PREPARE_FOR_MAINTENANCE = "PrepareForMaintenance"
    MAINTENANCE = "Maintenance"
    CANCEL_MAINTENANCE = "CancelMaintenance"
    ERROR_IN_MAINTENANCE = "ErrorInMaintenance"
    REMOVED = "Removed"


class DownloadState:
    """VMTemplateStorageResourceAssoc.Status, as template_store_ref.download_state."""

    NOT_DOWNLOADED = "NOT_DOWNLOADED"
    IN_PROGRESS = "DOWNLOAD_IN_PROGRESS"
    DOWNLOADED = "DOWNLOADED"
    ERROR = "DOWNLOAD_ERROR"
    ABANDONED = "ABANDONED"


class StoragePool(UuidMixin, Base):
    """A primary storage pool. ``allocated_bytes`` is kept on the row so that volume placement can
    reserve space with one conditional UPDATE."""

    __tablename__ = "storage_pool"
    __table_args__ = (Index("ix_storage_pool_zone_status", "zone_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id"), index=True)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"), index=True)  # HOST scope (local)
    scope: Mapped[str] = mapped_column(String(16), default="CLUSTER")  # CLUSTER | ZONE | HOST
    pool_type: Mapped[str] = mapped_column(String(32))  # NetworkFilesystem | SharedMountPoint | Filesystem
    host_address: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(1024))
    port: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default=PoolStatus.UP)
    capacity_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    allocated_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    tags: Mapped[str | None] = mapped_column(String(4096))  # comma-separated
    hypervisor: Mapped[str | None] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64), default="DefaultPrimary")
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[str | None] = mapped_column(Text)  # JSON
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ImageStore(UuidMixin, Base):
    """A secondary storage (image) store: NFS (recorded; the secondary-storage agent will use it) or
    Local (a directory on the management server, for single-box installs)."""

    __tablename__ = "image_store"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(1024))
    protocol: Mapped[str] = mapped_column(String(32))  # nfs | file
    provider: Mapped[str] = mapped_column(String(64))  # NFS | Local
    role: Mapped[str] = mapped_column(String(32), default="Image")
    scope: Mapped[str] = mapped_column(String(16), default="ZONE")
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("data_center.id"), index=True)
    host_address: Mapped[str | None] = mapped_column(String(255))
    path: Mapped[str | None] = mapped_column(String(1024))  # export path (NFS) or directory (Local)
    total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    used_bytes: Mapped[int | None] = mapped_column(BigInteger)
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[str | None] = mapped_column(Text)  # JSON
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GuestOsCategory(UuidMixin, Base):
    __tablename__ = "guest_os_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class GuestOs(UuidMixin, Base):
    __tablename__ = "guest_os"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("guest_os_category.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), unique=True)
    is_user_defined: Mapped[bool] = mapped_column(Boolean, default=False)
    display: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Template(UuidMixin, Base):
    """A template or an ISO (format ISO), as CloudStack's vm_template."""

    __tablename__ = "vm_template"
    __table_args__ = (Index("ix_vm_template_account_removed", "account_id", "removed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    unique_name: Mapped[str | None] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(4096))
    format: Mapped[str] = mapped_column(String(32))  # QCOW2 | RAW | VHD | ISO ...
    hypervisor: Mapped[str | None] = mapped_column(String(32))
    guest_os_id: Mapped[int | None] = mapped_column(ForeignKey("guest_os.id"))
    url: Mapped[str | None] = mapped_column(String(2048))
    checksum: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    extractable: Mapped[bool] = mapped_column(Boolean, default=False)
    password_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    sshkey_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    dynamically_scalable: Mapped[bool] = mapped_column(Boolean, default=False)
    bootable: Mapped[bool] = mapped_column(Boolean, default=True)
    requires_hvm: Mapped[bool] = mapped_column(Boolean, default=True)
    bits: Mapped[int] = mapped_column(Integer, default=64)
    cross_zones: Mapped[bool] = mapped_column(Boolean, default=False)
    type: Mapped[str] = mapped_column(String(32), default="USER")  # USER | BUILTIN | SYSTEM | ROUTING
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)  # virtual size, bytes
    physical_size: Mapped[int | None] = mapped_column(BigInteger)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[str | None] = mapped_column(Text)  # JSON
    state: Mapped[str] = mapped_column(String(32), default="Active")  # Active | Inactive
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def is_iso(self) -> bool:
        return self.format == "ISO"


class TemplateStoreRef(Base):
    """One copy of a template on one image store (CloudStack's template_store_ref); listTemplates
    shows one row per template per zone from these."""

    __tablename__ = "template_store_ref"
    __table_args__ = (UniqueConstraint("template_id", "store_id", name="uq_template_store_ref_template_store"),
                      Index("ix_template_store_ref_state", "download_state", "last_updated"))

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("image_store.id"), index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    download_state: Mapped[str] = mapped_column(String(32), default=DownloadState.NOT_DOWNLOADED)
    download_pct: Mapped[int] = mapped_column(Integer, default=0)
    error_str: Mapped[str | None] = mapped_column(String(1024))
    install_path: Mapped[str | None] = mapped_column(String(1024))  # relative to the store
    size: Mapped[int | None] = mapped_column(BigInteger)
    physical_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(255))  # of the stored file (hex, algorithm of the request)
    worker: Mapped[str | None] = mapped_column(String(255))  # node that owns the running download
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LaunchPermission(Base):
    """A private template or ISO shared with another account (CloudStack's launch_permission)."""

    __tablename__ = "launch_permission"
    __table_args__ = (UniqueConstraint("template_id", "account_id", name="uq_launch_permission_template_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
