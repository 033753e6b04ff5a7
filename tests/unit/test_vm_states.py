"""The VM state machine and the planner's atomic capacity reservations, on a SQLite database without a server."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy.orm import Session

import management.api.native.commands  # noqa: F401  (every model)
from management.compute import planner, states
from management.compute.models import ServiceOffering
from management.compute.vm_models import VMInstance
from management.config import service as config
from management.db import Base, make_engine
from management.errors import Conflict, InsufficientCapacity, InvalidParameter
from management.iam.models import Account, Domain
from management.infra.models import Cluster, Host, Pod, Zone
from management.storage.models import StoragePool, Template


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    Base.metadata.create_all(engine)
    config.clear_cache()
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def world(session):
    domain = Domain(name="ROOT", path="/")
    session.add(domain)
    session.flush()
    account = Account(account_name="a", domain_id=domain.id, type=0)
    zone = Zone(name="z", allocation_state="Enabled")
    session.add_all([account, zone])
    session.flush()
    pod = Pod(name="p", zone_id=zone.id)
    session.add(pod)
    session.flush()
    cluster = Cluster(name="c", zone_id=zone.id, pod_id=pod.id, hypervisor_type="Simulator")
    session.add(cluster)
    session.flush()
    hosts = [Host(name=f"h{i}", status="Up", zone_id=zone.id, pod_id=pod.id, cluster_id=cluster.id,
                  hypervisor_type="Simulator", cpus=2, speed=1000, memory=2 * 1024**3, guid=f"g{i}") for i in range(2)]
    pool = StoragePool(name="pri", zone_id=zone.id, pod_id=pod.id, cluster_id=cluster.id, scope="CLUSTER",
                       pool_type="NetworkFilesystem", host_address="x", path="/p", url="nfs://x/p",
                       capacity_bytes=10 * 1024**3)
    offering = ServiceOffering(name="small", cpu=1, speed=500, ram_size=512)
    template = Template(name="t", format="QCOW2", hypervisor="Simulator", account_id=account.id, domain_id=domain.id)
    session.add_all(hosts + [pool, offering, template])
    session.flush()
    return {"zone": zone, "account": account, "hosts": hosts, "pool": pool, "cluster": cluster,
            "offering": offering, "template": template}


def make_vm(session, world, cpu=1, speed=500, memory=512) -> VMInstance:
    vm = VMInstance(name="vm", instance_name=None, zone_id=world["zone"].id,
                    service_offering_id=world["offering"].id, template_id=world["template"].id,
                    account_id=world["account"].id, domain_id=world["account"].domain_id, cpu=cpu, speed=speed,
                    memory=memory)
    session.add(vm)
    session.flush()
    vm.instance_name = f"i-{vm.account_id}-{vm.id}-VM"
    return vm


def test_table_covers_the_documented_edges():
    edges = {("Stopped", "StartRequested"): "Starting", ("Starting", "OperationSucceeded"): "Running",
             ("Starting", "OperationFailed"): "Stopped", ("Running", "StopRequested"): "Stopping",
             ("Stopping", "OperationSucceeded"): "Stopped", ("Running", "MigrationRequested"): "Migrating",
             ("Migrating", "OperationFailed"): "Running", ("Destroyed", "RecoveryRequested"): "Stopped",
             ("Destroyed", "ExpungeOperation"): "Expunging", ("Error", "DestroyRequested"): "Expunging",
             ("Running", "FollowAgentPowerOffReport"): "Stopped", ("Stopped", "DestroyRequested"): "Destroyed",
             ("Stopped", "OperationFailedToError"): "Error"}
    for (state, event), target in edges.items():
        assert states.next_state(state, event) == target, (state, event)
    for state, event in (("Running", "StartRequested"), ("Stopped", "StopRequested"), ("Destroyed", "StartRequested"),
                         ("Running", "RecoveryRequested"), ("Expunging", "RecoveryRequested")):
        assert states.next_state(state, event) is None


def test_transition_is_a_compare_and_set(session, world):
    vm = make_vm(session, world)
    assert states.transition(session, vm, "StartRequested", host_id=world["hosts"][0].id) == "Starting"
    assert vm.state == "Starting" and vm.update_count == 1 and vm.host_id == world["hosts"][0].id
    with pytest.raises(InvalidParameter) as err:
        states.transition(session, vm, "RecoveryRequested")
    assert "is in state Starting, cannot recover" in err.value.message
    stale = session.get(VMInstance, vm.id)
    session.execute(VMInstance.__table__.update().where(VMInstance.id == vm.id).values(update_count=7))
    with pytest.raises(Conflict):
        states.transition(session, stale, "OperationSucceeded")  # someone else moved the row meanwhile
    assert stale.update_count == 7
    with pytest.raises(Conflict):
        states.transition(session, stale, "OperationSucceeded", expected="Running")


def test_placement_reserves_atomically_and_fails_with_533(session, world):
    vm = make_vm(session, world, cpu=1, speed=1500, memory=1536)
    need = planner.Need(cpu_mhz=1500, memory_bytes=1536 * 1024**2, hypervisor="Simulator")
    first = planner.place(session, vm, need, volume_size=1024**3, volume_pool=None, avoid=set())
    second = planner.place(session, vm, need, volume_size=1024**3, volume_pool=None, avoid=set())
    assert {first.host.id, second.host.id} == {h.id for h in world["hosts"]}
    with pytest.raises(InsufficientCapacity) as err:  # each 2 x 1000 MHz host holds one such VM
        planner.place(session, vm, need, volume_size=1024**3, volume_pool=None, avoid=set())
    assert err.value.code == 533 and "Unable to create a deployment for VM" in err.value.message
    session.expire_all()
    assert session.get(StoragePool, world["pool"].id).allocated_bytes == 2 * 1024**3
    planner.release_host(session, first.host.id, 1500, 1536 * 1024**2)
    planner.release_host(session, first.host.id, 1500, 1536 * 1024**2)  # never below zero
    session.expire_all()
    assert session.get(Host, first.host.id).cpu_allocated == 0
    again = planner.place(session, vm, need, volume_size=0, volume_pool=world["pool"], avoid={second.host.id})
    assert again.host.id == first.host.id and again.pool is None


def test_placement_honours_tags_hypervisor_and_overprovisioning(session, world):
    vm = make_vm(session, world)
    tagged = planner.Need(cpu_mhz=500, memory_bytes=512 * 1024**2, hypervisor="Simulator", host_tags="gpu")
    with pytest.raises(InsufficientCapacity):
        planner.place(session, vm, tagged, volume_size=0, volume_pool=None, avoid=set())
    world["hosts"][1].host_tags = "gpu,ssd"
    session.flush()
    assert planner.place(session, vm, tagged, volume_size=0, volume_pool=None, avoid=set()).host.id == \
        world["hosts"][1].id
    kvm = planner.Need(cpu_mhz=500, memory_bytes=512 * 1024**2, hypervisor="KVM")
    with pytest.raises(InsufficientCapacity):
        planner.place(session, vm, kvm, volume_size=0, volume_pool=None, avoid=set())
    big = planner.Need(cpu_mhz=3000, memory_bytes=1024**3, hypervisor="Simulator")
    with pytest.raises(InsufficientCapacity):
        planner.place(session, vm, big, volume_size=0, volume_pool=None, avoid=set())
    world["cluster"].cpu_overcommit_ratio = 2.0
    session.flush()
    assert planner.place(session, vm, big, volume_size=0, volume_pool=None, avoid=set())


def test_password_is_encrypted_with_the_ssh_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from management.compute import vms

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    vm = VMInstance(password="s3cret", ssh_public_key=public.decode())
    encrypted = base64.b64decode(vms.encrypted_password(vm))
    assert key.decrypt(encrypted, padding.PKCS1v15()) == b"s3cret"
    with pytest.raises(InvalidParameter):
        vms.encrypted_password(VMInstance(password=None, ssh_public_key=public.decode(), uuid="x"))
