"""The libvirt hypervisor driver: transient domains from XML, disk images with qemu-img."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from xml.etree import ElementTree as ET

import libvirt

from agent.hypervisor.base import HypervisorDriver, HypervisorError, check_scale
from agent.hypervisor.libvirt.domain_xml import domain_xml, memory_dimm_xml
from agent.hypervisor.libvirt.guest import LibvirtGuestOps
from agent.hypervisor.libvirt.host import Host
from agent.hypervisor.libvirt.nat import LibvirtStaticNatOps
from agent.hypervisor.libvirt.network import LibvirtSecurityGroupOps
from agent.hypervisor.libvirt.snapshots import LibvirtSnapshotOps, LibvirtVmSnapshotOps
from agent.hypervisor.libvirt.storage import LibvirtVolumeOps
from agent.protocol import PowerState, StartupReport, VmSpec

log = logging.getLogger(__name__)

POWER = {libvirt.VIR_DOMAIN_RUNNING: "PowerOn", libvirt.VIR_DOMAIN_BLOCKED: "PowerOn",
         libvirt.VIR_DOMAIN_PAUSED: "PowerOn", libvirt.VIR_DOMAIN_SHUTDOWN: "PowerOn",
         libvirt.VIR_DOMAIN_SHUTOFF: "PowerOff", libvirt.VIR_DOMAIN_CRASHED: "PowerOff",
         libvirt.VIR_DOMAIN_PMSUSPENDED: "PowerOn", libvirt.VIR_DOMAIN_NOSTATE: "PowerUnknown"}


class LibvirtDriver(LibvirtVolumeOps, LibvirtVmSnapshotOps, LibvirtSnapshotOps, LibvirtSecurityGroupOps, LibvirtStaticNatOps, LibvirtGuestOps,
                    HypervisorDriver):
    capabilities = {"live_migration": True, "hotplug_disk": True, "snapshot": True}

    def __init__(self, uri: str = "qemu:///system", private_ip: str | None = None, domain_type: str = "auto") -> None:
        self.host = Host(uri, domain_type)
        self.private_ip = private_ip

    def _domain(self, name: str) -> libvirt.virDomain | None:
        try:
            return self.host.conn.lookupByName(name)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise HypervisorError(f"libvirt lookup of {name} failed: {error}") from None

    def host_info(self, guid: str, name: str) -> StartupReport:
        conn = self.host.conn
        model, memory_mb, cpus, mhz, _nodes, sockets, _cores, _threads = conn.getInfo()
        version = conn.getVersion()
        return StartupReport(guid=guid, name=name, hypervisor="KVM",
                             hypervisor_version=f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000}",
                             cpus=cpus, cpu_sockets=sockets or 1, cpu_speed_mhz=mhz or 1000,
                             memory_bytes=memory_mb * 1024 * 1024, private_ip=self.private_ip,
                             capabilities=[k for k, v in self.capabilities.items() if v] + [model])

    def vm_states(self) -> dict[str, PowerState]:
        try:
            domains = self.host.conn.listAllDomains()
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot list domains: {error}") from None
        states: dict[str, PowerState] = {}
        for domain in domains:
            try:
                states[domain.name()] = POWER.get(domain.state()[0], "PowerUnknown")
            except libvirt.libvirtError as error:
                if error.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise HypervisorError(f"cannot read the state of a domain: {error}") from None
                # gone between the listing and now (stopped, or migrated away): not on this host any more
        return states

    def start(self, spec: VmSpec) -> None:
        existing = self._domain(spec.name)
        if existing is not None:
            if existing.isActive():
                if existing.UUIDString() == spec.uuid:
                    return  # already running: starting twice is a no-op (idempotent retries)
                raise HypervisorError(f"another domain named {spec.name} (uuid {existing.UUIDString()}) is running "
                                      "on this host")
            existing.undefine()
        xml = domain_xml(spec, self.host.domain_type())
        try:
            self.host.conn.createXML(xml, 0)
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot start {spec.name}: {error}") from None

    def stop(self, name: str, force: bool = False, timeout: float = 30.0) -> None:
        domain = self._domain(name)
        if domain is None:
            return
        try:
            if domain.isActive() and not force:
                try:
                    domain.shutdown()
                except libvirt.libvirtError:
                    pass
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and self._domain(name) is not None and domain.isActive():
                    time.sleep(0.5)
            domain = self._domain(name)
            if domain is not None and domain.isActive():
                domain.destroy()
            domain = self._domain(name)
            if domain is not None and domain.isPersistent():
                domain.undefine()
        except libvirt.libvirtError as error:
            if self._domain(name) is not None:
                raise HypervisorError(f"cannot stop {name}: {error}") from None

    def reboot(self, name: str) -> None:
        domain = self._domain(name)
        if domain is None or not domain.isActive():
            raise HypervisorError(f"VM {name} is not running")
        try:
            domain.reset(0)
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot reboot {name}: {error}") from None

    def scale(self, name: str, *, vcpus: int, cpu_speed_mhz: int, memory_mb: int) -> None:
        domain = self._domain(name)
        if domain is None or not domain.isActive():
            raise HypervisorError(f"VM {name} is not running")
        try:
            live = ET.fromstring(domain.XMLDesc(0))
            max_vcpus = int(live.findtext("vcpu") or 1)
            current_vcpus = int(live.find("vcpu").get("current", max_vcpus))
            memory_kib = _kib(live.find("memory"))
            max_memory = live.find("maxMemory")
            max_memory_kib = _kib(max_memory) if max_memory is not None else memory_kib
            check_scale(VmSpec(name=name, uuid=domain.UUIDString(), vcpus=current_vcpus, cpu_speed_mhz=cpu_speed_mhz,
                               memory_mb=max(memory_kib // 1024, 16),
                               max_vcpus=max_vcpus if max_vcpus > current_vcpus else None,
                               max_memory_mb=max_memory_kib // 1024 if max_memory is not None else None),
                        vcpus, memory_mb)
            if memory_mb * 1024 > memory_kib:
                domain.attachDeviceFlags(memory_dimm_xml(memory_mb * 1024 - memory_kib),
                                         libvirt.VIR_DOMAIN_AFFECT_LIVE)
            if vcpus > current_vcpus:
                domain.setVcpusFlags(vcpus, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot scale {name}: {error}") from None
        try:  # CloudStack's weighting follows the new size; a host without the cgroup controller keeps the old
            domain.setSchedulerParametersFlags({"cpu_shares": vcpus * cpu_speed_mhz}, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as error:
            log.warning("VM %s scaled, but its CPU shares were not changed: %s", name, error)

    def migrate(self, name: str, destination_uri: str, live: bool = True) -> None:
        domain = self._domain(name)
        if domain is None:
            raise HypervisorError(f"VM {name} is not on this host")
        flags = libvirt.VIR_MIGRATE_LIVE if live else 0
        # The management server only migrates between hosts that reach the VM's pool (shared storage), which
        # libvirt cannot always tell (a SharedMountPoint on a cluster file system): UNSAFE skips its guess.
        flags |= libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE | libvirt.VIR_MIGRATE_UNSAFE
        try:
            domain.migrateToURI(destination_uri, flags, None, 0)
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot migrate {name} to {destination_uri}: {error}") from None

    def create_volume(self, path: str, size_bytes: int, fmt: str = "qcow2", backing: str | None = None,
                      backing_format: str | None = None) -> int:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        command = ["qemu-img", "create", "-q", "-f", fmt]
        if backing:
            command += ["-b", backing, "-F", backing_format or "qcow2"]
        command += [path]
        if size_bytes:
            command.append(str(size_bytes))
        self._qemu_img(command)
        return self.image_info(path)["virtual-size"]

    def image_info(self, path: str) -> dict:
        return json.loads(self._qemu_img(["qemu-img", "info", "--output=json", "-U", path]))

    def delete_volume(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise HypervisorError(f"cannot delete {path}: {error}") from None

    def copy_image(self, source: str, destination: str) -> int:
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        partial = destination + ".part"
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, destination)
        except OSError as error:
            if os.path.exists(partial):
                os.remove(partial)
            raise HypervisorError(f"cannot copy {source} to {destination}: {error}") from None
        return os.path.getsize(destination)

    @staticmethod
    def _qemu_img(command: list[str]) -> str:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise HypervisorError(f"{' '.join(command[:2])} failed: {result.stderr.strip()}")
        return result.stdout

    def close(self) -> None:
        self.host.close()


def _kib(element) -> int:
    """A libvirt memory element's value in KiB (whatever its unit)."""
    units = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024, "m": 1024, "mib": 1024,
             "mb": 1000**2 / 1024, "g": 1024**2, "gib": 1024**2, "gb": 1000**3 / 1024}
    return int(int(element.text) * units.get((element.get("unit") or "KiB").lower(), 1))
