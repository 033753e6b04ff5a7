"""Zones, pods, guest IP ranges, clusters, hosts and capacity, through the real `cs` client and libcloud."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from libcloud.compute.providers import Provider, get_driver
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from agent.protocol import StartupReport
from management.db import make_engine
from management.infra import hosts as host_service
from management.infra import ips
from management.infra.models import Cluster, Host, IpAddress, VlanRange, Zone
from management.settings import Settings
from tests.conftest import unique
from tests.support import ApiError

GIB = 1024**3


def _error(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(*args, **kwargs)
    return err.value


def build_zone(cs, *, prefix: str = "z", host_url: str | None = None, net3: int = 10) -> dict:
    """A Basic zone brought up as the UI does it; returns the created objects."""
    zone = cs.createZone(name=unique(prefix), networktype="Basic", securitygroupenabled="true", dns1="8.8.8.8",
                         internaldns1="10.0.0.2")["zone"]
    pod = cs.createPod(zoneid=zone["id"], name=unique("pod"), gateway=f"10.{net3}.0.1", netmask="255.255.255.0",
                       startip=f"10.{net3}.0.10", endip=f"10.{net3}.0.50")["pod"]
    vlan = cs.createVlanIpRange(zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                                gateway=f"10.{net3}.1.1", netmask="255.255.255.0", startip=f"10.{net3}.1.100",
                                endip=f"10.{net3}.1.119")["vlan"]
    clusters = cs.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=unique("cl"), hypervisor="Simulator",
                             clustertype="CloudManaged")
    cluster = clusters["cluster"][0]
    url = host_url or f"http://sim/{unique('c')}/h1"
    hosts = cs.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator", url=url,
                       username="root", password="x")
    enabled = cs.updateZone(id=zone["id"], allocationstate="Enabled")["zone"]
    return {"zone": enabled, "pod": pod, "vlan": vlan, "cluster": cluster, "clusters": clusters,
            "host": hosts["host"][0], "hosts": hosts, "url": url}


@pytest.fixture(scope="module")
def basic(cs_admin) -> dict:
    return build_zone(cs_admin, prefix="basic", net3=10)


@pytest.fixture(scope="module")
def db(cloud):
    """A session factory on the test cloud's own database (SQLite file or MariaDB)."""
    props = cloud.env.get("CLOUDSTACK_DB_PROPERTIES")
    settings = Settings(data_dir=cloud.data_dir, db_properties=Path(props) if props else None)
    engine = make_engine(settings.database_url())
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def test_basic_zone_bring_up_reads_back(cs_admin, admin, basic, cloud, admin_keys):
    zone, pod, vlan, cluster, host = basic["zone"], basic["pod"], basic["vlan"], basic["cluster"], basic["host"]
    assert zone["allocationstate"] == "Enabled" and zone["networktype"] == "Basic"
    assert zone["securitygroupsenabled"] is True and zone["dns1"] == "8.8.8.8" and zone["internaldns1"] == "10.0.0.2"
    assert basic["clusters"]["count"] == 1 and basic["hosts"]["count"] == 1  # both answer a list, as CloudStack
    listed = cs_admin.listZones(id=zone["id"])["zone"][0]
    assert listed == zone

    pods = cs_admin.listPods(zoneid=zone["id"])["pod"]
    assert [p["id"] for p in pods] == [pod["id"]]
    assert pods[0]["gateway"] == "10.10.0.1" and pods[0]["netmask"] == "255.255.255.0"
    assert pods[0]["startip"] == ["10.10.0.10"] and pods[0]["endip"] == ["10.10.0.50"]
    assert pods[0]["zonename"] == zone["name"] and pods[0]["allocationstate"] == "Enabled"

    ranges = cs_admin.listVlanIpRanges(zoneid=zone["id"])["vlaniprange"]
    assert [r["id"] for r in ranges] == [vlan["id"]]
    assert ranges[0]["podid"] == pod["id"] and ranges[0]["forvirtualnetwork"] is False
    assert ranges[0]["startip"] == "10.10.1.100" and ranges[0]["endip"] == "10.10.1.119"
    assert ranges[0]["cidr"] == "10.10.1.0/24" and ranges[0]["vlan"] == "vlan://untagged"
    assert ranges[0]["gateway"] == "10.10.1.1" and ranges[0]["netmask"] == "255.255.255.0"

    clusters = cs_admin.listClusters(zoneid=zone["id"])["cluster"]
    assert clusters == [cluster]
    assert cluster["hypervisortype"] == "Simulator" and cluster["clustertype"] == "CloudManaged"
    assert cluster["podid"] == pod["id"] and cluster["managedstate"] == "Managed"

    hosts = cs_admin.listHosts(zoneid=zone["id"])["host"]
    assert [h["id"] for h in hosts] == [host["id"]]
    h = hosts[0]
    assert h["state"] == "Up" and h["resourcestate"] == "Enabled" and h["type"] == "Routing"
    assert h["hypervisor"] == "Simulator" and h["clusterid"] == cluster["id"] and h["podid"] == pod["id"]
    assert h["cpunumber"] == 16 and h["cpuspeed"] == 2000 and h["memorytotal"] == 32 * GIB
    assert h["cpuallocated"] == "0%" and h["memoryallocated"] == 0 and h["ipaddress"]
    assert h["lastpinged"] and h["created"] and h["version"]
    for name, value in (("podid", pod["id"]), ("clusterid", cluster["id"]), ("hypervisor", "Simulator"),
                        ("state", "Up"), ("resourcestate", "Enabled"), ("type", "Routing"), ("name", h["name"]),
                        ("keyword", h["name"][-6:])):
        assert host["id"] in {x["id"] for x in admin("listHosts", **{name: value})["host"]}, name
    assert admin("listHosts", zoneid=zone["id"], resourcestate="Maintenance") == {}

    driver = get_driver(Provider.CLOUDSTACK)(admin_keys[0], admin_keys[1], host="127.0.0.1", port=cloud.port,
                                             path="/client/api", secure=False)
    assert zone["name"] in {location.name for location in driver.list_locations()}


