"""Resource tags on a Simulator zone: createTags/deleteTags/listTags with the cs client and Libcloud, the tags
shown in resource responses, the tags[i] filter of the list commands, who may tag what, bad input, and tags
going with their resource."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.conftest import unique
from tests.integration.test_vms import env, web  # noqa: F401  (the module's zone and template server)
from tests.support import ApiError


def deploy(client, env) -> dict:  # noqa: F811
    reply = client("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                   templateid=env["template"]["id"], name=unique("tagged"))
    return client.wait_job(reply["jobid"])["jobresult"]["virtualmachine"]


def tag_map(tags: list[dict]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in tags}


def test_tags_with_the_cs_client(cs_admin, admin, make_account, env):  # noqa: F811
    account, user = make_account()
    vm = deploy(user, env)
    volume = user("listVolumes", virtualmachineid=vm["id"])["volume"][0]
    job = user.wait_job(user("createTags", resourceids=vm["id"], resourcetype="UserVm",
                             **{"tags[0].key": "env", "tags[0].value": "prod", "tags[1].key": "team",
                                "tags[1].value": "web"})["jobid"])
    assert job["jobstatus"] == 1 and job["jobresult"]["success"] is True
    user.wait_job(user("createTags", resourceids=volume["id"], resourcetype="volume",  # any case
                       **{"tags[0].key": "env", "tags[0].value": "dev"})["jobid"])

    shown = user("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["tags"]
    assert tag_map(shown) == {"env": "prod", "team": "web"}
    assert shown[0]["resourcetype"] == "UserVm" and shown[0]["resourceid"] == vm["id"]
    assert shown[0]["account"] == account["name"] and shown[0]["domainid"] == account["domainid"]
    assert tag_map(user("listVolumes", id=volume["id"])["volume"][0]["tags"]) == {"env": "dev"}

    # the list filter: every given key (and value) must match
    assert [v["id"] for v in user("listVirtualMachines", **{"tags[0].key": "env", "tags[0].value": "prod"})
            ["virtualmachine"]] == [vm["id"]]
    assert user("listVirtualMachines", **{"tags[0].key": "env", "tags[0].value": "dev"}).get("count", 0) == 0
    assert user("listVirtualMachines", **{"tags[0].key": "env", "tags[0].value": "prod", "tags[1].key": "nope"}
                ).get("count", 0) == 0
    assert [v["id"] for v in user("listVolumes", **{"tags[0].key": "env"})["volume"]] == [volume["id"]]

    # listTags through the cs library (admin): everything of the account, filters by type, key, value
    listed = cs_admin.listTags(listall=True, account=account["name"], domainid=account["domainid"])["tag"]
    assert sorted((t["resourcetype"], t["key"], t["value"]) for t in listed) == [
        ("UserVm", "env", "prod"), ("UserVm", "team", "web"), ("Volume", "env", "dev")]
    assert [t["resourceid"] for t in user("listTags", resourcetype="Volume")["tag"]] == [volume["id"]]
    assert [t["key"] for t in user("listTags", key="team")["tag"]] == ["team"]
    assert user("listTags", value="nothing").get("count", 0) == 0
    other, stranger = make_account()
    assert stranger("listTags").get("count", 0) == 0  # another account sees none of them

    # deleteTags: one key (a value given must match), then all of them
    with pytest.raises(ApiError) as err:
        user("deleteTags", resourceids=vm["id"], resourcetype="UserVm", **{"tags[0].key": "env",
                                                                             "tags[0].value": "dev"})
    assert err.value.status == 431 and "no tag matching" in err.value.body["errortext"]
    user.wait_job(user("deleteTags", resourceids=vm["id"], resourcetype="UserVm",
                       **{"tags[0].key": "env", "tags[0].value": "prod"})["jobid"])
    assert tag_map(user("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["tags"]) == {"team": "web"}
    user.wait_job(user("deleteTags", resourceids=vm["id"], resourcetype="UserVm")["jobid"])
    assert user("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["tags"] == []

    # tags go with their resource
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    assert user("listTags", resourcetype="UserVm").get("count", 0) == 0
    assert user("listTags", resourcetype="Volume").get("count", 0) == 0  # the ROOT volume went with the VM
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
    admin.wait_job(admin("deleteAccount", id=other["id"])["jobid"], timeout=120)


def test_bad_tag_requests_change_nothing(admin, make_account, env):  # noqa: F811
    account, user = make_account()
    _other, stranger = make_account()
    vm = deploy(user, env)
    good = {"tags[0].key": "env", "tags[0].value": "prod"}
    cases = [
        (dict(resourceids=vm["id"], resourcetype="Spaceship", **good), "Invalid resource type"),
        (dict(resourceids="6b7d9c9e-0000-4000-8000-000000000000", resourcetype="UserVm", **good),
         "Unable to find UserVm"),
        (dict(resourceids=vm["id"], resourcetype="UserVm", **{"tags[0].key": "env"}), "needs a value"),
        (dict(resourceids=vm["id"], resourcetype="UserVm", **{"tags[0].key": "", "tags[0].value": "x"}),
         "needs a key"),
        (dict(resourceids=vm["id"], resourcetype="UserVm", **{"tags[0].key": "k" * 256, "tags[0].value": "x"}),
         "at most 255"),
        (dict(resourceids=vm["id"], resourcetype="Volume", **good), "Unable to find Volume"),
    ]
    for params, words in cases:
        with pytest.raises(ApiError) as err:
            user("createTags", **params)
        assert err.value.status == 431 and words in err.value.body["errortext"], (params, err.value.body)
    with pytest.raises(ApiError) as err:
        user("createTags", resourceids=vm["id"], resourcetype="UserVm")
    assert err.value.status == 431 and "tags" in err.value.body["errortext"]
    with pytest.raises(ApiError) as err:  # someone else's VM
        stranger("createTags", resourceids=vm["id"], resourcetype="UserVm", **good)
    assert err.value.status == 531
    user.wait_job(user("createTags", resourceids=vm["id"], resourcetype="UserVm", **good)["jobid"])
    with pytest.raises(ApiError) as err:  # a key is unique per resource
        user("createTags", resourceids=vm["id"], resourcetype="UserVm", **{"tags[0].key": "env",
                                                                           "tags[0].value": "dev"})
    assert err.value.status == 431 and "already has a tag with key env" in err.value.body["errortext"]
    assert [(t["key"], t["value"]) for t in user("listTags")["tag"]] == [("env", "prod")]
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)


def test_tags_with_libcloud_and_on_public_ips(admin, make_account, cloud, env):  # noqa: F811
    """Libcloud's ex_create_tags/ex_delete_tags and the tags it reads back on nodes and volumes; a released
    public IP loses its tags before the next owner gets the address."""
    from libcloud.compute.providers import Provider, get_driver

    account, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    vm = deploy(user, env)
    assert driver.ex_create_tags([vm["id"]], "UserVm", {"role": "db", "tier": "gold"})
    node = next(n for n in driver.list_nodes() if n.id == vm["id"])
    assert node.extra["tags"] == {"role": "db", "tier": "gold"}
    assert driver.ex_delete_tags([vm["id"]], "UserVm", ["tier"])
    node = next(n for n in driver.list_nodes() if n.id == vm["id"])
    assert node.extra["tags"] == {"role": "db"}

    admin("createVlanIpRange", zoneid=env["zone"]["id"], forvirtualnetwork="true", vlan="untagged",
          gateway="198.51.100.1", netmask="255.255.255.0", startip="198.51.100.40", endip="198.51.100.40")
    ip = user.wait_job(user("associateIpAddress", zoneid=env["zone"]["id"])["jobid"])["jobresult"]["ipaddress"]
    user.wait_job(user("createTags", resourceids=ip["id"], resourcetype="PublicIpAddress",
                       **{"tags[0].key": "dns", "tags[0].value": "www"})["jobid"])
    assert tag_map(user("listPublicIpAddresses", id=ip["id"])["publicipaddress"][0]["tags"]) == {"dns": "www"}
    user.wait_job(user("disassociateIpAddress", id=ip["id"])["jobid"])
    _next, newcomer = make_account()
    again = newcomer.wait_job(newcomer("associateIpAddress", zoneid=env["zone"]["id"])["jobid"])
    again = again["jobresult"]["ipaddress"]
    assert again["id"] == ip["id"] and again["tags"] == []  # the same row, none of the old owner's tags
    assert newcomer("listTags").get("count", 0) == 0
    newcomer.wait_job(newcomer("disassociateIpAddress", id=again["id"])["jobid"])
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
