"""Driver operations of one domain — Volumes: attach/detach (hot-plug), resize, migrate between pools, upload/extract: the interface (``VolumeOps``, mixed into
``HypervisorDriver``) and the simulator's implementation (``SimulatorVolumeOps``). The libvirt one is in
``agent.hypervisor.libvirt.storage``.
"""

from __future__ import annotations

from agent.hypervisor.errors import HypervisorError
from agent.protocol import DiskSpec


class VolumeOps:
    """Operations every driver offers for this domain (a driver that cannot raises ``HypervisorError``)."""

    def attach_disk(self, vm_name: str, disk: DiskSpec) -> None:
        """Hot-plug ``disk`` into the running VM ``vm_name``."""
        raise HypervisorError("attaching disks is not supported by this driver")

    def detach_disk(self, vm_name: str, disk: DiskSpec, timeout: float = 30.0) -> None:
        """Unplug ``disk`` (by its target) from the running VM; returns once it is gone. A disk that is not
        attached is not an error."""
        raise HypervisorError("detaching disks is not supported by this driver")

    def resize_volume(self, path: str, new_size: int, *, shrink_ok: bool = False, vm_name: str | None = None,
                      target: str | None = None) -> int:
        """Set the virtual size of a disk image (through the VM when ``vm_name`` runs it); returns the size."""
        raise HypervisorError("resizing volumes is not supported by this driver")

    def copy_volume(self, source: str, destination: str, size_bytes: int = 0) -> int:
        """Copy a disk image to ``destination`` as a standalone qcow2; returns its virtual size. Nothing is left
        at ``destination`` when the copy fails."""
        raise HypervisorError("copying volumes is not supported by this driver")


class SimulatorVolumeOps(VolumeOps):
    """The simulator's bookkeeping for this domain (state lives on the driver, guarded by ``self.lock``).

    ``self.volumes`` maps paths to sizes; ``self.attached`` maps VM names to {target: path}."""

    def _attached(self) -> dict[str, dict[str, str]]:
        if not hasattr(self, "attached"):
            self.attached = {}
        return self.attached

    def attach_disk(self, vm_name: str, disk: DiskSpec) -> None:
        self._step("attach_disk")
        with self.lock:
            if self.vms.get(vm_name) != "PowerOn":
                raise HypervisorError(f"VM {vm_name} is not running on this host")
            self._attached().setdefault(vm_name, {})[disk.target] = disk.path

    def detach_disk(self, vm_name: str, disk: DiskSpec, timeout: float = 30.0) -> None:
        self._step("detach_disk")
        with self.lock:
            self._attached().get(vm_name, {}).pop(disk.target, None)

    def resize_volume(self, path: str, new_size: int, *, shrink_ok: bool = False, vm_name: str | None = None,
                      target: str | None = None) -> int:
        self._step("resize_volume")
        with self.lock:
            current = self.volumes.get(path)
            if current is not None and new_size < current and not shrink_ok:
                raise HypervisorError(f"shrinking {path} from {current} to {new_size} bytes needs shrink_ok")
            self.volumes[path] = new_size
        return new_size

    def copy_volume(self, source: str, destination: str, size_bytes: int = 0) -> int:
        self._step("copy_volume")
        with self.lock:
            size = max(self.volumes.get(source, 0), size_bytes)
            self.volumes[destination] = size
        return size
