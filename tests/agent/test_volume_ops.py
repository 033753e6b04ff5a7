"""Volume operations of the drivers: the simulator's bookkeeping, qemu-img work on real files (copy, resize),
and hot-plug into a real QEMU guest on qemu:///system, which reports the disks it sees on its serial console."""

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
from agent.hypervisor.libvirt.storage import live_disks
from agent.hypervisor.simulator import SimulatorDriver
from agent.protocol import DiskSpec, VmSpec
from agent.protocol_storage import AttachDisk, CopyVolume, DetachDisk, ResizeVolume
from tests.agent.guest import build_guest_image, wait_for

MIB = 1 << 20

# Guest side (tests/agent/guest.py ``init_snippet``): every disk that appears is reported with its size in
# sectors; a disk that starts with a CSMARK marker is read back (GUEST-READ), a blank one gets a marker
# written to it (GUEST-WROTE); a disk that goes away is reported (GUEST-GONE).
DISK_WATCH = r"""
( known=""
  while true; do
    now=""
    for d in /sys/block/vd*; do
      [ -e "$d" ] || continue
      n=$(basename $d); now="$now $n"
      case " $known " in *" $n "*) continue;; esac
      echo "GUEST-NEWDISK $n $(cat $d/size)" > /dev/console
      [ "$n" = vda ] && continue
      head=$(dd if=/dev/$n bs=64 count=1 2>/dev/null | tr -dc 'A-Za-z0-9-')
      case "$head" in
        CSMARK-*) echo "GUEST-READ $n $head" > /dev/console;;
        *) mark="CSMARK-$(cat /proc/sys/kernel/random/uuid | cut -c1-8)"
           printf '%s\n' "$mark" | dd of=/dev/$n bs=64 count=1 conv=sync,fsync 2>/dev/null
           sync; echo "GUEST-WROTE $n $mark" > /dev/console;;
      esac
    done
    for n in $known; do case " $now " in *" $n "*) ;; *) echo "GUEST-GONE $n" > /dev/console;; esac; done
    known="$now"
    sleep 1
  done ) &
"""


def info(path: Path) -> dict:
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", "-U", str(path)], capture_output=True,
                                     text=True, check=True).stdout)


def test_simulator_volume_bookkeeping():
    sim = SimulatorDriver()
    sim.start(VmSpec(name="i-2-7-VM", uuid=str(uuid.uuid4()), vcpus=1, cpu_speed_mhz=1000, memory_mb=128))
    sim.create_volume("/pool/a", 5 * MIB)
    disk = DiskSpec(path="/pool/a", target="vdb", device_id=1)
    assert AttachDisk(vm_name="i-2-7-VM", disk=disk).run(sim) == {"target": "vdb"}
    assert sim.attached["i-2-7-VM"] == {"vdb": "/pool/a"}
    with pytest.raises(HypervisorError, match="not running"):
        AttachDisk(vm_name="i-2-8-VM", disk=disk).run(sim)
    with pytest.raises(HypervisorError, match="shrink_ok"):
        ResizeVolume(path="/pool/a", current_size=5 * MIB, new_size=MIB).run(sim)
    assert ResizeVolume(path="/pool/a", current_size=5 * MIB, new_size=8 * MIB).run(sim) == {"new_size": 8 * MIB}
    assert CopyVolume(source="/pool/a", destination="/pool2/a").run(sim) == {"size": 8 * MIB}
    DetachDisk(vm_name="i-2-7-VM", disk=disk).run(sim)
    assert sim.attached["i-2-7-VM"] == {}
    sim.volumes["nfs://192.0.2.9/export/snapshots/2/s1.qcow2"] = 3 * MIB  # a backup on an NFS image store
    assert CopyVolume(source="snapshots/2/s1.qcow2", source_store="nfs://192.0.2.9/export",
                      destination="/pool/b").run(sim) == {"size": 3 * MIB}
    sim.failures["copy_volume"] = "agent killed"
    with pytest.raises(HypervisorError, match="agent killed"):
        CopyVolume(source="/pool/a", destination="/pool3/a").run(sim)
    assert "/pool3/a" not in sim.volumes


