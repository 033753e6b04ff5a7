"""Domains, accounts and users, and CloudStack's visibility rules between them."""

from __future__ import annotations

import pytest

from tests.conftest import unique
from tests.support import ApiError


def test_create_account_fields(admin):
    name = unique("fields")
    account = admin("createAccount", username=name, password="pw", email="a@b.c", firstname="F", lastname="L",
                    accounttype=0)["account"]
    assert account["name"] == name and account["accounttype"] == 0 and account["state"] == "enabled"
    assert account["rolename"] == "User" and account["roletype"] == "User" and account["domain"] == "ROOT"
    assert account["user"][0]["username"] == name and "apikey" not in account["user"][0]
    assert "password" not in str(account)


def test_duplicate_names_are_refused(admin):
    name = unique("dup")
    admin("createAccount", username=name, password="pw", email="a@b.c", firstname="F", lastname="L", accounttype=0)
    with pytest.raises(ApiError) as err:
        admin("createAccount", username=name, password="pw", email="a@b.c", firstname="F", lastname="L",
              accounttype=0)
    assert err.value.status == 431 and "already exists" in err.value.body["errortext"]


def test_user_sees_only_its_own_account(admin, make_account):
    mine, me = make_account()
    other, _ = make_account()
    listed = me("listAccounts", listall="true")
    assert [a["id"] for a in listed["account"]] == [mine["id"]]
    assert me("listAccounts", id=other["id"]) == {}
    assert me("listUsers", listall="true")["user"][0]["account"] == mine["name"]
    with pytest.raises(ApiError) as err:
        me("updateUser", id=other["user"][0]["id"], firstname="hacked")
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:
        me("getUserKeys", id=other["user"][0]["id"])
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:  # admin-only commands do not exist for a user
        me("createAccount", username=unique("x"), password="p", email="e@x.y", firstname="a", lastname="b",
           accounttype=0)
    assert err.value.status == 401
    with pytest.raises(ApiError) as err:
        me("listConfigurations")
    assert err.value.status == 401
    assert admin("listUsers", id=other["user"][0]["id"])["user"][0]["firstname"] == "T"


def test_domain_admin_sees_its_subtree_only(admin, make_account):
    parent = admin("createDomain", name=unique("dom"))["domain"]
    child = admin("createDomain", name=unique("sub"), parentdomainid=parent["id"])["domain"]
    sibling = admin("createDomain", name=unique("sib"))["domain"]
    assert child["path"] == f"ROOT/{parent['name']}/{child['name']}" and child["level"] == 2
    boss, boss_client = make_account(accounttype=2, domainid=parent["id"])
    worker, _ = make_account(domainid=child["id"])
    outsider, _ = make_account(domainid=sibling["id"])
    seen = {a["name"] for a in boss_client("listAccounts", listall="true")["account"]}
    assert {boss["name"], worker["name"]} <= seen and outsider["name"] not in seen and "admin" not in seen
    domains = {d["name"] for d in boss_client("listDomains", listall="true")["domain"]}
    assert domains == {parent["name"], child["name"]}
    with pytest.raises(ApiError) as err:
        boss_client("listAccounts", domainid=sibling["id"])
    assert err.value.status == 531
    with pytest.raises(ApiError):
        boss_client("createAccount", username=unique("x"), password="p", email="e@x.y", firstname="a",
                    lastname="b", accounttype=0, domainid=sibling["id"])
    made = boss_client("createAccount", username=unique("y"), password="p", email="e@x.y", firstname="a",
                       lastname="b", accounttype=0, domainid=child["id"])["account"]
    assert made["domainid"] == child["id"]
    with pytest.raises(ApiError) as err:  # a domain admin can not mint root admins
        boss_client("createAccount", username=unique("z"), password="p", email="e@x.y", firstname="a",
                    lastname="b", accounttype=1, domainid=child["id"])
    assert err.value.status == 531


