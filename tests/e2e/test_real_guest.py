"""End to end on real QEMU: a guest deployed through the public API on a KVM host whose agent drives
qemu:///system (software emulation), watched on its serial console through stop, start, reboot, restore
(a new ROOT disk from the template), destroy.

The cloud runs on MariaDB + Redis with a separate worker; the template is a bootable raw disk made here
(Debian's kernel and a busybox initramfs) and served from a local HTTP server."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from xml.etree import ElementTree

import libvirt
import pytest

from tests.agent.guest import build_guest_image, build_guest_iso, wait_for
from tests.e2e.world import (  # noqa: F401  (Quiet, add_kvm_host, destroy_leftovers: used by other e2e modules)
    Quiet,
    add_kvm_host,
    cs_api,
    destroy_leftovers,
    domains,
    e2e_world,
    kvm_zone,
    register_guest,
    until,
)

_until = until
_try_add_host = add_kvm_host


@pytest.fixture(scope="module")
def world():
    """Storage QEMU can reach (it runs as libvirt-qemu), a cloud, a web server with the guest image."""
    with e2e_world("cs-e2e-", build_guest_image) as state:
        yield state


@pytest.fixture(scope="module")
def api(world):
    return cs_api(world["cloud"])


@pytest.fixture(scope="module")
def zone(world, api):
    built = kvm_zone(world, api, name="e2e", net="10.20.0")
    host = built["hosts"][0]
    assert host["state"] == "Up" and host["hypervisor"] == "KVM"
    return {"zone": built["zone"], "template": register_guest(api, world, built["zone"]), "host": host}


def internal_snapshots(path) -> set[str]:
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], capture_output=True,
                                     text=True, check=True).stdout)
    return {s["name"] for s in info.get("snapshots", [])}


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

    # a VM snapshot of the stopped VM: an internal snapshot in its disk file, reverted to (the guest then boots
    # from the reverted disk below), deleted
    root_file = world["root"] / "primary" / api.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]["id"]
    snap = api.createVMSnapshot(virtualmachineid=vm["id"], name="before")["vmsnapshot"]
    assert snap["state"] == "Ready" and snap["name"] in internal_snapshots(root_file)
    assert api.revertToVMSnapshot(vmsnapshotid=snap["id"])["virtualmachine"]["state"] == "Stopped"
    api.deleteVMSnapshot(vmsnapshotid=snap["id"])
    assert internal_snapshots(root_file) == set()

    size = console.stat().st_size if console.exists() else 0
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    second = wait_for(console, "GUEST-READY", timeout=180, after=size if console.stat().st_size >= size else 0)
    assert second != first

    size = console.stat().st_size
    api.rebootVirtualMachine(id=vm["id"])
    third = wait_for(console, "GUEST-READY", timeout=180, after=size)
    assert third not in (first, second)

    # restoreVirtualMachine: a new ROOT disk from the template, the old file deleted (expunge), the guest boots
    old_root = api.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    old_file = world["root"] / "primary" / old_root["id"]
    assert old_file.exists()
    size = console.stat().st_size
    restored = api.restoreVirtualMachine(virtualmachineid=vm["id"], expunge="true")["virtualmachine"]
    assert restored["state"] == "Running" and name in domains()
    new_root = api.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert new_root["id"] != old_root["id"] and not old_file.exists()
    assert (world["root"] / "primary" / new_root["id"]).exists()
    fourth = wait_for(console, "GUEST-READY", timeout=180, after=size if console.stat().st_size >= size else 0)
    assert fourth not in (first, second, third)

    volume_files = {p.name for p in (world["root"] / "primary").iterdir() if not p.name.endswith(".log")}
    api.destroyVirtualMachine(id=vm["id"], expunge="true")
    assert name not in domains()
    assert api.listVirtualMachines(id=vm["id"]) in ({}, {"count": 0})
    left = {p.name for p in (world["root"] / "primary").iterdir() if not p.name.endswith(".log")}
    assert left < volume_files and len(volume_files - left) == 1  # the root volume went; the template copy stays


def test_real_guest_grows_while_running(world, api, zone):
    """Dynamic scaling on real QEMU: a dynamically scalable VM starts with room to grow (vCPUs and a NUMA cell
    for memory modules) and still boots; scaleVirtualMachine hot-plugs a vCPU and 512 MiB into the running
    domain; a reboot keeps the new size."""
    api.updateConfiguration(name="enable.dynamic.scale.vm", value="true")
    time.sleep(2.1)
    try:
        small = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
        bigger = api.createServiceOffering(name="e2e-grown", displaytext="2 vCPUs, 1 GiB", cpunumber="2",
                                           cpuspeed="500", memory="1024")["serviceoffering"]
        vm = api.deployVirtualMachine(serviceofferingid=small["id"], templateid=zone["template"]["id"],
                                      zoneid=zone["zone"]["id"], name="grower", startvm="false")["virtualmachine"]
        name = vm["instancename"]
        world.setdefault("domains", set()).add(name)
        api.updateVirtualMachine(id=vm["id"], isdynamicallyscalable="true")
        api.startVirtualMachine(id=vm["id"])
        console = world["root"] / "primary" / f"{name}.console.log"
        wait_for(console, "GUEST-READY", timeout=180)
        assert live_size(name) == (1, 2, 512 * 1024)  # 1 of 2 vCPUs on (the host has 2 CPUs), 512 MiB

        api.scaleVirtualMachine(id=vm["id"], serviceofferingid=bigger["id"])
        assert live_size(name) == (2, 2, 1024 * 1024)
        listed = api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
        assert (listed["state"], listed["cpunumber"], listed["memory"]) == ("Running", 2, 1024)

        size = console.stat().st_size
        api.rebootVirtualMachine(id=vm["id"])
        wait_for(console, "GUEST-READY", timeout=180, after=size)
        assert live_size(name)[0::2] == (2, 1024 * 1024)
        api.destroyVirtualMachine(id=vm["id"], expunge="true")
        assert name not in domains()
    finally:
        api.updateConfiguration(name="enable.dynamic.scale.vm", value="false")


def live_size(name: str) -> tuple[int, int, int]:
    """(vCPUs on, vCPUs at most, memory KiB) of a running domain, as libvirt reports it."""
    conn = libvirt.open("qemu:///system")
    try:
        domain = conn.lookupByName(name)
        memory = ElementTree.fromstring(domain.XMLDesc(0)).find("memory")
        assert memory.get("unit") == "KiB"
        return domain.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE), domain.maxVcpus(), int(memory.text)
    finally:
        conn.close()


def test_real_guest_deployed_from_an_iso_boots_from_its_cd_rom(world, api, zone):
    """deployVirtualMachine with an ISO: a blank ROOT disk sized by the disk offering, the ISO on the CD-ROM,
    and the guest (an isolinux ISO of the same busybox guest) boots from it."""
    iso_file = build_guest_iso(world["root"] / "isobuild")
    shutil.copy(iso_file, world["root"] / "web" / "guest.iso")
    ostype = api.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
    iso = api.registerIso(name="busybox-iso", displaytext="busybox installer", url=f"{world['web']}/guest.iso",
                          zoneid=zone["zone"]["id"], ostypeid=ostype, ispublic="true")["iso"][0]
    _until(lambda: api.listIsos(isofilter="self", id=iso["id"])["iso"][0]["isready"], what="ISO download")
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
    disk = api.listDiskOfferings(name="Small")["diskoffering"][0]
    vm = api.deployVirtualMachine(serviceofferingid=offering["id"], templateid=iso["id"], zoneid=zone["zone"]["id"],
                                  diskofferingid=disk["id"], hypervisor="KVM", name="isoguest")["virtualmachine"]
    assert vm["state"] == "Running" and vm["isoid"] == iso["id"]
    name = vm["instancename"]
    world.setdefault("domains", set()).add(name)
    console = world["root"] / "primary" / f"{name}.console.log"
    assert wait_for(console, "GUEST-READY", timeout=180)
    root = api.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert root["size"] == disk["disksize"] * (1 << 30)
    api.destroyVirtualMachine(id=vm["id"], expunge="true")
    assert name not in domains()
