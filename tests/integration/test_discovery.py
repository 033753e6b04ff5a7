"""listApis from the registry, listCapabilities, listZones."""

from __future__ import annotations


def test_list_apis_describes_commands(admin):
    apis = {a["name"]: a for a in admin("listApis")["api"]}
    assert {"login", "logout", "listAccounts", "deleteAccount", "queryAsyncJobResult"} <= set(apis)
    delete = apis["deleteAccount"]
    assert delete["isasync"] is True and delete["params"][0]["name"] == "id" and delete["params"][0]["required"]
    listing = apis["listAccounts"]
    assert {"page", "pagesize", "keyword", "listall", "domainid"} <= {p["name"] for p in listing["params"]}
    assert {"id", "name", "state", "user"} <= {r["name"] for r in listing["response"]}
    one = admin("listApis", name="listZones")
    assert one["count"] == 1 and one["api"][0]["name"] == "listZones"


def test_list_apis_follows_the_role(make_account):
    _, user = make_account()
    names = {a["name"] for a in user("listApis")["api"]}
    assert "listAccounts" in names and "createAccount" not in names and "listConfigurations" not in names


def test_capabilities(admin, make_account):
    cap = admin("listCapabilities")["capability"]
    assert cap["cloudstackversion"].startswith("4.") and "securitygroupsenabled" in cap
    _, user = make_account()
    assert user("listCapabilities")["capability"]["cloudstackversion"] == cap["cloudstackversion"]


def test_users_see_only_enabled_zones(admin, make_account):
    from tests.conftest import unique

    name = unique("hidden")
    zone = admin("createZone", name=name, networktype="Basic", dns1="192.0.2.1", internaldns1="192.0.2.2")["zone"]
    assert zone["allocationstate"] == "Disabled"
    assert admin("listZones", id=zone["id"])["zone"][0]["name"] == name
    _, user = make_account()
    assert name not in [z["name"] for z in user("listZones").get("zone", [])]
    admin("updateZone", id=zone["id"], allocationstate="Enabled")
    assert name in [z["name"] for z in user("listZones").get("zone", [])]
    admin("deleteZone", id=zone["id"])
