"""Primary storage pools and image stores against a real server, with the real cs client."""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import unique
from tests.support import ApiError


def make_zone(admin, *, simulator: bool = True) -> dict:
    """A zone with a pod and two clusters (Simulator and KVM), created through the API."""
    zone = admin("createZone", name=unique("zone"), networktype="Basic", dns1="8.8.8.8",
                 internaldns1="10.0.0.1")["zone"]
    pod = admin("createPod", zoneid=zone["id"], name=unique("pod"), gateway="10.1.0.1", netmask="255.255.255.0",
                startip="10.1.0.10", endip="10.1.0.20")["pod"]
    clusters = {}
    for hypervisor in (("Simulator", "KVM") if simulator else ("KVM",)):
        clusters[hypervisor] = admin("addCluster", zoneid=zone["id"], podid=pod["id"], clustername=unique("cl"),
                                     clustertype="CloudManaged", hypervisor=hypervisor)["cluster"][0]
    return {"zone": zone, "pod": pod, "clusters": clusters}


@pytest.fixture(scope="module")
def infra(admin):
    return make_zone(admin)


def _pool_count(admin, zoneid) -> int:
    return admin("listStoragePools", zoneid=zoneid).get("count", 0)


def test_nfs_pool_on_a_simulator_cluster_is_simulated(cs_admin, infra):
    cluster = infra["clusters"]["Simulator"]
    pool = cs_admin.createStoragePool(zoneid=infra["zone"]["id"], podid=infra["pod"]["id"], clusterid=cluster["id"],
                                      name=unique("pri"), url="nfs://10.0.0.5/export/primary",
                                      tags="ssd,fast")["storagepool"]
    assert pool["type"] == "NetworkFilesystem" and pool["ipaddress"] == "10.0.0.5"
    assert pool["path"] == "/export/primary" and pool["scope"] == "CLUSTER" and pool["state"] == "Up"
    assert pool["disksizetotal"] == 1 << 40 and pool["disksizeused"] == 0 and pool["disksizeallocated"] == 0
    assert pool["hypervisor"] == "Simulator" and pool["provider"] == "DefaultPrimary" and pool["tags"] == "ssd,fast"
    assert pool["clusterid"] == cluster["id"] and pool["zonename"] == infra["zone"]["name"]
    listed = cs_admin.listStoragePools(id=pool["id"])["storagepool"]
    assert [p["id"] for p in listed] == [pool["id"]]
    by_cluster = cs_admin.listStoragePools(clusterid=cluster["id"], fetch_list=True)
    assert pool["id"] in [p["id"] for p in by_cluster]


def test_zone_wide_shared_mount_point_is_measured(admin, infra, tmp_path):
    pool = admin("createStoragePool", zoneid=infra["zone"]["id"], name=unique("zw"), scope="zone", hypervisor="KVM",
                 url=f"SharedMountPoint://localhost{tmp_path}")["storagepool"]
    total = os.statvfs(tmp_path).f_blocks * os.statvfs(tmp_path).f_frsize
    assert pool["scope"] == "ZONE" and pool["type"] == "SharedMountPoint" and pool["hypervisor"] == "KVM"
    assert pool["disksizetotal"] == total and 0 < pool["disksizeused"] <= total
    assert "clusterid" not in pool and "podid" not in pool
    # a zone-wide pool serves every cluster of its zone
    listed = admin("listStoragePools", clusterid=infra["clusters"]["KVM"]["id"])["storagepool"]
    assert pool["id"] in [p["id"] for p in listed]
    assert admin("listStoragePools", scope="ZONE", zoneid=infra["zone"]["id"])["storagepool"][0]["id"] == pool["id"]


def test_update_enable_disable_and_capacity(admin, infra):
    cluster = infra["clusters"]["Simulator"]
    pool = admin("createStoragePool", zoneid=infra["zone"]["id"], podid=infra["pod"]["id"], clusterid=cluster["id"],
                 name=unique("upd"), url="nfs://10.0.0.6/export/a", capacitybytes=5 << 30)["storagepool"]
    assert pool["disksizetotal"] == 5 << 30
    updated = admin("updateStoragePool", id=pool["id"], name="renamed", tags="gold", capacitybytes=8 << 30,
                    enabled="false")["storagepool"]
    assert (updated["name"], updated["tags"], updated["disksizetotal"], updated["state"]) == \
        ("renamed", "gold", 8 << 30, "Disabled")
    assert admin("updateStoragePool", id=pool["id"], enabled="true")["storagepool"]["state"] == "Up"
    assert admin("listStoragePools", id=pool["id"], status="Up")["count"] == 1


