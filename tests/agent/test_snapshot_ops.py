"""Snapshot operations of the drivers against real qemu-img and a real running QEMU domain (qemu:///system):
a stopped volume backed up directly, a running domain's disk backed up through a disk-only external
snapshot merged back afterwards (nothing left on the host), revert, images made from volumes."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from agent.hypervisor.base import HypervisorError
from agent.hypervisor.libvirt.driver import LibvirtDriver
from agent.hypervisor.simulator import SimulatorDriver
from agent.protocol import DiskSpec, Envelope, VmSpec
from agent.protocol_snapshots import BackupSnapshot
from tests.agent.guest import build_guest_image, wait_for

MB = 1024 * 1024


@pytest.fixture(scope="module")
def work():
    """A directory QEMU (running as libvirt-qemu) can reach, unlike pytest's private tmp dirs."""
    path = Path(tempfile.mkdtemp(prefix="cs-snap-test-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def driver():
    d = LibvirtDriver("qemu:///system", domain_type="qemu")
    yield d
    d.close()


def qemu_io(path: Path, command: str) -> None:
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, str(path)], check=True, capture_output=True)


def same(a: Path, b: Path) -> bool:
    return subprocess.run(["qemu-img", "compare", "-U", str(a), str(b)], capture_output=True).returncode == 0


def info(path: Path) -> dict:
    return json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], check=True,
                                     capture_output=True, text=True).stdout)


def test_stopped_volume_backup_revert_and_template(driver, work):
    base = work / "base.qcow2"
    volume = work / "vol.qcow2"
    driver.create_volume(str(base), 64 * MB)
    qemu_io(base, "write -P 0x11 0 1M")
    driver.create_volume(str(volume), 0, backing=str(base), backing_format="qcow2")
    qemu_io(volume, "write -P 0x22 2M 1M")
    backup = work / "secondary" / "snapshots" / "2" / "7" / "s1.qcow2"
    result = driver.backup_snapshot(str(volume), None, "snap-1", str(backup), 0)
    assert result["virtual_size"] == 64 * MB and result["physical_size"] == backup.stat().st_size
    assert "backing-filename" not in info(backup)  # flattened: readable without the template
    assert same(volume, backup)
    assert not list(work.glob("**/*.part"))

    qemu_io(volume, "write -P 0x33 0 4M")  # the volume changes after the snapshot
    assert not same(volume, backup)
    assert driver.revert_volume(str(backup), str(volume)) == 64 * MB
    assert same(volume, backup) and not (work / "vol.qcow2.revert").exists()

    image = work / "secondary" / "template" / "t.qcow2"
    made = driver.image_from_volume(str(volume), str(image))
    assert made["virtual_size"] == 64 * MB and "backing-filename" not in info(image) and same(image, volume)

    with pytest.raises(HypervisorError):
        driver.backup_snapshot(str(work / "missing.qcow2"), None, "snap-2", str(work / "secondary" / "x.qcow2"))
    assert not (work / "secondary" / "x.qcow2").exists()
    driver.delete_backup(str(backup))
    driver.delete_backup(str(backup))  # already gone: fine
    assert not backup.exists()


def test_running_domain_snapshot_leaves_nothing_on_the_host(driver, work):
    template = build_guest_image(work / "template")
    root = work / "root.qcow2"
    data = work / "data.qcow2"
    driver.create_volume(str(root), 0, backing=str(template), backing_format="raw")
    driver.create_volume(str(data), 32 * MB)
    qemu_io(data, "write -P 0x5a 0 3M")
    log = work / "serial.log"
    name = f"i-9-{uuid.uuid4().int % 100000}-VM"
    vm = VmSpec(name=name, uuid=str(uuid.uuid4()), vcpus=1, cpu_speed_mhz=1000, memory_mb=128, serial_log=str(log),
                disks=[DiskSpec(path=str(root), target="vda"), DiskSpec(path=str(data), target="vdb", device_id=1)])
    try:
        driver.start(vm)
        wait_for(log, "GUEST-READY")
        for volume, label in ((data, "data"), (root, "root")):
            backup = work / "secondary" / f"{label}.qcow2"
            result = driver.backup_snapshot(str(volume), name, f"snap-{label}", str(backup), 0)
            assert result["physical_size"] > 0 and "backing-filename" not in info(backup)
            assert same(volume, backup)  # the guest is idle: the point-in-time copy equals the disk
        assert driver.vm_states()[name] == "PowerOn"  # the guest ran on throughout
        xml = driver._domain(name).XMLDesc(0)
        assert f"file='{root}'" in xml and f"file='{data}'" in xml and ".overlay" not in xml  # pivoted back
        assert not list(work.glob("*.overlay")) and not list(work.glob("**/*.part"))  # nothing left on the host
        with pytest.raises(HypervisorError, match="in use"):
            driver.revert_volume(str(work / "secondary" / "data.qcow2"), str(data))
        # an agent that died mid-snapshot left the domain on an overlay: the next snapshot merges it back first
        domain = driver._domain(name)
        driver._external_snapshot(domain, "vdb", f"{data}.snap-dead.overlay", "snap-dead")
        assert ".overlay" in domain.XMLDesc(0)
        driver.backup_snapshot(str(data), name, "snap-next", str(work / "secondary" / "next.qcow2"))
        assert ".overlay" not in domain.XMLDesc(0) and not list(work.glob("*.overlay"))
        assert same(data, work / "secondary" / "next.qcow2")
    finally:
        driver.stop(name, force=True)
    assert info(data)["virtual-size"] == 32 * MB and "backing-filename" not in info(data)  # overlay merged in


