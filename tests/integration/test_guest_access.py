"""Guest access on a Simulator zone: SSH key pairs (cs as admin, Libcloud as a user), deploy with key pairs
and user data, passwords (stored encrypted, getVMPassword decryptable with the private key), password and
SSH key resets, attachIso/detachIso, and bad input that changes nothing."""

from __future__ import annotations

import base64
import hashlib
import http.server
import shutil
import sqlite3
import subprocess
import threading
import time
from functools import partial
from urllib.parse import urlparse

import pymysql
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from agent.hypervisor.guest import write_iso
from tests.conftest import unique
from tests.integration.test_templates import Handler, qcow2_bytes, wait_template
from tests.integration.test_vms import build_zone
from tests.support import MYSQL, ApiError


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A local web server with a tiny template and a small ISO."""
    root = tmp_path_factory.mktemp("guestweb")
    (root / "tiny.qcow2").write_bytes(qcow2_bytes(1 << 20))
    write_iso(str(root / "tools.iso"), "TOOLS", {"readme.txt": b"hello from an ISO\n"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def env(admin, tmp_path_factory, web):
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    time.sleep(2.1)
    env = build_zone(admin, tmp_path_factory, web, hosts=1, host_query="cpus=8&cpu_speed=2000&memory_gb=16")
    env["small"] = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    ostype = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
    env["pw_template"] = admin("registerTemplate", name=unique("pw"), displaytext="password enabled",
                               format="QCOW2", hypervisor="Simulator", zoneid=env["zone"]["id"], ispublic="true",
                               ostypeid=ostype, passwordenabled="true",
                               url=f"{web}/tiny.qcow2")["template"][0]
    assert wait_template(admin, env["pw_template"]["id"])["isready"]
    return env


def md5_fingerprint(public_line: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_line.split()[1])).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def new_rsa() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return key, public.decode() + " tester@example"


def decrypt(private_pem: str | rsa.RSAPrivateKey, encrypted: str) -> str:
    key = private_pem if isinstance(private_pem, rsa.RSAPrivateKey) else \
        serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.decrypt(base64.b64decode(encrypted), padding.PKCS1v15()).decode()


def stored_password(cloud, vm_uuid: str) -> str | None:
    """vm_instance.password as stored in the database."""
    if cloud.databases:
        conn = pymysql.connect(**MYSQL, database=cloud.databases[0])
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT password FROM vm_instance WHERE uuid=%s", (vm_uuid,))
                return cur.fetchone()[0]
        finally:
            conn.close()
    conn = sqlite3.connect(cloud.data_dir / "cloud.db")
    try:
        return conn.execute("SELECT password FROM vm_instance WHERE uuid=?", (vm_uuid,)).fetchone()[0]
    finally:
        conn.close()


def deploy(client, env, template="template", **extra) -> dict:
    reply = client("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                   templateid=env[template]["id"], **extra)
    result = client.wait_job(reply["jobid"])
    assert result["jobstatus"] == 1, result.get("jobresult")
    return result["jobresult"]["virtualmachine"]


def job(client, command, **params) -> dict:
    result = client.wait_job(client(command, **params)["jobid"])
    assert result["jobstatus"] == 1, result.get("jobresult")
    return result["jobresult"]


def vm_count(admin) -> int:
    return admin("listVirtualMachines", listall="true").get("count", 0)


def test_key_pairs_with_cs(cs_admin, admin, tmp_path):
    name = unique("kp")
    created = cs_admin.createSSHKeyPair(name=name)["keypair"]
    assert created["name"] == name and created["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(created["privatekey"].encode(), password=None)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    assert created["fingerprint"] == md5_fingerprint(public) and created["account"] == "admin"
    listed = cs_admin.listSSHKeyPairs(name=name)["sshkeypair"]
    assert [k["fingerprint"] for k in listed] == [created["fingerprint"]] and "privatekey" not in listed[0]

    _key, line = new_rsa()
    other = unique("imp")
    registered = cs_admin.registerSSHKeyPair(name=other, publickey=line)["keypair"]
    assert registered["fingerprint"] == md5_fingerprint(line) and "privatekey" not in registered
    if shutil.which("ssh-keygen"):  # the classic OpenSSH MD5 form, without its "MD5:" prefix
        (tmp_path / "key.pub").write_text(line + "\n")
        shown = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(tmp_path / "key.pub")],
                               capture_output=True, text=True, check=True).stdout.split()[1]
        assert shown == "MD5:" + registered["fingerprint"]
    assert cs_admin.listSSHKeyPairs(fingerprint=md5_fingerprint(line))["sshkeypair"][0]["name"] == other
    assert cs_admin.listSSHKeyPairs(id=registered["id"])["sshkeypair"][0]["name"] == other

    for bad in (dict(name=other, publickey=new_rsa()[1]), dict(name=unique("dup"), publickey=line),
                dict(name=unique("bad"), publickey="ssh-rsa not-base64!"),
                dict(name=unique("bad"), publickey="ssh-rsa " + base64.b64encode(b"garbage").decode()),
                dict(name=unique("bad"), publickey="hello world")):
        with pytest.raises(ApiError) as err:
            admin("registerSSHKeyPair", **bad)
        assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        admin("registerSSHKeyPair", name=unique("bad"), publickey="ssh-rsa AAAA")
    assert err.value.status == 431 and "publickey" in err.value.body["errortext"]
    with pytest.raises(ApiError) as err:
        admin("createSSHKeyPair", name=name)
    assert err.value.status == 431
    names = {k["name"] for k in admin("listSSHKeyPairs").get("sshkeypair", [])}
    assert {name, other} <= names and not any(n.startswith(("dup", "bad")) for n in names)

    assert cs_admin.deleteSSHKeyPair(name=other)["success"] == "true"
    with pytest.raises(ApiError) as err:
        admin("deleteSSHKeyPair", name=other)
    assert err.value.status == 431
    assert admin("listSSHKeyPairs", name=other).get("count", 0) == 0


def test_key_pairs_with_libcloud_are_per_account(admin, make_account, cloud):
    from libcloud.compute.providers import Provider, get_driver

    account, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    created = driver.create_key_pair(name="lc-made")
    assert created.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----") and created.fingerprint
    _key, line = new_rsa()
    imported = driver.import_key_pair_from_string("lc-imported", line)
    assert imported.fingerprint == md5_fingerprint(line)
    assert sorted(k.name for k in driver.list_key_pairs()) == ["lc-imported", "lc-made"]
    assert driver.get_key_pair("lc-imported").fingerprint == imported.fingerprint
    # another account may use the same names; the user sees only their own keys
    admin_names = {k["name"] for k in admin("listSSHKeyPairs").get("sshkeypair", [])}
    assert "lc-made" not in admin_names
    seen = admin("listSSHKeyPairs", account=account["name"], domainid=account["domainid"])["sshkeypair"]
    assert {k["name"] for k in seen} == {"lc-made", "lc-imported"}
    assert driver.delete_key_pair(imported) is True  # Libcloud compares CloudStack's sync "success": "true"
    assert [k.name for k in driver.list_key_pairs()] == ["lc-made"]


def test_deploy_with_key_pair_user_data_and_passwords(admin, cloud, env):
    made = admin("createSSHKeyPair", name=unique("vmkey"))["keypair"]
    user_data = base64.b64encode(b"#cloud-config\nruncmd: [echo hello]\n").decode()
    vm = deploy(admin, env, template="pw_template", keypair=made["name"], userdata=user_data, name=unique("g"))
    assert vm["state"] == "Running" and vm["keypairs"] == made["name"] and vm["passwordenabled"] is True
    password = vm["password"]
    assert len(password) >= 6
    stored = stored_password(cloud, vm["id"])
    assert stored and stored.startswith("enc:v1:") and password not in stored  # encrypted at rest
    listed = admin("listVirtualMachines", id=vm["id"], userdata="true")["virtualmachine"][0]
    assert listed["userdata"] == user_data and "password" not in listed
    encrypted = admin("getVMPassword", id=vm["id"])["password"]["encryptedpassword"]
    assert decrypt(made["privatekey"], encrypted) == password

    # resetPasswordForVirtualMachine: Stopped VMs only
    with pytest.raises(ApiError) as err:
        admin("resetPasswordForVirtualMachine", id=vm["id"])
    assert err.value.status == 431
    job(admin, "stopVirtualMachine", id=vm["id"])
    reset = job(admin, "resetPasswordForVirtualMachine", id=vm["id"])["virtualmachine"]
    assert reset["password"] and reset["password"] != password
    encrypted = admin("getVMPassword", id=vm["id"])["password"]["encryptedpassword"]
    assert decrypt(made["privatekey"], encrypted) == reset["password"]

    # resetSSHKeyForVirtualMachine: new key, and a new password for a password-enabled template
    key, line = new_rsa()
    other = admin("registerSSHKeyPair", name=unique("vmkey2"), publickey=line)["keypair"]
    rekeyed = job(admin, "resetSSHKeyForVirtualMachine", id=vm["id"], keypair=other["name"])["virtualmachine"]
    assert rekeyed["keypairs"] == other["name"] and rekeyed["password"] not in (None, reset["password"])
    encrypted = admin("getVMPassword", id=vm["id"])["password"]["encryptedpassword"]
    assert decrypt(key, encrypted) == rekeyed["password"]
    events = {e["type"] for e in admin("listEvents", pagesize=500, page=1)["event"]}
    assert {"VM.RESETPASSWORD", "VM.RESETSSHKEY"} <= events

    # updateVirtualMachine user data: replaced when valid, untouched when over the limit
    new_data = base64.b64encode(b"#!/bin/sh\necho updated\n").decode()
    assert admin("updateVirtualMachine", id=vm["id"], userdata=new_data)["virtualmachine"]["id"] == vm["id"]
    big = base64.b64encode(b"x" * 40000).decode()
    reply = admin.raw("updateVirtualMachine", method="POST", id=vm["id"], userdata=big)
    assert reply.status_code == 431 and "User data" in reply.text
    assert admin("listVirtualMachines", id=vm["id"], userdata="true")["virtualmachine"][0]["userdata"] == new_data
    assert job(admin, "startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
    job(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")


def test_reset_ssh_key_refuses_bad_requests(admin, make_account, env):
    made = admin("createSSHKeyPair", name=unique("rk"))["keypair"]
    vm = deploy(admin, env)
    assert "password" not in vm  # not a password-enabled template
    with pytest.raises(ApiError) as err:  # Running
        admin("resetSSHKeyForVirtualMachine", id=vm["id"], keypair=made["name"])
    assert err.value.status == 431
    job(admin, "stopVirtualMachine", id=vm["id"])
    for params in ({"keypair": "no-such-key"}, {}):
        with pytest.raises(ApiError) as err:
            admin("resetSSHKeyForVirtualMachine", id=vm["id"], **params)
        assert err.value.status == 431
    with pytest.raises(ApiError) as err:  # no key, no password: nothing to encrypt
        admin("getVMPassword", id=vm["id"])
    assert err.value.status == 431
    rekeyed = job(admin, "resetSSHKeyForVirtualMachine", id=vm["id"], keypairs=made["name"])["virtualmachine"]
    assert rekeyed["keypairs"] == made["name"] and "password" not in rekeyed
    listed = admin("listVirtualMachines", keypair=made["name"]).get("virtualmachine", [])
    assert [v["id"] for v in listed] == [vm["id"]]
    assert admin("listVirtualMachines", keypair=made["name"][:-2]).get("count", 0) == 0  # names, not substrings
    _account, user = make_account()
    with pytest.raises(ApiError) as err:  # another account's VM
        user("resetSSHKeyForVirtualMachine", id=vm["id"], keypair=made["name"])
    assert err.value.status in (431, 531)
    job(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")


def test_bad_deploys_change_nothing(admin, env):
    before = vm_count(admin)
    with pytest.raises(ApiError) as err:
        admin("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
              templateid=env["template"]["id"], keypair="no-such-key")
    assert err.value.status == 431 and "keypair" in err.value.body["errortext"]
    big = base64.b64encode(b"y" * 40000).decode()  # over vm.userdata.max.length (32768)
    reply = admin.raw("deployVirtualMachine", method="POST", zoneid=env["zone"]["id"],
                      serviceofferingid=env["small"]["id"], templateid=env["template"]["id"], userdata=big)
    assert reply.status_code == 431 and "max length" in reply.text
    for bad in ("not base64!", "===="):
        with pytest.raises(ApiError) as err:
            admin("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                  templateid=env["template"]["id"], userdata=bad)
        assert err.value.status == 431
    assert vm_count(admin) == before


def test_attach_and_detach_iso(admin, env, web):
    ostype = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
    iso = admin("registerIso", name=unique("iso"), displaytext="tools", zoneid=env["zone"]["id"], ostypeid=ostype,
                url=f"{web}/tools.iso", ispublic="true")["iso"][0]
    assert wait_template(admin, iso["id"], iso=True)["isready"]
    vm = deploy(admin, env)
    attached = job(admin, "attachIso", id=iso["id"], virtualmachineid=vm["id"])["virtualmachine"]
    assert attached["isoid"] == iso["id"] and attached["isoname"] == iso["name"]
    with pytest.raises(ApiError) as err:  # one ISO at a time
        admin("attachIso", id=iso["id"], virtualmachineid=vm["id"])
    assert err.value.status == 431
    detached = job(admin, "detachIso", virtualmachineid=vm["id"])["virtualmachine"]
    assert "isoid" not in detached
    with pytest.raises(ApiError) as err:
        admin("detachIso", virtualmachineid=vm["id"])
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:  # a template is not an ISO
        admin("attachIso", id=env["template"]["id"], virtualmachineid=vm["id"])
    assert err.value.status == 431
    job(admin, "stopVirtualMachine", id=vm["id"])  # Stopped: recorded, the ISO is on the CD-ROM at next start
    assert job(admin, "attachIso", id=iso["id"], virtualmachineid=vm["id"])["virtualmachine"]["isoid"] == iso["id"]
    started = job(admin, "startVirtualMachine", id=vm["id"])["virtualmachine"]
    assert started["state"] == "Running" and started["isoid"] == iso["id"]
    events = {e["type"] for e in admin("listEvents", pagesize=500, page=1)["event"]}
    assert {"ISO.ATTACH", "ISO.DETACH"} <= events
    job(admin, "destroyVirtualMachine", id=vm["id"], expunge="true")
