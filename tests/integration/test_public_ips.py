"""Basic-zone networking through the API on a Simulator zone: the zone's guest network and the VMs' NICs in
it, secondary addresses, public IPs (associate, list, release; limits, events) and static NAT (enable,
disable, refusals that change nothing, a host that fails, expunge), with the signed client, the cs library
and Libcloud. Real host NAT is covered by tests/agent/test_static_nat.py."""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import urlparse

import pytest

from tests.conftest import unique
from tests.integration.test_agent_link import link  # noqa: F401  (this process as a management node)
from tests.integration.test_vms import build_zone, deploy, web  # noqa: F401  (web: the template server fixture)
from tests.support import ApiError

PUBLIC_START, PUBLIC_END = "203.0.113.10", "203.0.113.14"


@pytest.fixture(scope="module")
def env(admin, tmp_path_factory, web):  # noqa: F811
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    time.sleep(2.1)
    env = build_zone(admin, tmp_path_factory, web, hosts=2)
    env["public"] = admin("createVlanIpRange", zoneid=env["zone"]["id"], forvirtualnetwork="true",
                          gateway="203.0.113.1", netmask="255.255.255.0", startip=PUBLIC_START,
                          endip=PUBLIC_END)["vlan"]
    env["small"] = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    return env


def running_vm(client, env) -> dict:
    result = deploy(client, env)
    assert result["jobstatus"] == 1, result
    return result["jobresult"]["virtualmachine"]


def public_ip(client, env) -> dict:
    reply = client("associateIpAddress", zoneid=env["zone"]["id"])
    result = client.wait_job(reply["jobid"])
    assert result["jobstatus"] == 1, result
    return result["jobresult"]["ipaddress"]


def expect_error(status: int, fn, *args, **kwargs) -> dict:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    assert err.value.status == status, err.value.body
    return err.value.body


def ip_row(admin, ip_id: str) -> dict:
    return admin("listPublicIpAddresses", id=ip_id, listall="true")["publicipaddress"][0]


def test_the_guest_network_and_the_nics_in_it(admin, make_account, env):
    _, user = make_account()
    [network] = user("listNetworks", zoneid=env["zone"]["id"])["network"]
    assert network["type"] == "Shared" and network["traffictype"] == "Guest"
    assert network["networkofferingname"] == "DefaultSharedNetworkOfferingWithSGService"
    assert network["acltype"] == "Domain" and network["broadcastdomaintype"] == "Native"
    assert network["canusefordeploy"] is True and network["zoneid"] == env["zone"]["id"]
    assert "SecurityGroup" in {s["name"] for s in network["service"]}
    offerings = user("listNetworkOfferings", zoneid=env["zone"]["id"])["networkoffering"]
    assert network["networkofferingid"] in {o["id"] for o in offerings}
    assert all(o["guestiptype"] == "Shared" for o in offerings)
    ranges = admin("listVlanIpRanges", zoneid=env["zone"]["id"], forvirtualnetwork="false")["vlaniprange"]
    assert {r["networkid"] for r in ranges} == {network["id"]}

    vm = running_vm(user, env)
    [nic] = user("listNics", virtualmachineid=vm["id"])["nic"]
    assert nic["networkid"] == network["id"] and nic["ipaddress"] == vm["nic"][0]["ipaddress"]
    assert nic["macaddress"] == vm["nic"][0]["macaddress"] and nic["traffictype"] == "Guest"

    # a secondary address from the NIC's range, then removed
    added = user.wait_job(user("addIpToNic", nicid=nic["id"])["jobid"])
    assert added["jobstatus"] == 1, added
    secondary = added["jobresult"]["nicsecondaryip"]
    assert secondary["nicid"] == nic["id"] and secondary["ipaddress"] != nic["ipaddress"]
    listed = user("listNics", virtualmachineid=vm["id"])["nic"][0]["secondaryip"]
    assert [s["ipaddress"] for s in listed] == [secondary["ipaddress"]]
    expect_error(431, user, "addIpToNic", nicid=nic["id"], ipaddress=nic["ipaddress"])  # taken
    expect_error(431, user, "addIpToNic", nicid=nic["id"], ipaddress="192.0.2.77")  # not in the range
    removed = user.wait_job(user("removeIpFromNic", id=secondary["id"])["jobid"])
    assert removed["jobstatus"] == 1, removed
    assert user("listNics", virtualmachineid=vm["id"])["nic"][0].get("secondaryip", []) == []

    # another account can't see this VM's NICs
    _, other = make_account()
    expect_error(531, other, "listNics", virtualmachineid=vm["id"])
    kept = user.wait_job(user("addIpToNic", nicid=nic["id"])["jobid"])["jobresult"]["nicsecondaryip"]["ipaddress"]
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    # expunged: its primary and secondary guest addresses are free again
    for address in (nic["ipaddress"], kept):
        [row] = admin("listPublicIpAddresses", forvirtualnetwork="false", allocatedonly="false", ipaddress=address,
                      zoneid=env["zone"]["id"])["publicipaddress"]
        assert row["state"] == "Free" and "account" not in row, row


