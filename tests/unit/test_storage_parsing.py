"""Storage parsing helpers: pool URLs, checksums, template URLs and image sizes."""

from __future__ import annotations

import struct

import pytest

from management.errors import InvalidParameter
from management.storage import download, pools
from management.storage import templates as tmpl


@pytest.mark.parametrize("url, expected", [
    ("nfs://10.0.0.1/export/primary", ("NetworkFilesystem", "10.0.0.1", "/export/primary", 2049)),
    ("nfs://10.0.0.1:2050/export/primary/", ("NetworkFilesystem", "10.0.0.1", "/export/primary", 2050)),
    ("SharedMountPoint://localhost/mnt/pool", ("SharedMountPoint", "localhost", "/mnt/pool", 0)),
    ("sharedmountpoint:///mnt/pool", ("SharedMountPoint", "localhost", "/mnt/pool", 0)),
    ("file:///var/lib/libvirt/images", ("Filesystem", "", "/var/lib/libvirt/images", 0)),
])
def test_pool_urls(url, expected):
    parsed = pools.parse_pool_url(url)
    assert (parsed.pool_type, parsed.host, parsed.path, parsed.port) == expected


@pytest.mark.parametrize("url", ["nfs://10.0.0.1", "nfs://10.0.0.1/", "nfs:///export", "iscsi://h/iqn/0",
                                 "SharedMountPoint://localhost/", "nfs://h:notaport/x", "no-scheme"])
def test_bad_pool_urls(url):
    with pytest.raises(InvalidParameter):
        pools.parse_pool_url(url)


@pytest.mark.parametrize("value, expected", [
    ("d41d8cd98f00b204e9800998ecf8427e", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
    ("{MD5}D41D8CD98F00B204E9800998ECF8427E", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
    ("{SHA-1}" + "a" * 40, ("sha1", "a" * 40)),
    ("{SHA-256}" + "b" * 64, ("sha256", "b" * 64)),
    ("{sha-512}" + "c" * 128, ("sha512", "c" * 128)),
    ("", None),
    (None, None),
])
def test_checksums(value, expected):
    assert tmpl.parse_checksum(value) == expected


@pytest.mark.parametrize("value", ["{MD5}" + "a" * 64, "{CRC}00", "xyz", "a" * 33, "{SHA-256}"])
def test_bad_checksums(value):
    with pytest.raises(InvalidParameter):
        tmpl.parse_checksum(value)


def test_local_addresses_are_refused_unless_allowed():
    import ipaddress

    with pytest.raises(InvalidParameter, match="Illegal host"):
        tmpl.check_download_address("127.0.0.1", [])
    with pytest.raises(InvalidParameter, match="Illegal host"):
        tmpl.check_download_address("169.254.169.254", [ipaddress.ip_network("127.0.0.0/8")])
    tmpl.check_download_address("127.0.0.1", [ipaddress.ip_network("127.0.0.0/8")])
    tmpl.check_download_address("10.1.2.3", [])  # private data-center addresses are fine


def test_image_virtual_size(tmp_path):
    qcow = tmp_path / "a.qcow2"
    qcow.write_bytes(b"QFI\xfb" + struct.pack(">IQII", 3, 0, 0, 16) + struct.pack(">Q", 10 << 30) + b"\0" * 100)
    assert download.image_virtual_size(qcow, "QCOW2", qcow.stat().st_size) == 10 << 30
    vhd = tmp_path / "a.vhd"
    footer = b"conectix" + b"\0" * 40 + struct.pack(">Q", 5 << 30) + b"\0" * (512 - 56)
    vhd.write_bytes(b"\1" * 1024 + footer)
    assert download.image_virtual_size(vhd, "VHD", vhd.stat().st_size) == 5 << 30
    raw = tmp_path / "a.raw"
    raw.write_bytes(b"\0" * 4096)
    assert download.image_virtual_size(raw, "RAW", 4096) == 4096
    with pytest.raises(download.DownloadError):
        download.image_virtual_size(raw, "QCOW2", 4096)
