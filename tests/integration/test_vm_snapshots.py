"""VM snapshots on simulator hosts: createVMSnapshot of a stopped VM (a tree of snapshots, the current one),
listVMSnapshot's filters, revertToVMSnapshot, deleteVMSnapshot, tags; the VM's disks are pinned while it has
snapshots; refusals (running VM, memory, duplicate name, vmsnapshot.max, another account) and an agent failure
change nothing."""

from __future__ import annotations

import time

import pytest

from tests.conftest import unique
from tests.integration.test_vms import deploy, env, web  # noqa: F401  (the module's zone and template server)
from tests.support import ApiError


def _refused(client, command: str, **params) -> ApiError:
    with pytest.raises(ApiError) as err:
        client(command, **params)
    return err.value


def test_vm_snapshots_of_a_stopped_vm(admin, make_account, env):  # noqa: F811
    account, user = make_account()
    _other, stranger = make_account()
    vm = deploy(user, env)["jobresult"]["virtualmachine"]

    def snap(name: str, **extra) -> dict:
        reply = user("createVMSnapshot", virtualmachineid=vm["id"], name=name, description=f"{name} desc", **extra)
        assert reply["id"] and reply["jobid"]
        return user.wait_job(reply["jobid"])

    def listed(**params) -> dict[str, dict]:
        return {s["displayname"]: s for s in user("listVMSnapshot", **params).get("vmsnapshot", [])}

    err = _refused(user, "createVMSnapshot", virtualmachineid=vm["id"], name="live")
    assert err.status == 431 and "stopped VMs only" in err.body["errortext"]
    user.wait_job(user("stopVirtualMachine", id=vm["id"])["jobid"])
    err = _refused(user, "createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory="true")
    assert err.status == 431 and "snapshotmemory" in err.body["errortext"]
    assert _refused(stranger, "createVMSnapshot", virtualmachineid=vm["id"]).status == 531

    first = snap("s1")
    assert first["jobstatus"] == 1, first
    s1 = first["jobresult"]["vmsnapshot"]
    assert (s1["displayname"], s1["state"], s1["type"], s1["current"], s1["virtualmachineid"]) == (
        "s1", "Ready", "Disk", True, vm["id"])
    instance = admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["instancename"]
    assert s1["name"].startswith(instance + "_VS_") and s1["description"] == "s1 desc"
    assert s1["account"] == account["name"] and "parent" not in s1
    s2 = snap("s2")["jobresult"]["vmsnapshot"]
    assert (s2["parent"], s2["parentName"], s2["current"]) == (s1["id"], "s1", True)
    now = listed(virtualmachineid=vm["id"])
    assert set(now) == {"s1", "s2"} and now["s1"]["current"] is False
    assert set(listed(vmsnapshotid=s1["id"])) == {"s1"} and set(listed(name="s2")) == {"s2"}
    assert set(listed(state="Ready")) == {"s1", "s2"}
    assert _refused(user, "listVMSnapshot", state="Sleeping").status == 431
    assert stranger("listVMSnapshot").get("count", 0) == 0
    assert any(s1["name"] in e["description"] or "s1" in e["description"]
               for e in admin("listEvents", type="VMSNAPSHOT.CREATE", listall="true")["event"])

    # tags
    tagged = user("createTags", resourcetype="VMSnapshot", resourceids=s2["id"], **{"tags[0].key": "keep",
                                                                                 "tags[0].value": "yes"})
    assert user.wait_job(tagged["jobid"])["jobstatus"] == 1
    assert set(listed(**{"tags[0].key": "keep", "tags[0].value": "yes"})) == {"s2"}
    assert listed(virtualmachineid=vm["id"])["s2"]["tags"][0]["key"] == "keep"

    # refusals change nothing
    for params, words in (({"name": "s1"}, "already exists"), ({"quiescevm": "true"}, "quiescevm")):
        err = _refused(user, "createVMSnapshot", virtualmachineid=vm["id"], **params)
        assert err.status == 431 and words in err.body["errortext"], err.body
    admin("updateConfiguration", name="vmsnapshot.max", value="2")
    time.sleep(2.1)
    try:
        err = _refused(user, "createVMSnapshot", virtualmachineid=vm["id"], name="s3")
        assert err.status == 431 and "can just have : 2 VM snapshots" in err.body["errortext"]
    finally:
        admin("resetConfiguration", name="vmsnapshot.max")
    volume = user("createVolume", name=unique("d"), zoneid=env["zone"]["id"],
                  diskofferingid=admin("listDiskOfferings", name="Small")["diskoffering"][0]["id"])
    volume = user.wait_job(volume["jobid"])["jobresult"]["volume"]
    err = _refused(user, "attachVolume", id=volume["id"], virtualmachineid=vm["id"])
    assert err.status == 431 and "has VM snapshots" in err.body["errortext"]
    root = user("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    err = _refused(user, "resizeVolume", id=root["id"], size=str(root["size"] // (1 << 30) + 1))
    assert err.status == 431 and "has VM snapshots" in err.body["errortext"]
    time.sleep(2.1)

    # an agent failure: the job fails with the reason and leaves no snapshot
    host = admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0].get("hostid") or env["hosts"][0]["id"]
    mocks = [admin("configureSimulator", hostid=h["id"], name="VmSnapshot",
                   value="result:fail;message:disk full")["mock"] for h in env["hosts"]]
    try:
        failed = snap("s3")
    finally:
        for mock in mocks:
            admin("cleanupSimulatorMock", id=mock["id"])
    assert failed["jobstatus"] == 2 and "disk full" in failed["jobresult"]["errortext"], failed
    assert set(listed(virtualmachineid=vm["id"])) == {"s1", "s2"} and host

    # a running VM keeps its snapshots but they are reverted and deleted while it is stopped
    user.wait_job(user("startVirtualMachine", id=vm["id"])["jobid"])
    err = _refused(user, "revertToVMSnapshot", vmsnapshotid=s1["id"])
    assert err.status == 431 and "Stopped" in err.body["errortext"]
    user.wait_job(user("stopVirtualMachine", id=vm["id"])["jobid"])
    reverted = user.wait_job(user("revertToVMSnapshot", vmsnapshotid=s1["id"])["jobid"])
    assert reverted["jobstatus"] == 1 and reverted["jobresult"]["virtualmachine"]["id"] == vm["id"]
    now = listed(virtualmachineid=vm["id"])
    assert now["s1"]["current"] is True and now["s2"]["current"] is False
    assert _refused(stranger, "deleteVMSnapshot", vmsnapshotid=s1["id"]).status == 531

    deleted = user.wait_job(user("deleteVMSnapshot", vmsnapshotid=s1["id"])["jobid"])
    assert deleted["jobstatus"] == 1, deleted
    now = listed(virtualmachineid=vm["id"])
    assert set(now) == {"s2"} and "parent" not in now["s2"]
    assert user.wait_job(user("deleteVMSnapshot", vmsnapshotid=s2["id"])["jobid"])["jobstatus"] == 1
    assert listed() == {}
    attached = user.wait_job(user("attachVolume", id=volume["id"], virtualmachineid=vm["id"])["jobid"])
    assert attached["jobstatus"] == 1  # no snapshots left: the disks may change again

    snap("s4")
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    assert listed() == {}  # gone with the VM's disks
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
