"""Virtual machines on a Simulator zone built through the API: deploy (cs with fetch_result, Libcloud as a
user), the lifecycle, listing scope, capacity, limits, bad input, and host faults (configureSimulator)."""

from __future__ import annotations

import http.server
import ipaddress
import threading
import time
from functools import partial
from urllib.parse import urlparse

import pytest
from cs import CloudStackApiException

from tests.conftest import unique
from tests.integration.test_templates import Handler, qcow2_bytes, wait_template
from tests.support import ApiError, wait_until

GIB = 1 << 30
GUEST_START, GUEST_END = "10.31.0.100", "10.31.0.119"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("vmweb")
    (root / "tiny.qcow2").write_bytes(qcow2_bytes(1 << 20))
    (root / "boot.iso").write_bytes(b"\0" * (1 << 20))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def build_zone(admin, tmp_path_factory, web, *, hosts: int, host_query: str = "cpus=2&cpu_speed=1000&memory_gb=2",
               with_template=True) -> dict:
    name = unique("vmz")
    zone = admin("createZone", name=name, networktype="Basic", securitygroupenabled="true", dns1="192.0.2.53",
                 internaldns1="192.0.2.54")["zone"]
    pod = admin("createPod", zoneid=zone["id"], name=f"{name}-pod", gateway="10.31.0.1", netmask="255.255.255.0",
                startip="10.31.0.10", endip="10.31.0.50")["pod"]
    admin("createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false", gateway="10.31.0.1",
          netmask="255.255.255.0", startip=GUEST_START, endip=GUEST_END)
    cluster = admin("addCluster", zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-c1",
                    clustertype="CloudManaged", hypervisor="Simulator")["cluster"][0]
    made = [admin("addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator",
                  url=f"http://sim/{name}/h{i}?{host_query}", username="root", password="x")["host"][0]
            for i in range(hosts)]
    pool = admin("createStoragePool", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=f"{name}-pri",
                 url=f"nfs://192.0.2.10/export/{name}", scope="cluster")["storagepool"]
    folder = tmp_path_factory.mktemp("vmsec")
    admin("addImageStore", provider="Local", url=f"file://{folder}", zoneid=zone["id"], name=f"{name}-sec")
    admin("updateZone", id=zone["id"], allocationstate="Enabled")
    env = {"zone": zone, "pod": pod, "cluster": cluster, "hosts": made, "pool": pool}
    if with_template:
        ostype = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
        template = admin("registerTemplate", name=f"{name}-tpl", displaytext="tiny", format="QCOW2",
                         hypervisor="Simulator", zoneid=zone["id"], ispublic="true", ostypeid=ostype,
                         url=f"{web}/tiny.qcow2")["template"][0]
        assert wait_template(admin, template["id"])["isready"]
        env["template"] = template
    return env


@pytest.fixture(scope="module")
def env(admin, tmp_path_factory, web):
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    time.sleep(2.1)
    env = build_zone(admin, tmp_path_factory, web, hosts=2)
    env["small"] = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    return env


MEASURED = {6}  # secondary storage used: the image store's file system as df sees it (other writers move it)


def capacity(admin, zone_id) -> dict[int, int]:
    """Used capacity by type, without the figures measured from a file system shared with everything else."""
    return {c["type"]: c["capacityused"] for c in admin("listCapacity", zoneid=zone_id)["capacity"]
            if c["type"] not in MEASURED}


def host_allocations(admin, zone_id) -> dict[str, tuple[int, int]]:
    return {h["id"]: (h["cpuallocatedvalue"], h["memoryallocatedbytes"])
            for h in admin("listHosts", zoneid=zone_id, type="Routing")["host"]}


def has_api(admin, name: str) -> bool:
    try:
        return bool(admin("listApis", name=name).get("count", 0))
    except ApiError:
        return False


def in_range(address: str) -> bool:
    return ipaddress.ip_address(GUEST_START) <= ipaddress.ip_address(address) <= ipaddress.ip_address(GUEST_END)