def test_public_ip_and_static_nat_journey(admin, make_account, env):
    account, user = make_account()
    vm = running_vm(user, env)
    ip = public_ip(user, env)
    assert ipaddress.ip_address(PUBLIC_START) <= ipaddress.ip_address(ip["ipaddress"]) <= ipaddress.ip_address(
        PUBLIC_END)
    assert ip["state"] == "Allocated" and ip["account"] == account["name"] and ip["isstaticnat"] is False
    assert ip["forvirtualnetwork"] is True and ip["zoneid"] == env["zone"]["id"]
    mine = user("listPublicIpAddresses")["publicipaddress"]
    assert [p["id"] for p in mine] == [ip["id"]]
    assert admin("listAccounts", id=account["id"])["account"][0]["iptotal"] == 1

    assert user("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
    row = ip_row(admin, ip["id"])
    assert row["isstaticnat"] is True and row["virtualmachineid"] == vm["id"]
    assert row["vmipaddress"] == vm["nic"][0]["ipaddress"]
    assert user("listNics", virtualmachineid=vm["id"])["nic"][0]["publicip"] == ip["ipaddress"]
    shown = user("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
    assert shown["publicip"] == ip["ipaddress"] and shown["publicipid"] == ip["id"]
    # enabling it again for the same VM changes nothing
    assert user("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
    # a stop and a start keep the mapping (re-programmed on the host the VM lands on)
    assert user.wait_job(user("stopVirtualMachine", id=vm["id"])["jobid"])["jobstatus"] == 1
    assert user.wait_job(user("startVirtualMachine", id=vm["id"])["jobid"])["jobstatus"] == 1
    assert ip_row(admin, ip["id"])["isstaticnat"] is True

    done = user.wait_job(user("disableStaticNat", ipaddressid=ip["id"])["jobid"])
    assert done["jobstatus"] == 1, done
    assert ip_row(admin, ip["id"])["isstaticnat"] is False
    expect_error(431, user, "disableStaticNat", ipaddressid=ip["id"])  # not enabled any more

    # static NAT again, then the VM is expunged: the address stays the account's, the mapping goes
    assert user("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
    admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    row = ip_row(admin, ip["id"])
    assert row["isstaticnat"] is False and "virtualmachineid" not in row and row["state"] == "Allocated"

    released = user.wait_job(user("disassociateIpAddress", id=ip["id"])["jobid"])
    assert released["jobstatus"] == 1, released
    assert user("listPublicIpAddresses").get("count", 0) == 0
    assert admin("listAccounts", id=account["id"])["account"][0]["iptotal"] == 0
    types = [e["type"] for e in user("listEvents", pagesize=200, page=1)["event"]]
    for kind in ("NET.IPASSIGN", "STATICNAT.ENABLE", "STATICNAT.DISABLE", "NET.IPRELEASE"):
        assert kind in types, kind


def test_refusals_change_nothing(admin, make_account, env):
    owner_account, owner = make_account()
    _, stranger = make_account()
    vm = running_vm(owner, env)
    other_vm = running_vm(stranger, env)
    ip = public_ip(owner, env)
    others_ip = public_ip(stranger, env)

    # static NAT on an IP of another account, or to a VM of another account
    expect_error(531, owner, "enableStaticNat", ipaddressid=others_ip["id"], virtualmachineid=vm["id"])
    expect_error(531, owner, "enableStaticNat", ipaddressid=ip["id"], virtualmachineid=other_vm["id"])
    body = expect_error(431, admin, "enableStaticNat", ipaddressid=ip["id"], virtualmachineid=other_vm["id"])
    assert "different account" in body["errortext"]
    # bad and missing ids, a guest address the VM does not have, a guest (not public) address
    expect_error(431, owner, "enableStaticNat", ipaddressid="not-a-uuid", virtualmachineid=vm["id"])
    body = expect_error(431, owner, "enableStaticNat", ipaddressid=ip["id"])
    assert "virtualmachineid" in body["errortext"]
    expect_error(431, owner, "enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"],
                 vmguestip="10.31.0.250")
    expect_error(531, stranger, "disassociateIpAddress", id=ip["id"])
    expect_error(531, stranger, "disableStaticNat", ipaddressid=ip["id"])
    expect_error(431, owner, "associateIpAddress")
    expect_error(431, owner, "associateIpAddress", zoneid=env["zone"]["id"], ipaddress=others_ip["ipaddress"])
    for row in (ip, others_ip):
        assert ip_row(admin, row["id"])["isstaticnat"] is False

    # the host fails to program the rule: the call fails, nothing is recorded
    host_id = admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["hostid"]
    admin("configureSimulator", name="ApplyStaticNat", value="result:fail;message:nat table busy", hostid=host_id,
          count=1)
    body = expect_error(530, owner, "enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])
    assert "nat table busy" in body["errortext"]
    assert ip_row(admin, ip["id"])["isstaticnat"] is False
    # and works once the host does
    assert owner("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
    # an IP already mapped can't go to another VM; a VM's address can't take a second IP
    vm2 = running_vm(owner, env)
    expect_error(537, owner, "enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm2["id"])
    ip2 = public_ip(owner, env)
    expect_error(537, owner, "enableStaticNat", ipaddressid=ip2["id"], virtualmachineid=vm["id"])
    assert ip_row(admin, ip2["id"])["isstaticnat"] is False
    # releasing a static NAT IP takes the mapping down first
    assert owner.wait_job(owner("disassociateIpAddress", id=ip["id"])["jobid"])["jobstatus"] == 1
    for client, row in ((owner, ip2), (stranger, others_ip)):
        client.wait_job(client("disassociateIpAddress", id=row["id"])["jobid"])
    for machine in (vm, vm2, other_vm):
        admin.wait_job(admin("destroyVirtualMachine", id=machine["id"], expunge="true")["jobid"])


def test_public_ip_limit_and_exhaustion(admin, make_account, env):
    account, user = make_account()
    admin("updateResourceLimit", account=account["name"], domainid=account["domainid"], resourcetype=1, max=1)
    ip = public_ip(user, env)
    body = expect_error(535, user, "associateIpAddress", zoneid=env["zone"]["id"])
    assert "public_ip" in body["errortext"] or "ip" in body["errortext"].lower()
    user.wait_job(user("disassociateIpAddress", id=ip["id"])["jobid"])
    free = admin("listPublicIpAddresses", zoneid=env["zone"]["id"], allocatedonly="false", state="Free",
                 listall="true")
    assert free["count"] >= 1 and all(p["state"] == "Free" for p in free["publicipaddress"])
    # a user sees the free addresses too (to ask for one), but no other account's allocated ones
    seen = user("listPublicIpAddresses", zoneid=env["zone"]["id"], allocatedonly="false")["publicipaddress"]
    assert {p["id"] for p in seen} == {p["id"] for p in free["publicipaddress"]}


def test_concurrent_associates_never_share_an_address(admin):
    from concurrent.futures import ThreadPoolExecutor

    zone = admin("createZone", name=unique("ipz"), networktype="Basic", dns1="192.0.2.53",
                 internaldns1="192.0.2.54")["zone"]
    admin("createVlanIpRange", zoneid=zone["id"], forvirtualnetwork="true", gateway="198.18.0.1",
          netmask="255.255.255.0", startip="198.18.0.10", endip="198.18.0.13")

    def take(_):
        try:
            return admin("associateIpAddress", zoneid=zone["id"])["jobid"]
        except ApiError as error:
            return error.status

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(take, range(8)))
    jobs = [o for o in outcomes if isinstance(o, str)]
    assert len(jobs) == 4 and sorted(o for o in outcomes if not isinstance(o, str)) == [533] * 4, outcomes
    addresses = [admin.wait_job(j)["jobresult"]["ipaddress"] for j in jobs]
    assert sorted(a["ipaddress"] for a in addresses) == [f"198.18.0.{i}" for i in range(10, 14)]
    for row in addresses:
        assert admin.wait_job(admin("disassociateIpAddress", id=row["id"])["jobid"])["jobstatus"] == 1
    assert admin("listPublicIpAddresses", zoneid=zone["id"], listall="true").get("count", 0) == 0


def test_cs_library_and_libcloud(cs_admin, admin, make_account, cloud, env):
    from libcloud.compute.providers import Provider, get_driver

    vm = cs_admin.deployVirtualMachine(zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                                       templateid=env["template"]["id"], name=unique("nat"))["virtualmachine"]
    ip = cs_admin.associateIpAddress(zoneid=env["zone"]["id"])["ipaddress"]
    assert cs_admin.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
    listed = cs_admin.listPublicIpAddresses(isstaticnat="true", id=ip["id"])["publicipaddress"]
    assert listed[0]["virtualmachineid"] == vm["id"]
    cs_admin.disableStaticNat(ipaddressid=ip["id"])
    cs_admin.disassociateIpAddress(id=ip["id"])
    cs_admin.destroyVirtualMachine(id=vm["id"], expunge="true")

    _, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    location = next(loc for loc in driver.list_locations() if loc.id == env["zone"]["id"])
    address = driver.ex_allocate_public_ip(location=location)
    assert ipaddress.ip_address(address.address) in ipaddress.ip_network("203.0.113.0/24")
    assert address.id in [a.id for a in driver.ex_list_public_ips()]
    networks = driver.ex_list_networks()
    assert any(n.zoneid == env["zone"]["id"] for n in networks)
    assert driver.ex_release_public_ip(address) is True
    assert address.id not in [a.id for a in driver.ex_list_public_ips()]


def test_agent_host_gets_static_nat_and_again_after_an_agent_restart(cloud, admin, make_account, link,  # noqa: F811
                                                                      web, env, tmp_path):  # noqa: F811
    """A KVM host run by a real agent process (simulator driver, over the real broker): static NAT travels as an
    agent command, is revoked by disableStaticNat, and a restarted agent (empty, as after a reboot) is sent the
    static NAT of its VMs again on its startup report."""
    from agent.protocol_nat import ListStaticNat
    from tests.agent_zone import agent_zone
    from tests.integration.test_agent_link import Agents, host_row
    from tests.support import wait_until

    def host_nat(guid: str) -> dict:
        answer = link.call(host_row(guid), ListStaticNat(), timeout=30)
        assert answer.ok, answer.details
        return answer.data["rules"]

    agents = Agents(cloud)
    try:
        env = agent_zone(admin, agents, tmp_path, f"{web}/tiny.qcow2", name=unique("nata"), subnet=45, delays="",
                         security_groups=True, public_template=True)
        zone, cluster, template, offering = env["zone"], env["cluster"], env["template"], env["offering"]
        guid, agent = env["guid"], env["agent"]
        admin("createVlanIpRange", zoneid=zone["id"], forvirtualnetwork="true", gateway="198.51.100.1",
              netmask="255.255.255.0", startip="198.51.100.20", endip="198.51.100.21")
        _, user = make_account()
        vm = user.wait_job(user("deployVirtualMachine", zoneid=zone["id"], templateid=template["id"],
                                serviceofferingid=offering["id"])["jobid"], timeout=120)["jobresult"]["virtualmachine"]
        assert vm["state"] == "Running"
        ip = public_ip(user, {"zone": zone})
        assert user("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
        assert host_nat(guid) == {ip["ipaddress"]: vm["nic"][0]["ipaddress"]}
        # another account's VM or IP: refused, and nothing changes on the host
        _, stranger = make_account()
        with pytest.raises(ApiError) as err:
            stranger("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])
        assert err.value.status == 531
        assert host_nat(guid) == {ip["ipaddress"]: vm["nic"][0]["ipaddress"]}

        agent.terminate()
        agent.wait(timeout=30)
        agents.start(guid, driver="simulator", private_ip=env["private_ip"], zone=zone["id"], cluster=cluster["id"])
        wait_until(lambda: host_nat(guid) == {ip["ipaddress"]: vm["nic"][0]["ipaddress"]}, timeout=60, step=1,
                   what="static NAT sent again to the restarted agent")

        assert user.wait_job(user("disableStaticNat", ipaddressid=ip["id"])["jobid"])["jobstatus"] == 1
        assert host_nat(guid) == {}
        user.wait_job(user("disassociateIpAddress", id=ip["id"])["jobid"])
        admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])
    finally:
        agents.close()
