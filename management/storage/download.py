"""Downloading a template or ISO into an image store (what CloudStack's secondary-storage VM does).

Runs on a job worker (Celery task ``management.storage.download_template``). The store ref is claimed
with a compare-and-set, so a redelivered message never downloads twice. Progress is written at most
every second (or 5%); every write is conditional on the ref still being ours and in progress, so a
deleteTemplate during the download stops it. Failures (HTTP errors, refused connections, timeouts,
checksum mismatch, size limit, bad image) end in DOWNLOAD_ERROR with the reason and no partial file.
"""

from __future__ import annotations

import bz2
import hashlib
import logging
import os
import shutil
import struct
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx
from sqlalchemy import or_, update

from management.config import service as config
from management.db import db, utcnow
from management.errors import CloudError
from management.events import service as events
from management.jobs import node
from management.storage import secondary, secondary_usage
from management.storage import templates as tmpl
from management.storage.models import DownloadState, ImageStore, Template, TemplateStoreRef

log = logging.getLogger(__name__)
GIB = 1 << 30
CHUNK = 1 << 20
MAX_REDIRECTS = 5


def connect_timeout() -> float:
    return float(os.environ.get("CLOUDSTACK_DOWNLOAD_CONNECT_TIMEOUT", "10"))


def read_timeout() -> float:
    return float(os.environ.get("CLOUDSTACK_DOWNLOAD_READ_TIMEOUT", "60"))


def stall_seconds() -> int:
    """A download without progress for this long is failed by the periodic checker."""
    return int(os.environ.get("CLOUDSTACK_DOWNLOAD_STALL_SECONDS", "600"))


class DownloadError(Exception):
    pass


class Aborted(Exception):
    """The ref was deleted or taken over while we were downloading."""


@dataclass
class Job:
    ref_id: int
    template_id: int
    template_uuid: str
    account_id: int
    name: str
    url: str
    format: str
    checksum: str | None
    store: ImageStore
    max_bytes: int
    networks: list


def template_dir(store: ImageStore, account_id: int, template_id: int) -> Path:
    """The template's folder on this node (CloudStack's template/tmpl/<account>/<template> layout); an NFS
    store is mounted first."""
    return secondary.local_root(store) / "template" / "tmpl" / str(int(account_id)) / str(int(template_id))


def remove_files(store: ImageStore, install_path: str | None, template_id: int, account_id: int) -> None:
    """Delete a template's directory on its store (best effort)."""
    if not store.path:
        return
    try:
        folder = template_dir(store, account_id, template_id)
    except CloudError as error:
        log.warning("could not remove template %s files: %s", template_id, error.message)
        return
    try:
        shutil.rmtree(folder, ignore_errors=True)
    except OSError:
        log.warning("could not remove %s", folder, exc_info=True)