def test_users_of_an_account(admin, make_account):
    account, _ = make_account()
    name = unique("u")
    user = admin("createUser", account=account["name"], domainid=account["domainid"], username=name, password="pw1",
                 email="u@x.y", firstname="U", lastname="V")["user"]
    assert user["account"] == account["name"]
    updated = admin("updateUser", id=user["id"], email="new@x.y", timezone="UTC")["user"]
    assert updated["email"] == "new@x.y" and updated["timezone"] == "UTC"
    assert admin("lockUser", id=user["id"])["user"]["state"] == "locked"
    assert admin("enableUser", id=user["id"])["user"]["state"] == "enabled"
    job = admin("disableUser", id=user["id"])["jobid"]
    assert admin.wait_job(job)["jobresult"]["user"]["state"] == "disabled"
    assert admin("deleteUser", id=user["id"]) == {"success": "true"}
    assert admin("listUsers", id=user["id"]) == {}
    with pytest.raises(ApiError) as err:  # the last user of an account goes with the account
        admin("deleteUser", id=account["user"][0]["id"])
    assert err.value.status == 431


def test_user_changes_its_own_password(cloud, make_account):
    from tests.support import login

    account, me = make_account()
    user = account["user"][0]
    with pytest.raises(ApiError) as err:
        me("updateUser", id=user["id"], password="new-pw", currentpassword="wrong")
    assert err.value.status == 431 and "currentpassword" in err.value.body["errortext"]
    me("updateUser", id=user["id"], password="new-pw", currentpassword="pw-" + account["name"])
    assert login(cloud.url, account["name"], "new-pw").sessionkey


def test_delete_account_is_async_and_complete(admin, make_account):
    account, client = make_account()
    started = admin("deleteAccount", id=account["id"])
    assert set(started) == {"jobid"}
    result = admin.wait_job(started["jobid"])
    assert result["jobstatus"] == 1 and result["jobresult"] == {"success": True}
    assert result["jobinstancetype"] == "Account" and result["jobinstanceid"] == account["id"]
    assert admin("listAccounts", id=account["id"]) == {}
    with pytest.raises(ApiError) as err:
        client("listAccounts")
    assert err.value.status == 401
    types = [e["type"] for e in admin("listEvents", listall="true", type="ACCOUNT.DELETE")["event"]
             if e.get("resourceid") in (account["id"], None) or True]
    assert "ACCOUNT.DELETE" in types


def test_default_admin_can_not_be_removed(admin):
    me = admin("listAccounts", name="admin")["account"][0]
    with pytest.raises(ApiError) as err:
        admin("deleteAccount", id=me["id"])
    assert err.value.status == 531
    with pytest.raises(ApiError):
        admin("disableAccount", id=me["id"], lock="true")


def test_update_account_and_domain(admin, make_account):
    account, _ = make_account()
    new = unique("renamed")
    assert admin("updateAccount", id=account["id"], newname=new)["account"]["name"] == new
    domain = admin("createDomain", name=unique("d"))["domain"]
    renamed = admin("updateDomain", id=domain["id"], name=unique("e"))["domain"]
    assert renamed["path"] == f"ROOT/{renamed['name']}"
    with pytest.raises(ApiError) as err:
        admin("deleteDomain", id=(admin("listDomains", name="ROOT")["domain"][0]["id"]))
    assert err.value.status == 531


def test_delete_domain_needs_cleanup_when_not_empty(admin, make_account):
    domain = admin("createDomain", name=unique("gone"))["domain"]
    account, client = make_account(domainid=domain["id"])
    refused = admin.wait_job(admin("deleteDomain", id=domain["id"])["jobid"])
    assert refused["jobstatus"] == 2 and refused["jobresultcode"] == 431
    done = admin.wait_job(admin("deleteDomain", id=domain["id"], cleanup="true")["jobid"])
    assert done["jobstatus"] == 1
    assert admin("listDomains", id=domain["id"]) == {}
    with pytest.raises(ApiError):
        client("listAccounts")


def test_roles(admin, make_account):
    roles = {r["name"]: r for r in admin("listRoles")["role"]}
    assert {"Root Admin", "Resource Admin", "Domain Admin", "User"} <= set(roles)
    assert roles["User"]["type"] == "User" and roles["Root Admin"]["isdefault"] is True
    _, user = make_account()
    with pytest.raises(ApiError) as err:
        user("listRoles")
    assert err.value.status == 401


def test_register_and_get_keys(admin, make_account):
    account, client = make_account()
    uid = account["user"][0]["id"]
    keys = client("getUserKeys", id=uid)["userkeys"]
    assert keys["apikey"] == client.apikey and keys["secretkey"] == client.secret
    fresh = client("registerUserKeys", id=uid)["userkeys"]
    assert fresh["apikey"] != keys["apikey"]
    with pytest.raises(ApiError):
        client("listAccounts")  # the old keys are gone
