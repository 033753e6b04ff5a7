"""Driver operations of one domain — Security groups: per-VM ingress/egress rules programmed on the host: the interface (``SecurityGroupOps``, mixed into
``HypervisorDriver``) and the simulator's implementation (``SimulatorSecurityGroupOps``). The libvirt one is in
``agent.hypervisor.libvirt.network``.
"""

from __future__ import annotations

from agent.hypervisor.errors import HypervisorError  # noqa: F401  (raised by the operations)


class SecurityGroupOps:
    """Operations every driver offers for this domain (a driver that cannot raises ``HypervisorError``)."""

    def apply_security_group_rules(self, cmd) -> int:
        """Program the whole rule set of ``cmd`` (``agent.protocol_network.SecurityGroupRules``) for its VM, unless
        a newer ``seq`` was applied already; returns the ``seq`` now in force."""
        raise HypervisorError("security groups are not supported by this driver")

    def remove_security_group_rules(self, vm_name: str) -> None:
        """Remove whatever was programmed for ``vm_name`` (nothing there is fine)."""
        raise HypervisorError("security groups are not supported by this driver")


class SimulatorSecurityGroupOps(SecurityGroupOps):
    """The simulator's bookkeeping for this domain (state lives on the driver, guarded by ``self.lock``):
    ``sg_rules`` maps a VM name to the last ``SecurityGroupRules`` applied, ``sg_applied`` counts applications."""

    def _sg_state(self) -> dict:
        state = self.__dict__.get("sg_rules")
        if state is None:
            state = self.__dict__.setdefault("sg_rules", {})
            self.__dict__.setdefault("sg_applied", 0)
        return state

    def apply_security_group_rules(self, cmd) -> int:
        self._step("security_group_rules")
        with self.lock:
            rules = self._sg_state()
            current = rules.get(cmd.vm_name)
            if current is not None and cmd.seq < current.seq:
                return current.seq
            rules[cmd.vm_name] = cmd
            self.sg_applied += 1
            return cmd.seq

    def remove_security_group_rules(self, vm_name: str) -> None:
        self._step("security_group_rules")
        with self.lock:
            self._sg_state().pop(vm_name, None)
