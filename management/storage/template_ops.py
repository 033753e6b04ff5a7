"""Templates made from volumes and snapshots (createTemplate), copies between zones' image stores
(copyTemplate) and download URLs (extractTemplate).

A template from a **volume** is written by a host that reaches the volume's pool (``CreateTemplateImage``:
qemu-img convert, flattening the backing chain) straight into the image store (an NFS store is mounted by
that host); one from a **snapshot** and a copy between zones are file copies between the stores done by the
worker on this node (NFS stores mounted here, ``secondary.node_path``). The template file goes where downloads put theirs (``template/tmpl/<account>/<template>/``), its
``template_store_ref`` is DOWNLOADED once the file is complete, so deployVirtualMachine uses it like any other.
A failure leaves no file and no usable row: the template is marked removed and its store rows deleted.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from agent.protocol_snapshots import CreateTemplateImage
from management.compute.vm_models import VMInstance, Volume
from management.compute.vm_tx import agent_call, on_rollback, step
from management.config import service as config
from management.context import Caller, Context
from management.db import db, utcnow
from management.errors import CloudError, InvalidParameter, PermissionDenied, ResourceUnavailable
from management.events import service as events
from management.iam.access import check_account_access
from management.iam.models import Account
from management.infra.models import Zone
from management.storage import secondary, secondary_usage, snapshots
from management.storage.models import DownloadState, GuestOs, ImageStore, Template, TemplateStoreRef
from management.storage.snapshot_models import Snapshot, TemplateExtract

log = logging.getLogger(__name__)
router = APIRouter()
# A store copy being written by createTemplate/copyTemplate: not DOWNLOAD_IN_PROGRESS, which the download
# watchdog would take for a lost download and hand to the downloader.
WRITING = DownloadState.NOT_DOWNLOADED


@dataclass
class TemplateRequest:
    name: str
    display_text: str
    guest_os: GuestOs
    volume: Volume | None = None
    snapshot: Snapshot | None = None
    vm: VMInstance | None = None
    zone: Zone | None = None
    is_public: bool = False
    featured: bool = False
    password_enabled: bool = False
    sshkey_enabled: bool = False
    dynamically_scalable: bool = False
    requires_hvm: bool = True
    bits: int = 64
    details: dict | None = None


def _relative(account_id: int, template: Template) -> str:
    return f"template/tmpl/{account_id}/{template.id}/{template.uuid}.qcow2"


def allocate(session: Session, caller: Caller, req: TemplateRequest) -> Template:
    """The request half of createTemplate: validate the source, write the template (not ready yet)."""
    if not (req.name or "").strip():
        raise InvalidParameter("Template name cannot be empty (name)")
    if (req.volume is None) == (req.snapshot is None):
        raise InvalidParameter("Either volumeid or snapshotid must be passed, and not both (volumeid)")
    if req.bits not in (32, 64):
        raise InvalidParameter("bits must be 32 or 64 (bits)")
    if req.guest_os.removed is not None:
        raise InvalidParameter(f"Please specify a valid guest OS: {req.guest_os.uuid} is removed (ostypeid)")
    if req.is_public and not caller.is_admin and not config.get_bool(session, "allow.public.user.templates",
                                                                                account=caller.account_id):
        raise InvalidParameter("Only private templates can be created (ispublic)")
    if req.featured and not caller.is_root_admin:
        raise PermissionDenied("Only ROOT admins are allowed to make a template featured")
    if req.volume is not None:
        volume = req.volume
        if volume.removed is not None or volume.state in ("Destroy", "Expunging", "Expunged"):
            raise InvalidParameter(f"Unable to find a volume with the specified id (volumeid={volume.uuid})")
        check_account_access(session, caller, session.get(Account, volume.account_id))
        if volume.state != "Ready" or volume.pool_id is None:
            raise InvalidParameter(f"Volume {volume.uuid} is {volume.state}, not Ready on primary storage (volumeid)")
        vm = session.get(VMInstance, volume.vm_id) if volume.vm_id else None
        if vm is not None and vm.state != "Stopped":
            raise InvalidParameter(f"VM {vm.instance_name} of volume {volume.uuid} is {vm.state}: stop it before "
                                   "creating a template from its volume (volumeid)")
        snapshots.host_for_volume(session, volume)  # an Up host must reach the pool
        owner, zone_id, size = session.get(Account, volume.account_id), volume.zone_id, volume.size
        hypervisor = snapshots._hypervisor(session, volume)
    else:
        snapshot = snapshots.usable_snapshot(session, caller, req.snapshot.uuid)
        owner, zone_id, size = session.get(Account, snapshot.account_id), snapshot.zone_id, snapshot.size
        hypervisor = snapshot.hypervisor_type
    if req.zone is not None and req.zone.id != zone_id:
        raise InvalidParameter(f"The source of the template is not in zone {req.zone.uuid} (zoneid)")
    store = snapshots.image_store_for(session, zone_id)
    template = Template(name=req.name.strip(), display_text=req.display_text or req.name, format="QCOW2",
                        hypervisor=hypervisor, guest_os_id=req.guest_os.id, url=None, is_public=req.is_public,
                        featured=req.featured, extractable=False, password_enabled=req.password_enabled,
                        sshkey_enabled=req.sshkey_enabled, dynamically_scalable=req.dynamically_scalable,
                        requires_hvm=req.requires_hvm, bits=req.bits, type="USER", account_id=owner.id,
                        domain_id=owner.domain_id, size=size,
                        details=json.dumps(req.details) if req.details else None)
    session.add(template)
    session.flush()
    template.unique_name = f"{template.id}-{owner.id}-{template.uuid}"
    secondary_usage.charge(session, owner.id, size)  # the estimate; the real size once written
    session.add(TemplateStoreRef(template_id=template.id, store_id=store.id, zone_id=zone_id,
                                 download_state=WRITING, download_pct=0, physical_size=size,
                                 install_path=_relative(owner.id, template)))
    session.flush()
    return template


def make(ctx: Context, template_id: int) -> None:
    """The worker half of createTemplate: write the image, then mark the store copy DOWNLOADED."""
    from management.jobs.models import AsyncJob

    on_rollback(ctx.session, partial(fail_template, template_id))
    with step(ctx) as s:
        job = s.get(AsyncJob, ctx.job_id)
        params = json.loads(job.params)
        template = s.get(Template, template_id)
        ref = s.scalar(select(TemplateStoreRef).where(TemplateStoreRef.template_id == template_id))
        store = s.get(ImageStore, ref.store_id)
        volume = s.scalar(select(Volume).where(Volume.uuid == params["volumeid"])) if params.get("volumeid") else None
        if volume is not None:
            vm = s.get(VMInstance, volume.vm_id) if volume.vm_id else None
            if vm is not None and vm.state != "Stopped":
                raise InvalidParameter(f"VM {vm.instance_name} was started: the template was not created")
            host, _vm = snapshots.host_for_volume(s, volume)
            path, store_url = secondary.agent_source(store, ref.install_path)
            command = CreateTemplateImage(source=volume.path, destination=path, destination_store=store_url,
                                          size_bytes=volume.size)
            source = None
        else:
            snapshot = s.scalar(select(Snapshot).where(Snapshot.uuid == params["snapshotid"]))
            source = snapshots.backup_file(s, snapshot.id)
            destination = snapshots.store_file(store, ref.install_path)
    if source is None:
        answer = agent_call(host, command, timeout=snapshots.BACKUP_TIMEOUT)
        if not answer.ok:
            raise ResourceUnavailable(f"Failed to create template {template.name} from volume {volume.uuid} on host "
                                      f"{host.name}: {answer.details}")
        physical, virtual = int(answer.data.get("physical_size") or 0), answer.data.get("virtual_size")
    else:
        physical, virtual = copy_file(source, destination), None
    with step(ctx) as s:
        template = s.get(Template, template_id, populate_existing=True)
        virtual = virtual or template.size
        template.size = virtual
        estimate = s.scalar(select(TemplateStoreRef.physical_size).where(TemplateStoreRef.template_id == template_id))
        secondary_usage.recharge(s, template.account_id, estimate, physical)
        s.execute(update(TemplateStoreRef).where(TemplateStoreRef.template_id == template_id)
                  .values(download_state=DownloadState.DOWNLOADED, download_pct=100, size=virtual,
                          physical_size=physical, last_updated=utcnow()))
        ref = s.scalar(select(TemplateStoreRef).where(TemplateStoreRef.template_id == template_id))
        events.record(s, ctx.caller, "TEMPLATE.CREATE", f"Successfully created template {template.name}",
                      resource=template, resource_type="Template", account_id=template.account_id,
                      domain_id=template.domain_id)
        events.record_usage(s, "TEMPLATE.CREATE", account_id=template.account_id, zone_id=ref.zone_id,
                            resource_id=template.id, resource_name=template.name, size=physical,
                            virtual_size=virtual)


def copy_file(source: str, destination: str) -> int:
    """Copy through ``.part`` and rename, so a reader never sees half a file; returns the size."""
    if not os.path.exists(source):
        raise ResourceUnavailable(f"The source image {source} is missing on secondary storage")
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    partial_path = destination + ".part"
    try:
        shutil.copyfile(source, partial_path)
        os.replace(partial_path, destination)
    except OSError as error:
        if os.path.exists(partial_path):
            os.remove(partial_path)
        raise ResourceUnavailable(f"Copying {source} to {destination} failed: {error}") from None
    return os.path.getsize(destination)


def fail_template(template_id: int) -> None:
    """After a failed createTemplate (or its worker dead): the template is removed, its store rows deleted, its
    file gone. Idempotent; a template already complete is left alone."""
    leftovers = []
    with db.session() as s:
        template = s.get(Template, template_id, populate_existing=True)
        if template is None or template.removed is not None:
            return
        refs = s.scalars(select(TemplateStoreRef).where(TemplateStoreRef.template_id == template_id)).all()
        if any(r.download_state == DownloadState.DOWNLOADED for r in refs):
            return
        leftovers = [(s.get(ImageStore, ref.store_id), ref.install_path) for ref in refs if ref.install_path]
        secondary_usage.refund(s, template.account_id, sum(ref.physical_size or 0 for ref in refs))
        s.execute(delete(TemplateStoreRef).where(TemplateStoreRef.template_id == template_id))
        template.removed, template.state = utcnow(), "Inactive"
    for store, install_path in leftovers:
        snapshots.remove_store_file(store, install_path)
        try:
            os.rmdir(os.path.dirname(snapshots.store_file(store, install_path)))
        except (OSError, CloudError):
            pass


def recover_orphan(orphan) -> None:
    """A createTemplate job whose worker died: the half-made template goes, as after a failure."""
    if orphan.command == "createTemplate" and orphan.instance_type == "Template" and orphan.instance_id:
        fail_template(orphan.instance_id)


def view(session: Session, caller: Caller, template_id: int, zone_id: int | None = None):
    from management.storage.responses import template_views

    template = session.get(Template, template_id, populate_existing=True)
    query = select(TemplateStoreRef).where(TemplateStoreRef.template_id == template_id)
    if zone_id is not None:
        query = query.where(TemplateStoreRef.zone_id == zone_id)
    ref = session.scalar(query.order_by(TemplateStoreRef.id.desc()).execution_options(populate_existing=True))
    return template_views(session, [(template, ref)], admin=caller.is_admin)[0]


# --- copyTemplate --------------------------------------------------------------------------------------------

def _ready_ref(session: Session, template: Template, zone: Zone | None) -> TemplateStoreRef | None:
    query = select(TemplateStoreRef).where(TemplateStoreRef.template_id == template.id,
                                           TemplateStoreRef.download_state == DownloadState.DOWNLOADED)
    if zone is not None:
        query = query.where(TemplateStoreRef.zone_id == zone.id)
    return session.scalar(query.order_by(TemplateStoreRef.id))


def check_copy(session: Session, caller: Caller, template: Template, source_zone: Zone | None,
               targets: list[Zone]) -> None:
    from management.storage import templates

    if template.is_iso:
        raise InvalidParameter("Please specify a valid template (id)")
    if template.removed is not None:
        raise InvalidParameter(f"Unable to find template with id {template.uuid} (id)")
    if not templates.can_use(session, caller, template):
        raise PermissionDenied(f"Account {caller.account_name} does not have permission to copy template "
                               f"{template.uuid}")
    source = _ready_ref(session, template, source_zone)
    if source is None:
        where = f" in zone {source_zone.uuid}" if source_zone is not None else ""
        raise InvalidParameter(f"Template {template.uuid} is not ready{where}: nothing to copy (sourcezoneid)")
    for zone in targets:
        if zone.id == source.zone_id:
            raise InvalidParameter("Please specify different source and destination zones (destzoneid)")
        if session.scalar(select(TemplateStoreRef.id).where(TemplateStoreRef.template_id == template.id,
                                                            TemplateStoreRef.zone_id == zone.id)) is not None:
            raise InvalidParameter(f"Template {template.uuid} is already in zone {zone.name} (destzoneid)")
        snapshots.image_store_for(session, zone.id)


def copy(ctx: Context, template_id: int, source_zone: Zone | None, targets: list[Zone]) -> Zone:
    with step(ctx) as s:
        template = s.get(Template, template_id)
        check_copy(s, ctx.caller, template, source_zone, targets)
        source_ref = _ready_ref(s, template, source_zone)
        source = snapshots.store_file(s.get(ImageStore, source_ref.store_id), source_ref.install_path)
        plans = []
        for zone in targets:
            store = snapshots.image_store_for(s, zone.id)
            secondary_usage.charge(s, template.account_id, source_ref.physical_size)
            ref = TemplateStoreRef(template_id=template.id, store_id=store.id, zone_id=zone.id,
                                   download_state=WRITING, download_pct=0, physical_size=source_ref.physical_size,
                                   install_path=source_ref.install_path)
            s.add(ref)
            s.flush()
            plans.append((ref.id, zone, snapshots.store_file(store, ref.install_path)))
    copied: list[str] = []
    on_rollback(ctx.session, partial(_copy_failed, template_id, [p[0] for p in plans], copied))
    for ref_id, zone, destination in plans:
        copied.append(destination)
        physical = copy_file(source, destination)
        with step(ctx) as s:
            secondary_usage.recharge(s, template.account_id, source_ref.physical_size, physical)
            s.execute(update(TemplateStoreRef).where(TemplateStoreRef.id == ref_id)
                      .values(download_state=DownloadState.DOWNLOADED, download_pct=100, size=source_ref.size,
                              physical_size=physical, last_updated=utcnow()))
            events.record(s, ctx.caller, "TEMPLATE.COPY", f"Copied template {template.name} to zone {zone.name}",
                          resource=template, resource_type="Template", account_id=template.account_id,
                          domain_id=template.domain_id)
            events.record_usage(s, "TEMPLATE.COPY", account_id=template.account_id, zone_id=zone.id,
                                resource_id=template.id, resource_name=template.name, size=physical,
                                virtual_size=source_ref.size)
    return targets[0]


def _copy_failed(template_id: int, ref_ids: list[int], paths: list[str]) -> None:
    with db.session() as s:
        template = s.get(Template, template_id)
        unfinished = s.scalars(select(TemplateStoreRef).where(
            TemplateStoreRef.id.in_(ref_ids), TemplateStoreRef.download_state != DownloadState.DOWNLOADED)).all()
        secondary_usage.refund(s, template.account_id, sum(ref.physical_size or 0 for ref in unfinished))
        s.execute(delete(TemplateStoreRef).where(TemplateStoreRef.id.in_([ref.id for ref in unfinished])))
    for path in paths:
        for candidate in (path + ".part",):
            if os.path.exists(candidate):
                os.remove(candidate)


# --- extractTemplate -----------------------------------------------------------------------------------------

def check_extract(session: Session, caller: Caller, template: Template, mode: str, url: str | None,
                  zone: Zone | None) -> None:
    from management.storage import templates

    if template.removed is not None or template.is_iso:
        raise InvalidParameter(f"Unable to find template with id {template.uuid} (id)")
    if (mode or "").strip().upper() != "HTTP_DOWNLOAD":
        raise InvalidParameter(f"Unsupported extraction mode {mode}: only HTTP_DOWNLOAD is supported (mode)")
    templates.check_owner_access(session, caller, template)
    if not template.extractable and not caller.is_admin:
        raise PermissionDenied(f"Unable to extract template id={template.uuid} as it's not extractable")
    ref = _ready_ref(session, template, zone)
    if ref is None:
        raise InvalidParameter(f"Template {template.uuid} is not ready" + (f" in zone {zone.uuid}" if zone else "")
                               + " (zoneid)")


def _base_url(session: Session) -> str:
    from management.settings import get_settings

    settings = get_settings()
    host = config.get_value(session, "host") or "localhost"
    if host in ("localhost", "") and settings.bind not in ("0.0.0.0", "::"):
        host = settings.bind
    elif host in ("localhost", ""):
        host = "127.0.0.1"
    return f"http://{host}:{settings.port}"


def create_url(session: Session, caller: Caller, template: Template, zone: Zone | None) -> TemplateExtract:
    """In the request (the API process knows the address it serves on): the download URL's row."""
    check_extract(session, caller, template, "HTTP_DOWNLOAD", None, zone)
    ref = _ready_ref(session, template, zone)
    token = secrets.token_urlsafe(24)
    url = f"{_base_url(session)}/client/extract/{token}/{template.uuid}.{template.format.lower()}"
    lifetime = config.get_int(session, "extract.url.expiration.interval")
    row = TemplateExtract(template_id=template.id, zone_id=ref.zone_id, store_id=ref.store_id,
                          install_path=ref.install_path, token=token, url=url, state="DOWNLOAD_URL_NOT_CREATED",
                          expires=utcnow() + timedelta(seconds=lifetime))
    session.add(row)
    session.flush()
    return row


