"""The agent's primary-storage preparation (agent.hypervisor.pools): what it mounts and what it refuses.
The mount command itself is faked here (no NFS server in this sandbox); directories and sizes are real."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from agent.hypervisor import pools
from agent.hypervisor.errors import HypervisorError


class FakeRun:
    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls, self.returncode, self.stderr = [], returncode, stderr

    def __call__(self, command, **kwargs):
        self.calls.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def test_nfs_pool_is_mounted_at_its_local_path(tmp_path):
    run = FakeRun()
    capacity, used = pools.prepare("NetworkFilesystem", "192.0.2.7", "/export/primary", str(tmp_path / "mnt"), run)
    assert run.calls[0][:3] == ["mount", "-t", "nfs"]
    assert run.calls[0][-2:] == ["192.0.2.7:/export/primary", str(tmp_path / "mnt")]
    assert (tmp_path / "mnt").is_dir() and capacity == shutil.disk_usage(tmp_path).total and 0 <= used <= capacity


def test_a_failed_mount_names_the_export_and_the_reason(tmp_path):
    run = FakeRun(32, "mount.nfs: Connection refused")
    with pytest.raises(HypervisorError, match=r"192\.0\.2\.7:/export/primary.*Connection refused"):
        pools.prepare("NetworkFilesystem", "192.0.2.7", "/export/primary", str(tmp_path / "mnt"), run)


def test_shared_mount_point_must_exist_and_local_paths_are_created(tmp_path):
    with pytest.raises(HypervisorError, match="does not exist on this host"):
        pools.prepare("SharedMountPoint", "localhost", str(tmp_path / "absent"), str(tmp_path / "absent"))
    capacity, _used = pools.prepare("Filesystem", "", str(tmp_path / "local"), str(tmp_path / "local"))
    assert (tmp_path / "local").is_dir() and capacity > 0
    with pytest.raises(HypervisorError, match="not supported"):
        pools.prepare("Iscsi", "h", "/p", str(tmp_path))


def test_release_unmounts_only_mounted_nfs_pools(tmp_path):
    run = FakeRun()
    pools.release("NetworkFilesystem", str(tmp_path), run)  # not a mount point: nothing to do
    pools.release("SharedMountPoint", "/", run)
    assert run.calls == []
    pools.release("NetworkFilesystem", "/", run)  # / is always mounted
    assert run.calls == [["umount", "/"]]


def _bind_mount(export_root):
    """A real mount that stands in for NFS: ``host:/path`` is bind-mounted from ``export_root/path``."""
    def run(command, **kwargs):
        if command[0] == "mount":
            source, target = command[-2], command[-1]
            command = ["mount", "--bind", str(export_root / source.split(":", 1)[1].lstrip("/")), target]
        return subprocess.run(command, **kwargs)
    return run


@pytest.fixture
def export(tmp_path):
    root = tmp_path / "server"
    (root / "export" / "sec" / "template").mkdir(parents=True)
    (root / "export" / "sec" / "template" / "t.qcow2").write_bytes(b"image")
    mounts = []
    yield root, mounts
    for target in reversed(mounts):
        subprocess.run(["umount", str(target)], capture_output=True)


def test_agents_read_image_store_files_through_their_own_mount(tmp_path, export):
    root, mounts = export
    run = _bind_mount(root)
    path = pools.resolve("template/t.qcow2", "nfs://192.0.2.9/export/sec", run=run, root=str(tmp_path / "mnt"))
    mounts.append(path.rsplit("/template/", 1)[0])
    assert open(path, "rb").read() == b"image"
    again = pools.resolve("template/t.qcow2", "nfs://192.0.2.9/export/sec/", run=run, root=str(tmp_path / "mnt"))
    assert again == path  # mounted once, found again
    assert pools.resolve("/abs/local.qcow2", None) == "/abs/local.qcow2"
    with pytest.raises(HypervisorError, match="inside the image store"):
        pools.resolve("../../etc/passwd", "nfs://192.0.2.9/export/sec", run=run, root=str(tmp_path / "mnt"))


def test_the_management_node_mounts_an_nfs_image_store_once(tmp_path, export, monkeypatch):
    from types import SimpleNamespace

    from management.storage import secondary

    root, mounts = export
    monkeypatch.setattr(secondary, "RUN", _bind_mount(root))
    store = SimpleNamespace(provider="NFS", protocol="nfs", url="nfs://192.0.2.9/export/sec", path="/export/sec",
                            uuid="0f0e", name="sec")
    local = secondary.local_root(store, data_dir=tmp_path)
    mounts.append(local)
    assert pools.is_mounted(str(local)) and (local / "template" / "t.qcow2").read_bytes() == b"image"
    assert secondary.local_root(store, data_dir=tmp_path) == local
    assert secondary.agent_source(store, "template/t.qcow2") == ("template/t.qcow2", "nfs://192.0.2.9/export/sec")
    secondary.release_all(data_dir=tmp_path)
    assert not pools.is_mounted(str(local))


def test_remove_stale_partials_takes_only_our_abandoned_copies(tmp_path):
    import time
    import uuid

    from agent.hypervisor.pools import remove_stale_partials

    names = {"stale": f"{uuid.uuid4()}.part", "drive": "configdrive-i-2-9-VM.iso.part",
             "fresh": f"{uuid.uuid4()}.part", "volume": str(uuid.uuid4()), "foreign": "backup.tar.part"}
    old = time.time() - 7200
    for key, name in names.items():
        (tmp_path / name).write_bytes(b"x")
        if key != "fresh":
            os.utime(tmp_path / name, (old, old))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / names["stale"]).write_bytes(b"x")
    os.utime(tmp_path / "sub" / names["stale"], (old, old))
    assert sorted(remove_stale_partials(str(tmp_path), 3600)) == sorted([names["stale"], names["drive"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names["fresh"], names["volume"], names["foreign"],
                                                                 "sub"])
    assert (tmp_path / "sub" / names["stale"]).exists()  # only the pool's top level


def test_a_migration_destination_mounts_the_stores_of_the_vms_cd_roms(tmp_path, export, monkeypatch):
    """PrepareForMigration on the destination host: an ISO on an NFS image store is mounted there (at the same
    digest-named path every host uses), a local one is left as it is."""
    from agent.hypervisor.libvirt.driver import LibvirtDriver
    from agent.protocol import DiskSpec, PrepareForMigration

    root, mounts = export
    run, real = _bind_mount(root), pools.resolve
    monkeypatch.setattr(pools, "resolve", lambda path, url: real(path, url, run=run, root=str(tmp_path / "mnt")))
    iso = DiskSpec(path="template/t.qcow2", store_url="nfs://192.0.2.9/export/sec", format="iso", device="cdrom",
                   target="hdc", device_id=3, readonly=True)
    local = iso.model_copy(update={"path": "/var/lib/isos/x.iso", "store_url": None})
    answer = PrepareForMigration(name="i-2-3-VM", disks=[iso, local]).run(LibvirtDriver("test:///default"))
    mounted, untouched = answer["paths"]
    mounts.append(mounted.rsplit("/template/", 1)[0])
    assert open(mounted, "rb").read() == b"image" and mounted.startswith(str(tmp_path / "mnt"))
    assert untouched == "/var/lib/isos/x.iso"
