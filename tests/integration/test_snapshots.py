"""Volume snapshots on a Simulator zone with a Local image store: the journeys with the cs library and CLI and
with Libcloud, volumes and templates made from snapshots and volumes, revert, snapshot policies run by the
periodic task, limits under concurrency, bad input, and faults (a host down, a backup failing mid-copy) with
the disk checked for leaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from cs import CloudStackApiException

from tests.conftest import unique
from tests.integration.test_templates import wait_template
from tests.integration.test_vms import build_zone, web  # noqa: F401  (module fixture)
from tests.support import ApiError, wait_until


@pytest.fixture(scope="module")
def env(admin, tmp_path_factory, web):  # noqa: F811
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    admin("updateConfiguration", name="snapshot.poll.interval", value="1")
    time.sleep(2.1)
    env = build_zone(admin, tmp_path_factory, web, hosts=2, host_query="cpus=8&cpu_speed=2000&memory_gb=16")
    env["small"] = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    store = admin("listImageStores", zoneid=env["zone"]["id"])["imagestore"][0]
    env["store"] = Path(urlparse(store["url"]).path)
    env["ostype"] = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
    yield env
    admin("resetConfiguration", name="snapshot.poll.interval")


def deploy(client, env, **extra) -> dict:
    params = {"zoneid": env["zone"]["id"], "serviceofferingid": env["small"]["id"], "templateid": env["template"]["id"]}
    reply = client("deployVirtualMachine", **(params | extra))
    return client.wait_job(reply["jobid"])["jobresult"]["virtualmachine"]


def root_volume(client, vm_id: str) -> dict:
    return client("listVolumes", virtualmachineid=vm_id, type="ROOT")["volume"][0]


def backups(env) -> list[Path]:
    return sorted(p for p in (env["store"] / "snapshots").glob("*/*/*") if p.is_file())


def snapshot_file(env, snapshot_id: str) -> list[Path]:
    return list((env["store"] / "snapshots").glob(f"*/*/{snapshot_id}.qcow2*"))


def job_error(client, jobid: str) -> dict:
    result = wait_until(lambda: (r := client("queryAsyncJobResult", jobid=jobid))["jobstatus"] != 0 and r,
                        timeout=120, what="the job to end")
    assert result["jobstatus"] == 2, result
    return result["jobresult"]


def snapshot_total(admin, account_id: str) -> tuple[int, int]:
    account = admin("listAccounts", id=account_id)["account"][0]
    return int(account["snapshottotal"]), int(account["secondarystoragetotal"])


def test_snapshot_journey_with_cs(cs_admin, admin, env):
    vm = deploy(admin, env, name=unique("snap"))
    volume = root_volume(admin, vm["id"])
    account_id = admin("listAccounts", name="admin")["account"][0]["id"]
    before = snapshot_total(admin, account_id)

    snap = cs_admin.createSnapshot(volumeid=volume["id"], name="first", fetch_result=True)["snapshot"]
    assert snap["state"] == "BackedUp" and snap["name"] == "first" and snap["snapshottype"] == "MANUAL"
    assert snap["volumeid"] == volume["id"] and snap["volumetype"] == "ROOT" and snap["zoneid"] == env["zone"]["id"]
    assert snap["virtualsize"] == volume["size"] and snap["physicalsize"] > 0 and snap["revertable"] is True
    [backup] = snapshot_file(env, snap["id"])
    assert backup.stat().st_size == snap["physicalsize"] and not list(backup.parent.glob("*.part"))
    assert [s["id"] for s in admin("listSnapshots", volumeid=volume["id"])["snapshot"]] == [snap["id"]]
    assert admin("listSnapshots", id=snap["id"])["snapshot"][0]["volumestate"] == "Ready"
    assert snapshot_total(admin, account_id)[0] == before[0] + 1
    events = {e["type"] for e in admin("listEvents", pagesize=-1)["event"]}
    assert "SNAPSHOT.CREATE" in events

    # a volume made from the snapshot (createVolume is the volumes domain's; it copies the backup to a pool)
    made = admin.wait_job(admin("createVolume", snapshotid=snap["id"], name=unique("fromsnap"))["jobid"])
    new_volume = made["jobresult"]["volume"]
    assert new_volume["size"] == volume["size"]

    # a template from the snapshot is deployable
    template = cs_admin.createTemplate(snapshotid=snap["id"], name=unique("tfs"), displaytext="from snapshot",
                                       ostypeid=env["ostype"], fetch_result=True)["template"]
    assert template["isready"] is True and template["size"] == volume["size"] and template["format"] == "QCOW2"
    assert list(env["store"].glob(f"template/tmpl/*/*/{template['id']}.qcow2"))
    child = deploy(admin, env, templateid=template["id"], name=unique("child"))
    assert child["state"] == "Running" and child["templateid"] == template["id"]

    # revert: only with the VM stopped
    with pytest.raises(CloudStackApiException) as err:
        cs_admin.revertSnapshot(id=snap["id"])
    assert err.value.error["errorcode"] == 431 and "stop it" in err.value.error["errortext"]
    admin.wait_job(admin("stopVirtualMachine", id=vm["id"])["jobid"])
    reverted = cs_admin.revertSnapshot(id=snap["id"], fetch_result=True)["snapshot"]
    assert reverted["id"] == snap["id"] and reverted["state"] == "BackedUp"
    assert root_volume(admin, vm["id"])["state"] == "Ready"

    # a template from the (stopped) VM's root volume, written by the host
    from_volume = cs_admin.createTemplate(volumeid=volume["id"], name=unique("tfv"), displaytext="from volume",
                                          ostypeid=env["ostype"], fetch_result=True)["template"]
    assert from_volume["isready"] is True and from_volume["size"] == volume["size"]
    assert "TEMPLATE.CREATE" in {e["type"] for e in admin("listEvents", type="TEMPLATE.CREATE")["event"]}

    with pytest.raises(CloudStackApiException) as err:  # the volume made from it is not on a pool yet
        cs_admin.deleteSnapshot(id=snap["id"])
    assert err.value.error["errorcode"] == 431 and snapshot_file(env, snap["id"])
    admin("deleteVolume", id=new_volume["id"])
    cs_admin.deleteSnapshot(id=snap["id"], fetch_result=True)
    assert not snapshot_file(env, snap["id"])
    assert admin("listSnapshots", id=snap["id"]).get("snapshot", []) == []
    assert snapshot_total(admin, account_id) == before
    assert "SNAPSHOT.DELETE" in {e["type"] for e in admin("listEvents", type="SNAPSHOT.DELETE")["event"]}


def test_cs_cli_and_extract(cloud, admin_keys, admin, env):
    """The cs command line: snapshot, list, template from it, extract (download URL served by us), delete."""
    cli_env = dict(os.environ, CLOUDSTACK_ENDPOINT=cloud.url, CLOUDSTACK_KEY=admin_keys[0],
                   CLOUDSTACK_SECRET=admin_keys[1])

    def cs(*args: str) -> dict:
        out = subprocess.run([str(Path(sys.executable).parent / "cs"), *args], env=cli_env, capture_output=True,
                             text=True, timeout=180)
        assert out.returncode == 0, out.stdout + out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    vm = deploy(admin, env, name=unique("cli"))
    volume = root_volume(admin, vm["id"])
    snap = cs("createSnapshot", f"volumeid={volume['id']}")["snapshot"]
    assert snap["state"] == "BackedUp"
    assert cs("listSnapshots", f"id={snap['id']}")["snapshot"][0]["volumeid"] == volume["id"]
    template = cs("createTemplate", f"snapshotid={snap['id']}", "name=cli-tpl", "displaytext=cli",
                  f"ostypeid={env['ostype']}")["template"]
    extract = cs("extractTemplate", f"id={template['id']}", "mode=HTTP_DOWNLOAD")["template"]
    assert extract["extractMode"] == "HTTP_DOWNLOAD" and extract["state"] == "DOWNLOAD_URL_CREATED"
    body = httpx.get(extract["url"], timeout=30).content
    [path] = env["store"].glob(f"template/tmpl/*/*/{template['id']}.qcow2")
    assert body == path.read_bytes()
    assert httpx.get(extract["url"].replace("/client/extract/", "/client/extract/x"), timeout=30).status_code == 404
    cs("deleteSnapshot", f"id={snap['id']}")
    assert not snapshot_file(env, snap["id"])


def test_libcloud_user_journey(admin, make_account, cloud, env):
    from libcloud.compute.providers import Provider, get_driver

    account, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    vm = deploy(user, env, name=unique("lc"))
    volume = next(v for v in driver.list_volumes() if v.extra.get("instance_id") == vm["id"]
                  or v.id == root_volume(user, vm["id"])["id"])
    snapshot = driver.create_volume_snapshot(volume)
    assert snapshot.id and snapshot.extra["volume_id"] == volume.id
    listed = [s for s in driver.list_snapshots() if s.extra["volume_id"] == volume.id]
    assert [s.id for s in listed] == [snapshot.id]
    assert user("listSnapshots", id=snapshot.id)["snapshot"][0]["account"] == account["name"]
    other = make_account()[1]
    with pytest.raises(ApiError) as err:  # another account can neither see nor use it
        other("createTemplate", snapshotid=snapshot.id, name="x", displaytext="x", ostypeid=env["ostype"])
    assert err.value.status == 531
    assert other("listSnapshots").get("snapshot", []) == []
    assert driver.destroy_volume_snapshot(snapshot)
    assert user("listSnapshots").get("snapshot", []) == []
    assert not snapshot_file(env, snapshot.id)


def test_bad_input(admin, make_account, env):
    vm = deploy(admin, env, name=unique("bad"))
    volume = root_volume(admin, vm["id"])
    cases = [
        ("createSnapshot", {}, "volumeid"),
        ("createSnapshot", {"volumeid": "8a7b1c2d-0000-4000-8000-000000000000"}, "volumeid"),
        ("createSnapshot", {"volumeid": volume["id"], "locationtype": "tape"}, "locationtype"),
        ("createSnapshotPolicy", {"volumeid": volume["id"], "intervaltype": "daily", "schedule": "99:01",
                                  "timezone": "UTC", "maxsnaps": "2"}, "schedule"),
        ("createSnapshotPolicy", {"volumeid": volume["id"], "intervaltype": "weekly", "schedule": "00:01:9",
                                  "timezone": "UTC", "maxsnaps": "2"}, "schedule"),
        ("createSnapshotPolicy", {"volumeid": volume["id"], "intervaltype": "yearly", "schedule": "00",
                                  "timezone": "UTC", "maxsnaps": "2"}, "intervaltype"),
        ("createSnapshotPolicy", {"volumeid": volume["id"], "intervaltype": "hourly", "schedule": "00",
                                  "timezone": "Moon/Base", "maxsnaps": "2"}, "timezone"),
        ("createSnapshotPolicy", {"volumeid": volume["id"], "intervaltype": "hourly", "schedule": "00",
                                  "timezone": "UTC", "maxsnaps": "0"}, "maxsnaps"),
        ("createSnapshotPolicy", {"volumeid": volume["id"], "intervaltype": "hourly", "schedule": "00",
                                  "timezone": "UTC", "maxsnaps": "500"}, "maxsnaps"),
        ("deleteSnapshot", {"id": "nope"}, "id"),
        ("revertSnapshot", {}, "id"),
        ("deleteSnapshotPolicies", {}, "id"),
        ("createTemplate", {"name": "t", "displaytext": "t", "ostypeid": env["ostype"]}, "volumeid"),
        ("createTemplate", {"name": "t", "displaytext": "t", "ostypeid": env["ostype"], "volumeid": volume["id"]},
         "volumeid"),  # its VM is running
        ("copyTemplate", {"id": env["template"]["id"]}, "destzoneid"),
        ("extractTemplate", {"id": env["template"]["id"], "mode": "FTP_UPLOAD"}, "mode"),
    ]
    for command, params, named in cases:
        with pytest.raises(ApiError) as err:
            admin(command, **params)
        assert err.value.status == 431, (command, params, err.value.body)
        text = json.dumps(err.value.body).lower()
        assert named in text, (command, params, err.value.body)
    _account, user = make_account()
    with pytest.raises(ApiError) as err:
        user("createSnapshot", volumeid=volume["id"])
    assert err.value.status == 531
    assert admin("listSnapshots", volumeid=volume["id"]).get("snapshot", []) == []  # nothing half-written


def test_backup_failing_mid_copy_leaves_error_and_no_leak(admin, env):
    vm = deploy(admin, env, name=unique("fault"))
    volume = root_volume(admin, vm["id"])
    account_id = admin("listAccounts", name="admin")["account"][0]["id"]
    before, files = snapshot_total(admin, account_id), backups(env)
    mock = admin("configureSimulator", hostid=vm["hostid"], name="BackupSnapshot",
                 value="wait:300;result:fail;message:secondary storage went away mid-copy", count="1")
    reply = admin("createSnapshot", volumeid=volume["id"])
    error = job_error(admin, reply["jobid"])
    assert error["errorcode"] == 534 and "secondary storage went away mid-copy" in error["errortext"]
    snap = admin("listSnapshots", id=reply["id"])["snapshot"][0]
    assert snap["state"] == "Error" and snap["revertable"] is False
    assert root_volume(admin, vm["id"])["state"] == "Ready"
    assert snapshot_total(admin, account_id) == before  # limits given back
    assert backups(env) == files and not list((env["store"] / "snapshots").glob("**/*.part"))
    admin("cleanupSimulatorMock", id=mock["mock"]["id"])
    with pytest.raises(ApiError) as err:  # an Error snapshot is not usable
        admin("createVolume", snapshotid=reply["id"], name="x")
    assert err.value.status == 431 and "snapshotid" in json.dumps(err.value.body)
    admin.wait_job(admin("deleteSnapshot", id=reply["id"])["jobid"])
    # and the volume can be snapshotted again
    again = admin.wait_job(admin("createSnapshot", volumeid=volume["id"])["jobid"])["jobresult"]["snapshot"]
    assert again["state"] == "BackedUp"
    admin.wait_job(admin("deleteSnapshot", id=again["id"])["jobid"])


def test_template_from_volume_failing_leaves_nothing(admin, env):
    vm = deploy(admin, env, name=unique("tfail"))
    admin.wait_job(admin("stopVirtualMachine", id=vm["id"])["jobid"])
    volume = root_volume(admin, vm["id"])
    mock = admin("configureSimulator", zoneid=env["zone"]["id"],
                 name="CreateTemplateImage", value="result:fail;message:qemu-img convert: I/O error", count="1")
    reply = admin("createTemplate", volumeid=volume["id"], name=unique("tf"), displaytext="x", ostypeid=env["ostype"])
    error = job_error(admin, reply["jobid"])
    assert error["errorcode"] == 534 and "I/O error" in error["errortext"]
    assert admin("listTemplates", templatefilter="self", id=reply["id"]).get("template", []) == []
    assert not list(env["store"].glob(f"template/tmpl/*/*/{reply['id']}.qcow2*"))
    admin("cleanupSimulatorMock", id=mock["mock"]["id"])


def test_snapshot_of_a_volume_whose_host_is_down(admin, env):
    admin("updateConfiguration", name="ping.interval", value="2")
    admin("updateConfiguration", name="ping.timeout", value="1.5")
    try:
        time.sleep(2.1)
        vm = deploy(admin, env, name=unique("down"), hostid=env["hosts"][1]["id"])
        volume = root_volume(admin, vm["id"])
        mock = admin("configureSimulator", hostid=vm["hostid"], name="Ping", value="result:fail")
        wait_until(lambda: admin("listHosts", id=vm["hostid"])["host"][0]["state"] in ("Alert", "Down"),
                   timeout=120, what="the host leaving Up")
        with pytest.raises(ApiError) as err:
            admin("createSnapshot", volumeid=volume["id"])
        text = json.dumps(err.value.body)
        assert err.value.status == 534 and ("is Alert" in text or "is Down" in text), err.value.body
        assert admin("listSnapshots", volumeid=volume["id"]).get("snapshot", []) == []
        admin("cleanupSimulatorMock", id=mock["mock"]["id"])
        wait_until(lambda: admin("listHosts", id=vm["hostid"])["host"][0]["state"] == "Up", timeout=120,
                   what="the host coming back")
    finally:
        admin("resetConfiguration", name="ping.interval")
        admin("resetConfiguration", name="ping.timeout")


def test_limits_hold_under_concurrency(admin, make_account, env):
    account, user = make_account()
    admin("updateResourceLimit", account=account["name"], domainid=account["domainid"], resourcetype="3", max="2")
    volumes = [root_volume(user, deploy(user, env, name=unique("lim"))["id"]) for _ in range(3)]
    replies: list = []

    def take(volume_id: str) -> None:
        try:
            replies.append(user("createSnapshot", volumeid=volume_id))
        except ApiError as error:
            replies.append(error)

    threads = [threading.Thread(target=take, args=(v["id"],)) for v in volumes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [r for r in replies if isinstance(r, dict)]
    refused = [r for r in replies if isinstance(r, ApiError)]
    assert len(accepted) == 2 and len(refused) == 1 and refused[0].status == 535
    for reply in accepted:
        assert user.wait_job(reply["jobid"])["jobresult"]["snapshot"]["state"] == "BackedUp"
    assert int(admin("listAccounts", id=account["id"])["account"][0]["snapshottotal"]) == 2
    snapped = {s["volumeid"] for s in user("listSnapshots")["snapshot"]}
    free = next(v for v in volumes if v["id"] not in snapped)
    with pytest.raises(ApiError) as err:  # still at the limit
        user("createSnapshot", volumeid=free["id"])
    assert err.value.status == 535
    gone = user("listSnapshots")["snapshot"][0]
    user.wait_job(user("deleteSnapshot", id=gone["id"])["jobid"])  # gives one back
    third = user.wait_job(user("createSnapshot", volumeid=free["id"])["jobid"])
    assert third["jobresult"]["snapshot"]["state"] == "BackedUp"
    ids = [s["id"] for s in user("listSnapshots")["snapshot"]]
    assert len(ids) == 2 and all(snapshot_file(env, i) for i in ids)
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
    assert not any(snapshot_file(env, i) for i in ids)  # deleteAccount takes its snapshots with it


def test_policy_takes_snapshots_and_keeps_maxsnaps(cloud, admin, env):
    from sqlalchemy import create_engine, text

    from management.settings import Settings

    vm = deploy(admin, env, name=unique("pol"))
    volume = root_volume(admin, vm["id"])
    policy = admin("createSnapshotPolicy", volumeid=volume["id"], intervaltype="HOURLY", schedule="15",
                   timezone="Europe/Paris", maxsnaps="1")["snapshotpolicy"]
    assert policy["intervaltype"] == 0 and policy["schedule"] == "15" and policy["maxsnaps"] == 1
    assert policy["timezone"] == "Europe/Paris" and policy["volumeid"] == volume["id"]
    same = admin("createSnapshotPolicy", volumeid=volume["id"], intervaltype="hourly", schedule="20",
                 timezone="Europe/Paris", maxsnaps="1")["snapshotpolicy"]
    assert same["id"] == policy["id"] and same["schedule"] == "20"  # one policy per interval type, updated
    daily = admin("createSnapshotPolicy", volumeid=volume["id"], intervaltype="DAILY", schedule="00:03",
                  timezone="UTC", maxsnaps="3")["snapshotpolicy"]
    listed = admin("listSnapshotPolicies", volumeid=volume["id"])["snapshotpolicy"]
    assert {p["id"] for p in listed} == {policy["id"], daily["id"]}
    admin("deleteSnapshotPolicies", ids=daily["id"])
    assert [p["id"] for p in admin("listSnapshotPolicies", volumeid=volume["id"])["snapshotpolicy"]] == [policy["id"]]

    settings = Settings(data_dir=cloud.data_dir, db_properties=cloud.env.get("CLOUDSTACK_DB_PROPERTIES"))
    engine = create_engine(settings.database_url("cloud"))

    def clock_reaches_schedule() -> None:  # as if the scheduled minute had come
        with engine.begin() as conn:
            conn.execute(text("UPDATE snapshot_policy SET next_run=:past WHERE uuid=:id"),
                         {"past": "2000-01-01 00:00:00", "id": policy["id"]})

    def hourly() -> list[dict]:
        return [s for s in admin("listSnapshots", volumeid=volume["id"]).get("snapshot", [])
                if s["snapshottype"] == "HOURLY"]

    try:
        clock_reaches_schedule()
        first = wait_until(lambda: [s for s in hourly() if s["state"] == "BackedUp"], timeout=120,
                           what="the scheduled snapshot")[0]
        assert first["intervaltype"] == "HOURLY"
        time.sleep(1.1)  # a later creation second than the first
        clock_reaches_schedule()
        wait_until(lambda: any(s["id"] != first["id"] and s["state"] == "BackedUp" for s in hourly()), timeout=120,
                   what="the second scheduled snapshot")
        wait_until(lambda: len(hourly()) == 1, timeout=60, what="maxsnaps=1 to remove the oldest")
        assert hourly()[0]["id"] != first["id"] and not snapshot_file(env, first["id"])
    finally:
        engine.dispose()
        admin("deleteSnapshotPolicies", id=policy["id"])
    assert admin("listSnapshotPolicies", volumeid=volume["id"]).get("snapshotpolicy", []) == []


def test_copy_template_between_zones(admin, tmp_path_factory, web, env):  # noqa: F811
    other = build_zone(admin, tmp_path_factory, web, hosts=1, with_template=False)
    reply = admin.wait_job(admin("copyTemplate", id=env["template"]["id"], sourcezoneid=env["zone"]["id"],
                                 destzoneid=other["zone"]["id"])["jobid"])
    copied = reply["jobresult"]["template"]
    assert copied["zoneid"] == other["zone"]["id"] and copied["isready"] is True
    ready = wait_template(admin, env["template"]["id"], zoneid=other["zone"]["id"])
    assert ready["isready"]
    vm = deploy(admin, {**env, "zone": other["zone"]}, name=unique("copied"))
    assert vm["state"] == "Running" and vm["zoneid"] == other["zone"]["id"]
    with pytest.raises(ApiError) as err:  # already there
        admin("copyTemplate", id=env["template"]["id"], destzoneid=other["zone"]["id"])
    assert err.value.status == 431


def test_storage_gc_removes_only_what_nothing_references(cloud, admin, env):
    from sqlalchemy import create_engine, text

    from management.settings import Settings

    settings = Settings(data_dir=cloud.data_dir, db_properties=cloud.env.get("CLOUDSTACK_DB_PROPERTIES"))
    engine = create_engine(settings.database_url("cloud"))

    def pool_copies() -> set[str]:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text(
                "SELECT t.uuid FROM template_spool_ref r JOIN vm_template t ON t.id = r.template_id"))}

    keeper = deploy(admin, env, name=unique("keep"))  # keeps the zone template's copy in use
    volume = root_volume(admin, keeper["id"])
    kept = admin.wait_job(admin("createSnapshot", volumeid=volume["id"])["jobid"])["jobresult"]["snapshot"]
    template = admin.wait_job(admin("createTemplate", snapshotid=kept["id"], name=unique("gc"), displaytext="gc",
                                    ostypeid=env["ostype"])["jobid"])["jobresult"]["template"]
    short = deploy(admin, env, templateid=template["id"], name=unique("short"))
    assert {template["id"], env["template"]["id"]} <= pool_copies()
    admin.wait_job(admin("destroyVirtualMachine", id=short["id"], expunge="true")["jobid"])
    stray = env["store"] / "snapshots" / "999" / "999" / "stray.qcow2"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left by a crash")
    old = time.time() - 3600
    os.utime(stray, (old, old))
    [backup] = snapshot_file(env, kept["id"])
    os.utime(backup, (old, old))
    admin("updateConfiguration", name="storage.cleanup.interval", value="2")
    try:
        wait_until(lambda: template["id"] not in pool_copies() and not stray.exists(), timeout=90,
                   what="the unused copy and the stray file to be collected")
        assert env["template"]["id"] in pool_copies()  # still used by running VMs
        assert backup.exists()  # a live snapshot's backup is never touched
        assert admin("listVirtualMachines", id=keeper["id"])["virtualmachine"][0]["state"] == "Running"
        again = deploy(admin, env, templateid=template["id"], name=unique("again"))  # copied again when needed
        assert again["state"] == "Running" and template["id"] in pool_copies()
    finally:
        admin("resetConfiguration", name="storage.cleanup.interval")
        engine.dispose()
    admin.wait_job(admin("deleteSnapshot", id=kept["id"])["jobid"])


def test_secondary_storage_limit_counts_snapshots_and_templates(admin, make_account, web, env):  # noqa: F811
    """secondary_storage (GiB) counts snapshot backups and template copies: createTemplate is refused when its
    estimate does not fit, a download that would pass the limit ends in error with nothing kept, and deleting
    gives the bytes back."""
    account, user = make_account()
    limit = partial(admin, "updateResourceLimit", account=account["name"], domainid=account["domainid"],
                    resourcetype="11")
    limit(max="3")
    vm = deploy(user, env, name=unique("sec"), rootdisksize="2")
    user.wait_job(user("stopVirtualMachine", id=vm["id"])["jobid"])
    snap = user.wait_job(user("createSnapshot", volumeid=root_volume(user, vm["id"])["id"])["jobid"])
    snap = snap["jobresult"]["snapshot"]
    assert snapshot_total(admin, account["id"])[1] == 2
    with pytest.raises(ApiError) as err:  # 2 GiB more would not fit in 3
        user("createTemplate", snapshotid=snap["id"], name=unique("t"), displaytext="x", ostypeid=env["ostype"])
    assert err.value.status == 535 and "secondary_storage" in err.value.body["errortext"]
    limit(max="5")
    made = user.wait_job(user("createTemplate", snapshotid=snap["id"], name=unique("t"), displaytext="x",
                              ostypeid=env["ostype"])["jobid"])["jobresult"]["template"]
    assert made["isready"] and snapshot_total(admin, account["id"])[1] == 2  # the real (small) size is kept

    limit(max="2")  # already full: a download has no room
    ostype = env["ostype"]
    late = user("registerTemplate", name=unique("dl"), displaytext="x", format="QCOW2", hypervisor="Simulator",
                zoneid=env["zone"]["id"], ostypeid=ostype, url=f"{web}/tiny.qcow2")["template"][0]
    failed = wait_template(user, late["id"])
    assert not failed["isready"] and "secondary_storage" in failed["status"]
    assert not list(env["store"].glob(f"template/tmpl/*/*/{late['id']}.*"))

    user.wait_job(user("deleteTemplate", id=made["id"])["jobid"])
    user.wait_job(user("deleteSnapshot", id=snap["id"])["jobid"])
    assert snapshot_total(admin, account["id"])[1] == 0
    again = user("registerTemplate", name=unique("dl"), displaytext="x", format="QCOW2", hypervisor="Simulator",
                 zoneid=env["zone"]["id"], ostypeid=ostype, url=f"{web}/tiny.qcow2")["template"][0]
    assert wait_template(user, again["id"])["isready"]
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
