"""Templates and ISOs: real downloads from a local HTTP server into a Local image store, failures,
visibility between accounts, permissions, deletion, and the libcloud and cs clients."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import struct
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.integration.test_storage_infra import make_zone
from tests.support import ApiError

VIRTUAL_SIZE = 1 << 30


def qcow2_bytes(payload: int = 3 << 20) -> bytes:
    header = b"QFI\xfb" + struct.pack(">IQII", 3, 0, 0, 16) + struct.pack(">Q", VIRTUAL_SIZE)
    return header + os.urandom(payload)


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A local HTTP server on 127.0.0.1 serving a directory of images."""
    root = tmp_path_factory.mktemp("web")
    (root / "disk.qcow2").write_bytes(qcow2_bytes())
    (root / "other.qcow2").write_bytes(qcow2_bytes(1 << 20))
    (root / "notqcow.qcow2").write_bytes(b"plain text, not an image" * 100)
    (root / "boot.iso").write_bytes(os.urandom(1 << 20))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def env(admin, tmp_path_factory, web):
    """A zone with a Local image store; loopback allowed as a template source for the tests."""
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    infra = make_zone(admin, simulator=False)
    folder = tmp_path_factory.mktemp("secondary")
    store = admin("addImageStore", provider="Local", url=f"file://{folder}", zoneid=infra["zone"]["id"],
                  name=unique("sec"))["imagestore"]
    time.sleep(2.1)  # settings are cached for 2 s per process
    return {**infra, "store": store, "folder": folder}


def wait_template(client, template_id, *, iso=False, done=lambda t: t["isready"] or "Downloaded" not in
                  t.get("status", "Downloaded"), timeout=60, **where):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if iso:
            rows = client("listIsos", isofilter="self", id=template_id, **where).get("iso", [])
        else:
            rows = client("listTemplates", templatefilter="self", id=template_id, **where).get("template", [])
        if rows and done(rows[0]):
            return rows[0]
        time.sleep(0.3)
    raise TimeoutError(f"template {template_id} did not finish: {rows}")


def register(client, env, url, **extra) -> dict:
    params = {"name": unique("tpl"), "displaytext": "test template", "url": url, "format": "QCOW2", "hypervisor": "KVM",
                  "zoneid": env["zone"]["id"]}
    params.update(extra)
    reply = client("registerTemplate", **params)
    assert reply["count"] == 1
    return reply["template"][0]


def files_of(env, template_id) -> list[Path]:
    return list(Path(env["folder"]).glob(f"template/tmpl/*/*/{template_id}.*"))


def test_register_downloads_into_the_store(cs_admin, admin, env, web):
    root, base = web
    data = (root / "disk.qcow2").read_bytes()
    reply = cs_admin.registerTemplate(name=unique("deb"), displaytext="Debian", url=f"{base}/disk.qcow2",
                                      format="QCOW2", hypervisor="KVM", zoneid=env["zone"]["id"],
                                      checksum="{SHA-256}" + hashlib.sha256(data).hexdigest(),
                                      ostypeid=_os_id(admin, "Debian GNU/Linux 12 (64-bit)"))
    template = reply["template"][0]
    assert template["isready"] is False and template["status"].endswith("% Downloaded")
    assert template["zoneid"] == env["zone"]["id"] and template["templatetype"] == "USER"
    assert template["ostypename"] == "Debian GNU/Linux 12 (64-bit)" and template["account"] == "admin"
    ready = wait_template(admin, template["id"])
    assert ready["isready"] is True and ready["status"] == "Download Complete", ready
    assert ready["size"] == VIRTUAL_SIZE and ready["physicalsize"] == len(data)
    [path] = files_of(env, template["id"])
    assert path.suffix == ".qcow2" and path.read_bytes() == data
    assert (path.parent / "template.properties").exists()
    assert not list(path.parent.glob(".*.part"))
    events = {e["type"] for e in admin("listEvents", pagesize=-1)["event"]}
    assert "TEMPLATE.CREATE" in events