def deploy(client, env, **extra) -> dict:
    reply = client("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                   templateid=env["template"]["id"], **extra)
    assert reply["id"] and reply["jobid"]
    return client.wait_job(reply["jobid"])


def test_admin_deploys_and_drives_the_lifecycle(cs_admin, admin, env):
    zone_id = env["zone"]["id"]
    before = capacity(admin, zone_id)
    vm = cs_admin.deployVirtualMachine(zoneid=zone_id, serviceofferingid=env["small"]["id"],
                                       templateid=env["template"]["id"], name=unique("web"),
                                       displayname="web server")["virtualmachine"]
    assert vm["state"] == "Running" and vm["displayname"] == "web server"
    assert vm["cpunumber"] == 1 and vm["cpuspeed"] == 500 and vm["memory"] == 512
    assert vm["serviceofferingname"] == "Small Instance" and vm["templateid"] == env["template"]["id"]
    assert vm["hostid"] in {h["id"] for h in env["hosts"]} and vm["instancename"].startswith("i-")
    [nic] = vm["nic"]
    assert in_range(nic["ipaddress"]) and nic["macaddress"].startswith("02:00:") and nic["isdefault"] is True
    assert nic["gateway"] == "10.31.0.1" and nic["netmask"] == "255.255.255.0"
    network = admin("listNetworks", zoneid=zone_id)["network"][0]  # the Basic zone's shared guest network
    assert nic["networkid"] == network["id"] and nic["networkname"] == network["name"]
    assert [g["name"] for g in vm["securitygroup"]] == ["default"]  # an SG zone: no group given = default
    default = vm["securitygroup"][0]["id"]
    assert vm["id"] in {v["id"] for v in admin("listVirtualMachines", securitygroupid=default)["virtualmachine"]}
    assert "publicip" not in vm
    after = capacity(admin, zone_id)
    assert after[1] == before[1] + 500 and after[0] == before[0] + 512 * 1024 * 1024
    assert host_allocations(admin, zone_id)[vm["hostid"]][0] >= 500
    assert any(e["type"] == "VM.START" for e in admin("listEvents", type="VM.START")["event"])

    vm = cs_admin.stopVirtualMachine(id=vm["id"])["virtualmachine"]
    assert vm["state"] == "Stopped" and "hostid" not in vm
    assert capacity(admin, zone_id)[1] == before[1]
    assert vm["nic"][0]["ipaddress"] == nic["ipaddress"]  # a stopped VM keeps its address
    vm = cs_admin.startVirtualMachine(id=vm["id"])["virtualmachine"]
    assert vm["state"] == "Running"
    vm = cs_admin.rebootVirtualMachine(id=vm["id"])["virtualmachine"]
    assert vm["state"] == "Running"
    with pytest.raises(CloudStackApiException):
        cs_admin.startVirtualMachine(id=vm["id"])
    vm = cs_admin.destroyVirtualMachine(id=vm["id"])["virtualmachine"]
    assert vm["state"] == "Destroyed"
    assert capacity(admin, zone_id)[1] == before[1]
    vm = cs_admin.recoverVirtualMachine(id=vm["id"])["virtualmachine"]
    assert vm["state"] == "Stopped"
    updated = cs_admin.updateVirtualMachine(id=vm["id"], displayname="renamed", haenable="true")["virtualmachine"]
    assert updated["displayname"] == "renamed" and updated["haenable"] is True
    cs_admin.destroyVirtualMachine(id=vm["id"])
    assert cs_admin.expungeVirtualMachine(id=vm["id"])["success"] is True
    assert admin("listVirtualMachines", id=vm["id"]).get("count", 0) == 0
    assert capacity(admin, zone_id) == before  # CPU, memory, addresses back where they were
    types = {e["type"] for e in admin("listEvents", pagesize=500, page=1)["event"]}
    assert {"VM.CREATE", "VM.START", "VM.STOP", "VM.REBOOT", "VM.DESTROY", "VM.RECOVER", "VM.EXPUNGE"} <= types


def test_user_deploys_with_libcloud_and_sees_only_their_own(admin, make_account, cloud, env):
    from libcloud.compute.providers import Provider, get_driver

    account, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    location = next(loc for loc in driver.list_locations() if loc.id == env["zone"]["id"])
    size = next(s for s in driver.list_sizes() if s.name == "Small Instance")
    image = next(i for i in driver.list_images(location=location) if i.id == env["template"]["id"])
    name = unique("lc")
    node = driver.create_node(name=name, size=size, image=image, location=location, ex_start_vm=True)
    assert node.name == name and node.state.lower() == "running"
    assert in_range(node.private_ips[0])
    if has_api(admin, "listPublicIpAddresses"):
        nodes = driver.list_nodes()
    else:  # list_nodes also asks listPublicIpAddresses (networking issue): read the VMs as it does
        nodes = [driver._to_node(data=v) for v in driver._sync_request("listVirtualMachines")["virtualmachine"]]
    assert [n.id for n in nodes] == [node.id] and nodes[0].private_ips == node.private_ips
    assert driver.reboot_node(node)

    mine = user("listVirtualMachines")["virtualmachine"]
    assert [v["id"] for v in mine] == [node.id] and mine[0]["account"] == account["name"]
    assert "hostid" not in mine[0] and "instancename" not in mine[0] and "hostname" not in mine[0]
    other = admin("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                  templateid=env["template"]["id"])
    admin.wait_job(other["jobid"])
    assert other["id"] not in {v["id"] for v in user("listVirtualMachines", listall="true")["virtualmachine"]}
    with pytest.raises(ApiError) as err:
        user("stopVirtualMachine", id=other["id"])
    assert err.value.status == 531
    assert node.id in {v["id"] for v in admin("listVirtualMachines", listall="true")["virtualmachine"]}

    assert driver.destroy_node(node)
    assert user("listVirtualMachines").get("count", 0) == 0  # destroyed: hidden from the user
    assert user("listVirtualMachines", state="Destroyed")["virtualmachine"][0]["id"] == node.id
    admin.wait_job(admin("destroyVirtualMachine", id=other["id"], expunge="true")["jobid"])
    deleted = admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"])
    assert deleted["jobstatus"] == 1, deleted
    assert admin("listVirtualMachines", id=node.id, listall="true").get("count", 0) == 0  # expunged with it


def test_vm_limit_refuses_the_second_deploy_and_leaves_nothing(admin, make_account, env):
    account, user = make_account()
    admin("updateResourceLimit", account=account["name"], domainid=account["domainid"], resourcetype=0, max=1)
    first = deploy(user, env)
    assert first["jobstatus"] == 1, first
    vms_before = admin("listVirtualMachines", listall="true").get("count", 0)
    ips_before = capacity(admin, env["zone"]["id"])
    with pytest.raises(ApiError) as err:
        user("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
             templateid=env["template"]["id"])
    assert err.value.status == 535 and "user_vm" in err.value.body["errortext"]
    assert admin("listVirtualMachines", listall="true").get("count", 0) == vms_before
    assert capacity(admin, env["zone"]["id"]) == ips_before
    admin.wait_job(admin("destroyVirtualMachine", id=first["jobresult"]["virtualmachine"]["id"],
                         expunge="true")["jobid"])


def test_bad_input_is_refused_with_431(admin, env):
    good = {"zoneid": env["zone"]["id"], "serviceofferingid": env["small"]["id"], "templateid": env["template"]["id"]}
    for key in good:
        with pytest.raises(ApiError) as err:
            admin("deployVirtualMachine", **(good | {key: "6f1b4c2e-0000-4000-8000-000000000000"}))
        assert err.value.status == 431, key
        with pytest.raises(ApiError) as err:
            admin("deployVirtualMachine", **{k: v for k, v in good.items() if k != key})
        assert err.value.status == 431 and key in err.value.body["errortext"]
    for bad in ({"name": "-bad-"}, {"userdata": "not base64!"}, {"rootdisksize": "0"}):
        with pytest.raises(ApiError) as err:
            admin("deployVirtualMachine", **good, **bad)
        assert err.value.status == 431, bad


def test_deploy_from_an_iso_gets_a_blank_root_disk_and_the_iso(admin, env, web):
    ostype = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
    iso = admin("registerIso", name=unique("iso"), displaytext="installer", url=f"{web}/boot.iso",
                zoneid=env["zone"]["id"], ostypeid=ostype, ispublic="true")["iso"][0]
    assert wait_template(admin, iso["id"], iso=True)["isready"]
    disk = admin("listDiskOfferings", name="Small")["diskoffering"][0]
    good = {"zoneid": env["zone"]["id"], "serviceofferingid": env["small"]["id"], "templateid": iso["id"],
            "hypervisor": "Simulator"}
    before = admin("listVirtualMachines", listall="true").get("count", 0)
    for bad, text in (({}, "requires a disk offering"), ({"diskofferingid": disk["id"], "hypervisor": "Xen"},
                                                         "hypervisor")):
        with pytest.raises(ApiError) as err:
            admin("deployVirtualMachine", **(good | bad))
        assert err.value.status == 431 and text in err.value.body["errortext"]
    assert admin("listVirtualMachines", listall="true").get("count", 0) == before
    reply = admin("deployVirtualMachine", **good, diskofferingid=disk["id"])
    vm = admin.wait_job(reply["jobid"])["jobresult"]["virtualmachine"]
    assert vm["state"] == "Running" and vm["templateid"] == iso["id"] and vm["isoid"] == iso["id"]
    root = admin("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert root["size"] == disk["disksize"] * (1 << 30)
    assert not admin("listVolumes", virtualmachineid=vm["id"], type="DATADISK").get("volume")
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])


def test_zone_without_room_fails_with_533_and_releases_everything(admin, tmp_path_factory, web, env):
    tiny = build_zone(admin, tmp_path_factory, web, hosts=1, host_query="cpus=1&cpu_speed=200&memory_gb=1",
                      with_template=False)
    template = admin("registerTemplate", name=unique("tpl"), displaytext="tiny", format="QCOW2",
                     hypervisor="Simulator", zoneid=tiny["zone"]["id"], ispublic="true", url=f"{web}/tiny.qcow2",
                     ostypeid=admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"])
    assert wait_template(admin, template["template"][0]["id"])["isready"]
    before = capacity(admin, tiny["zone"]["id"])
    reply = admin("deployVirtualMachine", zoneid=tiny["zone"]["id"], serviceofferingid=env["small"]["id"],
                  templateid=template["template"][0]["id"])
    result = admin.wait_job(reply["jobid"])
    assert result["jobstatus"] == 2 and result["jobresultcode"] == 533, result
    assert "Unable to create a deployment" in result["jobresult"]["errortext"]
    vm = admin("listVirtualMachines", id=reply["id"])["virtualmachine"][0]
    assert vm["state"] == "Error" and not vm["nic"][0].get("ipaddress")
    assert capacity(admin, tiny["zone"]["id"]) == before


def test_failing_host_is_avoided_and_all_failing_fails_cleanly(admin, env):
    first, second = env["hosts"]
    admin("updateConfiguration", name="vm.allocation.algorithm", value="firstfit")
    mock = admin("configureSimulator", hostid=first["id"], name="StartVm",
                 value="result:fail;message:simulated start failure")["mock"]
    try:
        time.sleep(2.1)
        result = deploy(admin, env)
        assert result["jobstatus"] == 1, result
        vm = result["jobresult"]["virtualmachine"]
        assert vm["state"] == "Running" and vm["hostid"] == second["id"]
        admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])

        before, allocations = capacity(admin, env["zone"]["id"]), host_allocations(admin, env["zone"]["id"])
        everywhere = admin("configureSimulator", clusterid=env["cluster"]["id"], name="StartVm",
                           value="result:fail")["mock"]
        try:
            reply = admin("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                          templateid=env["template"]["id"])
            result = admin.wait_job(reply["jobid"])
            assert result["jobstatus"] == 2 and result["jobresultcode"] == 533, result
            vm = admin("listVirtualMachines", id=reply["id"])["virtualmachine"][0]
            assert vm["state"] == "Error" and not vm["nic"][0].get("ipaddress")
            assert capacity(admin, env["zone"]["id"]) == before
            assert host_allocations(admin, env["zone"]["id"]) == allocations
            admin.wait_job(admin("destroyVirtualMachine", id=vm["id"])["jobid"])
            assert admin("listVirtualMachines", id=vm["id"]).get("count", 0) == 0
        finally:
            admin("cleanupSimulatorMock", id=everywhere["id"])
    finally:
        admin("cleanupSimulatorMock", id=mock["id"])
        admin("resetConfiguration", name="vm.allocation.algorithm")


def test_change_offering_of_a_stopped_vm(admin, env):
    result = deploy(admin, env, startvm="false")
    vm = result["jobresult"]["virtualmachine"]
    assert vm["state"] == "Stopped"
    medium = admin("listServiceOfferings", name="Medium Instance")["serviceoffering"][0]
    changed = admin("changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=medium["id"])["virtualmachine"]
    assert changed["serviceofferingname"] == "Medium Instance" and changed["memory"] == 1024
    started = admin.wait_job(admin("startVirtualMachine", id=vm["id"])["jobid"])
    assert started["jobresult"]["virtualmachine"]["state"] == "Running"
    with pytest.raises(ApiError) as err:
        admin("changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=env["small"]["id"])
    assert err.value.status == 431
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])


def test_scale_a_running_vm(admin, make_account, env):
    """scaleVirtualMachine of a Running VM (dynamic scaling): refused while enable.dynamic.scale.vm is off, while
    the VM is not dynamically scalable, downwards and past the room it was started with; the extra CPU and
    memory are taken on its host and in the account's counts; an agent failure or a limit puts everything back."""
    account, user = make_account()
    zone_id = env["zone"]["id"]
    medium = admin("listServiceOfferings", name="Medium Instance")["serviceoffering"][0]

    def offering(cpus: int, speed: int, memory: int) -> dict:
        return admin("createServiceOffering", name=unique("so"), displaytext="scale", cpunumber=str(cpus),
                     cpuspeed=str(speed), memory=str(memory))["serviceoffering"]

    def scale(target: dict) -> dict:
        return user.wait_job(user("scaleVirtualMachine", id=vm["id"], serviceofferingid=target["id"])["jobid"])

    def refused(target: dict, status: int, words: str) -> None:
        with pytest.raises(ApiError) as err:
            user("scaleVirtualMachine", id=vm["id"], serviceofferingid=target["id"])
        assert err.value.status == status and words in err.value.body["errortext"], err.value.body

    def totals() -> tuple[int, int]:
        row = admin("listAccounts", id=account["id"])["account"][0]
        return int(row["cputotal"]), int(row["memorytotal"])

    vm = deploy(user, env)["jobresult"]["virtualmachine"]
    refused(medium, 431, "disabled for this zone")
    admin("updateConfiguration", name="enable.dynamic.scale.vm", value="true")
    time.sleep(2.1)
    try:
        refused(medium, 431, "not dynamically scalable")
        user.wait_job(user("stopVirtualMachine", id=vm["id"])["jobid"])
        assert user("updateVirtualMachine", id=vm["id"], isdynamicallyscalable="true")["virtualmachine"][
            "isdynamicallyscalable"] is True
        vm = user.wait_job(user("startVirtualMachine", id=vm["id"])["jobid"])["jobresult"]["virtualmachine"]
        refused(offering(1, 400, 512), 431, "Only scaling up")
        refused(offering(4, 500, 512), 431, "at most 2 vCPUs")  # the hosts have 2 CPUs
        host_id = admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["hostid"]

        before, counts = host_allocations(admin, zone_id)[host_id], totals()
        result = scale(medium)
        assert result["jobstatus"] == 1, result
        scaled = admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
        assert scaled["state"] == "Running" and scaled["hostid"] == host_id
        assert (scaled["serviceofferingname"], scaled["cpuspeed"], scaled["memory"]) == ("Medium Instance", 1000,
                                                                                           1024)
        after = host_allocations(admin, zone_id)[host_id]
        assert after == (before[0] + 500, before[1] + 512 * 1024 * 1024)
        assert totals() == (counts[0], counts[1] + 512)
        assert any(e["type"] == "VM.DYNAMIC.SCALE" and scaled["instancename"] in e["description"]
                   for e in admin("listEvents", type="VM.DYNAMIC.SCALE", listall="true")["event"])

        bigger = offering(2, 1000, 1536)
        mock = admin("configureSimulator", hostid=host_id, name="ScaleVm", value="result:fail")["mock"]
        try:
            failed = scale(bigger)
        finally:
            admin("cleanupSimulatorMock", id=mock["id"])
        assert failed["jobstatus"] == 2 and "Unable to scale" in failed["jobresult"]["errortext"], failed
        same = admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
        assert (same["serviceofferingname"], same["cpunumber"], same["memory"]) == ("Medium Instance", 1, 1024)
        assert host_allocations(admin, zone_id)[host_id] == after and totals() == (counts[0], counts[1] + 512)

        admin("updateResourceLimit", account=account["name"], domainid=account["domainid"], resourcetype="9",
              max="1024")  # memory (MiB): no room for 512 more
        over = scale(bigger)
        assert over["jobstatus"] == 2 and over["jobresultcode"] == 535, over
        assert host_allocations(admin, zone_id)[host_id] == after and totals() == (counts[0], counts[1] + 512)
        admin("updateResourceLimit", account=account["name"], domainid=account["domainid"], resourcetype="9",
              max="-1")
        assert scale(bigger)["jobstatus"] == 1
        assert host_allocations(admin, zone_id)[host_id] == (before[0] + 1500, before[1] + 1024 * 1024 * 1024)
        assert totals() == (counts[0] + 1, counts[1] + 1024)

        user.wait_job(user("stopVirtualMachine", id=vm["id"])["jobid"])  # the new size stays
        again = user.wait_job(user("startVirtualMachine", id=vm["id"])["jobid"])["jobresult"]["virtualmachine"]
        assert (again["cpunumber"], again["memory"]) == (2, 1536)
        admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
        assert totals() == (0, 0) and host_allocations(admin, zone_id)[host_id] == (before[0] - 500,
                                                                                    before[1] - 512 * 1024 * 1024)
    finally:
        admin("resetConfiguration", name="enable.dynamic.scale.vm")
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)


