"""The agent and the host link, with real processes: a management server (+ worker on MariaDB/Redis), real
``cloudstack-agent`` processes (libvirt driver on test:///default, and the simulator driver), and
``agent_link.call`` from this process against the test cloud's own database and broker."""

from __future__ import annotations

import subprocess
import time
import uuid
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent.hypervisor.libvirt.driver import LibvirtDriver
from agent.protocol import GetVmStates, NicSpec, StartVm, StopVm, VmSpec
from management.settings import Settings
from tests.conftest import unique
from tests.support import BIN, ApiError, wait_until

wait_for = partial(wait_until, timeout=30.0, step=0.3)

PING_INTERVAL = 2  # global ping.interval during this module; ping.timeout 1.5 -> Alert after 3 s, Down after 6 s




@pytest.fixture(scope="module")
def link(cloud):
    """This process talks to the test cloud as a management node would: its database, broker and queue."""
    from management.db import db
    from management.infra import agent_link
    from management.jobs import celery

    props = cloud.env.get("CLOUDSTACK_DB_PROPERTIES")
    settings = Settings(data_dir=cloud.data_dir, db_properties=Path(props) if props else None,
                        broker_url=cloud.env.get("CLOUDSTACK_BROKER_URL"),
                        queue=cloud.env.get("CLOUDSTACK_QUEUE", "management"))
    db.configure(settings.database_url("cloud"), settings.database_url("usage"))
    celery.configure(settings)
    agent_link.configure(settings)
    yield agent_link
    agent_link.configure(None)
    db.dispose()


@pytest.fixture(scope="module")
def fast_pings(admin):
    admin("updateConfiguration", name="ping.interval", value=str(PING_INTERVAL))
    admin("updateConfiguration", name="ping.timeout", value="1.5")
    yield
    admin("resetConfiguration", name="ping.interval")
    admin("resetConfiguration", name="ping.timeout")


@pytest.fixture(scope="module")
def zone(admin, agents):
    """A zone with a KVM and a Simulator cluster; its hosts are removed afterwards (agents stopped first)."""
    z = admin("createZone", name=unique("agentz"), networktype="Basic", dns1="8.8.8.8", internaldns1="10.0.0.2")
    z = z["zone"]
    pod = admin("createPod", zoneid=z["id"], name=unique("pod"), gateway="10.77.0.1", netmask="255.255.255.0",
                startip="10.77.0.10", endip="10.77.0.50")["pod"]
    kvm = admin("addCluster", zoneid=z["id"], podid=pod["id"], clustername=unique("kvm"), hypervisor="KVM",
                clustertype="CloudManaged")["cluster"][0]
    sim = admin("addCluster", zoneid=z["id"], podid=pod["id"], clustername=unique("sim"), hypervisor="Simulator",
                clustertype="CloudManaged")["cluster"][0]
    yield {"zone": z, "pod": pod, "kvm": kvm, "sim": sim}
    agents.close()
    for host in admin("listHosts", zoneid=z["id"]).get("host", []):
        admin("deleteHost", id=host["id"], forced="true")


class Agents:
    def __init__(self, cloud) -> None:
        self.cloud, self.procs = cloud, []

    def start(self, guid: str, *, driver: str, private_ip: str, zone: str, cluster: str | None = None,
              uri: str = "test:///default", extra: list[str] = ()) -> subprocess.Popen:
        broker = self.cloud.env.get("CLOUDSTACK_BROKER_URL") or str(self.cloud.data_dir / "broker")
        lines = [f"guid={guid}", f"zone={zone}", f"name=agent-{guid[:8]}", f"private.ip={private_ip}",
                 f"driver={driver}", f"hypervisor.uri={uri}", f"broker.url={broker}", "ping.interval=1",
                 "workers=2", f"management.queue={self.cloud.env.get('CLOUDSTACK_QUEUE', 'management')}"]
        if cluster:
            lines.append(f"cluster={cluster}")
        lines.extend(extra)
        config = self.cloud.data_dir / f"agent-{guid}.properties"
        config.write_text("# test agent\n" + "\n".join(lines) + "\n")
        log = self.cloud.data_dir / f"agent-{guid}-{len(self.procs)}.log"
        proc = subprocess.Popen([str(BIN / "cloudstack-agent"), "--config", str(config)], env=self.cloud.env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT)
        proc.log = log
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def agents(cloud):
    a = Agents(cloud)
    yield a
    a.close()


