"""What the volumes domain plugs into others: a volume job orphaned by a dead worker is put back in order, and
deleteAccount removes the account's data volumes (after its VMs are expunged, which detaches them)."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from agent.protocol import DeleteVolume
from management.compute import planner
from management.compute.vm_models import Volume
from management.compute.vm_tx import agent_call
from management.db import db, utcnow
from management.limits import service as limits
from management.storage import secondary_usage, volumes
from management.storage.models import StoragePool
from management.storage.volume_orchestrate import MIGRATING, RESIZING, hosts_for_pool, remove_secondary

log = logging.getLogger(__name__)


def _delete_file(session, pool_id: int | None, path: str | None) -> None:
    pool = session.get(StoragePool, pool_id) if pool_id else None
    hosts = hosts_for_pool(session, pool) if pool is not None and path else []
    if hosts:
        answer = agent_call(hosts[0], DeleteVolume(path=path))
        if not answer.ok:
            log.warning("could not delete %s: %s", path, answer.details)


def recover_orphan(orphan) -> None:
    """A volume job whose worker died: a half-made volume is deleted and goes back to Allocated (Uploaded);
    a resize or migration is abandoned with its reservations given back; an upload ends in UploadError; an
    attach that did not finish is undone."""
    if orphan.instance_type != "Volume" or orphan.instance_id is None:
        return
    with db.session() as s:
        volume = volumes.fresh(s, orphan.instance_id)
        values: dict = {}
        if volume.state in ("Creating", "Copying"):
            _delete_file(s, volume.pool_id, volume.path)
            planner.release_pool(s, volume.pool_id, volume.size)
            values = {"state": "Allocated" if volume.state == "Creating" else "Uploaded", "pool_id": None,
                      "path": None}
        elif volume.state == "Resizing":
            delta = int((volume.status or RESIZING + "0").removeprefix(RESIZING) or 0)
            if delta > 0:
                planner.release_pool(s, volume.pool_id, delta)
                limits.release(s, account_id=volume.account_id, resource="primary_storage", amount=delta)
            values = {"state": "Ready", "status": None}
        elif volume.state == "Migrating":
            target = int((volume.status or MIGRATING + "0").removeprefix(MIGRATING) or 0)
            target_pool = s.get(StoragePool, target) if target else None
            if target_pool is not None:
                _delete_file(s, target, f"{target_pool.path}/{volume.uuid}")
                planner.release_pool(s, target, volume.size)
            values = {"state": "Ready", "status": None}
        elif volume.state == "UploadInProgress":
            values = {"state": "UploadError", "status": "Upload failed: the worker running it stopped"}
        if orphan.command in ("attachVolume", "createVolume") and volume.vm_id is not None and volume.attached is None:
            values.update(vm_id=None, device_id=None)
        if values:
            s.execute(update(Volume).where(Volume.id == volume.id).values(
                update_count=Volume.update_count + 1, updated=utcnow(), **values))


def account_cleanup(session, caller, account) -> None:
    """deleteAccount: delete the account's remaining data volumes (files, pool space, rows)."""
    rows = session.scalars(select(Volume).where(Volume.account_id == account.id, Volume.removed.is_(None),
                                                Volume.volume_type == "DATADISK", Volume.vm_id.is_(None))).all()
    for volume in rows:
        try:
            with session.begin_nested():
                if volume.pool_id is not None and volume.path:
                    _delete_file(session, volume.pool_id, volume.path)
                remove_secondary(session, volume)
                volumes.forget(session, caller, volume)
        except Exception:
            log.warning("could not delete volume %s of account %s", volume.uuid, account.account_name, exc_info=True)


def vm_expunged(session, vm) -> None:
    """A VM's volumes were expunged with it: remove their upload/extract copies on secondary storage too (and
    give back the secondary_storage an upload held)."""
    for volume in session.scalars(select(Volume).where(Volume.vm_id == vm.id, Volume.removed.is_not(None),
                                                       Volume.store_id.is_not(None))):
        secondary_usage.release_upload(session, volume)
        remove_secondary(session, volume)


def register() -> None:
    from management.compute import vm_lifecycle
    from management.iam import service as iam
    from management.jobs import runner

    vm_lifecycle.add(vm_lifecycle.EXPUNGE_HOOKS, vm_expunged)

    if recover_orphan not in runner.ORPHAN_HANDLERS:
        runner.ORPHAN_HANDLERS.append(recover_orphan)
    if account_cleanup not in iam.ACCOUNT_CLEANUP_HOOKS:
        iam.ACCOUNT_CLEANUP_HOOKS.append(account_cleanup)


register()
