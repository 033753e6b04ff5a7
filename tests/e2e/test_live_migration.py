"""Live migration between two real libvirt hosts through the API (MariaDB + Redis, two KVM agents).

Host A is this machine's qemu:///system; host B a second libvirtd in a network namespace
(``tests.e2e.libvirt_peer``). Both reach the same SharedMountPoint pool. A real guest deployed on A is moved
to B with migrateVirtualMachine while it runs: libvirt on B has it and A does not, the API shows it on B,
the host capacity moved with it, and B drives it afterwards (a reboot through the API boots it again)."""

from __future__ import annotations

import pytest

from tests.agent.guest import build_guest_image, wait_for
from tests.e2e.libvirt_peer import LibvirtPeer
from tests.e2e.world import cs_api, domains, e2e_world, kvm_zone, register_guest


@pytest.fixture(scope="module")
def world():
    with e2e_world("cs-mig-", build_guest_image) as state:
        peer = LibvirtPeer(state["root"] / "peer").start()
        state["peer"] = peer
        try:
            yield state
        finally:
            peer.close()


def test_live_migration_between_two_real_hosts(world):
    peer = world["peer"]
    api = cs_api(world["cloud"])
    built = kvm_zone(world, api, name="mig", net="10.21.0",
                     agents=(("host-a", "qemu:///system", peer.local_ip), ("host-b", peer.uri, peer.ip)))
    zone, cluster = built["zone"], built["cluster"]
    host_a, host_b = built["hosts"]
    assert host_a["id"] != host_b["id"]
    template = register_guest(api, world, zone)
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]

    vm = api.deployVirtualMachine(serviceofferingid=offering["id"], templateid=template["id"], zoneid=zone["id"],
                                  hostid=host_a["id"], name="mover")["virtualmachine"]
    name = vm["instancename"]
    world.setdefault("domains", set()).add(name)
    assert vm["state"] == "Running" and vm["hostid"] == host_a["id"]
    console = world["root"] / "primary" / f"{name}.console.log"
    booted = wait_for(console, "GUEST-READY", timeout=180)
    assert name in domains() and name not in peer.domains()

    moved = api.migrateVirtualMachine(virtualmachineid=vm["id"], hostid=host_b["id"])["virtualmachine"]
    assert moved["state"] == "Running" and moved["hostid"] == host_b["id"]
    assert name in peer.domains() and name not in domains()  # the same guest now runs on host B only
    listed = {h["id"]: h for h in api.listHosts(clusterid=cluster["id"])["host"]}
    assert int(listed[host_a["id"]]["cpuallocatedvalue"]) == 0
    assert int(listed[host_b["id"]]["cpuallocatedvalue"]) == offering["cpunumber"] * offering["cpuspeed"]

    size = console.stat().st_size
    api.rebootVirtualMachine(id=vm["id"])  # host B's agent drives it now
    again = wait_for(console, "GUEST-READY", timeout=180, after=size if console.stat().st_size >= size else 0)
    assert again != booted

    api.destroyVirtualMachine(id=vm["id"], expunge="true")
    assert name not in peer.domains() and name not in domains()