def host_row(guid: str):
    from management.db import db
    from management.infra.models import Host

    with db.read_session() as session:
        return session.scalar(select(Host).where(Host.guid == guid, Host.removed.is_(None)))


def listed(admin, host_id: str) -> dict:
    return admin("listHosts", id=host_id)["host"][0]


def spec(name: str) -> VmSpec:
    return VmSpec(name=name, uuid=str(uuid.uuid4()), vcpus=1, cpu_speed_mhz=1000, memory_mb=128,
                  nics=[NicSpec(mac="02:00:4c:00:00:01")])


@pytest.fixture(scope="module")
def kvm_host(admin, zone, agents, link, fast_pings) -> dict:
    """A libvirt agent (test:///default) that registers itself, then attached by addHost url=http://IP."""
    guid = str(uuid.uuid4())
    proc = agents.start(guid, driver="libvirt", private_ip="192.0.2.11", zone=zone["zone"]["id"])
    try:
        wait_for(lambda: (h := host_row(guid)) is not None and h.status == "Up", what="agent registration")
    except TimeoutError:
        raise AssertionError(proc.log.read_text()[-3000:]) from None
    host = admin("addHost", zoneid=zone["zone"]["id"], podid=zone["pod"]["id"], clusterid=zone["kvm"]["id"],
                 hypervisor="KVM", url="http://192.0.2.11", username="root", password="x")["host"][0]
    return {"guid": guid, "proc": proc, "host": host}


def test_agent_registers_and_addhost_attaches_it(admin, zone, kvm_host):
    host = kvm_host["host"]
    expected = LibvirtDriver("test:///default").host_info("x", "x")
    assert host["state"] == "Up" and host["hypervisor"] == "KVM" and host["clusterid"] == zone["kvm"]["id"]
    assert host["ipaddress"] == "192.0.2.11" and host["podid"] == zone["pod"]["id"]
    assert host["cpunumber"] == expected.cpus and host["memorytotal"] == expected.memory_bytes
    assert host["cpuspeed"] == expected.cpu_speed_mhz and host["hypervisorversion"] == expected.hypervisor_version
    # pings keep it fresh
    first = host_row(kvm_host["guid"]).last_ping
    wait_for(lambda: host_row(kvm_host["guid"]).last_ping > first, timeout=10, what="a newer ping")


def test_call_round_trips_on_the_libvirt_agent(link, kvm_host):
    host = host_row(kvm_host["guid"])
    answer = link.call(host, GetVmStates(), timeout=20)
    assert answer.ok, answer.details
    assert answer.data["vm_states"].get("test") == "PowerOn"  # test:///default's own domain
    name = f"i-2-{uuid.uuid4().int % 100000}-VM"
    answer = link.call(host, StartVm(vm=spec(name)), timeout=20)
    assert answer.ok and answer.data["state"] == "PowerOn", answer.details
    assert link.call(host, GetVmStates(), timeout=20).data["vm_states"][name] == "PowerOn"
    answer = link.call(host, StopVm(name=name, force=True), timeout=20)
    assert answer.ok, answer.details
    assert name not in link.call(host, GetVmStates(), timeout=20).data["vm_states"]
    answer = link.call(host, StopVm(name=name), timeout=20)  # stopping what is gone is fine
    assert answer.ok


def test_pools_of_a_kvm_cluster_are_prepared_and_sized_by_its_agents(admin, zone, kvm_host, tmp_path):
    """createStoragePool without capacitybytes: the cluster's agent checks the shared mount point and sizes it;
    a path the host does not have fails the creation with the agent's reason and keeps nothing."""
    import shutil

    shared = tmp_path / "shared-primary"
    shared.mkdir()
    name = unique("smp")
    pool = admin("createStoragePool", zoneid=zone["zone"]["id"], podid=zone["pod"]["id"],
                 clusterid=zone["kvm"]["id"], name=name, url=f"SharedMountPoint://localhost{shared}")["storagepool"]
    assert int(pool["disksizetotal"]) == shutil.disk_usage(shared).total
    assert 0 < int(pool["disksizeused"]) <= int(pool["disksizetotal"])
    missing = unique("nope")
    with pytest.raises(ApiError) as failure:
        admin("createStoragePool", zoneid=zone["zone"]["id"], podid=zone["pod"]["id"], clusterid=zone["kvm"]["id"],
              name=missing, url=f"SharedMountPoint://localhost{tmp_path / missing}")
    assert failure.value.status == 534 and "does not exist on this host" in failure.value.body["errortext"]
    assert not admin("listStoragePools", name=missing).get("storagepool")
    admin("deleteStoragePool", id=pool["id"])


