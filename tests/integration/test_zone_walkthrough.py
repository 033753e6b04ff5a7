"""A whole Basic zone built with the `cs` command line, step by step as the console's zone wizard does it
(zone, pod, guest IP range, cluster, host, primary storage, secondary storage, enable), then used by a
plain user through Libcloud's CloudStack driver (locations, sizes, images)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import unique
from tests.integration.test_templates import qcow2_bytes


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def cs_cli(cloud, admin_keys):
    env = dict(os.environ, CLOUDSTACK_ENDPOINT=cloud.url, CLOUDSTACK_KEY=admin_keys[0],
               CLOUDSTACK_SECRET=admin_keys[1])

    def run(command: str, **params) -> dict:
        args = [str(Path(sys.executable).parent / "cs"), command] + [f"{k}={v}" for k, v in params.items()]
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"cs {command} failed: {out.stdout} {out.stderr}"
        return json.loads(out.stdout) if out.stdout.strip() else {}

    return run


def test_basic_zone_walkthrough_with_cs_cli_then_libcloud(cs_cli, admin, make_account, cloud, tmp_path):
    name = unique("wz")
    zone = cs_cli("createZone", name=name, networktype="Basic", securitygroupenabled="true", dns1="192.0.2.53",
                  internaldns1="192.0.2.54", guestcidraddress="10.1.0.0/16")["zone"]
    assert zone["allocationstate"] == "Disabled" and zone["networktype"] == "Basic"
    pod = cs_cli("createPod", zoneid=zone["id"], name=f"{name}-pod", gateway="10.10.0.1", netmask="255.255.255.0",
                 startip="10.10.0.10", endip="10.10.0.50")["pod"]
    vlan = cs_cli("createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                  gateway="10.10.0.1", netmask="255.255.255.0", startip="10.10.0.100", endip="10.10.0.199")["vlan"]
    cluster = cs_cli("addCluster", zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-c1",
                     clustertype="CloudManaged", hypervisor="Simulator")["cluster"][0]
    host = cs_cli("addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator",
                  url=f"http://sim/{name}/h1", username="root", password="password")["host"][0]
    pool = cs_cli("createStoragePool", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                  name=f"{name}-pri", url="nfs://192.0.2.10/export/primary", scope="cluster")["storagepool"]
    secondary = tmp_path / "secondary"
    store = cs_cli("addImageStore", provider="Local", url=f"file://{secondary}", zoneid=zone["id"],
                   name=f"{name}-sec")["imagestore"]
    enabled = cs_cli("updateZone", id=zone["id"], allocationstate="Enabled")["zone"]
    assert enabled["allocationstate"] == "Enabled"

    # Every object reads back as it was made.
    assert cs_cli("listZones", id=zone["id"])["zone"][0]["securitygroupsenabled"] is True
    assert cs_cli("listPods", zoneid=zone["id"])["pod"][0]["gateway"] == "10.10.0.1"
    ranges = cs_cli("listVlanIpRanges", zoneid=zone["id"])["vlaniprange"]
    assert ranges[0]["id"] == vlan["id"] and ranges[0]["startip"] == "10.10.0.100"
    assert cs_cli("listClusters", zoneid=zone["id"])["cluster"][0]["hypervisortype"] == "Simulator"
    listed_host = cs_cli("listHosts", zoneid=zone["id"], type="Routing")["host"][0]
    assert listed_host["id"] == host["id"] and listed_host["state"] == "Up"
    assert listed_host["resourcestate"] == "Enabled" and listed_host["cpunumber"] >= 1
    listed_pool = cs_cli("listStoragePools", zoneid=zone["id"])["storagepool"][0]
    assert listed_pool["id"] == pool["id"] and listed_pool["state"] == "Up" and listed_pool["type"] == "NetworkFilesystem"
    assert cs_cli("listImageStores", zoneid=zone["id"])["imagestore"][0]["id"] == store["id"]
    capacity = {c["type"] for c in cs_cli("listCapacity", zoneid=zone["id"])["capacity"]}
    assert {0, 1} <= capacity

    # A template served from this machine lands in the zone's secondary storage.
    web = tmp_path / "web"
    web.mkdir()
    (web / "tiny.qcow2").write_bytes(qcow2_bytes(1 << 20))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(web)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
        time.sleep(2.1)
        template = cs_cli("registerTemplate", name=f"{name}-tpl", displaytext="tiny", format="QCOW2",
                          hypervisor="Simulator", zoneid=zone["id"], ispublic="true", isfeatured="true",
                          ostypeid=admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"],
                          url=f"http://127.0.0.1:{server.server_address[1]}/tiny.qcow2")["template"][0]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = cs_cli("listTemplates", templatefilter="self", id=template["id"])["template"][0]
            if row["isready"]:
                break
            time.sleep(0.5)
        assert row["isready"] and row["status"] == "Download Complete"
        assert cs_cli("listTemplates", templatefilter="featured", id=template["id"])["template"][0]["isready"]
    finally:
        server.shutdown()

    # A plain user sees the zone, the offerings and the template through Libcloud.
    from libcloud.compute.providers import Provider, get_driver

    _, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    assert name in [loc.name for loc in driver.list_locations()]
    assert "m1.small" in [size.name for size in driver.list_sizes()]
    location = next(loc for loc in driver.list_locations() if loc.name == name)
    assert f"{name}-tpl" in [image.name for image in driver.list_images(location=location)]
