"""A tiny bootable guest for real QEMU tests: Debian's kernel, a busybox initramfs, syslinux on a FAT disk.

The guest prints ``GUEST-READY <boot id>`` on its serial console once booted, then sits idle. Building
needs Debian's linux-image-amd64, busybox-static, syslinux, mtools, dosfstools and cpio.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import shutil
import subprocess
from pathlib import Path

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /modules/$m 2>/dev/null; done
echo "GUEST-READY $(cat /proc/sys/kernel/random/boot_id)" > /dev/console
for d in /sys/block/vd*; do [ -e "$d" ] && echo "GUEST-DISK $(basename $d) $(cat $d/size)" > /dev/console; done
exec sh -c 'while true; do sleep 3600; done'
"""
SYSLINUX_CFG = "DEFAULT linux\nTIMEOUT 0\nLABEL linux\n  KERNEL vmlinuz\n  APPEND initrd=initrd.gz console=ttyS0 quiet\n"


def kernel() -> str:
    found = sorted(glob.glob("/boot/vmlinuz-*"))
    if not found:
        raise RuntimeError("no kernel in /boot: install linux-image-amd64")
    return found[-1]


MODULES = ("kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko")


def _module_order(release: str, modules: tuple[str, ...] = MODULES) -> list[str]:
    """The virtio PCI and block modules (Debian builds them as modules), and any ``modules`` asked for, with
    their dependencies first."""
    base = Path("/lib/modules") / release
    deps: dict[str, list[str]] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        name, _, rest = line.partition(":")
        deps[name] = rest.split()
    order: list[str] = []

    def visit(module: str) -> None:
        for dep in deps.get(module, []):
            visit(dep)
        if module not in order:
            order.append(module)

    for module in modules:
        visit(module)
    return order


def _initramfs(workdir: Path, modules: tuple[str, ...] = MODULES, init_snippet: str = "") -> Path:
    root = workdir / "initramfs"
    for sub in ("bin", "proc", "sys", "dev", "modules"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    release = Path(kernel()).name.removeprefix("vmlinuz-")
    order = _module_order(release, modules)
    for module in order:
        shutil.copy(Path("/lib/modules") / release / module, root / "modules" / Path(module).name)
    (root / "modules.order").write_text(" ".join(Path(m).name for m in order))
    shutil.copy(shutil.which("busybox") or "/bin/busybox", root / "bin" / "busybox")
    (root / "init").write_text(INIT.replace("exec sh -c", init_snippet + "exec sh -c"))
    os.chmod(root / "init", 0o755)
    listing = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=listing, capture_output=True,
                             check=True).stdout
    out = workdir / "initrd.gz"
    with gzip.open(out, "wb", compresslevel=1) as f:
        f.write(archive)
    return out


def build_guest_image(workdir: Path, size_mb: int = 64, extra_modules: tuple[str, ...] = (),
                      init_snippet: str = "") -> Path:
    """A raw, bootable disk image; returns its path. ``extra_modules`` (paths under /lib/modules/<release>)
    are loaded at boot too; ``init_snippet`` (shell) runs after the GUEST-DISK lines."""
    workdir.mkdir(parents=True, exist_ok=True)
    image = workdir / "guest.raw"
    if image.exists():
        image.unlink()
    initrd = _initramfs(workdir, MODULES + tuple(extra_modules), init_snippet)
    subprocess.run(["mkfs.vfat", "-C", str(image), str(size_mb * 1024)], check=True, capture_output=True)
    (workdir / "syslinux.cfg").write_text(SYSLINUX_CFG)
    for source, name in ((kernel(), "vmlinuz"), (str(initrd), "initrd.gz"), (str(workdir / "syslinux.cfg"),
                                                                            "syslinux.cfg")):
        subprocess.run(["mcopy", "-i", str(image), source, f"::{name}"], check=True, capture_output=True)
    subprocess.run(["syslinux", "--install", str(image)], check=True, capture_output=True)
    return image


def wait_for(path: Path, marker: str, timeout: float = 120.0, after: int = 0) -> str:
    """Wait until ``marker`` appears in the serial log past byte ``after``; returns the matching line."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            data = path.read_bytes()[after:].decode(errors="replace")
            for line in io.StringIO(data):
                if marker in line:
                    return line.strip()
        time.sleep(0.5)
    raise TimeoutError(f"{marker!r} not seen on {path} within {timeout}s")


def build_guest_iso(workdir: Path) -> Path:
    """A bootable ISO (isolinux, El Torito) of the same guest: deployed from an ISO, the VM boots it from its
    CD-ROM and prints ``GUEST-READY`` like the disk image. Needs Debian's isolinux too."""
    import pycdlib

    workdir.mkdir(parents=True, exist_ok=True)
    initrd = _initramfs(workdir)
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="GUEST")
    files = {"/ISOLINUX.BIN;1": "/usr/lib/ISOLINUX/isolinux.bin",
             "/LDLINUX.C32;1": "/usr/lib/syslinux/modules/bios/ldlinux.c32",
             "/VMLINUZ.;1": kernel(), "/INITRD.GZ;1": str(initrd)}
    for iso_path, source in files.items():
        data = Path(source).read_bytes()
        name = iso_path.strip("/").split(";")[0].rstrip(".").lower()
        iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=name, joliet_path=f"/{name}")
    config = SYSLINUX_CFG.encode()
    iso.add_fp(io.BytesIO(config), len(config), "/ISOLINUX.CFG;1", rr_name="isolinux.cfg", joliet_path="/isolinux.cfg")
    iso.add_eltorito("/ISOLINUX.BIN;1", "/BOOT.CAT;1", boot_load_size=4, boot_info_table=True)
    out = workdir / "guest.iso"
    iso.write(str(out))
    iso.close()
    return out
