"""The hypervisor seam: every operation an agent performs on its host goes through this interface.

Callers ask ``capabilities`` what a driver can do rather than which driver it is. The VM verbs are here;
each other domain declares its verbs in its own mixin (``agent.hypervisor.storage``, ``.snapshots``,
``.network``, ``.nat``, ``.guest``), implemented for the simulator there and for libvirt in
``agent.hypervisor.libvirt.<domain>``. The simulator keeps
the same method set (a unit test compares them), so the management server and the scale and fault
tests can run without libvirt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from agent.hypervisor import pools
from agent.hypervisor.errors import HypervisorError
from agent.hypervisor.guest import GuestOps
from agent.hypervisor.nat import StaticNatOps
from agent.hypervisor.network import SecurityGroupOps
from agent.hypervisor.snapshots import SnapshotOps
from agent.hypervisor.storage import VolumeOps
from agent.protocol import PowerState, StartupReport, VmSpec

__all__ = ["HypervisorDriver", "HypervisorError"]


class HypervisorDriver(VolumeOps, SnapshotOps, SecurityGroupOps, StaticNatOps, GuestOps, ABC):
    capabilities: dict[str, bool] = {"live_migration": False, "hotplug_disk": False, "snapshot": False}

    @abstractmethod
    def host_info(self, guid: str, name: str) -> StartupReport:
        """What this host has (CPUs, speed, memory, hypervisor version) for the startup report."""

    @abstractmethod
    def vm_states(self) -> dict[str, PowerState]:
        """Power state of every VM the hypervisor knows, by instance name."""

    @abstractmethod
    def start(self, spec: VmSpec) -> None:
        """Define the VM (replacing an older definition of the same name) and start it."""

    @abstractmethod
    def stop(self, name: str, force: bool = False, timeout: float = 30.0) -> None:
        """Shut the VM down (ACPI, then hard off after ``timeout`` or at once with ``force``) and undefine it."""

    @abstractmethod
    def reboot(self, name: str) -> None:
        """Reboot a running VM."""

    @abstractmethod
    def migrate(self, name: str, destination_uri: str, live: bool = True) -> None:
        """Move a running VM to the host at ``destination_uri``."""

    def scale(self, name: str, *, vcpus: int, cpu_speed_mhz: int, memory_mb: int) -> None:
        """Grow a running VM to ``vcpus`` and ``memory_mb`` within the maximum it was started with."""
        raise HypervisorError("this hypervisor cannot scale a running VM")

    @abstractmethod
    def create_volume(self, path: str, size_bytes: int, fmt: str = "qcow2", backing: str | None = None,
                      backing_format: str | None = None) -> int:
        """Create a disk image (optionally on a backing file); returns its virtual size in bytes."""

    @abstractmethod
    def delete_volume(self, path: str) -> None:
        """Remove a disk image; removing one that is already gone is not an error."""

    @abstractmethod
    def copy_image(self, source: str, destination: str) -> int:
        """Copy a template image (a file path) to primary storage; returns its size in bytes."""

    def prepare_pool(self, pool_type: str, host: str, path: str, local_path: str) -> tuple[int, int]:
        """Mount or check a primary storage pool at ``local_path``; returns (capacity, used) bytes."""
        return pools.prepare(pool_type, host, path, local_path)

    def release_pool(self, pool_type: str, local_path: str) -> None:
        pools.release(pool_type, local_path)

    def pool_stats(self, local_path: str) -> tuple[int, int]:
        return pools.measure(local_path)

    def remove_stale_partials(self, local_path: str, older_than: float) -> list[str]:
        """Remove interrupted copies (``<uuid>.part``) from a pool; returns their names."""
        return pools.remove_stale_partials(local_path, older_than)

    def image_store_path(self, path: str, store_url: str | None) -> str:
        """Where this host reads ``path`` of an image store (an NFS store is mounted on first use)."""
        return pools.resolve(path, store_url)

    def close(self) -> None:
        """Release connections."""


def check_scale(spec: VmSpec, vcpus: int, memory_mb: int) -> None:
    """Refuse a live scale beyond what ``spec`` was started with room for (or any, for a fixed-size VM)."""
    if spec.max_vcpus is None and spec.max_memory_mb is None:
        raise HypervisorError(f"VM {spec.name} was not started dynamically scalable")
    if vcpus > (spec.max_vcpus or spec.vcpus):
        raise HypervisorError(f"cannot scale {spec.name} to {vcpus} vCPUs: it was started with room for at most "
                              f"{spec.max_vcpus or spec.vcpus}")
    if memory_mb > (spec.max_memory_mb or spec.memory_mb):
        raise HypervisorError(f"cannot scale {spec.name} to {memory_mb} MiB: it was started with room for at most "
                              f"{spec.max_memory_mb or spec.memory_mb} MiB")
