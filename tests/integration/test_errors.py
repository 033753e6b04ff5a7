"""Bad input at the door: CloudStack's envelopes and codes, never a 500 or a stack trace."""

from __future__ import annotations

import httpx
import pytest

from tests.support import ApiError


def test_missing_parameter_names_it(admin):
    with pytest.raises(ApiError) as err:
        admin("createAccount", username="x", password="y", email="e@x.y", firstname="f")
    assert err.value.status == 431 and err.value.body["cserrorcode"] == 4350
    assert err.value.body["errortext"] == "Unable to execute API command createaccount due to missing parameter lastname"
    assert err.value.body["uuidList"] == []


def test_bad_values_name_the_parameter(admin):
    cases = [("listAccounts", {"id": "not-a-uuid"}, "id"),
             ("listAccounts", {"id": "1c0e7f5a-0000-4000-8000-000000000000"}, "id"),
             ("listAccounts", {"accounttype": "abc"}, "accounttype"),
             ("listAccounts", {"accounttype": "99999999999999999999"}, "accounttype"),
             ("listAccounts", {"page": "0", "pagesize": "10"}, "page"),
             ("listRoles", {"type": "Emperor"}, "type"),
             ("createDomain", {"name": "x" * 300}, "name"),
             ("listEvents", {"startdate": "yesterday"}, "startdate"),
             ("updateUser", {"id": "00000000-0000-4000-8000-000000000000"}, "id")]
    for command, params, name in cases:
        with pytest.raises(ApiError) as err:
            admin(command, **params)
        assert err.value.status == 431, (command, params, err.value.body)
        assert name in err.value.body["errortext"], (command, params, err.value.body)


def test_paging_rules(admin):
    with pytest.raises(ApiError) as err:
        admin("listAccounts", pagesize="10")
    assert err.value.status == 431 and '"page"' in err.value.body["errortext"]
    with pytest.raises(ApiError) as err:
        admin("listAccounts", page="1", pagesize="100000")
    assert err.value.status == 431
    assert admin("listAccounts", pagesize="-1")["count"] >= 1
    assert admin("listAccounts", page="99", pagesize="1", listall="true") in ({}, {"count": admin("listAccounts",
                                                                                                  listall="true")["count"]})


def test_control_characters_are_refused(admin):
    with pytest.raises(ApiError) as err:
        admin("listAccounts", keyword="a\x01b")
    assert err.value.status == 431 and "keyword" in err.value.body["errortext"]


def test_malformed_map_parameter_is_430(admin):
    with pytest.raises(ApiError) as err:
        admin("createAccount", username="m", password="p", email="e@x.y", firstname="f", lastname="l",
              **{"accountdetails[x].k": "v"})
    assert err.value.status == 430


def test_oversized_request_is_refused(cloud, admin):
    reply = httpx.post(cloud.url, data=admin.params("listAccounts", keyword="x" * 2_000_000))
    assert reply.status_code == 431 and "too large" in reply.text
    import http.client
    from urllib.parse import urlparse

    url = urlparse(cloud.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("GET", url.path + "?command=listAccounts&response=json&keyword=" + "y" * 1_100_000)
    reply = conn.getresponse()
    text = reply.read().decode()
    assert reply.status in (400, 431) and "Traceback" not in text
    if reply.status == 431:
        assert "too large" in text


def test_malformed_encoding_is_refused(cloud):
    reply = httpx.get(cloud.url + "?command=listAccounts&response=json&keyword=%ff%fe")
    assert reply.status_code == 431 and "UTF-8" in reply.json()["errorresponse"]["errortext"]


def test_parameter_names_are_case_insensitive(admin):
    assert admin("listAccounts", NAME="admin")["account"][0]["name"] == "admin"
    assert admin("listUsers", UserName="admin")["count"] == 1


def test_unknown_parameters_are_ignored(admin):
    assert admin("listAccounts", name="admin", frobnicate="1")["count"] == 1


def test_map_parameters_are_accepted(admin):
    from tests.conftest import unique

    name = unique("map")
    account = admin("createAccount", username=name, password="p", email="e@x.y", firstname="f", lastname="l",
                    accounttype=0, **{"accountdetails[0].key": "k", "accountdetails[0].value": "v"})["account"]
    assert account["name"] == name


def test_no_stack_traces_anywhere(cloud, admin):
    for params in ({"command": "listAccounts"}, {"command": ""}, {}, {"command": "listAccounts", "response": "json",
                                                                       "apiKey": admin.apikey, "signature": "%%%"}):
        reply = httpx.get(cloud.url, params=params)
        assert reply.status_code in (401, 431, 432), (params, reply.status_code)
        assert "Traceback" not in reply.text and "File \"" not in reply.text
