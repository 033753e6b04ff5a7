"""Running one async job on a worker, and the reaper that ends orphaned jobs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select

from management.api.native.registry import registry
from management.api.native.render import body_of
from management.config import service as config
from management.context import Context, system_caller
from management.db import db, utcnow
from management.errors import CloudError, InternalError
from management.events import service as events
from management.iam import service as iam
from management.iam.models import User
from management.jobs import node
from management.jobs import service as jobs
from management.jobs.models import AsyncJob, JobStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrphanedJob:
    """A job failed because its worker died mid-run: what it was doing, and to what."""

    job_id: int
    command: str
    instance_type: str | None
    instance_id: int | None


# Domains register here to put the object of an orphaned job back in a consistent state (a VM left
# Starting by a dead worker goes to Error or Stopped, its capacity released). Called outside any transaction.
ORPHAN_HANDLERS: list[Callable[[OrphanedJob], None]] = []


def run(job_id: int) -> None:
    me = node.name()
    with db.session() as session:
        if not jobs.claim(session, job_id, me):
            return  # finished, or owned by a live worker: a redelivered message
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(job_id, me, stop), daemon=True, name=f"job-{job_id}-heartbeat")
    beat.start()
    try:
        _execute(job_id, me)
    finally:
        stop.set()
        beat.join(timeout=5)


def _beat(job_id: int, me: str, stop: threading.Event) -> None:
    while not stop.wait(jobs.heartbeat_seconds()):
        try:
            with db.session() as session:
                jobs.heartbeat(session, job_id, me)
        except Exception:
            log.warning("job %s heartbeat failed", job_id, exc_info=True)


def _execute(job_id: int, me: str) -> None:
    try:
        with db.session() as session:
            job = session.get(AsyncJob, job_id)
            user = session.get(User, job.user_id)
            caller = iam.caller_for(session, user) if user is not None else system_caller()
            cls = registry.get(job.command)
            if cls is None:
                raise InternalError(f"Command {job.command} is not known to this worker")
            cmd = cls.parse(session, json.loads(job.params), is_admin=caller.is_admin)
            ctx = Context(session=session, caller=caller, command=job.command, job_id=job.id)
            if job.event_id:
                events.record(session, caller, _event_type(session, job), f"Starting job for {job.command}",
                              state="Started", start_id=job.event_id, resource_type=job.instance_type,
                              account_id=job.account_id, domain_id=job.domain_id)
            result = cmd.run(ctx)
            jobs.complete(session, job, body_of(result))
    except CloudError as error:
        _fail(job_id, me, error)
    except Exception:
        log.exception("job %s (%s) failed", job_id, me)
        _fail(job_id, me, InternalError("Internal error executing command, please contact your system administrator"))


def _event_type(session, job: AsyncJob) -> str:
    from management.events.models import Event

    scheduled = session.get(Event, job.event_id)
    return scheduled.type if scheduled is not None else job.command


def _fail(job_id: int, me: str, error: CloudError) -> None:
    with db.session() as session:
        jobs.fail(session, job_id, error, only_if_node=me)
        job = session.get(AsyncJob, job_id)
        if job is not None and job.event_id:
            user = session.get(User, job.user_id)
            caller = iam.caller_for(session, user) if user is not None else system_caller()
            events.record(session, caller, _event_type(session, job), f"{job.command} job {job.uuid} failed: "
                          f"{error.message}", level="ERROR", start_id=job.event_id, resource_type=job.instance_type,
                          account_id=job.account_id, domain_id=job.domain_id)


def reap() -> tuple[int, int]:
    """Fail jobs whose worker stopped beating; send again jobs nobody picked up. Returns (failed, resent)."""
    now = utcnow()
    failed = resent = 0
    orphans: list[OrphanedJob] = []
    with db.session() as session:
        orphaned = session.execute(select(AsyncJob.id, AsyncJob.node).where(
            AsyncJob.status == JobStatus.IN_PROGRESS, AsyncJob.node.is_not(None),
            AsyncJob.heartbeat < now - timedelta(seconds=jobs.stale_seconds()))).all()
        for job_id, owner in orphaned:
            error = InternalError(f"Job failed: the worker running it ({owner}) stopped before finishing it")
            if jobs.fail(session, job_id, error, only_if_node=owner):
                failed += 1
                job = session.get(AsyncJob, job_id)
                orphans.append(OrphanedJob(job.id, job.command, job.instance_type, job.instance_id))
        cutoff = now - timedelta(seconds=jobs.unclaimed_seconds())
        # For a job no worker has claimed, ``heartbeat`` records when its message was last sent again.
        unclaimed = session.scalars(select(AsyncJob).where(
            AsyncJob.status == JobStatus.IN_PROGRESS, AsyncJob.node.is_(None),
            or_(AsyncJob.heartbeat < cutoff, and_(AsyncJob.heartbeat.is_(None), AsyncJob.created < cutoff)))).all()
        give_up = now - timedelta(minutes=config.get_int(session, "job.cancel.threshold.minutes"))
        for job in unclaimed:
            if job.created < give_up:
                error = InternalError("Job failed: no worker picked it up within job.cancel.threshold.minutes; "
                                      "is cloudstack-worker running?")
                jobs.fail(session, job.id, error)
                failed += 1
                continue
            job.attempts += 1
            job.heartbeat = now
            jobs.after_commit(session, lambda job_id=job.id: jobs.enqueue(job_id))
            resent += 1
    for orphan in orphans:  # after the failures are committed: each domain puts its objects back in order
        for handler in ORPHAN_HANDLERS:
            try:
                handler(orphan)
            except Exception:
                log.exception("cleaning up after orphaned job %s (%s) failed", orphan.job_id, orphan.command)
    if failed or resent:
        log.warning("job reaper: %d orphaned job(s) failed, %d queued job(s) sent again", failed, resent)
    return failed, resent
