"""End to end on real QEMU: data volumes through the public API on a KVM host whose agent drives qemu:///system.

A data volume is hot-plugged into a running guest, which reports the new disk on its serial console and
writes a marker to it; it is detached (the guest lets it go), attached to a second guest, which reads the
marker back; then a snapshot of it becomes a new volume, attached to the second guest, which reads the same
marker. At the end the primary storage directory holds no volume file of ours (only the template copy).
The cloud runs on MariaDB + Redis with a separate worker (as tests/e2e/test_real_guest.py)."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
import uuid
from functools import partial
from pathlib import Path

import pytest
from cs import CloudStack

from tests.agent.guest import build_guest_image, wait_for
from tests.agent.test_volume_ops import DISK_WATCH
from tests.e2e.test_real_guest import Quiet, _try_add_host, destroy_leftovers, domains
from tests.support import BIN, keys_for, make_cloud, wait_until

_until = partial(wait_until, timeout=120.0)


@pytest.fixture(scope="module")
def world():
    root = Path(tempfile.mkdtemp(prefix="cs-e2e-vol-", dir="/var/tmp"))
    root.chmod(0o755)
    for sub in ("primary", "secondary", "web"):
        (root / sub).mkdir()
        (root / sub).chmod(0o755)
    shutil.move(str(build_guest_image(root / "build", init_snippet=DISK_WATCH)), root / "web" / "guest.raw")
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root / "web")))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    cloud = make_cloud(root / "cloud", backend="mysql")
    state = {"root": root, "cloud": cloud, "web": f"http://127.0.0.1:{web.server_address[1]}", "domains": set()}
    try:
        yield state
    finally:
        web.shutdown()
        cloud.close()
        destroy_leftovers(state["domains"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def api(world):
    keys = keys_for(world["cloud"].url, "admin", "password")
    return CloudStack(endpoint=world["cloud"].url, key=keys[0], secret=keys[1], fetch_result=True, job_timeout=300,
                      poll_interval=0.5, timeout=60)


@pytest.fixture(scope="module")
def zone(world, api):
    cloud = world["cloud"]
    api.updateConfiguration(name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    zone = api.createZone(name="e2evol", networktype="Basic", dns1="192.0.2.53", internaldns1="192.0.2.54")["zone"]
    pod = api.createPod(zoneid=zone["id"], name="p1", gateway="10.22.0.1", netmask="255.255.255.0",
                        startip="10.22.0.10", endip="10.22.0.20")["pod"]
    api.createVlanIpRange(zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false", gateway="10.22.0.1",
                          netmask="255.255.255.0", startip="10.22.0.100", endip="10.22.0.120")
    cluster = api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername="kvm", clustertype="CloudManaged",
                             hypervisor="KVM")["cluster"][0]
    config = world["root"] / "agent.properties"
    config.write_text("\n".join([
        f"guid={uuid.uuid4()}", f"zone={zone['id']}", f"pod={pod['id']}", "name=kvm-e2e-vol",
        "private.ip=127.0.0.1", "driver=libvirt", "hypervisor.uri=qemu:///system", "libvirt.domain.type=qemu",
        f"broker.url={cloud.env['CLOUDSTACK_BROKER_URL']}", f"management.queue={cloud.env['CLOUDSTACK_QUEUE']}",
        "ping.interval=5", "workers=4"]) + "\n")
    log = world["root"] / "agent.log"
    cloud.procs.append(subprocess.Popen([str(BIN / "cloudstack-agent"), "--config", str(config)], env=cloud.env,
                                        stdout=log.open("w"), stderr=subprocess.STDOUT))
    host = _until(lambda: _try_add_host(api, zone, pod, cluster), timeout=60, what="agent registration")
    assert host["state"] == "Up"
    api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name="pri", scope="cluster",
                          url=f"SharedMountPoint://localhost{world['root'] / 'primary'}")
    api.addImageStore(provider="Local", url=f"file://{world['root'] / 'secondary'}", zoneid=zone["id"], name="sec")
    api.updateZone(id=zone["id"], allocationstate="Enabled")
    ostype = api.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
    template = api.registerTemplate(name="busybox-disks", displaytext="busybox guest watching its disks",
                                    format="RAW", hypervisor="KVM", zoneid=zone["id"], ostypeid=ostype,
                                    url=f"{world['web']}/guest.raw", ispublic="true")["template"][0]
    _until(lambda: api.listTemplates(templatefilter="self", id=template["id"])["template"][0]["isready"],
           timeout=120, what="template download")
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
    custom = next(o for o in api.listDiskOfferings()["diskoffering"] if o["name"] == "Custom")
    return {"zone": zone, "template": template, "offering": offering, "custom": custom}


def boot(world, api, zone, name: str) -> tuple[dict, Path]:
    vm = api.deployVirtualMachine(serviceofferingid=zone["offering"]["id"], templateid=zone["template"]["id"],
                                  zoneid=zone["zone"]["id"], name=name)["virtualmachine"]
    world["domains"].add(vm["instancename"])
    console = world["root"] / "primary" / f"{vm['instancename']}.console.log"
    wait_for(console, "GUEST-READY", timeout=240)
    return vm, console


def volume_files(world) -> set[str]:
    return {p.name for p in (world["root"] / "primary").iterdir() if not p.name.endswith(".log")}


def test_hot_plugged_volume_is_seen_written_and_read_back(world, api, zone):
    before = volume_files(world)
    vm1, console1 = boot(world, api, zone, "writer")
    vm2, console2 = boot(world, api, zone, "reader")
    data = api.createVolume(name="data1", zoneid=zone["zone"]["id"], diskofferingid=zone["custom"]["id"],
                            size=1)["volume"]
    assert data["state"] == "Allocated"

    mark = console1.stat().st_size
    data = api.attachVolume(id=data["id"], virtualmachineid=vm1["id"])["volume"]
    assert data["state"] == "Ready" and data["deviceid"] == 1
    assert wait_for(console1, "GUEST-NEWDISK vdb", timeout=120, after=mark).endswith(str((1 << 30) // 512))
    marker = wait_for(console1, "GUEST-WROTE vdb", timeout=120, after=mark).split()[-1]
    assert marker.startswith("CSMARK-")

    api.detachVolume(id=data["id"])
    wait_for(console1, "GUEST-GONE vdb", timeout=120, after=mark)
    mark2 = console2.stat().st_size
    api.attachVolume(id=data["id"], virtualmachineid=vm2["id"])
    assert wait_for(console2, "GUEST-READ vdb", timeout=120, after=mark2).split()[-1] == marker
    api.detachVolume(id=data["id"])
    wait_for(console2, "GUEST-GONE vdb", timeout=120, after=mark2)

    snapshot = api.createSnapshot(volumeid=data["id"])["snapshot"]
    assert snapshot["state"] == "BackedUp"
    copy = api.createVolume(name="fromsnap", snapshotid=snapshot["id"])["volume"]
    assert copy["state"] == "Allocated"
    mark3 = console2.stat().st_size
    copy = api.attachVolume(id=copy["id"], virtualmachineid=vm2["id"])["volume"]
    assert copy["state"] == "Ready"
    assert wait_for(console2, "GUEST-READ vdb", timeout=120, after=mark3).split()[-1] == marker
    api.detachVolume(id=copy["id"])
    api.deleteVolume(id=copy["id"])
    api.deleteSnapshot(id=snapshot["id"])

    resized = api.resizeVolume(id=data["id"], size=2)["volume"]
    assert resized["size"] == 2 << 30
    assert api.deleteVolume(id=data["id"])["success"] == "true"
    for vm in (vm1, vm2):
        api.destroyVirtualMachine(id=vm["id"], expunge="true")
        assert vm["instancename"] not in domains()
    left = volume_files(world) - before
    assert all(len(name) != 36 or name == zone["template"]["id"] for name in left), left  # no volume file left
