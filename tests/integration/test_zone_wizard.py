"""A Basic zone built with the `cs` command line in the order of CloudStack's console zone wizard: zone, physical
network, traffic types, enable the physical network, the providers (virtual router element, VirtualRouter,
SecurityGroupProvider), the shared guest network with the security-group offering, pod, the pod's guest range
in that network, cluster, host, primary and secondary storage, enable the zone; then everything is read back,
and the wizard's mistakes are refused with 431 without leaving anything behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.support import ApiError


@pytest.fixture
def cs_cli(cloud, admin_keys):
    env = dict(os.environ, CLOUDSTACK_ENDPOINT=cloud.url, CLOUDSTACK_KEY=admin_keys[0],
               CLOUDSTACK_SECRET=admin_keys[1])

    def run(command: str, **params) -> dict:
        args = [str(Path(sys.executable).parent / "cs"), command] + [f"{k}={v}" for k, v in params.items()]
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"cs {command} failed: {out.stdout} {out.stderr}"
        return json.loads(out.stdout) if out.stdout.strip() else {}

    return run


def expect_431(fn, *args, **kwargs) -> str:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    assert err.value.status == 431, err.value.body
    return err.value.body["errortext"]


def test_basic_zone_in_the_wizard_order(cs_cli, admin, tmp_path):
    name = unique("wiz")
    zone = cs_cli("createZone", name=name, networktype="Basic", securitygroupenabled="true", dns1="192.0.2.53",
                  internaldns1="192.0.2.54")["zone"]
    physical = cs_cli("createPhysicalNetwork", zoneid=zone["id"], name=f"{name}-phy")["physicalnetwork"]
    assert physical["state"] == "Disabled" and physical["broadcastdomainrange"] == "POD"
    guest = cs_cli("addTrafficType", physicalnetworkid=physical["id"], traffictype="Guest",
                   kvmnetworklabel="cloudbr0")["traffictype"]
    cs_cli("addTrafficType", physicalnetworkid=physical["id"], traffictype="Management", kvmnetworklabel="cloudbr0")
    assert guest["traffictype"] == "Guest" and guest["kvmnetworklabel"] == "cloudbr0"
    enabled = cs_cli("updatePhysicalNetwork", id=physical["id"], state="Enabled")["physicalnetwork"]
    assert enabled["state"] == "Enabled"

    # the providers, as the wizard enables them
    router = cs_cli("listNetworkServiceProviders", name="VirtualRouter",
                    physicalnetworkid=physical["id"])["networkserviceprovider"][0]
    assert router["state"] == "Disabled" and "Dhcp" in router["servicelist"]
    element = cs_cli("listVirtualRouterElements", nspid=router["id"])["virtualrouterelement"][0]
    assert element["enabled"] is False
    configured = cs_cli("configureVirtualRouterElement", id=element["id"], enabled="true")["virtualrouterelement"]
    assert configured["enabled"] is True and configured["nspid"] == router["id"]
    assert cs_cli("updateNetworkServiceProvider", id=router["id"],
                  state="Enabled")["networkserviceprovider"]["state"] == "Enabled"
    sg = cs_cli("listNetworkServiceProviders", name="SecurityGroupProvider",
                physicalnetworkid=physical["id"])["networkserviceprovider"][0]
    assert cs_cli("updateNetworkServiceProvider", id=sg["id"],
                  state="Enabled")["networkserviceprovider"]["state"] == "Enabled"

    offering = cs_cli("listNetworkOfferings", name="DefaultSharedNetworkOfferingWithSGService",
                      state="Enabled")["networkoffering"][0]
    assert offering["guestiptype"] == "Shared" and "SecurityGroup" in {s["name"] for s in offering["service"]}
    network = cs_cli("createNetwork", zoneid=zone["id"], name="defaultGuestNetwork", displaytext="defaultGuestNetwork",
                     networkofferingid=offering["id"])["network"]
    assert network["type"] == "Shared" and network["physicalnetworkid"] == physical["id"]
    assert network["networkofferingname"] == "DefaultSharedNetworkOfferingWithSGService"

    pod = cs_cli("createPod", zoneid=zone["id"], name=f"{name}-pod", gateway="10.41.0.1", netmask="255.255.255.0",
                 startip="10.41.0.10", endip="10.41.0.50")["pod"]
    vlan = cs_cli("createVlanIpRange", podid=pod["id"], networkid=network["id"], gateway="10.41.0.1",
                  netmask="255.255.255.0", startip="10.41.0.100", endip="10.41.0.199",
                  forvirtualnetwork="false")["vlan"]
    assert vlan["networkid"] == network["id"] and vlan["podid"] == pod["id"] and vlan["zoneid"] == zone["id"]
    assert vlan["physicalnetworkid"] == physical["id"]
    cluster = cs_cli("addCluster", zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-c1",
                     clustertype="CloudManaged", hypervisor="Simulator")["cluster"][0]
    host = cs_cli("addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator",
                  url=f"http://sim/{name}/h1", username="root", password="password")["host"][0]
    cs_cli("createStoragePool", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=f"{name}-pri",
           url=f"nfs://192.0.2.10/export/{name}", scope="cluster")
    cs_cli("addImageStore", provider="Local", url=f"file://{tmp_path / 'sec'}", zoneid=zone["id"], name=f"{name}-sec")
    assert cs_cli("updateZone", id=zone["id"], allocationstate="Enabled")["zone"]["allocationstate"] == "Enabled"
    detailed = cs_cli("updateZone", id=zone["id"], **{"details[0].rack": "r12", "details[0].owner": "ops"})["zone"]
    assert detailed["resourcedetails"] == {"rack": "r12", "owner": "ops"}
    assert cs_cli("listZones", id=zone["id"])["zone"][0]["resourcedetails"] == {"rack": "r12", "owner": "ops"}
    assert zone["id"] in {z["id"] for z in cs_cli("listZones", available="true")["zone"]}
    assert cs_cli("listZones", available="false").get("count", 0) == 0  # no virtual routers of this account

    # read back
    [listed_physical] = cs_cli("listPhysicalNetworks", zoneid=zone["id"])["physicalnetwork"]
    assert listed_physical["id"] == physical["id"] and listed_physical["state"] == "Enabled"
    traffic = cs_cli("listTrafficTypes", physicalnetworkid=physical["id"])["traffictype"]
    assert sorted(t["traffictype"] for t in traffic) == ["Guest", "Management"]
    assert {t["kvmnetworklabel"] for t in traffic} == {"cloudbr0"}
    providers = {p["name"]: p["state"] for p in cs_cli("listNetworkServiceProviders",
                                                      physicalnetworkid=physical["id"])["networkserviceprovider"]}
    assert providers["VirtualRouter"] == "Enabled" and providers["SecurityGroupProvider"] == "Enabled"
    assert providers["VpcVirtualRouter"] == "Disabled"
    [listed_network] = cs_cli("listNetworks", zoneid=zone["id"])["network"]
    assert listed_network["id"] == network["id"] and listed_network["acltype"] == "Domain"
    ranges = cs_cli("listVlanIpRanges", networkid=network["id"])["vlaniprange"]
    assert [r["id"] for r in ranges] == [vlan["id"]]
    assert cs_cli("listHosts", zoneid=zone["id"], type="Routing")["host"][0]["id"] == host["id"]

    # the wizard's mistakes: 431, and nothing is added
    assert "already" in expect_431(admin, "addTrafficType", physicalnetworkid=physical["id"], traffictype="Guest")
    expect_431(admin, "addTrafficType", physicalnetworkid=physical["id"], traffictype="Bogus")
    assert "Basic" in expect_431(admin, "createPhysicalNetwork", zoneid=zone["id"], name="second")
    assert "only one" in expect_431(admin, "createNetwork", zoneid=zone["id"], name="again",
                                    networkofferingid=offering["id"])
    expect_431(admin, "updatePhysicalNetwork", id=physical["id"], state="Sideways")
    expect_431(admin, "createNetwork", zoneid=zone["id"], name="x", networkofferingid="not-a-uuid")
    expect_431(admin, "listTrafficTypes")
    assert len(admin("listPhysicalNetworks", zoneid=zone["id"])["physicalnetwork"]) == 1
    assert len(admin("listNetworks", zoneid=zone["id"])["network"]) == 1
    assert len(admin("listTrafficTypes", physicalnetworkid=physical["id"])["traffictype"]) == 2
    # a network with IP ranges in use can't lose its physical network
    busy = admin.wait_job(admin("deletePhysicalNetwork", id=physical["id"])["jobid"])
    assert busy["jobstatus"] == 2 and busy["jobresultcode"] == 536, busy


def test_provider_needs_its_element_and_teardown(admin):
    name = unique("wz2")
    zone = admin("createZone", name=name, networktype="Basic", dns1="192.0.2.53", internaldns1="192.0.2.54")["zone"]
    physical = admin.wait_job(admin("createPhysicalNetwork", zoneid=zone["id"], name=name)["jobid"])
    physical = physical["jobresult"]["physicalnetwork"]
    router = admin("listNetworkServiceProviders", name="VirtualRouter",
                   physicalnetworkid=physical["id"])["networkserviceprovider"][0]
    refused = admin.wait_job(admin("updateNetworkServiceProvider", id=router["id"], state="Enabled")["jobid"])
    assert refused["jobstatus"] == 2 and refused["jobresultcode"] == 431 and "configure" in \
        refused["jobresult"]["errortext"]
    assert admin("listNetworkServiceProviders", id=router["id"], name="VirtualRouter",
                 physicalnetworkid=physical["id"])["networkserviceprovider"][0]["state"] == "Disabled"
    traffic = admin.wait_job(admin("addTrafficType", physicalnetworkid=physical["id"], traffictype="Public",
                                   kvmnetworklabel="cloudbr1")["jobid"])["jobresult"]["traffictype"]
    updated = admin.wait_job(admin("updateTrafficType", id=traffic["id"], kvmnetworklabel="pubbr0")["jobid"])
    assert updated["jobresult"]["traffictype"]["kvmnetworklabel"] == "pubbr0"
    assert admin.wait_job(admin("deleteTrafficType", id=traffic["id"])["jobid"])["jobstatus"] == 1
    # the zone's guest network: created, updated, deleted
    offering = admin("listNetworkOfferings", name="DefaultSharedNetworkOffering")["networkoffering"][0]
    network = admin("createNetwork", zoneid=zone["id"], name="guest", networkofferingid=offering["id"])["network"]
    renamed = admin.wait_job(admin("updateNetwork", id=network["id"], name="guest2", displaytext="Guest 2")["jobid"])
    assert renamed["jobresult"]["network"]["name"] == "guest2"
    assert admin.wait_job(admin("deleteNetwork", id=network["id"])["jobid"])["jobstatus"] == 1
    assert admin("listNetworks", zoneid=zone["id"]).get("count", 0) == 0
    # a zone keeps its physical network until it is deleted
    refused = expect_zone_delete_refused(admin, zone["id"])
    assert "physical" in refused
    assert admin.wait_job(admin("deletePhysicalNetwork", id=physical["id"])["jobid"])["jobstatus"] == 1
    assert admin("listPhysicalNetworks", zoneid=zone["id"]).get("count", 0) == 0
    admin("deleteZone", id=zone["id"])


def expect_zone_delete_refused(admin, zone_id: str) -> str:
    with pytest.raises(ApiError) as err:
        admin("deleteZone", id=zone_id)
    return err.value.body["errortext"]
