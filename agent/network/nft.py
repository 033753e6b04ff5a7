"""Security-group rules on the host with nftables, in two tables of our own (removing them removes everything):

* ``bridge cloudstack_sg`` — anti-spoofing per VM port: frames from a VM's vif must carry its MAC and IP
  (ARP included; DHCP discovery from 0.0.0.0 allowed), unicast IPv4 to it must be for its IP, no IPv6.
  Maps ``from_port``/``to_port`` (vif name -> jump to the VM's chain) dispatch the frames.
* ``inet cloudstack_sg`` — the rules, stateful: bridged IPv4 reaches the inet forward hook through
  ``br_netfilter`` (``net.bridge.bridge-nf-call-iptables=1``, as CloudStack's KVM agent needs too).
  Established/related traffic passes; then the sender's egress chain (map ``egress_vms``: its IP; no egress
  rules = everything allowed, else only what they allow) and the receiver's ingress chain (map
  ``ingress_vms``; default deny).

Anti-spoofing is what makes IP-keyed dispatch sound: no port can send with another VM's address, and a
unicast to a VM's MAC must carry that VM's address. Each apply is one ``nft -f`` transaction (atomic),
replacing the VM's chains and map elements; applying the same rule set twice changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import threading

from agent.hypervisor.errors import HypervisorError

TABLE = "cloudstack_sg"
NFT = "nft"


def chain_base(vm_name: str) -> str:
    return "sg_" + re.sub(r"[^A-Za-z0-9_]", "_", vm_name)


def _run(script: str | None = None, *args: str) -> str:
    cmd = [NFT, *args] if script is None else [NFT, "-f", "-"]
    done = subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise HypervisorError(f"nft failed: {done.stderr.strip()[:2000]}")
    return done.stdout


def _elements(family: str) -> dict[str, dict[str, str]]:
    """{map name: {key: jump target}} of our table in ``family`` ({} when the table does not exist)."""
    done = subprocess.run([NFT, "-j", "list", "table", family, TABLE], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return {}
    maps: dict[str, dict[str, str]] = {}
    for item in json.loads(done.stdout).get("nftables", []):
        m = item.get("map")
        if m is None:
            continue
        entries = maps.setdefault(m["name"], {})
        for key, verdict in m.get("elem", []):
            target = (verdict.get("jump") or verdict.get("goto") or {}).get("target") if isinstance(verdict, dict) \
                else None
            entries[str(key)] = target or ""
    return maps


SKELETON = {
    "inet": [
        "add table inet {t}",
        "add map inet {t} ingress_vms {{ type ipv4_addr : verdict ; }}",
        "add map inet {t} egress_vms {{ type ipv4_addr : verdict ; }}",
        "add chain inet {t} forward {{ type filter hook forward priority 0 ; policy accept ; }}",
        "add rule inet {t} forward ct state established,related accept",
        "add rule inet {t} forward ip saddr vmap @egress_vms",
        "add rule inet {t} forward ip daddr vmap @ingress_vms",
    ],
    "bridge": [
        "add table bridge {t}",
        "add map bridge {t} from_port {{ type ifname : verdict ; }}",
        "add map bridge {t} to_port {{ type ifname : verdict ; }}",
        "add chain bridge {t} forward {{ type filter hook forward priority -200 ; policy accept ; }}",
        "add rule bridge {t} forward iifname vmap @from_port",
        "add rule bridge {t} forward oifname vmap @to_port",
        "add chain bridge {t} input {{ type filter hook input priority -200 ; policy accept ; }}",
        "add rule bridge {t} input iifname vmap @from_port",
    ],
}


def _cidr_set(cidrs: list[str]) -> str | None:
    """'' for any address, None for none, else an nft set of the (collapsed) networks."""
    nets = []
    for c in cidrs:
        net = ipaddress.ip_network(c, strict=False)
        if net.version != 4:
            continue
        if net.prefixlen == 0:
            return ""
        nets.append(net)
    if not nets:
        return None
    return "{ " + ", ".join(str(n) for n in ipaddress.collapse_addresses(nets)) + " }"


def rule_matches(rule, direction: str) -> list[str]:
    """The nft match expressions of one SgRule (empty list: the rule allows nothing)."""
    addresses = _cidr_set(rule.cidrs)
    if addresses is None:
        return []
    match = f"ip {'saddr' if direction == 'ingress' else 'daddr'} {addresses} " if addresses else ""
    proto = (rule.protocol or "all").lower()
    if proto in ("tcp", "udp"):
        start, end = rule.start_port, rule.end_port if rule.end_port is not None else rule.start_port
        ports = f"{start}" if start == end else f"{start}-{end}"
        match += f"{proto} dport {ports}" if start is not None else f"meta l4proto {proto}"
    elif proto == "icmp":
        match += "meta l4proto icmp"
        if rule.icmp_type is not None and rule.icmp_type != -1:
            match += f" icmp type {rule.icmp_type}"
            if rule.icmp_code is not None and rule.icmp_code != -1:
                match += f" icmp code {rule.icmp_code}"
    elif proto != "all":
        match += f"meta l4proto {int(proto)}"
    return [match.strip()]


class NftSecurityGroups:
    """Programs and removes one VM's rules; remembers the last ``seq`` applied per VM (older ones are ignored)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[str, int] = {}

    def apply(self, cmd, vif: str) -> int:
        with self.lock:
            last = self.applied.get(cmd.vm_name)
            if last is not None and cmd.seq < last:
                return last
            _run(self.script(cmd, vif))
            self.applied[cmd.vm_name] = cmd.seq
            return cmd.seq

    def remove(self, vm_name: str) -> None:
        with self.lock:
            base = chain_base(vm_name)
            lines: list[str] = []
            for family, chains in (("inet", ("in", "eg")), ("bridge", ("from", "to"))):
                elements = _elements(family)
                if not elements:
                    continue
                for name, entries in elements.items():
                    for key, target in entries.items():
                        if target.startswith(base + "_"):
                            lines.append(f"delete element {family} {TABLE} {name} {{ {_key(key)} }}")
                for suffix in chains:
                    lines.append(f"add chain {family} {TABLE} {base}_{suffix}")
                    lines.append(f"delete chain {family} {TABLE} {base}_{suffix}")
            if lines:
                _run("\n".join(lines) + "\n")
            self.applied.pop(vm_name, None)

    def script(self, cmd, vif: str) -> str:
        base, ip, mac = chain_base(cmd.vm_name), cmd.guest_ip, cmd.guest_mac.lower()
        ipaddress.IPv4Address(ip)
        lines: list[str] = []
        wanted = {("inet", "ingress_vms"): (ip, f"{base}_in"), ("inet", "egress_vms"): (ip, f"{base}_eg"),
                  ("bridge", "from_port"): (vif, f"{base}_from"), ("bridge", "to_port"): (vif, f"{base}_to")}
        for family in ("inet", "bridge"):
            elements = _elements(family)
            if not elements:
                lines += [line.format(t=TABLE) for line in SKELETON[family]]
            for (fam, name), (key, target) in wanted.items():
                if fam != family:
                    continue
                for old_key, old_target in elements.get(name, {}).items():
                    if (old_target == target) != (old_key == key):  # our chain under another key, or our key elsewhere
                        lines.append(f"delete element {family} {TABLE} {name} {{ {_key(old_key)} }}")
        for family, suffix in (("inet", "in"), ("inet", "eg"), ("bridge", "from"), ("bridge", "to")):
            lines += [f"add chain {family} {TABLE} {base}_{suffix}", f"flush chain {family} {TABLE} {base}_{suffix}"]
        t = TABLE
        lines += [f"add rule bridge {t} {base}_from ether saddr != {mac} drop",
                  f"add rule bridge {t} {base}_from arp saddr ether != {mac} drop",
                  f"add rule bridge {t} {base}_from arp saddr ip != {{ {ip}, 0.0.0.0 }} drop",
                  f"add rule bridge {t} {base}_from ip saddr 0.0.0.0 udp dport 67 return",
                  f"add rule bridge {t} {base}_from ip saddr != {ip} drop",
                  f"add rule bridge {t} {base}_from ether type ip6 drop",
                  f"add rule bridge {t} {base}_to ether daddr {mac} ip daddr != {ip} drop",
                  f"add rule bridge {t} {base}_to ether type ip6 drop"]
        for rule in cmd.ingress:
            lines += [f"add rule inet {t} {base}_in {m} accept" for m in rule_matches(rule, "ingress")]
        lines.append(f"add rule inet {t} {base}_in drop")
        if cmd.egress:
            lines += [f"add rule inet {t} {base}_eg {m} return" for r in cmd.egress for m in rule_matches(r, "egress")]
            lines.append(f"add rule inet {t} {base}_eg drop")
        for (family, name), (key, target) in wanted.items():
            lines.append(f"add element {family} {t} {name} {{ {_key(key)} : jump {target} }}")
        return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[0-9.]+", key) else f'"{key}"'


def remove_all() -> None:
    """Delete both tables (tests, and an operator cleaning a host)."""
    for family in ("inet", "bridge"):
        subprocess.run([NFT, "delete", "table", family, TABLE], capture_output=True, timeout=30)