def run(ref_id: int) -> None:
    me = node.name()
    job = _claim(ref_id, me)
    if job is None:
        return
    try:
        root = secondary.local_root(job.store)
    except CloudError as error:
        _fail(job, me, error.message)
        return
    folder = template_dir(job.store, job.account_id, job.template_id)
    ext = job.format.lower()
    final = folder / f"{job.template_uuid}.{ext}"
    partial = folder / f".{job.template_uuid}.{ext}.part"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        digest, physical = fetch(job, partial, lambda pct: _progress(job.ref_id, me, pct))
        if job.checksum:
            algorithm, expected = tmpl.parse_checksum(job.checksum)
            if digest[algorithm] != expected:
                raise DownloadError(f"Failed post download script: checksum \"{digest[algorithm]}\" didn't match "
                                    f"the given value, \"{expected}\"")
        virtual = image_virtual_size(partial, job.format, physical)
        os.replace(partial, final)
        _write_properties(folder, job, final.name, physical, virtual)
    except Aborted:
        shutil.rmtree(folder, ignore_errors=True)
        return
    except (DownloadError, OSError, CloudError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        message = error.message if isinstance(error, CloudError) else str(error)
        _fail(job, me, message or type(error).__name__)
        return
    except Exception as error:  # never leave a ref in progress forever
        log.exception("download of template %s failed", job.template_uuid)
        shutil.rmtree(folder, ignore_errors=True)
        _fail(job, me, f"Download failed: {type(error).__name__}")
        return
    install_path = str(final.relative_to(root))
    algorithm = tmpl.parse_checksum(job.checksum)[0] if job.checksum else "md5"
    try:
        finished = _finish(job, me, install_path, physical, virtual, digest[algorithm])
    except CloudError as error:  # the owner has no room left (secondary_storage limit)
        shutil.rmtree(folder, ignore_errors=True)
        _fail(job, me, error.message)
        return
    if not finished:
        shutil.rmtree(folder, ignore_errors=True)


def _claim(ref_id: int, me: str) -> Job | None:
    with db.session() as session:
        stale = utcnow() - timedelta(seconds=stall_seconds())
        result = session.execute(
            update(TemplateStoreRef)
            .where(TemplateStoreRef.id == ref_id, TemplateStoreRef.download_state == DownloadState.IN_PROGRESS,
                   or_(TemplateStoreRef.worker.is_(None), TemplateStoreRef.last_updated < stale))
            .values(worker=me, attempts=TemplateStoreRef.attempts + 1, last_updated=utcnow(), download_pct=0))
        if result.rowcount != 1:
            return None
        ref = session.get(TemplateStoreRef, ref_id)
        template = session.get(Template, ref.template_id)
        store = session.get(ImageStore, ref.store_id)
        session.expunge(store)
        return Job(ref_id=ref.id, template_id=template.id, template_uuid=template.uuid,
                   account_id=template.account_id, name=template.name, url=template.url, format=template.format,
                   checksum=template.checksum, store=store,
                   max_bytes=max(config.get_int(session, "max.template.iso.size"), 0) * GIB or 50 * GIB,
                   networks=tmpl.allowed_internal_networks(session))


def _mine(ref_id: int, me: str):
    return update(TemplateStoreRef).where(TemplateStoreRef.id == ref_id, TemplateStoreRef.worker == me,
                                          TemplateStoreRef.download_state == DownloadState.IN_PROGRESS)


def _progress(ref_id: int, me: str, pct: int) -> None:
    with db.session() as session:
        result = session.execute(_mine(ref_id, me).values(download_pct=min(pct, 100), last_updated=utcnow()))
        if result.rowcount != 1:
            raise Aborted()


def _fail(job: Job, me: str, message: str) -> None:
    log.info("download of template %s into store %s failed: %s", job.template_uuid, job.store.id, message)
    with db.session() as session:
        session.execute(_mine(job.ref_id, me).values(download_state=DownloadState.ERROR, error_str=message[:1024],
                                                     last_updated=utcnow()))


def _finish(job: Job, me: str, install_path: str, physical: int, virtual: int, checksum: str) -> bool:
    with db.session() as session:
        result = session.execute(_mine(job.ref_id, me).values(
            download_state=DownloadState.DOWNLOADED, download_pct=100, install_path=install_path, size=virtual,
            physical_size=physical, checksum=checksum, error_str=None, last_updated=utcnow()))
        if result.rowcount != 1:
            return False
        template = session.get(Template, job.template_id)
        secondary_usage.charge(session, template.account_id, physical)
        template.size, template.physical_size = virtual, physical
        ref = session.get(TemplateStoreRef, job.ref_id)
        events.record_usage(session, "ISO.CREATE" if template.is_iso else "TEMPLATE.CREATE",
                            account_id=template.account_id, zone_id=ref.zone_id, resource_id=template.id,
                            resource_name=template.name, template_id=None, size=physical, virtual_size=virtual,
                            resource_type=None)
    return True


# --- the transfer itself -----------------------------------------------------------------------------------

def _decompressor(path: str):
    if path.endswith(".gz"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if path.endswith(".bz2"):
        return bz2.BZ2Decompressor()
    return None


def fetch(job: Job, target: Path, progress) -> tuple[dict[str, str], int]:
    """Stream ``job.url`` into ``target``; returns the digests of the bytes received and the file size."""
    hashes = {name: hashlib.new(name) for name in ("md5", "sha1", "sha256", "sha512")}
    timeout = httpx.Timeout(connect=connect_timeout(), read=read_timeout(), write=read_timeout(), pool=10)
    url = job.url
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                host = urlparse(url).hostname or ""
                try:
                    tmpl.check_download_address(host, job.networks)
                except CloudError as error:
                    raise DownloadError(error.message) from None
                with client.stream("GET", url, headers={"User-Agent": "cloudstack-py template downloader",
                                                         "Accept-Encoding": "identity"}) as reply:
                    if reply.status_code in (301, 302, 303, 307, 308) and "location" in reply.headers:
                        url = urljoin(url, reply.headers["location"])
                        if urlparse(url).scheme.lower() not in ("http", "https"):
                            raise DownloadError(f"Redirected to an unsupported URL: {url}")
                        continue
                    if reply.status_code != 200:
                        raise DownloadError(f"Failed to download {job.url}: HTTP {reply.status_code} "
                                            f"{reply.reason_phrase}".strip())
                    return _save(job, reply, target, hashes, progress)
            raise DownloadError(f"Failed to download {job.url}: too many redirects")
    except httpx.TimeoutException:
        raise DownloadError(f"Failed to download {job.url}: timed out") from None
    except httpx.ConnectError as error:
        raise DownloadError(f"Failed to download {job.url}: unable to connect ({_reason(error)})") from None
    except httpx.HTTPError as error:
        raise DownloadError(f"Failed to download {job.url}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text.split("] ", 1)[-1]


def _save(job: Job, reply: httpx.Response, target: Path, hashes, progress) -> tuple[dict[str, str], int]:
    length = reply.headers.get("content-length")
    expected = int(length) if length and length.isdigit() else None
    if expected is not None and expected > job.max_bytes:
        raise DownloadError(f"The file is {expected} bytes, larger than max.template.iso.size "
                            f"({job.max_bytes // GIB} GiB)")
    decompressor = _decompressor(urlparse(job.url).path.lower())
    received = written = 0
    last_pct, last_time = 0, time.monotonic()
    with open(target, "wb") as out:
        for chunk in reply.iter_raw(CHUNK):
            received += len(chunk)
            for h in hashes.values():
                h.update(chunk)
            data = decompressor.decompress(chunk) if decompressor is not None else chunk
            written += len(data)
            if written > job.max_bytes or received > job.max_bytes:
                raise DownloadError(f"The file is larger than max.template.iso.size ({job.max_bytes // GIB} GiB)")
            out.write(data)
            now = time.monotonic()
            pct = int(received * 100 / expected) if expected else 0
            if expected and pct >= 100:
                pct = 99  # 100% means "installing" until the checks pass
            if now - last_time >= 1.0 or pct - last_pct >= 5:
                progress(pct)
                last_pct, last_time = pct, now
        if decompressor is not None and isinstance(decompressor, type(zlib.decompressobj())):
            tail = decompressor.flush()
            written += len(tail)
            out.write(tail)
    if expected is not None and received != expected:
        raise DownloadError(f"Failed to download {job.url}: connection closed after {received} of {expected} bytes")
    if written == 0:
        raise DownloadError(f"Failed to download {job.url}: the file is empty")
    return {name: h.hexdigest() for name, h in hashes.items()}, written


def image_virtual_size(path: Path, fmt: str, physical: int) -> int:
    """The disk size a VM sees: read from the QCOW2 header or the VHD footer; the file size otherwise.
    A QCOW2 template that is not a QCOW2 image is refused, as CloudStack's QCOW2 processor does."""
    with open(path, "rb") as f:
        if fmt == "QCOW2":
            header = f.read(32)
            if len(header) < 32 or header[:4] != b"QFI\xfb":
                raise DownloadError("The downloaded file is not a valid QCOW2 image")
            return struct.unpack(">Q", header[24:32])[0]
        if fmt == "VHD" and physical >= 512:
            f.seek(physical - 512)
            footer = f.read(512)
            if footer[:8] == b"conectix":
                return struct.unpack(">Q", footer[48:56])[0]
    return physical


def _write_properties(folder: Path, job: Job, filename: str, physical: int, virtual: int) -> None:
    ext = job.format.lower()
    lines = [f"filename={filename}", f"id={job.template_id}", f"uniquename={job.template_uuid}",
             f"description={job.name}", f"checksum={job.checksum or ''}", "hvm=true", f"size={physical}",
             f"virtualsize={virtual}", f"{ext}=true", f"{ext}.filename={filename}", f"{ext}.size={physical}",
             f"{ext}.virtualsize={virtual}"]
    (folder / "template.properties").write_text("\n".join(lines) + "\n")
