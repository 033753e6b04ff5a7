"""The libvirt driver's operations of one domain — Security groups: per-VM ingress/egress rules programmed on the host.

The rules go into nftables tables of our own (``agent.network.nft``); the VM's port on the bridge is the
command's ``vif``, else the target device of the domain's interface with the guest MAC.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from agent.hypervisor.errors import HypervisorError
from agent.hypervisor.network import SecurityGroupOps
from agent.network.nft import NftSecurityGroups


class LibvirtSecurityGroupOps(SecurityGroupOps):
    """Uses ``self.host`` (the libvirt connection) and ``self._domain(name)`` of ``LibvirtDriver``."""

    def _sg(self) -> NftSecurityGroups:
        firewall = self.__dict__.get("sg_firewall")
        if firewall is None:
            firewall = self.__dict__.setdefault("sg_firewall", NftSecurityGroups())
        return firewall

    def _vif_of(self, vm_name: str, mac: str) -> str | None:
        domain = self._domain(vm_name)
        if domain is None:
            raise HypervisorError(f"VM {vm_name} is not on this host: cannot find its bridge port")
        for iface in ET.fromstring(domain.XMLDesc(0)).findall("./devices/interface"):
            if iface.get("type") != "bridge":
                continue
            mac_el, target = iface.find("mac"), iface.find("target")
            if mac_el is not None and mac_el.get("address", "").lower() == mac.lower() and target is not None:
                return target.get("dev")
        return None  # not on a bridge (user-mode networking): nothing on this host can reach it to filter

    def apply_security_group_rules(self, cmd) -> int:
        vif = cmd.vif or self._vif_of(cmd.vm_name, cmd.guest_mac)
        if vif is None:
            return cmd.seq
        return self._sg().apply(cmd, vif)

    def remove_security_group_rules(self, vm_name: str) -> None:
        self._sg().remove(vm_name)