def extract(ctx: Context, template_id: int) -> dict:
    """The job: the URL made in the request becomes valid (DOWNLOAD_URL_CREATED) once the file is there."""
    session = ctx.session
    template = session.get(Template, template_id)
    row = session.scalar(select(TemplateExtract).where(TemplateExtract.template_id == template_id,
                                                       TemplateExtract.state == "DOWNLOAD_URL_NOT_CREATED")
                         .order_by(TemplateExtract.id.desc()))
    if row is None:
        raise InvalidParameter(f"No extraction of template {template.uuid} is pending (id)")
    store = session.get(ImageStore, row.store_id)
    if not os.path.isfile(snapshots.store_file(store, row.install_path)):
        raise ResourceUnavailable(f"The file of template {template.uuid} is missing on its image store")
    row.state = "DOWNLOAD_URL_CREATED"
    zone_row = session.get(Zone, row.zone_id)
    events.record(session, ctx.caller, "TEMPLATE.EXTRACT", f"Extract URL of template {template.name} created",
                  resource=template, resource_type="Template", account_id=template.account_id,
                  domain_id=template.domain_id)
    account = session.get(Account, template.account_id)
    return {"id": template.uuid, "name": template.name, "accountid": account.uuid if account else None,
            "created": row.created.strftime("%Y-%m-%dT%H:%M:%S+0000"), "extractId": template.uuid,
            "extractMode": "HTTP_DOWNLOAD", "state": "DOWNLOAD_URL_CREATED", "status": "DOWNLOAD_URL_CREATED",
            "storagetype": "Image", "uploadpercentage": 100, "url": row.url, "zoneid": zone_row.uuid,
            "zonename": zone_row.name}


@router.get("/client/extract/{token}/{filename}", include_in_schema=False)
def download(token: str, filename: str):
    """Serve an extracted template file while its URL is valid (404 otherwise)."""
    with db.read_session() as session:
        row = session.scalar(select(TemplateExtract).where(TemplateExtract.token == token))
        if row is None or row.expires < utcnow() or row.state != "DOWNLOAD_URL_CREATED":
            return JSONResponse({"error": "unknown or expired download URL"}, status_code=404)
        template = session.get(Template, row.template_id)
        store = session.get(ImageStore, row.store_id)
        if template is None or template.removed is not None or store is None:
            return JSONResponse({"error": "the template is gone"}, status_code=404)
    try:
        path = snapshots.store_file(store, row.install_path)
    except CloudError as error:
        return JSONResponse({"error": error.message}, status_code=503)
    if not os.path.isfile(path):
        return JSONResponse({"error": "the template file is gone"}, status_code=404)
    return FileResponse(path, media_type="application/octet-stream", filename=filename)
