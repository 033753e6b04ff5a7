"""The libvirt driver's operations of one domain — Snapshots and images made from volumes: take, back up to secondary storage, revert, delete.

A volume of a **running** domain is snapshotted with a disk-only external snapshot (no libvirt metadata):
QEMU switches the disk to a new overlay file, so the volume file itself becomes a stable point-in-time image
(crash-consistent, as CloudStack's KVM snapshots are without a guest agent). It is copied flattened to
secondary storage with ``qemu-img convert``; then the overlay is committed back into the volume with an
active block commit and the domain pivoted back to the volume file, and the overlay is deleted. The whole
sequence runs in one command, with the commit in a ``finally``, so a domain is never left on the overlay
(a stop in between would otherwise lose the writes that went to it). A **stopped** VM's or a detached
volume is converted directly.
"""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET

import libvirt

from agent.hypervisor.errors import HypervisorError
from agent.hypervisor.snapshots import SnapshotOps

COMMIT_TIMEOUT = 600.0


class LibvirtSnapshotOps(SnapshotOps):
    """Uses ``self.host`` (the libvirt connection) and ``self._domain(name)`` of ``LibvirtDriver``."""

    def backup_snapshot(self, volume_path: str, vm_name: str | None, snapshot_name: str, destination: str,
                        size_bytes: int = 0) -> dict:
        domain = self._domain(vm_name) if vm_name else None
        if domain is not None and domain.isActive():
            self._merge_leftover(domain, volume_path)
            target = _disk_target(domain, volume_path)
            if target is None:
                raise HypervisorError(f"volume {volume_path} is not a disk of {vm_name}")
            overlay = f"{volume_path}.{snapshot_name}.overlay"
            self._external_snapshot(domain, target, overlay, snapshot_name)
            try:
                self._convert(volume_path, destination)
            finally:
                self._commit_back(domain, target, overlay)
        else:
            if not os.path.exists(volume_path):
                raise HypervisorError(f"volume {volume_path} does not exist on this host")
            self._convert(volume_path, destination)
        return {"physical_size": os.path.getsize(destination),
                "virtual_size": self.image_info(destination)["virtual-size"]}

    def _external_snapshot(self, domain, target: str, overlay: str, name: str) -> None:
        disks = []
        for disk in ET.fromstring(domain.XMLDesc(0)).findall("./devices/disk"):
            dev = disk.find("target").get("dev")
            if dev == target:
                disks.append(f"<disk name='{dev}' snapshot='external'><driver type='qcow2'/>"
                             f"<source file='{_xml_escape(overlay)}'/></disk>")
            else:
                disks.append(f"<disk name='{dev}' snapshot='no'/>")
        xml = f"<domainsnapshot><name>{_xml_escape(name)}</name><disks>{''.join(disks)}</disks></domainsnapshot>"
        flags = (libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA
                 | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)
        try:
            domain.snapshotCreateXML(xml, flags)
        except libvirt.libvirtError as error:
            if os.path.exists(overlay):
                os.remove(overlay)
            raise HypervisorError(f"cannot snapshot disk {target} of {domain.name()}: {error}") from None

    def _merge_leftover(self, domain, volume_path: str) -> None:
        """A domain still on an overlay of an earlier snapshot of this volume (its agent died in the middle):
        merge it back first, so snapshots never stack and the guest's writes return to the volume file."""
        for disk in ET.fromstring(domain.XMLDesc(0)).findall("./devices/disk"):
            source = disk.find("source")
            path = source.get("file") if source is not None else None
            if path and path.startswith(volume_path + ".") and path.endswith(".overlay"):
                self._commit_back(domain, disk.find("target").get("dev"), path)

    def _commit_back(self, domain, target: str, overlay: str) -> None:
        """Merge the overlay into the volume file and make the domain use the volume file again."""
        try:
            domain.blockCommit(target, None, None, 0,
                               libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE | libvirt.VIR_DOMAIN_BLOCK_COMMIT_SHALLOW)
            deadline = time.monotonic() + COMMIT_TIMEOUT
            while True:
                info = domain.blockJobInfo(target, 0)
                if info and info.get("end", 0) and info.get("cur") == info.get("end"):
                    break
                if not info:
                    raise HypervisorError(f"block commit of {target} on {domain.name()} vanished")
                if time.monotonic() > deadline:
                    raise HypervisorError(f"block commit of {target} on {domain.name()} did not finish in time")
                time.sleep(0.1)
            self._pivot(domain, target, deadline)
            deadline = time.monotonic() + 30
            while domain.blockJobInfo(target, 0) and time.monotonic() < deadline:
                time.sleep(0.1)
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot merge the snapshot overlay of {target} back on {domain.name()}: "
                                  f"{error} (the domain still runs on {overlay})") from None
        if _disk_target(domain, overlay) is None and os.path.exists(overlay):
            os.remove(overlay)

    @staticmethod
    def _pivot(domain, target: str, deadline: float) -> None:
        """Pivot once the job is ready: cur == end can be seen a moment before QEMU declares the job ready
        (a loaded host), when libvirt answers "not ready for pivot yet" — asked again until the deadline."""
        while True:
            try:
                domain.blockJobAbort(target, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
                return
            except libvirt.libvirtError as error:
                if "not ready for pivot" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def _convert(self, source: str, destination: str) -> None:
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        partial = destination + ".part"
        try:
            self._qemu_img(["qemu-img", "convert", "-U", "-O", "qcow2", source, partial])
            os.replace(partial, destination)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise

    def revert_volume(self, backup: str, volume_path: str, size_bytes: int = 0) -> int:
        if not os.path.exists(backup):
            raise HypervisorError(f"backup {backup} does not exist")
        for domain in self.host.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            if _disk_target(domain, volume_path) is not None:
                raise HypervisorError(f"volume {volume_path} is in use by running domain {domain.name()}")
        partial = volume_path + ".revert"
        try:
            self._qemu_img(["qemu-img", "convert", "-O", "qcow2", backup, partial])
            os.replace(partial, volume_path)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        return self.image_info(volume_path)["virtual-size"]

    def image_from_volume(self, source: str, destination: str, size_bytes: int = 0) -> dict:
        if not os.path.exists(source):
            raise HypervisorError(f"{source} does not exist on this host")
        self._convert(source, destination)
        return {"physical_size": os.path.getsize(destination),
                "virtual_size": self.image_info(destination)["virtual-size"]}

    def delete_backup(self, path: str) -> None:
        self.delete_volume(path)


def _disk_target(domain, path: str) -> str | None:
    for disk in ET.fromstring(domain.XMLDesc(0)).findall("./devices/disk"):
        source = disk.find("source")
        if source is not None and source.get("file") == path:
            return disk.find("target").get("dev")
    return None


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;").replace('"', "&quot;")


class LibvirtVmSnapshotOps:
    """VM snapshots of a stopped VM: internal qcow2 snapshots in each disk file (``qemu-img snapshot``), as
    CloudStack's KVM agent takes them for a VM that is not running. Uses ``self._domain`` and
    ``self._qemu_img`` of ``LibvirtDriver``."""

    def vm_snapshot(self, action: str, vm_name: str, disks: list[str], name: str) -> None:
        domain = self._domain(vm_name)
        if domain is not None and domain.isActive():
            raise HypervisorError(f"VM {vm_name} is running on this host: VM snapshots of its disks are taken, "
                                  "reverted and deleted while it is stopped")
        for disk in disks:
            if not os.path.exists(disk):
                raise HypervisorError(f"disk {disk} of VM {vm_name} does not exist on this host")
        if action == "create":
            done: list[str] = []
            try:
                for disk in disks:
                    self._qemu_img(["qemu-img", "snapshot", "-c", name, disk])
                    done.append(disk)
            except HypervisorError:
                for disk in done:  # all or none
                    self._drop_internal(disk, name)
                raise
        elif action == "revert":
            missing = [d for d in disks if name not in self._internal_snapshots(d)]
            if missing:
                raise HypervisorError(f"disk {missing[0]} has no snapshot {name}")
            for disk in disks:
                self._qemu_img(["qemu-img", "snapshot", "-a", name, disk])
        else:
            for disk in disks:
                self._drop_internal(disk, name)

    def _internal_snapshots(self, disk: str) -> set[str]:
        info = json.loads(self._qemu_img(["qemu-img", "info", "-U", "--output=json", disk]))
        return {s.get("name") for s in info.get("snapshots", [])}

    def _drop_internal(self, disk: str, name: str) -> None:
        if name in self._internal_snapshots(disk):
            self._qemu_img(["qemu-img", "snapshot", "-d", name, disk])
