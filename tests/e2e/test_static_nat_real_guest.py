"""Static NAT end to end on a real QEMU guest: public API -> management -> KVM agent (libvirt driver on
qemu:///system) -> nftables on this machine -> real traffic to and from the guest.

Everything on the network side is made by the test and removed at the end (also on failure)::

    [outside ns] o0 203.0.113.1/24 ── veth ── <tag>p 203.0.113.2/24   the zone's Public traffic label
    bridge <tag>br 10.78.N.1/24 (the zone's Guest traffic label, the pod's gateway) ── cs<vm>n0 ── QEMU guest .9

The guest (busybox) answers ``ok-<token>`` on TCP 8080 and keeps trying to send ``from-guest-<token>`` to the
outside's TCP 9090 (a route to 203.0.113.0/24 via the bridge, nothing else). The Basic zone has security groups,
as ``test_sg_real_guest``: the outside is let in by ingress rules authorized through the API.

The outside only has its /24; the host end of its veth holds 203.0.113.2/24, so whatever the outside sends to a
203.0.113.x the host no longer answers for is routed back onto that veth and dies there: no packet of this test
leaves the machine. IPv4 forwarding, which the agent switches on for static NAT, is set back as it was.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path

from tests.agent.guest import build_guest_image, wait_for
from tests.agent.test_sg_enforcement import BRIDGE_NF
from tests.agent.test_static_nat import sh
from tests.e2e.world import cs_api, domains, e2e_world, register_guest, start_kvm_agent
from tests.support import wait_until

OUTSIDE, HOST_END, PUBLIC = "203.0.113.1", "203.0.113.2", "203.0.113.50"
FORWARDING = Path("/proc/sys/net/ipv4/ip_forward")

GUEST_INIT = """ip link set lo up; ip link set eth0 up; ip addr add {ip}/24 dev eth0
ip route add 203.0.113.0/24 via {gateway}
printf '#!/bin/sh\\necho ok-{token}\\n' > /bin/okay; chmod +x /bin/okay
nc -ll -p 8080 -e /bin/okay &
(while true; do echo from-guest-{token} | nc -w 2 {outside} 9090; sleep 1; done) &
echo GUEST-NET-UP > /dev/console
"""

# The outside's server: every connection it accepts is written down as "<peer address> <what it sent>".
RECORDER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9090)); s.listen(16)
out = open(sys.argv[1], "a")
print("listening", flush=True)
while True:
    conn, peer = s.accept(); conn.settimeout(3)
    try:
        data = conn.recv(200).decode(errors="replace").strip()
    except OSError:
        data = ""
    conn.close(); out.write(f"{peer[0]} {data}\\n"); out.flush()
"""

