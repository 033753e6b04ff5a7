"""Faults in the middle of a VM job on an agent-driven host (MariaDB + Redis, a real agent process).

The agent runs the simulator driver with a slow StartVm; it is killed while the deploy waits for it. The
job must end (failed, with the reason), the VM must be left in Error, and the host's capacity and the
guest address must be released: nothing half-made."""

from __future__ import annotations

import signal
import time
import uuid

from tests.conftest import unique
from tests.integration.test_agent_link import Agents, wait_for
from tests.integration.test_templates import wait_template


def test_agent_killed_during_a_start_fails_the_deploy_cleanly(admin, cloud, web_root=None):
    import http.server
    import tempfile
    import threading
    from functools import partial
    from pathlib import Path

    from tests.integration.test_templates import qcow2_bytes

    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    admin("updateConfiguration", name="ping.interval", value="2")
    admin("updateConfiguration", name="ping.timeout", value="1.5")
    folder = Path(tempfile.mkdtemp(prefix="cs-fault-"))
    (folder / "tiny.qcow2").write_bytes(qcow2_bytes(1 << 20))
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler,
                                                                    directory=str(folder)))
    web.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=web.serve_forever, daemon=True).start()
    agents = Agents(cloud)
    try:
        name = unique("fz")
        zone = admin("createZone", name=name, networktype="Basic", dns1="192.0.2.53",
                     internaldns1="192.0.2.54")["zone"]
        pod = admin("createPod", zoneid=zone["id"], name=f"{name}-p", gateway="10.41.0.1", netmask="255.255.255.0",
                    startip="10.41.0.10", endip="10.41.0.20")["pod"]
        admin("createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
              gateway="10.41.0.1", netmask="255.255.255.0", startip="10.41.0.100", endip="10.41.0.110")
        cluster = admin("addCluster", zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-kvm",
                        clustertype="CloudManaged", hypervisor="KVM")["cluster"][0]
        guid = str(uuid.uuid4())
        agent = agents.start(guid, driver="simulator", private_ip="127.0.0.9", zone=zone["id"], cluster=cluster["id"],
                             extra=["simulator.delays=start:120"])
        host = wait_for(lambda: admin("listHosts", zoneid=zone["id"]).get("host", [None])[0], timeout=60,
                        what="agent registration")
        wait_for(lambda: admin("listHosts", id=host["id"])["host"][0]["state"] == "Up", timeout=30, what="host Up")
        admin("createStoragePool", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=f"{name}-pri",
              url=f"nfs://192.0.2.10/export/{name}", scope="cluster", capacitybytes=str(1 << 40))
        admin("addImageStore", provider="Local", url=f"file://{folder / 'sec'}", zoneid=zone["id"], name=f"{name}-s")
        admin("updateZone", id=zone["id"], allocationstate="Enabled")
        time.sleep(2.1)
        ostype = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
        template = admin("registerTemplate", name=f"{name}-t", displaytext="t", format="QCOW2", hypervisor="KVM",
                         zoneid=zone["id"], ostypeid=ostype,
                         url=f"http://127.0.0.1:{web.server_address[1]}/tiny.qcow2")["template"][0]
        assert wait_template(admin, template["id"])["isready"]
        offering = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]

        started = admin("deployVirtualMachine", zoneid=zone["id"], templateid=template["id"],
                        serviceofferingid=offering["id"], name="victim")
        vm_id = started["id"]
        wait_for(lambda: admin("listVirtualMachines", id=vm_id)["virtualmachine"][0]["state"] == "Starting",
                 timeout=60, what="VM Starting")
        # Capacity is reserved on the host, and the StartVm is now sleeping in the agent.
        def reserved():
            job = admin("queryAsyncJobResult", jobid=started["jobid"])
            assert job["jobstatus"] == 0, f"the deploy ended before the agent was killed: {job}"
            return admin("listHosts", id=host["id"])["host"][0]["cpuallocated"] not in ("0%", "0.00%")

        wait_for(reserved, timeout=30, what="capacity reserved on the host")
        time.sleep(1.0)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        killed = time.monotonic()

        result = wait_for(lambda: (r := admin("queryAsyncJobResult", jobid=started["jobid"]))["jobstatus"] != 0
                          and r, timeout=90, what="the deploy job to end")
        assert result["jobstatus"] == 2, result
        assert "kvm" in result["jobresult"]["errortext"].lower() or "host" in result["jobresult"]["errortext"].lower()
        assert time.monotonic() - killed < 60  # it noticed the host going away, not the 120 s answer timeout
        vm = admin("listVirtualMachines", id=vm_id)["virtualmachine"][0]
        assert vm["state"] == "Error"
        listed = admin("listHosts", id=host["id"])["host"][0]
        assert listed["state"] in ("Alert", "Down") and listed["cpuallocated"] in ("0%", "0.00%")
        direct = [c for c in admin("listCapacity", zoneid=zone["id"])["capacity"] if c["type"] == 8]
        assert direct and direct[0]["capacityused"] == 0  # the guest address went back to the pool
    finally:
        agents.close()
        web.shutdown()
        admin("resetConfiguration", name="ping.interval")
        admin("resetConfiguration", name="ping.timeout")
