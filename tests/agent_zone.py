"""A Basic zone whose one KVM host is a real ``cloudstack-agent`` process running the simulator driver
(slow operations on demand), with a cluster pool, a Local image store and a ready template: the setup of
the tests of faults and waits in the middle of agent calls."""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from functools import partial
from pathlib import Path

from tests.integration.test_agent_link import Agents
from tests.integration.test_templates import qcow2_bytes, wait_template
from tests.support import wait_until


class TemplateServer:
    """A local HTTP server with one tiny qcow2 template (``url``)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tiny.qcow2").write_bytes(qcow2_bytes(1 << 20))
        self.web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(
            http.server.SimpleHTTPRequestHandler, directory=str(folder)))
        self.web.RequestHandlerClass.log_message = lambda *a: None
        threading.Thread(target=self.web.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.web.server_address[1]}/tiny.qcow2"

    def close(self) -> None:
        self.web.shutdown()


def agent_zone(admin, agents: Agents, folder: Path, template_url: str, *, name: str, subnet: int,
               delays: str = "start:6", security_groups: bool = False, public_template: bool = False) -> dict:
    """Build the zone; ``subnet`` picks 10.<subnet>.0.0/24 for the pod and guest range. The result names the
    agent's ``guid`` and process (``agent``) and its ``private_ip``, for tests that restart it."""
    net = f"10.{subnet}.0"
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    zone = admin("createZone", name=name, networktype="Basic", dns1="192.0.2.53", internaldns1="192.0.2.54",
                 **({"securitygroupenabled": "true"} if security_groups else {}))["zone"]
    pod = admin("createPod", zoneid=zone["id"], name=f"{name}-p", gateway=f"{net}.1", netmask="255.255.255.0",
                startip=f"{net}.10", endip=f"{net}.20")["pod"]
    admin("createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false", gateway=f"{net}.1",
          netmask="255.255.255.0", startip=f"{net}.100", endip=f"{net}.120")
    cluster = admin("addCluster", zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-kvm",
                    clustertype="CloudManaged", hypervisor="KVM")["cluster"][0]
    guid, private_ip = str(uuid.uuid4()), f"127.0.{subnet % 250}.10"
    agent = agents.start(guid, driver="simulator", private_ip=private_ip, zone=zone["id"], cluster=cluster["id"],
                         extra=[f"simulator.delays={delays}"] if delays else [])
    host = wait_until(lambda: admin("listHosts", zoneid=zone["id"]).get("host", [None])[0], timeout=60,
                      what="agent registration")
    wait_until(lambda: admin("listHosts", id=host["id"])["host"][0]["state"] == "Up", timeout=30, what="host Up")
    admin("createStoragePool", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=f"{name}-pri",
          url=f"nfs://127.0.0.1/export/{name}", scope="cluster", capacitybytes=str(1 << 40))
    admin("addImageStore", provider="Local", url=f"file://{folder / 'sec'}", zoneid=zone["id"], name=f"{name}-s")
    admin("updateZone", id=zone["id"], allocationstate="Enabled")
    time.sleep(2.1)  # settings are cached for 2 s
    ostype = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
    template = admin("registerTemplate", name=f"{name}-t", displaytext="t", format="QCOW2", hypervisor="KVM",
                     zoneid=zone["id"], ostypeid=ostype, url=template_url,
                     **({"ispublic": "true"} if public_template else {}))["template"][0]
    assert wait_template(admin, template["id"])["isready"]
    offering = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    return {"zone": zone, "pod": pod, "cluster": cluster, "host": host, "template": template, "offering": offering,
            "guid": guid, "agent": agent, "private_ip": private_ip}
