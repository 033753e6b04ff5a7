"""Celery tasks and periodic work of the storage domain: template downloads and their watchdog."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from management.db import db, utcnow
from management.jobs.celery import app
from management.jobs.periodic import periodic

log = logging.getLogger(__name__)
RESEND_SECONDS = 30  # a queued download nobody claimed for this long is sent again (lost message)


@app.task(name="management.storage.download_template", acks_late=True)
def download_template(ref_id: int) -> None:
    from management.storage import download

    download.run(ref_id)


@periodic("storage.downloads", interval=10.0)
def watch_downloads() -> None:
    """Fail downloads that made no progress for ``stall_seconds`` (a dead worker, a lost message that
    was never delivered) and re-send the messages of downloads nobody claimed yet."""
    from management.storage import download
    from management.storage.models import DownloadState, ImageStore, Template, TemplateStoreRef

    now = utcnow()
    stale = now - timedelta(seconds=download.stall_seconds())
    resend: list[int] = []
    cleanup = []
    with db.session() as session:
        rows = session.scalars(select(TemplateStoreRef).where(
            TemplateStoreRef.download_state == DownloadState.IN_PROGRESS,
            TemplateStoreRef.last_updated < now - timedelta(seconds=RESEND_SECONDS))).all()
        for ref in rows:
            if ref.last_updated < stale or (ref.worker is None and ref.created < stale):
                message = (f"Download timed out: no progress for {download.stall_seconds()} seconds"
                           + (f" (worker {ref.worker})" if ref.worker else " (never started)"))
                result = session.execute(update(TemplateStoreRef).where(
                    TemplateStoreRef.id == ref.id, TemplateStoreRef.last_updated == ref.last_updated,
                    TemplateStoreRef.download_state == DownloadState.IN_PROGRESS)
                    .values(download_state=DownloadState.ERROR, error_str=message, last_updated=now))
                if result.rowcount == 1:
                    template = session.get(Template, ref.template_id)
                    store = session.get(ImageStore, ref.store_id)
                    cleanup.append((store, template.id, template.account_id))
            elif ref.worker is None:
                ref.last_updated = now
                resend.append(ref.id)
    for store, template_id, account_id in cleanup:
        download.remove_files(store, None, template_id, account_id)
    for ref_id in resend:
        try:
            download_template.apply_async(args=[ref_id])
        except Exception:
            log.warning("could not re-send download %s", ref_id, exc_info=True)