def test_scale_moves_the_vm_when_its_host_is_full(admin, make_account, tmp_path_factory, web):
    """scaleVirtualMachine of a Running VM whose host has no room for the new size: the VM is live-migrated to
    a host that has (VM.MIGRATE), then scaled there; with no such host it is refused (533) and stays where it
    runs. The zone's own enable.dynamic.scale.vm value turns scaling on for this zone only."""
    env = build_zone(admin, tmp_path_factory, web, hosts=2)  # 2 x 1000 MHz, 2 GiB each
    zone_id = env["zone"]["id"]
    first, second = (h["id"] for h in env["hosts"])
    account, user = make_account()

    def offering(cpus: int, speed: int, memory: int) -> dict:
        return admin("createServiceOffering", name=unique("so"), displaytext="scale", cpunumber=str(cpus),
                     cpuspeed=str(speed), memory=str(memory))["serviceoffering"]

    def start_on(client, host_id: str, size: dict, **extra) -> dict:
        reply = admin("deployVirtualMachine", zoneid=zone_id, serviceofferingid=size["id"], hostid=host_id,
                      templateid=env["template"]["id"], account=account["name"], domainid=account["domainid"],
                      **extra)
        return admin.wait_job(reply["jobid"])["jobresult"]["virtualmachine"]

    def where(vm_id: str) -> dict:
        return admin("listVirtualMachines", id=vm_id)["virtualmachine"][0]

    admin("updateConfiguration", name="enable.dynamic.scale.vm", value="true", zoneid=zone_id)
    time.sleep(2.1)
    small = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    vm = start_on(admin, first, small, startvm="false")
    user("updateVirtualMachine", id=vm["id"], isdynamicallyscalable="true")
    assert admin.wait_job(admin("startVirtualMachine", id=vm["id"], hostid=first)["jobid"])["jobstatus"] == 1
    start_on(admin, first, offering(1, 1000, 1536))  # the first host's memory is now all taken
    before = host_allocations(admin, zone_id)
    assert before[first] == (1500, 2048 * 1024 * 1024) and before[second] == (0, 0)

    medium = admin("listServiceOfferings", name="Medium Instance")["serviceoffering"][0]  # 1 x 1000, 1 GiB
    scaled = user.wait_job(user("scaleVirtualMachine", id=vm["id"], serviceofferingid=medium["id"])["jobid"])
    assert scaled["jobstatus"] == 1, scaled
    moved = where(vm["id"])
    assert (moved["state"], moved["hostid"], moved["memory"], moved["cpuspeed"]) == ("Running", second, 1024, 1000)
    after = host_allocations(admin, zone_id)
    assert after[first] == (1000, 1536 * 1024 * 1024) and after[second] == (1000, 1024 * 1024 * 1024)
    assert any(moved["instancename"] in e["description"]
               for e in admin("listEvents", type="VM.MIGRATE", listall="true")["event"])

    start_on(admin, second, offering(1, 500, 1024))  # now neither host has room for 2 x 1000, 1.5 GiB
    full = host_allocations(admin, zone_id)
    refused = user.wait_job(user("scaleVirtualMachine", id=vm["id"],
                                 serviceofferingid=offering(2, 1000, 1536)["id"])["jobid"])
    assert refused["jobstatus"] == 2 and refused["jobresultcode"] == 533, refused
    assert "nor any other host" in refused["jobresult"]["errortext"]
    same = where(vm["id"])
    assert (same["state"], same["hostid"], same["memory"]) == ("Running", second, 1024)
    assert host_allocations(admin, zone_id) == full
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)
    assert host_allocations(admin, zone_id) == {first: (0, 0), second: (0, 0)}


