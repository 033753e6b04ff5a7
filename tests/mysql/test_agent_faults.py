"""Faults in the middle of a VM job on an agent-driven host (MariaDB + Redis, a real agent process).

The agent runs the simulator driver with a slow StartVm; it is killed while the deploy waits for it. The
job must end (failed, with the reason), the VM must be left in Error, and the host's capacity and the
guest address must be released: nothing half-made."""

from __future__ import annotations

import signal
import time

from tests.agent_zone import TemplateServer, agent_zone
from tests.conftest import unique
from tests.integration.test_agent_link import Agents, wait_for


def test_agent_killed_during_a_start_fails_the_deploy_cleanly(admin, cloud, tmp_path):
    admin("updateConfiguration", name="ping.interval", value="2")
    admin("updateConfiguration", name="ping.timeout", value="1.5")
    web = TemplateServer(tmp_path / "web")
    agents = Agents(cloud)
    try:
        env = agent_zone(admin, agents, tmp_path, web.url, name=unique("fz"), subnet=41, delays="start:120")
        zone, host, template, offering = env["zone"], env["host"], env["template"], env["offering"]
        agent = agents.procs[-1]

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
        web.close()
        admin("resetConfiguration", name="ping.interval")
        admin("resetConfiguration", name="ping.timeout")


def test_agent_killed_during_a_volume_copy_leaves_the_volume_in_order(admin, cloud, tmp_path):
    """A volume made from a snapshot is being copied onto primary storage (attachVolume to a running VM) when
    the agent is killed: the job fails with the reason soon after the host leaves Up, the volume is Allocated
    again with no pool, the pool's space is given back; once the agent is back the same attach works."""
    admin("updateConfiguration", name="ping.interval", value="2")
    admin("updateConfiguration", name="ping.timeout", value="1.5")
    web = TemplateServer(tmp_path / "web")
    agents = Agents(cloud)
    try:
        env = agent_zone(admin, agents, tmp_path, web.url, name=unique("fc"), subnet=42, delays="copy_volume:120")
        zone, host = env["zone"], env["host"]
        deployed = admin.wait_job(admin("deployVirtualMachine", zoneid=zone["id"], templateid=env["template"]["id"],
                                        serviceofferingid=env["offering"]["id"], name="copier")["jobid"])
        vm = deployed["jobresult"]["virtualmachine"]
        admin.wait_job(admin("stopVirtualMachine", id=vm["id"])["jobid"])
        root = admin("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
        snapshot = admin.wait_job(admin("createSnapshot", volumeid=root["id"])["jobid"])["jobresult"]["snapshot"]
        assert snapshot["state"] == "BackedUp"
        assert admin.wait_job(admin("startVirtualMachine", id=vm["id"])["jobid"])["jobstatus"] == 1
        copy = admin.wait_job(admin("createVolume", name="fromsnap", snapshotid=snapshot["id"])["jobid"])
        copy = copy["jobresult"]["volume"]

        def allocated() -> int:
            return sum(p["disksizeallocated"] for p in admin("listStoragePools", zoneid=zone["id"])["storagepool"])

        before = allocated()
        started = admin("attachVolume", id=copy["id"], virtualmachineid=vm["id"])

        def copying() -> bool:
            job = admin("queryAsyncJobResult", jobid=started["jobid"])
            assert job["jobstatus"] == 0, f"the attach ended before the agent was killed: {job}"
            return allocated() > before

        wait_for(copying, timeout=30, what="the copy under way (pool space reserved)")
        time.sleep(1.0)
        env["agent"].send_signal(signal.SIGKILL)
        env["agent"].wait()
        killed = time.monotonic()
        result = wait_for(lambda: (r := admin("queryAsyncJobResult", jobid=started["jobid"]))["jobstatus"] != 0
                          and r, timeout=90, what="the attach job to end")
        assert result["jobstatus"] == 2 and "host" in result["jobresult"]["errortext"].lower(), result
        assert time.monotonic() - killed < 60
        volume = admin("listVolumes", id=copy["id"])["volume"][0]
        assert volume["state"] == "Allocated" and "storageid" not in volume and "virtualmachineid" not in volume
        assert allocated() == before

        agents.start(env["guid"], driver="simulator", private_ip=env["private_ip"], zone=zone["id"],
                     cluster=env["cluster"]["id"])
        wait_for(lambda: admin("listHosts", id=host["id"])["host"][0]["state"] == "Up", timeout=60,
                 what="the agent back")
        again = admin.wait_job(admin("attachVolume", id=copy["id"], virtualmachineid=vm["id"])["jobid"])
        assert again["jobstatus"] == 1 and again["jobresult"]["volume"]["state"] == "Ready"
    finally:
        agents.close()
        web.close()
        admin("resetConfiguration", name="ping.interval")
        admin("resetConfiguration", name="ping.timeout")
