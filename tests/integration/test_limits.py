"""Resource limits: listResourceLimits / updateResourceLimit / updateResourceCount, the limit triples of
listAccounts and listDomains, and atomic reservations against the real database of the test cloud."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import unique
from tests.support import ApiError


def _error(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(*args, **kwargs)
    return err.value


def _by_name(limits: list[dict]) -> dict[str, dict]:
    return {entry["resourcetypename"]: entry for entry in limits}


def test_account_limits(cs_admin, make_account):
    account, user = make_account()
    scope = dict(account=account["name"], domainid=account["domainid"])
    defaults = _by_name(cs_admin.listResourceLimits(**scope)["resourcelimit"])
    assert len(defaults) == 12 and defaults["user_vm"]["max"] == 20 and defaults["cpu"]["max"] == 40
    assert defaults["user_vm"]["resourcetype"] == "0" and defaults["secondary_storage"]["resourcetype"] == "11"
    assert defaults["primary_storage"]["max"] == 200 and defaults["user_vm"]["account"] == account["name"]
    updated = cs_admin.updateResourceLimit(resourcetype=0, max=5, **scope)["resourcelimit"]
    assert (updated["resourcetype"], updated["resourcetypename"], updated["max"]) == ("0", "user_vm", 5)
    assert updated["domainid"] == account["domainid"] and updated["domain"] == "ROOT"
    cs_admin.updateResourceLimit(resourcetype=10, max=50, **scope)  # storage limits are given in GiB
    listed = _by_name(cs_admin.listResourceLimits(**scope)["resourcelimit"])
    assert listed["user_vm"]["max"] == 5 and listed["primary_storage"]["max"] == 50 and listed["cpu"]["max"] == 40
    only = cs_admin.listResourceLimits(resourcetype=0, **scope)["resourcelimit"]
    assert [(e["resourcetypename"], e["max"]) for e in only] == [("user_vm", 5)]
    assert cs_admin.listResourceLimits(resourcetypename="cpu", **scope)["resourcelimit"][0]["max"] == 40
    mine = _by_name(user("listResourceLimits")["resourcelimit"])  # a user sees its own limits
    assert mine["user_vm"]["max"] == 5 and mine["user_vm"]["account"] == account["name"]
    row = cs_admin.listAccounts(id=account["id"])["account"][0]
    assert (row["vmlimit"], row["vmtotal"], row["vmavailable"]) == ("5", 0, "5")
    assert (row["cpulimit"], row["memorylimit"], row["primarystoragelimit"]) == ("40", "40960", "50")
    assert row["iplimit"] == "20" and row["projectlimit"] == "10" and row["secondarystoragetotal"] == 0
    admin_row = cs_admin.listAccounts(name="admin")["account"][0]
    assert admin_row["vmlimit"] == "Unlimited" and admin_row["vmavailable"] == "Unlimited"
    cs_admin.updateResourceLimit(resourcetype=0, **scope)  # no max: unlimited
    assert cs_admin.listAccounts(id=account["id"])["account"][0]["vmlimit"] == "Unlimited"
    assert cs_admin.listEvents(type="RESOURCE.LIMIT.UPDATE")["count"] >= 1


def test_domain_limits(admin, make_account):
    parent = admin("createDomain", name=unique("limd"))["domain"]
    child = admin("createDomain", name=unique("limc"), parentdomainid=parent["id"])["domain"]
    assert _by_name(admin("listResourceLimits", domainid=parent["id"])["resourcelimit"])["cpu"]["max"] == 80
    assert admin("updateResourceLimit", resourcetype=8, max=10, domainid=parent["id"])["resourcelimit"]["max"] == 10
    limits = admin("listResourceLimits", domainid=parent["id"], isrecursive="true")["resourcelimit"]
    cpu = {e["domainid"]: e["max"] for e in limits if e["resourcetypename"] == "cpu"}
    assert cpu == {parent["id"]: 10, child["id"]: 10}  # the child inherits its parent's row
    domain_row = admin("listDomains", id=parent["id"])["domain"][0]
    assert (domain_row["cpulimit"], domain_row["cputotal"], domain_row["cpuavailable"]) == ("10", 0, "10")
    assert domain_row["vmlimit"] == "40"
    account, _ = make_account(domainid=child["id"])
    err = _error(admin, "updateResourceLimit", resourcetype=8, max=20, account=account["name"],
                 domainid=child["id"])
    assert err.status == 431 and "domain" in err.body["errortext"]
    err = _error(admin, "updateResourceLimit", resourcetype=8, max=20, domainid=child["id"])
    assert err.status == 431 and "parent" in err.body["errortext"]
    assert admin("updateResourceLimit", resourcetype=8, max=8, domainid=child["id"])["resourcelimit"]["max"] == 8
    # a domain admin may manage limits below it but not raise its own
    boss, boss_client = make_account(accounttype=2, domainid=parent["id"])
    assert boss_client("updateResourceLimit", resourcetype=8, max=6, account=account["name"],
                       domainid=child["id"])["resourcelimit"]["max"] == 6
    err = _error(boss_client, "updateResourceLimit", resourcetype=0, max=100, account=boss["name"],
                 domainid=parent["id"])
    assert err.status == 531
    err = _error(boss_client, "updateResourceLimit", resourcetype=0, max=100, domainid=parent["id"])
    assert err.status == 531


def test_limit_errors(admin, make_account):
    account, user = make_account()
    scope = dict(account=account["name"], domainid=account["domainid"])
    assert _error(user, "updateResourceLimit", resourcetype=0, max=1, **scope).status == 401
    err = _error(admin, "updateResourceLimit", resourcetype=0, max=-2, **scope)
    assert err.status == 431 and "max" in err.body["errortext"]
    err = _error(admin, "updateResourceLimit", resourcetype=12, max=1, **scope)
    assert err.status == 431 and "resourcetype" in err.body["errortext"]
    err = _error(admin, "updateResourceLimit", max=1, **scope)
    assert err.status == 431 and "resourcetype" in err.body["errortext"]
    err = _error(admin, "updateResourceLimit", resourcetype=0, max=5, account="admin",
                 domainid=account["domainid"])
    assert err.status == 431 and "Root Admin" in err.body["errortext"]
    err = _error(admin, "listResourceLimits", resourcetypename="gpu")
    assert err.status == 431 and "resourcetypename" in err.body["errortext"]
    err = _error(admin, "listResourceLimits", account=account["name"])
    assert err.status == 431


def test_update_resource_count(cs_admin, make_account):
    account, _ = make_account()
    counts = cs_admin.updateResourceCount(domainid=account["domainid"], account=account["name"])["resourcecount"]
    assert len(counts) == 12 and all(c["resourcecount"] == 0 for c in counts)
    assert {c["account"] for c in counts} == {account["name"]}
    one = cs_admin.updateResourceCount(domainid=account["domainid"], resourcetype=8)["resourcecount"]
    assert [(c["resourcetypename"], c["resourcetype"]) for c in one] == [("cpu", "8")] and "account" not in one[0]


def test_reserve_is_atomic(cloud, admin, make_account):
    """8 threads each reserve one VM against a limit of 5 on the cloud's own database: exactly 5 succeed."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from management.db import make_engine
    from management.errors import ResourceAllocation
    from management.iam.models import Account
    from management.limits import service as limits
    from management.limits.models import ResourceCount
    from management.settings import Settings

    account, _ = make_account()
    admin("updateResourceLimit", resourcetype=0, max=5, account=account["name"], domainid=account["domainid"])
    settings = Settings(data_dir=cloud.data_dir, db_properties=cloud.env.get("CLOUDSTACK_DB_PROPERTIES"))
    engine = make_engine(settings.database_url("cloud"))
    try:
        with Session(engine) as session:
            account_id = session.scalar(select(Account.id).where(Account.uuid == account["id"]))
        outcomes: list[str] = []
        start = threading.Barrier(8)

        def attempt() -> None:
            start.wait()
            try:
                with Session(engine) as session, session.begin():
                    limits.reserve(session, account_id=account_id, resource="user_vm", amount=1)
                    time.sleep(0.05)  # hold the reservation open: others must wait, not overtake
                outcomes.append("ok")
            except ResourceAllocation as error:
                assert "user_vm" in error.message and account["name"] in error.message
                outcomes.append("limit")
            except Exception as error:  # noqa: BLE001 - reported through the assertion below
                outcomes.append(repr(error))

        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["limit"] * 3 + ["ok"] * 5, outcomes
        with Session(engine) as session:
            count = session.scalar(select(ResourceCount.count).where(ResourceCount.account_id == account_id,
                                                                     ResourceCount.type == "user_vm"))
        assert count == 5
        row = admin("listAccounts", id=account["id"])["account"][0]
        assert (row["vmtotal"], row["vmavailable"]) == (5, "0")
        root = admin("listDomains", id=account["domainid"])["domain"][0]
        assert root["vmtotal"] >= 5 and root["vmlimit"] == "Unlimited"
        with Session(engine) as session, session.begin():
            limits.release(session, account_id=account_id, resource="user_vm", amount=2)
        assert admin("listAccounts", id=account["id"])["account"][0]["vmtotal"] == 3
    finally:
        engine.dispose()
