"""Driver operations of one domain — Guest access: config drive (SSH keys, user data, password), ISOs on
CD-ROM: the interface (``GuestOps``, mixed into ``HypervisorDriver``) and the simulator's implementation
(``SimulatorGuestOps``). The libvirt one is in ``agent.hypervisor.libvirt.guest``.

``write_iso`` builds an ISO9660 image (Rock Ridge and Joliet names, so ``meta_data.json`` keeps its name)
with pycdlib; the libvirt driver uses it for config drives.
"""

from __future__ import annotations

import base64
import os

from agent.hypervisor.errors import HypervisorError

MAX_CONFIG_DRIVE_BYTES = 64 * 1024 * 1024  # CloudStack refuses config drives over 64 MB


class GuestOps:
    """Operations every driver offers for this domain (a driver that cannot raises ``HypervisorError``)."""

    def create_config_drive(self, path: str, label: str, files: dict[str, str]) -> int:
        """Write the config drive ISO (files: ISO path -> base64 content); returns its size in bytes."""
        raise HypervisorError("config drives are not supported by this driver")

    def delete_config_drive(self, path: str) -> None:
        raise HypervisorError("config drives are not supported by this driver")

    def change_cdrom(self, name: str, target: str, path: str | None) -> None:
        """Change the media of a running VM's CD-ROM ``target``; ``path`` None ejects it."""
        raise HypervisorError("changing CD-ROM media is not supported by this driver")


class SimulatorGuestOps(GuestOps):
    """The simulator's bookkeeping for this domain (state lives on the driver, guarded by ``self.lock``)."""

    def create_config_drive(self, path: str, label: str, files: dict[str, str]) -> int:
        self._step("create_config_drive")
        size = sum(len(base64.b64decode(v)) for v in files.values())
        with self.lock:  # kept apart from the volumes: a config drive is no volume
            self.config_drives = getattr(self, "config_drives", {})
            self.config_drives[path] = {"label": label, "files": dict(files)}
        return size

    def delete_config_drive(self, path: str) -> None:
        self._step("delete_config_drive")
        with self.lock:
            getattr(self, "config_drives", {}).pop(path, None)

    def change_cdrom(self, name: str, target: str, path: str | None) -> None:
        self._step("change_cdrom")
        with self.lock:
            spec = self.specs.get(name)
            if spec is None:  # started by another process's simulator: the database is the truth there
                return
            disks = [d for d in spec.disks if not (d.device == "cdrom" and d.target == target)]
            if path is not None:
                from agent.protocol import DiskSpec

                disks.append(DiskSpec(path=path, format="iso", device="cdrom", target=target, device_id=3))
            self.specs[name] = spec.model_copy(update={"disks": disks})


def _iso_name(name: str, is_dir: bool, used: set[str]) -> str:
    """A unique ISO9660 level-1 name (8.3, upper case) for a Rock Ridge/Joliet long name."""
    stem, _, ext = name.rpartition(".") if "." in name and not is_dir else (name, "", "")
    clean = lambda s: "".join(c for c in s.upper() if c.isalnum() or c == "_")  # noqa: E731
    stem, ext = (clean(stem) or "X")[:8], clean(ext)[:3]
    for n in range(1000):
        candidate = stem if n == 0 else f"{stem[:8 - len(str(n)) - 1]}_{n}"
        full = candidate + (f".{ext}" if ext else "")
        if full not in used:
            used.add(full)
            return full
    raise HypervisorError(f"too many files named like {name}")


def write_iso(path: str, label: str, files: dict[str, bytes]) -> int:
    """Write ``files`` (ISO path -> bytes) as an ISO9660 image with Rock Ridge and Joliet at ``path``."""
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, joliet=3, rock_ridge="1.09", vol_ident=label)
    made: dict[str, str] = {"": ""}  # long directory path -> ISO9660 path
    used: dict[str, set[str]] = {"": set()}

    def directory(long_path: str) -> str:
        if long_path in made:
            return made[long_path]
        parent, _, leaf = long_path.rpartition("/")
        parent_iso = directory(parent)
        iso_path = f"{parent_iso}/{_iso_name(leaf, True, used[parent])}"
        used[long_path] = set()
        iso.add_directory(iso_path, rr_name=leaf, joliet_path=f"/{long_path}")
        made[long_path] = iso_path
        return iso_path

    for name in sorted(files):
        parent, _, leaf = name.strip("/").rpartition("/")
        parent_iso = directory(parent)
        iso_path = f"{parent_iso}/{_iso_name(leaf, False, used[parent])};1"
        data = files[name]
        iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=leaf, joliet_path=f"/{name.strip('/')}")
    partial = path + ".part"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        iso.write(partial)
        iso.close()
        size = os.path.getsize(partial)
        if size > MAX_CONFIG_DRIVE_BYTES:
            raise HypervisorError("Config drive file exceeds maximum allowed size of 64MB")
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except Exception:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return size