def test_bare_md5_checksum_and_cross_zone(admin, env, web):
    root, base = web
    md5 = hashlib.md5((root / "other.qcow2").read_bytes()).hexdigest()
    reply = admin("registerTemplate", name=unique("xz"), displaytext="cross zone", url=f"{base}/other.qcow2",
                  format="QCOW2", hypervisor="KVM", zoneid="-1", checksum=md5)
    rows = reply["template"]
    assert reply["count"] == len(rows) >= 1 and len({r["id"] for r in rows}) == 1  # one row per zone with a store
    assert env["zone"]["id"] in {r["zoneid"] for r in rows} and all(r["crossZones"] for r in rows)
    ready = wait_template(admin, rows[0]["id"], zoneid=env["zone"]["id"])
    assert ready["isready"] and ready["zoneid"] == env["zone"]["id"]


def test_wrong_checksum_leaves_an_error_and_no_file(admin, env, web):
    _, base = web
    template = register(admin, env, f"{base}/disk.qcow2", checksum="{MD5}" + "0" * 32)
    failed = wait_template(admin, template["id"])
    assert failed["isready"] is False and "checksum" in failed["status"], failed
    assert files_of(env, template["id"]) == []
    assert not list(Path(env["folder"]).glob(f"template/tmpl/*/*/.{template['id']}*"))


def test_missing_url_and_refused_connection_fail(admin, env, web):
    _, base = web
    missing = register(admin, env, f"{base}/nothere.qcow2")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    refused = register(admin, env, f"http://127.0.0.1:{closed_port}/disk.qcow2")
    not_image = register(admin, env, f"{base}/notqcow.qcow2")
    assert "404" in wait_template(admin, missing["id"])["status"]
    assert "unable to connect" in wait_template(admin, refused["id"])["status"]
    assert "not a valid QCOW2" in wait_template(admin, not_image["id"])["status"]
    for t in (missing, refused, not_image):
        assert files_of(env, t["id"]) == []


def test_an_unreachable_nfs_store_fails_the_download_clearly(admin, web):
    """The management node mounts an NFS store to download into it; nothing serves NFS on loopback here, so
    the mount fails and the template says why (no NFS server in this sandbox: the mount itself is covered
    by tests/unit/test_agent_pools.py with a bind mount standing in for the export)."""
    _, base = web
    infra = make_zone(admin, simulator=False)
    admin("addImageStore", provider="NFS", url="nfs://127.0.0.1/export/sec", zoneid=infra["zone"]["id"])
    template = register(admin, {"zone": infra["zone"]}, f"{base}/disk.qcow2")
    failed = wait_template(admin, template["id"])
    assert not failed["isready"]
    assert "not reachable from this management node" in failed["status"]
    assert "127.0.0.1:/export/sec" in failed["status"]


@pytest.mark.parametrize("extra, text", [
    ({"format": "FLOPPY"}, "Image format"),
    ({"hypervisor": "Bochs"}, "Hypervisor"),
    ({"ostypeid": "7d1b7b0e-0000-4000-8000-000000000000"}, "ostypeid"),
    ({"checksum": "{MD5}abc"}, "checksum"),
    ({"checksum": "{CRC32}00ff00ff"}, "checksum"),
    ({"url": "ftp://127.0.0.1/disk.qcow2"}, "Unsupported scheme"),
    ({"url": "http://169.254.169.254/disk.qcow2"}, "Illegal host"),
    ({"url": "URL/disk.raw"}, "invalid for the format"),
    ({"format": "ISO"}, "registerIso"),
    ({"zoneid": None}, "zone"),
])
def test_bad_register_input_is_refused(admin, env, web, extra, text):
    _, base = web
    params = {"name": unique("bad"), "displaytext": "x", "url": f"{base}/disk.qcow2", "format": "QCOW2", "hypervisor": "KVM",
                  "zoneid": env["zone"]["id"]}
    params.update(extra)
    if params["url"] == "URL/disk.raw":
        params["url"] = f"{base}/disk.raw"
    if params["zoneid"] is None:
        del params["zoneid"]
    before = admin("listTemplates", templatefilter="self").get("count", 0)
    with pytest.raises(ApiError) as err:
        admin("registerTemplate", **params)
    assert err.value.status == 431 and text in err.value.body["errortext"], err.value.body
    assert admin("listTemplates", templatefilter="self").get("count", 0) == before


