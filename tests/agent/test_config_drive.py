"""The config drive as the agent writes it: an ISO9660 image labelled config-2 in CloudStack's layout, read
back with pycdlib (Rock Ridge and Joliet names) and identified by blkid as a real ISO would be."""

from __future__ import annotations

import base64
import io
import json
import subprocess

import pycdlib
import pytest

from agent.hypervisor.libvirt.guest import LibvirtGuestOps
from agent.protocol_guest import CreateConfigDrive, DeleteConfigDrive
from management.guest.config_drive import layout

KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 tester@example"
ITEMS = [("service-offering", "Small Instance"), ("availability-zone", "zone-1"), ("local-hostname", "web1"),
         ("local-ipv4", "10.1.1.5"), ("public-ipv4", "10.1.1.5"), ("public-hostname", "web1"),
         ("instance-id", "0b1c-uuid"), ("vm-id", "0b1c-uuid"), ("public-keys", KEY), ("cloud-identifier", "")]
NETWORK = {"links": [{"ethernet_mac_address": "02:00:01:02:03:04", "id": "eth0", "mtu": 1500, "type": "phy"}]}


def read(iso: pycdlib.PyCdlib, path: str, kind: str = "rr_path") -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, **{kind: path})
    return out.getvalue()


@pytest.fixture
def drive(tmp_path):
    files = layout(ITEMS, NETWORK, b"#cloud-config\nruncmd: [echo hi]\n", "s3cret-Pw")
    command = CreateConfigDrive(path=str(tmp_path / "pool" / "configdrive-i-2-5-VM.iso"), label="config-2",
                                files={k: base64.b64encode(v).decode() for k, v in files.items()})
    size = command.run(LibvirtGuestOps())["size"]
    assert size > 0
    return tmp_path / "pool" / "configdrive-i-2-5-VM.iso"


def test_config_drive_has_cloudstack_layout(drive):
    iso = pycdlib.PyCdlib()
    iso.open(str(drive))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
        found = {f"{root}/{name}".lstrip("/") for root, _dirs, names in iso.walk(rr_path="/") for name in names}
        assert found == {
            "openstack/latest/meta_data.json", "openstack/latest/user_data", "openstack/latest/vendor_data.json",
            "openstack/latest/network_data.json", "cloudstack/userdata/user_data.txt",
            "cloudstack/password/vm_password.txt",
            *(f"cloudstack/metadata/{n}.txt" for n, v in ITEMS if v)}
        meta = json.loads(read(iso, "/openstack/latest/meta_data.json"))
        assert meta["uuid"] == "0b1c-uuid" and meta["hostname"] == "web1" and meta["name"] == "web1"
        assert meta["availability_zone"] == "zone-1"
        assert meta["public_keys"] == {"key": KEY} and meta["keys"] == [{"type": "ssh", "data": KEY, "name": "key"}]
        assert read(iso, "/openstack/latest/user_data") == b"#cloud-config\nruncmd: [echo hi]\n"
        assert read(iso, "/cloudstack/userdata/user_data.txt") == b"#cloud-config\nruncmd: [echo hi]\n"
        assert json.loads(read(iso, "/openstack/latest/vendor_data.json")) == {}
        assert json.loads(read(iso, "/openstack/latest/network_data.json")) == NETWORK
        assert read(iso, "/cloudstack/metadata/public-keys.txt").decode() == KEY
        assert read(iso, "/cloudstack/metadata/instance-id.txt") == b"0b1c-uuid"
        assert read(iso, "/cloudstack/password/vm_password.txt") == b"s3cret-Pw"
        # Joliet names too (what Windows guests and cloudbase-init read)
        assert read(iso, "/openstack/latest/meta_data.json", "joliet_path").startswith(b"{")
    finally:
        iso.close()


def test_blkid_sees_an_iso9660_labelled_config_2(drive):
    out = subprocess.run(["blkid", "-p", "-o", "export", str(drive)], capture_output=True, text=True).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert fields.get("TYPE") == "iso9660" and fields.get("LABEL") == "config-2"


def test_no_user_data_no_password_no_such_files(tmp_path):
    files = layout(ITEMS, {}, None, None)
    assert not any(p.startswith(("cloudstack/userdata", "cloudstack/password")) for p in files)
    assert "openstack/latest/user_data" not in files


def test_rewrite_replaces_and_delete_removes(drive):
    ops = LibvirtGuestOps()
    CreateConfigDrive(path=str(drive), files={"openstack/latest/meta_data.json":
                                              base64.b64encode(b'{"uuid": "x"}').decode()}).run(ops)
    iso = pycdlib.PyCdlib()
    iso.open(str(drive))
    names = [n for _root, _dirs, files in iso.walk(rr_path="/") for n in files]
    iso.close()
    assert names == ["meta_data.json"]
    DeleteConfigDrive(path=str(drive)).run(ops)
    assert not drive.exists()
    DeleteConfigDrive(path=str(drive)).run(ops)  # deleting twice is not an error
    assert not list(drive.parent.glob("*.part"))
