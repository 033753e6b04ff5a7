"""Storage garbage collection (``storage.cleanup.enabled``, every ``storage.cleanup.interval`` seconds).

Removes what nothing references any more, and never what is referenced:

* **template copies on primary storage** (``template_spool_ref`` Ready) that no live volume on that pool was
  made from. The row is first taken (compare-and-set Ready -> Copying, owner ``gc``) so a deploy that comes
  now waits for it instead of using the copy; only then are the volumes checked (a deploy places its volumes,
  committed, before it looks for the copy, so none can slip in unseen); the file is deleted by a host that
  reaches the pool, then the row. A copy that turns out to be used goes back to Ready.
* **files on image stores** (Local, and NFS mounted on this node) that no row points at: snapshot backups (``snapshots/<account>/<volume>/``)
  of no live snapshot, template folders (``template/tmpl/<account>/<template>/``) of no template copy in
  that store, and ``.part`` leftovers; only files older than one cleanup interval (a copy being written
  right now is never touched).
* **interrupted copies on primary storage** (``<uuid>.part`` left by an agent killed in the middle of a
  copy): one Up host per pool removes those nobody has written for an hour or one cleanup interval,
  whichever is longer (``RemoveStalePartials``; a copy in progress keeps its file fresh).
* **destroyed volumes no VM holds** (a ROOT disk replaced by restoreVirtualMachine without ``expunge``): the
  file is deleted by a host that reaches its pool, then the row is Expunged and the pool space given back.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from agent.protocol import DeleteVolume, RemoveStalePartials
from management.compute import planner
from management.compute.vm_models import TemplatePoolRef, Volume
from management.compute.vm_tx import agent_call
from management.config import service as config
from management.db import db, utcnow
from management.errors import CloudError
from management.infra.models import Host
from management.jobs.periodic import periodic
from management.storage import pool_hosts, secondary
from management.storage.models import ImageStore, StoragePool, TemplateStoreRef
from management.storage.snapshot_models import Snapshot, SnapshotState, SnapshotStoreRef

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0
GC_OWNER = "storage-gc"
_last_run = 0.0


@periodic("storage.cleanup", interval=TICK_SECONDS)
def collect_garbage() -> None:
    global _last_run
    with db.session() as session:
        enabled = config.get_bool(session, "storage.cleanup.enabled")
        interval = config.get_int(session, "storage.cleanup.interval")
    now = time.monotonic()
    if not enabled or now - _last_run < max(1, interval):
        return
    _last_run = now
    run_once(max(1, interval))


def run_once(grace_seconds: int) -> dict[str, int]:
    """One pass; returns what was removed (for logs and tests)."""
    removed = {"volumes": destroyed_volumes(), "pool_copies": unused_pool_copies(grace_seconds), "files": 0,
               "partials": stale_partials(max(grace_seconds, PARTIAL_AGE))}
    with db.read_session() as session:
        stores = session.scalars(select(ImageStore).where(ImageStore.removed.is_(None))).all()
    for store in stores:
        if not store.path:
            continue
        try:
            root = secondary.local_root(store)
        except CloudError as error:
            log.warning("storage cleanup skipped image store %s: %s", store.name, error.message)
            continue
        if root.is_dir():
            removed["files"] += orphan_files(store.id, root, grace_seconds)
    if any(removed.values()):
        log.info("storage cleanup removed %s", removed)
    return removed


# --- interrupted copies on pools ------------------------------------------------------------------------------

PARTIAL_AGE = 3600  # seconds without a write before a pool's .part file counts as abandoned


def stale_partials(older_than: int) -> int:
    with db.read_session() as session:
        pools = session.scalars(select(StoragePool).where(StoragePool.removed.is_(None),
                                                          StoragePool.simulated.is_(False),
                                                          StoragePool.status == "Up")).all()
        work = [(pool.name, pool_hosts.local_path(pool), _pool_host(session, pool)) for pool in pools]
    removed = 0
    for name, path, host in work:
        if host is None:
            continue
        try:
            answer = agent_call(host, RemoveStalePartials(local_path=path, older_than=older_than), timeout=120)
        except Exception:
            log.warning("sweeping interrupted copies on pool %s failed", name, exc_info=True)
            continue
        if answer.ok:
            for file in answer.data.get("removed", []):
                log.info("removed interrupted copy %s from pool %s", file, name)
            removed += len(answer.data.get("removed", []))
        else:
            log.warning("sweeping interrupted copies on pool %s: %s", name, answer.details)
    return removed


# --- destroyed volumes ----------------------------------------------------------------------------------------

def destroyed_volumes() -> int:
    with db.read_session() as session:
        ids = session.scalars(select(Volume.id).where(Volume.state == "Destroy", Volume.vm_id.is_(None),
                                                      Volume.removed.is_(None))).all()
    return sum(expunge_destroyed_volume(volume_id) for volume_id in ids)


def expunge_destroyed_volume(volume_id: int) -> bool:
    """Delete a destroyed volume's file (through a host reaching its pool), then mark it Expunged and give its
    pool space back; False (and nothing changed) when no host could delete it: the next pass tries again."""
    with db.read_session() as session:
        volume = session.get(Volume, volume_id)
        if volume is None or volume.state != "Destroy" or volume.vm_id is not None or volume.removed is not None:
            return False
        pool = session.get(StoragePool, volume.pool_id) if volume.pool_id else None
        host = _pool_host(session, pool) if pool is not None and volume.path else None
        path, name, size = volume.path, volume.name, volume.size
        pool_id, pool_name = (pool.id, pool.name) if pool is not None else (None, None)
        if host is not None:
            session.expunge(host)
    if pool_id is not None and path:
        if host is None:
            log.warning("destroyed volume %s: no Up host reaches pool %s to delete %s", name, pool_name, path)
            return False
        try:
            answer = agent_call(host, DeleteVolume(path=path))
        except Exception:
            log.warning("deleting destroyed volume %s failed", name, exc_info=True)
            return False
        if not answer.ok:
            log.warning("deleting destroyed volume %s: %s", name, answer.details)
            return False
    with db.session() as session:
        now = utcnow()
        done = session.execute(update(Volume).where(Volume.id == volume_id, Volume.state == "Destroy",
                                                    Volume.vm_id.is_(None), Volume.removed.is_(None))
                               .values(state="Expunged", removed=now, updated=now, last_pool_id=Volume.pool_id,
                                       pool_id=None, update_count=Volume.update_count + 1)
                               .execution_options(synchronize_session=False))
        if done.rowcount == 1:
            planner.release_pool(session, pool_id, size)
    log.info("expunged destroyed volume %s", name)
    return done.rowcount == 1


# --- template copies on pools ---------------------------------------------------------------------------------

def _pool_host(session, pool: StoragePool) -> Host | None:
    return next(iter(pool_hosts.reaching(session, pool)), None)


def _in_use(session, template_id: int, pool_id: int) -> bool:
    return session.scalar(select(Volume.id).where(Volume.template_id == template_id, Volume.pool_id == pool_id,
                                                  Volume.removed.is_(None)).limit(1)) is not None


def unused_pool_copies(grace_seconds: int) -> int:
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    with db.session() as session:
        candidates = session.scalars(select(TemplatePoolRef).where(TemplatePoolRef.state == "Ready",
                                                                   TemplatePoolRef.last_updated < cutoff)).all()
        todo = [(r.id, r.template_id, r.pool_id, r.last_updated) for r in candidates
                if not _in_use(session, r.template_id, r.pool_id)]
    removed = 0
    for ref_id, template_id, pool_id, stamp in todo:
        try:
            removed += _remove_copy(ref_id, template_id, pool_id, stamp)
        except Exception:
            log.warning("removing the copy of template %s on pool %s failed", template_id, pool_id, exc_info=True)
    return removed


def _remove_copy(ref_id: int, template_id: int, pool_id: int, stamp) -> int:
    with db.session() as session:
        taken = session.execute(update(TemplatePoolRef).where(
            TemplatePoolRef.id == ref_id, TemplatePoolRef.state == "Ready", TemplatePoolRef.last_updated == stamp)
            .values(state="Copying", owner=GC_OWNER, last_updated=utcnow()))
        if taken.rowcount != 1:
            return 0
    with db.session() as session:
        ref = session.get(TemplatePoolRef, ref_id)
        pool = session.get(StoragePool, pool_id)
        host = _pool_host(session, pool) if pool is not None else None
        if _in_use(session, template_id, pool_id) or host is None or not ref.install_path:
            ref.state, ref.owner, ref.last_updated = "Ready", None, utcnow()
            return 0
        path = ref.install_path
    answer = agent_call(host, DeleteVolume(path=path), timeout=120)
    with db.session() as session:
        if not answer.ok:
            session.execute(update(TemplatePoolRef).where(TemplatePoolRef.id == ref_id)
                            .values(state="Ready", owner=None, last_updated=utcnow()))
            log.warning("could not delete template copy %s on host %s: %s", path, host.name, answer.details)
            return 0
        session.execute(delete(TemplatePoolRef).where(TemplatePoolRef.id == ref_id,
                                                      TemplatePoolRef.owner == GC_OWNER))
    log.info("removed unused template copy %s (template %s, pool %s)", path, template_id, pool_id)
    return 1


# --- orphan files on image stores ---------------------------------------------------------------------

def _old(path: Path, grace_seconds: int) -> bool:
    try:
        return time.time() - path.stat().st_mtime > grace_seconds
    except FileNotFoundError:
        return False


def orphan_files(store_id: int, root: Path, grace_seconds: int) -> int:
    removed = 0
    snapshot_dir = root / "snapshots"
    if snapshot_dir.is_dir():
        with db.read_session() as session:
            live = set(session.scalars(select(SnapshotStoreRef.install_path).join(
                Snapshot, Snapshot.id == SnapshotStoreRef.snapshot_id).where(
                SnapshotStoreRef.store_id == store_id, SnapshotStoreRef.state != "Destroyed",
                Snapshot.removed.is_(None), Snapshot.status != SnapshotState.DESTROYED)))
        for path in snapshot_dir.glob("*/*/*"):
            relative = str(path.relative_to(root))
            if path.is_file() and relative.removesuffix(".part") not in live and _old(path, grace_seconds):
                path.unlink(missing_ok=True)
                removed += 1
    template_dir = root / "template" / "tmpl"
    if template_dir.is_dir():
        with db.read_session() as session:
            kept = {(r.template_id) for r in session.scalars(select(TemplateStoreRef).where(
                TemplateStoreRef.store_id == store_id))}
        for folder in template_dir.glob("*/*"):
            if not folder.is_dir() or not folder.name.isdigit():
                continue
            if int(folder.name) not in kept and _old(folder, grace_seconds) and all(
                    _old(f, grace_seconds) for f in folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    for leftover in root.glob("**/*.part"):
        if _old(leftover, max(grace_seconds, 3600)):
            os.remove(leftover)
            removed += 1
    return removed
