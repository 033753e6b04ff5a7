"""Async jobs: query and list them, their scope, and that none is left in progress when things fail."""

from __future__ import annotations

import time

import pytest

from tests.support import ApiError
from tests.support import wait_until as _wait


def test_job_result_fields(admin, make_account):
    account, _ = make_account()
    job = admin("disableAccount", id=account["id"], lock="true")["jobid"]
    result = admin.wait_job(job)
    for key in ("accountid", "userid", "cmd", "jobstatus", "jobprocstatus", "jobresultcode", "jobresulttype",
                "jobresult", "jobinstancetype", "jobinstanceid", "created", "completed", "jobid"):
        assert key in result, key
    assert result["cmd"].endswith("DisableAccountCmd") and result["jobresulttype"] == "object"
    assert result["jobresult"]["account"]["state"] == "locked"
    listed = admin("listAsyncJobs")["asyncjobs"]
    assert any(j["jobid"] == job for j in listed)
    events = [e for e in admin("listEvents", listall="true", type="ACCOUNT.DISABLE")["event"]]
    assert {"Scheduled", "Started", "Completed"} <= {e["state"] for e in events}


def test_failed_job_carries_the_error(admin, make_account):
    domain = admin("createDomain", name=f"busy{time.time_ns()}")["domain"]
    make_account(domainid=domain["id"])
    result = admin.wait_job(admin("deleteDomain", id=domain["id"])["jobid"])
    assert result["jobstatus"] == 2 and result["jobresultcode"] == 431
    assert result["jobresult"]["errorcode"] == 431 and "cleanup" in result["jobresult"]["errortext"]


def test_user_can_not_see_other_jobs(admin, make_account):
    account, user = make_account()
    victim, _ = make_account()
    job = admin("disableAccount", id=victim["id"], lock="true")["jobid"]
    with pytest.raises(ApiError) as err:
        user("queryAsyncJobResult", jobid=job)
    assert err.value.status == 531
    assert all(j["accountid"] == account["id"] for j in user("listAsyncJobs").get("asyncjobs", []))


def test_unknown_job_is_431(admin):
    with pytest.raises(ApiError) as err:
        admin("queryAsyncJobResult", jobid="00000000-0000-4000-8000-000000000001")
    assert err.value.status == 431 and "jobid" in err.value.body["errortext"]




def test_job_of_a_dead_worker_is_failed(cloud, admin, make_account):
    """A worker that took a job and died (its heartbeat stops) leaves the job failed with a reason."""
    from sqlalchemy import create_engine, text

    from management.settings import Settings

    account, _ = make_account()
    job = admin("disableAccount", id=account["id"], lock="true")["jobid"]
    admin.wait_job(job)
    settings = Settings(data_dir=cloud.data_dir, db_properties=cloud.env.get("CLOUDSTACK_DB_PROPERTIES"))
    engine = create_engine(settings.database_url("cloud"))
    # Put the finished job back as it would be mid-run on a worker that has since vanished.
    with engine.begin() as conn:
        conn.execute(text("UPDATE async_job SET status=0, result=NULL, completed=NULL, node='gone-worker', "
                          "heartbeat=:old WHERE uuid=:id"), {"old": "2000-01-01 00:00:00", "id": job})
    engine.dispose()
    result = _wait(lambda: (r := admin("queryAsyncJobResult", jobid=job))["jobstatus"] != 0 and r, timeout=60)
    assert result["jobstatus"] == 2 and "gone-worker" in result["jobresult"]["errortext"]