def test_zone_without_image_store_is_refused(admin, web):
    _, base = web
    infra = make_zone(admin, simulator=False)
    with pytest.raises(ApiError) as err:
        register(admin, {"zone": infra["zone"]}, f"{base}/disk.qcow2")
    assert err.value.status == 431 and "no secondary storage in zone" in err.value.body["errortext"]


def _ids(client, **params) -> set[str]:
    return {t["id"] for t in client("listTemplates", **params).get("template", [])}


def test_visibility_and_permissions_between_accounts(admin, env, web, make_account):
    _, base = web
    _alice, a = make_account()
    bob, b = make_account()
    template = register(a, env, f"{base}/other.qcow2")
    wait_template(a, template["id"])
    assert template["id"] in _ids(a, templatefilter="self") and template["id"] in _ids(a, templatefilter="executable")
    for flt in ("executable", "sharedexecutable", "community", "featured", "self"):
        assert template["id"] not in _ids(b, templatefilter=flt), flt
    assert b("listTemplates", templatefilter="self", id=template["id"]) == {}
    with pytest.raises(ApiError) as err:
        b("listTemplates", templatefilter="all")
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        b("updateTemplatePermissions", id=template["id"], ispublic="true")
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:
        a("updateTemplatePermissions", id=template["id"], isfeatured="true")
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:
        a("updateTemplatePermissions", id=template["id"], accounts=bob["name"], op="share")
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        a("updateTemplatePermissions", id=template["id"], accounts="nobody-" + unique("x"), op="add")
    assert err.value.status == 431

    assert a("updateTemplatePermissions", id=template["id"], accounts=bob["name"], op="add") == {"success": "true"}
    perms = a("listTemplatePermissions", id=template["id"])["templatepermission"][0]
    assert perms["account"] == [bob["name"]] and perms["ispublic"] is False
    assert template["id"] in _ids(b, templatefilter="sharedexecutable")
    assert template["id"] in _ids(b, templatefilter="executable")
    assert template["id"] not in _ids(b, templatefilter="self")
    a("updateTemplatePermissions", id=template["id"], accounts=bob["name"], op="remove")
    assert template["id"] not in _ids(b, templatefilter="executable")

    a("updateTemplatePermissions", id=template["id"], ispublic="true")
    assert template["id"] in _ids(b, templatefilter="executable")
    assert template["id"] in _ids(b, templatefilter="community")
    assert template["id"] not in _ids(b, templatefilter="featured")
    admin("updateTemplatePermissions", id=template["id"], isfeatured="true")
    assert template["id"] in _ids(b, templatefilter="featured")
    assert template["id"] not in _ids(b, templatefilter="community")
    assert template["id"] in _ids(admin, templatefilter="all")

    with pytest.raises(ApiError) as err:  # visible, but not Bob's to change or delete
        b("updateTemplate", id=template["id"], name="stolen")
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:
        b("deleteTemplate", id=template["id"])
    assert err.value.status == 531
    a("updateTemplatePermissions", id=template["id"], op="reset")
    assert template["id"] not in _ids(b, templatefilter="executable")