def test_restore_a_vm_onto_a_new_root_disk(admin, make_account, env, web):
    """restoreVirtualMachine: a Running VM is stopped, gets a new ROOT disk from its template (or another one,
    sized by rootdisksize) and runs again; the old disk is expunged at once with expunge=true, else by the
    storage cleanup; counts and pool space follow; bad input changes nothing."""
    account, user = make_account()
    zone_id = env["zone"]["id"]

    def root() -> dict:
        return admin("listVolumes", virtualmachineid=vm["id"], type="ROOT", listall="true")["volume"][0]

    def totals() -> tuple[int, int]:
        row = admin("listAccounts", id=account["id"])["account"][0]
        return int(row["volumetotal"]), int(row["primarystoragetotal"])

    def pool_allocated() -> int:
        return admin("listStoragePools", id=env["pool"]["id"])["storagepool"][0]["disksizeallocated"]

    def old_volume(volume_id: str) -> list:
        return admin("listVolumes", id=volume_id, listall="true").get("volume", [])

    vm = deploy(user, env)["jobresult"]["virtualmachine"]
    first, counts, allocated = root(), totals(), pool_allocated()
    restored = user.wait_job(user("restoreVirtualMachine", virtualmachineid=vm["id"], expunge="true")["jobid"])
    assert restored["jobstatus"] == 1, restored
    assert restored["jobresult"]["virtualmachine"]["state"] == "Running"
    second = root()
    assert second["id"] != first["id"] and second["state"] == "Ready" and second["deviceid"] == 0
    assert not old_volume(first["id"]) and totals() == counts and pool_allocated() == allocated
    assert any(e["type"] == "VM.RESTORE" for e in admin("listEvents", type="VM.RESTORE", listall="true")["event"])

    ostype = admin("listOsTypes", description="Other Linux (64-bit)")["ostype"][0]["id"]
    other = admin("registerTemplate", name=unique("tpl"), displaytext="other", format="QCOW2", hypervisor="Simulator",
                  zoneid=zone_id, ispublic="true", ostypeid=ostype, url=f"{web}/tiny.qcow2",
                  passwordenabled="true")["template"][0]
    assert wait_template(admin, other["id"])["isready"]
    user.wait_job(user("stopVirtualMachine", id=vm["id"])["jobid"])
    result = user.wait_job(user("restoreVirtualMachine", virtualmachineid=vm["id"], templateid=other["id"],
                                rootdisksize="2")["jobid"])
    assert result["jobstatus"] == 1, result
    again = result["jobresult"]["virtualmachine"]
    assert again["state"] == "Stopped" and again["templateid"] == other["id"] and again["password"]
    third = root()
    assert third["size"] == 2 * GIB and third["state"] == "Allocated" and "storageid" not in third
    assert totals() == (counts[0], 2)
    leftover = old_volume(second["id"])  # kept as destroyed until the storage cleanup takes it
    assert leftover and leftover[0]["state"] == "Destroy" and pool_allocated() == allocated
    admin("updateConfiguration", name="storage.cleanup.interval", value="2")
    try:
        wait_until(lambda: not old_volume(second["id"]), timeout=60, what="the old ROOT disk expunged")
    finally:
        admin("resetConfiguration", name="storage.cleanup.interval")
    assert pool_allocated() == allocated - second["size"]
    started = user.wait_job(user("startVirtualMachine", id=vm["id"])["jobid"])["jobresult"]["virtualmachine"]
    assert started["state"] == "Running" and root()["state"] == "Ready"

    iso = admin("registerIso", name=unique("iso"), displaytext="iso", zoneid=zone_id, ispublic="true",
                url=f"{web}/boot.iso", ostypeid=ostype)["iso"][0]
    for params, words in (({"templateid": iso["id"]}, "is an ISO"), ({"rootdisksize": "0"}, "positive")):
        with pytest.raises(ApiError) as err:
            user("restoreVirtualMachine", virtualmachineid=vm["id"], **params)
        assert err.value.status == 431 and words in err.value.body["errortext"], err.value.body
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"])["jobid"])
    with pytest.raises(ApiError) as err:
        user("restoreVirtualMachine", virtualmachineid=vm["id"])
    assert err.value.status == 431 and "Destroyed" in err.value.body["errortext"]
    admin.wait_job(admin("expungeVirtualMachine", id=vm["id"])["jobid"])
    admin.wait_job(admin("deleteAccount", id=account["id"])["jobid"], timeout=120)


