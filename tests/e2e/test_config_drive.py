"""End to end on real QEMU: a guest deployed with an SSH key pair, user data and a password (password-enabled
template) finds them on its config drive (ISO9660 labelled config-2, CloudStack's layout) and prints them on
its serial console; a new key after resetSSHKeyForVirtualMachine reaches it at the next start; attachIso and
detachIso change the CD-ROM media of the running domain; expunging removes the drive.

The guest is the busybox guest of ``tests.agent.guest`` with the IDE CD-ROM and ISO9660 modules of Debian's
kernel (ata_piix, sr_mod, isofs) and an init snippet that mounts each CD-ROM and prints what it finds (and the volume label, read from
the ISO's primary volume descriptor)."""

from __future__ import annotations

import base64
from functools import partial
from pathlib import Path
from xml.etree import ElementTree as ET

import libvirt
import pytest
from cryptography.hazmat.primitives import serialization

from agent.hypervisor.guest import write_iso
from tests.agent.guest import build_guest_image, wait_for
from tests.e2e.world import cs_api, domains, e2e_world, kvm_zone, register_guest, until

CDROM_MODULES = ("kernel/drivers/ata/ata_piix.ko", "kernel/drivers/scsi/sr_mod.ko", "kernel/fs/isofs/isofs.ko")
READ_CONFIG_DRIVE = r"""
mkdir -p /cfg
for i in $(seq 1 60); do
  for dev in /dev/sr*; do
    [ -b "$dev" ] || continue
    mount -t iso9660 -o ro "$dev" /cfg 2>/dev/null || continue
    if [ -f /cfg/openstack/latest/meta_data.json ]; then
      echo "CD-DEVICE $dev $(dd if=$dev bs=1 skip=32769 count=5 2>/dev/null) $(dd if=$dev bs=1 skip=32808 count=32 2>/dev/null)" > /dev/console
      echo "CD-META $(cat /cfg/openstack/latest/meta_data.json)" > /dev/console
      echo "CD-PASSWORD $(cat /cfg/cloudstack/password/vm_password.txt)" > /dev/console
      sed 's/^/CD-USERDATA /' /cfg/openstack/latest/user_data > /dev/console
      echo "CD-KEY $(cat /cfg/cloudstack/metadata/public-keys.txt)" > /dev/console
      umount /cfg; break 2
    fi
    umount /cfg
  done
  sleep 1
done
"""
USER_DATA = "#!/bin/sh\necho hello from user data\n"
_until = until


@pytest.fixture(scope="module")
def world():
    image = partial(build_guest_image, extra_modules=CDROM_MODULES, init_snippet=READ_CONFIG_DRIVE)
    with e2e_world("cs-cfgdrive-", image) as state:
        write_iso(str(state["root"] / "web" / "tools.iso"), "TOOLS", {"readme.txt": b"tools\n"})
        yield state


@pytest.fixture(scope="module")
def api(world):
    return cs_api(world["cloud"])


@pytest.fixture(scope="module")
def zone(world, api):
    built = kvm_zone(world, api, name="cfgdrive", net="10.21.0", agents=(("kvm-cfgdrive", "qemu:///system",
                                                                        "127.0.0.1"),))
    zone = built["zone"]
    template = register_guest(api, world, zone, name="busybox-cd", passwordenabled="true")
    ostype = api.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
    iso = api.registerIso(name="tools", displaytext="tools", zoneid=zone["id"], ostypeid=ostype,
                          url=f"{world['web']}/tools.iso", ispublic="true")["iso"][0]
    _until(lambda: api.listIsos(isofilter="self", id=iso["id"])["iso"][0]["isready"], what="ISO download")
    return {"zone": zone, "template": template, "host": built["hosts"][0], "iso": iso}


def public_line(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def cdrom_sources(name: str) -> dict[str, str | None]:
    conn = libvirt.open("qemu:///system")
    try:
        xml = ET.fromstring(conn.lookupByName(name).XMLDesc(0))
    finally:
        conn.close()
    result = {}
    for disk in xml.findall("./devices/disk[@device='cdrom']"):
        source = disk.find("source")
        result[disk.find("target").get("dev")] = source.get("file") if source is not None else None
    return result


def console_lines(path: Path, marker: str, after: int = 0) -> list[str]:
    data = path.read_bytes()[after:].decode(errors="replace")
    return [line.strip()[len(marker):].strip() for line in data.splitlines() if line.strip().startswith(marker)]


def test_guest_reads_its_config_drive(world, api, zone):
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
    made = api.createSSHKeyPair(name="e2e-key")["keypair"]
    vm = api.deployVirtualMachine(serviceofferingid=offering["id"], templateid=zone["template"]["id"],
                                  zoneid=zone["zone"]["id"], name="cfg1", keypair="e2e-key",
                                  userdata=base64.b64encode(USER_DATA.encode()).decode())["virtualmachine"]
    assert vm["state"] == "Running" and vm["password"]
    name = vm["instancename"]
    world["domains"].add(name)
    console = world["root"] / "primary" / f"{name}.console.log"
    drive = world["root"] / "primary" / f"configdrive-{name}.iso"
    assert drive.exists()
    sources = cdrom_sources(name)
    assert sources == {"hdc": None, "hdd": str(drive)}

    key_line = wait_for(console, "CD-KEY", timeout=240)
    assert key_line.split("CD-KEY", 1)[1].strip() == public_line(made["privatekey"])
    assert console_lines(console, "CD-USERDATA") == USER_DATA.splitlines()
    assert console_lines(console, "CD-PASSWORD") == [vm["password"]]
    [meta] = console_lines(console, "CD-META")
    assert f'"uuid": "{vm["id"]}"' in meta and '"hostname": "cfg1"' in meta
    [device] = console_lines(console, "CD-DEVICE")
    assert device.split()[1:] == ["CD001", "config-2"]  # an ISO9660 volume labelled config-2

    # attachIso / detachIso on the running domain: the media of hdc changes live
    attached = api.attachIso(id=zone["iso"]["id"], virtualmachineid=vm["id"])["virtualmachine"]
    assert attached["isoid"] == zone["iso"]["id"]
    iso_source = cdrom_sources(name)["hdc"]
    assert iso_source and Path(iso_source).read_bytes()[32769:32774] == b"CD001"
    assert "isoid" not in api.detachIso(virtualmachineid=vm["id"])["virtualmachine"]
    assert cdrom_sources(name)["hdc"] is None

    # a new key reaches the guest at its next start (the drive is rebuilt)
    api.stopVirtualMachine(id=vm["id"])
    other = api.createSSHKeyPair(name="e2e-key-2")["keypair"]
    reset = api.resetSSHKeyForVirtualMachine(id=vm["id"], keypair="e2e-key-2")["virtualmachine"]
    size = console.stat().st_size
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    wait_for(console, "CD-KEY", timeout=240, after=size if console.stat().st_size >= size else 0)
    assert console_lines(console, "CD-KEY")[-1] == public_line(other["privatekey"])  # the last boot's lines
    assert console_lines(console, "CD-PASSWORD")[-1] == reset["password"] != vm["password"]

    api.destroyVirtualMachine(id=vm["id"], expunge="true")
    assert name not in domains()
    assert not drive.exists()
