"""queryAsyncJobResult and listAsyncJobs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from management.api.native.params import Param
from management.api.native.registry import Command, ListDomainResourcesCommand, ListResult, RawResponse, command
from management.api.native.responses import ResponseObject, cs_date
from management.context import Context
from management.iam import access
from management.iam.models import Account, Domain, User
from management.iam.responses import domain_display_path
from management.jobs import service as jobs
from management.jobs.models import AsyncJob, JobStatus


class AsyncJobResponse(ResponseObject):
    object_name = "asyncjobs"
    accountid: str | None = None
    account: str | None = None
    domainid: str | None = None
    domainpath: str | None = None
    userid: str | None = None
    cmd: str
    jobstatus: int
    jobprocstatus: int
    jobresultcode: int
    jobresulttype: str | None = None
    jobresult: Any = None
    jobinstancetype: str | None = None
    jobinstanceid: str | None = None
    created: str | None = None
    completed: str | None = None
    jobid: str
    managementserverid: str | None = None


def job_views(session, rows: list[AsyncJob]) -> list[AsyncJobResponse]:
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_({r.account_id for r in rows})))}
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_({r.domain_id for r in rows})))}
    users = {u.id: u.uuid for u in session.scalars(select(User).where(User.id.in_({r.user_id for r in rows})))}
    views = []
    for job in rows:
        account, domain = accounts.get(job.account_id), domains.get(job.domain_id)
        done = job.status != JobStatus.IN_PROGRESS
        views.append(AsyncJobResponse(
            accountid=account.uuid if account else None, account=account.account_name if account else None,
            domainid=domain.uuid if domain else None, domainpath=domain_display_path(domain) if domain else None,
            userid=users.get(job.user_id), cmd=job.cmd_class, jobstatus=job.status, jobprocstatus=job.process_status,
            jobresultcode=job.result_code, jobresulttype=job.result_type if done else None,
            jobresult=json.loads(job.result) if done and job.result else None, jobinstancetype=job.instance_type,
            jobinstanceid=job.instance_uuid, created=cs_date(job.created), completed=cs_date(job.completed),
            jobid=job.uuid, managementserverid=job.node))
    return views


@command("queryAsyncJobResult", response=AsyncJobResponse)
class QueryAsyncJobResult(Command):
    """Retrieves the current status of asynchronous job."""

    jobid = Param("uuid", entity=AsyncJob, required=True, description="the ID of the asynchronous job")

    def handle(self, ctx: Context) -> RawResponse:
        job = jobs.get_for_caller(ctx.session, ctx.caller, self.jobid)
        return RawResponse(job_views(ctx.session, [job])[0].model_dump(exclude_none=True))


@command("listAsyncJobs", response=AsyncJobResponse, list_key="asyncjobs")
class ListAsyncJobs(ListDomainResourcesCommand):
    """Lists all pending asynchronous jobs for the account."""

    startdate = Param("date", description="The start date of the async job (use format \"yyyy-MM-dd'T'HH:mm:ss'+'SSSS\")")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall)
        offset, limit = self.window(ctx.session)
        rows, total = jobs.list_jobs(ctx.session, scope, start=self.startdate, offset=offset, limit=limit)
        return ListResult(job_views(ctx.session, rows), total)
