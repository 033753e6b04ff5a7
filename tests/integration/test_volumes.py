"""Volumes on a Simulator zone built through the API: the journey with the cs client and with Libcloud, lazy
allocation, device ids, resize, migration between pools, upload and extract, data volumes outliving their VM,
bad input, limits under concurrency and agent faults (configureSimulator), with pool space checked after each."""

from __future__ import annotations

import http.server
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from cs import CloudStackApiException

from tests.conftest import unique
from tests.integration.test_templates import Handler, qcow2_bytes
from tests.integration.test_vms import build_zone, has_api
from tests.support import ApiError

GIB = 1 << 30


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("volweb")
    (root / "tiny.qcow2").write_bytes(qcow2_bytes(1 << 20))
    (root / "data.qcow2").write_bytes(qcow2_bytes(1 << 18))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def env(admin, tmp_path_factory, web):
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    time.sleep(2.1)
    env = build_zone(admin, tmp_path_factory, web, hosts=2)
    env["small"] = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    offerings = {o["name"]: o for o in admin("listDiskOfferings")["diskoffering"]}
    env["disk5"], env["custom"] = offerings["Small"], offerings["Custom"]
    env["pool2"] = admin("createStoragePool", zoneid=env["zone"]["id"], podid=env["pod"]["id"],
                         clusterid=env["cluster"]["id"], name=unique("pri2"),
                         url=f"nfs://192.0.2.11/export/{unique('p')}", scope="cluster")["storagepool"]
    return env


def job(client, reply: dict, timeout: float = 90) -> dict:
    result = client.wait_job(reply["jobid"], timeout=timeout)
    assert result["jobstatus"] in (1, 2)
    return result


def ok(client, command: str, **params) -> dict:
    result = job(client, client(command, **params))
    assert result["jobstatus"] == 1, result
    return next(iter(result["jobresult"].values()))


def failed(client, command: str, **params) -> str:
    result = job(client, client(command, **params))
    assert result["jobstatus"] == 2, result
    return result["jobresult"]["errortext"]


def allocated(admin) -> dict[str, int]:
    return {p["id"]: p["disksizeallocated"] for p in admin("listStoragePools")["storagepool"]}


def deploy(client, env, **extra) -> dict:
    return ok(client, "deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
              templateid=env["template"]["id"], **extra)


def volume(client, volume_id: str) -> dict:
    return client("listVolumes", id=volume_id, listall="true")["volume"][0]


