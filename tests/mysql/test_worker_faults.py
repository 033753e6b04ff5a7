"""A worker killed in the middle of a deploy (MariaDB + Redis, a separate worker process).

The simulated host's StartVm is slowed down; the only worker is killed with SIGKILL while the deploy
waits for it. The job must end failed with the reason once the reaper sees the worker gone, and the VM
must not stay Starting: it ends in Error with the host's capacity, its address and the account's
counts released. With no worker left, a new job is failed after job.cancel.threshold.minutes (and never
run by a worker started afterwards). A new worker then serves new jobs as usual; killed during a dynamic
scale, the VM keeps the size recorded and reserved and the reaper has the host apply it again; killed during
a live migration, the VM is settled on the host that runs it; killed while a VM snapshot is taken, the snapshot
is undone and the VM can start again."""

from __future__ import annotations

import http.server
import signal
import threading
import time
from functools import partial

from tests.integration.test_templates import qcow2_bytes
from tests.integration.test_vms import build_zone
from tests.support import Client, keys_for, make_cloud
from tests.support import wait_until as _wait


def kill(cloud, worker) -> None:
    """SIGKILL a worker process of the test cloud (nothing of it survives to finish its jobs)."""
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    cloud.procs.remove(worker)


def ended(admin, job_id: str, *, timeout: float) -> dict:
    """The job's result once it is no longer pending."""
    return _wait(lambda: (r := admin("queryAsyncJobResult", jobid=job_id))["jobstatus"] != 0 and r, timeout=timeout)