def test_simulator_backup_is_a_file_and_faults_apply(tmp_path):
    sim = SimulatorDriver()
    destination = tmp_path / "snapshots" / "s.qcow2"
    answer = BackupSnapshot(volume_path="/pool/v", snapshot_name="s", destination=str(destination),
                            size_bytes=5 * MB).run(sim)
    assert answer["virtual_size"] == 5 * MB and destination.exists()
    sim.failures["backup_snapshot"] = "disk full"
    with pytest.raises(HypervisorError, match="disk full"):
        BackupSnapshot(volume_path="/pool/v", snapshot_name="t", destination=str(tmp_path / "t.qcow2")).run(sim)
    assert not (tmp_path / "t.qcow2").exists()
    envelope = Envelope.model_validate({"request_id": "r", "command": {"kind": "BackupSnapshot", "volume_path": "/a",
                                                                       "snapshot_name": "n", "destination": "/b"}})
    assert isinstance(envelope.command, BackupSnapshot)


# --- through the API, on a KVM host whose agent drives qemu:///system ------------------------------------------

from tests.e2e.test_real_guest import api, domains, world, zone  # noqa: E402,F401  (module fixtures: MariaDB+Redis)


def new_boot(console: Path, seen: str, timeout: float = 240) -> str:
    """A GUEST-READY line other than ``seen`` (the console log may be rewritten or appended on a new start)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = console.read_text(errors="replace") if console.exists() else ""
        fresh = [line for line in text.splitlines() if "GUEST-READY" in line and line.strip() != seen]
        if fresh:
            return fresh[-1]
        time.sleep(1)
    raise TimeoutError(f"no new boot on {console} within {timeout}s")


def test_live_snapshot_of_a_real_guest_through_the_api(world, api, zone):  # noqa: F811
    """A running guest's root volume snapshotted through the API (kvm.snapshot.enabled), the backup made into a
    template that boots a second guest, the first reverted while stopped and booted again, the backup deleted."""
    import time

    api.updateConfiguration(name="kvm.snapshot.enabled", value="true")
    time.sleep(2.1)
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
    # an account of its own: instance names (i-<account>-<vm>-VM) unlike other test clouds' on this host
    owner = api.createAccount(username="snapowner", password="x", email="s@example.com", firstname="s",
                              lastname="o", accounttype="0")["account"]
    for _ in range(3):
        api.createAccount(username=f"pad{uuid.uuid4().hex[:6]}", password="x", email="p@example.com", firstname="p",
                          lastname="p", accounttype="0")
    owned = {"account": owner["name"], "domainid": owner["domainid"]}
    vm = api.deployVirtualMachine(serviceofferingid=offering["id"], templateid=zone["template"]["id"],
                                  zoneid=zone["zone"]["id"], name="snapguest", **owned)["virtualmachine"]
    name = vm["instancename"]
    world.setdefault("domains", set()).add(name)
    primary, secondary = world["root"] / "primary", world["root"] / "secondary"
    console = primary / f"{name}.console.log"
    first_boot = wait_for(console, "GUEST-READY", timeout=180)
    volume = api.listVolumes(virtualmachineid=vm["id"], type="ROOT", listall="true")["volume"][0]

    snap = api.createSnapshot(volumeid=volume["id"])["snapshot"]
    assert snap["state"] == "BackedUp" and snap["physicalsize"] > 0
    [backup] = list(secondary.glob(f"snapshots/*/*/{snap['id']}.qcow2"))
    assert "backing-filename" not in info(backup) and info(backup)["virtual-size"] == volume["size"]
    assert name in domains() and not list(primary.glob("*.overlay"))  # still running, nothing left on the host
    conn = __import__("libvirt").open("qemu:///system")
    try:
        assert ".overlay" not in conn.lookupByName(name).XMLDesc(0)
    finally:
        conn.close()

    template = api.createTemplate(snapshotid=snap["id"], name="from-snap", displaytext="from a live snapshot",
                                  ostypeid=zone["template"]["ostypeid"])["template"]
    assert template["isready"] is True
    child = api.deployVirtualMachine(serviceofferingid=offering["id"], templateid=template["id"],
                                     zoneid=zone["zone"]["id"], name="snapchild", **owned)["virtualmachine"]
    world["domains"].add(child["instancename"])
    wait_for(primary / f"{child['instancename']}.console.log", "GUEST-READY", timeout=180)  # it boots
    api.destroyVirtualMachine(id=child["id"], expunge="true")

    api.stopVirtualMachine(id=vm["id"])
    assert api.revertSnapshot(id=snap["id"])["snapshot"]["state"] == "BackedUp"
    api.startVirtualMachine(id=vm["id"])
    new_boot(console, first_boot)  # the reverted volume boots
    api.deleteSnapshot(id=snap["id"])
    assert not backup.exists()
    api.destroyVirtualMachine(id=vm["id"], expunge="true")
    api.updateConfiguration(name="kvm.snapshot.enabled", value="false")
