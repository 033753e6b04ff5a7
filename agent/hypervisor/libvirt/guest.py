"""The libvirt driver's operations of one domain — Guest access: config drive (SSH keys, user data,
password), ISOs on CD-ROM."""

from __future__ import annotations

import base64
import os
from xml.etree import ElementTree as ET

import libvirt

from agent.hypervisor.errors import HypervisorError
from agent.hypervisor.guest import GuestOps, write_iso


class LibvirtGuestOps(GuestOps):
    """Uses ``self.host`` (the libvirt connection) and ``self._domain(name)`` of ``LibvirtDriver``."""

    def create_config_drive(self, path: str, label: str, files: dict[str, str]) -> int:
        try:
            contents = {name: base64.b64decode(data) for name, data in files.items()}
        except ValueError as error:
            raise HypervisorError(f"config drive content is not base64: {error}") from None
        try:
            return write_iso(path, label, contents)
        except OSError as error:
            raise HypervisorError(f"cannot write the config drive {path}: {error}") from None

    def delete_config_drive(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise HypervisorError(f"cannot delete {path}: {error}") from None

    def change_cdrom(self, name: str, target: str, path: str | None) -> None:
        domain = self._domain(name)
        if domain is None or not domain.isActive():
            raise HypervisorError(f"VM {name} is not running")
        disk = ET.Element("disk", type="file", device="cdrom")
        ET.SubElement(disk, "driver", name="qemu", type="raw")
        if path:
            if not os.path.exists(path):
                raise HypervisorError(f"ISO {path} is not reachable from this host")
            ET.SubElement(disk, "source", file=path)
        ET.SubElement(disk, "target", dev=target, bus="ide")
        ET.SubElement(disk, "readonly")
        try:
            domain.updateDeviceFlags(ET.tostring(disk, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as error:
            raise HypervisorError(f"cannot change the CD-ROM media of {name}: {error}") from None
