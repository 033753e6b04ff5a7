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
    destination: str
    size_bytes: int = 0  # the volume's virtual size (what the simulator reports)

    def run(self, driver) -> dict:
        return driver.backup_snapshot(self.volume_path, self.vm_name, self.snapshot_name, self.destination,
                                      self.size_bytes)


class RevertSnapshot(Command):
    """Replace the (unused) volume ``volume_path`` with the content of the backup ``backup``."""

    kind: Literal["RevertSnapshot"] = "RevertSnapshot"
    backup: str
    volume_path: str
    size_bytes: int = 0

    def run(self, driver) -> dict:
        return {"size": driver.revert_volume(self.backup, self.volume_path, self.size_bytes)}


class CreateTemplateImage(Command):
    """Write ``source`` (a volume on primary storage, or a snapshot backup) as a standalone qcow2 image at
    ``destination`` (a template's file on secondary storage)."""

    kind: Literal["CreateTemplateImage"] = "CreateTemplateImage"
    source: str
    destination: str
    size_bytes: int = 0

    def run(self, driver) -> dict:
        return driver.image_from_volume(self.source, self.destination, self.size_bytes)


class DeleteBackup(Command):
    """Remove a file on secondary storage (a snapshot backup or a template image); already gone is fine."""

    kind: Literal["DeleteBackup"] = "DeleteBackup"
    path: str

    def run(self, driver) -> dict:
        driver.delete_backup(self.path)
        return {}
