"""Driver operations of one domain — Public IPs and static NAT on the host: the interface (``StaticNatOps``, mixed into
``HypervisorDriver``) and the simulator's implementation (``SimulatorStaticNatOps``). The libvirt one is in
``agent.hypervisor.libvirt.nat``.

Rules are ``agent.protocol_nat.StaticNatRule``; ``list_static_nat`` returns ``{public ip: guest ip}``.
"""

from __future__ import annotations

from agent.hypervisor.errors import HypervisorError


class StaticNatOps:
    """Operations every driver offers for this domain (a driver that cannot raises ``HypervisorError``)."""

    def apply_static_nat(self, rules: list) -> None:
        raise HypervisorError("static NAT is not supported by this driver")

    def revoke_static_nat(self, rules: list) -> None:
        raise HypervisorError("static NAT is not supported by this driver")

    def sync_static_nat(self, rules: list) -> None:
        raise HypervisorError("static NAT is not supported by this driver")

    def list_static_nat(self) -> dict[str, str]:
        return {}


class SimulatorStaticNatOps(StaticNatOps):
    """The simulator's bookkeeping for this domain (state lives on the driver, guarded by ``self.lock``)."""

    def _nat(self) -> dict[str, str]:
        if not hasattr(self, "_static_nat"):
            self._static_nat = {}
        return self._static_nat

    def apply_static_nat(self, rules: list) -> None:
        with self.lock:
            nat = self._nat()
            for rule in rules:  # as the libvirt driver: the rule replaces any mapping of its public or guest IP
                for public, guest in list(nat.items()):
                    if guest == rule.guest_ip and public != rule.public_ip:
                        del nat[public]
                nat[rule.public_ip] = rule.guest_ip

    def revoke_static_nat(self, rules: list) -> None:
        with self.lock:
            for rule in rules:
                self._nat().pop(rule.public_ip, None)

    def sync_static_nat(self, rules: list) -> None:
        with self.lock:
            self._nat().clear()
            self._nat().update({rule.public_ip: rule.guest_ip for rule in rules})

    def list_static_nat(self) -> dict[str, str]:
        with self.lock:
            return dict(self._nat())