@pytest.fixture(scope="module")
def storage_dir():
    """A directory QEMU (running as libvirt-qemu) can reach, unlike pytest's private tmp dirs."""
    path = Path(tempfile.mkdtemp(prefix="cs-vol-test-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_copy_and_resize_real_images(storage_dir):
    driver = LibvirtDriver("test:///default")
    base, overlay = storage_dir / "base.qcow2", storage_dir / "overlay.qcow2"
    driver.create_volume(str(base), 16 * MIB)
    driver.create_volume(str(overlay), 0, backing=str(base), backing_format="qcow2")
    copy = storage_dir / "pool2" / "copy.qcow2"
    assert driver.copy_volume(str(overlay), str(copy), 32 * MIB) == 32 * MIB
    assert "backing-filename" not in info(copy)  # standalone: it survives the source pool
    assert not list(copy.parent.glob("*.part"))
    with pytest.raises(HypervisorError, match="no such file"):
        driver.copy_volume(str(storage_dir / "missing.qcow2"), str(storage_dir / "pool2" / "x.qcow2"))
    assert not (storage_dir / "pool2" / "x.qcow2").exists() and not list(copy.parent.glob("*.part"))
    (storage_dir / "junk.qcow2").write_bytes(b"not an image at all")
    with pytest.raises(HypervisorError):
        driver.copy_volume(str(storage_dir / "junk.qcow2"), str(storage_dir / "pool2" / "y.qcow2"), 1 << 60)
    assert not (storage_dir / "pool2" / "y.qcow2").exists() and not list(copy.parent.glob("*.part"))

    assert driver.resize_volume(str(copy), 48 * MIB) == 48 * MIB
    with pytest.raises(HypervisorError, match="shrink_ok"):
        driver.resize_volume(str(copy), 8 * MIB)
    assert info(copy)["virtual-size"] == 48 * MIB
    assert driver.resize_volume(str(copy), 8 * MIB, shrink_ok=True) == 8 * MIB
    with pytest.raises(HypervisorError, match="not running"):
        driver.attach_disk("no-such-vm", DiskSpec(path=str(copy), target="vdb", device_id=1))
    driver.detach_disk("no-such-vm", DiskSpec(path=str(copy), target="vdb", device_id=1))  # nothing plugged: no-op
    driver.close()


def test_hot_plug_into_a_real_guest(storage_dir):
    """Attach a data disk to a running QEMU guest: the guest sees it and writes to it; grow it online; detach
    it: the guest lets it go and the domain no longer has it; a second guest reads the marker back."""
    template = build_guest_image(storage_dir / "template", init_snippet=DISK_WATCH)
    driver = LibvirtDriver("qemu:///system", domain_type="qemu")
    root, data = storage_dir / "root.qcow2", storage_dir / "data.qcow2"
    driver.create_volume(str(root), 0, "qcow2", backing=str(template), backing_format="raw")
    driver.create_volume(str(data), 32 * MIB, "qcow2")
    log = storage_dir / "serial.log"
    name = f"i-9-{uuid.uuid4().int % 100000}-VM"
    vm = VmSpec(name=name, uuid=str(uuid.uuid4()), vcpus=1, cpu_speed_mhz=1000, memory_mb=128,
                disks=[DiskSpec(path=str(root), target="vda")], serial_log=str(log))
    disk = DiskSpec(path=str(data), target="vdb", device_id=1)
    try:
        driver.start(vm)
        wait_for(log, "GUEST-READY", timeout=180)
        mark = log.stat().st_size
        driver.attach_disk(name, disk)
        driver.attach_disk(name, disk)  # a retried attach is a no-op
        assert live_disks(driver._domain(name))["vdb"] == str(data)
        assert wait_for(log, "GUEST-NEWDISK vdb", after=mark).endswith(str(32 * MIB // 512))
        written = wait_for(log, "GUEST-WROTE vdb", after=mark).split()[-1]
        assert driver.resize_volume(str(data), 64 * MIB, vm_name=name, target="vdb") == 64 * MIB
        driver.detach_disk(name, disk, timeout=60)
        assert "vdb" not in live_disks(driver._domain(name))
        wait_for(log, "GUEST-GONE vdb", after=mark)
    finally:
        driver.stop(name, force=True)
    assert info(data)["virtual-size"] == 64 * MIB

    log2 = storage_dir / "serial2.log"
    vm2 = VmSpec(name=name + "b", uuid=str(uuid.uuid4()), vcpus=1, cpu_speed_mhz=1000, memory_mb=128,
                 disks=[DiskSpec(path=str(root), target="vda"), disk], serial_log=str(log2))
    try:
        driver.start(vm2)
        assert wait_for(log2, "GUEST-READ vdb", timeout=180).split()[-1] == written
    finally:
        driver.stop(vm2.name, force=True)
    driver.close()