def test_maintenance_cycle_and_delete(cs_admin, admin, infra):
    cluster = infra["clusters"]["Simulator"]
    pool = admin("createStoragePool", zoneid=infra["zone"]["id"], podid=infra["pod"]["id"], clusterid=cluster["id"],
                 name=unique("mnt"), url="nfs://10.0.0.7/export/m")["storagepool"]
    result = cs_admin.enableStorageMaintenance(id=pool["id"])
    assert result["storagepool"]["state"] == "Maintenance"
    with pytest.raises(ApiError) as err:  # already in maintenance: refused before a job is queued
        admin("enableStorageMaintenance", id=pool["id"])
    assert err.value.status == 431 and "is not ready for migration" in err.value.body["errortext"]
    with pytest.raises(ApiError) as err:  # enable/disable only from Up or Disabled
        admin("updateStoragePool", id=pool["id"], enabled="false")
    assert err.value.status == 431
    assert cs_admin.cancelStorageMaintenance(id=pool["id"])["storagepool"]["state"] == "Up"
    with pytest.raises(ApiError) as err:
        admin("cancelStorageMaintenance", id=pool["id"])
    assert err.value.status == 431
    types = {e["type"] for e in admin("listEvents", pagesize=-1)["event"]}
    assert {"MAINT.PREPARE.PS", "MAINT.CANCEL.PS"} <= types
    assert admin("deleteStoragePool", id=pool["id"]) == {"success": "true"}
    assert admin("listStoragePools", id=pool["id"]) == {}
    with pytest.raises(ApiError) as err:
        admin("updateStoragePool", id=pool["id"], name="x")
    assert err.value.status == 431


def test_local_filesystem_pool_needs_a_host(admin, infra, tmp_path):
    with pytest.raises(ApiError) as err:  # the cluster has no host
        admin("createStoragePool", zoneid=infra["zone"]["id"], podid=infra["pod"]["id"],
              clusterid=infra["clusters"]["KVM"]["id"], name=unique("loc"), url=f"file://{tmp_path}")
    assert err.value.status == 431 and "host" in err.value.body["errortext"]


@pytest.mark.parametrize("params, text", [
    ({"url": "nfs://10.0.0.9"}, "should be nfs://hostname/path"),
    ({"url": "nfs:///export"}, "should be nfs://hostname/path"),
    ({"url": "ftp://10.0.0.9/x"}, "not a supported scheme"),
    ({"url": "nfs://10.0.0.9/x", "scope": "cluster", "cluster": False}, "cluster id can't be null"),
    ({"url": "nfs://10.0.0.9/x", "scope": "zone"}, "Hypervisor type is required"),
    ({"url": "nfs://10.0.0.9/x", "scope": "zone", "hypervisor": "XenServer"}, "not supported for hypervisor"),
    ({"url": "nfs://10.0.0.9/x", "scope": "region"}, "invalid scope"),
    ({"url": "nfs://10.0.0.9/x", "pod": False}, "requires pod id"),
    ({"url": "nfs://10.0.0.9/x", "provider": "SolidFire"}, "storage provider"),
])
def test_bad_pool_input_is_refused_and_changes_nothing(admin, infra, params, text):
    params = dict(params)
    request = {"zoneid": infra["zone"]["id"], "name": unique("bad"), "url": params.pop("url")}
    if params.pop("pod", True):
        request["podid"] = infra["pod"]["id"]
    if params.pop("cluster", True):
        request["clusterid"] = infra["clusters"]["Simulator"]["id"]
    request.update(params)
    before = _pool_count(admin, infra["zone"]["id"])
    with pytest.raises(ApiError) as err:
        admin("createStoragePool", **request)
    assert err.value.status == 431 and text in err.value.body["errortext"], err.value.body
    assert _pool_count(admin, infra["zone"]["id"]) == before