def test_volume_journey_with_cs(cs_admin, admin, env):
    zone_id = env["zone"]["id"]
    vm = deploy(admin, env, name=unique("vj"))
    before = allocated(admin)
    data = cs_admin.createVolume(name=unique("d"), zoneid=zone_id, diskofferingid=env["disk5"]["id"])["volume"]
    assert data["state"] == "Allocated" and data["type"] == "DATADISK" and data["size"] == 5 * GIB
    assert "storageid" not in data and "virtualmachineid" not in data
    assert data["diskofferingname"] == "Small" and data["zoneid"] == zone_id
    assert allocated(admin) == before  # lazily allocated: nothing on a pool yet

    attached = cs_admin.attachVolume(id=data["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["state"] == "Ready" and attached["virtualmachineid"] == vm["id"] and attached["deviceid"] == 1
    assert attached["storageid"] == env["pool"]["id"] or attached["storageid"] == env["pool2"]["id"]
    assert attached["vmstate"] == "Running" and attached["attached"]
    grown = allocated(admin)
    assert grown[attached["storageid"]] == before[attached["storageid"]] + 5 * GIB

    custom = cs_admin.createVolume(name=unique("c"), zoneid=zone_id, diskofferingid=env["custom"]["id"],
                                   size=2)["volume"]
    assert custom["size"] == 2 * GIB
    custom = cs_admin.attachVolume(id=custom["id"], virtualmachineid=vm["id"], deviceid=4)["volume"]
    assert custom["deviceid"] == 4 and custom["state"] == "Ready"
    listed = admin("listVolumes", virtualmachineid=vm["id"])["volume"]
    assert sorted((v["type"], v["deviceid"]) for v in listed) == [("DATADISK", 1), ("DATADISK", 4), ("ROOT", 0)]
    assert [v["id"] for v in admin("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"]] == \
        [v["id"] for v in listed if v["type"] == "ROOT"]
    assert {v["id"] for v in admin("listVolumes", storageid=custom["storageid"], type="DATADISK")["volume"]} >= \
        {custom["id"]} - set()

    resized = cs_admin.resizeVolume(id=custom["id"], size=3)["volume"]
    assert resized["size"] == 3 * GIB and resized["state"] == "Ready"
    with pytest.raises(CloudStackApiException) as err:
        cs_admin.resizeVolume(id=custom["id"], size=1)
    assert "shrinkok" in str(err.value)
    with pytest.raises(CloudStackApiException) as err:  # attached volumes cannot be deleted
        cs_admin.deleteVolume(id=custom["id"])
    assert "not attached" in str(err.value)

    detached = cs_admin.detachVolume(id=custom["id"])["volume"]
    assert "virtualmachineid" not in detached and detached["state"] == "Ready"
    assert cs_admin.deleteVolume(id=custom["id"])["success"] == "true"
    assert admin("listVolumes", id=custom["id"]).get("count", 0) == 0
    detached = cs_admin.detachVolume(virtualmachineid=vm["id"], deviceid=1)["volume"]
    assert detached["id"] == data["id"]
    assert cs_admin.deleteVolume(id=data["id"])["success"] == "true"
    assert allocated(admin) == before  # pool space back where it was
    types = {e["type"] for e in admin("listEvents", pagesize=500, page=1)["event"]}
    assert {"VOLUME.CREATE", "VOLUME.ATTACH", "VOLUME.DETACH", "VOLUME.RESIZE", "VOLUME.DELETE"} <= types
    ok(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")


def test_lazy_allocation_and_data_volumes_outlive_their_vm(admin, env):
    before = allocated(admin)
    vm = deploy(admin, env, startvm="false")
    assert vm["state"] == "Stopped"
    data = ok(admin, "createVolume", zoneid=env["zone"]["id"], diskofferingid=env["disk5"]["id"])["id"]
    attached = ok(admin, "attachVolume", id=data, virtualmachineid=vm["id"])
    assert attached["state"] == "Allocated" and attached["virtualmachineid"] == vm["id"]  # still not on a pool
    ok(admin, "startVirtualMachine", id=vm["id"])
    placed = volume(admin, data)
    assert placed["state"] == "Ready" and placed["storageid"]
    doomed = ok(admin, "createVolume", zoneid=env["zone"]["id"], diskofferingid=env["custom"]["id"], size=1,
                virtualmachineid=vm["id"])
    assert doomed["virtualmachineid"] == vm["id"] and doomed["state"] == "Ready" and doomed["deviceid"] == 2

    ok(admin, "destroyVirtualMachine", id=vm["id"], expunge="true", volumeids=doomed["id"])
    kept = volume(admin, data)  # as CloudStack: the data volume is detached at expunge, still Ready
    assert kept["state"] == "Ready" and "virtualmachineid" not in kept
    assert admin("listVolumes", id=doomed["id"]).get("count", 0) == 0
    assert admin("deleteVolume", id=data)["success"] == "true"
    assert allocated(admin) == before


def test_volume_journey_with_libcloud(admin, make_account, cloud, env):
    from libcloud.compute.providers import Provider, get_driver

    _account, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    location = next(loc for loc in driver.list_locations() if loc.id == env["zone"]["id"])
    vm = deploy(user, env)
    node = driver._to_node(data=user("listVirtualMachines", id=vm["id"])["virtualmachine"][0])
    vol = driver.create_volume(size=5, name=unique("lcv"), location=location)
    assert volume(user, vol.id)["state"] == "Allocated"
    assert driver.attach_volume(node, vol)
    seen = volume(user, vol.id)
    assert seen["virtualmachineid"] == node.id and seen["state"] == "Ready" and seen["deviceid"] == 1
    assert {v.id for v in driver.list_volumes(node=node)} >= {vol.id}
    if has_api(admin, "createSnapshot"):
        snap = driver.create_volume_snapshot(vol)
        assert snap.id in {s.id for s in driver.list_snapshots()}
        copy = ok(user, "createVolume", snapshotid=snap.id, name=unique("fromsnap"))
        assert copy["state"] == "Allocated" and copy["size"] == 5 * GIB
        other = deploy(user, env)
        copy = ok(user, "attachVolume", id=copy["id"], virtualmachineid=other["id"])
        assert copy["state"] == "Ready" and copy["virtualmachineid"] == other["id"]
        ok(user, "detachVolume", id=copy["id"])
        assert user("deleteVolume", id=copy["id"])["success"] == "true"
        ok(admin, "destroyVirtualMachine", id=other["id"], expunge="true")
        driver.destroy_volume_snapshot(snap)
    assert driver.detach_volume(vol)
    assert driver.destroy_volume(vol)
    assert user("listVolumes", type="DATADISK").get("count", 0) == 0
    ok(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")


def test_bad_input_is_refused_clearly(admin, make_account, env):
    _a, alice = make_account()
    _b, bob = make_account()
    bobs_vm = deploy(bob, env)
    mine = ok(alice, "createVolume", zoneid=env["zone"]["id"], diskofferingid=env["disk5"]["id"])["id"]
    with pytest.raises(ApiError) as err:  # another account's VM
        alice("attachVolume", id=mine, virtualmachineid=bobs_vm["id"])
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:  # even an admin cannot mix accounts
        admin("attachVolume", id=mine, virtualmachineid=bobs_vm["id"])
    assert err.value.status == 531 and "different accounts" in err.value.body["errortext"]
    for params, needle in (({}, "diskofferingid"),
                           ({"diskofferingid": env["custom"]["id"], "zoneid": env["zone"]["id"]}, "size"),
                           ({"diskofferingid": env["disk5"]["id"]}, "zoneid"),
                           ({"diskofferingid": env["custom"]["id"], "zoneid": env["zone"]["id"], "size": 99999},
                            "size"),
                           ({"snapshotid": "not-a-snapshot"}, "snapshotid")):
        with pytest.raises(ApiError) as err:
            alice("createVolume", **params)
        assert err.value.status == 431 and needle in err.value.body["errortext"], (params, err.value.body)
    with pytest.raises(ApiError) as err:
        alice("attachVolume", id=mine)
    assert err.value.status == 431 and "virtualmachineid" in err.value.body["errortext"]
    with pytest.raises(ApiError) as err:
        bob("attachVolume", id=mine, virtualmachineid=bobs_vm["id"])
    assert err.value.status == 531

    vm = deploy(alice, env)
    with pytest.raises(ApiError) as err:
        alice("attachVolume", id=mine, virtualmachineid=vm["id"], deviceid=3)
    assert err.value.status == 431 and "deviceId should be 1,2,4-15" in err.value.body["errortext"]
    root = alice("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    with pytest.raises(ApiError) as err:
        alice("detachVolume", id=root["id"])
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        alice("deleteVolume", id=root["id"])
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        alice("resizeVolume", id=mine)
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        alice("extractVolume", id=mine, zoneid=env["zone"]["id"], mode="FTP_UPLOAD")
    assert err.value.status == 431 and "mode" in err.value.body["errortext"]

    extra = [ok(alice, "createVolume", zoneid=env["zone"]["id"], diskofferingid=env["custom"]["id"], size=1)["id"]
             for _ in range(6)]
    for vol in extra:
        ok(alice, "attachVolume", id=vol, virtualmachineid=vm["id"])
    devices = sorted(v["deviceid"] for v in alice("listVolumes", virtualmachineid=vm["id"], type="DATADISK")["volume"])
    assert devices == [1, 2, 4, 5, 6, 7]  # the lowest free ids, 3 (the CD-ROM) skipped
    with pytest.raises(ApiError) as err:  # beyond the limit of data volumes per VM
        alice("attachVolume", id=mine, virtualmachineid=vm["id"])
    assert err.value.status == 431 and "maximum number of data disks (6)" in err.value.body["errortext"]
    assert volume(alice, mine)["state"] == "Allocated" and "virtualmachineid" not in volume(alice, mine)
    ok(admin, "destroyVirtualMachine", id=vm["id"], expunge="true", volumeids=",".join(extra))
    ok(admin, "destroyVirtualMachine", id=bobs_vm["id"], expunge="true")
    assert alice("deleteVolume", id=mine)["success"] == "true"


def test_volume_limit_holds_under_concurrency(admin, make_account, env):
    account, user = make_account()
    admin("updateResourceLimit", account=account["name"], domainid=account["domainid"], resourcetype=2, max=3)

    def create(_):
        try:
            return user("createVolume", zoneid=env["zone"]["id"], diskofferingid=env["disk5"]["id"])["id"]
        except ApiError as error:
            return error

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(8)))
    made = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, ApiError)]
    assert len(made) == 3 and len(refused) == 5, results
    assert all(e.status in (532, 535) for e in refused)
    assert user("listVolumes")["count"] == 3
    listed = admin("listAccounts", id=account["id"])["account"][0]
    assert listed["volumetotal"] == 3
    for vol in made:
        assert user("deleteVolume", id=vol)["success"] == "true"
    assert admin("listAccounts", id=account["id"])["account"][0]["volumetotal"] == 0


def test_agent_faults_leave_no_half_made_volumes(admin, env):
    vm = deploy(admin, env)
    host = vm["hostid"]
    before = allocated(admin)
    data = ok(admin, "createVolume", zoneid=env["zone"]["id"], diskofferingid=env["disk5"]["id"])["id"]
    mock = admin("configureSimulator", name="CreateVolume", value="result:fail;message:disk full", hostid=host)
    try:
        assert "disk full" in failed(admin, "attachVolume", id=data, virtualmachineid=vm["id"])
    finally:
        admin("cleanupSimulatorMock", id=mock["mock"]["id"])
    seen = volume(admin, data)
    assert seen["state"] == "Allocated" and "storageid" not in seen and "virtualmachineid" not in seen
    assert allocated(admin) == before

    mock = admin("configureSimulator", name="AttachDisk", value="result:fail;message:no free PCI slot", hostid=host)
    try:
        assert "no free PCI slot" in failed(admin, "attachVolume", id=data, virtualmachineid=vm["id"])
    finally:
        admin("cleanupSimulatorMock", id=mock["mock"]["id"])
    seen = volume(admin, data)  # the volume made for it is removed again: no file, no pool space
    assert seen["state"] == "Allocated" and "virtualmachineid" not in seen and "storageid" not in seen
    assert allocated(admin) == before
    pool = ok(admin, "attachVolume", id=data, virtualmachineid=vm["id"])["storageid"]
    ok(admin, "detachVolume", id=data)
    target = env["pool2"]["id"] if pool == env["pool"]["id"] else env["pool"]["id"]

    mock = admin("configureSimulator", name="CopyVolume", value="result:fail;message:agent died mid-copy")
    try:
        assert "mid-copy" in failed(admin, "migrateVolume", volumeid=data, storageid=target)
    finally:
        admin("cleanupSimulatorMock", id=mock["mock"]["id"])
    seen = volume(admin, data)
    assert seen["state"] == "Ready" and seen["storageid"] == pool
    assert allocated(admin)[target] == before[target]

    moved = ok(admin, "migrateVolume", volumeid=data, storageid=target)
    assert moved["storageid"] == target and moved["state"] == "Ready"
    assert allocated(admin)[target] == before[target] + 5 * GIB and allocated(admin)[pool] == before[pool]
    attached = ok(admin, "attachVolume", id=data, virtualmachineid=vm["id"])
    assert attached["deviceid"] == 1
    ok(admin, "detachVolume", id=data)
    assert admin("deleteVolume", id=data)["success"] == "true"
    assert allocated(admin) == before
    ok(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")


def test_upload_then_attach_and_extract(admin, env, web):
    before = allocated(admin)
    reply = admin("uploadVolume", name=unique("up"), zoneid=env["zone"]["id"], format="QCOW2",
                  url=f"{web}/data.qcow2")
    up = next(iter(job(admin, reply)["jobresult"].values()))
    assert up["state"] == "Uploaded" and up["size"] == GIB and up["status"] == "Download Complete"
    vm = deploy(admin, env)
    attached = ok(admin, "attachVolume", id=up["id"], virtualmachineid=vm["id"])  # copied to primary now
    assert attached["state"] == "Ready" and attached["storageid"]
    ok(admin, "stopVirtualMachine", id=vm["id"])
    later = next(iter(job(admin, admin("uploadVolume", name=unique("up2"), zoneid=env["zone"]["id"],
                                       format="QCOW2", url=f"{web}/data.qcow2"))["jobresult"].values()))
    fresh = deploy(admin, env, startvm="false")
    waiting = ok(admin, "attachVolume", id=later["id"], virtualmachineid=fresh["id"])
    assert waiting["state"] == "Uploaded" and "storageid" not in waiting  # copied when the VM first starts
    ok(admin, "startVirtualMachine", id=fresh["id"])
    assert volume(admin, later["id"])["state"] == "Ready" and volume(admin, later["id"])["storageid"]
    store = Path(urlparse(admin("listImageStores", zoneid=env["zone"]["id"])["imagestore"][0]["url"]).path)
    assert any(later["id"] in p.name for p in store.rglob("*"))
    ok(admin, "destroyVirtualMachine", id=fresh["id"], expunge="true", volumeids=later["id"])
    assert not any(later["id"] in p.name for p in store.rglob("*"))  # its uploaded copy went too
    extracted = ok(admin, "extractVolume", id=up["id"], zoneid=env["zone"]["id"], mode="HTTP_DOWNLOAD")
    assert extracted["url"].startswith("http") and extracted["state"] == "DOWNLOAD_URL_CREATED"
    assert any(e["type"] == "VOLUME.UPLOAD" for e in admin("listEvents", type="VOLUME.UPLOAD")["event"])

    name = unique("bad")
    bad = admin("uploadVolume", name=name, zoneid=env["zone"]["id"], format="QCOW2", url=f"{web}/missing.qcow2")
    result = job(admin, bad)
    assert result["jobstatus"] == 2 and "404" in result["jobresult"]["errortext"]
    [broken] = admin("listVolumes", name=name)["volume"]
    assert broken["state"] == "UploadError" and "404" in broken["status"]
    assert admin("deleteVolume", id=broken["id"])["success"] == "true"
    with pytest.raises(ApiError) as err:
        admin("uploadVolume", name="x", zoneid=env["zone"]["id"], format="QCOW2", url="ftp://example.com/x.qcow2")
    assert err.value.status == 431
    ok(admin, "detachVolume", id=up["id"])
    assert admin("deleteVolume", id=up["id"])["success"] == "true"
    ok(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")
    assert allocated(admin) == before


def test_uploaded_volume_counts_against_secondary_storage(admin, make_account, env, web):
    """An uploaded volume's file on the image store counts in secondary_storage from the end of its download
    until the volume is deleted (also once attached: the copy stays); the recount agrees; an upload that
    does not fit ends in UploadError with nothing left on the store."""
    account, user = make_account()
    size = len(qcow2_bytes(1 << 18))  # the file the web fixture serves

    def total() -> float:
        return float(admin("listAccounts", id=account["id"])["account"][0]["secondarystoragetotal"])

    up = next(iter(job(user, user("uploadVolume", name=unique("up"), zoneid=env["zone"]["id"], format="QCOW2",
                                  url=f"{web}/data.qcow2"))["jobresult"].values()))
    assert total() == pytest.approx(size / GIB)
    admin("updateResourceCount", account=account["name"], domainid=account["domainid"], resourcetype="11")
    assert total() == pytest.approx(size / GIB)  # the recount finds the same bytes

    admin("updateResourceLimit", account=account["name"], domainid=account["domainid"], resourcetype="11",
          max="0")
    name = unique("full")
    refused = job(user, user("uploadVolume", name=name, zoneid=env["zone"]["id"], format="QCOW2",
                             url=f"{web}/data.qcow2"))
    assert refused["jobstatus"] == 2 and "secondary_storage" in refused["jobresult"]["errortext"]
    [broken] = user("listVolumes", name=name)["volume"]
    assert broken["state"] == "UploadError" and "secondary_storage" in broken["status"]
    store = Path(urlparse(admin("listImageStores", zoneid=env["zone"]["id"])["imagestore"][0]["url"]).path)
    assert not any(broken["id"] in p.name for p in store.rglob("*"))
    assert total() == pytest.approx(size / GIB)

    assert user("deleteVolume", id=up["id"])["success"] == "true"
    assert user("deleteVolume", id=broken["id"])["success"] == "true"
    assert total() == 0
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)


def test_extract_url_serves_the_volume(admin, env, web):
    reply = admin("uploadVolume", name=unique("ex"), zoneid=env["zone"]["id"], format="QCOW2",
                  url=f"{web}/data.qcow2")
    up = next(iter(job(admin, reply)["jobresult"].values()))
    extracted = ok(admin, "extractVolume", id=up["id"], zoneid=env["zone"]["id"], mode="HTTP_DOWNLOAD")
    body = httpx.get(extracted["url"], timeout=30)
    assert body.status_code == 200 and body.content[:4] == b"QFI\xfb"
    assert httpx.get(extracted["url"].rsplit("/", 2)[0] + "/nosuchtoken/x.qcow2", timeout=30).status_code == 404
    admin("updateConfiguration", name="extract.url.expiration.interval", value="1")
    time.sleep(2.1)  # settings are cached for 2 s
    try:
        short = ok(admin, "extractVolume", id=up["id"], zoneid=env["zone"]["id"], mode="HTTP_DOWNLOAD")["url"]
        time.sleep(2)
        assert httpx.get(short, timeout=30).status_code == 404  # expired
    finally:
        admin("updateConfiguration", name="extract.url.expiration.interval", value="14400")
    assert admin("deleteVolume", id=up["id"])["success"] == "true"
    assert httpx.get(extracted["url"], timeout=30).status_code == 404  # the extracted copy went with it


def test_limits_follow_data_volumes_through_destroy_recover_and_account_deletion(admin, make_account, env):
    account, user = make_account()
    before = allocated(admin)

    def totals():
        row = admin("listAccounts", id=account["id"])["account"][0]
        return row["volumetotal"], row["primarystoragetotal"]

    vm = deploy(user, env)
    root_total = totals()
    assert root_total[0] == 1
    data = ok(user, "createVolume", zoneid=env["zone"]["id"], diskofferingid=env["disk5"]["id"],
              virtualmachineid=vm["id"])
    assert data["state"] == "Ready" and totals()[0] == 2
    ok(user, "destroyVirtualMachine", id=vm["id"])  # the ROOT volume's limits go, the data volume keeps its own
    assert totals()[0] == 1
    admin("recoverVirtualMachine", id=vm["id"])
    assert totals() == (2, root_total[1] + 5)  # shown in GiB
    ok(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")
    kept = volume(user, data["id"])
    assert kept["state"] == "Ready" and "virtualmachineid" not in kept and totals()[0] == 1
    ok(admin, "deleteAccount", id=account["id"])  # its data volume goes with it
    assert admin("listVolumes", id=data["id"], listall="true").get("count", 0) == 0
    assert allocated(admin) == before
