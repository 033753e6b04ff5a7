"""Static NAT on the host, for real: nftables and addresses programmed by the agent's command path, checked with
real traffic between network namespaces that this test creates and removes.

    [outside ns] o0 203.0.113.1/24 ── veth ── p<tag> 203.0.113.2/24 [host ns]
    [host ns] bridge gbr 10.1.1.1/24 ── vnet0 ── veth ── g0 10.1.1.10/24 [guest ns]

The agent commands run inside the host namespace (``ip netns exec``) through ``agent.link.execute`` with the
libvirt driver, exactly as a KVM agent runs an envelope it received. The machine's own interfaces, routes and
rule sets are never touched: everything lives in the namespaces and goes with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC, GUEST, OUTSIDE = "203.0.113.50", "10.1.1.10", "203.0.113.1"

# Needs root, iproute2 and nftables (scripts/test-services.sh installs them): without them the tests fail.

RUN_COMMAND = """
import sys
from agent.hypervisor.libvirt.driver import LibvirtDriver
from agent.link import execute
from agent.protocol import Answer, Envelope
from pydantic import ValidationError
try:
    envelope = Envelope.model_validate_json(sys.stdin.read())
except ValidationError as error:  # as the agent link answers a command it refuses
    print(Answer(ok=False, details=f"Agent refused the command: {error}").model_dump_json())
else:
    print(execute(LibvirtDriver("test:///default"), envelope).model_dump_json())
"""

SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(20)
print("listening", flush=True)
conn, peer = s.accept(); conn.sendall(peer[0].encode()); conn.close()
"""

CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(100).decode())
"""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {done.stderr}")
    return done


class Lab:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.outside, self.host, self.guest = f"csn-o-{tag}", f"csn-h-{tag}", f"csn-g-{tag}"
        self.public_dev = f"p{tag}"

    def ns(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", name, *args, check=check)

    def up(self) -> None:
        for name in (self.outside, self.host, self.guest):
            sh("ip", "netns", "add", name)
            self.ns(name, "ip", "link", "set", "lo", "up")
        sh("ip", "-n", self.outside, "link", "add", "o0", "type", "veth", "peer", "name", self.public_dev,
           "netns", self.host)
        self.ns(self.outside, "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "o0")
        self.ns(self.outside, "ip", "link", "set", "o0", "up")
        self.ns(self.host, "ip", "addr", "add", "203.0.113.2/24", "dev", self.public_dev)
        self.ns(self.host, "ip", "link", "set", self.public_dev, "up")
        self.ns(self.host, "ip", "link", "add", "gbr", "type", "bridge")
        self.ns(self.host, "ip", "addr", "add", "10.1.1.1/24", "dev", "gbr")
        self.ns(self.host, "ip", "link", "set", "gbr", "up")
        sh("ip", "-n", self.host, "link", "add", "vnet0", "type", "veth", "peer", "name", "g0", "netns", self.guest)
        self.ns(self.host, "ip", "link", "set", "vnet0", "master", "gbr")
        self.ns(self.host, "ip", "link", "set", "vnet0", "up")
        self.ns(self.guest, "ip", "addr", "add", f"{GUEST}/24", "dev", "g0")
        self.ns(self.guest, "ip", "link", "set", "g0", "up")
        self.ns(self.guest, "ip", "route", "add", "default", "via", "10.1.1.1")

    def down(self) -> None:
        for name in (self.outside, self.host, self.guest):
            sh("ip", "netns", "del", name, check=False)

    def agent(self, command: dict) -> dict:
        """Run one agent command inside the host namespace, as the agent runs an envelope it received."""
        envelope = json.dumps({"request_id": uuid.uuid4().hex, "command": command})
        done = subprocess.run(["ip", "netns", "exec", self.host, sys.executable, "-c", RUN_COMMAND], input=envelope,
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def rule(self, public: str = PUBLIC, guest: str = GUEST) -> dict:
        return {"public_ip": public, "guest_ip": guest, "vm_name": "i-2-10-VM", "public_device": self.public_dev}

    def connect(self, server_ns: str, bind: str, client_ns: str, target: str, port: int) -> str | None:
        """The address the server saw the client come from (None if the client could not connect)."""
        server = subprocess.Popen(["ip", "netns", "exec", server_ns, sys.executable, "-c", SERVER, bind, str(port)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "listening"
            client = self.ns(client_ns, sys.executable, "-c", CLIENT, target, str(port), check=False)
            return client.stdout.strip() if client.returncode == 0 else None
        finally:
            server.kill()
            server.wait()

    def ping(self, ns: str, address: str) -> bool:
        return self.ns(ns, "ping", "-c", "1", "-W", "2", address, check=False).returncode == 0


@pytest.fixture
def lab():
    lab = Lab()
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def test_static_nat_makes_the_guest_reachable_at_its_public_address(lab):
    assert not lab.ping(lab.outside, PUBLIC)  # nothing answers for the public IP before static NAT

    answer = lab.agent({"kind": "ApplyStaticNat", "rules": [lab.rule()]})
    assert answer["ok"], answer
    assert answer["data"]["rules"] == {PUBLIC: GUEST}
    # idempotent: the same command again changes nothing and does not fail
    again = lab.agent({"kind": "ApplyStaticNat", "rules": [lab.rule()]})
    assert again["ok"] and again["data"]["rules"] == {PUBLIC: GUEST}

    # the outside's failed ARP entry (from the ping above) was updated by the host's gratuitous ARP: it names
    # the host's public device at once, so the first ping gets through without waiting for the entry to expire
    mac = lab.ns(lab.host, "cat", f"/sys/class/net/{lab.public_dev}/address").stdout.strip()
    neighbour = lab.ns(lab.outside, "ip", "neigh", "show", PUBLIC).stdout
    assert mac in neighbour and "FAILED" not in neighbour, neighbour
    assert lab.ping(lab.outside, PUBLIC)
    # the outside reaches the guest at the public address (the guest sees the real client)...
    assert lab.connect(lab.guest, GUEST, lab.outside, PUBLIC, 8080) == OUTSIDE
    # ...and what the guest opens leaves from the public address
    assert lab.connect(lab.outside, OUTSIDE, lab.guest, OUTSIDE, 9090) == PUBLIC

    # an agent that restarts is sent the full rule set: same result, nothing duplicated
    synced = lab.agent({"kind": "SyncStaticNat", "rules": [lab.rule()]})
    assert synced["ok"] and synced["data"]["rules"] == {PUBLIC: GUEST}
    assert lab.connect(lab.guest, GUEST, lab.outside, PUBLIC, 8081) == OUTSIDE

    revoked = lab.agent({"kind": "ApplyStaticNat", "revoke": True, "rules": [lab.rule()]})
    assert revoked["ok"] and revoked["data"]["rules"] == {}
    assert not lab.ping(lab.outside, PUBLIC)
    assert lab.connect(lab.guest, GUEST, lab.outside, PUBLIC, 8082) is None
    addresses = lab.ns(lab.host, "ip", "-4", "-o", "addr", "show", "dev", lab.public_dev).stdout
    assert PUBLIC not in addresses and "203.0.113.2/24" in addresses  # only our address went
    # revoking again is harmless
    assert lab.agent({"kind": "ApplyStaticNat", "revoke": True, "rules": [lab.rule()]})["ok"]


def test_sync_replaces_the_rule_set_and_bad_rules_change_nothing(lab):
    other = "203.0.113.51"
    assert lab.agent({"kind": "ApplyStaticNat", "rules": [lab.rule()]})["ok"]
    # remapping the guest to another public IP moves it (one public IP per guest address)
    moved = lab.agent({"kind": "SyncStaticNat", "rules": [lab.rule(public=other)]})
    assert moved["ok"] and moved["data"]["rules"] == {other: GUEST}
    addresses = lab.ns(lab.host, "ip", "-4", "-o", "addr", "show", "dev", lab.public_dev).stdout
    assert other in addresses and f"{PUBLIC}/32" not in addresses
    assert lab.connect(lab.guest, GUEST, lab.outside, other, 8083) == OUTSIDE

    # a rule naming a device the host lacks fails as a whole answer, not a crash
    bad = dict(lab.rule(public="203.0.113.60"), public_device="nosuchdev0")
    failed = lab.agent({"kind": "ApplyStaticNat", "rules": [bad]})
    assert not failed["ok"] and "nosuchdev0" in failed["details"]
    # no device named: the agent's public.network.device (default cloudbr0, which this namespace lacks)
    unnamed = {k: v for k, v in lab.rule(public="203.0.113.61").items() if k != "public_device"}
    failed = lab.agent({"kind": "ApplyStaticNat", "rules": [unnamed]})
    assert not failed["ok"] and "cloudbr0" in failed["details"]
    # a malformed address is refused before anything runs
    refused = lab.agent({"kind": "ApplyStaticNat", "rules": [dict(lab.rule(), public_ip="203.0.113.999")]})
    assert not refused["ok"]
    listed = lab.agent({"kind": "ListStaticNat"})
    assert listed["data"]["rules"] == {other: GUEST}  # the failed and the refused command changed nothing

    cleared = lab.agent({"kind": "SyncStaticNat", "rules": []})
    assert cleared["ok"] and cleared["data"]["rules"] == {}
    # a host without static NAT keeps no table of ours: an empty sync (every agent start) creates none
    lab.ns(lab.host, "nft", "delete", "table", "ip", "cloudstack_nat")
    assert lab.agent({"kind": "SyncStaticNat", "rules": []})["ok"]
    assert lab.ns(lab.host, "nft", "list", "table", "ip", "cloudstack_nat", check=False).returncode != 0
