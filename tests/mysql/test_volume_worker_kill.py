"""A worker killed while a migrateVolume waits on the copy (MariaDB + Redis: a separate worker process)."""

from __future__ import annotations

import signal
import time

from tests.integration.test_volumes import GIB, allocated, ok, volume, web  # noqa: F401 (web is a fixture)
from tests.integration.test_vms import build_zone
from tests.support import Client, keys_for, make_cloud, wait_until


def test_worker_killed_mid_copy_leaves_the_volume_in_order(tmp_path, tmp_path_factory, web):  # noqa: F811
    """The only worker is SIGKILLed while a migrateVolume waits on the copy: the reaper fails the job and the
    volume is put back (Ready on its pool, the destination's space given back); a new worker migrates it."""
    cloud = make_cloud(tmp_path / "cloud", backend="mysql")
    try:
        admin = Client(cloud.url, *keys_for(cloud.url, "admin", "password"))
        admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
        time.sleep(2.1)
        env = build_zone(admin, tmp_path_factory, web, hosts=1)
        disk5 = next(o for o in admin("listDiskOfferings")["diskoffering"] if o["name"] == "Small")
        target = admin("createStoragePool", zoneid=env["zone"]["id"], podid=env["pod"]["id"],
                       clusterid=env["cluster"]["id"], name="second", url="nfs://192.0.2.12/export/second",
                       scope="cluster")["storagepool"]
        small = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
        vm = ok(admin, "deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=small["id"],
                templateid=env["template"]["id"], startvm="false")
        data = ok(admin, "createVolume", zoneid=env["zone"]["id"], diskofferingid=disk5["id"])["id"]
        ok(admin, "startVirtualMachine", id=vm["id"])
        source = ok(admin, "attachVolume", id=data, virtualmachineid=vm["id"])["storageid"]
        ok(admin, "detachVolume", id=data)
        if source == target["id"]:
            source, target = target["id"], env["pool"]
        before = allocated(admin)
        mock = admin("configureSimulator", name="CopyVolume", value="wait:60000")["mock"]["id"]
        started = admin("migrateVolume", volumeid=data, storageid=target["id"])
        wait_until(lambda: volume(admin, data)["state"] == "Migrating", timeout=60, what="copy under way")
        assert allocated(admin)[target["id"]] == before[target["id"]] + 5 * GIB
        worker = cloud.procs[1]
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        cloud.procs.remove(worker)
        result = wait_until(lambda: (r := admin("queryAsyncJobResult", jobid=started["jobid"]))["jobstatus"] != 0
                            and r, timeout=90, what="the orphaned job failed")
        assert result["jobstatus"] == 2 and "stopped before finishing" in result["jobresult"]["errortext"]
        back = wait_until(lambda: (v := volume(admin, data))["state"] == "Ready" and v, timeout=60,
                          what="volume back in order")
        assert back["storageid"] == source and allocated(admin) == before

        admin("cleanupSimulatorMock", id=mock)
        cloud.start_worker()
        moved = ok(admin, "migrateVolume", volumeid=data, storageid=target["id"])
        assert moved["storageid"] == target["id"] and moved["state"] == "Ready"
    finally:
        cloud.close()
