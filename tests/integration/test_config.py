"""Global settings: listConfigurations, typed and validated updateConfiguration, events."""

from __future__ import annotations

import pytest

from tests.conftest import unique
from tests.support import ApiError


def test_seeded_settings(admin):
    names = {c["name"]: c for c in admin("listConfigurations", pagesize="-1")["configuration"]}
    for name in ("enable.ec2.api", "enable.s3.api", "integration.api.port", "ping.interval", "ping.timeout",
                 "expunge.delay", "expunge.interval", "cpu.overprovisioning.factor", "mem.overprovisioning.factor",
                 "storage.overprovisioning.factor", "enable.usage.server", "default.page.size"):
        assert name in names, name
    port = names["integration.api.port"]
    assert port["value"] == "0" and port["isdynamic"] is False and port["category"] and port["description"]
    assert admin("listConfigurations", name="ping.interval")["configuration"][0]["value"] == "60"


def test_update_is_typed_and_validated(admin):
    with pytest.raises(ApiError) as err:
        admin("updateConfiguration", name="ping.interval", value="soon")
    assert err.value.status == 431 and "ping.interval" in err.value.body["errortext"]
    with pytest.raises(ApiError) as err:
        admin("updateConfiguration", name="enable.ec2.api", value="maybe")
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        admin("updateConfiguration", name="no.such.setting", value="1")
    assert err.value.status == 431 and "no.such.setting" in err.value.body["errortext"]
    with pytest.raises(ApiError) as err:
        admin("updateConfiguration", name="api.sessionkey.check.locations", value="Anywhere")
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        admin("updateConfiguration", value="1")
    assert err.value.status == 431 and "name" in err.value.body["errortext"]
    assert admin("listConfigurations", name="ping.interval")["configuration"][0]["value"] == "60"


def test_update_and_reset(admin):
    updated = admin("updateConfiguration", name="expunge.delay", value="120")["configuration"]
    assert updated["value"] == "120" and updated["name"] == "expunge.delay"
    events = admin("listEvents", type="CONFIGURATION.VALUE.EDIT")["event"]
    assert any("expunge.delay" in e["description"] for e in events)
    assert admin("resetConfiguration", name="expunge.delay")["configuration"]["value"] == "86400"


def test_page_size_setting_applies(admin):
    admin("updateConfiguration", name="default.page.size", value="1")
    try:
        import time

        time.sleep(2.5)  # settings are cached for two seconds per process
        with pytest.raises(ApiError) as err:
            admin("listConfigurations", page="1", pagesize="5")
        assert err.value.status == 431
        assert len(admin("listConfigurations")["configuration"]) == 1
    finally:
        admin("updateConfiguration", name="default.page.size", value="500")
        time.sleep(2.5)


def test_scoped_values_apply_to_their_resource_only(cs_admin, admin, make_account):
    from tests.integration.test_infra import build_zone

    basic = build_zone(cs_admin, prefix="scoped", net3=47)
    zone, cluster, host = basic["zone"], basic["cluster"], basic["host"]
    pool = admin("createStoragePool", zoneid=zone["id"], podid=basic["pod"]["id"], clusterid=cluster["id"],
                 name=unique("pri"), url=f"nfs://192.0.2.10/export/{unique('p')}", scope="cluster")["storagepool"]
    mhz = host["cpunumber"] * host["cpuspeed"]

    def cpu_total() -> int:
        return {c["type"]: c["capacitytotal"] for c in admin("listCapacity", zoneid=zone["id"])["capacity"]}[1]

    assert cpu_total() == mhz
    # a cluster's CPU overprovisioning factor: the planner, listHosts, listClusters and listCapacity all see it
    updated = admin("updateConfiguration", name="cpu.overprovisioning.factor", value="3",
                    clusterid=cluster["id"])["configuration"]
    assert (updated["name"], updated["value"], updated["scope"]) == ("cpu.overprovisioning.factor", "3", "cluster")
    assert admin("listClusters", id=cluster["id"])["cluster"][0]["cpuovercommitratio"] == "3.0"
    assert admin("listHosts", id=host["id"])["host"][0]["cpuwithoverprovisioning"] == str(mhz * 3)
    assert cpu_total() == mhz * 3
    listed = {c["name"]: c for c in admin("listConfigurations", clusterid=cluster["id"],
                                          pagesize="-1")["configuration"]}
    assert listed["cpu.overprovisioning.factor"]["value"] == "3" and "ping.interval" not in listed
    assert {c["scope"] for c in listed.values()} == {"cluster"}
    assert admin("listConfigurations", name="cpu.overprovisioning.factor")["configuration"][0]["value"] == "1.0"

    # a storage pool's overprovisioning factor
    admin("updateConfiguration", name="storage.overprovisioning.factor", value="4", storageid=pool["id"])
    assert admin("listStoragePools", id=pool["id"])["storagepool"][0]["overprovisionfactor"] == "4"
    allocated = {c["type"]: c["capacitytotal"] for c in admin("listCapacity", zoneid=zone["id"])["capacity"]}[3]
    assert allocated == pool["disksizetotal"] * 4

    # an account's own value: only that account sees it
    account, user = make_account()
    _other, stranger = make_account()
    admin("updateConfiguration", name="allow.user.expunge.recover.vm", value="true", accountid=account["id"])
    assert user("listCapabilities")["capability"]["allowuserexpungerecovervm"] is True
    assert stranger("listCapabilities")["capability"]["allowuserexpungerecovervm"] is False
    assert admin("listConfigurations", accountid=account["id"],
                 name="allow.user.expunge.recover.vm")["configuration"][0]["value"] == "true"

    # bad requests change nothing
    for params, words in (({"name": "ping.interval", "value": "5", "zoneid": zone["id"]}, "Invalid scope id"),
                          ({"name": "cpu.overprovisioning.factor", "value": "2", "zoneid": zone["id"],
                            "clusterid": cluster["id"]}, "multiple IDs"),
                          ({"name": "cpu.overprovisioning.factor", "value": "lots", "clusterid": cluster["id"]},
                           "Float"),
                          ({"name": "cpu.overprovisioning.factor", "value": "2",
                            "clusterid": "8d6ad0b6-1f0e-4b8a-9d57-000000000000"}, "clusterid")):
        with pytest.raises(ApiError) as err:
            admin("updateConfiguration", **params)
        assert err.value.status == 431 and words in err.value.body["errortext"], (params, err.value.body)
    assert cpu_total() == mhz * 3
    assert admin("listConfigurations", name="ping.interval")["configuration"][0]["value"] == "60"

    # reset: the global value applies again
    reset = admin("resetConfiguration", name="cpu.overprovisioning.factor", clusterid=cluster["id"])
    assert reset["configuration"]["value"] == "1.0"
    assert cpu_total() == mhz
    admin("resetConfiguration", name="storage.overprovisioning.factor", storageid=pool["id"])
    assert admin("listStoragePools", id=pool["id"])["storagepool"][0]["overprovisionfactor"] == "2"
    admin("resetConfiguration", name="allow.user.expunge.recover.vm", accountid=account["id"])
    assert user("listCapabilities")["capability"]["allowuserexpungerecovervm"] is False
