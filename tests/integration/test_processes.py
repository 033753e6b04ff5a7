"""Several instances side by side on one machine, and the integration port."""

from __future__ import annotations

import httpx

from tests.support import free_port


def test_second_instance_with_integration_port(cloud, admin):
    port = free_port()
    admin("updateConfiguration", name="integration.api.port", value=str(port))
    try:
        api_port = cloud.start_management(extra=["--no-worker"], name="second")
        second = f"http://127.0.0.1:{api_port}/client/api"
        # Same database: the keys made on the first instance work on the second.
        reply = httpx.get(second, params=admin.params("listAccounts", name="admin"))
        assert reply.status_code == 200 and reply.json()["listaccountsresponse"]["count"] == 1
        integration = f"http://127.0.0.1:{port}/client/api"
        ok = httpx.get(integration, params={"command": "listAccounts", "name": "admin", "response": "json"})
        assert ok.status_code == 200 and ok.json()["listaccountsresponse"]["account"][0]["name"] == "admin"
        xml = httpx.get(integration, params={"command": "listZones"})
        assert xml.headers["content-type"].startswith("text/xml")
        unknown = httpx.get(integration, params={"command": "noSuchCommand", "response": "json"})
        assert unknown.status_code == 432 and unknown.json()["errorresponse"]["errorcode"] == 432
        anywhere = httpx.get(f"http://127.0.0.1:{port}/whatever", params={"command": "listCapabilities",
                                                                          "response": "json"})
        assert anywhere.status_code == 200
        # A user's keys via the integration port, as CloudStack's registerUserKeys docs describe.
        users = ok.json()["listaccountsresponse"]["account"][0]["user"]
        assert httpx.get(integration, params={"command": "getUserKeys", "id": users[0]["id"],
                                              "response": "json"}).status_code == 200
    finally:
        admin("updateConfiguration", name="integration.api.port", value="0")