def test_storage_cleanup_sweeps_interrupted_copies_through_an_agent(admin, zone, kvm_host, tmp_path):
    """A copy interrupted on a host (its agent killed) leaves ``<uuid>.part`` on the pool: the storage cleanup
    has one of the pool's hosts remove it once nobody wrote it for an hour; a fresh one (a copy in progress),
    a volume and a file of someone else's on the shared mount are left alone."""
    import os

    shared = tmp_path / "swept-primary"
    shared.mkdir()
    pool = admin("createStoragePool", zoneid=zone["zone"]["id"], podid=zone["pod"]["id"],
                 clusterid=zone["kvm"]["id"], name=unique("sweep"),
                 url=f"SharedMountPoint://localhost{shared}")["storagepool"]
    stale, fresh, volume, other = (shared / f"{uuid.uuid4()}.part", shared / f"{uuid.uuid4()}.part",
                                   shared / str(uuid.uuid4()), shared / "notes.part")
    old = time.time() - 2 * 3600
    for path in (stale, fresh, volume, other):
        path.write_bytes(b"x" * 1024)
    for path in (stale, volume, other):
        os.utime(path, (old, old))
    admin("updateConfiguration", name="storage.cleanup.interval", value="2")
    try:
        wait_for(lambda: not stale.exists(), timeout=60, what="the interrupted copy swept")
        assert fresh.exists() and volume.exists() and other.exists()
    finally:
        admin("resetConfiguration", name="storage.cleanup.interval")
        admin("deleteStoragePool", id=pool["id"])


def test_simulator_driven_agent_joins_its_cluster_at_once(admin, zone, agents, link, fast_pings):
    guid = str(uuid.uuid4())
    agents.start(guid, driver="simulator", private_ip="192.0.2.12", zone=zone["zone"]["id"],
                 cluster=zone["kvm"]["id"])
    wait_for(lambda: (h := host_row(guid)) is not None and h.status == "Up", what="registration")
    host = host_row(guid)
    listed_host = listed(admin, host.uuid)
    assert listed_host["clusterid"] == zone["kvm"]["id"] and listed_host["hypervisor"] == "KVM"
    assert listed_host["cpunumber"] == 16
    answer = link.call(host, StartVm(vm=spec("i-2-77-VM")), timeout=20)
    assert answer.ok, answer.details
    assert link.call(host, GetVmStates(), timeout=20).data["vm_states"] == {"i-2-77-VM": "PowerOn"}
    # a VM the cloud has no record of: left running, but its next ping raises an alert (once, not per ping)
    found = wait_for(lambda: [a for a in admin("listAlerts", type=27).get("alert", [])
                              if "i-2-77-VM" in a["description"] and host.name in a["description"]],
                     timeout=30, what="the unknown-VM alert")
    assert len(found) == 1 and found[0]["name"] == "ALERT.TYPE.SYNC"
    assert link.call(host, GetVmStates(), timeout=20).data["vm_states"] == {"i-2-77-VM": "PowerOn"}


def test_reconnect_host_brings_the_kvm_host_back(admin, kvm_host):
    result = admin.wait_job(admin("reconnectHost", id=kvm_host["host"]["id"])["jobid"])
    assert result["jobstatus"] == 1, result
    wait_for(lambda: listed(admin, kvm_host["host"]["id"])["state"] == "Up", timeout=15, what="Up after reconnect")


