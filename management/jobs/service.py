"""Async jobs: rows first, messages second.

``submit`` writes the job row (and a Scheduled event) in the caller's transaction and sends
the Celery message only after that transaction commits. The runner claims a job with a
compare-and-set on its row, so a redelivered message never runs a job twice, and the reaper
fails or re-sends jobs whose worker died or whose message was lost.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from management.context import Caller
from management.db import utcnow
from management.errors import CloudError, InvalidParameter, PermissionDenied
from management.events import service as events
from management.iam.access import Scope, check_account_access
from management.iam.models import Account
from management.jobs.models import AsyncJob, JobStatus
from management.pagination import page
from management.settings import get_settings

log = logging.getLogger(__name__)


def stale_seconds() -> int:
    """A running job whose owner has not beaten for this long is orphaned (setting job_stale_seconds)."""
    return get_settings().job_stale_seconds


def heartbeat_seconds() -> float:
    """How often a worker marks its running job alive: well inside the stale limit."""
    return max(1.0, min(10.0, stale_seconds() / 3))


def unclaimed_seconds() -> int:
    """A queued job nobody picked up for this long is sent again (setting job_resend_seconds)."""
    return get_settings().job_resend_seconds


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the reaper re-sends what could not be sent now
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)


def after_commit(session: Session, callback) -> None:
    session.info.setdefault("after_commit", []).append(callback)


def java_class(api) -> str:
    return api.java_class or f"org.apache.cloudstack.api.command.{api.name[0].upper()}{api.name[1:]}Cmd"


def submit(session: Session, caller: Caller, api, params: dict[str, str], *, instance=None,
           instance_type: str | None = None, event_type: str | None = None) -> AsyncJob:
    """Record an async job for ``api`` and queue it once the surrounding transaction commits.

    As in CloudStack, the job belongs to the caller (its user and account), whatever it acts on."""
    job = AsyncJob(user_id=caller.user_id, account_id=caller.account_id, domain_id=caller.domain_id, command=api.name,
                   cmd_class=java_class(api), params=json.dumps(params),
                   instance_type=instance_type or api.instance_type,
                   instance_id=getattr(instance, "id", None), instance_uuid=getattr(instance, "uuid", None))
    session.add(job)
    session.flush()
    if event_type:
        scheduled = events.record(session, caller, event_type, f"{api.name} job {job.uuid} scheduled",
                                  state="Scheduled", resource=instance, resource_type=job.instance_type)
        job.event_id = scheduled.id
    after_commit(session, lambda job_id=job.id: enqueue(job_id))
    return job


def enqueue(job_id: int) -> None:
    from management.jobs.tasks import run_job

    run_job.apply_async(args=[job_id])


def claim(session: Session, job_id: int, node: str) -> bool:
    """Take ownership of a pending job unless a live worker already has it."""
    stale = utcnow() - timedelta(seconds=stale_seconds())
    result = session.execute(update(AsyncJob)
                             .where(AsyncJob.id == job_id, AsyncJob.status == JobStatus.IN_PROGRESS,
                                    or_(AsyncJob.node.is_(None), AsyncJob.heartbeat < stale))
                             .values(node=node, heartbeat=utcnow(), attempts=AsyncJob.attempts + 1))
    return result.rowcount == 1


def heartbeat(session: Session, job_id: int, node: str) -> None:
    session.execute(update(AsyncJob).where(AsyncJob.id == job_id, AsyncJob.node == node,
                                           AsyncJob.status == JobStatus.IN_PROGRESS).values(heartbeat=utcnow()))


def set_progress(session: Session, job_id: int, percent: int) -> None:
    session.execute(update(AsyncJob).where(AsyncJob.id == job_id).values(process_status=percent))


def complete(session: Session, job: AsyncJob, body: dict, instance=None) -> None:
    job.status, job.result_code, job.result_type = JobStatus.SUCCEEDED, 0, "object"
    job.result = json.dumps(body)
    job.completed = utcnow()
    if instance is not None and job.instance_id is None:
        job.instance_id, job.instance_uuid = getattr(instance, "id", None), getattr(instance, "uuid", None)


def fail(session: Session, job_id: int, error: CloudError, *, only_if_node: str | None = None) -> bool:
    """Mark a job failed with CloudStack's error body; False if it had already finished."""
    query = update(AsyncJob).where(AsyncJob.id == job_id, AsyncJob.status == JobStatus.IN_PROGRESS)
    if only_if_node is not None:
        query = query.where(AsyncJob.node == only_if_node)
    body = {"errorcode": error.code, "errortext": error.message}
    result = session.execute(query.values(status=JobStatus.FAILED, result_code=error.code, result_type="object",
                                          result=json.dumps(body), completed=utcnow()))
    return result.rowcount == 1


def get_for_caller(session: Session, caller: Caller, job: AsyncJob) -> AsyncJob:
    if job.user_id != caller.user_id and not caller.is_admin:
        raise PermissionDenied(f"Caller is not authorized to see job {job.uuid}")
    if job.user_id != caller.user_id:
        account = session.get(Account, job.account_id)
        check_account_access(session, caller, account)
    return job


def list_jobs(session: Session, scope: Scope, *, start: datetime | None, offset: int,
              limit: int | None) -> tuple[list[AsyncJob], int]:
    query = select(AsyncJob).where(scope.where(AsyncJob.account_id, AsyncJob.domain_id))
    if start is not None:
        query = query.where(AsyncJob.created >= start)
    return page(session, query.order_by(AsyncJob.id.desc()), offset, limit)


def find_job(session: Session, job_uuid: str) -> AsyncJob:
    job = session.scalar(select(AsyncJob).where(AsyncJob.uuid == job_uuid))
    if job is None:
        raise InvalidParameter(f"Unable to execute API command queryasyncjobresult due to invalid value. "
                               f"Invalid parameter jobid value={job_uuid} due to incorrect long value format, "
                               "or entity does not exist")
    return job
