"""The Simulator hypervisor: VMs are entries in a dict, disks are bookkeeping. No libvirt, no QEMU.

It serves the embedded default, scale tests (thousands of VMs) and fault tests: each operation can be
slowed down (``delays``) or made to fail (``failures``: operation -> error message, or a count of the
next calls to fail), both settable at run time.
"""

from __future__ import annotations

import threading
import time

from agent.hypervisor.base import HypervisorDriver, HypervisorError, check_scale
from agent.hypervisor.guest import SimulatorGuestOps
from agent.hypervisor.nat import SimulatorStaticNatOps
from agent.hypervisor.network import SimulatorSecurityGroupOps
from agent.hypervisor.snapshots import SimulatorSnapshotOps
from agent.hypervisor.storage import SimulatorVolumeOps
from agent.protocol import PowerState, StartupReport, VmSpec


class SimulatorDriver(SimulatorVolumeOps, SimulatorSnapshotOps, SimulatorSecurityGroupOps, SimulatorStaticNatOps,
                      SimulatorGuestOps, HypervisorDriver):
    capabilities = {"live_migration": True, "hotplug_disk": True, "snapshot": True}

    def __init__(self, *, cpus: int = 16, cpu_speed_mhz: int = 2000, memory_bytes: int = 32 * 1024**3,
                 local_storage_bytes: int = 1024**4, private_ip: str | None = None) -> None:
        self.cpus, self.cpu_speed_mhz, self.memory_bytes = cpus, cpu_speed_mhz, memory_bytes
        self.local_storage_bytes, self.private_ip = local_storage_bytes, private_ip
        self.vms: dict[str, PowerState] = {}
        self.specs: dict[str, VmSpec] = {}
        self.volumes: dict[str, int] = {}
        self.delays: dict[str, float] = {}
        self.failures: dict[str, str] = {}
        self.lock = threading.Lock()

    def _step(self, operation: str) -> None:
        delay = self.delays.get(operation, 0.0)
        if delay:
            time.sleep(delay)
        error = self.failures.get(operation)
        if error:
            raise HypervisorError(f"simulated failure of {operation}: {error}")

    def host_info(self, guid: str, name: str) -> StartupReport:
        return StartupReport(guid=guid, name=name, hypervisor="Simulator", hypervisor_version="1.0", cpus=self.cpus,
                             cpu_sockets=1, cpu_speed_mhz=self.cpu_speed_mhz, memory_bytes=self.memory_bytes,
                             local_storage_bytes=self.local_storage_bytes, private_ip=self.private_ip,
                             capabilities=[k for k, v in self.capabilities.items() if v])

    def vm_states(self) -> dict[str, PowerState]:
        with self.lock:
            return dict(self.vms)

    def start(self, spec: VmSpec) -> None:
        self._step("start")
        with self.lock:
            self.vms[spec.name] = "PowerOn"
            self.specs[spec.name] = spec

    def stop(self, name: str, force: bool = False, timeout: float = 30.0) -> None:
        self._step("stop")
        with self.lock:
            self.vms.pop(name, None)
            self.specs.pop(name, None)

    def reboot(self, name: str) -> None:
        self._step("reboot")
        with self.lock:
            if self.vms.get(name) != "PowerOn":
                raise HypervisorError(f"VM {name} is not running")

    def scale(self, name: str, *, vcpus: int, cpu_speed_mhz: int, memory_mb: int) -> None:
        self._step("scale")
        with self.lock:
            spec = self.specs.get(name)
            if spec is None:  # started by another process's simulator of this host: the rows are the truth
                return
            check_scale(spec, vcpus, memory_mb)
            self.specs[name] = spec.model_copy(update={"vcpus": vcpus, "cpu_speed_mhz": cpu_speed_mhz,
                                                       "memory_mb": memory_mb})

    def migrate(self, name: str, destination_uri: str, live: bool = True) -> None:
        self._step("migrate")
        with self.lock:
            if name not in self.vms:
                raise HypervisorError(f"VM {name} is not on this host")
            self.vms.pop(name)
            self.specs.pop(name, None)

    def create_volume(self, path: str, size_bytes: int, fmt: str = "qcow2", backing: str | None = None,
                      backing_format: str | None = None) -> int:
        self._step("create_volume")
        with self.lock:
            self.volumes[path] = size_bytes
        return size_bytes

    def delete_volume(self, path: str) -> None:
        self._step("delete_volume")
        with self.lock:
            self.volumes.pop(path, None)

    def prepare_pool(self, pool_type: str, host: str, path: str, local_path: str) -> tuple[int, int]:
        self._step("prepare_pool")
        return self.local_storage_bytes, 0

    def release_pool(self, pool_type: str, local_path: str) -> None:
        self._step("release_pool")

    def pool_stats(self, local_path: str) -> tuple[int, int]:
        with self.lock:
            used = sum(self.volumes.values())
        return self.local_storage_bytes, min(used, self.local_storage_bytes)

    def remove_stale_partials(self, local_path: str, older_than: float) -> list[str]:
        self._step("remove_stale_partials")
        return []  # the simulator writes no files on pools

    def image_store_path(self, path: str, store_url: str | None) -> str:
        return f"{store_url.rstrip('/')}/{path.lstrip('/')}" if store_url else path

    def copy_image(self, source: str, destination: str) -> int:
        self._step("copy_image")
        with self.lock:
            self.volumes[destination] = self.volumes.get(source, 0)
        return self.volumes[destination]
