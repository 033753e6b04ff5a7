"""Dynamic roles: a root admin makes a role, gives it ordered allow/deny rules, and an account of that role can
call exactly what its rules allow; roles are copied, rules reordered and changed, and bad requests change
nothing (through the `cs` client and our signed client)."""

from __future__ import annotations

import time

import pytest
from cs import CloudStackApiException

from tests.conftest import unique
from tests.support import ApiError, Client


def _refused(call, *args, **params) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(*args, **params)
    return err.value


def account_with_role(admin, cloud, role_id: str) -> tuple[dict, Client]:
    name = unique("r")
    account = admin("createAccount", username=name, password="pw-" + name, email=f"{name}@example.test",
                    firstname="R", lastname="R", roleid=role_id)["account"]
    keys = admin("registerUserKeys", id=account["user"][0]["id"])["userkeys"]
    return account, Client(cloud.url, keys["apikey"], keys["secretkey"])


def test_a_role_with_rules_decides_what_its_accounts_may_call(cs_admin, admin, cloud, make_account):
    role = cs_admin.createRole(name=unique("readonly"), type="User", description="reads only")["role"]
    assert (role["type"], role["isdefault"], role["ispublic"], role["description"]) == ("User", False, True,
                                                                                          "reads only")
    lists = admin("createRolePermission", roleid=role["id"], rule="list*", permission="allow",
                  description="every list")["rolepermission"]
    deny = admin("createRolePermission", roleid=role["id"], rule="*", permission="deny")["rolepermission"]
    assert (lists["rule"], lists["permission"], lists["rolename"], lists["roleid"]) == ("list*", "allow",
                                                                                        role["name"], role["id"])
    listed = admin("listRolePermissions", roleid=role["id"])["rolepermission"]
    assert [(r["rule"], r["permission"]) for r in listed] == [("list*", "allow"), ("*", "deny")]

    account, reader = account_with_role(admin, cloud, role["id"])
    assert account["roleid"] == role["id"] and account["accounttype"] == 0
    assert reader("listVirtualMachines").get("count", 0) == 0
    refused = _refused(reader, "createSSHKeyPair", name="k")  # a User may, but this role's rules deny it
    assert refused.status == 401 and "not available for user" in refused.body["errortext"]
    apis = {a["name"] for a in reader("listApis")["api"]}
    assert "listVirtualMachines" in apis and "createSSHKeyPair" not in apis and "deployVirtualMachine" not in apis

    # the rule order decides: "*" deny first denies the lists too
    admin("updateRolePermission", roleid=role["id"], ruleorder=f"{deny['id']},{lists['id']}")
    assert [r["rule"] for r in admin("listRolePermissions", roleid=role["id"])["rolepermission"]] == ["*", "list*"]
    time.sleep(2.1)
    assert _refused(reader, "listVirtualMachines").status == 401
    admin("updateRolePermission", roleid=role["id"], ruleid=deny["id"], permission="allow")  # now everything
    time.sleep(2.1)
    assert reader("createSSHKeyPair", name="k")["keypair"]["name"] == "k"
    admin("deleteRolePermission", id=deny["id"])
    admin("updateRolePermission", roleid=role["id"], ruleid=lists["id"], permission="deny")
    time.sleep(2.1)
    assert _refused(reader, "listSSHKeyPairs").status == 401
    assert reader("deleteSSHKeyPair", name="k")["success"] == "true"  # no rule: the User type's default

    # a copy takes the type and the rules
    copy = cs_admin.createRole(name=unique("copy"), roleid=role["id"])["role"]
    assert copy["type"] == "User"
    assert [(r["rule"], r["permission"]) for r in admin("listRolePermissions", roleid=copy["id"])[
        "rolepermission"]] == [("list*", "deny")]
    renamed = admin("updateRole", id=copy["id"], name=copy["name"] + "x", description="renamed", ispublic="false")
    assert (renamed["role"]["name"], renamed["role"]["ispublic"]) == (copy["name"] + "x", False)
    _domain_admin_account, domain_admin = make_account(accounttype=2)
    seen = {r["id"] for r in domain_admin("listRoles")["role"]}
    assert role["id"] in seen and copy["id"] not in seen  # not public: root admins only
    assert copy["id"] in {r["id"] for r in admin("listRoles")["role"]}

    # bad requests change nothing
    roles_before = admin("listRoles")["count"]
    root = admin("listRoles", name="Root Admin")["role"][0]
    user_role = admin("listRoles", name="User", type="User")["role"][0]
    for command, params, status, words in (
            ("createRole", {"name": role["name"], "type": "User"}, 431, "already exists"),
            ("createRole", {"name": unique("x"), "type": "Superuser"}, 431, "type"),
            ("createRole", {"name": unique("x"), "type": "User", "roleid": role["id"]}, 431, "not both"),
            ("createRole", {"name": unique("x")}, 431, "type"),
            ("createRolePermission", {"roleid": role["id"], "rule": "list-vms", "permission": "allow"}, 431,
             "invalid rule"),
            ("createRolePermission", {"roleid": role["id"], "rule": "listHosts", "permission": "maybe"}, 431,
             "permission"),
            ("createRolePermission", {"roleid": role["id"], "rule": "list*", "permission": "allow"}, 431,
             "already has"),
            ("createRolePermission", {"roleid": root["id"], "rule": "listHosts", "permission": "deny"}, 431,
             "Root Admin"),
            ("updateRolePermission", {"roleid": role["id"], "ruleorder": lists["id"], "ruleid": lists["id"]}, 431,
             "either"),
            ("updateRole", {"id": user_role["id"], "name": "Users"}, 431, "Default roles"),
            ("deleteRole", {"id": user_role["id"]}, 431, "Default roles"),
            ("deleteRole", {"id": role["id"]}, 536, "in use")):
        err = _refused(admin, command, **params)
        assert err.status == status and words in err.body["errortext"], (command, params, err.body)
    assert admin("listRoles")["count"] == roles_before
    assert [(r["rule"], r["permission"]) for r in admin("listRolePermissions", roleid=role["id"])[
        "rolepermission"]] == [("list*", "deny")]
    with pytest.raises(CloudStackApiException):
        cs_admin.deleteRolePermission(id="8d6ad0b6-1f0e-4b8a-9d57-000000000000")
    assert _refused(reader, "createRole", name="mine", type="Admin").status == 401

    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
    assert admin("deleteRole", id=role["id"])["success"] == "true"
    assert admin("deleteRole", id=copy["id"])["success"] == "true"
    assert role["id"] not in {r["id"] for r in admin("listRoles")["role"]}
    assert admin("listRolePermissions", roleid=root["id"])["rolepermission"][0]["rule"] == "*"