def test_update_and_delete_template(cs_admin, admin, env, web):
    _, base = web
    template = register(admin, env, f"{base}/other.qcow2")
    wait_template(admin, template["id"])
    [path] = files_of(env, template["id"])
    updated = admin("updateTemplate", id=template["id"], name="renamed", displaytext="new text",
                    passwordenabled="true", ostypeid=_os_id(admin, "Other Linux (64-bit)"))["template"]
    assert (updated["name"], updated["displaytext"], updated["passwordenabled"]) == ("renamed", "new text", True)
    with pytest.raises(ApiError) as err:  # a template is not an ISO
        admin("updateIso", id=template["id"], name="x")
    assert err.value.status == 431
    assert cs_admin.deleteTemplate(id=template["id"])["success"] is True
    assert admin("listTemplates", templatefilter="self", id=template["id"]) == {}
    deadline = time.monotonic() + 10
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not path.exists() and not path.parent.exists()
    types = {e["type"] for e in admin("listEvents", pagesize=-1)["event"]}
    assert "TEMPLATE.DELETE" in types


def test_image_store_with_templates_cannot_be_deleted(admin, env):
    with pytest.raises(ApiError) as err:
        admin("deleteImageStore", id=env["store"]["id"])
    assert err.value.status == 431 and "active templates" in err.value.body["errortext"]


def test_iso_register_list_delete(admin, env, web, make_account):
    _, base = web
    with pytest.raises(ApiError) as err:  # a bootable ISO needs an OS type
        admin("registerIso", name="iso", displaytext="iso", url=f"{base}/boot.iso", zoneid=env["zone"]["id"])
    assert err.value.status == 431
    reply = admin("registerIso", name=unique("iso"), displaytext="boot", url=f"{base}/boot.iso",
                  zoneid=env["zone"]["id"], ostypeid=_os_id(admin, "Other (64-bit)"), ispublic="true")
    iso = reply["iso"][0]
    assert reply["count"] == 1 and iso["format"] == "ISO" and iso["bootable"] is True
    ready = wait_template(admin, iso["id"], iso=True)
    assert ready["isready"] and ready["size"] == 1 << 20
    assert iso["id"] not in _ids(admin, templatefilter="self")  # ISOs are not templates
    _, user = make_account()
    assert iso["id"] in {i["id"] for i in user("listIsos", isofilter="executable")["iso"]}
    assert iso["id"] in {i["id"] for i in user("listIsos", ispublic="true", isofilter="community")["iso"]}
    assert admin("listIsoPermissions", id=iso["id"])["isopermission"][0]["ispublic"] is True
    job = admin("deleteIso", id=iso["id"])["jobid"]
    assert admin.wait_job(job)["jobstatus"] == 1
    assert admin("listIsos", isofilter="self", id=iso["id"]) == {}


def test_os_types_and_categories(cs_admin, admin):
    types = cs_admin.listOsTypes(fetch_list=True)
    names = {t["description"] for t in types}
    assert {"Debian GNU/Linux 12 (64-bit)", "Other Linux (64-bit)", "Other PV (64-bit)"} <= names
    assert len(types) >= 30
    categories = {c["name"]: c["id"] for c in admin("listOsCategories")["oscategory"]}
    assert {"CentOS", "Debian", "Ubuntu", "Windows", "Other"} <= set(categories)
    debian = admin("listOsTypes", oscategoryid=categories["Debian"])["ostype"]
    assert all(t["oscategoryid"] == categories["Debian"] for t in debian) and len(debian) >= 3
    assert admin("listOsTypes", description="Other PV")["count"] == 2


def test_libcloud_lists_executable_templates(cloud, env, web, make_account):
    from libcloud.compute.providers import Provider, get_driver

    _, base = web
    _account, client = make_account()
    template = register(client, env, f"{base}/other.qcow2")
    wait_template(client, template["id"])
    driver = get_driver(Provider.CLOUDSTACK)(client.apikey, client.secret, secure=False, host="127.0.0.1",
                                             port=cloud.port, path="/client/api")
    images = {i.id: i for i in driver.list_images()}
    assert template["id"] in images
    assert images[template["id"]].extra["format"] == "QCOW2" and images[template["id"]].extra["hypervisor"] == "KVM"


def _os_id(admin, name: str) -> str:
    return admin("listOsTypes", description=name)["ostype"][0]["id"]
