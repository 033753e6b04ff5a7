"""Service and disk offerings: seeds, CRUD, validation, visibility, and real clients (cs, Libcloud)."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from tests.conftest import unique
from tests.support import ApiError


def _error(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(*args, **kwargs)
    return err.value


def test_seeded_offerings(cs_admin):
    offerings = {o["name"]: o for o in cs_admin.listServiceOfferings(fetch_list=True)}
    small = offerings["Small Instance"]
    assert (small["cpunumber"], small["cpuspeed"], small["memory"]) == (1, 500, 512)
    assert (offerings["Medium Instance"]["cpuspeed"], offerings["Medium Instance"]["memory"]) == (1000, 1024)
    m1 = offerings["m1.small"]
    assert (m1["cpunumber"], m1["memory"], m1["iscustomized"], m1["issystem"]) == (1, 1740, False, False)
    assert {"t1.micro", "m1.medium", "m1.large", "m1.xlarge", "c1.medium", "c1.xlarge"} <= set(offerings)
    assert small["storagetype"] == "shared" and small["provisioningtype"] == "thin" and "created" in small
    disks = {d["name"]: d for d in cs_admin.listDiskOfferings(fetch_list=True)}
    assert [disks[n]["disksize"] for n in ("Small", "Medium", "Large")] == [5, 20, 100]
    assert disks["Custom"]["iscustomized"] is True and disks["Custom"]["disksize"] == 0


def test_service_offering_crud(cs_admin):
    name = unique("so")
    created = cs_admin.createServiceOffering(name=name, displaytext="two cores", cpunumber=2, cpuspeed=1200,
                                             memory=2048, storagetype="local", offerha="true", limitcpuuse="true",
                                             hosttags="fast", tags="ssd", provisioningtype="fat", rootdisksize=20)
    so = created["serviceoffering"]
    assert (so["name"], so["displaytext"], so["cpunumber"], so["cpuspeed"], so["memory"]) == (
        name, "two cores", 2, 1200, 2048)
    assert so["storagetype"] == "local" and so["offerha"] is True and so["limitcpuuse"] is True
    assert so["hosttags"] == "fast" and so["storagetags"] == "ssd" and so["provisioningtype"] == "fat"
    assert so["rootdisksize"] == 20 and so["iscustomized"] is False and "domainid" not in so
    updated = cs_admin.updateServiceOffering(id=so["id"], name=name + "x", displaytext="renamed", sortkey=7,
                                             hosttags="slow")["serviceoffering"]
    assert (updated["name"], updated["displaytext"], updated["hosttags"]) == (name + "x", "renamed", "slow")
    listed = cs_admin.listServiceOfferings(id=so["id"])["serviceoffering"]
    assert [o["name"] for o in listed] == [name + "x"]
    assert cs_admin.listServiceOfferings(keyword=name)["count"] == 1
    assert cs_admin.deleteServiceOffering(id=so["id"])["success"] == "true"
    assert cs_admin.listServiceOfferings(id=so["id"]) == {}
    with pytest.raises(CloudStackApiException) as err:  # already removed
        cs_admin.deleteServiceOffering(id=so["id"])
    assert err.value.error["errorcode"] == 431
    for event in ("SERVICE.OFFERING.CREATE", "SERVICE.OFFERING.EDIT", "SERVICE.OFFERING.DELETE"):
        assert cs_admin.listEvents(type=event)["count"] >= 1, event


def test_service_offering_validation(admin):
    cases = [
        (dict(cpunumber=1, memory=512), "cpuspeed"),
        (dict(cpunumber=0, cpuspeed=500, memory=512), "cpunumber"),
        (dict(cpunumber=1, cpuspeed=500, memory=16), "memory"),
        (dict(cpunumber=1, cpuspeed=500, memory=512, storagetype="nvme"), "storagetype"),
        (dict(cpunumber=1, cpuspeed=500, memory=512, provisioningtype="thick"), "provisioningtype"),
        (dict(cpunumber=1, cpuspeed=500, memory=512, rootdisksize=-1), "rootdisksize"),
        (dict(customized="true", cpunumber=2), "cpunumber"),
        (dict(customized="true", mincpunumber=4, maxcpunumber=2, minmemory=512, maxmemory=1024), "mincpunumber"),
        (dict(customized="true", mincpunumber=1), "maxcpunumber"),
        (dict(customized="false"), "cpunumber"),
        (dict(cpunumber=1, cpuspeed=500, memory=512, systemvmtype="consoleproxy"), "systemvmtype"),
    ]
    for params, param in cases:
        err = _error(admin, "createServiceOffering", name=unique("bad"), displaytext="x", **params)
        assert err.status == 431 and param in err.body["errortext"], (params, err.body)
    err = _error(admin, "createServiceOffering", displaytext="x", cpunumber=1, cpuspeed=1, memory=512)
    assert err.status == 431 and "name" in err.body["errortext"]
    err = _error(admin, "createServiceOffering", name="  ", displaytext="x", cpunumber=1, cpuspeed=1, memory=512)
    assert err.status == 431 and "name" in err.body["errortext"]


def test_custom_offering_restricted_to_a_domain(admin, make_account):
    domain = admin("createDomain", name=unique("offd"))["domain"]
    child = admin("createDomain", name=unique("offc"), parentdomainid=domain["id"])["domain"]
    custom = admin("createServiceOffering", name=unique("custom"), displaytext="custom", customized="true",
                   mincpunumber=1, maxcpunumber=4, minmemory=512, maxmemory=8192, cpuspeed=1000,
                   domainid=domain["id"])["serviceoffering"]
    assert custom["iscustomized"] is True and "cpunumber" not in custom and "memory" not in custom
    assert custom["serviceofferingdetails"]["maxcpunumber"] == "4"
    assert custom["domainid"] == domain["id"] and custom["domain"] == domain["name"]
    _, inside_client = make_account(domainid=child["id"])  # a sub-domain sees its ancestors' offerings
    _, outside_client = make_account()
    seen = {o["id"] for o in inside_client("listServiceOfferings")["serviceoffering"]}
    assert custom["id"] in seen and len(seen) > 1  # plus the public ones
    assert custom["id"] not in {o["id"] for o in outside_client("listServiceOfferings")["serviceoffering"]}
    assert outside_client("listServiceOfferings", id=custom["id"]) == {}
    # cpunumber/memory filters keep offerings able to give that much
    fits = {o["id"] for o in admin("listServiceOfferings", cpunumber=3, memory=4096).get("serviceoffering", [])}
    assert custom["id"] in fits
    assert custom["id"] not in {o["id"] for o in admin("listServiceOfferings", cpunumber=8)
                                .get("serviceoffering", [])}
    assert {o["id"] for o in admin("listServiceOfferings", domainid=domain["id"])["serviceoffering"]} == {
        custom["id"]}
    # make it public again, then remove it
    public = admin("updateServiceOffering", id=custom["id"], domainid="public")["serviceoffering"]
    assert "domainid" not in public
    assert custom["id"] in {o["id"] for o in outside_client("listServiceOfferings")["serviceoffering"]}
    admin("deleteServiceOffering", id=custom["id"])
    err = _error(outside_client, "createServiceOffering", name="x", displaytext="x", cpunumber=1, cpuspeed=1,
                 memory=512)
    assert err.status == 401  # admin-only commands do not exist for users
    err = _error(outside_client, "listServiceOfferings", issystem="true")
    assert err.status == 531


def test_disk_offering_crud_and_validation(cs_admin, admin, make_account):
    name = unique("do")
    do = cs_admin.createDiskOffering(name=name, displaytext="ten", disksize=10, storagetype="local", tags="ssd",
                                     provisioningtype="sparse", miniops=100, maxiops=500)["diskoffering"]
    assert (do["disksize"], do["storagetype"], do["tags"], do["provisioningtype"]) == (10, "local", "ssd", "sparse")
    assert (do["miniops"], do["maxiops"], do["iscustomized"], do["displayoffering"]) == (100, 500, False, True)
    custom = cs_admin.createDiskOffering(name=unique("dc"), displaytext="any size", customized="true")
    assert custom["diskoffering"]["iscustomized"] is True
    hidden = cs_admin.createDiskOffering(name=unique("dh"), displaytext="hidden", disksize=1,
                                         displayoffering="false")["diskoffering"]
    updated = cs_admin.updateDiskOffering(id=do["id"], name=name + "x", displaytext="renamed", sortkey=3,
                                          tags="hdd")["diskoffering"]
    assert (updated["name"], updated["displaytext"], updated["tags"]) == (name + "x", "renamed", "hdd")
    _, user = make_account()
    seen = {d["id"] for d in user("listDiskOfferings")["diskoffering"]}
    assert do["id"] in seen and hidden["id"] not in seen
    assert hidden["id"] in {d["id"] for d in cs_admin.listDiskOfferings(fetch_list=True)}
    assert cs_admin.deleteDiskOffering(id=do["id"])["success"] == "true"
    assert cs_admin.listDiskOfferings(id=do["id"]) == {}
    assert cs_admin.listEvents(type="DISK.OFFERING.DELETE")["count"] >= 1
    for params, param in [(dict(disksize=0), "disksize"), (dict(customized="true", disksize=5), "disksize"),
                          (dict(customized="false"), "disksize"), (dict(disksize=1, storagetype="x"), "storagetype"),
                          (dict(disksize=1, miniops=10, maxiops=5), "miniops"),
                          (dict(disksize=1, provisioningtype="x"), "provisioningtype"),
                          (dict(disksize=999999), "disksize")]:
        err = _error(admin, "createDiskOffering", name=unique("bad"), displaytext="x", **params)
        assert err.status == 431 and param in err.body["errortext"], (params, err.body)
    err = _error(admin, "updateDiskOffering", id="not-a-uuid")
    assert err.status == 431 and "id" in err.body["errortext"]


def test_libcloud_list_sizes(cloud, make_account):
    from libcloud.compute.providers import Provider, get_driver

    _, user = make_account()
    driver = get_driver(Provider.CLOUDSTACK)(user.apikey, user.secret, host="127.0.0.1", port=cloud.port,
                                             path="/client/api", secure=False)
    sizes = {s.name: s for s in driver.list_sizes()}
    assert {"Small Instance", "Medium Instance", "m1.small"} <= set(sizes)
    assert sizes["m1.small"].ram == 1740 and sizes["m1.small"].extra["cpu"] == 1
    assert sizes["Small Instance"].ram == 512
