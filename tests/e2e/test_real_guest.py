"""End to end on real QEMU: a guest deployed through the public API on a KVM host whose agent drives
qemu:///system (software emulation), watched on its serial console through stop, start, reboot, destroy.

The cloud runs on MariaDB + Redis with a separate worker; the template is a bootable raw disk made here
(Debian's kernel and a busybox initramfs) and served from a local HTTP server."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
import uuid
from functools import partial
from pathlib import Path

import libvirt
import pytest
from cs import CloudStack

from tests.agent.guest import build_guest_image, wait_for
from tests.support import BIN, keys_for, make_cloud, wait_until

_until = partial(wait_until, timeout=120.0)




class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def world():
    """Storage QEMU can reach (it runs as libvirt-qemu), a cloud, a web server with the guest image."""
    root = Path(tempfile.mkdtemp(prefix="cs-e2e-", dir="/var/tmp"))
    root.chmod(0o755)
    for sub in ("primary", "secondary", "web"):
        (root / sub).mkdir()
        (root / sub).chmod(0o755)
    shutil.move(str(build_guest_image(root / "build")), root / "web" / "guest.raw")
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root / "web")))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    cloud = make_cloud(root / "cloud", backend="mysql")
    state = {"root": root, "cloud": cloud, "web": f"http://127.0.0.1:{web.server_address[1]}"}
    try:
        yield state
    finally:
        web.shutdown()
        cloud.close()
        destroy_leftovers(state.get("domains", set()))
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
    zone = api.createZone(name="e2e", networktype="Basic", dns1="192.0.2.53", internaldns1="192.0.2.54")["zone"]
    pod = api.createPod(zoneid=zone["id"], name="p1", gateway="10.20.0.1", netmask="255.255.255.0",
                        startip="10.20.0.10", endip="10.20.0.20")["pod"]
    api.createVlanIpRange(zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false", gateway="10.20.0.1",
                          netmask="255.255.255.0", startip="10.20.0.100", endip="10.20.0.120")
    cluster = api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername="kvm", clustertype="CloudManaged",
                             hypervisor="KVM")["cluster"][0]
    guid = str(uuid.uuid4())
    config = world["root"] / "agent.properties"
    config.write_text("\n".join([
        f"guid={guid}", f"zone={zone['id']}", f"pod={pod['id']}", "name=kvm-e2e", "private.ip=127.0.0.1",
        "driver=libvirt", "hypervisor.uri=qemu:///system", "libvirt.domain.type=qemu",
        f"broker.url={cloud.env['CLOUDSTACK_BROKER_URL']}", f"management.queue={cloud.env['CLOUDSTACK_QUEUE']}",
        "ping.interval=5", "workers=4"]) + "\n")
    log = world["root"] / "agent.log"
    agent = subprocess.Popen([str(BIN / "cloudstack-agent"), "--config", str(config)], env=cloud.env,
                             stdout=log.open("w"), stderr=subprocess.STDOUT)
    cloud.procs.append(agent)
    host = _until(lambda: _try_add_host(api, zone, pod, cluster), timeout=60, what="agent registration")
    assert host["state"] == "Up" and host["hypervisor"] == "KVM"
    api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name="pri", scope="cluster",
                          url=f"SharedMountPoint://localhost{world['root'] / 'primary'}")
    api.addImageStore(provider="Local", url=f"file://{world['root'] / 'secondary'}", zoneid=zone["id"], name="sec")
    api.updateZone(id=zone["id"], allocationstate="Enabled")
    ostype = api.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
    template = api.registerTemplate(name="busybox", displaytext="busybox guest", format="RAW", hypervisor="KVM",
                                    zoneid=zone["id"], ostypeid=ostype, url=f"{world['web']}/guest.raw",
                                    ispublic="true")["template"][0]
    _until(lambda: api.listTemplates(templatefilter="self", id=template["id"])["template"][0]["isready"],
           timeout=120, what="template download")
    return {"zone": zone, "template": template, "host": host}


def _try_add_host(api, zone, pod, cluster):
    try:
        return api.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="KVM",
                           url="http://127.0.0.1", username="root", password="unused")["host"][0]
    except Exception:
        return None


def destroy_leftovers(names: set[str]) -> None:
    conn = libvirt.open("qemu:///system")
    try:
        for domain in conn.listAllDomains():
            if domain.name() in names and domain.isActive():
                domain.destroy()
    finally:
        conn.close()


def domains() -> set[str]:
    conn = libvirt.open("qemu:///system")
    try:
        return {d.name() for d in conn.listAllDomains()}
    finally:
        conn.close()


def test_real_guest_lifecycle_through_the_api(world, api, zone):
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
    vm = api.deployVirtualMachine(serviceofferingid=offering["id"], templateid=zone["template"]["id"],
                                  zoneid=zone["zone"]["id"], name="guest1")["virtualmachine"]
    assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"].startswith("10.20.0.")
    name = vm["instancename"]
    world.setdefault("domains", set()).add(name)
    console = world["root"] / "primary" / f"{name}.console.log"
    first = wait_for(console, "GUEST-READY", timeout=180)
    assert name in domains()

    api.stopVirtualMachine(id=vm["id"])
    assert name not in domains()
    assert api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Stopped"

    size = console.stat().st_size if console.exists() else 0
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    second = wait_for(console, "GUEST-READY", timeout=180, after=size if console.stat().st_size >= size else 0)
    assert second != first

    size = console.stat().st_size
    api.rebootVirtualMachine(id=vm["id"])
    third = wait_for(console, "GUEST-READY", timeout=180, after=size)
    assert third not in (first, second)

    volume_files = {p.name for p in (world["root"] / "primary").iterdir() if not p.name.endswith(".log")}
    api.destroyVirtualMachine(id=vm["id"], expunge="true")
    assert name not in domains()
    assert api.listVirtualMachines(id=vm["id"]) in ({}, {"count": 0})
    left = {p.name for p in (world["root"] / "primary").iterdir() if not p.name.endswith(".log")}
    assert left < volume_files and len(volume_files - left) == 1  # the root volume went; the template copy stays
