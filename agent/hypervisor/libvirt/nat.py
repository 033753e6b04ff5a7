"""The libvirt driver's operations of one domain — Public IPs and static NAT on the host (nftables, see
``agent.nat.nft``)."""

from __future__ import annotations

import threading

from agent.hypervisor.nat import StaticNatOps
from agent.nat.nft import Rule, StaticNat

_lock = threading.Lock()  # one NAT table per host: commands running in parallel take turns


def _rules(rules: list) -> list[Rule]:
    """A rule without a device goes to this host's ``public.network.device``."""
    from agent import config
    from agent.protocol_nat import DEFAULT_PUBLIC_DEVICE

    default = config.LOADED.public_device if config.LOADED is not None else DEFAULT_PUBLIC_DEVICE
    return [Rule(public_ip=r.public_ip, guest_ip=r.guest_ip, device=r.public_device or default) for r in rules]


class LibvirtStaticNatOps(StaticNatOps):
    """Uses ``self.host`` (the libvirt connection) and ``self._domain(name)`` of ``LibvirtDriver``."""

    def apply_static_nat(self, rules: list) -> None:
        with _lock:
            StaticNat().apply(_rules(rules))

    def revoke_static_nat(self, rules: list) -> None:
        with _lock:
            StaticNat().revoke(_rules(rules))

    def sync_static_nat(self, rules: list) -> None:
        with _lock:
            StaticNat().sync(_rules(rules))

    def list_static_nat(self) -> dict[str, str]:
        return StaticNat().current()