FETCH = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
c.settimeout(float(sys.argv[3]))
print(c.recv(100).decode().strip())
"""


def routes_and_addresses() -> str:
    return sh("ip", "-4", "-o", "route", "show", "table", "all").stdout + sh("ip", "-4", "-o", "addr").stdout


class NatLab:
    """The test's own bridge, outside namespace and veth in the machine's namespace (where the agent runs)."""

    def __init__(self) -> None:
        self.tag = "csn" + uuid.uuid4().hex[:5]
        self.bridge, self.public_dev, self.outside = f"{self.tag}br", f"{self.tag}p", f"{self.tag}-out"
        self.token = uuid.uuid4().hex[:8]
        self.recorded: Path | None = None
        self.procs: list[subprocess.Popen] = []
        taken = routes_and_addresses()
        free = [n for n in range(20, 220) if f"10.78.{n}." not in taken]
        assert free, "no free 10.78.x.0/24 network on this machine"
        self.net = f"10.78.{random.choice(free)}"
        self.gateway, self.guest_ip = f"{self.net}.1", f"{self.net}.9"
        self.made: list[tuple[str, ...]] = []  # how to undo what was made, in order

    def up(self, workdir: Path) -> None:
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.made.append(("ip", "link", "del", self.bridge))
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        sh("ip", "netns", "add", self.outside)
        self.made.append(("ip", "netns", "del", self.outside))
        sh("ip", "link", "add", self.public_dev, "type", "veth", "peer", "name", "o0", "netns", self.outside)
        self.made.append(("ip", "link", "del", self.public_dev))
        sh("ip", "addr", "add", f"{HOST_END}/24", "dev", self.public_dev)
        sh("ip", "link", "set", self.public_dev, "up")
        sh("ip", "-n", self.outside, "link", "set", "lo", "up")
        sh("ip", "-n", self.outside, "addr", "add", f"{OUTSIDE}/24", "dev", "o0")
        sh("ip", "-n", self.outside, "link", "set", "o0", "up")
        self.recorded = workdir / "outside-recorded.txt"
        self.recorded.touch()
        recorder = subprocess.Popen(["ip", "netns", "exec", self.outside, sys.executable, "-c", RECORDER,
                                     str(self.recorded)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(recorder)
        assert recorder.stdout.readline().strip() == "listening", recorder.stderr.read()

    def down(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for undo in reversed(self.made):
            sh(*undo, check=False)

    def fetch(self, ns: str | None, address: str, timeout: float = 2.0) -> str | None:
        """What the listener at ``address``:8080 says to a client in ``ns`` (None: the machine's own namespace);
        None if it cannot connect."""
        prefix = ["ip", "netns", "exec", ns] if ns else []
        done = subprocess.run([*prefix, sys.executable, "-c", FETCH, address, "8080", str(timeout)],
                              capture_output=True, text=True, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else None

    def ping(self, address: str) -> bool:
        done = subprocess.run(["ip", "netns", "exec", self.outside, "busybox", "ping", "-c", "1", "-W", "1", address],
                              capture_output=True, timeout=30)
        return done.returncode == 0

    def from_guest(self) -> list[str]:
        """The source addresses the outside saw the guest's connections come from."""
        lines = self.recorded.read_text().splitlines()
        return [line.split()[0] for line in lines if line.endswith(f"from-guest-{self.token}")]

    def public_addresses(self) -> str:
        return sh("ip", "-4", "-o", "addr", "show", "dev", self.public_dev).stdout


def nat_table() -> str:
    """The agent's NAT table as nft lists it ("" when it does not exist)."""
    from agent.nat import nft as nat_nft

    done = sh("nft", "list", "table", "ip", nat_nft.TABLE, check=False)
    return done.stdout if done.returncode == 0 else ""


def test_static_nat_through_the_api_reaches_a_real_guest():
    from agent.nat import nft as nat_nft
    from agent.network import nft as sg_nft

    assert os.geteuid() == 0, "needs root"
    for tool in ("nft", "ip", "busybox"):
        assert shutil.which(tool), f"needs {tool} (scripts/test-services.sh installs it)"
    assert BRIDGE_NF.exists() and BRIDGE_NF.read_text().strip() == "1", \
        "needs br_netfilter with net.bridge.bridge-nf-call-iptables=1 (scripts/test-services.sh)"
    assert sh("nft", "list", "table", "ip", nat_nft.TABLE, check=False).returncode != 0, \
        "the agent's NAT table exists already on this machine (a real agent or another NAT test runs here)"
    assert sh("nft", "list", "table", "inet", sg_nft.TABLE, check=False).returncode != 0, \
        "the agent's security-group table exists already on this machine (a real agent or another test runs here)"
    assert "203.0.113." not in routes_and_addresses(), "203.0.113.0/24 is in use on this machine already"
    forwarding = FORWARDING.read_text().strip()

    lab = NatLab()
    image = partial(build_guest_image, extra_modules=("kernel/drivers/net/virtio_net.ko",),
                    init_snippet=GUEST_INIT.format(ip=lab.guest_ip, gateway=lab.gateway, token=lab.token,
                                                   outside=OUTSIDE))
    try:
        with e2e_world("cs-nate2e-", image) as world:
            suffix = world["cloud"].databases[0].removeprefix("cloud_t")
            try:
                lab.up(world["root"])
                api = cs_api(world["cloud"])
                api.updateConfiguration(name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
                zone = api.createZone(name="nate2e", networktype="Basic", securitygroupenabled="true",
                                      dns1="192.0.2.53", internaldns1="192.0.2.54")["zone"]
                physical = api.createPhysicalNetwork(zoneid=zone["id"], name="phy")["physicalnetwork"]
                api.addTrafficType(physicalnetworkid=physical["id"], traffictype="Guest", kvmnetworklabel=lab.bridge)
                api.addTrafficType(physicalnetworkid=physical["id"], traffictype="Public",
                                   kvmnetworklabel=lab.public_dev)
                pod = api.createPod(zoneid=zone["id"], name="p1", gateway=lab.gateway, netmask="255.255.255.0",
                                    startip=f"{lab.net}.200", endip=f"{lab.net}.210")["pod"]
                api.createVlanIpRange(zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false",
                                      gateway=lab.gateway, netmask="255.255.255.0", startip=lab.guest_ip,
                                      endip=lab.guest_ip)  # the guest's one address (its init sets it)
                api.createVlanIpRange(zoneid=zone["id"], forvirtualnetwork="true", gateway=OUTSIDE,
                                      netmask="255.255.255.0", startip=PUBLIC, endip=PUBLIC)
                cluster = api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername="kvm",
                                         clustertype="CloudManaged", hypervisor="KVM")["cluster"][0]
                start_kvm_agent(world, zone, pod, name="kvm-nat", cluster=cluster)
                wait_until(lambda: [h for h in api.listHosts(zoneid=zone["id"]).get("host", [])
                                    if h["state"] == "Up"], timeout=60, what="the KVM host Up")
                api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name="pri",
                                      scope="cluster", url=f"SharedMountPoint://localhost{world['root'] / 'primary'}")
                api.addImageStore(provider="Local", url=f"file://{world['root'] / 'secondary'}", zoneid=zone["id"],
                                  name="sec")
                api.updateZone(id=zone["id"], allocationstate="Enabled")
                template = register_guest(api, world, zone)
                offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
                vm = api.deployVirtualMachine(zoneid=zone["id"], serviceofferingid=offering["id"],
                                              templateid=template["id"], name="natguest")["virtualmachine"]
                name = vm["instancename"]
                world["domains"].add(name)
                assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"] == lab.guest_ip, vm
                wait_for(world["root"] / "primary" / f"{name}.console.log", "GUEST-NET-UP", timeout=180)
                wait_until(lambda: lab.fetch(None, lab.guest_ip) == f"ok-{lab.token}", timeout=60, step=1,
                           what="the guest's listener answering on the bridge")

                # Before static NAT nothing answers for the public address, and the guest cannot get out.
                assert lab.fetch(lab.outside, PUBLIC) is None
                assert not lab.ping(PUBLIC)
                assert lab.from_guest() == []

                ip = api.associateIpAddress(zoneid=zone["id"])["ipaddress"]
                assert ip["ipaddress"] == PUBLIC and ip["isstaticnat"] is False
                assert api.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
                assert api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["publicip"] == PUBLIC
                assert nat_nft.StaticNat().current() == {PUBLIC: lab.guest_ip}
                assert f"{PUBLIC}/32" in lab.public_addresses()
                # The guest's own connections now leave from the public address (egress is open by default).
                sources = wait_until(lab.from_guest, timeout=30, step=0.5,
                                     what="the guest's connection reaching the outside")
                assert set(sources) == {PUBLIC}, sources
                # Inbound, the security group still decides: the default group lets nothing in yet.
                assert lab.fetch(lab.outside, PUBLIC) is None

                [default] = api.listSecurityGroups(securitygroupname="default")["securitygroup"]
                for rule in ({"protocol": "tcp", "startport": 8080, "endport": 8080},
                             {"protocol": "icmp", "icmptype": -1, "icmpcode": -1}):
                    api.authorizeSecurityGroupIngress(securitygroupid=default["id"], cidrlist=f"{OUTSIDE}/32", **rule)
                wait_until(lambda: lab.fetch(lab.outside, PUBLIC) == f"ok-{lab.token}", timeout=30, step=0.5,
                           what="the outside reaching the guest at its public address")
                assert lab.ping(PUBLIC)

                # disableStaticNat: within seconds the public address leads nowhere, and the guest's
                # connections are no longer translated (the outside cannot answer its private address).
                api.disableStaticNat(ipaddressid=ip["id"])
                disabled = time.monotonic()
                wait_until(lambda: lab.fetch(lab.outside, PUBLIC, timeout=1) is None, timeout=15, step=0.5,
                           what="the public address no longer reaching the guest")
                assert time.monotonic() - disabled < 10
                assert not lab.ping(PUBLIC)
                assert PUBLIC not in nat_table() and lab.guest_ip not in nat_table()
                assert PUBLIC not in lab.public_addresses() and f"{HOST_END}/24" in lab.public_addresses()
                time.sleep(3)  # a connection of the guest's in flight at the disable ends
                seen = len(lab.from_guest())
                time.sleep(4)  # the guest tries about once a second
                assert len(lab.from_guest()) == seen, "the guest's connections still reach the outside"
                assert lab.fetch(None, lab.guest_ip) == f"ok-{lab.token}"  # the guest itself is fine

                # Static NAT again, then the VM is expunged while it is on: the host drops the rule too.
                assert api.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] == "true"
                wait_until(lambda: lab.fetch(lab.outside, PUBLIC) == f"ok-{lab.token}", timeout=15, step=0.5,
                           what="the outside reaching the guest again after re-enabling")
                api.destroyVirtualMachine(id=vm["id"], expunge="true")
                assert name not in domains()
                wait_until(lambda: PUBLIC not in nat_table() and PUBLIC not in lab.public_addresses(), timeout=15,
                           what="the expunged VM's static NAT gone from the host")
                assert lab.guest_ip not in nat_table()
                row = api.listPublicIpAddresses(id=ip["id"])["publicipaddress"][0]
                assert row["state"] == "Allocated" and row["isstaticnat"] is False, row
                api.disassociateIpAddress(id=ip["id"])
                assert api.listPublicIpAddresses(id=ip["id"]).get("count", 0) == 0
                assert PUBLIC not in nat_table() and not lab.ping(PUBLIC)
            finally:
                # Any domain of this cloud still there goes with the world (names end with the cloud's suffix).
                world["domains"].update(d for d in domains() if d.endswith(f"VM{suffix}"))
    finally:
        lab.down()
        sh("nft", "delete", "table", "ip", nat_nft.TABLE, check=False)
        sg_nft.remove_all()
        if forwarding == "0" and FORWARDING.read_text().strip() != "0":
            FORWARDING.write_text("0\n")
    assert sh("nft", "list", "table", "ip", nat_nft.TABLE, check=False).returncode != 0
    assert lab.bridge not in sh("ip", "-o", "link").stdout and lab.outside not in sh("ip", "netns", "list").stdout
