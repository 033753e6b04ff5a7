"""Static NAT on a KVM host with nftables, in a table of its own (``ip cloudstack_nat``).

The table holds two maps and three NAT chains::

    map public_to_guest  { ipv4_addr : ipv4_addr }   public IP -> guest IP
    map guest_to_public  { ipv4_addr : ipv4_addr }   guest IP  -> public IP
    prerouting  (dstnat): dnat to ip daddr map @public_to_guest     traffic to the public IP reaches the guest
    output      (-100)  : dnat to ip daddr map @public_to_guest     ... also from the host itself
    postrouting (srcnat): snat to ip saddr map @guest_to_public     the guest's new connections leave from it

The maps are the whole state: applying, revoking or syncing rules rewrites their elements in one ``nft -f``
transaction (all or nothing), so every operation is idempotent and a restarted agent finds what it left. The
host answers for a public IP because the address is added (``/32``) to the public device and announced with a
gratuitous ARP (``agent.nat.garp``); IPv4 forwarding is switched on. Nothing outside this table and those addresses is touched.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from agent.hypervisor.errors import HypervisorError
from agent.nat import garp

TABLE = "cloudstack_nat"
DNAT_MAP, SNAT_MAP = "public_to_guest", "guest_to_public"
TABLE_SCRIPT = f"""table ip {TABLE} {{
  map {DNAT_MAP} {{ type ipv4_addr : ipv4_addr; }}
  map {SNAT_MAP} {{ type ipv4_addr : ipv4_addr; }}
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; dnat to ip daddr map @{DNAT_MAP}; }}
  chain output {{ type nat hook output priority -100; policy accept; dnat to ip daddr map @{DNAT_MAP}; }}
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept; snat to ip saddr map @{SNAT_MAP}; }}
}}
"""
FORWARDING = "/proc/sys/net/ipv4/ip_forward"


@dataclass(frozen=True)
class Rule:
    public_ip: str
    guest_ip: str
    device: str


def _run(args: list[str], stdin: str | None = None) -> str:
    try:
        done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HypervisorError(f"{args[0]}: {error}") from None
    if done.returncode != 0:
        raise HypervisorError(f"{' '.join(args[:4])}... failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


class StaticNat:
    """The host's static NAT; one instance per driver (callers serialise with their own lock)."""

    @staticmethod
    def _table_exists() -> bool:
        return subprocess.run(["nft", "list", "table", "ip", TABLE], capture_output=True, text=True).returncode == 0

    def _ensure_table(self) -> None:
        if not self._table_exists():
            _run(["nft", "-f", "-"], TABLE_SCRIPT)

    def current(self) -> dict[str, str]:
        """{public ip: guest ip} as the kernel has it (empty when the table does not exist)."""
        listed = subprocess.run(["nft", "-j", "list", "map", "ip", TABLE, DNAT_MAP], capture_output=True, text=True)
        if listed.returncode != 0:
            return {}
        for item in json.loads(listed.stdout).get("nftables", []):
            if "map" in item:
                return {str(k): str(v) for k, v in item["map"].get("elem", [])}
        return {}

    def apply(self, rules: list[Rule]) -> None:
        self._check_devices(rules)
        self._ensure_table()
        mapped = self.current()
        wanted = dict(mapped)
        for rule in rules:
            for public, guest in list(wanted.items()):  # a guest maps to one public IP at a time
                if guest == rule.guest_ip and public != rule.public_ip:
                    del wanted[public]
            wanted[rule.public_ip] = rule.guest_ip
        self._write(mapped, wanted)
        self._forwarding()
        for rule in rules:
            self._address(rule.public_ip, rule.device, present=True)

    def revoke(self, rules: list[Rule]) -> None:
        mapped = self.current()
        if mapped:
            wanted = {p: g for p, g in mapped.items() if p not in {r.public_ip for r in rules}}
            self._write(mapped, wanted)
        for rule in rules:
            self._address(rule.public_ip, rule.device, present=False)

    def sync(self, rules: list[Rule]) -> None:
        """Exactly these rules: others are revoked (their addresses too, on the devices the rules name). With
        no rules and no table yet nothing is created (a host without static NAT keeps no table of ours)."""
        self._check_devices(rules)
        if not rules and not self._table_exists():
            return
        self._ensure_table()
        mapped = self.current()
        wanted = {r.public_ip: r.guest_ip for r in rules}
        self._write(mapped, wanted)
        devices = {r.device for r in rules}
        for public in set(mapped) - set(wanted):
            for device in devices:
                self._address(public, device, present=False)
        if rules:
            self._forwarding()
        for rule in rules:
            self._address(rule.public_ip, rule.device, present=True)

    def _write(self, mapped: dict[str, str], wanted: dict[str, str]) -> None:
        if mapped == wanted:
            return
        lines = [f"flush map ip {TABLE} {DNAT_MAP}", f"flush map ip {TABLE} {SNAT_MAP}"]
        if wanted:
            lines.append(f"add element ip {TABLE} {DNAT_MAP} {{ "
                         + ", ".join(f"{p} : {g}" for p, g in sorted(wanted.items())) + " }")
            lines.append(f"add element ip {TABLE} {SNAT_MAP} {{ "
                         + ", ".join(f"{g} : {p}" for p, g in sorted(wanted.items())) + " }")
        _run(["nft", "-f", "-"], "\n".join(lines) + "\n")

    @staticmethod
    def _check_devices(rules: list[Rule]) -> None:
        """Before anything changes: every public device exists."""
        for device in sorted({r.device for r in rules}):
            if subprocess.run(["ip", "link", "show", "dev", device], capture_output=True).returncode != 0:
                raise HypervisorError(f"public network device {device} does not exist on this host")

    @staticmethod
    def _forwarding() -> None:
        try:
            with open(FORWARDING) as f:
                if f.read().strip() == "1":
                    return
            with open(FORWARDING, "w") as f:
                f.write("1\n")
        except OSError as error:
            raise HypervisorError(f"cannot enable IPv4 forwarding: {error}") from None

    @staticmethod
    def _address(address: str, device: str, *, present: bool) -> None:
        shown = json.loads(_run(["ip", "-j", "-4", "addr", "show", "dev", device]) or "[]")
        have = any(info.get("local") == address and info.get("prefixlen") == 32
                   for link in shown for info in link.get("addr_info", []))
        if present and not have:
            _run(["ip", "addr", "add", f"{address}/32", "dev", device])
            garp.announce(address, device)  # neighbours with a stale or failed entry update it now
        elif not present and have:
            _run(["ip", "addr", "del", f"{address}/32", "dev", device])
