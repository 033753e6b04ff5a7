"""Authentication: API-key signatures v2/v3 through the real `cs` client, sessions, and refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from cs import CloudStack, CloudStackApiException

from management.api.native.signing import sign
from tests.support import login


def test_cs_client_signs_v3_and_v2(cloud, admin_keys):
    v3 = CloudStack(endpoint=cloud.url, key=admin_keys[0], secret=admin_keys[1])
    assert any(a["name"] == "admin" for a in v3.listAccounts()["account"])
    v2 = CloudStack(endpoint=cloud.url, key=admin_keys[0], secret=admin_keys[1], expiration=-1)
    assert v2.listAccounts(name="admin")["count"] == 1
    post = CloudStack(endpoint=cloud.url, key=admin_keys[0], secret=admin_keys[1], method="post")
    assert post.listUsers(username="admin")["user"][0]["username"] == "admin"


def test_cs_cli(cloud, admin_keys):
    env = dict(os.environ, CLOUDSTACK_ENDPOINT=cloud.url, CLOUDSTACK_KEY=admin_keys[0],
               CLOUDSTACK_SECRET=admin_keys[1])
    out = subprocess.run([str(Path(sys.executable).parent / "cs"), "listAccounts", "name=admin"], env=env,
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["account"][0]["name"] == "admin"
    bad = subprocess.run([str(Path(sys.executable).parent / "cs"), "noSuchCommand"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "401" in bad.stdout + bad.stderr


def _signed(admin_keys, **params):
    p = {"command": "listAccounts", "response": "json", "apiKey": admin_keys[0], **params}
    p["signature"] = sign(p, admin_keys[1])
    return p


def test_wrong_signature_is_401(cloud, admin_keys):
    p = _signed(admin_keys)
    p["signature"] = sign({**p, "command": "listUsers"}, admin_keys[1])
    reply = httpx.get(cloud.url, params=p)
    assert reply.status_code == 401
    body = reply.json()["listaccountsresponse"]
    assert body["errorcode"] == 401 and "signature" in body["errortext"]


def test_wrong_secret_and_unknown_key_are_401(cloud, admin_keys):
    p = {"command": "listAccounts", "response": "json", "apiKey": admin_keys[0]}
    p["signature"] = sign(p, "not-the-secret")
    assert httpx.get(cloud.url, params=p).status_code == 401
    p = {"command": "listAccounts", "response": "json", "apiKey": "nobody"}
    p["signature"] = sign(p, admin_keys[1])
    assert httpx.get(cloud.url, params=p).status_code == 401


def test_missing_credentials_is_401(cloud):
    reply = httpx.get(cloud.url, params={"command": "listAccounts", "response": "json"})
    assert reply.status_code == 401


def test_expired_v3_request_is_401(cloud, admin_keys):
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    reply = httpx.get(cloud.url, params=_signed(admin_keys, signatureVersion="3", expires=past))
    assert reply.status_code == 401
    future = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert httpx.get(cloud.url, params=_signed(admin_keys, signatureVersion="3", expires=future)).status_code == 200
    assert httpx.get(cloud.url, params=_signed(admin_keys, signatureVersion="3")).status_code == 401


def test_expired_request_through_cs_client(cloud, admin_keys):
    client = CloudStack(endpoint=cloud.url, key=admin_keys[0], secret=admin_keys[1], expiration=timedelta(0))
    with pytest.raises(CloudStackApiException) as err:
        client.listAccounts()
    assert err.value.error["errorcode"] == 401


def test_tilde_signed_by_python_quote_is_accepted(cloud, admin_keys):
    # cs leaves '~' unescaped where Java escapes it; we accept both spellings of the same secret.
    client = CloudStack(endpoint=cloud.url, key=admin_keys[0], secret=admin_keys[1])
    assert client.listAccounts(keyword="a~b") == {}


def test_unknown_command_is_401(cloud, admin_keys):
    p = {"command": "noSuchCommand", "response": "json", "apiKey": admin_keys[0]}
    p["signature"] = sign(p, admin_keys[1])
    reply = httpx.get(cloud.url, params=p)
    assert reply.status_code == 401
    assert "noSuchCommand" in reply.json()["nosuchcommandresponse"]["errortext"]


def test_session_login_cookies_and_logout(cloud):
    session = login(cloud.url, "admin", "password")
    assert {"JSESSIONID", "sessionkey"} <= set(session.cookies.keys())
    ok = session.get(cloud.url, params={"command": "listAccounts", "response": "json",
                                        "sessionkey": session.sessionkey})
    assert ok.status_code == 200 and ok.json()["listaccountsresponse"]["count"] >= 1
    # CookieAndParameter (the default): the key must come as a parameter too, and match
    assert session.get(cloud.url, params={"command": "listAccounts", "response": "json"}).status_code == 401
    assert session.get(cloud.url, params={"command": "listAccounts", "response": "json",
                                          "sessionkey": "forged"}).status_code == 401
    out = session.get(cloud.url, params={"command": "logout", "response": "json", "sessionkey": session.sessionkey})
    assert out.json() == {"logoutresponse": {"description": "success"}}
    again = httpx.get(cloud.url, params={"command": "listAccounts", "response": "json", "sessionkey": session.sessionkey},
                      cookies={"JSESSIONID": "x", "sessionkey": session.sessionkey})
    assert again.status_code == 401


def test_login_response_fields(cloud):
    reply = httpx.post(cloud.url, data={"command": "login", "username": "admin", "password": "password",
                                        "response": "json"})
    body = reply.json()["loginresponse"]
    for key in ("username", "userid", "domainid", "timeout", "account", "firstname", "lastname", "type",
                "sessionkey", "registered"):
        assert key in body, key
    assert body["type"] == "1" and body["account"] == "admin"
    assert "HttpOnly" in reply.headers.get("set-cookie", "")


def test_login_refusals(cloud):
    bad = httpx.post(cloud.url, data={"command": "login", "username": "admin", "password": "wrong",
                                      "response": "json"})
    assert bad.status_code == 531 and bad.json()["loginresponse"]["errorcode"] == 531
    get = httpx.get(cloud.url, params={"command": "login", "username": "admin", "password": "password",
                                       "response": "json"})
    assert get.status_code == 405
    missing = httpx.post(cloud.url, data={"command": "login", "username": "admin", "response": "json"})
    assert missing.status_code == 431 and "password" in missing.json()["loginresponse"]["errortext"]
    elsewhere = httpx.post(cloud.url, data={"command": "login", "username": "admin", "password": "password",
                                            "domain": "/nowhere/", "response": "json"})
    assert elsewhere.status_code == 431


def test_disabled_and_locked_accounts_are_401(admin, make_account):
    account, client = make_account()
    assert client("listAccounts")["count"] == 1
    job = admin("disableAccount", id=account["id"], lock="false")["jobid"]
    assert admin.wait_job(job)["jobresult"]["account"]["state"] == "disabled"
    with pytest.raises(Exception) as err:
        client("listAccounts")
    assert err.value.status == 401
    admin("enableAccount", id=account["id"])
    assert client("listAccounts")["count"] == 1
    admin("lockAccount", account=account["name"], domainid=account["domainid"])
    with pytest.raises(Exception) as err:
        client("listAccounts")
    assert err.value.status == 401


def test_xml_is_the_default(cloud, admin_keys):
    import xml.etree.ElementTree as ET

    p = {"command": "listAccounts", "apiKey": admin_keys[0], "name": "admin"}
    p["signature"] = sign(p, admin_keys[1])
    reply = httpx.get(cloud.url + "?" + urlencode(p))
    assert reply.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(reply.content)
    assert root.tag == "listaccountsresponse" and root.get("cloud-stack-version")
    assert root.findtext("count") == "1" and root.find("account").findtext("name") == "admin"
    assert root.find("account").find("user").findtext("username") == "admin"
    p = {"command": "listAccounts", "apiKey": admin_keys[0], "id": "bogus"}
    p["signature"] = sign(p, admin_keys[1])
    error = ET.fromstring(httpx.get(cloud.url, params=p).content)
    assert error.findtext("errorcode") == "431" and "id" in error.findtext("errortext")