def test_zone_defaults_update_and_xml(admin):
    zone = admin("createZone", name=unique("adv"), networktype="Advanced", dns1="1.1.1.1", internaldns1="10.0.0.2",
                 dns2="1.0.0.1")["zone"]
    assert zone["allocationstate"] == "Disabled" and zone["guestcidraddress"] == "10.1.1.0/24" and zone["zonetoken"]
    updated = admin("updateZone", id=zone["id"], name=zone["name"] + "x", dns2="9.9.9.9")["zone"]
    assert updated["name"] == zone["name"] + "x" and updated["dns2"] == "9.9.9.9"
    assert admin.raw("listZones", id=zone["id"], response="xml").status_code == 200
    assert admin("deleteZone", id=zone["id"]) == {"success": "true"}
    assert _error(admin, "listZones", id=str(uuid.uuid4())).status == 431
    assert admin("listZones", name=zone["name"] + "x") == {}
    events = {e["type"] for e in admin("listEvents", pagesize=200, page=1)["event"]}
    assert {"ZONE.CREATE", "ZONE.EDIT", "ZONE.DELETE"} <= events


def test_bad_input_is_refused_and_changes_nothing(admin, basic):
    zone, pod, cluster = basic["zone"], basic["pod"], basic["cluster"]
    nobody = str(uuid.uuid4())
    assert _error(admin, "createPod", zoneid=nobody, name="p").status == 431
    assert _error(admin, "addCluster", zoneid=zone["id"], podid=nobody, clustername="c", hypervisor="KVM",
                  clustertype="CloudManaged").status == 431
    assert _error(admin, "createZone", name=unique("z"), networktype="Basic", dns1="8.8.8.300",
                  internaldns1="10.0.0.2").body["errortext"].count("dns1") == 1
    assert _error(admin, "createZone", name=zone["name"], networktype="Basic", dns1="8.8.8.8",
                  internaldns1="10.0.0.2").status == 431  # duplicate name
    # pods: bad netmask, gateway outside the network, start after end, duplicate name
    err = _error(admin, "createPod", zoneid=zone["id"], name=unique("p"), gateway="10.20.0.1", netmask="255.0.255.0",
                 startip="10.20.0.5", endip="10.20.0.9")
    assert err.status == 431 and "netmask" in err.body["errortext"]
    err = _error(admin, "createPod", zoneid=zone["id"], name=unique("p"), gateway="10.21.0.1", netmask="255.255.255.0",
                 startip="10.22.0.5", endip="10.22.0.9")
    assert err.status == 431 and "startip" in err.body["errortext"]
    err = _error(admin, "createPod", zoneid=zone["id"], name=unique("p"), gateway="10.21.0.1", netmask="255.255.255.0",
                 startip="10.21.0.9", endip="10.21.0.5")
    assert err.status == 431
    assert _error(admin, "createPod", zoneid=zone["id"], name=pod["name"]).status == 431
    assert len(admin("listPods", zoneid=zone["id"])["pod"]) == 1
    # ranges: overlap, gateway outside the netmask, bad address, too big
    before = admin("listVlanIpRanges", zoneid=zone["id"])
    err = _error(admin, "createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                 gateway="10.10.1.1", netmask="255.255.255.0", startip="10.10.1.110", endip="10.10.1.130")
    assert err.status == 431 and "overlaps" in err.body["errortext"]
    err = _error(admin, "createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                 gateway="10.99.0.1", netmask="255.255.255.0", startip="10.10.2.10", endip="10.10.2.20")
    assert err.status == 431 and "gateway" in err.body["errortext"]
    err = _error(admin, "createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                 gateway="10.10.2.1", netmask="255.255.255.0", startip="10.10.2.x", endip="10.10.2.20")
    assert err.status == 431 and "startip" in err.body["errortext"]
    err = _error(admin, "createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                 gateway="10.32.0.1", netmask="255.0.0.0", startip="10.32.0.2", endip="10.34.0.2")
    assert err.status == 431 and "65536" in err.body["errortext"]
    assert admin("listVlanIpRanges", zoneid=zone["id"]) == before
    # clusters and hosts
    err = _error(admin, "addCluster", zoneid=zone["id"], podid=pod["id"], clustername=unique("c"),
                 hypervisor="XenServer", clustertype="CloudManaged")
    assert err.status == 431 and "hypervisor" in err.body["errortext"]
    err = _error(admin, "addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="VMware",
                 url="http://sim/x/y")
    assert err.status == 431 and "hypervisor" in err.body["errortext"]
    err = _error(admin, "addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                 hypervisor="Simulator", url=basic["url"].replace("http://sim/", "http://SIM/") + "/?cpus=2")
    assert err.status == 431 and "already exists" in err.body["errortext"]
    assert len(admin("listHosts", zoneid=zone["id"])["host"]) == 1
    assert len(admin("listClusters", zoneid=zone["id"])["cluster"]) == 1
    # deletions of things with children
    err = _error(admin, "deleteZone", id=zone["id"])
    assert err.status == 536 and "pods" in err.body["errortext"]
    err = _error(admin, "deletePod", id=pod["id"])
    assert err.status == 536 and "clusters" in err.body["errortext"]
    err = _error(admin, "deleteCluster", id=cluster["id"])
    assert err.status == 536 and "hosts" in err.body["errortext"]
    err = _error(admin, "deleteHost", id=basic["host"]["id"])
    assert err.status == 431 and "maintenance" in err.body["errortext"]
    assert admin("listZones", id=zone["id"])["zone"][0]["allocationstate"] == "Enabled"
    assert admin("listPods", id=pod["id"])["count"] == 1 and admin("listClusters", id=cluster["id"])["count"] == 1
    assert admin("listHosts", id=basic["host"]["id"])["host"][0]["state"] == "Up"


def test_maintenance_cycle_and_delete(cs_admin, admin, basic):
    zone, pod, cluster = basic["zone"], basic["pod"], basic["cluster"]
    url = f"http://sim/{unique('m')}/h2?cpus=4&memory_gb=8"
    host = cs_admin.addHost(zoneid=zone["id"], podid=pod["id"], clustername=cluster["name"], hypervisor="Simulator",
                            url=url, hosttags="ssd, fast", username="root", password="x")["host"][0]
    assert host["cpunumber"] == 4 and host["memorytotal"] == 8 * GIB and host["hosttags"] == "ssd,fast"
    done = cs_admin.prepareHostForMaintenance(id=host["id"])
    assert done["host"]["resourcestate"] == "Maintenance"
    err = _error(admin, "prepareHostForMaintenance", id=host["id"])  # refused at once, no job
    assert err.status == 431 and "already" in err.body["errortext"]
    assert cs_admin.cancelHostMaintenance(id=host["id"])["host"]["resourcestate"] == "Enabled"
    assert _error(admin, "cancelHostMaintenance", id=host["id"]).status == 431
    assert cs_admin.reconnectHost(id=host["id"])["host"]["state"] == "Up"
    types = {e["type"] for e in admin("listEvents", pagesize=200, page=1)["event"]}
    assert {"MAINT.PREPARE", "MAINT.CANCEL", "HOST.RECONNECT"} <= types

    assert admin("updateHost", id=host["id"], allocationstate="Disable", name="renamed")["host"]["resourcestate"] \
        == "Disabled"
    assert _error(admin, "updateHost", id=host["id"], allocationstate="Sideways").status == 431
    assert admin("deleteHost", id=host["id"]) == {"success": "true"}
    assert admin("listHosts", id=host["id"]) == {}
    again = admin("addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator",
                  url=url)["host"][0]  # the URL is free again once the host is gone
    assert admin("deleteHost", id=again["id"], forced="true") == {"success": "true"}


def test_kvm_host_is_attached_from_its_agent_registration(admin, basic, db):
    zone, pod = basic["zone"], basic["pod"]
    kvm = admin("addCluster", zoneid=zone["id"], podid=pod["id"], clustername=unique("kvm"), hypervisor="kvm",
                clustertype="CloudManaged")["cluster"][0]
    assert kvm["hypervisortype"] == "KVM"
    err = _error(admin, "addHost", zoneid=zone["id"], podid=pod["id"], clusterid=kvm["id"], hypervisor="KVM",
                 url="http://10.10.0.77", username="root", password="x")
    assert err.status == 530 and "Unable to find an agent at 10.10.0.77" in err.body["errortext"]
    guid = f"kvm-{uuid.uuid4()}"
    report = StartupReport(guid=guid, name="kvm-a", hypervisor="KVM", hypervisor_version="8.0", cpus=8,
                           cpu_sockets=1, cpu_speed_mhz=2500, memory_bytes=16 * GIB, private_ip="10.10.0.77",
                           capabilities=["hvm"], agent_version="4.18.0.0", zone_uuid=zone["id"])
    with db() as session, session.begin():
        z = session.scalar(select(Zone).where(Zone.uuid == zone["id"]))
        host_service.register_host(session, report, zone=z)
    host = admin("addHost", zoneid=zone["id"], podid=pod["id"], clusterid=kvm["id"], hypervisor="KVM",
                 url="http://10.10.0.77", hosttags="gpu")["host"][0]
    assert host["state"] == "Up" and host["clusterid"] == kvm["id"] and host["cpuspeed"] == 2500
    assert host["ipaddress"] == "10.10.0.77" and host["hosttags"] == "gpu"
    with db() as session, session.begin():  # the agent comes back: same row, updated
        z = session.scalar(select(Zone).where(Zone.uuid == zone["id"]))
        c = session.scalar(select(Cluster).where(Cluster.uuid == kvm["id"]))
        host_service.register_host(session, report.model_copy(update={"cpus": 12}), zone=z, cluster=c)
    with db() as session:
        assert session.scalar(select(func.count(Host.id)).where(Host.guid == guid)) == 1
    assert admin("listHosts", id=host["id"])["host"][0]["cpunumber"] == 12
    assert admin("listHosts", hypervisor="KVM", zoneid=zone["id"])["count"] == 1


def test_concurrent_allocation_never_duplicates(admin, basic, db):
    zone, pod = basic["zone"], basic["pod"]
    rng = admin("createVlanIpRange", zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                gateway="10.10.3.1", netmask="255.255.255.0", startip="10.10.3.10", endip="10.10.3.21")["vlan"]
    with db() as session:
        vlan_id = session.scalar(select(VlanRange.id).where(VlanRange.uuid == rng["id"]))
        z_id = session.scalar(select(Zone.id).where(Zone.uuid == zone["id"]))
    got, lock = [], threading.Lock()

    def worker():
        for _ in range(3):
            with db() as session, session.begin():
                ip = ips.allocate_ip(session, zone_id=z_id, vlan_ids=[vlan_id], account_id=2, domain_id=1)
            with lock:
                got.append(ip.address if ip else None)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [a for a in got if a]
    assert len(taken) == 12 and len(set(taken)) == 12 and got.count(None) == 12  # 12 addresses, 24 attempts
    err = _error(admin, "deleteVlanIpRange", id=rng["id"])
    assert err.status == 536 and "allocated" in err.body["errortext"]
    assert admin("listVlanIpRanges", id=rng["id"])["count"] == 1
    with db() as session, session.begin():
        for ip in session.scalars(select(IpAddress).where(IpAddress.vlan_id == vlan_id)).all():
            ips.release_ip(session, ip)
    assert admin("deleteVlanIpRange", id=rng["id"]) == {"success": "true"}
    assert admin("listVlanIpRanges", zoneid=zone["id"])["count"] == 1


def test_list_capacity(cs_admin, admin):
    built = build_zone(cs_admin, prefix="cap", net3=40, host_url=f"http://sim/{unique('cap')}/h?cpus=8&memory_gb=16")
    zone, pod = built["zone"], built["pod"]
    rows = {c["type"]: c for c in admin("listCapacity", zoneid=zone["id"])["capacity"]}
    assert rows[0]["capacitytotal"] == 16 * GIB and rows[0]["capacityused"] == 0 and rows[0]["percentused"] == "0.00"
    assert rows[1]["capacitytotal"] == 8 * 2000 and rows[1]["name"] == "CPU" and rows[1]["zonename"] == zone["name"]
    assert rows[8]["capacitytotal"] == 20 and rows[8]["capacityused"] == 0  # the pod's guest range
    assert rows[4]["capacitytotal"] == 0
    assert rows[5]["capacitytotal"] == 41  # the pod's management range 10.40.0.10-50
    public = admin("createVlanIpRange", zoneid=zone["id"], forvirtualnetwork="true", gateway="10.40.9.1",
                   netmask="255.255.255.0", startip="10.40.9.10", endip="10.40.9.13")["vlan"]
    assert public["forvirtualnetwork"] is True and "podid" not in public
    assert admin("listCapacity", zoneid=zone["id"], type=4)["capacity"][0]["capacitytotal"] == 4
    by_pod = admin("listCapacity", podid=pod["id"])["capacity"]
    assert {c["type"] for c in by_pod} == {0, 1, 5, 8} and all(c["podid"] == pod["id"] for c in by_pod)
    by_cluster = admin("listCapacity", clusterid=built["cluster"]["id"], sortby="usage")["capacity"]
    assert {c["type"] for c in by_cluster} == {0, 1}
    admin("updateHost", id=built["host"]["id"], allocationstate="Disable")
    assert admin("listCapacity", zoneid=zone["id"], type=0)["capacity"][0]["capacitytotal"] == 0
    shown = admin("listZones", id=zone["id"], showcapacities="true")["zone"][0]["capacity"]
    assert {c["type"] for c in shown} >= {0, 1, 4, 5, 8}
