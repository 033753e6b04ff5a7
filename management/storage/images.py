"""Secondary (image) stores: addImageStore, addSecondaryStorage, deleteImageStore, listImageStores.

NFS stores are mounted by the management node that first needs them (``management.storage.secondary``); Local stores
are directories on the management server, created here (single-box installs and the tests use them).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter
from management.infra.models import Zone
from management.pagination import page
from management.storage.models import DownloadState, ImageStore, TemplateStoreRef

PROVIDERS = ("NFS", "Local")


def add_image_store(session: Session, caller: Caller, *, provider: str, url: str | None, name: str | None,
                    zone: Zone | None, details: dict[str, str]) -> ImageStore:
    match = next((p for p in PROVIDERS if p.lower() == (provider or "").lower()), None)
    if match is None:
        raise InvalidParameter(f"can't find image store provider: {provider} (available: NFS, Local)")
    if not url:
        raise InvalidParameter("url is required for an NFS or Local image store")
    if zone is None:
        raise InvalidParameter(f"Image store of provider {match} must be in a zone: zoneid is required")
    if zone.removed is not None:
        raise InvalidParameter(f"Unable to find zone by id {zone.uuid}")
    try:
        parsed = urlparse(url.strip())
    except ValueError:
        raise InvalidParameter(f"{url} is not a valid uri") from None
    scheme, host, path = (parsed.scheme or "").lower(), parsed.hostname or "", unquote(parsed.path or "")
    total = used = None
    if match == "NFS":
        if scheme != "nfs":
            raise InvalidParameter(f"Unsupported scheme for url: {url}; an NFS image store needs nfs://host/path")
        if not host or not path or path == "/":
            raise InvalidParameter("host or path is null, should be nfs://hostname/path")
        protocol, path = "nfs", path.rstrip("/")
    else:
        if scheme != "file" or not path or path == "/" or host not in ("", "localhost"):
            raise InvalidParameter(f"Unsupported url for a Local image store: {url}; use file:///path on the "
                                   "management server")
        protocol, path = "file", os.path.normpath(path)
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
            if not os.access(path, os.W_OK):
                raise PermissionError(f"{path} is not writable")
        except OSError as error:
            raise InvalidParameter(f"Cannot use {path} as an image store: {error}") from None
        usage = shutil.disk_usage(path)
        total, used = usage.total, usage.total - usage.free
    duplicate = session.scalar(select(ImageStore.id).where(ImageStore.removed.is_(None), ImageStore.zone_id == zone.id,
                                                           ImageStore.protocol == protocol,
                                                           (ImageStore.host_address == host) if host
                                                           else ImageStore.host_address.is_(None),
                                                           ImageStore.path == path))
    if duplicate is not None:
        raise InvalidParameter(f"The image store {url} has already been added to zone {zone.name}")
    store = ImageStore(name=(name or url.strip())[:255], url=url.strip(), protocol=protocol, provider=match,
                       zone_id=zone.id, host_address=host or None, path=path, total_bytes=total, used_bytes=used,
                       details=json.dumps(details) if details else None)
    session.add(store)
    session.flush()
    return store


def provider_for_url(url: str) -> str:
    """addSecondaryStorage's legacy form: the provider follows the URL scheme."""
    scheme = (urlparse(url.strip()).scheme or "").lower()
    if scheme == "nfs":
        return "NFS"
    if scheme == "file":
        return "Local"
    raise InvalidParameter(f"Unsupported scheme for url: {url}; use nfs://host/path or file:///path")


def delete_image_store(session: Session, caller: Caller, store: ImageStore) -> None:
    if store.removed is not None:
        raise InvalidParameter(f"Unable to find image store by id {store.uuid}")
    refs = session.scalars(select(TemplateStoreRef).where(TemplateStoreRef.store_id == store.id)).all()
    if any(r.download_state in (DownloadState.DOWNLOADED, DownloadState.IN_PROGRESS) for r in refs):
        raise InvalidParameter("Cannot delete image store with active templates backup!")
    from management.compute.vm_models import Volume
    from management.jobs.service import after_commit
    from management.storage import secondary
    from management.storage.snapshot_models import SnapshotStoreRef

    if session.scalar(select(SnapshotStoreRef.id).where(SnapshotStoreRef.store_id == store.id,
                                                        SnapshotStoreRef.state != "Destroyed").limit(1)):
        raise InvalidParameter("Cannot delete image store with active snapshots backup!")
    if session.scalar(select(Volume.id).where(Volume.store_id == store.id, Volume.removed.is_(None)).limit(1)):
        raise InvalidParameter("Cannot delete image store with active volumes backup!")
    for ref in refs:  # failed or abandoned downloads only
        session.delete(ref)
    store.removed = utcnow()
    session.flush()
    shared = session.scalar(select(ImageStore.id).where(ImageStore.removed.is_(None), ImageStore.url == store.url,
                                                        ImageStore.id != store.id).limit(1))
    if not secondary.is_local(store) and shared is None:
        after_commit(session, lambda: secondary.release(store))


def measure(store: ImageStore) -> tuple[int, int] | None:
    """(total, used) bytes of the store where this node has it: a Local directory, or an NFS store already
    mounted here (measuring never mounts, so an unreachable NFS server cannot hang a listing). Writes nothing."""
    from management.storage import secondary

    root = secondary.mounted_root(store)
    if root is not None and root.is_dir():
        usage = shutil.disk_usage(root)
        return usage.total, usage.total - usage.free
    return None


def zone_stores(session: Session, zone_id: int) -> list[ImageStore]:
    """Writable image stores of a zone, the preferred first (Local, then by age)."""
    stores = session.scalars(select(ImageStore).where(ImageStore.zone_id == zone_id, ImageStore.removed.is_(None),
                                                      ImageStore.readonly.is_(False))
                             .order_by(ImageStore.id)).all()
    return sorted(stores, key=lambda s: (s.provider != "Local", s.id))


def list_image_stores(session: Session, *, store_id: int | None, name: str | None, zone_id: int | None,
                      protocol: str | None, provider: str | None, readonly: bool | None, keyword: str | None,
                      offset: int, limit: int | None) -> tuple[list[ImageStore], int]:
    query = select(ImageStore).where(ImageStore.removed.is_(None), ImageStore.role == "Image")
    for column, value in ((ImageStore.id, store_id), (ImageStore.name, name), (ImageStore.zone_id, zone_id),
                          (ImageStore.protocol, protocol), (ImageStore.provider, provider),
                          (ImageStore.readonly, readonly)):
        if value is not None:
            query = query.where(column == value)
    if keyword:
        query = query.where(or_(ImageStore.name.like(f"%{keyword}%"), ImageStore.url.like(f"%{keyword}%")))
    return page(session, query.order_by(ImageStore.id), offset, limit)
