"""Infrastructure services without a server: IPv4 checks, simulated hosts, capacity arithmetic."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

import management.api.native.commands  # noqa: F401  (every model)
from management.config import service as config
from management.db import Base, make_engine
from management.errors import InvalidParameter
from management.infra import capacity, hosts, net
from management.infra.models import Cluster, Host, Pod, Zone
from management.infra.responses import java_percent


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    Base.metadata.create_all(engine)
    config.clear_cache()
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_range_checks_name_the_parameter():
    network, first, last = net.check_range(gateway="10.0.0.1", mask="255.255.255.0", start="10.0.0.10",
                                           end="10.0.0.20")
    assert str(network) == "10.0.0.0/24" and str(first) == "10.0.0.10" and str(last) == "10.0.0.20"
    cases = [({"gateway": "10.0.0.300"}, "gateway"), ({"mask": "255.0.255.0"}, "netmask"),
             ({"start": "10.0.1.10"}, "startip"), ({"end": "10.0.1.20"}, "endip"), ({"end": "10.0.0.5"}, "endip"),
             ({"gateway": "10.0.0.15"}, "gateway"), ({"start": "10.0.0.0"}, "network or broadcast")]
    for change, word in cases:
        args = {"gateway": "10.0.0.1", "mask": "255.255.255.0", "start": "10.0.0.10", "end": "10.0.0.20"} | change
        with pytest.raises(InvalidParameter) as err:
            net.check_range(**args)
        assert word in err.value.message, (change, err.value.message)
    assert net.overlaps("10.0.0.1", "10.0.0.9", "10.0.0.9", "10.0.0.20")
    assert not net.overlaps("10.0.0.1", "10.0.0.9", "10.0.0.10", "10.0.0.20")
    assert net.size("10.0.0.0", "10.0.255.255") == 65536 and net.mask_of(22) == "255.255.252.0"


def test_simulator_report_defaults_overrides_and_guid():
    report = hosts.simulator_report("http://sim/c1/h1")
    assert (report.cpus, report.cpu_speed_mhz, report.cpu_sockets) == (16, 2000, 2)
    assert report.memory_bytes == 32 * 1024**3 and report.local_storage_bytes == 1024 * 1024**3
    assert report.guid == "sim://sim/c1/h1" and report.name == "sim-c1-h1" and report.hypervisor == "Simulator"
    other = hosts.simulator_report("http://SIM/c1/h1/?cpus=8&memory_gb=16&ip=10.1.1.5")
    assert other.guid == report.guid and other.cpus == 8 and other.memory_bytes == 16 * 1024**3
    assert other.private_ip == "10.1.1.5" and report.private_ip.startswith("172.")
    for bad in ("http://sim/c1?cpus=x", "http://sim/c1?cpus=0", "http://"):
        with pytest.raises(InvalidParameter):
            hosts.simulator_report(bad)


def test_java_percent():
    assert [java_percent(v) for v in (0, 12.5, 100 / 3, 50)] == ["0", "12.5", "33.33", "50"]


def test_capacity_uses_cluster_ratios_and_only_up_enabled_hosts(session):
    zone = Zone(name="z", network_type="Basic")
    session.add(zone)
    session.flush()
    pod = Pod(name="p", zone_id=zone.id, start_ip="10.0.0.10", end_ip="10.0.0.19")
    session.add(pod)
    session.flush()
    plain = Cluster(name="a", zone_id=zone.id, pod_id=pod.id, hypervisor_type="Simulator")
    dense = Cluster(name="b", zone_id=zone.id, pod_id=pod.id, hypervisor_type="Simulator", cpu_overcommit_ratio=4.0,
                    mem_overcommit_ratio=1.5)
    session.add_all([plain, dense])
    session.flush()

    def host(cluster, status="Up", state="Enabled", ip=None):
        return Host(name="h", zone_id=zone.id, pod_id=pod.id, cluster_id=cluster.id, hypervisor_type="Simulator",
                    status=status, resource_state=state, cpus=4, speed=1000, memory=1000, cpu_allocated=500,
                    memory_allocated=250, private_ip=ip)

    session.add_all([host(plain, ip="10.0.0.11"), host(dense), host(plain, status="Down"),
                     host(plain, state="Maintenance")])
    session.flush()
    rows = {r.type: r for r in capacity.capacities(session, zone_id=zone.id)}
    assert (rows[capacity.CPU].total, rows[capacity.CPU].used) == (4000 + 16000, 1000)
    assert (rows[capacity.MEMORY].total, rows[capacity.MEMORY].used) == (1000 + 1500, 500)
    assert (rows[capacity.PRIVATE_IP].total, rows[capacity.PRIVATE_IP].used) == (10, 1)
    assert capacity.percent_text(rows[capacity.MEMORY]) == "20.00"
    only_dense = {r.type: r for r in capacity.capacities(session, zone_id=zone.id, pod_id=pod.id,
                                                         cluster_id=dense.id)}
    assert set(only_dense) == {capacity.MEMORY, capacity.CPU} and only_dense[capacity.CPU].total == 16000
    calls = []
    capacity.CAPACITY_PROVIDERS.append(lambda s, z, p, c: calls.append((z, p, c)) or [
        capacity.CapacityRow(capacity.STORAGE, zone_id=z, total=10, used=5)])
    try:
        rows = capacity.list_capacity(session, zone=zone, pod=None, cluster=None, type_=capacity.STORAGE,
                                      sort_by_usage=True)
        assert [(r.type, r.percent) for r in rows] == [(capacity.STORAGE, 50.0)] and calls == [(zone.id, None, None)]
    finally:
        capacity.CAPACITY_PROVIDERS.pop()