def test_deploy_in_a_pod_cluster_or_at_an_address(admin, tmp_path_factory, web, env):
    """podid / clusterid / ipaddress on deploy (admins), and a Basic-zone VM staying in the pod its address
    comes from (start after start); bad combinations are refused with 431 and make nothing."""
    mine = build_zone(admin, tmp_path_factory, web, hosts=1)  # (env: the internal-sites setting)
    zone_id, small = mine["zone"]["id"], admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    pod2 = admin("createPod", zoneid=zone_id, name=unique("pod2"), gateway="10.32.0.1", netmask="255.255.255.0",
                 startip="10.32.0.10", endip="10.32.0.50")["pod"]
    admin("createVlanIpRange", zoneid=zone_id, podid=pod2["id"], forvirtualnetwork="false", gateway="10.32.0.1",
          netmask="255.255.255.0", startip="10.32.0.100", endip="10.32.0.110")
    cluster2 = admin("addCluster", zoneid=zone_id, podid=pod2["id"], clustername=unique("c2"),
                     clustertype="CloudManaged", hypervisor="Simulator")["cluster"][0]
    host2 = admin("addHost", zoneid=zone_id, podid=pod2["id"], clusterid=cluster2["id"], hypervisor="Simulator",
                  url=f"http://sim/{unique('z')}/h9?cpus=2&cpu_speed=1000&memory_gb=2", username="root",
                  password="x")["host"][0]
    admin("createStoragePool", zoneid=zone_id, podid=pod2["id"], clusterid=cluster2["id"], name=unique("pri"),
          url=f"nfs://192.0.2.12/export/{unique('p')}", scope="cluster")

    def deploy_at(**where) -> dict:
        reply = admin("deployVirtualMachine", zoneid=zone_id, serviceofferingid=small["id"],
                      templateid=mine["template"]["id"], **where)
        result = admin.wait_job(reply["jobid"])
        assert result["jobstatus"] == 1, result
        return result["jobresult"]["virtualmachine"]

    in_pod2 = deploy_at(podid=pod2["id"])
    assert in_pod2["hostid"] == host2["id"] and in_pod2["nic"][0]["ipaddress"].startswith("10.32.0.")
    in_cluster1 = deploy_at(clusterid=mine["cluster"]["id"])
    assert in_cluster1["hostid"] == mine["hosts"][0]["id"] and in_cluster1["nic"][0]["ipaddress"].startswith("10.31.")
    at = deploy_at(ipaddress="10.32.0.105")
    assert at["nic"][0]["ipaddress"] == "10.32.0.105" and at["hostid"] == host2["id"]  # its pod's host
    for _ in range(4):  # restarted, it stays in the pod of its address (one host there)
        admin.wait_job(admin("stopVirtualMachine", id=at["id"])["jobid"])
        again = admin.wait_job(admin("startVirtualMachine", id=at["id"])["jobid"])["jobresult"]["virtualmachine"]
        assert again["hostid"] == host2["id"]

    count = admin("listVirtualMachines", zoneid=zone_id).get("count", 0)
    for params, words in (({"ipaddress": "10.32.0.105"}, "not a free guest address"),
                          ({"ipaddress": "10.99.0.1"}, "not a free guest address"),
                          ({"ipaddress": "ten.dot"}, "Invalid IP address"),
                          ({"podid": mine["pod"]["id"], "clusterid": cluster2["id"]}, "different pods"),
                          ({"affinitygroupids": "6b7d9c9e-0000-4000-8000-000000000000"},
                           "Unable to find affinity group")):
        with pytest.raises(ApiError) as err:
            admin("deployVirtualMachine", zoneid=zone_id, serviceofferingid=small["id"],
                  templateid=mine["template"]["id"], **params)
        assert err.value.status == 431 and words in err.value.body["errortext"], (params, err.value.body)
    assert admin("listVirtualMachines", zoneid=zone_id).get("count", 0) == count
    for vm in (in_pod2, in_cluster1, at):
        admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])


