"""Affinity groups on a two-host Simulator zone: host anti-affinity spreads a group's VMs (also when deployed at
the same moment), host affinity keeps them together, updateVMAffinityGroup, listing, deletion, bad input."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from tests.conftest import unique
from tests.integration.test_vms import env, web  # noqa: F401  (the module's zone and template server)
from tests.support import ApiError


def submit(client, env, **extra) -> dict:  # noqa: F811
    return client("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                  templateid=env["template"]["id"], **extra)


def host_of(admin, vm_id: str) -> str:
    return admin("listVirtualMachines", id=vm_id, listall="true")["virtualmachine"][0]["hostid"]


def test_anti_affinity_spreads_and_affinity_gathers(cs_admin, admin, make_account, env):  # noqa: F811
    account, user = make_account()
    assert {t["type"] for t in user("listAffinityGroupTypes")["affinitygrouptype"]} == {"host anti-affinity",
                                                                                       "host affinity"}
    apart = user.wait_job(user("createAffinityGroup", name="apart", type="host anti-affinity",
                               description="spread")["jobid"])["jobresult"]["affinitygroup"]
    assert (apart["name"], apart["type"], apart["account"]) == ("apart", "host anti-affinity", account["name"])
    together = cs_admin.createAffinityGroup(name="together", type="host affinity", account=account["name"],
                                            domainid=account["domainid"])["affinitygroup"]

    first = user.wait_job(submit(user, env, affinitygroupids=apart["id"])["jobid"])["jobresult"]["virtualmachine"]
    assert [g["name"] for g in first["affinitygroup"]] == ["apart"]
    second = user.wait_job(submit(user, env, affinitygroupnames="apart")["jobid"])
    assert second["jobstatus"] == 1, second
    second = second["jobresult"]["virtualmachine"]
    assert host_of(admin, first["id"]) != host_of(admin, second["id"])
    third_reply = submit(user, env, affinitygroupids=apart["id"])
    third = user.wait_job(third_reply["jobid"])  # two hosts, both taken
    assert third["jobstatus"] == 2 and third["jobresultcode"] == 533, third
    listed = user("listAffinityGroups", id=apart["id"])["affinitygroup"][0]
    assert set(listed["virtualmachineIds"]) >= {first["id"], second["id"]}
    assert [g["id"] for g in user("listAffinityGroups", virtualmachineid=first["id"])["affinitygroup"]] == [
        apart["id"]]
    assert {v["id"] for v in user("listVirtualMachines", affinitygroupid=apart["id"])["virtualmachine"]} == {
        first["id"], second["id"], third_reply["id"]}  # the one that found no host is in Error, still a member

    a = user.wait_job(submit(user, env, affinitygroupids=together["id"])["jobid"])["jobresult"]["virtualmachine"]
    b = user.wait_job(submit(user, env, affinitygroupids=together["id"])["jobid"])["jobresult"]["virtualmachine"]
    c = user.wait_job(submit(user, env, affinitygroupids=together["id"])["jobid"])["jobresult"]["virtualmachine"]
    assert host_of(admin, a["id"]) == host_of(admin, b["id"]) == host_of(admin, c["id"])
    for vm in (a, b, c):  # they filled whichever host they gathered on; the steps below need room on both
        admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])

    # updateVMAffinityGroup: Stopped VMs only; an empty list takes the VM out of every group
    with pytest.raises(ApiError) as err:
        user("updateVMAffinityGroup", id=second["id"], affinitygroupids="")
    assert err.value.status == 431 and "must be Stopped" in err.value.body["errortext"]
    user.wait_job(user("stopVirtualMachine", id=second["id"])["jobid"])
    updated = user.wait_job(user("updateVMAffinityGroup", id=second["id"], affinitygroupids="")["jobid"])
    assert updated["jobresult"]["virtualmachine"]["affinitygroup"] == []
    user.wait_job(user("startVirtualMachine", id=second["id"])["jobid"])
    freed = user.wait_job(submit(user, env, affinitygroupids=apart["id"])["jobid"])  # room for one more now
    assert freed["jobstatus"] == 1, freed

    with pytest.raises(ApiError) as err:
        user("deleteAffinityGroup", id=apart["id"])
    assert err.value.status == 431 and "still has" in err.value.body["errortext"]
    for vm in user("listVirtualMachines")["virtualmachine"]:
        admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    assert user.wait_job(user("deleteAffinityGroup", name="apart")["jobid"])["jobstatus"] == 1
    try:
        cs_admin.deleteAffinityGroup(id=together["id"])
    except CloudStackApiException as error:  # the failed deploy's Error VM is expunged with its account
        raise AssertionError(error) from None
    assert user("listAffinityGroups").get("count", 0) == 0
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)


def test_vms_of_an_anti_affinity_group_deployed_together_land_apart(admin, make_account, env):  # noqa: F811
    account, user = make_account()
    group = user.wait_job(user("createAffinityGroup", name=unique("g"), type="host anti-affinity")["jobid"])
    group = group["jobresult"]["affinitygroup"]
    for _ in range(3):
        replies = [submit(user, env, affinitygroupids=group["id"]) for _ in range(2)]
        results = [user.wait_job(r["jobid"], timeout=120) for r in replies]
        assert all(r["jobstatus"] == 1 for r in results), results
        hosts = {host_of(admin, r["jobresult"]["virtualmachine"]["id"]) for r in results}
        assert len(hosts) == 2
        for r in results:
            admin.wait_job(admin("destroyVirtualMachine", id=r["jobresult"]["virtualmachine"]["id"],
                                 expunge="true")["jobid"])
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)


def test_bad_affinity_requests_change_nothing(admin, make_account, env):  # noqa: F811
    account, user = make_account()
    _other, stranger = make_account()
    mine = user.wait_job(user("createAffinityGroup", name="mine")["jobid"])["jobresult"]["affinitygroup"]
    assert mine["type"] == "host anti-affinity"  # the default type
    for params, words in (({"name": "mine"}, "already exists"), ({"name": "x", "type": "rack anti-affinity"},
                                                                 "invalid affinity group type"),
                          ({"name": ""}, "name")):
        with pytest.raises(ApiError) as err:
            user("createAffinityGroup", **params)
        assert err.value.status == 431 and words in err.value.body["errortext"], (params, err.value.body)
    count = user("listVirtualMachines").get("count", 0)
    for client, params, words in ((stranger, {"affinitygroupids": mine["id"]}, "Unable to find affinity group"),
                                  (user, {"affinitygroupnames": "nosuch"}, "Unable to find affinity group"),
                                  (user, {"affinitygroupids": mine["id"], "affinitygroupnames": "mine"},
                                   "mutually exclusive")):
        with pytest.raises(ApiError) as err:
            submit(client, env, **params)
        assert err.value.status == 431 and words in err.value.body["errortext"], (params, err.value.body)
    assert user("listVirtualMachines").get("count", 0) == count
    with pytest.raises(ApiError) as err:
        stranger("deleteAffinityGroup", id=mine["id"])
    assert err.value.status == 531
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
