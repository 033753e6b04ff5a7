"""VM snapshots of a stopped VM on the libvirt driver: real qcow2 files, real qemu-img (internal snapshots),
data checked with qemu-io: a revert brings back what the disks held when the snapshot was taken."""

from __future__ import annotations

import subprocess

import pytest

from agent.hypervisor.errors import HypervisorError
from agent.hypervisor.libvirt.driver import LibvirtDriver
from agent.protocol import Envelope
from agent.protocol_snapshots import VmSnapshot


def qemu_io(path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, str(path)], capture_output=True, text=True)


def holds(path, pattern: int) -> bool:
    result = qemu_io(path, f"read -P {pattern:#x} 0 64k")
    return result.returncode == 0 and "Pattern verification failed" not in result.stdout + result.stderr


def names(path) -> list[str]:
    out = subprocess.run(["qemu-img", "snapshot", "-l", str(path)], capture_output=True, text=True, check=True)
    return [line.split()[1] for line in out.stdout.splitlines()[2:] if line.strip()]


def test_create_revert_delete_on_real_qcow2_disks(tmp_path):
    disks = [tmp_path / "root.qcow2", tmp_path / "data.qcow2"]
    for disk in disks:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "8M"], check=True)
        assert qemu_io(disk, "write -P 0xaa 0 64k").returncode == 0
    driver = LibvirtDriver("test:///default")
    try:
        command = VmSnapshot(action="create", vm_name="i-2-9-VM", disks=[str(d) for d in disks],
                             snapshot_name="i-2-9-VM_VS_1")
        assert Envelope(request_id="1", command=command).command.run(driver) == {}
        assert all(names(d) == ["i-2-9-VM_VS_1"] for d in disks)
        for disk in disks:
            qemu_io(disk, "write -P 0x55 0 64k")
        assert not holds(disks[0], 0xAA) and holds(disks[0], 0x55)

        driver.vm_snapshot("revert", "i-2-9-VM", [str(d) for d in disks], "i-2-9-VM_VS_1")
        assert all(holds(d, 0xAA) for d in disks)
        with pytest.raises(HypervisorError, match="has no snapshot"):
            driver.vm_snapshot("revert", "i-2-9-VM", [str(d) for d in disks], "nosuch")

        driver.vm_snapshot("delete", "i-2-9-VM", [str(d) for d in disks], "i-2-9-VM_VS_1")
        assert all(names(d) == [] for d in disks)
        driver.vm_snapshot("delete", "i-2-9-VM", [str(d) for d in disks], "i-2-9-VM_VS_1")  # already gone: fine

        # all or none: a disk that cannot take the snapshot leaves none on the others
        broken = tmp_path / "broken.qcow2"
        broken.write_bytes(b"not a qcow2 image" * 100)
        with pytest.raises(HypervisorError):
            driver.vm_snapshot("create", "i-2-9-VM", [str(disks[0]), str(broken)], "i-2-9-VM_VS_2")
        assert names(disks[0]) == []
        with pytest.raises(HypervisorError, match="does not exist"):
            driver.vm_snapshot("create", "i-2-9-VM", [str(tmp_path / "gone.qcow2")], "x")
    finally:
        driver.close()
