"""uploadVolume: a volume whose content is downloaded from a URL into the zone's image store.

In the request the URL, format and checksum are checked (as for templates: http/https, the format's file
extension, no internal addresses unless ``secstorage.allowed.internal.sites`` allows them) and the row is
added (``NotUploaded``, one ``volume`` reserved). The job downloads the file with the template downloader's
transfer (``management.storage.download.fetch``) into ``<store>/volumes/<account>/<volume>/``, checks the
checksum and the image, reserves ``primary_storage`` for its virtual size and ``secondary_storage`` for the
file (``secondary_usage``; 535 and ``UploadError`` when it does not fit) and marks the volume ``Uploaded``;
it is copied to primary storage when first attached. A failed download leaves no file and the volume in
``UploadError`` with the reason in ``status`` (it can then be deleted).
"""

from __future__ import annotations

import os
import shutil
from functools import partial as partial_fn

from sqlalchemy import update

from management.compute.vm_models import Volume
from management.compute.vm_tx import on_rollback, step
from management.config import service as config
from management.context import Caller, Context
from management.db import db, utcnow
from management.errors import CloudError, InvalidParameter, ResourceUnavailable
from management.events import service as events
from management.iam.models import Domain
from management.infra.models import Zone
from management.limits import service as limits
from management.storage import download, images, secondary, secondary_usage, volumes
from management.storage import templates as tmpl
from management.storage.models import ImageStore
from management.storage.volume_orchestrate import volume_dir

FORMATS = ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "VMDK")


def create(session, caller: Caller, *, name: str, zone: Zone, url: str, fmt: str, checksum: str | None,
           disk_offering, account_name: str | None, domain: Domain | None) -> Volume:
    fmt = tmpl.pick(fmt, FORMATS, "format")
    if fmt not in ("QCOW2", "RAW"):
        raise InvalidParameter(f"Format {fmt} is not supported for KVM volumes: use QCOW2 or RAW (format)")
    url = tmpl.validate_url(session, url, fmt)
    if checksum:
        tmpl.parse_checksum(checksum)
    owner = volumes.owner_of(session, caller, account_name, domain)
    zone = volumes._usable_zone(session, caller, zone)
    if not images.zone_stores(session, zone.id):
        raise ResourceUnavailable(f"Zone {zone.name} has no image store to upload the volume to")
    if disk_offering is not None and not disk_offering.customized:
        raise InvalidParameter("The disk offering of an uploaded volume must be a custom size offering "
                               "(diskofferingid)")
    limits.reserve(session, account_id=owner.id, resource="volume", amount=1)
    volume = Volume(name=name, volume_type="DATADISK", state="NotUploaded", size=0, format=fmt,
                    disk_offering_id=disk_offering.id if disk_offering else None, account_id=owner.id,
                    domain_id=owner.domain_id, zone_id=zone.id, url=url, checksum=checksum, status="Not uploaded")
    session.add(volume)
    session.flush()
    return volume


def run(ctx: Context, volume_id: int) -> None:
    """Download the volume's URL (in the job); the job fails with the reason when the download does."""
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        if volume.state != "NotUploaded":
            return
        store = images.zone_stores(s, volume.zone_id)[0]
        volumes.transition(s, volume, "UploadRequested", store_id=store.id, status="0% Uploaded")
        s.expunge(store)
        max_bytes = max(config.get_int(s, "max.template.iso.size"), 0) * download.GIB or 50 * download.GIB
        job = download.Job(ref_id=0, template_id=volume.id, template_uuid=volume.uuid, account_id=volume.account_id,
                           name=volume.name, url=volume.url, format=volume.format, checksum=volume.checksum,
                           store=store, max_bytes=max_bytes, networks=tmpl.allowed_internal_networks(s))
        owner_id, relative = volume.account_id, volume_dir(volume)
    relative = f"{relative}/{job.template_uuid}.{job.format.lower()}"
    try:
        final = secondary.node_path(store, relative)
    except CloudError as error:
        _record_failure(ctx, volume_id, error.message)
        raise ResourceUnavailable(f"Failed to upload volume: {error.message}") from None
    folder = final.parent
    partial = folder / f".{job.template_uuid}.part"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        digest, physical = download.fetch(job, partial, lambda pct: _progress(ctx, volume_id, pct))
        if job.checksum:
            algorithm, expected = tmpl.parse_checksum(job.checksum)
            if digest[algorithm] != expected:
                raise download.DownloadError(f"Failed post download script: checksum \"{digest[algorithm]}\" didn't "
                                             f"match the given value, \"{expected}\"")
        virtual = download.image_virtual_size(partial, job.format, physical)
        os.replace(partial, final)
        with step(ctx) as s:
            limits.reserve(s, account_id=owner_id, resource="primary_storage", amount=virtual)
            secondary_usage.charge(s, owner_id, physical)
            volume = volumes.fresh(s, volume_id)
            volumes.transition(s, volume, "OperationSucceeded", size=virtual, source_path=relative,
                               upload_size=physical, status="Download Complete")
            volumes.event(s, ctx.caller, "VOLUME.UPLOAD", f"Uploaded volume {volume.name} ({virtual} bytes)", volume)
            events.record_usage(s, "VOLUME.UPLOAD", account_id=volume.account_id, zone_id=volume.zone_id,
                                resource_id=volume.id, resource_name=volume.name, size=physical,
                                offering_id=volume.disk_offering_id)
    except (download.DownloadError, OSError, CloudError, download.Aborted) as error:
        shutil.rmtree(folder, ignore_errors=True)
        message = error.message if isinstance(error, CloudError) else str(error) or type(error).__name__
        _record_failure(ctx, volume_id, message)
        raise ResourceUnavailable(f"Failed to upload volume: {message}") from None
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        _record_failure(ctx, volume_id, "Upload failed: internal error")
        raise


def _progress(ctx: Context, volume_id: int, pct: int) -> None:
    with step(ctx) as s:
        volume = volumes.fresh(s, volume_id)
        if volume.removed is not None or volume.state != "UploadInProgress":
            raise download.Aborted()
        volume.status = f"{min(pct, 99)}% Uploaded"
        volume.updated = utcnow()


def _record_failure(ctx: Context, volume_id: int, message: str) -> None:
    """UploadError with the reason, whether the job's own transaction survives the failure or not: written in a
    step (its own transaction) and again, if that was rolled back with the job, after the rollback."""
    with step(ctx) as s:
        _mark_failed(s, volume_id, message)
    on_rollback(ctx.session, partial_fn(_failed, volume_id, message))


def _mark_failed(session, volume_id: int, message: str) -> None:
    volume = volumes.fresh(session, volume_id)
    if volume.state in ("UploadInProgress", "NotUploaded"):
        session.execute(update(Volume).where(Volume.id == volume_id).values(
            state="UploadError", status=message[:1024], update_count=Volume.update_count + 1, updated=utcnow()))


def _failed(volume_id: int, message: str) -> None:
    """After the failed job's transaction is gone: the volume ends in UploadError with the reason."""
    with db.session() as s:
        _mark_failed(s, volume_id, message)


def store_of(session, volume: Volume) -> ImageStore | None:
    return session.get(ImageStore, volume.store_id) if volume.store_id else None