def test_dead_agent_goes_alert_then_down_and_comes_back(admin, link, agents, kvm_host, zone):
    guid, host_id = kvm_host["guid"], kvm_host["host"]["id"]
    proc = kvm_host["proc"]
    proc.kill()  # kill -9: no goodbye
    proc.wait()
    host = host_row(guid)
    assert host.status == "Up"
    started = time.monotonic()
    answer = link.call(host, GetVmStates(), timeout=1.5)
    assert not answer.ok and answer.details == f"Agent on host {host.name} did not answer within 1.5s"
    assert 1.4 < time.monotonic() - started < 5
    wait_for(lambda: listed(admin, host_id)["state"] == "Alert", timeout=20, what="Alert")
    wait_for(lambda: listed(admin, host_id)["state"] == "Down", timeout=20, what="Down")
    down = host_row(guid)
    assert down.disconnected is not None and listed(admin, host_id).get("disconnected")
    answer = link.call(down, GetVmStates(), timeout=5)
    assert not answer.ok and answer.details == f"Host {down.name} is Down"
    subjects = [a["description"] for a in admin("listAlerts", type=7)["alert"]]
    assert any(down.name in s and "down" in s for s in subjects), subjects
    assert admin("listAlerts", type=7)["alert"][0]["name"] == "ALERT.COMPUTE.HOST"

    kvm_host["proc"] = agents.start(guid, driver="libvirt", private_ip="192.0.2.11", zone=zone["zone"]["id"])
    wait_for(lambda: listed(admin, host_id)["state"] == "Up", timeout=30, what="Up after restart")
    from management.db import db
    from management.infra.models import Host

    with db.read_session() as session:
        assert session.scalar(select(func.count(Host.id)).where(Host.guid == guid)) == 1
    assert link.call(host_row(guid), GetVmStates(), timeout=20).ok


@pytest.fixture(scope="module")
def sim_host(admin, zone) -> dict:
    return admin("addHost", zoneid=zone["zone"]["id"], podid=zone["pod"]["id"], clusterid=zone["sim"]["id"],
                 hypervisor="Simulator", url=f"http://sim/{unique('c')}/h1", username="root", password="x")["host"][0]


def sim_row(host_id: str):
    from management.db import db
    from management.infra.models import Host

    with db.read_session() as session:
        return session.scalar(select(Host).where(Host.uuid == host_id))


def test_configure_simulator_fails_a_simulated_start(admin, link, sim_host):
    mock = admin("configureSimulator", hostid=sim_host["id"], name="StartCommand",
                 value="result:fail;message:no capacity on the fake host;count:1")["mock"]
    assert mock["name"] == "StartVm" and mock["count"] == 1 and mock["hostid"] == sim_host["id"]
    host = sim_row(sim_host["id"])
    answer = link.call(host, StartVm(vm=spec("i-2-90-VM")))
    assert not answer.ok and answer.details == "no capacity on the fake host"
    assert admin("querySimulatorMock", id=mock["id"])["mock"]["count"] == 0
    answer = link.call(host, StartVm(vm=spec("i-2-90-VM")))  # the mock is used up
    assert answer.ok, answer.details
    admin("configureSimulator", clusterid=sim_host["clusterid"], name="StopVm", value="wait:400")
    started = time.monotonic()
    assert link.call(host, StopVm(name="i-2-90-VM")).ok
    assert time.monotonic() - started >= 0.4
    with pytest.raises(ApiError) as err:
        admin("configureSimulator", hostid=sim_host["id"], name="StartCommand", value="explode:yes")
    assert err.value.status == 431


def test_simulated_host_missing_pings_goes_down(admin, link, sim_host, fast_pings):
    mock = admin("configureSimulator", hostid=sim_host["id"], name="PingCommand", value="result:fail")["mock"]
    wait_for(lambda: listed(admin, sim_host["id"])["state"] == "Alert", timeout=20, what="Alert")
    wait_for(lambda: listed(admin, sim_host["id"])["state"] == "Down", timeout=20, what="Down")
    assert not link.call(sim_row(sim_host["id"]), GetVmStates()).ok
    admin("cleanupSimulatorMock", id=mock["id"])
    result = admin.wait_job(admin("reconnectHost", id=sim_host["id"])["jobid"])
    assert result["jobresult"]["host"]["state"] == "Up"
    time.sleep(PING_INTERVAL * 2)
    assert listed(admin, sim_host["id"])["state"] == "Up"  # the monitor pings it again
