"""Global settings: listConfigurations, typed and validated updateConfiguration, events."""

from __future__ import annotations

import pytest

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