def test_unknown_zone_and_duplicate_pool(admin, infra):
    with pytest.raises(ApiError) as err:
        admin("createStoragePool", zoneid="4f5d1e3c-0000-4000-8000-000000000000", name="x", url="nfs://1.2.3.4/x")
    assert err.value.status == 431 and "zoneid" in err.value.body["errortext"]
    cluster = infra["clusters"]["Simulator"]
    args = {"zoneid": infra["zone"]["id"], "podid": infra["pod"]["id"], "clusterid": cluster["id"], "name": unique("dup"),
                "url": "nfs://10.0.0.8/export/dup"}
    admin("createStoragePool", **args)
    with pytest.raises(ApiError) as err:
        admin("createStoragePool", **args)
    assert err.value.status == 431 and "already in use" in err.value.body["errortext"]


def test_pools_are_for_admins_only(make_account, infra):
    _, user = make_account()
    with pytest.raises(ApiError) as err:
        user("listStoragePools")
    assert err.value.status == 401


# --- image stores --------------------------------------------------------------------------------------------

def test_local_image_store_creates_its_directory(cs_admin, admin, infra, tmp_path):
    folder = tmp_path / "secondary" / "one"
    store = cs_admin.addImageStore(provider="Local", name=unique("sec"), url=f"file://{folder}",
                                   zoneid=infra["zone"]["id"])["imagestore"]
    assert folder.is_dir()
    assert store["providername"] == "Local" and store["protocol"] == "file" and store["scope"] == "ZONE"
    assert store["zoneid"] == infra["zone"]["id"] and store["disksizetotal"] > 0 and store["readonly"] is False
    listed = cs_admin.listImageStores(zoneid=infra["zone"]["id"], fetch_list=True)
    assert store["id"] in [s["id"] for s in listed]
    with pytest.raises(ApiError) as err:  # the same directory twice in a zone
        admin("addImageStore", provider="Local", url=f"file://{folder}", zoneid=infra["zone"]["id"])
    assert err.value.status == 431
    assert admin("deleteImageStore", id=store["id"]) == {"success": "true"}
    assert admin("listImageStores", id=store["id"]) == {}


def test_nfs_image_store_is_recorded_and_legacy_add(admin, infra):
    store = admin("addImageStore", provider="NFS", url="nfs://127.0.0.1/export/secondary",
                  zoneid=infra["zone"]["id"])["imagestore"]
    assert store["protocol"] == "nfs" and store["providername"] == "NFS" and store["name"].startswith("nfs://")
    legacy = admin("addSecondaryStorage", url="nfs://127.0.0.2/export/sec2", zoneid=infra["zone"]["id"])["imagestore"]
    assert legacy["providername"] == "NFS"
    assert {s["id"] for s in admin("listImageStores", protocol="nfs")["imagestore"]} >= {store["id"], legacy["id"]}
    for bad in ({"provider": "S3", "url": "http://s3"}, {"provider": "NFS", "url": "nfs://10.0.0.22"},
                {"provider": "NFS", "url": "file:///tmp/x"}, {"provider": "Local", "url": "nfs://h/p"},
                {"provider": "NFS", "url": "nfs://10.0.0.23/x", "zoneid": None}):
        bad = dict(bad)
        if "zoneid" not in bad:
            bad["zoneid"] = infra["zone"]["id"]
        elif bad["zoneid"] is None:
            del bad["zoneid"]
        with pytest.raises(ApiError) as err:
            admin("addImageStore", **bad)
        assert err.value.status == 431, bad
    for store_id in (store["id"], legacy["id"]):
        admin("deleteImageStore", id=store_id)


def test_storage_capacity_is_reported(admin, infra, tmp_path):
    admin("addImageStore", provider="Local", url=f"file://{tmp_path / 'cap'}", zoneid=infra["zone"]["id"])
    admin("createStoragePool", zoneid=infra["zone"]["id"], podid=infra["pod"]["id"],
          clusterid=infra["clusters"]["Simulator"]["id"], name=unique("cap"), url="nfs://10.0.0.30/export/cap",
          capacitybytes=1 << 30)
    time.sleep(0.1)
    rows = {c["type"]: c for c in admin("listCapacity", zoneid=infra["zone"]["id"])["capacity"]}
    assert {2, 3, 6} <= set(rows)
    assert rows[2]["capacitytotal"] >= 1 << 30 and rows[6]["capacitytotal"] > 0
