"""Driver operations of one domain — Snapshots and images made from volumes: take, back up to secondary storage, revert, delete: the interface (``SnapshotOps``, mixed into
``HypervisorDriver``) and the simulator's implementation (``SimulatorSnapshotOps``). The libvirt one is in
``agent.hypervisor.libvirt.snapshots``.
"""

from __future__ import annotations

import json
import os

from agent.hypervisor.errors import HypervisorError  # noqa: F401  (raised by the operations)


class SnapshotOps:
    """Operations every driver offers for this domain (a driver that cannot raises ``HypervisorError``)."""

    def backup_snapshot(self, volume_path: str, vm_name: str | None, snapshot_name: str, destination: str,
                        size_bytes: int = 0) -> dict:
        """Snapshot ``volume_path`` at one point in time, write it flattened (qcow2) to ``destination``, remove
        the host-side snapshot; returns ``{"physical_size", "virtual_size"}`` of the backup."""
        raise HypervisorError("volume snapshots are not supported by this driver")

    def revert_volume(self, backup: str, volume_path: str, size_bytes: int = 0) -> int:
        """Replace the volume's content with ``backup`` (the volume must not be in use); returns its virtual size."""
        raise HypervisorError("reverting volumes is not supported by this driver")

    def image_from_volume(self, source: str, destination: str, size_bytes: int = 0) -> dict:
        """Write ``source`` (with its backing chain) as one standalone qcow2 image at ``destination``."""
        raise HypervisorError("making images from volumes is not supported by this driver")

    def delete_backup(self, path: str) -> None:
        """Remove a file on secondary storage; one already gone is not an error."""
        raise HypervisorError("deleting backups is not supported by this driver")

    def vm_snapshot(self, action: str, vm_name: str, disks: list[str], name: str) -> None:
        """``create``, ``revert`` to or ``delete`` the internal snapshot ``name`` of a stopped VM's disks."""
        raise HypervisorError("VM snapshots are not supported by this driver")


def _write_placeholder(destination: str, record: dict) -> int:
    """The simulator's backup: a small JSON file where the image would be (so the store shows real files to
    check for leaks); written through ``.part`` and renamed, as a real copy. On an NFS image store (a
    ``nfs://`` name: the simulator mounts nothing) only the size is reported."""
    if "://" in destination:
        return len(json.dumps(record))
    os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
    partial = destination + ".part"
    try:
        with open(partial, "w") as handle:
            json.dump(record, handle)
        os.replace(partial, destination)
    except OSError as error:
        if os.path.exists(partial):
            os.remove(partial)
        raise HypervisorError(f"cannot write {destination}: {error}") from None
    return os.path.getsize(destination)


class SimulatorSnapshotOps(SnapshotOps):
    """The simulator's bookkeeping for this domain (state lives on the driver, guarded by ``self.lock``).

    Backups are small placeholder files at the real destination (a Local image store is a directory of this
    machine), so the management side's file handling — cleanup after failures, deletion — is exercised."""

    def backup_snapshot(self, volume_path: str, vm_name: str | None, snapshot_name: str, destination: str,
                        size_bytes: int = 0) -> dict:
        self._step("backup_snapshot")
        with self.lock:
            size = self.volumes.get(volume_path, size_bytes) or size_bytes
        physical = _write_placeholder(destination, {"simulated": "snapshot", "volume": volume_path,
                                                    "name": snapshot_name, "virtual_size": size})
        return {"physical_size": physical, "virtual_size": size}

    def vm_snapshot(self, action: str, vm_name: str, disks: list[str], name: str) -> None:
        self._step("vm_snapshot")  # nothing to keep: simulated hosts may be served by several processes

    def revert_volume(self, backup: str, volume_path: str, size_bytes: int = 0) -> int:
        self._step("revert_volume")
        if "://" not in backup and not os.path.exists(backup):
            raise HypervisorError(f"backup {backup} does not exist")
        with self.lock:
            self.volumes[volume_path] = size_bytes
        return size_bytes

    def image_from_volume(self, source: str, destination: str, size_bytes: int = 0) -> dict:
        self._step("image_from_volume")
        physical = _write_placeholder(destination, {"simulated": "template", "source": source,
                                                    "virtual_size": size_bytes})
        with self.lock:
            self.volumes[destination] = size_bytes
        return {"physical_size": physical, "virtual_size": size_bytes}

    def delete_backup(self, path: str) -> None:
        self._step("delete_backup")
        if "://" in path:  # on an NFS store, which the simulator does not mount
            return
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise HypervisorError(f"cannot delete {path}: {error}") from None
