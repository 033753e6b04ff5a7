"""Agent commands of one domain — Snapshots and images made from volumes: take, back up to secondary storage, revert, delete.

Each ``Command`` subclass registers under its ``kind`` (``agent.protocol.COMMANDS``) and its ``run`` calls
the driver methods declared in ``agent.hypervisor.snapshots``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.protocol import Command


class BackupSnapshot(Command):
    """Take a point-in-time snapshot of ``volume_path`` (of the running domain ``vm_name``, if any), write it
    flattened to ``destination`` (a path on secondary storage) and remove the host-side snapshot, all in one
    command: nothing is left on the host, whether it succeeds or fails."""

    kind: Literal["BackupSnapshot"] = "BackupSnapshot"
    volume_path: str
    vm_name: str | None = None
    snapshot_name: str = Field(min_length=1, max_length=64)
    destination: str  # a path on this host, or relative to ``store_url``
    size_bytes: int = 0  # the volume's virtual size (what the simulator reports)
    store_url: str | None = None  # nfs://host/export of an NFS image store (mounted here on first use)

    def run(self, driver) -> dict:
        return driver.backup_snapshot(self.volume_path, self.vm_name, self.snapshot_name,
                                      driver.image_store_path(self.destination, self.store_url), self.size_bytes)


class RevertSnapshot(Command):
    """Replace the (unused) volume ``volume_path`` with the content of the backup ``backup``."""

    kind: Literal["RevertSnapshot"] = "RevertSnapshot"
    backup: str
    volume_path: str
    size_bytes: int = 0
    backup_store: str | None = None  # the NFS image store ``backup`` is relative to

    def run(self, driver) -> dict:
        return {"size": driver.revert_volume(driver.image_store_path(self.backup, self.backup_store),
                                             self.volume_path, self.size_bytes)}


class CreateTemplateImage(Command):
    """Write ``source`` (a volume on primary storage, or a snapshot backup) as a standalone qcow2 image at
    ``destination`` (a template's file on secondary storage)."""

    kind: Literal["CreateTemplateImage"] = "CreateTemplateImage"
    source: str
    destination: str
    size_bytes: int = 0
    source_store: str | None = None  # the NFS image store ``source`` is relative to (a snapshot backup)
    destination_store: str | None = None  # the NFS image store ``destination`` is relative to

    def run(self, driver) -> dict:
        return driver.image_from_volume(driver.image_store_path(self.source, self.source_store),
                                        driver.image_store_path(self.destination, self.destination_store),
                                        self.size_bytes)


class DeleteBackup(Command):
    """Remove a file on secondary storage (a snapshot backup or a template image); already gone is fine."""

    kind: Literal["DeleteBackup"] = "DeleteBackup"
    path: str
    store_url: str | None = None  # the NFS image store ``path`` is relative to

    def run(self, driver) -> dict:
        driver.delete_backup(driver.image_store_path(self.path, self.store_url))
        return {}


class VmSnapshot(Command):
    """A VM snapshot of a stopped VM's disks (CloudStack's Create/Delete/RevertToVMSnapshotCommand on KVM for a
    VM that is not running): ``create`` takes an internal qcow2 snapshot named ``snapshot_name`` in every disk
    (all or none: a failure removes those already taken), ``revert`` puts every disk back to it, ``delete``
    removes it from every disk (a disk without it is fine)."""

    kind: Literal["VmSnapshot"] = "VmSnapshot"
    action: Literal["create", "revert", "delete"]
    vm_name: str
    disks: list[str] = Field(min_length=1)
    snapshot_name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")

    def run(self, driver) -> dict:
        driver.vm_snapshot(self.action, self.vm_name, self.disks, self.snapshot_name)
        return {}
