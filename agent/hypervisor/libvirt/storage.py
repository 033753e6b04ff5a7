"""The libvirt driver's operations of one domain — Volumes: attach/detach (hot-plug), resize, migrate between pools, upload/extract.

Hot-plug works on the running (transient) domain only (``VIR_DOMAIN_AFFECT_LIVE``): the management server
keeps the VM's disks and puts them into the domain XML at the next start. A detach is a request to the
guest (PCI hot-unplug); it is complete when the disk has left the live XML, which is polled.
"""

from __future__ import annotations

import os
import time
from xml.etree import ElementTree as ET

import libvirt

from agent.hypervisor.errors import HypervisorError
from agent.hypervisor.storage import VolumeOps
from agent.protocol import DiskSpec


def disk_device_xml(disk: DiskSpec, serial: str | None = None) -> str:
    """The <disk> element of a data disk (virtio, as the domain XML writes them)."""
    el = ET.Element("disk", type="file", device="disk")
    ET.SubElement(el, "driver", name="qemu", type="raw" if disk.format == "iso" else disk.format, cache="none")
    ET.SubElement(el, "source", file=disk.path)
    ET.SubElement(el, "target", dev=disk.target, bus="virtio")
    if disk.readonly:
        ET.SubElement(el, "readonly")
    if serial:
        ET.SubElement(el, "serial").text = serial
    return ET.tostring(el, encoding="unicode")


def live_disks(domain) -> dict[str, str]:
    """{target: source file} of the disks in the domain's live XML."""
    root = ET.fromstring(domain.XMLDesc(0))
    found = {}
    for disk in root.findall("./devices/disk"):
        target, source = disk.find("target"), disk.find("source")
        if target is not None:
            found[target.get("dev")] = source.get("file") if source is not None else ""
    return found


class LibvirtVolumeOps(VolumeOps):
    """Uses ``self.host`` (the libvirt connection) and ``self._domain(name)`` of ``LibvirtDriver``."""

    def _running(self, vm_name: str):
        domain = self._domain(vm_name)
        if domain is None or not domain.isActive():
            raise HypervisorError(f"VM {vm_name} is not running on this host")
        return domain

    def attach_disk(self, vm_name: str, disk: DiskSpec) -> None:
        domain = self._running(vm_name)
        present = live_disks(domain)
        if present.get(disk.target) == disk.path:
            return  # already attached: a retried command is a no-op
        if disk.target in present:
            raise HypervisorError(f"VM {vm_name} already has a disk at {disk.target}")
        if not os.path.exists(disk.path):
            raise HypervisorError(f"cannot attach {disk.path}: no such file")
        serial = f"{domain.UUIDString()[:8]}{disk.device_id:02d}"
        try:
            domain.attachDeviceFlags(disk_device_xml(disk, serial), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot attach {disk.path} to {vm_name}: {error}") from None

    def detach_disk(self, vm_name: str, disk: DiskSpec, timeout: float = 30.0) -> None:
        domain = self._domain(vm_name)
        if domain is None or not domain.isActive():
            return  # not running: nothing is plugged in
        present = live_disks(domain)
        if disk.target not in present:
            return
        xml = disk_device_xml(DiskSpec(path=present[disk.target] or disk.path, format=disk.format,
                                       target=disk.target, device_id=disk.device_id))
        deadline = time.monotonic() + timeout
        asked = False
        while True:
            try:
                domain.detachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
                asked = True
            except libvirt.libvirtError as error:
                if disk.target not in live_disks(domain):
                    return
                if not asked:  # the first request failed outright
                    raise HypervisorError(f"cannot detach {disk.target} from {vm_name}: {error}") from None
            stop_asking = time.monotonic() + 5
            while time.monotonic() < min(deadline, stop_asking):
                if disk.target not in live_disks(domain):
                    return
                time.sleep(0.2)
            if time.monotonic() >= deadline:
                raise HypervisorError(f"the guest of {vm_name} did not release {disk.target} within {timeout:g} s")

    def resize_volume(self, path: str, new_size: int, *, shrink_ok: bool = False, vm_name: str | None = None,
                      target: str | None = None) -> int:
        current = self.image_info(path)["virtual-size"]
        if new_size < current and not shrink_ok:
            raise HypervisorError(f"shrinking {path} from {current} to {new_size} bytes needs shrink_ok")
        domain = self._domain(vm_name) if vm_name else None
        if domain is not None and domain.isActive() and target:
            try:
                domain.blockResize(target, new_size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            except libvirt.libvirtError as error:
                raise HypervisorError(f"cannot resize {target} of {vm_name}: {error}") from None
        else:
            command = ["qemu-img", "resize", "-q"] + (["--shrink"] if new_size < current else [])
            self._qemu_img(command + ["-f", "qcow2", path, str(new_size)])
        return self.image_info(path)["virtual-size"]

    def copy_volume(self, source: str, destination: str, size_bytes: int = 0) -> int:
        if not os.path.exists(source):
            raise HypervisorError(f"cannot copy {source}: no such file")
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        partial = destination + ".part"
        try:
            self._qemu_img(["qemu-img", "convert", "-U", "-O", "qcow2", source, partial])
            size = self.image_info(partial)["virtual-size"]
            if size_bytes > size:
                self._qemu_img(["qemu-img", "resize", "-q", "-f", "qcow2", partial, str(size_bytes)])
            os.replace(partial, destination)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        return self.image_info(destination)["virtual-size"]
