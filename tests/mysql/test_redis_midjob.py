"""Redis stops while deploys are in the middle of their agent calls, then comes back (MariaDB, a private
Redis, a real agent process with a slow StartVm).

Every job must end (done, or failed with a reason), no VM may stay Starting, and nothing may be left
half-made: a VM that ended in Error is not left running on the host (the agent's report of it is acted
on), and the host's allocated capacity matches the VMs that are Running."""

from __future__ import annotations

import subprocess
import time

import pymysql

from tests.agent_zone import TemplateServer, agent_zone
from tests.integration.test_agent_link import Agents
from tests.support import MYSQL, Client, free_port, keys_for, make_cloud, wait_until

DEPLOYS = 3


def _redis(port: int) -> None:
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                    "--appendonly", "no", "--dir", "/tmp", "--logfile", f"/tmp/cs-redis-{port}.log"], check=True)
    wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                      text=True).stdout.strip() == "PONG", timeout=20, what="redis up")


def _redis_down(port: int) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
    wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                      text=True).returncode != 0, timeout=20, what="redis down")


def _power_state(cloud, vm_uuid: str) -> str:
    """What the host's last report said of the VM (read from the database: the API does not show it)."""
    conn = pymysql.connect(**MYSQL, database=cloud.databases[0])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT power_state FROM vm_instance WHERE uuid=%s", (vm_uuid,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_redis_outage_in_the_middle_of_deploys(tmp_path):
    port = free_port()
    _redis(port)
    web = TemplateServer(tmp_path / "web")
    cloud = make_cloud(tmp_path / "cloud", backend="mysql", redis_url=f"redis://127.0.0.1:{port}/0")
    agents = Agents(cloud)
    try:
        admin = Client(cloud.url, *keys_for(cloud.url, "admin", "password"))
        admin("updateConfiguration", name="ping.interval", value="2")
        admin("updateConfiguration", name="ping.timeout", value="2")
        env = agent_zone(admin, agents, tmp_path, web.url, name="rz", subnet=42)
        zone, host, template, offering = env["zone"], env["host"], env["template"], env["offering"]
        jobs = [admin("deployVirtualMachine", zoneid=zone["id"], templateid=template["id"],
                      serviceofferingid=offering["id"], name=f"r{i}") for i in range(DEPLOYS)]
        wait_until(lambda: admin("listHosts", id=host["id"])["host"][0]["cpuallocated"] not in ("0%", "0.00%"),
                   timeout=90, what="a StartVm in flight")
        time.sleep(1.0)
        _redis_down(port)
        time.sleep(10)
        _redis(port)

        results = [wait_until(lambda j=j: (r := admin("queryAsyncJobResult", jobid=j["jobid"]))["jobstatus"] != 0
                              and r, timeout=240, what=f"deploy {j['id']} to end") for j in jobs]
        for result in results:
            assert result["jobstatus"] in (1, 2), result
            if result["jobstatus"] == 2:
                assert result["jobresult"]["errortext"]
        vms = {j["id"]: admin("listVirtualMachines", id=j["id"])["virtualmachine"][0] for j in jobs}
        assert all(vm["state"] in ("Running", "Error") for vm in vms.values()), \
            {vm["name"]: vm["state"] for vm in vms.values()}
        running = [vm for vm in vms.values() if vm["state"] == "Running"]
        failed = [vm for vm in vms.values() if vm["state"] == "Error"]
        wait_until(lambda: admin("listHosts", id=host["id"])["host"][0]["state"] == "Up", timeout=60,
                   what="host Up again")

        seen = {}

        def settled():
            listed = admin("listHosts", id=host["id"])["host"][0]
            seen["allocated"] = int(listed["cpuallocatedvalue"])
            seen["running"] = sum(vm["cpunumber"] * vm["cpuspeed"] for vm in running)
            # a VM that failed is not left running on the host: the agent's reports no longer show it
            seen["failed"] = {vm["name"]: _power_state(cloud, vm["id"]) for vm in failed}
            return seen["allocated"] == seen["running"] and all(
                state in ("PowerOff", "PowerReportMissing", "PowerUnknown") for state in seen["failed"].values())

        try:
            wait_until(settled, timeout=120, what="capacity and host power states to settle")
        except TimeoutError:
            raise AssertionError(f"not settled: {seen}") from None
        direct = [c for c in admin("listCapacity", zoneid=zone["id"])["capacity"] if c["type"] == 8]
        assert direct[0]["capacityused"] == len(running)
        # the cloud works on: a new deploy succeeds
        again = admin("deployVirtualMachine", zoneid=zone["id"], templateid=template["id"],
                      serviceofferingid=offering["id"], name="after")
        assert admin.wait_job(again["jobid"], timeout=120)["jobstatus"] == 1
    finally:
        agents.close()
        web.close()
        cloud.close()
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