def test_concurrent_deploys_share_one_template_copy_and_never_overcommit(admin, env):
    zone_id = env["zone"]["id"]
    before = host_allocations(admin, zone_id)
    replies = [admin("deployVirtualMachine", zoneid=zone_id, serviceofferingid=env["small"]["id"],
                     templateid=env["template"]["id"]) for _ in range(4)]
    results = [admin.wait_job(r["jobid"], timeout=120) for r in replies]
    assert all(r["jobstatus"] == 1 for r in results), results
    after = host_allocations(admin, zone_id)
    assert sum(a[0] for a in after.values()) - sum(b[0] for b in before.values()) == 4 * 500
    addresses = {r["jobresult"]["virtualmachine"]["nic"][0]["ipaddress"] for r in results}
    macs = {r["jobresult"]["virtualmachine"]["nic"][0]["macaddress"] for r in results}
    assert len(addresses) == 4 and len(macs) == 4
    jobs = [admin("destroyVirtualMachine", id=r["jobresult"]["virtualmachine"]["id"], expunge="true")["jobid"]
            for r in results]
    assert all(admin.wait_job(j, timeout=120)["jobstatus"] == 1 for j in jobs)
    assert host_allocations(admin, zone_id) == before


def test_migrate_moves_the_vm_and_its_capacity(admin, env):
    result = deploy(admin, env)
    vm = result["jobresult"]["virtualmachine"]
    source = vm["hostid"]
    target = next(h["id"] for h in env["hosts"] if h["id"] != source)
    before = host_allocations(admin, env["zone"]["id"])
    moved = admin.wait_job(admin("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=target)["jobid"])
    assert moved["jobstatus"] == 1, moved
    assert moved["jobresult"]["virtualmachine"]["hostid"] == target
    after = host_allocations(admin, env["zone"]["id"])
    assert after[source][0] == before[source][0] - 500 and after[target][0] == before[target][0] + 500

    # the destination is prepared first (PrepareForMigration): when it cannot be, nothing moves
    mock = admin("configureSimulator", hostid=source, name="PrepareForMigration",
                 value="result:fail;message:cannot mount the image store")["mock"]
    try:
        refused = admin.wait_job(admin("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=source)["jobid"])
    finally:
        admin("cleanupSimulatorMock", id=mock["id"])
    assert refused["jobstatus"] == 2 and "cannot mount the image store" in refused["jobresult"]["errortext"]
    stayed = admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
    assert (stayed["state"], stayed["hostid"]) == ("Running", target)
    assert host_allocations(admin, env["zone"]["id"]) == after
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])


def test_destroyed_vm_is_expunged_after_the_delay(admin, env):
    vm = deploy(admin, env)["jobresult"]["virtualmachine"]
    admin("updateConfiguration", name="expunge.delay", value="1")
    admin("updateConfiguration", name="expunge.interval", value="1")
    try:
        admin.wait_job(admin("destroyVirtualMachine", id=vm["id"])["jobid"])
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and admin("listVirtualMachines", id=vm["id"]).get("count", 0):
            time.sleep(0.5)
        assert admin("listVirtualMachines", id=vm["id"]).get("count", 0) == 0
        assert admin("listVirtualMachines", id=vm["id"], state="Expunged")["virtualmachine"][0]["id"] == vm["id"]
    finally:
        admin("resetConfiguration", name="expunge.delay")
        admin("resetConfiguration", name="expunge.interval")


def test_cs_cli_journey(cloud, admin_keys, env):
    """The same lifecycle with the `cs` command line: deploy (it waits for the job), stop, start, destroy."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    cli_env = dict(os.environ, CLOUDSTACK_ENDPOINT=cloud.url, CLOUDSTACK_KEY=admin_keys[0],
                   CLOUDSTACK_SECRET=admin_keys[1])

    def cs(*args: str) -> dict:
        out = subprocess.run([str(Path(sys.executable).parent / "cs"), *args], env=cli_env, capture_output=True,
                             text=True, timeout=180)
        assert out.returncode == 0, out.stdout + out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    vm = cs("deployVirtualMachine", f"serviceofferingid={env['small']['id']}",
            f"templateid={env['template']['id']}", f"zoneid={env['zone']['id']}", "name=cli-vm")["virtualmachine"]
    assert vm["state"] == "Running" and in_range(vm["nic"][0]["ipaddress"])
    assert cs("stopVirtualMachine", f"id={vm['id']}")["virtualmachine"]["state"] == "Stopped"
    assert cs("startVirtualMachine", f"id={vm['id']}")["virtualmachine"]["state"] == "Running"
    assert cs("listVirtualMachines", f"id={vm['id']}")["virtualmachine"][0]["name"] == "cli-vm"
    cs("destroyVirtualMachine", f"id={vm['id']}", "expunge=true")
    assert cs("listVirtualMachines", f"id={vm['id']}") == {}
