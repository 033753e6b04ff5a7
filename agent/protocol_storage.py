"""Agent commands of one domain — Volumes: attach/detach (hot-plug), resize, migrate between pools, upload/extract.

Each ``Command`` subclass registers under its ``kind`` (``agent.protocol.COMMANDS``) and its ``run`` calls
the driver methods declared in ``agent.hypervisor.storage``.

* ``AttachDisk`` / ``DetachDisk``: plug a data disk into (or out of) a running VM (CloudStack's
  AttachCommand / DettachCommand); the detach returns once the guest has let the disk go.
* ``ResizeVolume``: grow (or, with ``shrink_ok``, shrink) a disk image; through the running VM when
  ``vm_name`` is given, so the guest sees the new size at once.
* ``CopyVolume``: copy a disk image (a volume, a snapshot backup, an uploaded image) to a new file as a
  self-contained qcow2 (no backing file): creating a volume from a snapshot or an upload, moving a volume
  between pools, copying it to secondary storage for an extract.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.protocol import Command, DiskSpec


class AttachDisk(Command):
    kind: Literal["AttachDisk"] = "AttachDisk"
    vm_name: str
    disk: DiskSpec

    def run(self, driver) -> dict:
        driver.attach_disk(self.vm_name, self.disk.on_host(driver))
        return {"target": self.disk.target}


class DetachDisk(Command):
    kind: Literal["DetachDisk"] = "DetachDisk"
    vm_name: str
    disk: DiskSpec
    timeout: float = Field(default=30.0, gt=0, le=600)

    def run(self, driver) -> dict:
        driver.detach_disk(self.vm_name, self.disk.on_host(driver), timeout=self.timeout)
        return {}


class ResizeVolume(Command):
    kind: Literal["ResizeVolume"] = "ResizeVolume"
    path: str
    current_size: int = Field(ge=0)
    new_size: int = Field(gt=0)
    shrink_ok: bool = False
    vm_name: str | None = None  # the VM using the disk, when it is running
    target: str | None = None  # its device in that VM (vdb...)

    def run(self, driver) -> dict:
        return {"new_size": driver.resize_volume(self.path, self.new_size, shrink_ok=self.shrink_ok,
                                                 vm_name=self.vm_name, target=self.target)}


class CopyVolume(Command):
    kind: Literal["CopyVolume"] = "CopyVolume"
    source: str  # a path on this host, or relative to ``source_store``
    destination: str  # a path on this host, or relative to ``destination_store``
    size_bytes: int = Field(default=0, ge=0)  # grow the copy to at least this virtual size (0: as the source)
    source_store: str | None = None  # nfs://host/export of an NFS image store (mounted here on first use)
    destination_store: str | None = None

    def run(self, driver) -> dict:
        return {"size": driver.copy_volume(driver.image_store_path(self.source, self.source_store),
                                           driver.image_store_path(self.destination, self.destination_store),
                                           self.size_bytes)}