def test_worker_killed_during_a_deploy(tmp_path, tmp_path_factory):
    web_root = tmp_path / "web"
    web_root.mkdir()
    (web_root / "tiny.qcow2").write_bytes(qcow2_bytes(1 << 20))
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler,
                                                                    directory=str(web_root)))
    web.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=web.serve_forever, daemon=True).start()
    cloud = make_cloud(tmp_path / "cloud", backend="mysql")
    try:
        admin = Client(cloud.url, *keys_for(cloud.url, "admin", "password"))
        admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
        time.sleep(2.1)
        env = build_zone(admin, tmp_path_factory, f"http://127.0.0.1:{web.server_address[1]}", hosts=1)
        host = env["hosts"][0]
        offering = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
        admin("configureSimulator", hostid=host["id"], name="StartVm", value="wait:60000")
        started = admin("deployVirtualMachine", zoneid=env["zone"]["id"], templateid=env["template"]["id"],
                        serviceofferingid=offering["id"], name="doomed")
        _wait(lambda: admin("listHosts", id=host["id"])["host"][0]["cpuallocated"] not in ("0%", "0.00%"),
              timeout=60)
        assert admin("listVirtualMachines", id=started["id"])["virtualmachine"][0]["state"] == "Starting"
        worker = cloud.procs[1]
        kill(cloud, worker)

        result = ended(admin, started["jobid"], timeout=90)
        assert result["jobstatus"] == 2 and "stopped before finishing" in result["jobresult"]["errortext"]
        vm = _wait(lambda: (v := admin("listVirtualMachines", id=started["id"])["virtualmachine"][0])["state"]
                   != "Starting" and v, timeout=60)
        assert vm["state"] == "Error"
        assert admin("listHosts", id=host["id"])["host"][0]["cpuallocated"] in ("0%", "0.00%")
        direct = [c for c in admin("listCapacity", zoneid=env["zone"]["id"])["capacity"] if c["type"] == 8]
        assert direct[0]["capacityused"] == 0
        vms = admin("listResourceLimits", resourcetype="0", account="admin",
                    domainid=admin("listDomains")["domain"][0]["id"])
        assert vms  # the admin is unlimited; its count is checked through listAccounts below
        assert admin("listAccounts", name="admin")["account"][0]["vmtotal"] == 0

        # No worker at all: a new job waits (its message sent again every few seconds), then fails with the
        # reason after job.cancel.threshold.minutes, and a worker started later does not run it.
        admin("updateConfiguration", name="job.cancel.threshold.minutes", value="1")
        time.sleep(2.1)
        account = admin("createAccount", username="waiting", password="secret", email="w@example.com",
                        firstname="W", lastname="W", accounttype="0")["account"]
        user_id = account["user"][0]["id"]
        queued = admin("disableUser", id=user_id)
        time.sleep(10)
        assert admin("queryAsyncJobResult", jobid=queued["jobid"])["jobstatus"] == 0
        result = ended(admin, queued["jobid"], timeout=150)
        assert result["jobstatus"] == 2 and "no worker picked it up" in result["jobresult"]["errortext"]
        assert result["jobresult"]["errorcode"] == 530

        worker = cloud.start_worker()  # a new worker takes new jobs
        again = admin("deployVirtualMachine", zoneid=env["zone"]["id"], templateid=env["template"]["id"],
                      serviceofferingid=offering["id"], name="fine", startvm="false")
        assert admin.wait_job(again["jobid"], timeout=90)["jobstatus"] == 1
        assert admin("listUsers", id=user_id)["user"][0]["state"] == "enabled"  # the failed job never ran
        assert admin("queryAsyncJobResult", jobid=queued["jobid"])["jobstatus"] == 2

        # The worker killed in the middle of a dynamic scale (the agent slow to answer): the job fails, the VM
        # keeps running with the size recorded and reserved, and the reaper has the host apply it again.
        admin("updateConfiguration", name="enable.dynamic.scale.vm", value="true")
        time.sleep(2.1)
        grower = admin("deployVirtualMachine", zoneid=env["zone"]["id"], templateid=env["template"]["id"],
                       serviceofferingid=offering["id"], name="grower", startvm="false")
        assert admin.wait_job(grower["jobid"], timeout=90)["jobstatus"] == 1
        admin("updateVirtualMachine", id=grower["id"], isdynamicallyscalable="true")
        assert admin.wait_job(admin("startVirtualMachine", id=grower["id"])["jobid"], timeout=90)["jobstatus"] == 1
        medium = admin("listServiceOfferings", name="Medium Instance")["serviceoffering"][0]
        admin("configureSimulator", hostid=host["id"], name="ScaleVm", value="wait:60000", count="1")
        scaling = admin("scaleVirtualMachine", id=grower["id"], serviceofferingid=medium["id"])
        _wait(lambda: admin("listHosts", id=host["id"])["host"][0]["memoryallocated"] == 1024 * 1024 * 1024,
              timeout=60)  # the new size is recorded and reserved before the agent is asked
        kill(cloud, worker)
        result = ended(admin, scaling["jobid"], timeout=90)
        assert result["jobstatus"] == 2 and "stopped before finishing" in result["jobresult"]["errortext"]
        vm = admin("listVirtualMachines", id=grower["id"])["virtualmachine"][0]
        assert (vm["state"], vm["serviceofferingname"], vm["memory"]) == ("Running", "Medium Instance", 1024)
        listed = admin("listHosts", id=host["id"])["host"][0]
        assert (listed["cpuallocatedvalue"], listed["memoryallocated"]) == (1000, 1024 * 1024 * 1024)
        _wait(lambda: any(vm["instancename"] in e["description"] and "again" in e["description"]
                          for e in admin("listEvents", type="VM.DYNAMIC.SCALE").get("event", [])),
              timeout=60)  # the reaper had the host apply the recorded size

        # The worker killed in the middle of a live migration (the source host slow to migrate): the job
        # fails, the VM is not left Migrating: the source host still runs it, so it is Running there again
        # and the destination's reservation is given back.
        other = admin("addHost", zoneid=env["zone"]["id"], podid=env["pod"]["id"], clusterid=env["cluster"]["id"],
                      hypervisor="Simulator", url="http://sim/faults/h-other?cpus=2&cpu_speed=1000&memory_gb=2",
                      username="root", password="x")["host"][0]
        worker = cloud.start_worker()
        admin("configureSimulator", hostid=host["id"], name="MigrateVm", value="wait:60000", count="1")
        moving = admin("migrateVirtualMachine", virtualmachineid=grower["id"], hostid=other["id"])
        _wait(lambda: admin("listVirtualMachines", id=grower["id"])["virtualmachine"][0]["state"] == "Migrating",
              timeout=60)
        assert admin("listHosts", id=other["id"])["host"][0]["memoryallocated"] == 1024 * 1024 * 1024
        kill(cloud, worker)
        result = ended(admin, moving["jobid"], timeout=90)
        assert result["jobstatus"] == 2 and "stopped before finishing" in result["jobresult"]["errortext"]
        vm = _wait(lambda: (v := admin("listVirtualMachines", id=grower["id"])["virtualmachine"][0])["state"]
                   != "Migrating" and v, timeout=60)
        assert (vm["state"], vm["hostid"]) == ("Running", host["id"])
        assert admin("listHosts", id=other["id"])["host"][0]["memoryallocated"] == 0
        assert admin("listHosts", id=host["id"])["host"][0]["memoryallocated"] == 1024 * 1024 * 1024

        # The worker killed while a VM snapshot is being taken: the snapshot is removed from the disks and
        # ends in Error (not listed), and the VM, which could not start during the task, starts again.
        worker = cloud.start_worker()
        assert admin.wait_job(admin("stopVirtualMachine", id=grower["id"])["jobid"], timeout=90)["jobstatus"] == 1
        for each in (host, other):
            admin("configureSimulator", hostid=each["id"], name="VmSnapshot", value="wait:60000", count="1")
        taking = admin("createVMSnapshot", virtualmachineid=grower["id"], name="interrupted")
        _wait(lambda: admin("listVMSnapshot", vmsnapshotid=taking["id"])["vmsnapshot"][0]["state"] == "Creating",
              timeout=60)
        kill(cloud, worker)
        result = ended(admin, taking["jobid"], timeout=90)
        assert result["jobstatus"] == 2 and "stopped before finishing" in result["jobresult"]["errortext"]
        _wait(lambda: admin("listVMSnapshot", virtualmachineid=grower["id"]).get("count", 0) == 0, timeout=60)
        cloud.start_worker()
        assert admin.wait_job(admin("startVirtualMachine", id=grower["id"])["jobid"], timeout=90)["jobstatus"] == 1
    finally:
        web.shutdown()
        cloud.close()
