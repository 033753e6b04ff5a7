"""Agent commands of one domain — Guest access: config drive (SSH keys, user data, password), ISOs on CD-ROM.

Each ``Command`` subclass registers under its ``kind`` (``agent.protocol.COMMANDS``) and its ``run`` calls
the driver methods declared in ``agent.hypervisor.guest``.
"""

from __future__ import annotations

from typing import Literal

from agent.protocol import Command


class CreateConfigDrive(Command):
    """Write a config drive ISO (ISO9660 + Rock Ridge + Joliet, volume label ``label``) at ``path``.

    ``files`` maps paths inside the ISO (``openstack/latest/meta_data.json``...) to base64 contents; the
    management server decides the layout, the agent only writes it (replacing an older drive)."""

    kind: Literal["CreateConfigDrive"] = "CreateConfigDrive"
    path: str
    label: str = "config-2"
    files: dict[str, str]

    def run(self, driver) -> dict:
        return {"size": driver.create_config_drive(self.path, self.label, self.files)}


class DeleteConfigDrive(Command):
    kind: Literal["DeleteConfigDrive"] = "DeleteConfigDrive"
    path: str

    def run(self, driver) -> dict:
        driver.delete_config_drive(self.path)
        return {}


class ChangeCdrom(Command):
    """Insert (``path``) or eject (``path`` None) the media of a running VM's CD-ROM ``target`` (hdc)."""

    kind: Literal["ChangeCdrom"] = "ChangeCdrom"
    name: str
    target: str = "hdc"
    path: str | None = None
    store_url: str | None = None  # the NFS image store ``path`` is relative to (mounted here on first use)

    def run(self, driver) -> dict:
        path = driver.image_store_path(self.path, self.store_url) if self.path else None
        driver.change_cdrom(self.name, self.target, path)
        return {}
